//! The verifier's options: those every verifier has (limits, the replay guard) and those of
//! one scheme (the timestamped and alert schemes' tolerance, unsigned alerts, Appwrite's
//! configured URLs), which refuse a verifier of another scheme where it is built.

use std::sync::Arc;
use std::time::Duration;

use crate::replay::ReplayGuard;
use crate::scheme::Scheme;
use crate::verify::config::Urls;
use crate::verify::source::KeySource;
use crate::verify::verifier::Verifier;

/// Options every verifier has, and the two that belong to one scheme.
impl<K: KeySource> Verifier<K> {
    /// Sets how far a [`Scheme::Timestamped`] or [`Scheme::Alert`] delivery's timestamp may be from this server's
    /// clock, either way (default [`Scheme::DEFAULT_TOLERANCE`], five minutes).
    ///
    /// # Panics
    /// On a verifier of another scheme: Appwrite's event scheme and the generic one sign no timestamp,
    /// so a tolerance there would change nothing. The panic happens where the verifier is
    /// built, at start-up.
    ///
    /// ```
    /// use std::time::Duration;
    /// let verifier = appwrite_webhooks::Verifier::timestamped("k").with_tolerance(Duration::from_secs(60));
    /// assert_eq!(verifier.scheme().tolerance(), Some(Duration::from_secs(60)));
    /// ```
    ///
    /// ```should_panic
    /// // Appwrite's scheme has no timestamp: refused when the verifier is built.
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_tolerance(std::time::Duration::from_secs(60));
    /// ```
    #[track_caller]
    pub fn with_tolerance(mut self, tolerance: Duration) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        config.scheme = config.scheme.with_tolerance(tolerance);
        config.rebuild(config.keys.current().keys.clone());
        self
    }

    /// Whether a [`Scheme::Alert`] verifier accepts alerts that carry **no signature header**,
    /// as Appwrite sends them for a channel with no secret (default `false`: they are refused
    /// with `401`, [`Error::MissingSignature`](crate::Error::MissingSignature)). Turned on,
    /// **anyone who can reach the URL can post alerts** — nothing proves they come from
    /// Appwrite — so act on them only in ways a forged alert cannot abuse. Signed alerts are
    /// still verified against the keys, and a wrong or malformed signature is still refused;
    /// [`Delivery::is_signed`](crate::Delivery::is_signed) tells the two apart.
    ///
    /// # Panics
    /// On a verifier of another scheme: only alerts are ever sent unsigned. The panic happens
    /// where the verifier is built, at start-up.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::alert("k").with_unsigned_alerts(true);
    /// assert!(verifier.unsigned_alerts());
    /// ```
    ///
    /// ```should_panic
    /// // Appwrite's event scheme always signs: refused when the verifier is built.
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_unsigned_alerts(true);
    /// ```
    #[track_caller]
    pub fn with_unsigned_alerts(mut self, accept: bool) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        if !matches!(config.scheme, Scheme::Alert { .. }) {
            panic!(
                "with_unsigned_alerts on a verifier of the {} scheme: only alerts are sent unsigned",
                config.scheme
            );
        }
        config.unsigned_alerts = accept;
        self
    }

    /// Whether alerts without a signature are accepted
    /// ([`with_unsigned_alerts`](Self::with_unsigned_alerts)).
    ///
    /// ```
    /// assert!(!appwrite_webhooks::Verifier::alert("k").unsigned_alerts());
    /// ```
    pub fn unsigned_alerts(&self) -> bool {
        self.inner.unsigned_alerts
    }

    /// Also accepts deliveries signed for `url`: for a receiver that several webhooks reach
    /// under different names (`https://a.example/hook`, `https://b.example/hook`). Each extra
    /// URL costs one more HMAC per key and request.
    ///
    /// # Panics
    /// On a verifier that signs no configured URL: the timestamped and generic schemes sign
    /// none, and [`for_request_url`](Verifier::for_request_url) rebuilds it from each request.
    /// The panic happens where the verifier is built, at start-up.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://a.example/hook")
    ///     .with_url("https://b.example/hook");
    /// ```
    ///
    /// ```should_panic
    /// // The generic scheme signs the body alone: refused when the verifier is built.
    /// let verifier = appwrite_webhooks::Verifier::generic("k").with_url("https://b.example/hook");
    /// ```
    #[track_caller]
    pub fn with_url(mut self, url: impl Into<String>) -> Self {
        let config = Arc::make_mut(&mut self.inner);
        match (&mut config.urls, config.scheme) {
            (Urls::Configured(urls), Scheme::Appwrite) => urls.push(url.into()),
            (Urls::FromRequest(_), _) => panic!(
                "with_url on a verifier that rebuilds the URL from each request: it has no \
                 configured URLs"
            ),
            (Urls::Configured(_), scheme) => {
                panic!("with_url on a verifier of the {scheme} scheme: it signs no URL")
            }
        }
        config.rebuild(config.keys.current().keys.clone());
        if let Some(resolving) = &config.resolver {
            // Cached sets were prepared for the old URLs: start afresh.
            config.resolver = Some(Arc::new(resolving.with_fresh_cache()));
        }
        self
    }

    /// Sets the largest body accepted, in bytes (default [`DEFAULT_BODY_LIMIT`](crate::DEFAULT_BODY_LIMIT), 5 MiB).
    /// Larger bodies fail with [`Error::BodyTooLarge`](crate::Error::BodyTooLarge) (413) — before reading when the request
    /// declares its `Content-Length`, and as soon as the limit is passed otherwise.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_body_limit(256 * 1024);
    /// assert_eq!(verifier.body_limit(), 256 * 1024);
    /// ```
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        Arc::make_mut(&mut self.inner).body_limit = bytes;
        self
    }

    /// The largest body accepted, in bytes.
    ///
    /// ```
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook");
    /// assert_eq!(verifier.body_limit(), appwrite_webhooks::DEFAULT_BODY_LIMIT);
    /// ```
    pub fn body_limit(&self) -> usize {
        self.inner.body_limit
    }

    /// Gives up on a request body that has not fully arrived `timeout` after reading began:
    /// [`Error::BodyTimeout`](crate::Error::BodyTimeout) (408), and the connection is closed rather than held by a sender
    /// that stopped sending. Off by default; Appwrite itself gives up after 15 s, so anything
    /// from a few seconds up to that suits. Applies to every entry point that reads a streaming
    /// body ([`serve`](Self::serve), [`extract`](Self::extract), [`receive`](Self::receive):
    /// every adapter), and needs a Tokio runtime with time enabled.
    ///
    /// This bounds the body only; bound slow headers on the server (hyper's
    /// `http1::Builder::header_read_timeout`, actix-web's `HttpServer::client_request_timeout`).
    ///
    /// ```
    /// use std::time::Duration;
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook")
    ///     .with_body_timeout(Duration::from_secs(10));
    /// assert_eq!(verifier.body_timeout(), Some(Duration::from_secs(10)));
    /// ```
    pub fn with_body_timeout(mut self, timeout: Duration) -> Self {
        Arc::make_mut(&mut self.inner).body_timeout = Some(timeout);
        self
    }

    /// The body timeout set by [`with_body_timeout`](Self::with_body_timeout), if any.
    pub fn body_timeout(&self) -> Option<Duration> {
        self.inner.body_timeout
    }

    /// The scheme this verifier checks.
    ///
    /// ```
    /// use appwrite_webhooks::{Scheme, Verifier};
    /// assert_eq!(Verifier::new("k", "https://example.com/hook").scheme(), Scheme::Appwrite);
    /// assert_eq!(Verifier::generic("k").scheme(), Scheme::Generic);
    /// ```
    pub fn scheme(&self) -> Scheme {
        self.inner.scheme
    }

    /// De-duplicates verified deliveries with `guard`: [`receive`](Self::receive) claims each
    /// one, and the adapters that see the handler's outcome (the tower layer, under axum too,
    /// and the actix-web middleware) settle the claim with it. See [`ReplayGuard`] for the
    /// guarantee.
    ///
    /// ```
    /// use appwrite_webhooks::{ReplayGuard, Verifier};
    /// let verifier = Verifier::new("k", "https://example.com/hook").with_replay_guard(ReplayGuard::in_memory());
    /// ```
    pub fn with_replay_guard(mut self, guard: ReplayGuard) -> Self {
        Arc::make_mut(&mut self.inner).replay_guard = Some(guard);
        self
    }

    /// Whether a [replay guard](Self::with_replay_guard) is set.
    ///
    /// ```
    /// use appwrite_webhooks::{ReplayGuard, Verifier};
    /// let verifier = Verifier::new("k", "https://example.com/hook");
    /// assert!(!verifier.has_replay_guard());
    /// assert!(verifier.with_replay_guard(ReplayGuard::in_memory()).has_replay_guard());
    /// ```
    pub fn has_replay_guard(&self) -> bool {
        self.inner.replay_guard.is_some()
    }
}
