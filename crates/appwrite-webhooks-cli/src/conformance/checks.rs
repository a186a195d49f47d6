//! The checks: what is sent, what a safe receiver answers, and what a wrong answer means.

use appwrite_webhooks::{rawurldecode, sign, sign_rawurldecoded};
use base64::Engine as _;

use crate::conformance::data::{Genuine, UrlRule, Version};
use crate::conformance::reencode;
use crate::conformance::wire::{Body, Request};

/// Which part of the report a check belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    Genuine,
    Forgery,
    Oversized,
    Optional,
}

impl Group {
    pub fn name(self) -> &'static str {
        match self {
            Group::Genuine => "genuine",
            Group::Forgery => "forgery",
            Group::Oversized => "oversized",
            Group::Optional => "optional",
        }
    }
}

/// The answer a safe receiver gives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// 2xx.
    Accept,
    /// Anything but 2xx; `right` is the status a careful receiver answers.
    Refuse { right: u16 },
    /// An answer or a closed connection before the stall time ends.
    Act,
}

impl Expect {
    pub fn describe(self) -> String {
        match self {
            Expect::Accept => "2xx".into(),
            Expect::Refuse { right } => format!("not 2xx ({right} is right)"),
            Expect::Act => "an answer (408) or a closed connection".into(),
        }
    }
}

/// One check.
pub struct Check {
    /// Stable, for CI: `genuine/1.9.6/users.userId.create`, `forgery/wrong-key`.
    pub id: String,
    pub group: Group,
    pub required: bool,
    /// What was sent, in one line.
    pub sent: String,
    pub expect: Expect,
    /// What a wrong answer means for the receiver, in one line.
    pub meaning: String,
    /// `None`: not applicable here, for this reason.
    pub request: Result<Request, String>,
}

/// What the checks are built from.
pub struct Plan<'a> {
    pub url: &'a str,
    pub key: &'a str,
    pub versions: &'a [Version],
    /// All known versions, for the forgeries' base delivery (main's).
    pub main: &'a Version,
    pub oversized: usize,
}

/// The path and query the receiver is reached at: the configured URL's, undecoded.
pub fn target(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let target = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]);
    target.split('#').next().unwrap_or("/").to_owned()
}

/// The `Host` header Appwrite sends: the configured URL's authority.
pub fn host(url: &str) -> String {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    let end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    after_scheme[..end].to_owned()
}

fn signature(rule: UrlRule, key: &str, url: &str, body: &[u8]) -> String {
    match rule {
        UrlRule::Raw => sign(key, url, body),
        UrlRule::RawUrlDecode => sign_rawurldecoded(key, url, body),
    }
}

const SIGNATURE: &str = "X-Appwrite-Webhook-Signature";
const EVENTS: &str = "X-Appwrite-Webhook-Events";

/// A delivery's request with `signatures` as its signature header lines (none, one or more).
fn request(
    plan: &Plan,
    delivery: &Genuine,
    body: Body,
    signatures: &[String],
    events: Option<String>,
) -> Request {
    let mut headers: Vec<(String, String)> = delivery
        .headers
        .iter()
        .map(|(name, value)| match (name.as_str(), &events) {
            (EVENTS, Some(events)) => (name.clone(), events.clone()),
            _ => (name.clone(), value.clone()),
        })
        .collect();
    headers.extend(signatures.iter().map(|s| (SIGNATURE.to_owned(), s.clone())));
    Request {
        target: target(plan.url),
        headers,
        body,
    }
}

fn genuine_request(plan: &Plan, rule: UrlRule, delivery: &Genuine) -> Request {
    let signed = signature(rule, plan.key, plan.url, &delivery.body);
    request(
        plan,
        delivery,
        Body::Full(delivery.body.clone()),
        &[signed],
        None,
    )
}

/// Every check, in the order they are sent: genuine first (so the receiver has seen them when
/// the replay check comes), then forgeries, oversized bodies, and the optional checks.
pub fn all(plan: &Plan) -> Vec<Check> {
    let mut checks = Vec::new();
    for version in plan.versions {
        for delivery in &version.deliveries {
            checks.push(Check {
                id: format!("genuine/{}/{}", version.version, delivery.name),
                group: Group::Genuine,
                required: true,
                sent: format!(
                    "{} as Appwrite {} sends it, signed over {}",
                    delivery.name,
                    version.version,
                    match version.rule {
                        UrlRule::Raw => "the URL as typed",
                        UrlRule::RawUrlDecode => "rawurldecode(URL)",
                    }
                ),
                expect: Expect::Accept,
                meaning: format!(
                    "a genuine delivery from Appwrite {} is refused: Appwrite counts a failed \
                     attempt, and disables the webhook after 10 in a row",
                    version.version
                ),
                request: Ok(genuine_request(plan, version.rule, delivery)),
            });
        }
    }
    forgeries(plan, &mut checks);
    oversized(plan, &mut checks);
    optional(plan, &mut checks);
    checks
}

/// The main delivery whose body has `needle`, or the first.
fn base<'a>(plan: &'a Plan, needle: &str) -> &'a Genuine {
    let deliveries = &plan.main.deliveries;
    deliveries
        .iter()
        .find(|d| std::str::from_utf8(&d.body).is_ok_and(|b| b.contains(needle)))
        .unwrap_or(&deliveries[0])
}

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

fn forgeries(plan: &Plan, checks: &mut Vec<Check>) {
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
    let mut tampered = plain.body.clone();
    let at = (tampered.len() / 2..tampered.len())
        .chain(0..tampered.len() / 2)
        .find(|&i| tampered[i].is_ascii_alphanumeric());
    checks.push(forgery(
        "tampered-byte",
        "a genuine delivery with one byte of its body changed, and its original signature".into(),
        "the body is not covered by the check: anyone can change what a delivery says",
        match at {
            Some(i) => {
                tampered[i] = if tampered[i] == b'a' { b'b' } else { b'a' };
                Ok(with(tampered, std::slice::from_ref(&genuine_sig)))
            }
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

/// A signed body of `size` bytes: valid JSON for a team, padded.
fn oversized_body(size: usize) -> Vec<u8> {
    let head = br#"{"$id":"oversized","name":""#;
    let tail = br#""}"#;
    let mut body = head.to_vec();
    body.resize(size.saturating_sub(tail.len()).max(head.len()), b'a');
    body.extend_from_slice(tail);
    body
}

fn oversized(plan: &Plan, checks: &mut Vec<Check>) {
    let body = oversized_body(plan.oversized);
    let delivery = Genuine {
        name: "teams.oversized.create".into(),
        headers: base(plan, "\"$id\"")
            .headers
            .iter()
            .map(|(n, v)| {
                let v = if n == EVENTS {
                    "teams.oversized.create,teams.*.create,teams.oversized,teams.*".to_owned()
                } else {
                    v.clone()
                };
                (n.clone(), v)
            })
            .collect(),
        body: body.clone(),
    };
    let signed = signature(plan.main.rule, plan.key, plan.url, &body);
    for (id, how, sent) in [
        (
            "declared",
            "with its Content-Length",
            Body::Full(body.clone()),
        ),
        (
            "chunked",
            "chunked, without a length",
            Body::Chunked(body.clone()),
        ),
    ] {
        checks.push(Check {
            id: format!("oversized/{id}"),
            group: Group::Oversized,
            required: true,
            sent: format!("a correctly signed body of {} bytes, {how}", body.len()),
            expect: Expect::Refuse { right: 413 },
            meaning: "the receiver buffers a body of any size: anyone who can reach it can \
                      exhaust its memory"
                .into(),
            request: Ok(request(
                plan,
                &delivery,
                sent,
                std::slice::from_ref(&signed),
                None,
            )),
        });
    }
}

fn optional(plan: &Plan, checks: &mut Vec<Check>) {
    let first = plan
        .versions
        .iter()
        .find(|v| !v.deliveries.is_empty())
        .map(|v| (v.rule, &v.deliveries[0]));
    if let Some((rule, delivery)) = first {
        checks.push(Check {
            id: "optional/replay".into(),
            group: Group::Optional,
            required: false,
            sent: format!(
                "{} again, byte for byte, as Appwrite re-sends it",
                delivery.name
            ),
            expect: Expect::Accept,
            meaning: "a re-send of an acknowledged delivery is refused: Appwrite counts a failed \
                      attempt for every re-send (answer 2xx, and do not handle it twice)"
                .into(),
            request: Ok(genuine_request(plan, rule, delivery)),
        });
        let signed = signature(rule, plan.key, plan.url, &delivery.body);
        let half = delivery.body[..delivery.body.len() / 2].to_vec();
        checks.push(Check {
            id: "optional/stalled-body".into(),
            group: Group::Optional,
            required: false,
            sent: format!(
                "the head of {} and half its body, then nothing",
                delivery.name
            ),
            expect: Expect::Act,
            meaning: "a sender that stops mid-body holds a connection open as long as it likes: \
                      bound how long a body may take (Appwrite sends it at once)"
                .into(),
            request: Ok(request(
                plan,
                delivery,
                Body::Stalled {
                    whole: delivery.body.len(),
                    sent: half,
                },
                &[signed],
                None,
            )),
        });
    }
    // Only main signs the URL as typed; releases sign rawurldecode(url), so a receiver that
    // serves them must accept the decoded form. Accepting it is no forgery (it takes the key):
    // reported, never required.
    let decoded = rawurldecode(plan.url);
    let plain = base(plan, "\"$id\"");
    let request = if decoded.as_ref() == plan.url.as_bytes() {
        Err("the URL has no percent-encoding".to_owned())
    } else {
        let decoded = String::from_utf8_lossy(&decoded).into_owned();
        let signed = sign(plan.key, &decoded, &plain.body);
        Ok(self::request(
            plan,
            plain,
            Body::Full(plain.body.clone()),
            &[signed],
            None,
        ))
    };
    checks.push(Check {
        id: "optional/url-percent-decoded".into(),
        group: Group::Optional,
        required: false,
        sent: "a delivery signed over the percent-decoded URL, which unreleased main never signs"
            .into(),
        expect: Expect::Refuse { right: 401 },
        meaning: "the receiver accepts a signature over a URL unreleased main does not sign: \
                  right while releases up to 1.9.6 (which sign rawurldecode(url)) may send, \
                  needless for main alone"
            .into(),
        request,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_hosts_and_url_variants() {
        let url = "https://hooks.example.com/appwrite/%7Eacme?tenant=acme%2Beu";
        assert_eq!(target(url), "/appwrite/%7Eacme?tenant=acme%2Beu");
        assert_eq!(host(url), "hooks.example.com");
        assert_eq!(target("http://h:3000"), "/");
        assert_eq!(host("http://h:3000?x"), "h:3000");
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

    #[test]
    fn oversized_bodies_are_json_of_the_size_asked() {
        let body = oversized_body(1000);
        assert_eq!(body.len(), 1000);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    }
}
