//! A verifier's configuration, the states derived from it when keys or URLs change, and the
//! preparation of one request: what can be checked before its body, and the HMAC states the body
//! goes into.

use http::{HeaderMap, Uri};

use crate::crypto::key::SigningKey;
use crate::crypto::mac::{Candidates, KeyedMac};
use crate::error::Error;
use crate::replay::ReplayGuard;
use crate::scheme::Scheme;
use crate::verify::streaming::{Verification, check_len, declared_len};
use crate::verify::url::{ProxyHeaders, reconstruct};

/// Everything a [`Verifier`](crate::Verifier) is built from, with the states derived from it.
#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) scheme: Scheme,
    pub(crate) keys: Vec<SigningKey>,
    /// One HMAC state per key, with the key absorbed: no per-request key setup.
    pub(crate) keyed: Vec<KeyedMac>,
    pub(crate) urls: Urls,
    /// The states every request starts from, with all the scheme signs before the body
    /// absorbed where that is the same for every request (Appwrite's configured URLs).
    pub(crate) prepared: Vec<(usize, KeyedMac)>,
    pub(crate) body_limit: usize,
    /// How long a body may take to arrive, if bounded.
    pub(crate) body_timeout: Option<std::time::Duration>,
    pub(crate) replay_guard: Option<ReplayGuard>,
}

/// Where the signed URL comes from (only Appwrite's scheme signs one).
#[derive(Clone, Debug)]
pub(crate) enum Urls {
    Configured(Vec<String>),
    FromRequest(ProxyHeaders),
}

impl Config {
    /// Checks what can be checked before the body: the signature header is present and well
    /// formed, the scheme's per-request input (timestamp, rebuilt URL) is usable, and a
    /// declared `Content-Length` is within the limit. Returns the states the body goes into.
    /// `at` (unix seconds) is the time a timestamp is checked against: now when `None`, when
    /// the delivery arrived for one kept in an inbox.
    pub(crate) fn start(
        &self,
        uri: Option<&Uri>,
        headers: &HeaderMap,
        at: Option<u64>,
    ) -> Result<Verification, Error> {
        let config = self;
        let signature = config.scheme.signature_from(headers)?;
        let rebuilt = match (&config.urls, uri) {
            (Urls::FromRequest(proxy), Some(uri)) => reconstruct(uri, headers, *proxy)?,
            (Urls::FromRequest(_), None) => {
                return Err(Error::UrlUnavailable(
                    "no request URI given; use verify_body",
                ));
            }
            (Urls::Configured(_), _) => Vec::new(),
        };
        let (prefixes, timestamp) = config.scheme.request_prefixes(headers, &rebuilt, at)?;
        let declared = declared_len(headers);
        if let Some(len) = declared {
            check_len(len, config.body_limit)?;
        }
        let mut candidates =
            Candidates::with_capacity(config.prepared.len() + prefixes.len() * config.keys.len());
        for (key_index, mac) in &config.prepared {
            candidates.push(*key_index, mac.clone());
        }
        for prefix in &prefixes {
            for (key_index, keyed) in config.keyed.iter().enumerate() {
                candidates.push(key_index, keyed.absorbing(prefix));
            }
        }
        Ok(Verification::new(
            config.scheme,
            candidates,
            signature,
            config.scheme.parse_headers(headers, timestamp),
            config.body_limit,
            declared,
            if config.scheme.keyed_fingerprint() {
                config.keyed.clone()
            } else {
                Vec::new()
            },
        ))
    }

    /// Recomputes the keyed states and the prepared states after keys or URLs change.
    pub(crate) fn rebuild(&mut self) {
        let hash = self.scheme.hash();
        self.keyed = self.keys.iter().map(|k| KeyedMac::new(hash, k)).collect();
        let configured = match &self.urls {
            Urls::Configured(urls) => urls.as_slice(),
            Urls::FromRequest(_) => &[],
        };
        let prefixes = self.scheme.fixed_prefixes(configured);
        self.prepared = prefixes
            .iter()
            .flat_map(|prefix| {
                self.keyed
                    .iter()
                    .enumerate()
                    .map(move |(key_index, keyed)| (key_index, keyed.absorbing(prefix)))
            })
            .collect();
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
            verifier
                .inner
                .start(Some(&Uri::default()), sent.headers(), None),
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
        let verifier = verifier.also_accept_url("https://b.example/hook");
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
