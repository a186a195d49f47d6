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

pub fn genuine_request(plan: &Plan, rule: UrlRule, delivery: &Genuine) -> Request {
    let signed = signature(rule, plan.key, plan.url, &delivery.body);
    request(
        plan,
        delivery,
        Body::Full(delivery.body.clone()),
        &[signed],
        None,
    )
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
}
