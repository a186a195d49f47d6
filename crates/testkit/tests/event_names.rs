//! Conformance: event-name expansion and pattern matching against Appwrite's own headers.

use std::collections::BTreeSet;

use appwrite_webhooks::{EventName, Pattern};
use proptest::prelude::*;
use testkit::deliveries;

/// The primary (most specific concrete) name of a delivery's events header.
fn primary(events: &[&str]) -> EventName {
    let best = events
        .iter()
        .filter(|n| !n.split('.').any(|s| s == "*"))
        .max_by_key(|n| {
            (
                n.split('.').count(),
                std::cmp::Reverse(events.iter().position(|e| e == *n)),
            )
        })
        .unwrap();
    EventName::parse(best).unwrap()
}

#[test]
fn expansion_equals_appwrites_header_for_every_delivery() {
    for d in deliveries() {
        let events = d.events();
        let expanded = primary(&events).expand();
        let ours: BTreeSet<&str> = expanded.iter().map(String::as_str).collect();
        let theirs: BTreeSet<&str> = events.iter().copied().collect();
        assert_eq!(ours, theirs, "{}", d.name);
        assert_eq!(expanded.len(), events.len(), "{}: duplicates", d.name);
    }
}

#[test]
fn template_structure_matches_the_primary_name() {
    for d in deliveries() {
        let name = primary(&d.events());
        let template = EventName::parse(&d.template.replace(['[', ']'], "")).unwrap();
        assert_eq!(name.action(), template.action(), "{}", d.name);
        assert_eq!(name.attribute(), template.attribute(), "{}", d.name);
        let resources: Vec<_> = name.path().map(|(r, _)| r).collect();
        let expected: Vec<_> = template.path().map(|(r, _)| r).collect();
        assert_eq!(resources, expected, "{}", d.name);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every name in a delivery's header matches the delivery's event as a pattern.
    #[test]
    fn every_header_name_matches_its_event(index in any::<prop::sample::Index>()) {
        let all = deliveries();
        let d = index.get(&all);
        let events = d.events();
        let name = primary(&events);
        for member in &events {
            prop_assert!(Pattern::parse(member).unwrap().matches(&name), "{} should match {}", member, name);
        }
    }

    /// Obvious non-members do not match: another action, another id, a deeper resource, or a
    /// name from another delivery's header that is not in this one.
    #[test]
    fn non_members_do_not_match(index in any::<prop::sample::Index>(), other in any::<prop::sample::Index>()) {
        let all = deliveries();
        let d = index.get(&all);
        let events = d.events();
        let name = primary(&events);
        let action = name.action().unwrap();
        let other_action = if action == "delete" { "create" } else { "delete" };
        let wrong_action = name.as_str().replacen(&format!(".{action}"), &format!(".{other_action}"), 1);
        if !events.contains(&wrong_action.as_str()) {
            prop_assert!(!Pattern::parse(&wrong_action).unwrap().matches(&name), "{}", wrong_action);
        }
        let (service, id) = name.path().next().unwrap();
        let wrong_id = format!("{service}.not-{id}");
        prop_assert!(!Pattern::parse(&wrong_id).unwrap().matches(&name));
        let deeper = format!("{}.extra.*", name.path().map(|(r, i)| format!("{r}.{i}")).collect::<Vec<_>>().join("."));
        prop_assert!(!Pattern::parse(&deeper).unwrap().matches(&name));
        let o = other.get(&all);
        for foreign in o.events() {
            if !events.contains(&foreign) {
                prop_assert!(!Pattern::parse(foreign).unwrap().matches(&name), "{} matched {}", foreign, name);
            }
        }
    }
}
