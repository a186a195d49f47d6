//! `inspect`: explain exactly which check a captured request fails, and why.

use std::path::PathBuf;

use appwrite_webhooks::headers::{
    WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_PROJECT_ID, WEBHOOK_SIGNATURE,
};
use appwrite_webhooks::{Signature, Verifier};
use clap::Args;
use http::{HeaderMap, HeaderName, HeaderValue};

use crate::keys::{self, KeyArgs};
use crate::output::Style;
use crate::{Failure, read_input};

#[derive(Args)]
pub struct InspectArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// The webhook URL as configured in Appwrite (default: the capture's `url`, if it has one).
    #[arg(long)]
    url: Option<String>,
    /// The captured request: raw HTTP (request line, headers, blank line, body) or JSON
    /// (`{"url", "headers": {…}, "body"}`, or an array of those picked by --name); standard
    /// input when absent or `-`.
    #[arg(value_name = "FILE")]
    file: Option<PathBuf>,
    /// Which delivery of a JSON array to inspect.
    #[arg(long)]
    name: Option<String>,
}

/// A request as captured.
struct Capture {
    url: Option<String>,
    /// From a raw capture's request line and `Host`: what the receiver saw.
    target: Option<(String, String)>,
    headers: HeaderMap,
    body: Vec<u8>,
}

pub fn run(args: InspectArgs, style: Style) -> Result<(), Failure> {
    let capture = parse(&read_input(args.file.as_ref())?, args.name.as_deref())?;
    let url = args
        .url
        .clone()
        .or_else(|| capture.url.clone())
        .ok_or_else(|| {
            Failure::Usage("give --url: the capture does not say which URL Appwrite used".into())
        })?;
    let mut keys = args.keys.resolve()?.into_iter();
    let first = keys.next().ok_or_else(keys::missing)?;
    let verifier = Verifier::new(first.clone(), url.as_str())
        .with_keys(keys.clone())
        .body_limit(usize::MAX);
    let with_url = |candidate: &str| {
        Verifier::new(first.clone(), candidate)
            .with_keys(keys.clone())
            .body_limit(usize::MAX)
    };

    let mut report = Report { style, problems: 0 };
    for (name, label) in [
        (WEBHOOK_ID, "X-Appwrite-Webhook-Id"),
        (WEBHOOK_EVENTS, "X-Appwrite-Webhook-Events"),
        (WEBHOOK_PROJECT_ID, "X-Appwrite-Webhook-Project-Id"),
    ] {
        match capture.headers.get(&name).map(|v| v.as_bytes()) {
            None => report.fail(&format!("{label} header is missing (receivers answer 400)")),
            Some([]) => report.fail(&format!("{label} header is empty")),
            Some(_) => {}
        }
    }

    let signature = match capture
        .headers
        .get_all(WEBHOOK_SIGNATURE)
        .iter()
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => {
            report.fail("X-Appwrite-Webhook-Signature header is missing: Appwrite always sends it; a proxy may have dropped it");
            return report.finish();
        }
        [value] => match Signature::from_header_bytes(value.as_bytes()) {
            Ok(signature) => signature,
            Err(error) => {
                report.fail(&format!(
                    "X-Appwrite-Webhook-Signature is malformed: {error}"
                ));
                return report.finish();
            }
        },
        _ => {
            report.fail("X-Appwrite-Webhook-Signature appears more than once");
            return report.finish();
        }
    };

    if let Ok(key) = verifier.verify_signature(&signature, &capture.body) {
        report.pass(&format!(
            "signature matches key #{key} for {url} over {} body bytes",
            capture.body.len()
        ));
        return report.finish();
    }

    // Not a match: find out what differs. First the URL, then the body, then the key.
    for (candidate, why) in url_variants(&url, capture.target.as_ref()) {
        if with_url(&candidate)
            .verify_signature(&signature, &capture.body)
            .is_ok()
        {
            report.fail(&format!(
                "signature mismatch: the delivery was signed for {candidate}, not {url}"
            ));
            report.hint(&format!(
                "{why}; configure the verifier with the URL exactly as typed in Appwrite"
            ));
            return report.finish();
        }
    }
    for (repaired, why) in body_repairs(&capture.body) {
        if verifier.verify_signature(&signature, &repaired).is_ok() {
            report.fail(&format!(
                "signature mismatch: the body is not the bytes Appwrite signed — {why}"
            ));
            report.hint("verify the raw request bytes before any JSON parsing or re-serialisation");
            return report.finish();
        }
    }
    report.fail("signature mismatch: no URL variant or body repair matches");
    report.hint("the key differs (regenerated in Appwrite? pass the old and new keys with --key twice) or the body was changed");
    report.finish()
}

struct Report {
    style: Style,
    problems: usize,
}

impl Report {
    fn pass(&mut self, text: &str) {
        println!("{} {text}", self.style.good("✔"));
    }

    fn fail(&mut self, text: &str) {
        self.problems += 1;
        println!("{} {text}", self.style.bad("✘"));
    }

    fn hint(&mut self, text: &str) {
        println!("  {} {text}", self.style.dim("hint:"));
    }

    fn finish(self) -> Result<(), Failure> {
        if self.problems == 0 {
            Ok(())
        } else {
            Err(Failure::Rejected(format!(
                "{} problem(s) found",
                self.problems
            )))
        }
    }
}

/// URLs Appwrite may have been configured with instead of `url`, each with what differs.
fn url_variants(url: &str, target: Option<&(String, String)>) -> Vec<(String, String)> {
    let mut variants = Vec::new();
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let with_query = |base: &str| match query {
        Some(query) => format!("{base}?{query}"),
        None => base.to_owned(),
    };
    match base.strip_suffix('/') {
        Some(without) => variants.push((
            with_query(without),
            "the URL in Appwrite has no trailing slash".to_owned(),
        )),
        None => variants.push((
            with_query(&format!("{base}/")),
            "the URL in Appwrite ends with a trailing slash".to_owned(),
        )),
    }
    if query.is_some() {
        variants.push((
            base.to_owned(),
            "the URL in Appwrite has no query string".to_owned(),
        ));
    }
    if let Some(rest) = url.strip_prefix("https://") {
        variants.push((
            format!("http://{rest}"),
            "the URL in Appwrite uses http://, not https://".to_owned(),
        ));
    } else if let Some(rest) = url.strip_prefix("http://") {
        variants.push((
            format!("https://{rest}"),
            "the URL in Appwrite uses https://, not http://".to_owned(),
        ));
    }
    for (scheme, port) in [("https://", ":443"), ("http://", ":80")] {
        if let Some(rest) = url.strip_prefix(scheme) {
            let (host, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
            match host.strip_suffix(port) {
                Some(bare) => variants.push((
                    format!("{scheme}{bare}{path}"),
                    format!("the URL in Appwrite has no explicit {port} port"),
                )),
                None if !host.contains(':') => variants.push((
                    format!("{scheme}{host}{port}{path}"),
                    format!("the URL in Appwrite spells out the {port} port"),
                )),
                None => {}
            }
        }
    }
    if let Some((host, path)) = target {
        for scheme in ["https", "http"] {
            let seen = format!("{scheme}://{host}{path}");
            if seen != url {
                variants.push((seen, "it is the URL this request was sent to".to_owned()));
            }
        }
    }
    variants
}

/// Bodies the capture may have been before something changed it, each with what changed.
fn body_repairs(body: &[u8]) -> Vec<(Vec<u8>, String)> {
    let mut repairs = Vec::new();
    for suffix in [&b"\r\n"[..], b"\n"] {
        if let Some(trimmed) = body.strip_suffix(suffix) {
            repairs.push((
                trimmed.to_vec(),
                "the capture added a line break at the end".to_owned(),
            ));
        }
    }
    if let Ok(text) = std::str::from_utf8(body) {
        let escaped = php_escape(text);
        if escaped != text {
            let mut missing = Vec::new();
            if text.contains('/') {
                missing.push("`\\/` escapes");
            }
            if !text.is_ascii() {
                missing.push("`\\uXXXX` escapes");
            }
            repairs.push((
                escaped.into_bytes(),
                format!(
                    "it was re-encoded: PHP's json_encode {} are missing",
                    missing.join(" and ")
                ),
            ));
        }
    }
    repairs
}

/// Re-applies PHP `json_encode`'s default escaping: `/` as `\/`, non-ASCII as `\uXXXX`.
fn php_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut escaped = false;
    for c in text.chars() {
        match c {
            '/' if !escaped => out.push_str("\\/"),
            c if !c.is_ascii() => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    out
}

fn parse(bytes: &[u8], name: Option<&str>) -> Result<Capture, Failure> {
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

fn parse_json(bytes: &[u8], name: Option<&str>) -> Result<Capture, Failure> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn php_escaping_matches_appwrite() {
        assert_eq!(
            php_escape("Zoë https://a/b 😀"),
            "Zo\\u00eb https:\\/\\/a\\/b \\ud83d\\ude00"
        );
        assert_eq!(php_escape(r"already \/ escaped"), r"already \/ escaped");
    }

    #[test]
    fn url_variants_cover_slash_query_scheme_and_port() {
        let variants: Vec<String> = url_variants("https://a.example/hook?x=1", None)
            .into_iter()
            .map(|(u, _)| u)
            .collect();
        assert!(variants.contains(&"https://a.example/hook/?x=1".to_owned()));
        assert!(variants.contains(&"https://a.example/hook".to_owned()));
        assert!(variants.contains(&"http://a.example/hook?x=1".to_owned()));
        assert!(variants.contains(&"https://a.example:443/hook?x=1".to_owned()));
    }
}
