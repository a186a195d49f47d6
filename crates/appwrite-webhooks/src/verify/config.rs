//! A verifier's configuration, the states derived from it when keys or URLs change, and the
//! preparation of one request: what can be checked before its body, and the HMAC states the body
//! goes into.

use std::sync::Arc;

use http::{HeaderMap, Uri};

use crate::clock::{Clock, unix_seconds};
use crate::crypto::key::SigningKey;
use crate::error::Error;
use crate::headers::{Scanned, claimed_id};
use crate::observe::health::Health;
use crate::replay::ReplayGuard;
use crate::scheme::Scheme;
use crate::verify::basic::BasicAuth;
use crate::verify::keys::{KeyRing, KeySet};
use crate::verify::resolver::{Resolved, Resolving, Tenant};
use crate::verify::streaming::{Verification, check_len, declared_len};
use crate::verify::url::{ProxyHeaders, reconstruct};

/// Everything a [`Verifier`](crate::Verifier) is built from, with the states derived from it.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) scheme: Scheme,
    pub(crate) urls: Urls,
    /// The keys tried for every delivery, replaceable at run time; empty under a resolver.
    pub(crate) keys: Arc<KeyRing>,
    /// Chooses keys per delivery instead, when set.
    pub(crate) resolver: Option<Arc<Resolving>>,
    pub(crate) body_limit: usize,
    /// How long a body may take to arrive, if bounded.
    pub(crate) body_timeout: Option<std::time::Duration>,
    pub(crate) replay_guard: Option<ReplayGuard>,
    pub(crate) basic_auth: Option<BasicAuth>,
    pub(crate) clock: Arc<dyn Clock>,
    /// Whether an alert without a signature header is accepted ([`Scheme::Alert`] only).
    pub(crate) unsigned_alerts: bool,
    /// Consecutive failed answers per webhook, shared by clones.
    pub(crate) health: Arc<Health>,
}

/// Where the signed URL comes from (only Appwrite's scheme signs one).
#[derive(Clone, Debug)]
pub(crate) enum Urls {
    Configured(Vec<String>),
    FromRequest(ProxyHeaders),
}

impl Config {
    /// The configured URLs (none when they are rebuilt per request).
    fn configured_urls(&self) -> &[String] {
        match &self.urls {
            Urls::Configured(urls) => urls,
            Urls::FromRequest(_) => &[],
        }
    }

    /// Derives the states for `keys` under this configuration's scheme and URLs.
    pub(crate) fn key_set(&self, keys: Vec<SigningKey>) -> KeySet {
        KeySet::new(self.scheme, self.configured_urls(), keys)
    }

    /// Rebuilds the fixed key set after the keys, URLs or scheme changed, in a new ring: clones
    /// made before keep theirs.
    pub(crate) fn rebuild(&mut self, keys: Vec<SigningKey>) {
        self.keys = Arc::new(KeyRing::new(self.key_set(keys)));
    }

    /// Checks HTTP Basic credentials when they are required: first, before anything else.
    pub(crate) fn authorize(&self, headers: &HeaderMap) -> Result<(), Error> {
        match &self.basic_auth {
            Some(auth) => auth.check(headers),
            None => Ok(()),
        }
    }

    /// The keys to try for this request: the fixed set, or the resolver's for its tenant.
    pub(crate) async fn keys_for(&self, headers: &HeaderMap) -> Result<Arc<KeySet>, Error> {
        let Some(resolving) = &self.resolver else {
            return Ok(self.keys.current());
        };
        let (webhook, project) = self.scheme.tenant_headers();
        let claimed = |name| claimed_id(headers.get(name));
        let (Some(webhook_id), Some(project_id)) =
            (claimed(webhook), project.map_or(Some(""), claimed))
        else {
            return Err(Error::UnknownTenant);
        };
        let tenant = Tenant {
            webhook_id: webhook_id.to_owned(),
            project_id: project_id.to_owned(),
        };
        let now = self.clock.now();
        let set = match resolving.cached(&tenant, now) {
            Some(set) => set,
            None => match resolving
                .resolve(tenant, now, |keys| self.key_set(keys))
                .await
            {
                Resolved::Keys(set) => set,
                Resolved::Failed(error) => return Err(Error::KeyResolver(error)),
            },
        };
        if set.is_empty() {
            return Err(Error::UnknownTenant);
        }
        Ok(set)
    }

    /// The keys for a synchronous entry point, which only a verifier with fixed keys has (a
    /// `Verifier<PerTenant>` has none: the type rules the pairing out).
    pub(crate) fn fixed_keys(&self) -> Arc<KeySet> {
        debug_assert!(
            self.resolver.is_none(),
            "a synchronous entry point under a resolver"
        );
        self.keys.current()
    }

    /// Checks what can be checked before the body: the signature header is present and well
    /// formed, the scheme's per-request input (timestamp, rebuilt URL) is usable, and a
    /// declared `Content-Length` is within the limit. Returns the states the body goes into.
    /// `at` (unix seconds) is the time a timestamp is checked against: the clock's now when
    /// `None`, when the delivery arrived for one kept in an inbox.
    pub(crate) fn start(
        &self,
        uri: Option<&Uri>,
        headers: &HeaderMap,
        keys: Arc<KeySet>,
        at: Option<u64>,
    ) -> Result<Verification, Error> {
        let config = self;
        let headers = &Scanned::new(headers);
        let signature = match config.scheme.signature_from(headers) {
            // Only a verifier told to accept unsigned alerts gets here without a signature.
            Err(Error::MissingSignature) if config.unsigned_alerts => {
                crate::crypto::signature::Signature::unsigned()
            }
            signature => signature?,
        };
        let rebuilt = match (&config.urls, uri) {
            (Urls::FromRequest(proxy), Some(uri)) => reconstruct(uri, headers.map(), *proxy)?,
            (Urls::FromRequest(_), None) => {
                return Err(Error::UrlUnavailable(
                    "no request URI given; use serve, extract or receive",
                ));
            }
            (Urls::Configured(_), _) => Vec::new(),
        };
        // The clock is read only where something depends on it.
        let now =
            (config.scheme.tolerance().is_some() || keys.expiring()).then(|| config.clock.now());
        let at = at.or(now.map(unix_seconds));
        let (prefixes, timestamp) = config.scheme.request_prefixes(headers, &rebuilt, at)?;
        let declared = declared_len(headers);
        if let Some(len) = declared {
            check_len(len, config.body_limit)?;
        }
        let valid_at = now.filter(|_| keys.expiring());
        let candidates = keys.candidates(&prefixes, valid_at);
        Ok(Verification::new(
            config.scheme,
            candidates,
            signature,
            config.scheme.parse_headers(headers, timestamp),
            config.body_limit,
            declared,
            keys,
        ))
    }
}

#[cfg(test)]
mod tests {
    use http::Uri;

    use crate::error::{Error, MalformedSignature};
    use crate::headers::{WEBHOOK_EVENTS, WEBHOOK_SIGNATURE};
    use crate::sender::DeliveryBuilder;
    use crate::verify::url::ProxyHeaders;
    use crate::verify::verifier::Verifier;

    const URL: &str = "https://example.com/hook";

    #[test]
    fn signature_is_checked_before_other_headers() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let mut headers = sent.headers().clone();
        headers.remove(WEBHOOK_EVENTS);
        let verifier = Verifier::new("other", URL);
        assert!(matches!(
            verifier.verify(&headers, sent.body()),
            Err(Error::SignatureMismatch)
        ));
        let verifier = Verifier::new("k", URL);
        assert!(matches!(
            verifier.verify(&headers, sent.body()),
            Err(Error::MissingHeader("X-Appwrite-Webhook-Events"))
        ));
    }

    #[test]
    fn repeated_signature_header_is_rejected() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let mut headers = sent.headers().clone();
        let value = headers[WEBHOOK_SIGNATURE].clone();
        headers.append(WEBHOOK_SIGNATURE, value);
        assert!(matches!(
            Verifier::new("k", URL).verify(&headers, sent.body()),
            Err(Error::MalformedSignature(MalformedSignature::Repeated))
        ));
    }

    #[test]
    fn body_limit_applies_to_whole_bodies_and_declared_lengths() {
        let sent = DeliveryBuilder::new("k", URL, vec![b' '; 100]).build();
        let verifier = Verifier::new("k", URL).with_body_limit(99);
        assert!(matches!(
            verifier.verify(sent.headers(), sent.body()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        assert!(matches!(
            verifier.inner.start(
                Some(&Uri::default()),
                sent.headers(),
                verifier.inner.keys.current(),
                None
            ),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        let mut undeclared = sent.headers().clone();
        undeclared.remove(http::header::CONTENT_LENGTH);
        assert!(matches!(
            verifier.verify(&undeclared, sent.body()),
            Err(Error::BodyTooLarge { limit: 99 })
        ));
        assert!(
            Verifier::new("k", URL)
                .with_body_limit(100)
                .verify(sent.headers(), sent.body())
                .is_ok()
        );
    }

    #[test]
    fn extra_urls_are_accepted() {
        let sent = DeliveryBuilder::new("k", "https://b.example/hook", "{}").build();
        let verifier = Verifier::new("k", URL);
        assert!(verifier.verify(sent.headers(), sent.body()).is_err());
        let verifier = verifier.with_url("https://b.example/hook");
        assert!(verifier.verify(sent.headers(), sent.body()).is_ok());
    }

    #[test]
    fn request_url_needs_a_uri() {
        let sent = DeliveryBuilder::new("k", URL, "{}").build();
        let verifier = Verifier::for_request_url("k", ProxyHeaders::Ignore);
        assert!(matches!(
            verifier.verify(sent.headers(), sent.body()),
            Err(Error::UrlUnavailable(_))
        ));
    }
}
