//! HTTP Basic credentials, as Appwrite sends them when a webhook has a username and a password:
//! checked in constant time, before the body is read.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use http::{HeaderMap, header};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::error::{BasicAuthFailure, Error};

/// The realm a `401` names when none is set.
pub(crate) const DEFAULT_REALM: &str = "appwrite-webhooks";

/// The longest `Authorization` value decoded: Appwrite's credentials are two short strings.
const MAX_AUTHORIZATION: usize = 4096;

/// The accepted credential pairs, kept as SHA-256 digests of `user:password`: the comparison
/// runs over equal-length digests, in constant time, whatever the lengths of what was sent.
#[derive(Clone)]
pub(crate) struct BasicAuth {
    digests: Vec<[u8; 32]>,
    pub(crate) realm: Arc<str>,
}

impl BasicAuth {
    pub(crate) fn new() -> Self {
        Self {
            digests: Vec::new(),
            realm: DEFAULT_REALM.into(),
        }
    }

    pub(crate) fn accept(&mut self, user: &str, password: &str) {
        self.digests
            .push(digest(format!("{user}:{password}").as_bytes()));
    }

    /// Checks the request's `Authorization` header against every pair: no early exit, so the
    /// time taken says nothing about which pair came closest.
    pub(crate) fn check(&self, headers: &HeaderMap) -> Result<(), Error> {
        let failure = |failure| Error::BasicAuth {
            failure,
            realm: Arc::clone(&self.realm),
        };
        let credentials = credentials(headers).map_err(failure)?;
        let sent = digest(&credentials);
        let matched = self
            .digests
            .iter()
            .fold(subtle::Choice::from(0), |any, d| any | d.ct_eq(&sent));
        if bool::from(matched) {
            Ok(())
        } else {
            Err(failure(BasicAuthFailure::Wrong))
        }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicAuth")
            .field("pairs", &self.digests.len())
            .field("realm", &self.realm)
            .finish()
    }
}

fn digest(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The decoded `user:password` of the one `Authorization: Basic …` header.
fn credentials(headers: &HeaderMap) -> Result<Vec<u8>, BasicAuthFailure> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let value = values.next().ok_or(BasicAuthFailure::Missing)?;
    if values.next().is_some() || value.len() > MAX_AUTHORIZATION {
        return Err(BasicAuthFailure::Malformed);
    }
    let value = value.as_bytes();
    // RFC 7617: the scheme name is case-insensitive, then one or more spaces.
    let (scheme, rest) = value.split_at(value.len().min(6));
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return Err(BasicAuthFailure::Malformed);
    }
    let encoded = rest.trim_ascii();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| BasicAuthFailure::Malformed)?;
    if !decoded.contains(&b':') {
        return Err(BasicAuthFailure::Malformed);
    }
    Ok(decoded)
}

/// A realm that fits in a quoted string: visible ASCII and spaces, no `"` or `\`.
pub(crate) fn valid_realm(realm: &str) -> bool {
    !realm.is_empty()
        && realm.len() <= 128
        && realm
            .bytes()
            .all(|b| (b == b' ' || b.is_ascii_graphic()) && b != b'"' && b != b'\\')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(authorization: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in authorization {
            headers.append(header::AUTHORIZATION, value.parse().unwrap());
        }
        headers
    }

    fn basic(credentials: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    fn failure(auth: &BasicAuth, values: &[&str]) -> Option<BasicAuthFailure> {
        match auth.check(&headers(values)) {
            Ok(()) => None,
            Err(Error::BasicAuth { failure, .. }) => Some(failure),
            Err(other) => panic!("{other}"),
        }
    }

    #[test]
    fn every_accepted_pair_passes_and_nothing_else_does() {
        let mut auth = BasicAuth::new();
        auth.accept("appwrite", "old-pass");
        auth.accept("appwrite", "new-pass");
        assert_eq!(failure(&auth, &[&basic("appwrite:old-pass")]), None);
        assert_eq!(failure(&auth, &[&basic("appwrite:new-pass")]), None);
        assert_eq!(
            failure(
                &auth,
                &[&basic("appwrite:new-pass").replace("Basic", "bAsIc")]
            ),
            None
        );
        use BasicAuthFailure::*;
        assert_eq!(failure(&auth, &[&basic("appwrite:wrong")]), Some(Wrong));
        assert_eq!(failure(&auth, &[&basic("appwrite:new-pas")]), Some(Wrong));
        assert_eq!(failure(&auth, &[&basic("appwrite:")]), Some(Wrong));
        assert_eq!(failure(&auth, &[]), Some(Missing));
        assert_eq!(failure(&auth, &["Basic !!!not-base64"]), Some(Malformed));
        assert_eq!(failure(&auth, &["Bearer abc"]), Some(Malformed));
        assert_eq!(failure(&auth, &["Basic"]), Some(Malformed));
        assert_eq!(failure(&auth, &[&basic("no-colon")]), Some(Malformed));
        let twice = basic("appwrite:new-pass");
        assert_eq!(failure(&auth, &[&twice, &twice]), Some(Malformed));
        let huge = format!("Basic {}", "A".repeat(MAX_AUTHORIZATION));
        assert_eq!(failure(&auth, &[&huge]), Some(Malformed));
    }

    #[test]
    fn debug_and_errors_never_show_credentials() {
        let mut auth = BasicAuth::new();
        auth.accept("appwrite", "hunter2-secret");
        let error = auth
            .check(&headers(&[&basic("appwrite:hunter2-wrong")]))
            .unwrap_err();
        let shown = format!("{auth:?} {error} {error:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
    }

    #[test]
    fn challenges_name_the_realm() {
        let mut auth = BasicAuth::new();
        auth.accept("u", "p");
        auth.realm = "hooks".into();
        let error = auth.check(&HeaderMap::new()).unwrap_err();
        assert_eq!(
            error.www_authenticate().unwrap(),
            "Basic realm=\"hooks\", charset=\"UTF-8\""
        );
        assert!(valid_realm("Appwrite webhooks"));
        assert!(!valid_realm("a\"b") && !valid_realm("") && !valid_realm("a\nb"));
    }
}
