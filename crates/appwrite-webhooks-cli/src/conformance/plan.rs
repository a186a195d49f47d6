//! What a check is — what is sent, what a safe receiver answers, what a wrong answer means —
//! and the requests every group of checks is built from: a delivery's headers in Appwrite's
//! order, signed for the receiver's URL and key with a version's URL rule.

use appwrite_webhooks::{sign, sign_rawurldecoded};

use crate::conformance::data::{Genuine, UrlRule, Version};
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
    /// What this run's delivery ids start with (13 hex digits of the start time), so they are
    /// unique across runs as Appwrite's are.
    pub run: String,
}

/// The `X-Appwrite-Webhook-Delivery-Id` of a version's `index`th genuine delivery: main's only
/// (Appwrite after 1.9.6 sends one id per delivery; releases up to 1.9.6 send none). Twenty hex
/// digits like Appwrite's ids, fresh for each delivery of each run.
pub fn delivery_id(plan: &Plan, version: &Version, index: usize) -> Option<String> {
    (version.version == "main").then(|| format!("{}{index:07x}", plan.run))
}

/// A run's delivery id prefix: the start time in microseconds, 13 hex digits.
pub fn run_prefix() -> String {
    let micros = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    format!("{:013x}", micros & 0x1f_ffff_ffff_ffff)
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

pub fn signature(rule: UrlRule, key: &str, url: &str, body: &[u8]) -> String {
    match rule {
        UrlRule::Raw => sign(key, url, body),
        UrlRule::RawUrlDecode => sign_rawurldecoded(key, url, body),
    }
}

pub const SIGNATURE: &str = "X-Appwrite-Webhook-Signature";
pub const EVENTS: &str = "X-Appwrite-Webhook-Events";
pub const DELIVERY_ID: &str = "X-Appwrite-Webhook-Delivery-Id";

/// A delivery's request with `signatures` as its signature header lines (none, one or more).
pub fn request(
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

/// A genuine delivery as its version sends it, with its delivery id when it has one.
pub fn genuine_request(
    plan: &Plan,
    rule: UrlRule,
    delivery: &Genuine,
    delivery_id: Option<&str>,
) -> Request {
    let signed = signature(rule, plan.key, plan.url, &delivery.body);
    let mut request = request(
        plan,
        delivery,
        Body::Full(delivery.body.clone()),
        &[signed],
        None,
    );
    if let Some(id) = delivery_id {
        // Not signed, like every X-Appwrite-* header but the signature: after the others.
        let at = request
            .headers
            .iter()
            .position(|(name, _)| name == SIGNATURE)
            .unwrap_or(request.headers.len());
        request
            .headers
            .insert(at, (DELIVERY_ID.to_owned(), id.to_owned()));
    }
    request
}

/// The main delivery whose body has `needle`, or the first.
pub fn base<'a>(plan: &'a Plan, needle: &str) -> &'a Genuine {
    let deliveries = &plan.main.deliveries;
    deliveries
        .iter()
        .find(|d| std::str::from_utf8(&d.body).is_ok_and(|b| b.contains(needle)))
        .unwrap_or(&deliveries[0])
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
    }

    #[test]
    fn run_prefixes_make_twenty_digit_ids() {
        let prefix = run_prefix();
        assert_eq!(prefix.len(), 13);
        assert_eq!(format!("{prefix}{:07x}", 5).len(), 20);
    }
}
