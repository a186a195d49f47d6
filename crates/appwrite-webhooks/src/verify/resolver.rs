//! Keys per tenant: an asynchronous resolver picks the keys to try from a delivery's webhook and
//! project ids, with a bounded cache in front of it.
//!
//! The ids come from unsigned headers. That is safe because they only choose which keys are
//! tried: a sender who changes them gets keys that did not sign the body, and the delivery fails
//! verification like any other forgery. They are checked to look like Appwrite ids before the
//! resolver sees them, the cache holds a bounded number of tenants, and one delivery tries at
//! most [`MAX_KEYS_PER_DELIVERY`] keys.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use crate::crypto::key::SigningKey;
use crate::error::StoreError;
use crate::verify::keys::KeySet;

/// The most keys one delivery tries, whatever a resolver returns: each key is one more HMAC
/// over the body. A rotation needs two; the rest are ignored, with a warning.
pub const MAX_KEYS_PER_DELIVERY: usize = 4;

/// How long resolved keys are reused by default.
pub const DEFAULT_KEY_CACHE_TTL: Duration = Duration::from_secs(60);

/// How long "no keys for this tenant" is remembered: short, so a tenant added a moment ago is
/// served soon, but long enough that a flood of unknown ids does not reach the resolver each time.
const NEGATIVE_TTL: Duration = Duration::from_secs(5);

/// How many tenants the cache holds.
const CACHE_CAPACITY: usize = 4096;

/// How long a resolver may take before the delivery is answered `503`.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

/// Who a delivery claims to be for: the webhook and project ids from its (unsigned) headers.
/// An empty string where the scheme sends no such header.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Tenant {
    /// `X-Appwrite-Webhook-Id` (`X-Webhook-Id` for the generic scheme).
    pub webhook_id: String,
    /// `X-Appwrite-Webhook-Project-Id`.
    pub project_id: String,
}

/// What a resolver returns: the keys to try, in order (an empty list: unknown tenant, `401`),
/// or the store's failure (`503`).
pub type KeysFuture = Pin<Box<dyn Future<Output = Result<Vec<SigningKey>, StoreError>> + Send>>;

/// Chooses the signing keys for a delivery from its [`Tenant`]: one receiver for many Appwrite
/// projects and webhooks. Any `Fn(Tenant) -> impl Future<Output = Result<Vec<SigningKey>,
/// StoreError>>` is one; see [`Verifier::per_tenant`](crate::Verifier::per_tenant).
pub trait KeyResolver: Send + Sync + 'static {
    /// The keys for `tenant`; labels and not-after times on them are honoured.
    fn resolve(&self, tenant: Tenant) -> KeysFuture;
}

impl<F, Fut> KeyResolver for F
where
    F: Fn(Tenant) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Vec<SigningKey>, StoreError>> + Send + 'static,
{
    fn resolve(&self, tenant: Tenant) -> KeysFuture {
        Box::pin(self(tenant))
    }
}

/// A resolver with its cache of prepared key sets.
pub(crate) struct Resolving {
    resolver: Arc<dyn KeyResolver>,
    pub(crate) ttl: Duration,
    cache: Mutex<HashMap<Tenant, Cached>>,
}

struct Cached {
    set: Arc<KeySet>,
    until: SystemTime,
}

/// What resolving gave: the prepared set (possibly empty), or why there is none.
pub(crate) enum Resolved {
    Keys(Arc<KeySet>),
    Failed(StoreError),
}

impl Resolving {
    pub(crate) fn new(resolver: impl KeyResolver) -> Self {
        Self {
            resolver: Arc::new(resolver),
            ttl: DEFAULT_KEY_CACHE_TTL,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The same resolver and settings with an empty cache.
    pub(crate) fn with_fresh_cache(&self) -> Self {
        Self {
            resolver: Arc::clone(&self.resolver),
            ttl: self.ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The cached set for `tenant` if still fresh at `now`.
    pub(crate) fn cached(&self, tenant: &Tenant, now: SystemTime) -> Option<Arc<KeySet>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .get(tenant)
            .filter(|c| now < c.until)
            .map(|c| Arc::clone(&c.set))
    }

    /// Asks the resolver (bounded in time), prepares the keys with `prepare`, and caches them.
    pub(crate) async fn resolve(
        &self,
        tenant: Tenant,
        now: SystemTime,
        prepare: impl FnOnce(Vec<SigningKey>) -> KeySet,
    ) -> Resolved {
        let answer = tokio::time::timeout(RESOLVE_TIMEOUT, self.resolver.resolve(tenant.clone()));
        let mut keys = match answer.await {
            Ok(Ok(keys)) => keys,
            Ok(Err(error)) => return Resolved::Failed(error),
            Err(_) => return Resolved::Failed(StoreError("the key resolver timed out".into())),
        };
        keys.retain(|k| !k.expose_bytes().is_empty());
        if keys.len() > MAX_KEYS_PER_DELIVERY {
            tracing::warn!(
                webhook_id = %tenant.webhook_id,
                project_id = %tenant.project_id,
                returned = keys.len(),
                tried = MAX_KEYS_PER_DELIVERY,
                "key resolver returned more keys than one delivery may try; the rest are ignored"
            );
            keys.truncate(MAX_KEYS_PER_DELIVERY);
        }
        let ttl = if keys.is_empty() {
            NEGATIVE_TTL.min(self.ttl)
        } else {
            self.ttl
        };
        let set = Arc::new(prepare(keys));
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() >= CACHE_CAPACITY {
            cache.retain(|_, c| now < c.until);
            if cache.len() >= CACHE_CAPACITY {
                // Every entry is fresh: an id flood. Forget one; the resolver is asked again.
                if let Some(victim) = cache.keys().next().cloned() {
                    cache.remove(&victim);
                }
            }
        }
        cache.insert(
            tenant,
            Cached {
                set: Arc::clone(&set),
                until: now.checked_add(ttl).unwrap_or(now),
            },
        );
        Resolved::Keys(set)
    }

    /// Forgets every cached set: the next delivery of each tenant asks the resolver.
    pub(crate) fn clear(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

impl fmt::Debug for Resolving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyResolver")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}
