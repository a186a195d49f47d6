//! `inbox web`: the inbox's web view, run as a process — loopback by default, another address
//! refused without credentials, basic auth when they are set.

mod common;

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use appwrite_webhooks_sqlite::SqliteLedger;
use common::{BIN, cli_env, stderr};

fn inbox_file(name: &str) -> String {
    let path = testkit::scratch::dir(&format!("cli-web-{name}")).join("inbox.db");
    drop(SqliteLedger::open(&path).unwrap());
    path.display().to_string()
}

/// A raw HTTP/1.1 GET with optional basic credentials: the status line and the whole answer.
fn get(port: u16, authorization: Option<&str>) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let auth = authorization
        .map(|a| format!("Authorization: Basic {a}\r\n"))
        .unwrap_or_default();
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{auth}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

/// `inbox web`, killed on drop.
struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `inbox web` with `args` (binding port 0) and returns once it says where it listens,
/// with that port.
fn serve(args: &[&str], env: &[(&str, &str)]) -> (Served, u16) {
    let mut command = Command::new(BIN);
    command.args(args).stdout(Stdio::null());
    for (name, value) in env {
        command.env(name, value);
    }
    let (child, addr) = common::started(&mut command);
    (Served(child), addr.port())
}

#[test]
fn another_address_than_loopback_is_refused_without_credentials() {
    let file = inbox_file("refused");
    let bind = "0.0.0.0:0";
    let output = cli_env(
        &["inbox", "--sqlite", &file, "web", "--bind", bind],
        b"",
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("without credentials"),
        "{}",
        stderr(&output)
    );

    // --user without its password in the environment is refused too, never prompted for.
    let output = cli_env(
        &[
            "inbox", "--sqlite", &file, "web", "--bind", bind, "--user", "ops",
        ],
        b"",
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("APPWRITE_WEBHOOKS_WEB_PASSWORD"));
}

#[test]
fn the_view_serves_on_loopback_with_its_security_headers() {
    let file = inbox_file("loopback");
    let (_served, port) = serve(
        &["inbox", "--sqlite", &file, "web", "--bind", "127.0.0.1:0"],
        &[],
    );
    let answer = get(port, None);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("content-security-policy: default-src 'none'"));
    assert!(answer.contains("x-frame-options: DENY"));
    assert!(answer.contains("id=\"stat-stored\""));
}

#[test]
fn with_credentials_it_may_listen_beyond_loopback_behind_basic_auth() {
    use base64::Engine as _;
    let file = inbox_file("auth");
    let (_served, port) = serve(
        &[
            "inbox",
            "--sqlite",
            &file,
            "web",
            "--bind",
            "0.0.0.0:0",
            "--user",
            "ops",
        ],
        &[("APPWRITE_WEBHOOKS_WEB_PASSWORD", "pw-from-env")],
    );
    assert!(get(port, None).starts_with("HTTP/1.1 401"));
    let wrong = base64::engine::general_purpose::STANDARD.encode("ops:nope");
    assert!(get(port, Some(&wrong)).starts_with("HTTP/1.1 401"));
    let right = base64::engine::general_purpose::STANDARD.encode("ops:pw-from-env");
    assert!(get(port, Some(&right)).starts_with("HTTP/1.1 200"));
}
