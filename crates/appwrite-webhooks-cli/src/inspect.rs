//! `inspect`: explain exactly which check a captured request fails, and why.

use std::path::PathBuf;

use appwrite_webhooks::{Error, Signature, Verifier};
use clap::Args;

use crate::capture::parse;
use crate::keys::{self, KeyArgs};
use crate::output::{Fit, Style, escape};
use crate::scheme::SchemeArgs;
use crate::{Failure, read_input};

#[derive(Args)]
pub struct InspectArgs {
    #[command(flatten)]
    keys: KeyArgs,
    /// The webhook URL as configured in Appwrite (default: the capture's `url`, if it has one);
    /// the appwrite scheme only.
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
    #[command(flatten)]
    scheme: SchemeArgs,
    /// Timestamped and alert schemes: how far the timestamp may be from now, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    tolerance: u64,
}

pub fn run(args: InspectArgs, style: Style) -> Result<(), Failure> {
    let capture = parse(&read_input(args.file.as_ref())?, args.name.as_deref())?;
    let scheme = args.scheme.scheme;
    // Only Appwrite's scheme signs a URL: the others need none, and there is none to vary.
    let url = args
        .scheme
        .signed_url(args.url.as_deref().or(capture.url.as_deref()))?
        .map(str::to_owned);
    let all_keys = args.keys.resolve()?;
    let mut keys = all_keys.clone().into_iter();
    let first = keys.next().ok_or_else(keys::missing)?;
    let verifier_for = |url: Option<&str>| -> Result<Verifier, Failure> {
        Ok(args
            .scheme
            .verifier(first.clone(), url, args.tolerance)?
            .with_keys(keys.clone())
            .with_body_limit(usize::MAX))
    };
    let verifier = verifier_for(url.as_deref())?;

    let mut report = Report { style, problems: 0 };
    let header = display(&scheme.signature_header());
    let values: Vec<_> = capture
        .headers
        .get_all(scheme.signature_header())
        .iter()
        .collect();
    match values.as_slice() {
        [] if matches!(scheme, appwrite_webhooks::Scheme::Alert { .. }) => {
            report.fail(&format!("{header} header is missing: Appwrite sends alerts unsigned when the alert channel has no secret; give it one (receivers refuse unsigned alerts unless told to accept them, and then anyone can post alerts)"));
            return report.finish();
        }
        [] => {
            report.fail(&format!("{header} header is missing: the sender always sends it; a proxy may have dropped it"));
            return report.finish();
        }
        [value] => {
            if let Err(error) = Signature::parse(scheme, value.as_bytes()) {
                report.fail(&format!("{header} is malformed: {error}"));
                return report.finish();
            }
        }
        _ => {
            report.fail(&format!("{header} appears more than once"));
            return report.finish();
        }
    }

    if scheme == appwrite_webhooks::Scheme::Appwrite {
        report.delivery_id(&capture.headers);
    }

    match verifier.verify_signature(&capture.headers, &capture.body) {
        Ok(key) => {
            // The verifier accepts the URL as typed and, where it has `%` escapes, its
            // rawurldecode form: say which one this sender signed.
            let sent = values[0].to_str().unwrap_or_default();
            let decoded = scheme == appwrite_webhooks::Scheme::Appwrite
                && url.as_deref().is_some_and(|u| {
                    u.contains('%')
                        && appwrite_webhooks::sign(all_keys[key].clone(), u, &capture.body) != sent
                });
            report.pass(&format!(
                "signature matches key #{key}{} over {} body bytes",
                url.as_deref()
                    .map(|u| if decoded {
                        format!(" for the percent-decoded URL (Appwrite ≤ 1.9.6) of {u}")
                    } else {
                        format!(" for {u}")
                    })
                    .unwrap_or_default(),
                capture.body.len()
            ));
            // Signed: now the rest of what a receiver checks, as the verifier checks it.
            if let Err(error) = verifier.verify(&capture.headers, &capture.body) {
                report.fail(&match error {
                    Error::MissingHeader(name) => {
                        format!("{name} header is missing (receivers answer 400)")
                    }
                    other => format!("{other} (receivers answer {})", other.status().as_u16()),
                });
            }
            return report.finish();
        }
        Err(Error::SignatureMismatch) => {}
        Err(other) => {
            report.fail(&other.to_string());
            return report.finish();
        }
    }

    // Not a match: find out what differs. First the URL, then the body, then the key.
    if let Some(url) = &url {
        for (candidate, why) in url_variants(url, capture.target.as_ref()) {
            if verifier_for(Some(&candidate))?
                .verify_signature(&capture.headers, &capture.body)
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
    }
    for (repaired, why) in body_repairs(&capture.body) {
        if verifier
            .verify_signature(&capture.headers, &repaired)
            .is_ok()
        {
            report.fail(&format!(
                "signature mismatch: the body is not the bytes that were signed — {why}"
            ));
            report.hint("verify the raw request bytes before any JSON parsing or re-serialisation");
            return report.finish();
        }
    }
    report.fail("signature mismatch: no URL variant or body repair matches");
    report.hint("the key differs (regenerated in Appwrite? pass the old and new keys with --key twice) or the body was changed");
    report.finish()
}

/// A header's name as the documentation writes it (`X-Appwrite-Webhook-Signature`).
fn display(name: &http::HeaderName) -> String {
    name.as_str()
        .split('-')
        .map(|word| {
            let mut chars = word.chars();
            chars.next().map_or_else(String::new, |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        })
        .collect::<Vec<_>>()
        .join("-")
}

struct Report {
    style: Style,
    problems: usize,
}

/// Each line of the report quotes the capture (URLs, header values, errors naming them): it is
/// escaped whole to one line.
impl Report {
    fn pass(&mut self, text: &str) {
        println!("{} {}", self.style.good("✔"), escape(text, Fit::Line));
    }

    fn fail(&mut self, text: &str) {
        self.problems += 1;
        println!("{} {}", self.style.bad("✘"), escape(text, Fit::Line));
    }

    fn hint(&mut self, text: &str) {
        println!("  {} {}", self.style.dim("hint:"), escape(text, Fit::Line));
    }

    /// Names the capture's X-Appwrite-Webhook-Delivery-Id, or says there is none; a malformed
    /// one fails the checks that follow, as receivers answer it 400.
    fn delivery_id(&mut self, headers: &http::HeaderMap) {
        let values: Vec<_> = headers
            .get_all(appwrite_webhooks::headers::WEBHOOK_DELIVERY_ID)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .filter(|v| !v.is_empty())
            .collect();
        let text = match values.as_slice() {
            [] => "none — Appwrite 1.9.6 and older send none; the signature with the events \
                   header tells deliveries apart"
                .to_owned(),
            [id] => format!(
                "{} — not signed; with the signature it tells this delivery apart, and \
                 Appwrite's redeliveries repeat it",
                escape(id, Fit::Word)
            ),
            _ => format!(
                "{} — repeated",
                values
                    .iter()
                    .map(|id| escape(id, Fit::Word))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        println!("  {} {text}", self.style.dim("delivery id:"));
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
