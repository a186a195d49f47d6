//! The genuine deliveries the command sends: every Appwrite release the crate knows and
//! unreleased main, as their own code made them (`data/appwrite-deliveries.json`, written by
//! `scripts/gen_conformance_data.py` from `crates/testkit/data/appwrite`, the repository's copy of
//! `../shared/appwrite`).

use serde_json::Value;

const DATA: &str = include_str!("../../data/appwrite-deliveries.json");

/// How a version turns the configured URL into the signed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UrlRule {
    /// Every release up to 1.9.6: `rawurldecode(url)`.
    RawUrlDecode,
    /// Unreleased main: the URL as typed.
    Raw,
}

/// One genuine delivery: its name, Appwrite's headers in order (no length, no signature) and
/// the exact body.
pub struct Genuine {
    pub name: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// One Appwrite version's deliveries.
pub struct Version {
    pub version: String,
    pub rule: UrlRule,
    pub deliveries: Vec<Genuine>,
}

/// Every version, oldest first, main last.
pub fn versions() -> Vec<Version> {
    let data: Value = serde_json::from_str(DATA).expect("the embedded deliveries are JSON");
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    data["versions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|version| Version {
            version: text(&version["version"]),
            rule: match version["signs"].as_str() {
                Some("raw") => UrlRule::Raw,
                _ => UrlRule::RawUrlDecode,
            },
            deliveries: version["deliveries"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|d| Genuine {
                    name: text(&d["name"]),
                    headers: d["headers"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|pair| (text(&pair[0]), text(&pair[1])))
                        .collect(),
                    body: text(&d["body"]).into_bytes(),
                })
                .collect(),
        })
        .collect()
}

/// Appwrite's alert deliveries (`data/appwrite-alerts.json`, a copy of the testkit's
/// `data/appwrite/alerts/alerts.json`, made by the code of Appwrite's notifications worker): the signed ones'
/// names and exact bodies, to be re-signed for the receiver's key with the current time.
const ALERTS: &str = include_str!("../../data/appwrite-alerts.json");

/// One genuine alert: its name and exact body.
pub struct Alert {
    pub name: String,
    pub body: Vec<u8>,
}

/// Every signed alert of the data, in order.
pub fn alerts() -> Vec<Alert> {
    let data: Value = serde_json::from_str(ALERTS).expect("the embedded alerts are JSON");
    data.as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["signed"].as_bool() == Some(true))
        .map(|a| Alert {
            name: a["name"].as_str().unwrap_or_default().to_owned(),
            body: a["body"].as_str().unwrap_or_default().as_bytes().to_vec(),
        })
        .collect()
}

/// The version names, for `--appwrite-version`'s help and errors.
pub fn names() -> Vec<String> {
    versions().into_iter().map(|v| v.version).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_version_has_deliveries_and_main_signs_raw() {
        let versions = versions();
        assert!(versions.len() >= 5);
        assert!(versions.iter().all(|v| !v.deliveries.is_empty()));
        let main = versions.last().unwrap();
        assert_eq!((main.version.as_str(), main.rule), ("main", UrlRule::Raw));
        assert!(
            versions[..versions.len() - 1]
                .iter()
                .all(|v| v.rule == UrlRule::RawUrlDecode)
        );
    }

    #[test]
    fn the_signed_alerts_are_embedded() {
        let alerts = alerts();
        assert!(alerts.len() >= 4);
        assert!(alerts.iter().all(|a| a.body.starts_with(b"{\"subject\"")));
        assert!(alerts.iter().all(|a| a.name != "unsigned"));
    }
}
