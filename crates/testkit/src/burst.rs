//! Bursts of user changes for the ordering and exactly-once tests of every store: a seeded
//! generator of histories (create, updates, delete, re-create), each change sent as copies —
//! the same delivery again (Appwrite's redelivery) or another (a second webhook) — shuffled, with
//! each user's final state.

use std::collections::BTreeMap;

use appwrite_webhooks::inbox::{Inbox, Put};
use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};

/// The URL the bursts are signed for.
pub const URL: &str = "https://example.com/hook";
/// The key the bursts are signed with.
pub const KEY: &str = "burst-key";

/// The verifier for [`KEY`] and [`URL`].
pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

/// xorshift64*: a small seeded PRNG, so every failure names the seed that reproduces it.
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed` (any value).
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next number.
    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// True `percent` times in 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Shuffles `items` (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// `ms` milliseconds into 2025, as Appwrite writes `$updatedAt`.
pub fn timestamp(ms: u64) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, milli) = (rest / 1000, rest % 1000);
    format!("2025-01-01T{h:02}:{m:02}:{s:02}.{milli:03}+00:00")
}

/// One delivery to send.
#[derive(Debug, Clone)]
pub struct Outgoing {
    /// `X-Appwrite-Webhook-Delivery-Id`.
    pub delivery_id: String,
    /// The events header (one name).
    pub event: String,
    /// The body.
    pub body: String,
}

impl Outgoing {
    /// A change to user `u1`: `action` at `stamp` (none: a body without `$updatedAt`).
    pub fn user(id: &str, action: &str, name: &str, stamp: Option<&str>) -> Self {
        Self {
            delivery_id: id.into(),
            event: format!("users.u1.{action}"),
            body: match stamp {
                Some(at) => format!(r#"{{"$id":"u1","name":"{name}","$updatedAt":"{at}"}}"#),
                None => format!(r#"{{"$id":"u1","name":"{name}"}}"#),
            },
        }
    }

    /// The signed request Appwrite would send.
    pub fn request(&self) -> http::Request<bytes::Bytes> {
        DeliveryBuilder::new(KEY, URL, self.body.clone())
            .events([self.event.as_str()])
            .delivery_id(self.delivery_id.clone())
            .build()
            .into_request()
    }
}

/// A burst: every user's history (create, updates, maybe a delete, maybe created again),
/// each change sent one to three times — as the same delivery (a redelivery: the same
/// delivery id) or as another (a second webhook, a replica: a new id) — all shuffled. Returns
/// the sends and each user's final state (`None`: deleted).
pub fn burst(rng: &mut Rng, users: usize) -> (Vec<Outgoing>, BTreeMap<String, Option<String>>) {
    let mut sends = Vec::new();
    let mut expected = BTreeMap::new();
    let mut next_id = 0u64;
    for u in 0..users {
        let user = format!("u{u}");
        let mut at = rng.below(1000);
        let mut changes = Vec::new();
        let mut lives = 0;
        loop {
            lives += 1;
            changes.push(("create", at, format!("{user}-v{}", changes.len())));
            for _ in 0..rng.below(4) {
                // Updates may share the create's millisecond, never each other's.
                at += if changes.len() == 1 {
                    rng.below(2)
                } else {
                    1 + rng.below(3)
                };
                changes.push(("update", at, format!("{user}-v{}", changes.len())));
            }
            if !rng.chance(50) {
                break;
            }
            // A delete carries the resource as it was: the last change's $updatedAt.
            let last = changes.last().unwrap().2.clone();
            changes.push(("delete", at, last));
            if lives == 2 || !rng.chance(40) {
                break;
            }
            at += 1 + rng.below(3);
        }
        let last = changes.last().unwrap();
        expected.insert(user.clone(), (last.0 != "delete").then(|| last.2.clone()));
        for (action, at, name) in changes {
            let body = format!(
                r#"{{"$id":"{user}","name":"{name}","$updatedAt":"{}"}}"#,
                timestamp(at)
            );
            let event = format!("users.{user}.{action}");
            let copies = 1 + rng.below(3);
            let mut id = None;
            for _ in 0..copies {
                if id.is_none() || rng.chance(50) {
                    next_id += 1;
                    id = Some(format!("d{next_id}"));
                }
                sends.push(Outgoing {
                    delivery_id: id.clone().unwrap(),
                    event: event.clone(),
                    body: body.clone(),
                });
            }
        }
    }
    rng.shuffle(&mut sends);
    (sends, expected)
}

/// Stores `send` in `inbox` through the receive path; what the inbox answered.
pub async fn accept(inbox: &Inbox, send: &Outgoing) -> Put {
    let (parts, body) = send.request().into_parts();
    inbox
        .accept(
            &verifier(),
            &parts.uri,
            &parts.headers,
            http_body_util::Full::new(body),
        )
        .await
        .unwrap()
}
