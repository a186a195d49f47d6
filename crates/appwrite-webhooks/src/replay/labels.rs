//! How many labels one signed body has been delivered under: the bound on what a captured body
//! can make a ledger handle, whatever unsigned labels (events, delivery id) come with it.

use std::time::Duration;

use crate::fingerprint::Fingerprint;
use crate::replay::store::StoreFuture;

/// The most labels one signed body is handled under within the retention: deliveries of one
/// body under more distinct labels (events headers, delivery ids) are answered as copies
/// (`200`, `202`: our limit never costs a webhook) without being handled or stored, and
/// logged at WARN.
///
/// Appwrite sends one body under several events when a resource is announced unchanged — a
/// user created, then deleted, or their sessions deleted; the deliveries Appwrite's releases
/// make carry one user body under up to 14 events — so genuine deliveries stay below it, while
/// a captured body replayed under invented labels is handled at most this many times.
pub const MAX_LABELS_PER_BODY: u32 = 16;

/// Where a ledger counts the labels each signed body was delivered under: the one operation the
/// synchronous guard ([`ReplayStore`](crate::ReplayStore)) and the inbox
/// ([`InboxStore`](crate::inbox::InboxStore)) share, implemented once per ledger.
///
/// A labelled delivery's identity begins with its body key
/// ([`Fingerprint::carries_body_key`]), so a ledger that keeps identities in order may count a
/// body's labels among them instead of keeping each label a second time; it must then still
/// count a label whose delivery it forgot (a released claim, a purge) until `keep` has passed.
pub trait LabelStore: Send + Sync + 'static {
    /// Records `label` (a delivery's fingerprint) as one of the labels the signed body `body`
    /// was delivered under, kept for `keep` after the last new one, unless the body already
    /// has `limit` others. Returns whether `label` is (now) one of them. Atomic: this is what
    /// bounds how often one captured body is handled ([`MAX_LABELS_PER_BODY`]).
    fn label<'a>(
        &'a self,
        body: &'a Fingerprint,
        label: &'a Fingerprint,
        limit: u32,
        keep: Duration,
    ) -> StoreFuture<'a, bool>;
}
