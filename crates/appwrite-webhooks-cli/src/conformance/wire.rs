//! One exchange with the receiver under test, written byte by byte: the checks send what a
//! client library would refuse to (repeated or malformed signature headers, a length that is
//! not sent, a body that stalls). Every connection goes to the one address given, and every
//! step is bounded in time.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// How the body goes out.
#[derive(Clone)]
pub enum Body {
    /// With a `Content-Length`.
    Full(Vec<u8>),
    /// `Transfer-Encoding: chunked`, no length, in chunks of 64 KiB.
    Chunked(Vec<u8>),
    /// A `Content-Length` for the whole, then only `sent` bytes of it, then nothing.
    Stalled { whole: usize, sent: Vec<u8> },
}

/// A request: the target (path and query), header lines in order, and the body.
#[derive(Clone)]
pub struct Request {
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Body,
}

/// What came back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// A status line, and the start of the body.
    Status { status: u16, body: String },
    /// The receiver closed the connection without a status.
    Closed,
    /// Nothing within the time allowed.
    TimedOut,
    /// The connection could not be made.
    Unreachable(String),
    /// Not sent: the run stopped early, for this reason.
    NotSent(&'static str),
}

impl Answer {
    pub fn status(&self) -> Option<u16> {
        match self {
            Answer::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// A 2xx: the receiver acknowledged the delivery.
    pub fn accepted(&self) -> bool {
        self.status().is_some_and(|s| (200..300).contains(&s))
    }

    /// One line for the report.
    pub fn describe(&self) -> String {
        match self {
            Answer::Status { status, body } if body.is_empty() => format!("{status}"),
            Answer::Status { status, body } => format!("{status} {body:?}"),
            Answer::Closed => "connection closed without an answer".into(),
            Answer::TimedOut => "no answer in time".into(),
            Answer::Unreachable(error) => format!("cannot connect: {error}"),
            Answer::NotSent(reason) => format!("not sent: {reason}"),
        }
    }
}

/// The most of a response read: the status line and a short excerpt are all a check needs.
const MAX_RESPONSE: usize = 16 * 1024;
/// The part of the body shown in reports.
const EXCERPT: usize = 120;

/// Sends `request` to `addr` over a fresh connection and reads the answer, giving up after
/// `timeout` (Appwrite waits 15 s); a stalled body waits `timeout` for the receiver to act.
pub async fn exchange(
    addr: SocketAddr,
    host: &str,
    request: &Request,
    timeout: Duration,
) -> Answer {
    let connect = tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(addr)).await;
    let mut stream = match connect {
        Ok(Ok(stream)) => stream,
        Ok(Err(error)) => return Answer::Unreachable(error.to_string()),
        Err(_) => return Answer::Unreachable("connect timed out".into()),
    };
    let mut head = format!("POST {} HTTP/1.1\r\nHost: {host}\r\n", request.target);
    for (name, value) in &request.headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match &request.body {
        Body::Full(body) => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
        Body::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
        Body::Stalled { whole, .. } => head.push_str(&format!("Content-Length: {whole}\r\n")),
    }
    head.push_str("Connection: close\r\n\r\n");
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        match &request.body {
            Body::Full(body) => stream.write_all(body).await?,
            Body::Chunked(body) => {
                for chunk in body.chunks(64 * 1024) {
                    stream
                        .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                        .await?;
                    stream.write_all(chunk).await?;
                    stream.write_all(b"\r\n").await?;
                }
                stream.write_all(b"0\r\n\r\n").await?;
            }
            Body::Stalled { sent, .. } => stream.write_all(sent).await?,
        }
        stream.flush().await
    };
    // A receiver may answer and close before the body is all sent (a 413, a 401 before the
    // body): a failed write is not the end, the answer may be waiting.
    let _ = tokio::time::timeout(timeout, write).await;
    match tokio::time::timeout(timeout, read_answer(&mut stream)).await {
        Ok(answer) => answer,
        Err(_) => Answer::TimedOut,
    }
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while buf.len() < MAX_RESPONSE {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(end) = find(&buf, b"\r\n\r\n") {
            // The head is in; read a little of the body for the report.
            if buf.len() >= end + 4 + EXCERPT {
                break;
            }
        }
    }
    let text = String::from_utf8_lossy(&buf);
    let Some(status) = text
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
    else {
        return Answer::Closed;
    };
    let body = match find(&buf, b"\r\n\r\n") {
        Some(end) => {
            let head = text[..end].to_ascii_lowercase();
            let raw = &buf[end + 4..];
            let raw = if head.contains("\r\ntransfer-encoding: chunked") {
                dechunk(raw)
            } else {
                raw.to_vec()
            };
            let body = String::from_utf8_lossy(&raw);
            body.chars()
                .take(EXCERPT)
                .collect::<String>()
                .trim()
                .to_owned()
        }
        None => String::new(),
    };
    Answer::Status { status, body }
}

/// The data of a chunked body, as far as it was read.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(line_end) = find(raw, b"\r\n") {
        let size = std::str::from_utf8(&raw[..line_end])
            .ok()
            .and_then(|l| usize::from_str_radix(l.split(';').next().unwrap_or("").trim(), 16).ok());
        let Some(size) = size.filter(|s| *s > 0) else {
            break;
        };
        let data = &raw[line_end + 2..];
        out.extend_from_slice(&data[..size.min(data.len())]);
        raw = data.get(size + 2..).unwrap_or_default();
    }
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunked_answers_are_read_as_their_data() {
        assert_eq!(
            dechunk(b"11\r\ninvalid signature\r\n0\r\n\r\n"),
            b"invalid signature"
        );
        assert_eq!(dechunk(b"2\r\nok\r\n3\r\n!!!\r\n0\r\n"), b"ok!!!");
        assert_eq!(dechunk(b"5\r\nab"), b"ab");
        assert_eq!(dechunk(b"zz\r\n"), b"");
    }
}
