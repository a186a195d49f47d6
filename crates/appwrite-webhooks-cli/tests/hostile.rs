//! `listen` against unauthenticated senders that promise large bodies and stall: no memory is
//! reserved for what they promise, and every stalled body is answered 408 and closed.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use common::Listener;

/// A field of `/proc/<pid>/status`, in KiB.
fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(field))
        .and_then(|rest| rest.trim().trim_end_matches(" kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"))
}

#[test]
fn stalled_bodies_earn_no_memory_and_are_closed() {
    let listener = Listener::start_with(&[
        "--key",
        "k",
        "--url",
        "https://hooks.example.com/hook",
        "--body-timeout",
        "1",
    ]);
    let pid = listener.child.id();
    let port = listener.address();
    let port = port
        .trim_start_matches("http://127.0.0.1:")
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let (rss_before, size_before) = (status_kib(pid, "VmRSS:"), status_kib(pid, "VmSize:"));

    let head = format!(
        "POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nX-Appwrite-Webhook-Signature: {}\r\n\r\n",
        5 * 1024 * 1024,
        "A".repeat(27) + "="
    );
    let mut stalled: Vec<TcpStream> = (0..300)
        .map(|_| {
            let mut stream = TcpStream::connect(("127.0.0.1", port.parse().unwrap())).unwrap();
            stream.write_all(head.as_bytes()).unwrap();
            stream.write_all(b"{").unwrap();
            stream.flush().unwrap();
            stream
        })
        .collect();
    std::thread::sleep(Duration::from_millis(50));
    for stream in &mut stalled {
        // A second chunk: where a declared length used to be reserved in full.
        stream.write_all(b"\"").unwrap();
        stream.flush().unwrap();
    }
    std::thread::sleep(Duration::from_millis(300));
    let (rss_after, size_after) = (status_kib(pid, "VmRSS:"), status_kib(pid, "VmSize:"));
    // 300 × 5 MiB promised would be 1.5 GiB; what arrived is 600 bytes.
    assert!(
        rss_after.saturating_sub(rss_before) < 64 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB"
    );
    assert!(
        size_after.saturating_sub(size_before) < 300 * 1024,
        "address space grew from {size_before} to {size_after} KiB"
    );

    // Each stalled body is answered 408 and its connection closed by the server.
    for stream in &mut stalled {
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .unwrap();
        let mut answer = Vec::new();
        stream
            .read_to_end(&mut answer)
            .expect("the server closes the connection");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    }
}
