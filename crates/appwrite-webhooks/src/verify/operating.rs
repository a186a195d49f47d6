//! The verifier's options for running it in production: keys per tenant, keys replaced while
//! it runs, the HTTP Basic credentials Appwrite sends, and the clock it reads.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::crypto::key::SigningKey;
use crate::error::EmptyKey;
use crate::scheme::Scheme;
use crate::verify::basic::{BasicAuth, valid_realm};
use crate::verify::config::Urls;
use crate::verify::resolver::{KeyResolver, Resolving};
use crate::verify::source::{KeySource, PerTenant};
use crate::verify::verifier::Verifier;

/// A verifier with fixed keys becomes one for many tenants.
impl Verifier {
    /// A verifier for Appwrite's scheme that asks `resolver` for the keys of each delivery's
    /// webhook and project ([`Tenant`](crate::Tenant)): one receiver for many Appwrite projects
    /// and webhooks, posting to `url` (add more with [`with_url`](Verifier::with_url)).
    ///
    /// Answers are cached per tenant for [`with_key_cache_ttl`](Verifier::with_key_cache_ttl) (60 s; "no
    /// keys" for 5 s), a resolver that fails or takes over 5 s gives `503` (Appwrite retries),
    /// an unknown tenant `401`, and one delivery tries at most
    /// [`MAX_KEYS_PER_DELIVERY`](crate::MAX_KEYS_PER_DELIVERY) keys.
    ///
    /// The webhook and project ids are unsigned headers. That is safe: they only choose which
    /// keys to try, and keys chosen for the wrong tenant did not sign the body, so a sender who
    /// changes them fails verification. Only ids shaped like Appwrite's reach the resolver.
    ///
    /// Resolving is asynchronous, so the verifier is a [`Verifier<PerTenant>`](PerTenant): it
    /// has the asynchronous entry points ([`serve`](Verifier::serve),
    /// [`extract`](Verifier::extract), [`receive`](Verifier::receive),
    /// [`verify_stored`](Verifier::verify_stored)), which every adapter takes, and no
    /// synchronous one: calling [`verify`](Verifier::verify) on it does not compile.
    ///
    /// ```
    /// use appwrite_webhooks::{Delivery, SigningKey, StoreError, Tenant, Verifier, sender::DeliveryBuilder};
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let url = "https://hooks.example.com/appwrite";
    /// let verifier = Verifier::per_tenant(
    ///     |tenant: Tenant| async move {
    ///         // Look the keys up in your database:
    ///         Ok::<_, StoreError>(match tenant.project_id.as_str() {
    ///             "shop" => vec![SigningKey::from("whsec_shop")],
    ///             "blog" => vec![SigningKey::from("whsec_blog")],
    ///             _ => vec![],
    ///         })
    ///     },
    ///     url,
    /// );
    /// let sent = DeliveryBuilder::new("whsec_blog", url, "{}").project_id("blog").build();
    /// let (parts, body) = sent.into_request().into_parts();
    /// let delivery: Delivery = verifier.extract(&parts.uri, &parts.headers, Full::new(body)).await.unwrap();
    /// assert_eq!(delivery.project_id(), "blog");
    /// # }
    /// ```
    pub fn per_tenant(resolver: impl KeyResolver, url: impl Into<String>) -> Verifier<PerTenant> {
        let mut verifier =
            Verifier::<PerTenant>::empty(Scheme::Appwrite, Urls::Configured(vec![url.into()]));
        Arc::make_mut(&mut verifier.inner).resolver = Some(Arc::new(Resolving::new(resolver)));
        verifier
    }
}

/// Options of a verifier that resolves keys per tenant, and only of it.
impl Verifier<PerTenant> {
    /// How long the verifier reuses a resolver's answer (default 60 s). Shorter picks up new
    /// keys sooner; every expiry costs one resolver call per tenant.
    ///
    /// ```
    /// # use appwrite_webhooks::{StoreError, Tenant, Verifier};
    /// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook")
    ///     .with_key_cache_ttl(std::time::Duration::from_secs(10));
    /// ```
    pub fn with_key_cache_ttl(mut self, ttl: Duration) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        if let Some(resolving) = &config.resolver {
            let mut fresh = resolving.with_fresh_cache();
            fresh.ttl = ttl;
            config.resolver = Some(Arc::new(fresh));
        }
        self
    }

    /// Forgets every key set the verifier cached: the next delivery of each tenant asks the
    /// resolver again. Call it after changing a tenant's keys in your store.
    ///
    /// ```
    /// # use appwrite_webhooks::{StoreError, Tenant, Verifier};
    /// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook");
    /// verifier.forget_cached_keys();
    /// ```
    pub fn forget_cached_keys(&self) {
        if let Some(resolving) = &self.inner.resolver {
            resolving.clear();
        }
    }
}

/// Changing keys while the server runs.
impl Verifier {
    /// Replaces the keys this verifier — and every clone of it — tries, without a restart:
    /// requests that already started keep the keys they started with, the next ones use
    /// `keys`. For a rotation, pass the new key and the old one (with a
    /// [`not_after`](SigningKey::not_after) to end the window by itself), then the new key
    /// alone. Refuses an empty list or an empty key, leaving the keys as they were. A
    /// [`per_tenant`](Self::per_tenant) verifier has no fixed keys, and no such method: use
    /// [`forget_cached_keys`](Verifier::forget_cached_keys).
    ///
    /// ```
    /// use appwrite_webhooks::{Verifier, sender::DeliveryBuilder};
    ///
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("old", url);
    /// let serving = verifier.clone(); // e.g. held by the server's router
    /// let sent = DeliveryBuilder::new("new", url, "{}").build();
    /// assert!(serving.verify(sent.headers(), sent.body()).is_err());
    ///
    /// verifier.replace_keys(["new", "old"])?;
    /// assert_eq!(serving.verify(sent.headers(), sent.body())?.key_index(), 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace_keys<K: Into<SigningKey>>(
        &self,
        keys: impl IntoIterator<Item = K>,
    ) -> Result<(), EmptyKey> {
        let keys: Vec<SigningKey> = keys.into_iter().map(Into::into).collect();
        if keys.is_empty() || keys.iter().any(|k| k.expose_bytes().is_empty()) {
            return Err(EmptyKey);
        }
        self.inner.keys.replace(self.inner.key_set(keys));
        Ok(())
    }
}

/// HTTP Basic credentials, as Appwrite sends them.
impl<K: KeySource> Verifier<K> {
    /// Requires HTTP Basic credentials on every delivery and accepts `user` with `password`,
    /// as Appwrite sends them when the webhook has a username and a password (`Authorization: Basic …`, only when both are
    /// set). Call it again to accept more pairs, for a rotation: change them in Appwrite, then
    /// drop the old pair. Credentials are compared in constant time, checked before the body is
    /// read, and never logged; a missing, malformed or wrong header is `401` with
    /// `WWW-Authenticate: Basic realm="…"` ([`Error::BasicAuth`](crate::Error::BasicAuth)).
    ///
    /// It is an extra layer, not a replacement for the signature: the password travels with
    /// every request, so it proves less than the HMAC does. Deliveries kept in an
    /// [`inbox`](crate::inbox) are checked when they arrive, not again by the workers.
    ///
    /// # Panics
    /// On an empty user name or password: Appwrite would send no credentials at all.
    ///
    /// ```
    /// use appwrite_webhooks::Verifier;
    /// let verifier = Verifier::new("k", "https://example.com/hook")
    ///     .with_basic_auth("appwrite", "new-password")
    ///     .with_basic_auth("appwrite", "old-password");
    /// ```
    #[track_caller]
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> Self {
        assert!(
            !user.is_empty() && !password.is_empty(),
            "empty HTTP Basic user name or password: Appwrite sends credentials only when both are set"
        );
        Arc::make_mut(&mut self.inner)
            .basic_auth
            .get_or_insert_with(BasicAuth::new)
            .accept(user, password);
        self
    }

    /// The realm the `WWW-Authenticate` challenge names (default `appwrite-webhooks`).
    ///
    /// # Panics
    /// On a realm that cannot be a quoted string: empty, over 128 bytes, or with `"`, `\` or
    /// control characters.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_basic_auth("appwrite", "s3cret")
    ///     .with_basic_auth_realm("Appwrite webhooks");
    /// ```
    #[track_caller]
    pub fn with_basic_auth_realm(mut self, realm: &str) -> Self {
        assert!(valid_realm(realm), "invalid HTTP Basic realm {realm:?}");
        Arc::make_mut(&mut self.inner)
            .basic_auth
            .get_or_insert_with(BasicAuth::new)
            .realm = realm.into();
        self
    }

    /// Whether HTTP Basic credentials are required.
    pub fn requires_basic_auth(&self) -> bool {
        self.inner.basic_auth.is_some()
    }
}

/// The time.
impl<K: KeySource> Verifier<K> {
    /// Reads the time from `clock` instead of the system's: for the timestamped scheme's
    /// tolerance, the replay guard's [`max_age`](crate::ReplayGuard::with_max_age), keys'
    /// [`not_after`](SigningKey::not_after) and the key cache. For deterministic tests, and for
    /// tools that check deliveries as of another time.
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use appwrite_webhooks::{ManualClock, Scheme, Verifier, sender::DeliveryBuilder};
    ///
    /// let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(1_700_000_000));
    /// let verifier = Verifier::timestamped("k").with_clock(clock.clone());
    /// let body = r#"{"$id":"e1","event":"users.u1.create","timestamp":"2023-11-14T22:13:20.000Z","payload":{}}"#;
    /// let sent = DeliveryBuilder::new("k", "https://example.com/hook", body)
    ///     .scheme(Scheme::timestamped())
    ///     .timestamp(1_700_000_000)
    ///     .build();
    /// assert!(verifier.verify(sent.headers(), sent.body()).is_ok());
    /// clock.advance(Duration::from_secs(301)); // past the five-minute tolerance
    /// assert!(verifier.verify(sent.headers(), sent.body()).is_err());
    /// ```
    pub fn with_clock(mut self, clock: impl Clock) -> Self {
        Arc::make_mut(&mut self.inner).clock = Arc::new(clock);
        self
    }
}
