//! `--scheme alert`: the checks for a receiver of Appwrite's alert webhooks (its notifications
//! worker: `sha256=<hex HMAC-SHA256(key, "TIMESTAMP.BODY")>`, no URL signed). Genuine alerts of
//! the data, re-signed for the receiver's key with the current time, must be accepted; a
//! tampered body, a stale or future timestamp, another key and no signature must not.

use appwrite_webhooks::sign_alert;

use crate::conformance::data::Alert;
use crate::conformance::forgeries::tampered;
use crate::conformance::plan::{Check, Expect, Group, SIGNATURE, target};
use crate::conformance::wire::{Body, Request};

pub const TIMESTAMP: &str = "X-Appwrite-Webhook-Timestamp";

/// How far the stale and future-dated alerts are from now: twice the usual five-minute
/// tolerance.
pub const SKEW: u64 = 600;

/// What the alert checks are built from.
pub struct AlertPlan<'a> {
    pub url: &'a str,
    pub key: &'a str,
    pub alerts: &'a [Alert],
    /// Unix seconds: the genuine alerts' timestamp.
    pub now: u64,
}

/// An alert as Appwrite's notifications worker sends it: its headers in that order, with
/// `signature` when the channel has a secret.
fn alert_request(
    plan: &AlertPlan,
    body: Vec<u8>,
    timestamp: u64,
    signature: Option<String>,
) -> Request {
    let mut headers = vec![
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (TIMESTAMP.to_owned(), timestamp.to_string()),
    ];
    headers.extend(signature.map(|s| (SIGNATURE.to_owned(), s)));
    headers.push(("User-Agent".to_owned(), "Appwrite Webhook".to_owned()));
    Request {
        target: target(plan.url),
        headers,
        body: Body::Full(body),
    }
}

fn forgery(id: &str, sent: String, meaning: &str, request: Result<Request, String>) -> Check {
    Check {
        id: format!("forgery/alert-{id}"),
        group: Group::Forgery,
        required: true,
        sent,
        expect: Expect::Refuse { right: 401 },
        meaning: meaning.to_owned(),
        request,
    }
}

/// Every alert check, in the order they are sent: genuine alerts, forgeries, and (optional) a
/// re-send of an accepted alert.
pub fn all(plan: &AlertPlan) -> Vec<Check> {
    let mut checks = Vec::new();
    for alert in plan.alerts {
        checks.push(Check {
            id: format!("genuine/alert/{}", alert.name),
            group: Group::Genuine,
            required: true,
            sent: format!(
                "the alert {} as Appwrite's notifications worker sends it, signed now ({})",
                alert.name, plan.now
            ),
            expect: Expect::Accept,
            meaning: "a genuine alert from Appwrite is refused: it is lost (Appwrite does not \
                      retry alerts)"
                .into(),
            request: Ok(alert_request(
                plan,
                alert.body.clone(),
                plan.now,
                Some(sign_alert(plan.key, plan.now, &alert.body)),
            )),
        });
    }
    let Some(base) = plan.alerts.first() else {
        return checks;
    };
    let body = &base.body;
    let signed = |timestamp: u64, body: &[u8]| {
        alert_request(
            plan,
            body.to_vec(),
            timestamp,
            Some(sign_alert(plan.key, timestamp, body)),
        )
    };
    checks.push(forgery(
        "tampered-byte",
        "a genuine alert with one byte of its body changed, and its original signature".into(),
        "the alert's body is not covered by the check: anyone can change what an alert says",
        match tampered(body) {
            Some(tampered) => Ok(alert_request(
                plan,
                tampered,
                plan.now,
                Some(sign_alert(plan.key, plan.now, body)),
            )),
            None => Err("no letter or digit in the alert to change".into()),
        },
    ));
    let stale = plan.now.saturating_sub(SKEW);
    checks.push(forgery(
        "stale",
        format!(
            "a correctly signed alert whose timestamp is {} minutes old ({stale})",
            SKEW / 60
        ),
        "the timestamp is not checked against the clock: a captured alert can be replayed \
         forever (refuse timestamps older than a tolerance, five minutes by default)",
        Ok(signed(stale, body)),
    ));
    let future = plan.now + SKEW;
    checks.push(forgery(
        "future",
        format!(
            "a correctly signed alert dated {} minutes ahead ({future})",
            SKEW / 60
        ),
        "a timestamp in the future is accepted: the tolerance is checked one way only, so an \
         alert signed ahead of time stays valid for as long as its date says",
        Ok(signed(future, body)),
    ));
    let wrong_key = format!("not-{}", plan.key);
    checks.push(forgery(
        "wrong-key",
        "a genuine alert signed now with another key".into(),
        "anyone can forge alerts: the signature is not checked against your key",
        Ok(alert_request(
            plan,
            body.clone(),
            plan.now,
            Some(sign_alert(wrong_key.as_str(), plan.now, body)),
        )),
    ));
    checks.push(forgery(
        "unsigned",
        "an alert with a timestamp and no X-Appwrite-Webhook-Signature, as a channel without a \
         secret sends it"
            .into(),
        "unsigned alerts are accepted: anyone who can reach the receiver can post alerts (give \
         the alert channel a secret, and refuse alerts without a signature)",
        Ok(alert_request(plan, body.clone(), plan.now, None)),
    ));
    checks.push(Check {
        id: "optional/alert-replay".into(),
        group: Group::Optional,
        required: false,
        sent: format!(
            "the alert {} again, byte for byte, within the tolerance",
            base.name
        ),
        expect: Expect::Accept,
        meaning: "a re-send of an accepted alert is refused (answer 2xx, and do not handle it \
                  twice: its deduplicationKey says it is the same alert)"
            .into(),
        request: Ok(signed(plan.now, body)),
    });
    checks
}

#[cfg(test)]
mod tests {
    use super::*;
    use appwrite_webhooks::Verifier;

    fn verify(request: &Request) -> bool {
        let mut headers = http::HeaderMap::new();
        for (name, value) in &request.headers {
            headers.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        let Body::Full(body) = &request.body else {
            panic!("alerts are sent whole")
        };
        Verifier::alert("k").verify(&headers, body).is_ok()
    }

    #[test]
    fn genuine_alerts_verify_and_forgeries_do_not() {
        let alerts = crate::conformance::data::alerts();
        let now = crate::scheme::now();
        let plan = AlertPlan {
            url: "https://h/alerts",
            key: "k",
            alerts: &alerts,
            now,
        };
        for check in all(&plan) {
            let request = check.request.as_ref().unwrap();
            assert_eq!(
                verify(request),
                check.expect == Expect::Accept,
                "{}",
                check.id
            );
        }
    }
}
