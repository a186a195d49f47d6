//! The genuine deliveries the command sends: every Appwrite release the crate knows and
//! unreleased main, as their own code made them (`data/appwrite-deliveries.json`, written by
//! `scripts/gen_conformance_data.py` from `../shared/appwrite`).

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
}
