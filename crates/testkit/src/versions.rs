//! Deliveries as released Appwrite versions send them: every file in `data/appwrite/versions/`
//! (whatever files are there; new ones appear in `../shared` first and are synced), each made by
//! that release's own code. `<V>.local.json` entries carry a URL template with `{port}` and percent
//! escapes, and no signature: they are signed here with the entry's `signing_url_rule`.

use std::path::PathBuf;

use appwrite_webhooks::EventKind;
use appwrite_webhooks::sender::SignedDelivery;
use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;

use crate::header_map;

/// The port put into the `.local.json` URLs: the URL the webhook is configured with. Servers in
/// the tests listen elsewhere on loopback, as behind a proxy; only the configured URL is signed.
pub const LOCAL_PORT: u16 = 8080;

/// One delivery of one release.
#[derive(Debug, Clone)]
pub struct VersionedDelivery {
    /// The file it came from, e.g. `1.6.2.local.json`.
    pub file: String,
    /// `appwrite_version`.
    pub version: String,
    /// The entry's name.
    pub name: String,
    /// The payload model (`none` for an empty body).
    pub model: String,
    /// The configured URL (with [`LOCAL_PORT`] in local files).
    pub url: String,
    /// The webhook's signing key.
    pub signature_key: String,
    /// Every header, with the signature filled in for local files.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: String,
    /// The most specific concrete name in the events header.
    pub expected_primary: String,
    /// `catalogue`, `off-catalogue`, `route-quirk`, `id-quirk`.
    pub kind: String,
    /// `rawurldecode` (every release up to 1.9.6) or `raw` (unreleased main).
    pub signing_url_rule: String,
}

#[derive(Deserialize)]
struct Raw {
    name: String,
    model: String,
    url: String,
    signature_key: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body: String,
    appwrite_version: String,
    expected_primary: String,
    kind: String,
    signing_url_rule: String,
}

/// The folder of versioned deliveries.
pub fn versions_dir() -> PathBuf {
    crate::data_dir().join("versions")
}

/// Every entry of every `*.json` file in [`versions_dir`], local files signed for
/// [`LOCAL_PORT`].
pub fn versioned_deliveries() -> Vec<VersionedDelivery> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(versions_dir())
        .expect("data/appwrite/versions")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no versioned deliveries");
    let mut all = Vec::new();
    for path in files {
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).expect("a versions file");
        let raws: Vec<Raw> = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        for raw in raws {
            all.push(VersionedDelivery::from_raw(&file, raw));
        }
    }
    all
}

impl VersionedDelivery {
    fn from_raw(file: &str, raw: Raw) -> Self {
        let url = raw.url.replace("{port}", &LOCAL_PORT.to_string());
        let mut headers: Vec<(String, String)> = raw
            .headers
            .into_iter()
            .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
            .collect();
        let signature = headers
            .iter_mut()
            .find(|(k, _)| k.eq_ignore_ascii_case("X-Appwrite-Webhook-Signature"))
            .expect("a signature header");
        if signature.1.is_empty() {
            let signed_url = match raw.signing_url_rule.as_str() {
                "rawurldecode" => rawurldecode(&url),
                "raw" => url.clone(),
                other => panic!("{file}: unknown signing_url_rule {other}"),
            };
            signature.1 = appwrite_webhooks::sign(
                raw.signature_key.as_str(),
                &signed_url,
                raw.body.as_bytes(),
            );
        }
        Self {
            file: file.to_owned(),
            version: raw.appwrite_version,
            name: raw.name,
            model: raw.model,
            url,
            signature_key: raw.signature_key,
            headers,
            body: raw.body,
            expected_primary: raw.expected_primary,
            kind: raw.kind,
            signing_url_rule: raw.signing_url_rule,
        }
    }

    /// A label for assertion messages.
    pub fn label(&self) -> String {
        format!("{} {} ({})", self.file, self.name, self.model)
    }

    /// The headers as an `http::HeaderMap`.
    pub fn header_map(&self) -> HeaderMap {
        header_map(&self.headers)
    }

    /// The delivery to send: to its URL as typed (undecoded), with its headers and body.
    pub fn signed(&self) -> SignedDelivery {
        self.signed_with_body(self.body.clone())
    }

    /// The same URL and headers with another body (the signature stays as delivered).
    pub fn signed_with_body(&self, body: impl Into<Bytes>) -> SignedDelivery {
        SignedDelivery::from_parts(self.url.clone(), self.header_map(), body.into())
    }

    /// The kind a typed receiver must give this delivery: its model's variant, where the
    /// crate has one, or [`EventKind::Unknown`] for payloads no variant is about (MFA factors,
    /// challenges, recovery codes, identities, empty bodies). An `account` is the user's own
    /// view of a user; the typed attribute and column models are attributes and columns.
    pub fn expected_kind(&self) -> EventKind {
        let model = match self.model.as_str() {
            "account" => "user",
            m if m.starts_with("attribute") => "attribute",
            m if m.starts_with("column") && m != "columnIndex" => "column",
            m => m,
        };
        EventKind::from_model(model).unwrap_or(EventKind::Unknown)
    }
}

/// PHP's `rawurldecode`, written here independently of the crate's: every `%XX` with two hex
/// digits becomes that byte; `+` and malformed escapes stay.
pub fn rawurldecode(url: &str) -> String {
    let bytes = url.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
