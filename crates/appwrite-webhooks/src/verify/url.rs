//! Rebuilding the webhook URL from the request, for receivers that opt in.
//!
//! The signature covers the URL configured in Appwrite, byte for byte. The configured URL is
//! the safe default; rebuilding it from the request only works when the request still shows the
//! URL Appwrite used, which is not the case behind most proxies unless they forward it.

use http::{HeaderMap, Uri, header};

use crate::error::Error;

/// Whether the proxy headers that describe the original request may be believed when the URL is
/// rebuilt from the request.
///
/// ```
/// use appwrite_webhooks::{ProxyHeaders, Verifier};
///
/// // Behind a TLS-terminating proxy you control, which sets X-Forwarded-Proto/-Host:
/// let verifier = Verifier::for_request_url("secret", ProxyHeaders::Trust);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyHeaders {
    /// Use the request's own `Host` header and URI; ignore `Forwarded` and `X-Forwarded-*`.
    /// Right when Appwrite connects to this server directly.
    Ignore,
    /// Believe `Forwarded` (RFC 7239) and, failing that, `X-Forwarded-Proto` and
    /// `X-Forwarded-Host`. Only safe when every request passes through a proxy you run that
    /// overwrites these headers: otherwise a client chooses the URL that is verified.
    Trust,
}

/// The URL(s) Appwrite most plausibly signed for this request. A request for `/` may come from a
/// URL typed with or without the trailing slash (`https://host` and `https://host/` both request
/// `/`), so both are returned in that case.
pub(crate) fn reconstruct(
    uri: &Uri,
    headers: &HeaderMap,
    proxy: ProxyHeaders,
) -> Result<Vec<String>, Error> {
    let forwarded = match proxy {
        ProxyHeaders::Trust => Forwarded::from_headers(headers),
        ProxyHeaders::Ignore => Forwarded::default(),
    };
    let scheme = forwarded
        .proto
        .as_deref()
        .or(uri.scheme_str())
        .unwrap_or("http");
    let host = match forwarded.host {
        Some(host) => host,
        None => match headers.get(header::HOST) {
            Some(host) => host
                .to_str()
                .map_err(|_| Error::UrlUnavailable("Host header is not ASCII"))?
                .to_owned(),
            None => uri
                .authority()
                .map(|a| a.as_str().to_owned())
                .ok_or(Error::UrlUnavailable("request has no Host header"))?,
        },
    };
    let path = uri.path_and_query().map_or("/", |pq| pq.as_str());
    let mut urls = vec![format!("{scheme}://{host}{path}")];
    if path == "/" {
        urls.push(format!("{scheme}://{host}"));
    }
    Ok(urls)
}

/// The original scheme and host as a trusted proxy reported them.
#[derive(Default)]
struct Forwarded {
    proto: Option<String>,
    host: Option<String>,
}

impl Forwarded {
    fn from_headers(headers: &HeaderMap) -> Self {
        let mut found = Self::default();
        // RFC 7239: the first element was added by the proxy nearest the sender.
        if let Some(first) = first_list_item(headers, &header::FORWARDED) {
            for pair in first.split(';') {
                let Some((key, value)) = pair.split_once('=') else {
                    continue;
                };
                let value = value.trim().trim_matches('"').to_owned();
                match key.trim().to_ascii_lowercase().as_str() {
                    "proto" => found.proto = Some(value.to_ascii_lowercase()),
                    "host" => found.host = Some(value),
                    _ => {}
                }
            }
        }
        if found.proto.is_none() {
            found.proto =
                first_list_item(headers, "x-forwarded-proto").map(|p| p.to_ascii_lowercase());
        }
        if found.host.is_none() {
            found.host = first_list_item(headers, "x-forwarded-host").map(str::to_owned);
        }
        found
    }
}

fn first_list_item(headers: &HeaderMap, name: impl header::AsHeaderName) -> Option<&str> {
    let value = headers.get(name)?.to_str().ok()?;
    let first = value.split(',').next()?.trim();
    (!first.is_empty()).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    header::HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn direct_request_uses_host_and_path() {
        let uri: Uri = "/hooks/appwrite?tenant=acme".parse().unwrap();
        let h = headers(&[("host", "api.example.org:8443")]);
        assert_eq!(
            reconstruct(&uri, &h, ProxyHeaders::Ignore).unwrap(),
            ["http://api.example.org:8443/hooks/appwrite?tenant=acme"]
        );
    }

    #[test]
    fn forwarded_headers_are_ignored_unless_trusted() {
        let uri: Uri = "/hook".parse().unwrap();
        let h = headers(&[
            ("host", "10.0.0.5:3000"),
            ("x-forwarded-proto", "https"),
            ("x-forwarded-host", "hooks.example.com"),
        ]);
        assert_eq!(
            reconstruct(&uri, &h, ProxyHeaders::Ignore).unwrap(),
            ["http://10.0.0.5:3000/hook"]
        );
        assert_eq!(
            reconstruct(&uri, &h, ProxyHeaders::Trust).unwrap(),
            ["https://hooks.example.com/hook"]
        );
    }

    #[test]
    fn rfc7239_forwarded_wins_over_x_forwarded() {
        let uri: Uri = "/".parse().unwrap();
        let h = headers(&[
            ("host", "internal"),
            (
                "forwarded",
                "for=1.2.3.4;proto=HTTPS;host=\"a.example\", for=10.0.0.1;host=b",
            ),
            ("x-forwarded-host", "c.example"),
        ]);
        assert_eq!(
            reconstruct(&uri, &h, ProxyHeaders::Trust).unwrap(),
            ["https://a.example/", "https://a.example"]
        );
    }

    #[test]
    fn missing_host_is_an_error() {
        let uri: Uri = "/hook".parse().unwrap();
        assert!(matches!(
            reconstruct(&uri, &HeaderMap::new(), ProxyHeaders::Ignore),
            Err(Error::UrlUnavailable(_))
        ));
    }
}
