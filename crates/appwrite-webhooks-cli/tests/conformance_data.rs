//! The deliveries `conformance` embeds (`data/appwrite-deliveries.json`) are Appwrite's own, as
//! the repository's copy of them holds them (`crates/testkit/data/appwrite`, synced from
//! `../data/appwrite`): every release there, and main. A release synced into `versions/` fails
//! this test until `scripts/gen_conformance_data.py` runs.

use std::collections::BTreeMap;

use serde_json::Value;

/// Per version: each delivery's name, events header and body.
type Deliveries = BTreeMap<String, Vec<(String, String, String)>>;

fn events(headers: &[(String, String)]) -> String {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("X-Appwrite-Webhook-Events"))
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

fn embedded() -> Deliveries {
    let path = format!(
        "{}/data/appwrite-deliveries.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let data: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut out = Deliveries::new();
    for version in data["versions"].as_array().unwrap() {
        let entries = version["deliveries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                let headers: Vec<(String, String)> = d["headers"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| (p[0].as_str().unwrap().into(), p[1].as_str().unwrap().into()))
                    .collect();
                assert!(
                    headers
                        .iter()
                        .all(|(n, _)| !n.eq_ignore_ascii_case("x-appwrite-webhook-signature")),
                    "signatures are computed for the receiver, not embedded"
                );
                (
                    d["name"].as_str().unwrap().into(),
                    events(&headers),
                    d["body"].as_str().unwrap().into(),
                )
            })
            .collect();
        out.insert(version["version"].as_str().unwrap().into(), entries);
    }
    out
}

#[test]
fn the_embedded_deliveries_are_the_repositorys_data() {
    let mut data = Deliveries::new();
    for d in testkit::versions::versioned_deliveries() {
        if d.file.ends_with(".local.json") {
            continue;
        }
        data.entry(d.version.clone()).or_default().push((
            d.name.clone(),
            events(&d.headers),
            d.body.clone(),
        ));
    }
    data.insert(
        "main".into(),
        testkit::deliveries()
            .into_iter()
            .map(|d| (d.name.clone(), events(&d.headers), d.body.clone()))
            .collect(),
    );
    let embedded = embedded();
    assert_eq!(
        embedded.keys().collect::<Vec<_>>(),
        data.keys().collect::<Vec<_>>(),
        "run python3 scripts/gen_conformance_data.py"
    );
    for (version, deliveries) in &data {
        assert_eq!(
            &embedded[version], deliveries,
            "{version}: run python3 scripts/gen_conformance_data.py"
        );
    }
}
