//! Appwrite's expansion of one concrete event into every name it announces: wildcard variants,
//! parent resources, and the mirrored names of database events.

use crate::events::name::{EventName, mirror_word};

impl EventName {
    /// Every name Appwrite sends in `X-Appwrite-Webhook-Events` for this (concrete) event: the
    /// name itself first, then each variant with ids replaced by `*`, the parent resources, and
    /// the mirrored names of database events. This is `Event::generateEvents` followed by
    /// `mirrorCollectionEvents` in Appwrite's server; the order may differ from Appwrite's, the
    /// set does not.
    ///
    /// ```
    /// let name = appwrite_webhooks::EventName::parse("users.u1.update.email")?;
    /// let all = name.expand();
    /// assert_eq!(all[0], "users.u1.update.email");
    /// for expected in ["users.*.update", "users.u1.update", "users.*.update.email", "users.u1", "users.*"] {
    ///     assert!(all.iter().any(|n| n == expected), "{expected}");
    /// }
    /// # Ok::<(), appwrite_webhooks::InvalidEventName>(())
    /// ```
    pub fn expand(&self) -> Vec<String> {
        let path: Vec<(&str, &str)> = self.path().collect();
        // Shapes of the names to generate: a path depth, then the tail after it.
        let mut shapes: Vec<(usize, Vec<&str>)> = Vec::new();
        if let Some(action) = self.action() {
            if let Some(attribute) = self.attribute() {
                shapes.push((path.len(), vec![action, attribute]));
            }
            shapes.push((path.len(), vec![action]));
        }
        for depth in (2..=path.len()).rev() {
            shapes.push((depth, Vec::new()));
        }
        // Appwrite also announces an attribute change on the top resource
        // (`teams.t1.update.status` for a membership's status).
        if let (Some(action), Some(attribute)) = (self.action(), self.attribute()) {
            shapes.push((1, vec![action, attribute]));
        }
        shapes.push((1, Vec::new()));

        // At most `MAX_ID_PAIRS` pairs (parsing refuses more), so at most 2^6 masks per shape;
        // the set keeps de-duplication linear in the output.
        let mut names: Vec<String> = Vec::new();
        let mut seen: std::collections::HashSet<String> = std::collections::HashSet::new();
        for (depth, tail) in shapes {
            for mask in star_masks(depth) {
                let mut segments: Vec<&str> = Vec::with_capacity(depth * 2 + tail.len());
                for (i, (resource, id)) in path[..depth].iter().enumerate() {
                    segments.push(resource);
                    segments.push(if mask & (1 << i) != 0 { "*" } else { id });
                }
                segments.extend(&tail);
                for name in mirrored(&segments) {
                    if seen.insert(name.clone()) {
                        names.push(name);
                    }
                }
            }
        }
        names
    }
}

/// Masks over `n` ids, bit set = `*`: all concrete first, then all stars, then the rest, as
/// Appwrite orders them.
fn star_masks(n: usize) -> Vec<u32> {
    let all = (1u32 << n) - 1;
    let mut masks = vec![0, all];
    masks.extend((1..all).rev());
    masks.dedup();
    masks
}

/// `segments` joined, followed by their mirrors in Appwrite's order.
fn mirrored(segments: &[&str]) -> Vec<String> {
    let swap = |service: &str, words: &[&str]| -> String {
        let mut out = vec![service];
        out.extend(words[1..].iter().enumerate().map(|(i, w)| {
            // Resource words sit at odd offsets after the service's id.
            if i % 2 == 1 {
                mirror_word(w).unwrap_or(w)
            } else {
                w
            }
        }));
        out.join(".")
    };
    let plain = segments.join(".");
    match segments[0] {
        "databases" => vec![plain, swap("databases", segments)],
        "tablesdb" => {
            let mut same = segments.to_vec();
            same[0] = "databases";
            vec![plain, swap("databases", segments), same.join(".")]
        }
        _ => vec![plain],
    }
}
