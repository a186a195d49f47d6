//! The keys a verifier tries: the HMAC states derived from them once, and the ring that lets a
//! running server swap them for new ones without a restart.

use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use crate::crypto::key::SigningKey;
use crate::crypto::mac::{Candidates, KeyedMac};
use crate::scheme::Scheme;

/// Keys with the states every request starts from, derived once when the keys are set.
pub(crate) struct KeySet {
    pub(crate) keys: Vec<SigningKey>,
    /// One HMAC state per key, with the key absorbed: no per-request key setup.
    pub(crate) keyed: Vec<KeyedMac>,
    /// The states every request starts from, with all the scheme signs before the body
    /// absorbed where that is the same for every request (Appwrite's configured URLs).
    prepared: Vec<(usize, KeyedMac)>,
    /// Whether any key has a not-after time, so the clock must be read.
    expiring: bool,
}

impl KeySet {
    /// Derives the states for `keys` under `scheme`, with the configured `urls` absorbed.
    pub(crate) fn new(scheme: Scheme, urls: &[String], keys: Vec<SigningKey>) -> Self {
        let hash = scheme.hash();
        let keyed: Vec<KeyedMac> = keys.iter().map(|k| KeyedMac::new(hash, k)).collect();
        let prepared = scheme
            .fixed_prefixes(urls)
            .iter()
            .flat_map(|prefix| {
                keyed
                    .iter()
                    .enumerate()
                    .map(move |(key_index, keyed)| (key_index, keyed.absorbing(prefix)))
            })
            .collect();
        let expiring = keys.iter().any(|k| k.valid_until().is_some());
        Self {
            keys,
            keyed,
            prepared,
            expiring,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Whether the clock must be read to know which keys are valid.
    pub(crate) fn expiring(&self) -> bool {
        self.expiring
    }

    /// The HMAC states a request's body goes into: the prepared ones, and each per-request
    /// prefix under each key, skipping keys past their not-after time at `now`.
    pub(crate) fn candidates(&self, prefixes: &[Vec<u8>], now: Option<SystemTime>) -> Candidates {
        let valid = |key_index: usize| now.is_none_or(|now| self.keys[key_index].valid_at(now));
        let mut candidates =
            Candidates::with_capacity(self.prepared.len() + prefixes.len() * self.keys.len());
        for (key_index, mac) in &self.prepared {
            if valid(*key_index) {
                candidates.push(*key_index, mac.clone());
            }
        }
        for prefix in prefixes {
            for (key_index, keyed) in self.keyed.iter().enumerate() {
                if valid(key_index) {
                    candidates.push(key_index, keyed.absorbing(prefix));
                }
            }
        }
        candidates
    }

    /// The label of key `index`, if it has one.
    pub(crate) fn label(&self, index: usize) -> Option<Arc<str>> {
        self.keys.get(index).and_then(SigningKey::shared_label)
    }
}

/// The current key set, shared by a verifier and its clones, replaceable while they run.
pub(crate) struct KeyRing(RwLock<Arc<KeySet>>);

impl KeyRing {
    pub(crate) fn new(set: KeySet) -> Self {
        Self(RwLock::new(Arc::new(set)))
    }

    /// The set in force now; a request keeps the one it started with.
    pub(crate) fn current(&self) -> Arc<KeySet> {
        Arc::clone(&self.0.read().unwrap_or_else(|e| e.into_inner()))
    }

    pub(crate) fn replace(&self, set: KeySet) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(set);
    }
}
