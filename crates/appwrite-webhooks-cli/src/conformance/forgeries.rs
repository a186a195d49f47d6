//! The forgeries: deliveries no safe receiver acknowledges. Each starts from a genuine delivery
//! and changes one thing — the key, a byte, the encoding, the URL signed, the signature header,
//! the events header.

use base64::Engine as _;

use crate::conformance::plan::{Check, EVENTS, Expect, Group, Plan, base, request, signature};
use crate::conformance::reencode;
use crate::conformance::wire::{Body, Request};

fn forgery(id: &str, sent: String, meaning: &str, request: Result<Request, String>) -> Check {
    Check {
        id: format!("forgery/{id}"),
        group: Group::Forgery,
        required: true,
        sent,
        expect: Expect::Refuse {
            right: if id == "events-relabelled" { 400 } else { 401 },
        },
        meaning: meaning.to_owned(),
        request,
    }
}

/// A re-encoding forgery: its id, what its base body must contain, how it is described, and
/// the encoder.
type Reencoding = (
    &'static str,
    &'static str,
    &'static str,
    fn(&[u8]) -> Option<Vec<u8>>,
);

/// A URL that differs from `url` in one way, or why there is none.
fn url_variant(url: &str, variant: &str) -> Result<String, String> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or_else(|| "the URL has no scheme".to_owned())?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match variant {
        "trailing-slash" => {
            let (path, query) = tail
                .split_once('?')
                .map_or((tail, None), |(p, q)| (p, Some(q)));
            let path = match path.strip_suffix('/') {
                Some(stripped) => stripped.to_owned(),
                None => format!("{path}/"),
            };
            Ok(format!(
                "{scheme}://{authority}{path}{}",
                query.map(|q| format!("?{q}")).unwrap_or_default()
            ))
        }
        "scheme" => {
            let other = if scheme == "https" { "http" } else { "https" };
            Ok(format!("{other}://{rest}"))
        }
        "port" => {
            let authority = match authority.rsplit_once(':') {
                Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => {
                    let port: u32 = port.parse().unwrap_or(0);
                    format!("{host}:{}", port + 1)
                }
                _ => format!("{authority}:{}", if scheme == "https" { 443 } else { 80 }),
            };
            Ok(format!("{scheme}://{authority}{tail}"))
        }
        _ => Err(format!("unknown variant {variant}")),
    }
}

/// The forgeries, in the order they are sent.
pub fn all(plan: &Plan, checks: &mut Vec<Check>) {
    let main = plan.main.rule;
    let plain = base(plan, "\"$id\"");
    let with = |body: Vec<u8>, signatures: &[String]| {
        request(plan, plain, Body::Full(body), signatures, None)
    };
    let genuine_sig = signature(main, plan.key, plan.url, &plain.body);
    let wrong_key = format!("not-{}", plan.key);
    checks.push(forgery(
        "wrong-key",
        "a genuine delivery signed with another key".into(),
        "anyone can forge deliveries: the signature is not checked against your key",
        Ok(with(
            plain.body.clone(),
            &[signature(main, &wrong_key, plan.url, &plain.body)],
        )),
    ));
    checks.push(forgery(
        "empty-key",
        "a delivery signed with an empty key (what a receiver whose key variable is unset computes)".into(),
        "an empty key is accepted: HMAC with an empty key is public, anyone can sign",
        Ok(with(plain.body.clone(), &[signature(main, "", plan.url, &plain.body)])),
    ));
    checks.push(forgery(
        "tampered-byte",
        "a genuine delivery with one byte of its body changed, and its original signature".into(),
        "the body is not covered by the check: anyone can change what a delivery says",
        match tampered(&plain.body) {
            Some(body) => Ok(with(body, std::slice::from_ref(&genuine_sig))),
            None => Err("no letter or digit in the body to change".into()),
        },
    ));
    let mut appended = plain.body.clone();
    appended.push(b'\n');
    checks.push(forgery(
        "appended-whitespace",
        "a genuine delivery with a newline appended to its body, and its original signature".into(),
        "the receiver verifies a trimmed or re-parsed body, not the bytes received",
        Ok(with(appended, std::slice::from_ref(&genuine_sig))),
    ));

    let reencodings: [Reencoding; 4] = [
        ("reencoded-slashes", "\\/", "`\\/` written as `/`", |b| {
            Some(reencode::unescape_slashes(b))
        }),
        (
            "reencoded-unicode",
            "\\u",
            "`\\uXXXX` escapes decoded",
            |b| Some(reencode::decode_unicode(b)),
        ),
        ("reencoded-pretty", "\"$id\"", "pretty-printed", |b| {
            Some(reencode::pretty(b))
        }),
        (
            "reencoded-key-order",
            "\"$id\"",
            "its keys reordered",
            reencode::reorder_keys,
        ),
    ];
    for (id, needle, how, encode) in reencodings {
        let delivery = base(plan, needle);
        let original = signature(main, plan.key, plan.url, &delivery.body);
        let encoded = encode(&delivery.body).filter(|b| *b != delivery.body);
        checks.push(forgery(
            id,
            format!("a genuine delivery's body {how}, with the original body's signature"),
            "the receiver verifies re-serialised JSON instead of the raw bytes: bodies that \
             differ from what Appwrite signed are accepted (and genuine ones with PHP's escapes \
             are refused)",
            match encoded {
                Some(body) => Ok(request(plan, delivery, Body::Full(body), &[original], None)),
                None => Err(format!("no sample body changes when {how}")),
            },
        ));
    }

    for variant in ["trailing-slash", "scheme", "port"] {
        let request = url_variant(plan.url, variant).map(|other| {
            with(
                plain.body.clone(),
                &[signature(main, plan.key, &other, &plain.body)],
            )
        });
        let sent = match &request {
            Ok(_) => format!(
                "a genuine delivery signed for another URL ({})",
                url_variant(plan.url, variant).unwrap_or_default()
            ),
            Err(_) => format!("a delivery signed for the URL with its {variant} changed"),
        };
        checks.push(forgery(
            &format!("url-{variant}"),
            sent,
            "the signed URL is not pinned to the configured one: a delivery captured for \
             another endpoint (or rebuilt from what the client says) is accepted",
            request,
        ));
    }

    let header = |id: &str, sent: &str, meaning: &str, signatures: Vec<String>| {
        forgery(
            id,
            sent.into(),
            meaning,
            Ok(with(plain.body.clone(), &signatures)),
        )
    };
    checks.push(header(
        "signature-missing",
        "a delivery without X-Appwrite-Webhook-Signature",
        "a request without a signature is accepted: verification is skipped when the header is absent",
        vec![],
    ));
    checks.push(header(
        "signature-empty",
        "a delivery with an empty X-Appwrite-Webhook-Signature",
        "an empty signature is accepted",
        vec![String::new()],
    ));
    checks.push(header(
        "signature-repeated",
        "a delivery with two signature headers: a wrong one, then the genuine one",
        "with two signature headers the receiver picks one it likes: it cannot tell which Appwrite sent",
        vec![base64::engine::general_purpose::STANDARD.encode([0u8; 20]), genuine_sig.clone()],
    ));
    checks.push(header(
        "signature-malformed",
        "a delivery whose signature is not base64",
        "a malformed signature is accepted",
        vec!["not*base64!".into()],
    ));
    let tag = base64::engine::general_purpose::STANDARD
        .decode(&genuine_sig)
        .unwrap_or_default();
    checks.push(header(
        "signature-wrong-length",
        "a delivery whose signature is base64 of 16 bytes, not 20",
        "a signature of the wrong length is accepted (a prefix comparison?)",
        vec![base64::engine::general_purpose::STANDARD.encode(tag.get(..16).unwrap_or_default())],
    ));

    // A captured delivery whose (unsigned) events header is made to name another resource.
    let relabelled = plan.main.deliveries.iter().find_map(|d| {
        let body = std::str::from_utf8(&d.body).ok()?;
        let value: serde_json::Value = serde_json::from_str(body).ok()?;
        let id = value.get("$id")?.as_str()?.to_owned();
        let events = d.headers.iter().find(|(n, _)| n == EVENTS)?.1.clone();
        let segment = format!(".{id}.");
        events.contains(&segment).then(|| {
            let forged = events.replace(&segment, ".forged0other0id.");
            (d, forged)
        })
    });
    checks.push(forgery(
        "events-relabelled",
        "a genuine delivery whose events header names another resource than its body".into(),
        "the unsigned events header is trusted: a captured delivery can be replayed as an event \
         about another resource",
        match relabelled {
            Some((d, events)) => {
                let signed = signature(main, plan.key, plan.url, &d.body);
                Ok(request(
                    plan,
                    d,
                    Body::Full(d.body.clone()),
                    &[signed],
                    Some(events),
                ))
            }
            None => Err("no sample delivery names its body's $id in its events".into()),
        },
    ));
}

/// `body` with one letter or digit changed, the first from its middle on (then from its start):
/// a forgery only a check over the exact bytes catches. `None` when it has none to change.
pub(super) fn tampered(body: &[u8]) -> Option<Vec<u8>> {
    let mut tampered = body.to_vec();
    let at = (body.len() / 2..body.len())
        .chain(0..body.len() / 2)
        .find(|&i| body[i].is_ascii_alphanumeric())?;
    tampered[at] = if body[at] == b'a' { b'b' } else { b'a' };
    Some(tampered)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_variants_change_one_thing() {
        let url = "https://hooks.example.com/appwrite/%7Eacme?tenant=acme%2Beu";
        assert_eq!(
            url_variant(url, "trailing-slash").unwrap(),
            "https://hooks.example.com/appwrite/%7Eacme/?tenant=acme%2Beu"
        );
        assert_eq!(
            url_variant("http://h/x/", "trailing-slash").unwrap(),
            "http://h/x"
        );
        assert_eq!(
            url_variant(url, "scheme").unwrap(),
            url.replacen("https", "http", 1)
        );
        assert_eq!(
            url_variant("http://h:3000/x", "port").unwrap(),
            "http://h:3001/x"
        );
        assert_eq!(
            url_variant("https://h/x", "port").unwrap(),
            "https://h:443/x"
        );
    }
}
