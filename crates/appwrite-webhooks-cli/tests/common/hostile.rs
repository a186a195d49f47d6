//! A hostile delivery and how the terminal tests send it to `listen` and read what it printed:
//! every unsigned header as hostile as HTTP lets it be, and a genuine signed body with
//! terminal escapes in its strings.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};

use super::BIN;

pub const KEY: &str = "whsec_terminal";
pub const URL: &str = "https://hooks.example.com/hook";

/// A webhook name as hostile as HTTP lets a header be (no C0 but tab): a C1 CSI that clears
/// the screen on some terminals, a NEL, a bidirectional override, a tab, and quotes and
/// separators that would forge fields of the line it is printed in.
pub const NAME: &str = "\u{9b}2J\"Dev\", project evil\u{85}\u{202e}gnp.exe\tx";
/// A user id forging the rest of its line.
pub const USER_ID: &str = "u1, key #9\u{9b}31m";
/// The events header: a genuine name first, then a hostile one.
pub const EVENTS: &str = "users.u1.create,users.*\u{9b}0m\u{85}forged";
/// A genuine, signed body: escapes and line breaks in JSON strings (`\u001b`, `\n`), HTML,
/// and C1 and bidirectional characters written raw (valid JSON).
pub const BODY: &str = "{\"$id\":\"u1\",\"name\":\"\\u001b]0;pwned\\u0007<img src=x onerror=alert(1)>\",\
                    \"bio\":\"line\\n\\rforged line\",\"raw\":\"\u{9b}2J\u{85}\u{202e}x\",\"prefs\":[]}";

/// The hostile delivery, signed for [`URL`].
pub fn hostile(delivery_id: Option<&str>) -> SignedDelivery {
    let mut builder = DeliveryBuilder::new(KEY, URL, BODY)
        .events([EVENTS])
        .webhook_name(NAME)
        .user_id(USER_ID);
    if let Some(id) = delivery_id {
        builder = builder.delivery_id(id);
    }
    let sent = builder.build();
    // Every hostile header made it into the request (the builder drops what HTTP cannot carry).
    assert!(sent.headers().contains_key("x-appwrite-webhook-name"));
    assert!(sent.headers().contains_key("x-appwrite-webhook-user-id"));
    sent
}

/// Characters a terminal acts on, and the Unicode ones that reorder or break lines.
pub fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n')
        || matches!(c, '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Nothing in `printed` that a terminal would act on.
pub fn assert_inert(printed: &str) {
    let bad: Vec<char> = printed.chars().filter(|&c| unsafe_char(c)).collect();
    assert!(bad.is_empty(), "raw {bad:?} in {printed:?}");
}

/// POSTs `sent` to `port` byte for byte (headers as they are) and returns the status.
pub fn post(sent: &SignedDelivery, port: u16) -> u16 {
    post_raw(&post_request(sent), port)
}

/// The bytes of the POST of `sent`, its headers as they are.
pub fn post_request(sent: &SignedDelivery) -> Vec<u8> {
    let mut request = b"POST /hook HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n".to_vec();
    for (name, value) in sent.headers() {
        request.extend_from_slice(name.as_str().as_bytes());
        request.extend_from_slice(b": ");
        request.extend_from_slice(value.as_bytes());
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(sent.body());
    request
}

/// Writes `request` to `port` as it is and returns the status answered.
pub fn post_raw(request: &[u8], port: u16) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    stream.write_all(request).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = String::from_utf8_lossy(&answer);
    answer
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status in {answer:?}"))
}

/// `listen` with `options` on a port it picks, stdout captured.
pub fn listen(options: &[&str]) -> (Running, u16) {
    let (child, addr) = super::started(
        Command::new(BIN)
            .args(["listen", "--key", KEY, "--url", URL, "--port", "0"])
            .args(options)
            .stdout(Stdio::piped()),
    );
    (Running(Some(child)), addr.port())
}

/// A `listen` process, killed when dropped (a failed assertion leaves none behind).
pub struct Running(Option<Child>);

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Stops `listen` and returns all it printed. Each line is printed before its request is
/// answered, so everything answered is in the pipe.
pub fn printed(mut running: Running) -> String {
    let mut child = running.0.take().unwrap();
    child.kill().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    child.wait().unwrap();
    out
}

/// A fresh temporary folder for one test.
pub fn dir(name: &str) -> PathBuf {
    testkit::scratch::dir(&format!("cli-term-{name}"))
}
