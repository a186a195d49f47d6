//! What keeps the view safe whatever is stored or sent to it: security headers on every
//! answer, CSRF checks on every state-changing request, HTTP basic auth when credentials are
//! set, and the refusal to listen beyond loopback without them.

use std::fmt;
use std::net::SocketAddr;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// The CSRF cookie's name.
pub(crate) const CSRF_COOKIE: &str = "appwrite_webhooks_csrf";

/// What every answer carries: no script, no framing, styles and images from the view only,
/// forms that post back to it only.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; \
     img-src 'self' data:; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

/// Adds the security headers to `response`.
pub(crate) fn secure(mut response: Response) -> Response {
    let headers = response.headers_mut();
    let set = |headers: &mut HeaderMap, name, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    set(
        headers,
        header::CONTENT_SECURITY_POLICY,
        CONTENT_SECURITY_POLICY,
    );
    set(headers, header::X_FRAME_OPTIONS, "DENY");
    set(headers, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    // Same-origin requests keep their Referer (the CSRF check reads it when Origin is absent);
    // nothing leaks to other sites.
    set(headers, header::REFERRER_POLICY, "same-origin");
    // Pages hold deliveries: no copy in a shared cache.
    set(headers, header::CACHE_CONTROL, "no-store");
    response
}

/// A random token, hex: 32 bytes from the operating system.
pub(crate) fn new_token() -> String {
    let mut bytes = [0u8; 32];
    // Without the operating system's randomness no token can be trusted: refuse to start.
    if getrandom::fill(&mut bytes).is_err() {
        panic!("the operating system's random number generator is unavailable");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The `Set-Cookie` that carries `token` to the browser: sent back on same-site requests
/// only, never readable by script.
pub(crate) fn csrf_cookie(token: &str) -> HeaderValue {
    HeaderValue::from_str(&format!(
        "{CSRF_COOKIE}={token}; Path=/; SameSite=Strict; HttpOnly"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

/// Why a state-changing request was refused (403).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CsrfRefusal {
    /// Neither Origin nor Referer names this host.
    CrossOrigin,
    /// The form's token is missing or is not this view's.
    Token,
    /// The cookie is missing or is not this view's token.
    Cookie,
}

impl IntoResponse for CsrfRefusal {
    fn into_response(self) -> Response {
        let why = match self {
            CsrfRefusal::CrossOrigin => "refused: this request did not come from the inbox view",
            CsrfRefusal::Token => "refused: the form's token is missing or stale; reload the page",
            CsrfRefusal::Cookie => "refused: the view's cookie is missing; reload the page",
        };
        (StatusCode::FORBIDDEN, why).into_response()
    }
}

/// Checks a POST: it comes from a page of this host (Origin, else Referer), its form carries
/// `expected`, and so does its SameSite=Strict cookie. Compared in constant time.
pub(crate) fn check_csrf(
    headers: &HeaderMap,
    form_token: Option<&str>,
    expected: &str,
) -> Result<(), CsrfRefusal> {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .ok_or(CsrfRefusal::CrossOrigin)?;
    let source = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))
        .and_then(|v| v.to_str().ok())
        .ok_or(CsrfRefusal::CrossOrigin)?;
    let authority = source
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.authority().map(|a| a.as_str().to_owned()));
    if authority.as_deref() != Some(host) {
        return Err(CsrfRefusal::CrossOrigin);
    }
    let same = |given: &str| bool::from(given.as_bytes().ct_eq(expected.as_bytes()));
    if !form_token.is_some_and(same) {
        return Err(CsrfRefusal::Token);
    }
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == CSRF_COOKIE)
        .map(|(_, value)| value);
    if !cookie.is_some_and(same) {
        return Err(CsrfRefusal::Cookie);
    }
    Ok(())
}

/// A user name and password for HTTP basic auth. Its `Debug` hides the password.
#[derive(Clone)]
pub struct Credentials {
    user: String,
    password_digest: [u8; 32],
}

impl Credentials {
    /// `user` with `password`; only the password's SHA-256 digest is kept.
    pub fn new(user: impl Into<String>, password: &str) -> Self {
        Self {
            user: user.into(),
            password_digest: Sha256::digest(password.as_bytes()).into(),
        }
    }

    /// The user name.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// Whether an `Authorization` header names these credentials. Both parts are compared as
    /// SHA-256 digests in constant time, so neither their content nor their length leaks.
    pub fn accepts(&self, authorization: Option<&HeaderValue>) -> bool {
        let Some(encoded) = authorization
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|&b| b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        let user_digest: [u8; 32] = Sha256::digest(user).into();
        let expected_user: [u8; 32] = Sha256::digest(self.user.as_bytes()).into();
        let password_digest: [u8; 32] = Sha256::digest(password).into();
        let user_ok = user_digest.ct_eq(&expected_user);
        let password_ok = password_digest.ct_eq(&self.password_digest);
        bool::from(user_ok & password_ok)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// The answer to a request without valid credentials.
pub(crate) fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"appwrite-webhooks inbox\", charset=\"UTF-8\"",
        )],
        "credentials required",
    )
        .into_response()
}

/// The view would listen beyond loopback without credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BindRefused(pub SocketAddr);

impl fmt::Display for BindRefused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "refusing to serve the inbox on {} without credentials: anyone who can reach it \
             could read deliveries and requeue or delete them; bind to 127.0.0.1 or set a user \
             and password",
            self.0
        )
    }
}

impl std::error::Error for BindRefused {}

/// Whether the view may listen on `addr`: loopback always, any other address only with
/// `credentials`.
///
/// ```
/// use appwrite_webhooks_web::{Credentials, check_bind};
/// assert!(check_bind("127.0.0.1:8080".parse()?, None).is_ok());
/// assert!(check_bind("0.0.0.0:8080".parse()?, None).is_err());
/// assert!(check_bind("0.0.0.0:8080".parse()?, Some(&Credentials::new("ops", "pw"))).is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn check_bind(addr: SocketAddr, credentials: Option<&Credentials>) -> Result<(), BindRefused> {
    if addr.ip().is_loopback() || credentials.is_some() {
        Ok(())
    } else {
        Err(BindRefused(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn csrf_needs_origin_token_and_cookie() {
        let ok = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://127.0.0.1:8080"),
            ("cookie", "a=b; appwrite_webhooks_csrf=t0k"),
        ]);
        assert_eq!(check_csrf(&ok, Some("t0k"), "t0k"), Ok(()));
        assert_eq!(check_csrf(&ok, None, "t0k"), Err(CsrfRefusal::Token));
        assert_eq!(check_csrf(&ok, Some("t0x"), "t0k"), Err(CsrfRefusal::Token));
        let cross = headers(&[
            ("host", "127.0.0.1:8080"),
            ("origin", "http://evil.example"),
            ("cookie", "appwrite_webhooks_csrf=t0k"),
        ]);
        assert_eq!(
            check_csrf(&cross, Some("t0k"), "t0k"),
            Err(CsrfRefusal::CrossOrigin)
        );
        let no_cookie = headers(&[
            ("host", "127.0.0.1:8080"),
            ("referer", "http://127.0.0.1:8080/deliveries/1"),
        ]);
        assert_eq!(
            check_csrf(&no_cookie, Some("t0k"), "t0k"),
            Err(CsrfRefusal::Cookie)
        );
        let nowhere = headers(&[("host", "127.0.0.1:8080")]);
        assert_eq!(
            check_csrf(&nowhere, Some("t0k"), "t0k"),
            Err(CsrfRefusal::CrossOrigin)
        );
        let null = headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]);
        assert_eq!(
            check_csrf(&null, Some("t0k"), "t0k"),
            Err(CsrfRefusal::CrossOrigin)
        );
    }

    #[test]
    fn tokens_are_fresh_and_long() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
    }

    #[test]
    fn basic_auth_accepts_only_the_pair() {
        let credentials = Credentials::new("ops", "s3cret");
        let basic = |raw: &str| {
            HeaderValue::from_str(&format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(raw)
            ))
            .unwrap()
        };
        assert!(credentials.accepts(Some(&basic("ops:s3cret"))));
        assert!(!credentials.accepts(Some(&basic("ops:s3creT"))));
        assert!(!credentials.accepts(Some(&basic("opz:s3cret"))));
        assert!(!credentials.accepts(Some(&basic("ops"))));
        assert!(!credentials.accepts(Some(&HeaderValue::from_static("Bearer x"))));
        assert!(!credentials.accepts(None));
        assert!(!format!("{credentials:?}").contains("s3cret"));
    }

    #[test]
    fn binding_beyond_loopback_needs_credentials() {
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:8080".parse().unwrap();
        let v6: SocketAddr = "[::1]:8080".parse().unwrap();
        assert_eq!(check_bind(any, None), Err(BindRefused(any)));
        assert_eq!(check_bind(lan, None), Err(BindRefused(lan)));
        assert!(check_bind(v6, None).is_ok());
        assert!(check_bind(any, Some(&Credentials::new("u", "p"))).is_ok());
        assert!(BindRefused(any).to_string().contains("0.0.0.0:8080"));
    }
}
