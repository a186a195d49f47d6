//! The metrics table is written twice — in the `observe` module docs (docs.rs) and in the
//! guide's operating chapter (`crates/appwrite-webhooks/docs/guide/operating.md`) — and must say
//! the same, and name every metric the crate emits.

use appwrite_webhooks::observe;

fn table(text: &str, prefix: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| line.strip_prefix(prefix))
        .filter(|line| line.starts_with("| `appwrite_webhooks_"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_guide_and_the_module_docs_list_the_same_metrics() {
    let core = concat!(env!("CARGO_MANIFEST_DIR"), "/../appwrite-webhooks");
    let guide = std::fs::read_to_string(format!("{core}/docs/guide/operating.md")).unwrap();
    let module = std::fs::read_to_string(format!("{core}/src/observe/mod.rs")).unwrap();
    let documented = table(&module, "//! ");
    assert_eq!(table(&guide, ""), documented);
    for name in [
        observe::DELIVERIES,
        observe::DELIVERY_DURATION,
        observe::VERIFIED,
        observe::UNPARSED,
        observe::CONSECUTIVE_FAILURES,
        observe::INBOX_DELIVERIES,
        observe::INBOX_ATTEMPTS,
        observe::INBOX_ATTEMPT_DURATION,
    ] {
        let row = format!("| `{name}` |");
        assert!(
            documented.iter().any(|line| line.starts_with(&row)),
            "{name} is not in the table"
        );
    }
    assert_eq!(
        documented.len(),
        8,
        "a row for a metric that is not emitted?"
    );
}
