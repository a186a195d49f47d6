//! What `listen` prints for each request: a line or a block for people, or one JSON line.

use std::borrow::Cow;

use appwrite_webhooks::Delivery;
use appwrite_webhooks::inbox::Put;

use crate::output::{Fit, Style, escape, json_line, quoted, word};

/// Prints each answer, to a terminal (`style`) or as JSON lines (`json`).
pub(super) struct Printer {
    pub(super) style: Style,
    pub(super) json: bool,
}

impl Printer {
    pub(super) fn stored(&self, put: Put, delivery_id: Option<&str>) {
        // `stored` is null for a body over its label limit: answered, not stored.
        let (id, duplicate) = (put.id(), !matches!(put, Put::Stored(_)));
        let over_limit = put == Put::OverLabelLimit;
        if self.json {
            println!(
                "{}",
                json_line(&serde_json::json!({
                    "status": 202,
                    "stored": id,
                    "duplicate": duplicate,
                    "over_label_limit": over_limit,
                    "delivery_id": delivery_id,
                }))
            );
            return;
        }
        let mark = match put {
            Put::Stored(_) => self.style.good("✔"),
            Put::Duplicate(_) => self.style.dim("="),
            Put::OverLabelLimit => self.style.bad("!"),
        };
        let delivery = delivery_id
            .map(|d| format!(" (delivery {})", escape(d, Fit::Word)))
            .unwrap_or_default();
        let why = if over_limit {
            format!(
                ": this signed body already came under {} other events or delivery ids \
                 (a captured body replayed?)",
                appwrite_webhooks::MAX_LABELS_PER_BODY
            )
        } else {
            String::new()
        };
        println!("{mark} {put}{delivery}{why}");
    }

    pub(super) fn accepted(&self, delivery: &Delivery, kind: &str) {
        let name = delivery.primary_event();
        let ids: Vec<(String, String)> = name
            .as_ref()
            .map(|n| {
                n.path()
                    .map(|(resource, id)| (resource.to_owned(), id.to_owned()))
                    .collect()
            })
            .unwrap_or_default();
        let payload: serde_json::Value = serde_json::from_slice(delivery.body())
            .unwrap_or_else(|_| String::from_utf8_lossy(delivery.body()).into());
        if self.json {
            let line = serde_json::json!({
                "status": 204,
                "event": name.as_ref().map(|n| n.as_str()),
                "kind": kind,
                "ids": ids.iter().map(|(r, id)| (r.clone(), serde_json::Value::from(id.as_str()))).collect::<serde_json::Map<_, _>>(),
                "events": delivery.events().collect::<Vec<_>>(),
                "webhook_id": delivery.webhook_id(),
                "webhook_name": delivery.webhook_name(),
                "project_id": delivery.project_id(),
                "user_id": delivery.user_id(),
                "delivery_id": delivery.delivery_id(),
                "key_index": delivery.key_index(),
                "signed": delivery.is_signed(),
                "payload": payload,
            });
            println!("{}", json_line(&line));
            return;
        }
        // Everything below but the kind, the key index and the length comes from the request
        // (signed or not): escaped, each in the place it is printed.
        let style = self.style;
        // An alert names no event: its subject says what it is about.
        let subject = payload["subject"].as_str().filter(|_| kind == "Alert");
        let event = match (&name, subject) {
            (Some(n), _) => escape(n.as_str(), Fit::Word),
            (None, Some(subject)) => escape(subject, Fit::Line),
            (None, None) => Cow::Borrowed("(no concrete event)"),
        };
        println!(
            "{} {} {}",
            style.good("✔"),
            style.bold(&event),
            style.dim(&format!("({kind})"))
        );
        if style.quiet {
            return;
        }
        let ids = ids
            .iter()
            .map(|(r, id)| format!("{}={}", escape(r, Fit::Word), escape(id, Fit::Word)))
            .collect::<Vec<_>>()
            .join(" ");
        let delivery_id = delivery
            .delivery_id()
            .map(|d| format!(", delivery {}", escape(d, Fit::Word)))
            .unwrap_or_default();
        println!(
            "  {}",
            style.dim(&format!(
                "webhook {} {}, project {}, user {}{delivery_id}, key #{}, {} bytes; {}",
                word(Some(delivery.webhook_id())),
                quoted(delivery.webhook_name().unwrap_or("")),
                word(Some(delivery.project_id())),
                word(delivery.user_id()),
                delivery.key_index(),
                delivery.body().len(),
                ids
            ))
        );
        // serde_json escapes C0 controls in strings, not C1 or bidirectional ones.
        let pretty = serde_json::to_string_pretty(&payload).unwrap_or_default();
        for line in pretty.lines() {
            println!("  {}", escape(line, Fit::Line));
        }
    }

    pub(super) fn rejected(&self, status: u16, reason: &str) {
        if self.json {
            println!(
                "{}",
                json_line(&serde_json::json!({ "status": status, "rejected": reason }))
            );
        } else {
            println!(
                "{} {status} {}",
                self.style.bad("✘"),
                escape(reason, Fit::Line)
            );
        }
    }
}
