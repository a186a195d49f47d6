//! The verifier's former option names, kept so code written against them still compiles: each
//! forwards to the option under the one naming rule (`with_<option>(value)`), refusals included.

use std::time::Duration;

use crate::replay::ReplayGuard;
use crate::verify::source::{KeySource, PerTenant};
use crate::verify::verifier::Verifier;

impl<K: KeySource> Verifier<K> {
    /// Former name of [`with_tolerance`](Self::with_tolerance), which it calls.
    ///
    /// # Panics
    /// On a verifier of another scheme than the timestamped one, like `with_tolerance` (it
    /// used to change nothing there, silently).
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// let verifier = appwrite_webhooks::Verifier::timestamped("k").tolerance(std::time::Duration::from_secs(60));
    /// ```
    #[deprecated(note = "use `with_tolerance`")]
    #[track_caller]
    pub fn tolerance(self, tolerance: Duration) -> Self {
        self.with_tolerance(tolerance)
    }

    /// Former name of [`with_replay_guard`](Self::with_replay_guard), which it calls.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// use appwrite_webhooks::{ReplayGuard, Verifier};
    /// let verifier = Verifier::new("k", "https://example.com/hook").replay_guard(ReplayGuard::in_memory());
    /// assert!(verifier.has_replay_guard());
    /// ```
    #[deprecated(note = "use `with_replay_guard`")]
    pub fn replay_guard(self, guard: ReplayGuard) -> Self {
        self.with_replay_guard(guard)
    }

    /// Former name of [`with_url`](Self::with_url), which it calls.
    ///
    /// # Panics
    /// On a verifier that signs no configured URL, like `with_url` (it used to be ignored
    /// there, silently).
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://a.example/hook").also_accept_url("https://b.example/hook");
    /// ```
    #[deprecated(note = "use `with_url`")]
    #[track_caller]
    pub fn also_accept_url(self, url: impl Into<String>) -> Self {
        self.with_url(url)
    }

    /// Former name of [`with_basic_auth`](Self::with_basic_auth), which it calls.
    ///
    /// # Panics
    /// On an empty user name or password, like `with_basic_auth`.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook").require_basic_auth("u", "p");
    /// assert!(verifier.requires_basic_auth());
    /// ```
    #[deprecated(note = "use `with_basic_auth`")]
    #[track_caller]
    pub fn require_basic_auth(self, user: &str, password: &str) -> Self {
        self.with_basic_auth(user, password)
    }

    /// Former name of [`with_basic_auth_realm`](Self::with_basic_auth_realm), which it calls.
    ///
    /// # Panics
    /// On a realm that cannot be a quoted string, like `with_basic_auth_realm`.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// let verifier = appwrite_webhooks::Verifier::new("k", "https://example.com/hook").basic_auth_realm("hooks");
    /// ```
    #[deprecated(note = "use `with_basic_auth_realm`")]
    #[track_caller]
    pub fn basic_auth_realm(self, realm: &str) -> Self {
        self.with_basic_auth_realm(realm)
    }
}

impl Verifier<PerTenant> {
    /// Former name of [`with_key_cache_ttl`](Self::with_key_cache_ttl), which it calls.
    ///
    /// ```
    /// # #![allow(deprecated)]
    /// # use appwrite_webhooks::{StoreError, Tenant, Verifier};
    /// let verifier = Verifier::per_tenant(|_: Tenant| async { Ok::<_, StoreError>(vec![]) }, "https://example.com/hook")
    ///     .key_cache_ttl(std::time::Duration::from_secs(10));
    /// ```
    #[deprecated(note = "use `with_key_cache_ttl`")]
    pub fn key_cache_ttl(self, ttl: Duration) -> Self {
        self.with_key_cache_ttl(ttl)
    }
}

#[cfg(test)]
#[allow(deprecated)]
mod tests {
    use std::time::Duration;

    use crate::replay::ReplayGuard;
    use crate::scheme::Scheme;
    use crate::sender::DeliveryBuilder;
    use crate::verify::verifier::Verifier;

    const URL: &str = "https://example.com/hook";

    #[test]
    fn the_former_names_forward() {
        let minute = Duration::from_secs(60);
        let verifier = Verifier::timestamped("k").tolerance(minute);
        assert_eq!(verifier.scheme().tolerance(), Some(minute));
        let verifier = Verifier::new("k", URL)
            .replay_guard(ReplayGuard::in_memory())
            .also_accept_url("https://b.example/hook")
            .require_basic_auth("u", "p")
            .basic_auth_realm("hooks");
        assert!(verifier.has_replay_guard() && verifier.requires_basic_auth());
        assert_eq!(verifier.scheme(), Scheme::Appwrite);
        let sent = DeliveryBuilder::new("k", "https://b.example/hook", "{}").build();
        let error = verifier.verify(sent.headers(), sent.body()).unwrap_err();
        assert_eq!(
            error.www_authenticate().unwrap(),
            "Basic realm=\"hooks\", charset=\"UTF-8\""
        );
    }

    #[test]
    #[should_panic(expected = "only the timestamped and alert schemes sign a timestamp")]
    fn the_former_tolerance_refuses_where_it_used_to_do_nothing() {
        drop(Verifier::new("k", URL).tolerance(Duration::from_secs(60)));
    }

    #[test]
    #[should_panic(expected = "it signs no URL")]
    fn the_former_also_accept_url_refuses_where_it_used_to_do_nothing() {
        drop(Verifier::timestamped("k").also_accept_url(URL));
    }
}
