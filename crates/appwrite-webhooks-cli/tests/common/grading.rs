//! Grading receivers with `conformance`: running it, reading its JSON report, and the
//! receivers the grading tests start (a process, or a raw socket server that records requests).

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use appwrite_webhooks::Delivery;
use bytes::Bytes;
use http::Response;
use http_body_util::Full;
use serde_json::Value;

use super::BIN;

pub const KEY: &str = "whsec_conformance";

/// The URL the adapters are configured with (their public URL; `--to` says where they listen):
/// percent-encoding in the path and the query, so releases' `rawurldecode(url)` and main's URL
/// as typed differ.
pub const URL: &str = "https://hooks.example.com/hooks/appwrite/%7Eacme?tenant=acme%2Beu&x=%7Euser";

/// Runs `conformance --json` against `addr`; the exit code and the report.
pub fn grade(addr: SocketAddr, url: &str, extra: &[&str]) -> (Option<i32>, Value, Output) {
    let output = Command::new(BIN)
        .args([
            "conformance",
            "--to",
            &addr.to_string(),
            "--url",
            url,
            "--key",
            KEY,
            "--json",
        ])
        .args(["--stall-seconds", "6"])
        .args(extra)
        .output()
        .unwrap();
    let report: Value = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", super::stderr(&output)));
    (output.status.code(), report, output)
}

/// The ids of the failed checks, required or optional.
pub fn failed(report: &Value, required: bool) -> BTreeSet<String> {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["result"] == "fail" && c["required"] == required)
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

/// How many genuine deliveries were sent.
pub fn genuine(report: &Value) -> usize {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["group"] == "genuine")
        .count()
}

pub fn result<'a>(report: &'a Value, id: &str) -> &'a Value {
    &report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}"))["result"]
}

/// A typed answer: 204 when the delivery's event parses, its error's status otherwise.
pub async fn typed(delivery: &Delivery) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::<Bytes>::default());
    *response.status_mut() = match delivery.event() {
        Ok(_) => http::StatusCode::NO_CONTENT,
        Err(error) => error.status(),
    };
    response
}

/// Waits (bounded) until `addr` takes connections.
pub fn wait_for(addr: SocketAddr) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "{addr} never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A receiver process, killed on drop.
pub struct Spawned {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Spawned {
    /// Spawns `command` — a server told to bind port 0 — and returns once it says where it
    /// listens (see [`super::started`]).
    pub fn new(command: &mut Command) -> Self {
        let (child, addr) = super::started(command.stdout(Stdio::null()));
        Self { child, addr }
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The header lines and body of one request a raw receiver saw.
pub type Seen = (Vec<(String, String)>, Vec<u8>);
pub type Handler = dyn Fn(&Seen) -> u16 + Send + Sync;

/// A receiver on plain `std` sockets, one request at a time: `handler` gives the status of each
/// request read whole (a body that stops coming is closed on after 2 s); every request is
/// recorded.
pub fn raw_receiver(
    handler: Box<Handler>,
) -> (SocketAddr, std::sync::Arc<std::sync::Mutex<Vec<Seen>>>) {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = seen.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            stream
                .set_read_timeout(Some(Duration::from_secs(2)))
                .unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = Vec::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line); // the request line
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((name, value)) = line.trim_end().split_once(':') {
                    headers.push((name.to_owned(), value.trim().to_owned()));
                }
            }
            let length: usize = headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0);
            if length > 1 << 20 {
                let _ = stream.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            let mut body = vec![0; length];
            if reader.read_exact(&mut body).is_err() {
                continue; // stalled or chunked: closed
            }
            let request = (headers, body);
            let status = handler(&request);
            record.lock().unwrap().push(request);
            let _ = stream.write_all(
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            );
        }
    });
    (addr, seen)
}

pub fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.0
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}
