//! What identifies a delivery, scheme by scheme: the one identity a replay guard and an inbox
//! key on, and the key of a signed body whose labels are counted.

use crate::crypto::mac::KeyedMac;
use crate::crypto::signature::Signature;
use crate::fingerprint::Fingerprint;
use crate::headers::DeliveryHeaders;
use crate::scheme::{Scheme, alert, appwrite, generic, timestamped};

impl Scheme {
    /// The delivery's identity, the [`Fingerprint`] every ledger keys on (a replay guard, an
    /// inbox): two requests with the same fingerprint are copies of one delivery, handled once.
    ///
    /// | scheme | identity |
    /// |---|---|
    /// | Appwrite | the signature (URL ++ body, under the key that verified it) with the `X-Appwrite-Webhook-Delivery-Id` when sent, else with the events header as sent; its first [`BODY_KEY_PREFIX`](Fingerprint::BODY_KEY_PREFIX) bytes are the body key's |
    /// | timestamped, generic | the signed envelope's event id (`$id`, `id`), under the key that verified it |
    /// | alert | the alert's `deduplicationKey` under the key that verified it; the signature when the key is empty; unkeyed (SHA-256) for an [unsigned](crate::Verifier::with_unsigned_alerts) alert |
    ///
    /// Appwrite sends one body under several events (a row created, then deleted unchanged),
    /// so the signature alone would make the second genuine delivery a duplicate; its own
    /// redeliveries repeat the bytes *and* the delivery id (or, on servers without ids, the
    /// events header), so they stay copies. The opt-in schemes sign their event id, which a
    /// sender keeps across retries with a fresh timestamp and signature.
    ///
    /// `keyed` is the HMAC state of the key that verified the delivery, absorbing nothing yet;
    /// `None` for Appwrite's scheme, whose identity [`labelled_identity`](Self::labelled_identity)
    /// computes when asked for.
    pub(crate) fn envelope_fingerprint(
        &self,
        signature: &Signature,
        meta: &DeliveryHeaders,
        body: &[u8],
        keyed: impl FnOnce() -> KeyedMac,
    ) -> Option<Fingerprint> {
        let envelope_id = match self {
            Self::Appwrite => return None,
            Self::Timestamped { .. } => timestamped::event_id(body),
            Self::Generic => generic::event_id(body),
            // No key verified it: nothing to key the identity with.
            Self::Alert { .. } if signature.is_unsigned() => {
                return Some(alert::unsigned_fingerprint(meta, body));
            }
            Self::Alert { .. } => alert::deduplication_key(body),
        };
        Some(match envelope_id {
            // The envelope's id under the key that verified it: two senders sharing a store
            // never collide, and the store learns nothing about the id.
            Some(id) => {
                let mut mac = keyed();
                for part in [self.name().as_bytes(), b"\0", id.as_bytes()] {
                    mac.update(part);
                }
                Fingerprint::new(&mac.finalize())
            }
            // An envelope without an id has nothing that survives a retry: its signature.
            None => Fingerprint::new(signature.as_bytes()),
        })
    }

    /// The identity of a scheme whose labels are unsigned (Appwrite's), from the signature and
    /// the delivery id or events header, with the body key it begins with; for the others,
    /// [`envelope_fingerprint`] set it when the delivery was verified, and this is only their
    /// signature.
    ///
    /// [`envelope_fingerprint`]: Self::envelope_fingerprint
    pub(crate) fn labelled_identity(
        &self,
        signature: &Signature,
        meta: &DeliveryHeaders,
    ) -> Identity {
        match self {
            Self::Appwrite => {
                let body_key = appwrite::body_key(signature);
                Identity {
                    fingerprint: appwrite::fingerprint(signature, meta, &body_key),
                    body_key: Some(body_key),
                }
            }
            Self::Timestamped { .. } | Self::Generic | Self::Alert { .. } => {
                Identity::signed(Fingerprint::new(signature.as_bytes()))
            }
        }
    }
}

/// A delivery's identity, and where its labels are unsigned (Appwrite's scheme) what identifies
/// the signed body apart from them: a ledger counts the labels of each body
/// ([`MAX_LABELS_PER_BODY`](crate::MAX_LABELS_PER_BODY)). The opt-in schemes sign their
/// identity, so they have nothing to count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Identity {
    pub(crate) fingerprint: Fingerprint,
    pub(crate) body_key: Option<Fingerprint>,
}

impl Identity {
    /// An identity whose labels are signed: no body key.
    pub(crate) fn signed(fingerprint: Fingerprint) -> Self {
        Self {
            fingerprint,
            body_key: None,
        }
    }
}
