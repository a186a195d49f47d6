//! What an inbox keeps of a delivery, and what it reports about the deliveries it holds.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Uri};

use crate::delivery::Delivery;

/// A verified delivery as an inbox stores it: the exact bytes, the headers needed to verify and
/// route it again, the request URI, and when it arrived.
///
/// Kept headers are the `X-Appwrite-*`/`X-Webhook-*` ones, `Host`, `Content-Type`,
/// `User-Agent` and the forwarding headers a verifier may rebuild the URL from; never
/// `Authorization` or cookies.
///
/// ```
/// use appwrite_webhooks::{Verifier, inbox::Received, sender::DeliveryBuilder};
///
/// let url = "https://example.com/hook";
/// let sent = DeliveryBuilder::new("k", url, "{}").build();
/// let delivery = Verifier::new("k", url).verify(sent.headers(), sent.body())?.into_owned();
/// let received = Received::new(&"/hook".parse()?, sent.headers(), &delivery);
///
/// let block = received.header_block();
/// assert_eq!(Received::parse_header_block(&block)?, received.headers);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Received {
    /// The delivery's identity, [`Delivery::fingerprint`]: the inbox stores a delivery once per
    /// fingerprint. See [`Received::new`].
    pub fingerprint: Vec<u8>,
    /// When the receiver had verified it.
    pub received_at: SystemTime,
    /// The request URI as received (path and query, or absolute).
    pub uri: String,
    /// The kept request headers.
    pub headers: HeaderMap,
    /// The raw body, exactly as signed.
    pub body: Bytes,
}

impl Received {
    /// What to store of `delivery`, verified from a request to `uri` with `headers`, now.
    ///
    /// The fingerprint is the delivery's identity, as a replay guard uses it: for Appwrite's
    /// scheme the signature with the delivery id (or, from servers that send none, the events
    /// header). Appwrite's redeliveries repeat both, so they are recognised; two genuine events
    /// about a resource that did not change in between — a row created and then deleted — carry
    /// the same body and signature under different events and ids, and both are kept and
    /// handled. The price: a captured delivery replayed under a relabelled events header or
    /// delivery id (neither is signed) is stored as a new delivery, so a handler that destroys
    /// data on a `delete` should confirm it with Appwrite's API.
    pub fn new(uri: &Uri, headers: &HeaderMap, delivery: &Delivery<Bytes>) -> Self {
        let kept = headers
            .iter()
            .filter(|(name, _)| kept_header(name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        Self {
            fingerprint: delivery.fingerprint().as_bytes().to_vec(),
            received_at: SystemTime::now(),
            uri: uri.to_string(),
            headers: kept,
            body: delivery.bytes().clone(),
        }
    }

    /// The headers as HTTP/1 lines (`name: value\n`), bytes as sent: a value may hold any
    /// byte but CR and LF, which HTTP forbids, so the block reads back exactly.
    pub fn header_block(&self) -> Vec<u8> {
        let mut block = Vec::new();
        for (name, value) in &self.headers {
            block.extend_from_slice(name.as_str().as_bytes());
            block.extend_from_slice(b": ");
            block.extend_from_slice(value.as_bytes());
            block.push(b'\n');
        }
        block
    }

    /// Reads a [`header_block`](Self::header_block) back.
    pub fn parse_header_block(block: &[u8]) -> Result<HeaderMap, InvalidRecord> {
        let mut headers = HeaderMap::new();
        for line in block.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let at = line
                .windows(2)
                .position(|w| w == b": ")
                .ok_or(InvalidRecord("a header line without `: `"))?;
            let name = HeaderName::from_bytes(&line[..at])
                .map_err(|_| InvalidRecord("an invalid header name"))?;
            let value = HeaderValue::from_bytes(&line[at + 2..])
                .map_err(|_| InvalidRecord("an invalid header value"))?;
            headers.append(name, value);
        }
        Ok(headers)
    }

    /// [`received_at`](Self::received_at) in milliseconds since the Unix epoch.
    pub fn received_at_millis(&self) -> u64 {
        unix_millis(self.received_at)
    }
}

impl fmt::Debug for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Received")
            .field("received_at", &self.received_at)
            .field("uri", &self.uri)
            .field("headers", &self.headers.keys().collect::<Vec<_>>())
            .field("body_len", &self.body.len())
            .finish_non_exhaustive()
    }
}

/// Whether a request header is kept with a stored delivery: what verifying and routing need,
/// and nothing that is a credential.
fn kept_header(name: &HeaderName) -> bool {
    let name = name.as_str();
    name.starts_with("x-appwrite-")
        || name.starts_with("x-webhook-")
        || matches!(
            name,
            "host"
                | "content-type"
                | "user-agent"
                | "forwarded"
                | "x-forwarded-proto"
                | "x-forwarded-host"
                | "x-forwarded-port"
        )
}

/// A stored record that cannot be read back (a store written by something else).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored delivery is unreadable: {0}")]
pub struct InvalidRecord(pub &'static str);

/// Where a stored delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Waiting for a worker (first attempt or a scheduled retry), or held by one now.
    Pending,
    /// A handler succeeded; kept for the retention window so re-sends are recognised.
    Done,
    /// Every attempt failed; kept, with the last error, until retried or purged.
    Dead,
    /// Settled without its handler: with per-resource ordering on (an opt-in of stores that
    /// support it, e.g. `appwrite-webhooks-sqlite`'s `ExactlyOnce::with_ordering`), a newer
    /// version of its resource had already been applied. Kept for the retention like a done
    /// delivery (its copies are recognised and answered `2xx`), purged with them.
    Stale,
}

impl State {
    /// `pending`, `done`, `dead` or `stale`: how stores write it.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Pending => "pending",
            State::Done => "done",
            State::Dead => "dead",
            State::Stale => "stale",
        }
    }

    /// Reads [`as_str`](Self::as_str) back.
    pub fn parse(text: &str) -> Result<Self, InvalidRecord> {
        match text {
            "pending" => Ok(State::Pending),
            "done" => Ok(State::Done),
            "dead" => Ok(State::Dead),
            "stale" => Ok(State::Stale),
            _ => Err(InvalidRecord("an unknown state")),
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A delivery as an inbox holds it, for listing and inspection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The inbox's id for it.
    pub id: u64,
    /// Where it stands.
    pub state: State,
    /// Attempts started so far (an attempt whose worker died counts).
    pub attempts: u32,
    /// The last attempt's error, if it failed.
    pub last_error: Option<String>,
    /// What was received.
    pub received: Received,
}

/// A delivery a worker has taken: it is invisible to other workers until the lease's
/// visibility timeout passes, then another worker may take it again.
#[derive(Debug, Clone)]
pub struct Taken {
    /// What settles this attempt with the store.
    pub lease: Lease,
    /// Which attempt this is, from 1.
    pub attempt: u32,
    /// What was received.
    pub received: Received,
}

/// One attempt's hold on a delivery: the store only accepts its outcome from the holder.
#[derive(Clone, PartialEq, Eq)]
pub struct Lease {
    /// The delivery's inbox id.
    pub id: u64,
    /// The store's token for this attempt (its owner check).
    pub token: String,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// How many deliveries an inbox holds, by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Every delivery held: `pending + done + dead + stale`.
    pub stored: u64,
    /// Waiting for a worker or held by one.
    pub pending: u64,
    /// Of the pending, those a worker holds now.
    pub in_flight: u64,
    /// Handled, kept for de-duplication.
    pub done: u64,
    /// Dead letters.
    pub dead: u64,
    /// Settled as stale without their handler ([`State::Stale`]); 0 for stores without
    /// per-resource ordering.
    pub stale: u64,
}

/// What to purge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purge {
    /// Handled deliveries, stale ones included (they are only kept to recognise re-sends).
    Done,
    /// Handled (and stale) deliveries and dead letters.
    DoneAndDead,
}

/// Milliseconds since the Unix epoch (0 before it).
pub fn unix_millis(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The time `millis` after the Unix epoch.
pub fn from_unix_millis(millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(millis)
}
