//! Appwrite's alert deliveries (`data/appwrite/alerts/alerts.json`, the repository's copy of
//! `../shared/appwrite/alerts/alerts.json`): made by the code of Appwrite's
//! `Adapter/Webhook.php::process` and `Workers/Notifications.php::dispatchWebhook` under PHP 8.2.
//! Kept in this repository, so the alert tests read nothing outside it.

use std::path::PathBuf;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use appwrite_webhooks::sender::SignedDelivery;
use bytes::Bytes;
use http::HeaderMap;
use serde::Deserialize;

use crate::header_map;

/// The channel secret every signed alert in the data uses.
pub const ALERT_KEY: &str = "alert-secret-7f3a";

/// The newest timestamp in the data (2025-12-05T08:00:00Z); the others are 60 s apart before
/// it. A verifier checking them needs a clock set here.
pub const DATA_NOW: u64 = 1_764_921_600;

/// [`DATA_NOW`] as a time, for a [`ManualClock`](appwrite_webhooks::ManualClock).
pub fn data_now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(DATA_NOW)
}

/// The data file's path, for tools that read it themselves (the CLI's `inspect`).
pub fn alerts_path() -> PathBuf {
    crate::data_dir().join("alerts/alerts.json")
}

/// One alert delivery as Appwrite sent it.
#[derive(Debug, Clone, Deserialize)]
pub struct SampleAlert {
    /// A unique name.
    pub name: String,
    /// Where it was sent (not signed by this scheme).
    pub url: String,
    /// The channel's secret; empty for the unsigned one.
    pub signature_key: String,
    /// Its `X-Appwrite-Webhook-Timestamp`.
    pub timestamp: u64,
    /// Whether a signature header was sent.
    pub signed: bool,
    /// Every header, in the order sent.
    #[serde(deserialize_with = "header_pairs")]
    pub headers: Vec<(String, String)>,
    /// The exact raw body.
    pub body: String,
}

fn header_pairs<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<(String, String)>, D::Error> {
    let map = serde_json::Map::<String, serde_json::Value>::deserialize(deserializer)?;
    Ok(map
        .into_iter()
        .map(|(k, v)| (k, v.as_str().unwrap_or_default().to_owned()))
        .collect())
}

impl SampleAlert {
    /// The headers as an `http::HeaderMap`.
    pub fn header_map(&self) -> HeaderMap {
        header_map(&self.headers)
    }

    /// The alert as captured, to send.
    pub fn signed(&self) -> SignedDelivery {
        self.with_body(self.body.clone())
    }

    /// Its URL and headers with another body (the signature stays as captured).
    pub fn with_body(&self, body: impl Into<Bytes>) -> SignedDelivery {
        SignedDelivery::from_parts(self.url.clone(), self.header_map(), body.into())
    }
}

/// Every alert delivery in the data, signed and unsigned.
pub fn alerts() -> Vec<SampleAlert> {
    let path = alerts_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).expect("alerts.json")
}

/// The alert named `name`.
pub fn alert(name: &str) -> SampleAlert {
    alerts()
        .into_iter()
        .find(|a| a.name == name)
        .unwrap_or_else(|| panic!("no alert {name:?} in alerts.json"))
}
