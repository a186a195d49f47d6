//! The one way these tests run the CLI: as a process, with its input on stdin.

#![allow(dead_code)] // each test file uses its own part

pub mod grading;
pub mod hostile;
pub mod inbox;

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Output, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_appwrite-webhooks");

/// Runs the CLI with `args` and `stdin`; `APPWRITE_WEBHOOK_KEY` is `env_key` or unset.
pub fn cli(args: &[&str], stdin: &[u8], env_key: Option<&str>) -> Output {
    let env: Vec<(&str, &str)> = env_key
        .map(|k| ("APPWRITE_WEBHOOK_KEY", k))
        .into_iter()
        .collect();
    cli_env(args, stdin, &env)
}

/// [`cli`] with these environment variables set (and the CLI's own others unset).
pub fn cli_env(args: &[&str], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .args(args)
        .env_remove("APPWRITE_WEBHOOK_KEY")
        .env_remove("APPWRITE_WEBHOOK_HTTP_PASS")
        .envs(env.iter().copied());
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the CLI");
    // A usage error exits before reading its input: a closed pipe then is not a failure.
    if let Err(e) = child.stdin.take().unwrap().write_all(stdin) {
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    }
    child.wait_with_output().unwrap()
}

/// [`cli`] without a key in the environment.
pub fn run(args: &[&str], stdin: &[u8]) -> Output {
    cli(args, stdin, None)
}

/// Bytes as text, for assertions.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// What the process printed on stdout.
pub fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

/// What the process printed on stderr.
pub fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

/// A file with `contents` in this test process's own temporary folder.
pub fn temp_file(name: &str, contents: &[u8]) -> std::path::PathBuf {
    let path = testkit::scratch::dir(&format!("cli-file-{name}")).join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

/// Checks that `send` exited with `code` and printed the receiver's `status` first.
pub fn assert_sent(output: &std::process::Output, code: i32, status: &str) {
    assert_eq!(output.status.code(), Some(code), "{}", text(&output.stderr));
    let stdout = text(&output.stdout);
    assert!(stdout.starts_with(status), "{stdout}");
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Spawns a server told to bind port 0 and returns once it says where it listens: the first
/// stderr line starting `listening on http://` or `inbox view on http://` (its other stderr is
/// drained in the background so it never blocks on a full pipe). Choosing a free port first and
/// passing it is a race — another test may bind it before the server does, and a connect would
/// then reach that other server — so the server picks, and reports what it bound.
pub fn started(command: &mut Command) -> (Child, std::net::SocketAddr) {
    let mut child = command.stderr(Stdio::piped()).spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    // A handful of start-up lines come first; EOF means it exited.
    let addr = stderr
        .by_ref()
        .take(20)
        .map_while(Result::ok)
        .find_map(|line| {
            let rest = line
                .strip_prefix("listening on http://")
                .or_else(|| line.strip_prefix("inbox view on http://"))?;
            rest.split(['/', ' ']).next()?.parse().ok()
        });
    let Some(addr) = addr else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server never said where it listens");
    };
    std::thread::spawn(move || stderr.for_each(drop));
    (child, addr)
}

/// `listen --json` in the background, with its stdout lines readable.
pub struct Listener {
    pub child: Child,
    lines: std::io::Lines<BufReader<std::process::ChildStdout>>,
    port: u16,
}

impl Listener {
    pub fn start(key: &str, url: &str) -> Self {
        Self::start_with(&["--key", key, "--url", url])
    }

    /// Starts `listen` on a port it picks and returns once it says it is listening.
    pub fn start_with(options: &[&str]) -> Self {
        let (mut child, addr) = started(
            Command::new(BIN)
                .args(["listen", "--json", "--port", "0"])
                .args(options)
                .stdout(Stdio::piped()),
        );
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Self {
            child,
            lines,
            port: addr.port(),
        }
    }

    pub fn next_json(&mut self) -> serde_json::Value {
        let line = self.lines.next().expect("a line from listen").unwrap();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{line}: {e}"))
    }

    pub fn address(&self) -> String {
        format!("http://127.0.0.1:{}/hooks/appwrite", self.port)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A user as Appwrite 1.9 encodes it: `\u00eb`, empty preferences as `[]`.
pub const USER: &str = r#"{"$id":"u1","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","name":"Zo\u00eb","registration":"","status":true,"labels":[],"passwordUpdate":"","email":"a@b.c","phone":"","emailVerification":true,"phoneVerification":false,"mfa":false,"prefs":[],"targets":[],"accessedAt":""}"#;
