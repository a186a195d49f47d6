//! Captured requests, as `inspect` reads them and `send --replay` sends them again: raw HTTP
//! (request line, headers, blank line, body) or JSON (`{"url", "headers": {…}, "body"}`, or an
//! array of those picked by name, the shape of Appwrite's sample deliveries).

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::Failure;

/// A request as captured.
pub struct Capture {
    /// The URL the JSON capture says Appwrite signed for.
    pub url: Option<String>,
    /// From a raw capture's `Host` and request line: what the receiver saw.
    pub target: Option<(String, String)>,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

pub fn parse(bytes: &[u8], name: Option<&str>) -> Result<Capture, Failure> {
    let trimmed = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .map_or(&[][..], |i| &bytes[i..]);
    if trimmed.starts_with(b"{") || trimmed.starts_with(b"[") {
        parse_json(trimmed, name)
    } else {
        parse_raw(bytes)
    }
}

pub fn parse_json(bytes: &[u8], name: Option<&str>) -> Result<Capture, Failure> {
    let json: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| Failure::Usage(format!("the capture is not valid JSON: {e}")))?;
    let record = match (&json, name) {
        (serde_json::Value::Array(all), Some(name)) => all
            .iter()
            .find(|d| d["name"] == name)
            .ok_or_else(|| Failure::Usage(format!("no delivery named {name:?}")))?,
        (serde_json::Value::Array(all), None) if all.len() == 1 => &all[0],
        (serde_json::Value::Array(_), None) => {
            return Err(Failure::Usage(
                "several deliveries: pick one with --name".into(),
            ));
        }
        (object, _) => object,
    };
    let mut headers = HeaderMap::new();
    if let Some(map) = record["headers"].as_object() {
        for (name, value) in map {
            let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(name.as_bytes()),
                value.as_str().map(HeaderValue::from_str),
            ) else {
                return Err(Failure::Usage(format!(
                    "header {name:?} is not a valid HTTP header"
                )));
            };
            headers.append(name, value);
        }
    }
    let body = record["body"]
        .as_str()
        .ok_or_else(|| Failure::Usage("the capture has no \"body\" string".into()))?
        .as_bytes()
        .to_vec();
    Ok(Capture {
        url: record["url"].as_str().map(str::to_owned),
        target: None,
        headers,
        body,
    })
}

fn parse_raw(bytes: &[u8]) -> Result<Capture, Failure> {
    let split = find(bytes, b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| find(bytes, b"\n\n").map(|i| (i, 2)));
    let (head, body) = match split {
        Some((i, len)) => (&bytes[..i], &bytes[i + len..]),
        None => (bytes, &[][..]),
    };
    let head = std::str::from_utf8(head)
        .map_err(|_| Failure::Usage("the request head is not text".into()))?;
    let mut lines = head.lines();
    let request_line = lines.next().unwrap_or_default();
    let path = match request_line
        .split_whitespace()
        .collect::<Vec<_>>()
        .as_slice()
    {
        [_method, path, version] if version.starts_with("HTTP/") => Some((*path).to_owned()),
        _ => {
            return Err(Failure::Usage(format!(
                "not an HTTP request or JSON capture: {request_line:?}"
            )));
        }
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            return Err(Failure::Usage(format!("invalid header line {line:?}")));
        };
        headers.append(name, value);
    }
    let mut body = body.to_vec();
    // A declared length marks where the body ends; logs often append a line break.
    if let Some(len) = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        && len < body.len()
    {
        body.truncate(len);
    }
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_owned);
    Ok(Capture {
        url: None,
        target: host.zip(path),
        headers,
        body,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
