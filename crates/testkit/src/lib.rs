//! Loads the ground-truth data in `data/appwrite/` (made by Appwrite's own PHP code) for the
//! workspace's tests.
//!
//! `data/appwrite/` is this repository's copy of `../shared/appwrite/`, where new data (a new
//! Appwrite version, new deliveries) appears first: `scripts/sync-shared.sh` brings the copy up
//! to date, and `.ci/run` fails while it differs. The tests read only the copy, so a clone with
//! nothing beside it passes them.

#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod alerts;
pub mod at_least_once;
pub mod auth_suite;
pub mod burst;
pub mod dead_letters;
pub mod demo;
pub mod history_suite;
pub mod http_suite;
pub mod inbox_http;
pub mod inbox_identity;
pub mod inbox_suite;
pub mod label_suite;
pub mod load;
pub mod net;
pub mod observe_suite;
pub mod postgres;
pub mod redis;
pub mod scheme_suite;
pub mod scratch;
pub mod versions;

use std::collections::BTreeMap;
use std::path::PathBuf;

use appwrite_webhooks::EventKind;
use appwrite_webhooks::sender::SignedDelivery;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;

/// The repository's copy of Appwrite's data (`crates/testkit/data/appwrite`): the same layout
/// as `../shared/appwrite` (`deliveries.json`, `versions/`, `alerts/`, …).
pub fn data_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data/appwrite")
}

fn read(name: &str) -> String {
    let path = data_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Captured headers, in the order sent, as an `http::HeaderMap`: one reading for every kind of
/// capture (the deliveries, the releases', the alerts). Appwrite's values may hold any byte
/// but a control, so they are read as bytes.
pub(crate) fn header_map(headers: &[(String, String)]) -> HeaderMap {
    headers
        .iter()
        .map(|(k, v)| {
            (
                HeaderName::from_bytes(k.as_bytes()).expect("header name"),
                HeaderValue::from_bytes(v.as_bytes()).expect("header value"),
            )
        })
        .collect()
}

/// One complete delivery from `deliveries.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct SampleDelivery {
    /// A unique name (the template with ids filled in).
    pub name: String,
    /// The event template from the catalogue.
    pub template: String,
    /// The response model of the payload.
    pub model: String,
    /// The webhook URL it was signed for.
    pub url: String,
    /// The signing key.
    pub signature_key: String,
    /// Every header, in the order sent.
    pub headers: Vec<(String, String)>,
    /// The raw body.
    pub body: String,
}

#[derive(Deserialize)]
struct RawDelivery {
    name: String,
    template: String,
    model: String,
    url: String,
    signature_key: String,
    headers: serde_json::Map<String, serde_json::Value>,
    body: String,
}

impl SampleDelivery {
    /// The headers as an `http::HeaderMap`.
    pub fn header_map(&self) -> HeaderMap {
        header_map(&self.headers)
    }

    /// One header's value by (case-insensitive) name.
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .unwrap_or_else(|| panic!("{} has no {name} header", self.name))
    }

    /// The events header split into names.
    pub fn events(&self) -> Vec<&str> {
        self.header("X-Appwrite-Webhook-Events")
            .split(',')
            .collect()
    }

    /// The path and query of the URL, as a server sees them.
    pub fn path_and_query(&self) -> &str {
        net::path_and_query(&self.url)
    }

    /// The delivery as captured, to send: its URL, headers and body.
    pub fn signed(&self) -> SignedDelivery {
        self.signed_with_body(self.body.clone())
    }

    /// The delivery's URL and headers with another body (the signature stays as captured).
    pub fn signed_with_body(&self, body: impl Into<Bytes>) -> SignedDelivery {
        SignedDelivery::from_parts(self.url.clone(), self.header_map(), body.into())
    }
}

/// All 149 deliveries.
pub fn deliveries() -> Vec<SampleDelivery> {
    let raw: Vec<RawDelivery> =
        serde_json::from_str(&read("deliveries.json")).expect("deliveries.json");
    raw.into_iter()
        .map(|d| SampleDelivery {
            name: d.name,
            template: d.template,
            model: d.model,
            url: d.url,
            signature_key: d.signature_key,
            headers: d
                .headers
                .into_iter()
                .map(|(k, v)| (k, v.as_str().expect("header value is a string").to_owned()))
                .collect(),
            body: d.body,
        })
        .collect()
}

/// The sample delivery named `name` (`teams.teamId.create`).
pub fn delivery_named(name: &str) -> SampleDelivery {
    deliveries()
        .into_iter()
        .find(|d| d.name == name)
        .unwrap_or_else(|| panic!("no sample delivery named {name}"))
}

/// The first sample delivery whose payload is the catalogue model `model` (`team`).
pub fn delivery_of_model(model: &str) -> SampleDelivery {
    deliveries()
        .into_iter()
        .find(|d| d.model == model)
        .unwrap_or_else(|| panic!("no sample delivery of model {model}"))
}

/// One signature vector, decoded.
#[derive(Debug, Clone)]
pub struct SignatureVector {
    /// What the vector exercises.
    pub name: String,
    /// Key bytes.
    pub key: Vec<u8>,
    /// The URL.
    pub url: String,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The base64 signature PHP computed.
    pub signature: String,
}

/// All signature vectors.
pub fn signature_vectors() -> Vec<SignatureVector> {
    #[derive(Deserialize)]
    struct File {
        vectors: Vec<Raw>,
    }
    #[derive(Deserialize)]
    struct Raw {
        name: String,
        key_b64: String,
        url: String,
        body_b64: String,
        signature: String,
    }
    let file: File =
        serde_json::from_str(&read("signature-vectors.json")).expect("signature-vectors.json");
    file.vectors
        .into_iter()
        .map(|v| SignatureVector {
            name: v.name,
            key: STANDARD.decode(v.key_b64).expect("key base64"),
            url: v.url,
            body: STANDARD.decode(v.body_b64).expect("body base64"),
            signature: v.signature,
        })
        .collect()
}

/// The event catalogue: `(template, model, description)`.
pub fn catalogue() -> Vec<(String, String, String)> {
    #[derive(Deserialize)]
    struct Entry {
        event: String,
        model: String,
        description: String,
    }
    let entries: Vec<Entry> = serde_json::from_str(&read("events.json")).expect("events.json");
    entries
        .into_iter()
        .map(|e| (e.event, e.model, e.description))
        .collect()
}

/// The `EventKind` a catalogue model maps to: the core's own table, which the tests check
/// against the catalogue.
pub fn expected_kind(model: &str) -> EventKind {
    EventKind::from_model(model).unwrap_or_else(|| panic!("catalogue model {model} has no variant"))
}

/// The path of an example binary (`target/<profile>/examples/NAME`), found from the running
/// test binary, and up to date with its source.
///
/// `cargo test` builds the examples as programs before it runs the tests; with `--all-targets`
/// (or `--examples`) it builds them as tests instead, and the program there may be missing or
/// left over from an older build. So the first call in a test process runs
/// `cargo build --workspace --examples` into the same target directory and profile (cargo has
/// released its lock by the time tests run): a no-op after `cargo test --workspace`, which
/// resolves the same features, and the build the test needs otherwise.
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let exe = std::env::current_exe().expect("test binary path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>");
    BUILT.call_once(|| {
        let profile = match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => "dev",
            Some(other) => other,
        };
        let target_dir = profile_dir.parent().expect("the target directory");
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .args(["build", "--quiet", "--workspace", "--examples"])
            .args(["--profile", profile])
            .args(["--features", "appwrite-webhooks-workspace/serve"])
            .arg("--target-dir")
            .arg(target_dir)
            .status()
            .expect("run cargo build --examples");
        assert!(status.success(), "cargo build --examples failed");
    });
    let path = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(path.exists(), "{} was not built", path.display());
    path
}

/// Keeps `BTreeMap` in the public API stable for callers that index by name.
pub fn deliveries_by_name() -> BTreeMap<String, SampleDelivery> {
    deliveries()
        .into_iter()
        .map(|d| (d.name.clone(), d))
        .collect()
}
