//! Receive [Appwrite](https://appwrite.io) webhooks safely: verify the signature over the raw
//! bytes, then read typed events.
//!
//! Appwrite signs each delivery with `base64(HMAC-SHA1(key, url ++ body))`, where `url` is the
//! webhook URL exactly as configured and `body` the raw bytes of PHP's `json_encode` output. A
//! receiver must therefore check the bytes it received, *before* parsing: re-serialised JSON
//! (`\/` becomes `/`, `\u00e9` becomes `é`) no longer matches.
//!
//! ```
//! use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
//!
//! let url = "https://example.com/hooks/appwrite";
//! let verifier = Verifier::new("whsec_…", url);
//!
//! # let sent = DeliveryBuilder::new("whsec_…", url, r#"{"$id":"u1"}"#).events(["users.u1.create"]).build();
//! # let (headers, body) = (sent.headers(), sent.body());
//! // In your handler, with the request's headers and raw body:
//! let delivery = verifier.verify(headers, body)?;
//! println!("{} from project {}", delivery.events().next().unwrap_or(""), delivery.project_id());
//! # Ok::<(), appwrite_webhooks::Error>(())
//! ```
//!
//! Framework adapters (`appwrite-webhooks-axum`, `-actix`, `-tower`) wrap this in one line.
//! The [`guide`] explains the rest, chapter by chapter: concepts, Appwrite versions and alerts,
//! operating, the CLI, the conformance grader, the security model, benchmarks.
//!
//! # One ledger: what a delivery is, and where it stands
//! The signature has no timestamp: a captured delivery verifies forever, and Appwrite itself
//! sends deliveries again byte for byte. Both ways of handling deliveries — synchronously, with
//! a [`ReplayGuard`] on the [`Verifier`], or later, through an [`inbox`] — keep them in one
//! *ledger* ([`MemoryLedger`], `SqliteLedger`, `RedisLedger`, `PostgresLedger`), keyed on one identity and
//! moving through one state machine.
//!
//! **Identity** ([`Delivery::fingerprint`]), defined by the [`Scheme`]:
//!
//! | scheme | a delivery is | copies are |
//! |---|---|---|
//! | Appwrite | the signature (URL ++ body under the verifying key) with the `X-Appwrite-Webhook-Delivery-Id` when sent, else with the events header as sent | Appwrite's redeliveries: same bytes, same id (or events) |
//! | timestamped, generic | the signed envelope's event id under the verifying key | a sender's retries with a fresh timestamp and signature |
//!
//! One body under two events (a user created, then deleted unchanged) is two deliveries, both
//! handled. The labels are unsigned: a captured body replayed under invented events or ids is a
//! new delivery, up to [`MAX_LABELS_PER_BODY`] per body within the retention (one count per ledger,
//! whichever path it takes: [`LabelStore`]), then answered as
//! a copy — keep handlers idempotent.
//!
//! **States.** A delivery is *received*, then *in flight* under one attempt's lease (a
//! [`Claim`] in the synchronous path, an inbox [`Lease`](inbox::Lease) for a worker; both owned
//! by a [`LeaseToken`], so a stale attempt never settles the next one), then *done* (kept for
//! the retention, so copies are recognised) or, in an inbox, *dead* (every attempt failed; an
//! operator can requeue it). A lease that runs out (its process died) makes the delivery due
//! again.
//!
//! ```text
//!            claim / put+take             handler succeeded
//! received ─────────────────► in flight ─────────────────────► done ──(retention)──► forgotten
//!                               │  ▲
//!     handler failed, panicked, │  │ due again (the guard: next copy; the inbox: retry time)
//!     timed out, or lease ran   ▼  │
//!     out ──────────────────► released / pending ──(inbox: last attempt failed)──► dead ──requeue──► pending
//! ```
//!
//! **Exactly once, where the store allows.** A durable ledger can commit a handler's own
//! writes together with its delivery's `done` (`SqliteLedger::exactly_once` in
//! `appwrite-webhooks-sqlite`, `PostgresLedger::exactly_once` in `appwrite-webhooks-postgres`,
//! through [`inbox::InboxHandler::handle_attempt`]): those writes, in the ledger's own
//! database, then happen once per delivery whatever fails; what the handler does elsewhere
//! (an e-mail, an HTTP call) is still at least once. The same ledger can order deliveries
//! per resource ([`inbox::ResourceVersion`]) and settle an older one as *stale*
//! ([`inbox::State::Stale`]: done without its handler).
//!
//! **The guarantee.** If any copy of a delivery was answered 2xx, a handler finished
//! successfully with it (synchronous path), or it is stored durably and will be handled or end
//! in the dead letters (inbox). [`Verifier::serve`] runs the synchronous sequence for every
//! adapter: copies arriving while one is in flight get `409`, copies of a handled delivery
//! `200` without the handler; an error, a panic, a cancelled request or a disconnected sender
//! gives the delivery back. The bare extractors verify without de-duplicating.
//!
//! **What our answers make Appwrite do.** Appwrite counts any status ≥ 400, or no answer
//! within 15 s, as a failure, and disables a webhook after 10 in a row; releases up to 1.9.6
//! never send a failed delivery again by themselves, newer servers redeliver it (same bytes,
//! same delivery id). So: a `2xx` (handled, a copy of a handled delivery, or stored by an
//! inbox) ends it; a `409` (a copy while another is in flight), a `503` (a store or key
//! resolver down), a `401`/`400`/`413`/`408` (forged, malformed, too large, stalled) and a
//! handler's error status each count toward the ten, and Appwrite ≥ 2.x sends it again — a
//! `409`'s redelivery then meets the first copy's outcome. The
//! `appwrite_webhooks_consecutive_failures` gauge counts our answers the same way ([`observe`]).
//!
//! | vocabulary | word |
//! |---|---|
//! | what a delivery is | fingerprint ([`Fingerprint`]) |
//! | one attempt's hold | lease ([`LeaseToken`]; `with_lease` on [`ReplayGuard`] and [`inbox::Workers`]) |
//! | how long done deliveries are kept | retention (`with_retention` on [`ReplayGuard`] and [`inbox::Inbox`]) |
//! | busy | in flight ([`Admission::InProgress`], [`inbox::Stats::in_flight`]) |
//! | settle | complete, release (a claim); complete, fail, dead, hand back (a worker's lease) |
//! | an operator's do-over | requeue ([`inbox::InboxAdmin::requeue`]) |
//!
//! # What is signed, and what is not
//! Only the URL and the body. The events, id, name, project and user headers are not. The typed
//! [`Event`] checks the ids the events header names against the signed body (`$id`,
//! `$databaseId`, `$tableId`/`$collectionId`: [`Error::EventContradictsBody`], 400) and takes
//! parent ids (`userId`, `bucketId`, `teamId`, `resourceId`, `topicId`) from the body. The
//! **action and attribute** (`create` or `delete`, `update.email`) cannot be verified under
//! Appwrite's scheme — the body is the resource either way — so a captured delivery replayed
//! with a relabelled header is only bounded by the replay guard (same signature: a duplicate)
//! and [`ReplayGuard::with_max_age`]. Names are capped at [`MAX_ID_PAIRS`] pairs, so no header costs
//! more than linear work.
//!
//! # Appwrite versions
//! Tested against deliveries made by the code of releases 1.4.14, 1.6.2, 1.8.1 and 1.9.6 and of
//! the unreleased main branch (kept in the repository, `crates/testkit/data/appwrite/`), so
//! self-hosted 1.4 → 1.9.x and Cloud:
//!
//! | | ≤ 1.9.6 (every release) | main (unreleased) |
//! |---|---|---|
//! | signed URL | [`rawurldecode`]`(url)`, posted to `url` as typed | `url` as typed |
//! | database names | ≤ 1.7 `collections/documents`; 1.8.0–1.9.0 plus `tables/rows` twins one way; 1.9.5+ both ways | both ways |
//!
//! The [`Verifier`] accepts both URL forms: the configured URL and, when it contains `%`, its
//! `rawurldecode` form (one more MAC only then; the body is still read once). Names: the primary
//! event is the most specific concrete name wherever it stands in the header, and patterns,
//! accessors and typed events agree across vocabularies (`documents` or `rows`, with or without
//! twins, `tablesdb.` or not). Payloads: the models are the union of the releases' shapes (a
//! field some release leaves out is optional; Execution's `functionId` is read as `resourceId`),
//! and a body whose shape decides otherwise is typed by it: an MFA deletion's `[]` or recovery
//! codes announced as `users.U.create` are [`Event::Unknown`], never [`Event::User`]; a row
//! created through a documents route is [`Event::Row`]. A body that still does not fit its model
//! is [`Event::Unparsed`] (logged at warn), not a `400`: Appwrite disables a webhook after ten
//! answers of 400 or more, so model drift must never cost it. [`Strict`] refuses it instead.
//!
//! # Operating it
//! Each delivery runs in one `tracing` span and is counted through the `metrics` facade: see
//! [`observe`] for the fields and the metrics table. One receiver can serve many projects with
//! [`Verifier::per_tenant`] (a [`Verifier<PerTenant>`](PerTenant), which has only the
//! asynchronous entry points); keys rotate with [`SigningKey::not_after`] and
//! [`Verifier::replace_keys`]; [`Verifier::with_basic_auth`] checks the HTTP Basic
//! credentials Appwrite sends when a webhook has them.
//!
//! # Other schemes
//! [`Verifier::timestamped`] and [`Verifier::generic`] verify two opt-in schemes (a
//! timestamped HMAC-SHA256 and `X-Webhook-Signature: sha256=…`) with the same API; see
//! [`Scheme`] for how they compare. [`Verifier::alert`] verifies Appwrite's alerts (its
//! notifications worker's `sha256=` HMAC-SHA256 over `"{timestamp}.{body}"`), typed as
//! [`Alert`].
//!
//! # The public API, in one place
//! | concern | items |
//! |---|---|
//! | verifying | [`rawurldecode`], [`Verifier`] (its entry points, one per use, are listed on it: [`serve`](Verifier::serve), [`extract`](Verifier::extract), [`receive`](Verifier::receive), [`admit`](Verifier::admit), [`verify`](Verifier::verify), [`verify_signature`](Verifier::verify_signature), [`verify_stored`](Verifier::verify_stored)), [`SigningKey`], [`Signature`], [`ProxyHeaders`], [`DEFAULT_BODY_LIMIT`] |
//! | what failed | [`Error`] (with [`Error::status`]), [`MalformedSignature`], [`EmptyKey`] |
//! | receiving | [`Verifier::receive`] (verify, then claim), [`Verifier::extract`] (verify, then build a [`FromDelivery`]; what bare extractors run), [`Verifier::with_body_timeout`] |
//! | schemes | [`Scheme`], [`UnknownScheme`], [`TimestampedEnvelope`], [`GenericEnvelope`] |
//! | Appwrite's alerts | [`Verifier::alert`], [`Verifier::alert_unsigned`], [`Verifier::with_unsigned_alerts`], [`Alert`] ([`Event::Alert`]), [`Delivery::is_signed`], `sign_alert` (feature `sender`) |
//! | a verified delivery | [`Delivery`] (with [`event`](Delivery::event), [`event_strict`](Delivery::event_strict), [`fingerprint`](Delivery::fingerprint)), [`headers`] (the header names) |
//! | events | [`EventName`], [`InvalidEventName`], [`MAX_ID_PAIRS`], [`Pattern`], [`Event`], [`EventKind`], [`Action`], [`DatabaseApi`], [`TokenKind`], [`DeploymentOwner`], [`models`] |
//! | handing events to code | [`FromDelivery`], [`Payload`], [`Strict`], [`Router`], [`Incoming`], [`HandlerError`], [`Dispatched`], [`DispatchError`] |
//! | de-duplication | [`ReplayGuard`], [`Claim`], [`ReplayStore`], [`LabelStore`] (shared with the inbox), [`ClaimOutcome`], [`LeaseToken`], [`MemoryLedger`], [`Fingerprint`], [`StoreError`], [`StoreFailure`], [`StoreFuture`], [`MAX_TTL`] |
//! | operating | [`observe`] (the span, the metrics table, [`Outcome`](observe::Outcome)), [`Error::reason`] |
//! | keys and credentials | [`Verifier::per_tenant`], [`KeySource`] ([`FixedKeys`], [`PerTenant`]), [`KeyResolver`], [`Tenant`], [`KeysFuture`], [`MAX_KEYS_PER_DELIVERY`], [`DEFAULT_KEY_CACHE_TTL`], [`SigningKey::label`], [`SigningKey::not_after`], [`Verifier::replace_keys`], [`Verifier::with_basic_auth`], [`BasicAuthFailure`], [`Error::www_authenticate`] |
//! | time | [`Clock`], [`SystemClock`], [`ManualClock`], [`Verifier::with_clock`] |
//! | ack fast, process later | [`inbox`] ([`Inbox`](inbox::Inbox), [`Workers`](inbox::Workers), [`RetryPolicy`](inbox::RetryPolicy), [`InboxStore`](inbox::InboxStore)), [`Verifier::verify_stored`] |
//! | sending, for tests and tools (feature `sender`) | `sender::{DeliveryBuilder, SignedDelivery}`, `sign`, `sign_rawurldecoded`, `sign_timestamped`, `sign_generic` |

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod clock;
mod crypto;
mod delivery;
mod error;
mod events;
mod extract;
mod fingerprint;
pub mod guide;
pub mod headers;
pub mod inbox;
mod memory;
pub mod models;
pub mod observe;
mod receive;
mod replay;
mod router;
mod scheme;
#[cfg(feature = "sender")]
pub mod sender;
mod verify;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::key::SigningKey;
pub use crypto::signature::Signature;
pub use delivery::Delivery;
pub use error::{BasicAuthFailure, EmptyKey, Error, MalformedSignature, StoreError};
pub use events::alert::Alert;
pub use events::event::Event;
pub use events::fields::{Action, DatabaseApi, DeploymentOwner, TokenKind};
pub use events::kind::EventKind;
pub use events::name::{EventName, InvalidEventName, MAX_ID_PAIRS};
pub use events::pattern::Pattern;
pub use extract::{FromDelivery, Payload, Strict};
pub use fingerprint::Fingerprint;
pub use memory::MemoryLedger;
pub use receive::{Answer, Served};
pub use replay::{
    Admission, Claim, ClaimOutcome, LabelStore, LeaseToken, MAX_LABELS_PER_BODY, MAX_TTL,
    ReplayGuard, ReplayStore, StoreFailure, StoreFuture,
};
#[allow(deprecated)]
pub use replay::{ClaimToken, MemoryStore};
pub use router::{DispatchError, Dispatched, HandlerError, Incoming, Router};
pub use scheme::{GenericEnvelope, Scheme, TimestampedEnvelope, UnknownScheme, rawurldecode};
#[cfg(feature = "sender")]
pub use scheme::{sign, sign_alert, sign_generic, sign_rawurldecoded, sign_timestamped};
pub use verify::resolver::{
    DEFAULT_KEY_CACHE_TTL, KeyResolver, KeysFuture, MAX_KEYS_PER_DELIVERY, Tenant,
};
pub use verify::source::{FixedKeys, KeySource, PerTenant};
pub use verify::url::ProxyHeaders;
pub use verify::verifier::{DEFAULT_BODY_LIMIT, Verifier};
