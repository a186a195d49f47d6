//! The checks, in the order they are sent: genuine deliveries of every version, forgeries,
//! oversized bodies, and the optional checks.

use appwrite_webhooks::{rawurldecode, sign};

use crate::conformance::data::{Genuine, UrlRule};
use crate::conformance::forgeries;
use crate::conformance::plan::{
    Check, EVENTS, Expect, Group, Plan, base, delivery_id, genuine_request, request, signature,
};
use crate::conformance::wire::Body;

/// Every check, in the order they are sent: genuine first (so the receiver has seen them when
/// the replay check comes), then forgeries, oversized bodies, and the optional checks.
pub fn all(plan: &Plan) -> Vec<Check> {
    let mut checks = Vec::new();
    for version in plan.versions {
        for (index, delivery) in version.deliveries.iter().enumerate() {
            let id = delivery_id(plan, version, index);
            checks.push(Check {
                id: format!("genuine/{}/{}", version.version, delivery.name),
                group: Group::Genuine,
                required: true,
                sent: format!(
                    "{} as Appwrite {} sends it, signed over {}{}",
                    delivery.name,
                    version.version,
                    match version.rule {
                        UrlRule::Raw => "the URL as typed",
                        UrlRule::RawUrlDecode => "rawurldecode(URL)",
                    },
                    match &id {
                        Some(id) => format!(", with its own delivery id {id}"),
                        None => String::new(),
                    }
                ),
                expect: Expect::Accept,
                meaning: format!(
                    "a genuine delivery from Appwrite {} is refused: Appwrite counts a failed \
                     attempt, and disables the webhook after 10 in a row",
                    version.version
                ),
                request: Ok(genuine_request(plan, version.rule, delivery, id.as_deref())),
            });
        }
    }
    forgeries::all(plan, &mut checks);
    oversized(plan, &mut checks);
    optional(plan, &mut checks);
    checks
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
        .map(|v| (v.rule, &v.deliveries[0], delivery_id(plan, v, 0)));
    if let Some((rule, delivery, id)) = first {
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
            request: Ok(genuine_request(plan, rule, delivery, id.as_deref())),
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
    // Appwrite after 1.9.6 retries a failed delivery with the id and the bytes of the attempt
    // it repeats: main's last delivery, sent again with its id.
    let main = plan
        .versions
        .iter()
        .find(|v| v.version == "main" && !v.deliveries.is_empty());
    let redelivery = match main {
        Some(version) => {
            let index = version.deliveries.len() - 1;
            let delivery = &version.deliveries[index];
            let id = delivery_id(plan, version, index);
            Ok((
                delivery.name.clone(),
                genuine_request(plan, version.rule, delivery, id.as_deref()),
            ))
        }
        None => Err("main's deliveries, which carry delivery ids, were not sent".to_owned()),
    };
    checks.push(Check {
        id: "optional/redelivery".into(),
        group: Group::Optional,
        required: false,
        sent: match &redelivery {
            Ok((name, _)) => format!(
                "{name} of main again, with the same X-Appwrite-Webhook-Delivery-Id and the same \
                 bytes, as Appwrite after 1.9.6 retries it"
            ),
            Err(_) => "a delivery of main again, with the same delivery id and bytes".into(),
        },
        expect: Expect::Accept,
        meaning: "a retry with the delivery id of an earlier attempt is refused: Appwrite retries \
                  until it gets a 2xx and counts every refusal toward disabling the webhook \
                  (answer 2xx for an id already handled, and do not handle it twice)"
            .into(),
        request: redelivery.map(|(_, request)| request),
    });
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
    fn oversized_bodies_are_json_of_the_size_asked() {
        let body = oversized_body(1000);
        assert_eq!(body.len(), 1000);
        assert!(serde_json::from_slice::<serde_json::Value>(&body).is_ok());
    }
}
