//! The memory ledger's claims and label counts, through `MemoryStore`'s own methods.

use super::*;
use crate::replay::labels::MAX_LABELS_PER_BODY;
use std::sync::Arc;

fn fp(i: u32) -> Fingerprint {
    Fingerprint::new(&i.to_le_bytes())
}

const HOUR: Duration = Duration::from_secs(3600);

#[test]
fn expired_claims_can_be_claimed_again() {
    let store = MemoryStore::with_capacity(100);
    let (a, b) = (LeaseToken::new(), LeaseToken::new());
    assert_eq!(
        store.claim_now(&fp(1), &a, Duration::ZERO),
        ClaimOutcome::Claimed
    );
    assert_eq!(store.claim_now(&fp(1), &b, HOUR), ClaimOutcome::Claimed);
    assert_eq!(store.claim_now(&fp(1), &a, HOUR), ClaimOutcome::InProgress);
}

#[test]
fn only_the_owner_releases_and_a_done_claim_stays_done() {
    let store = MemoryStore::with_capacity(100);
    let (a, b) = (LeaseToken::new(), LeaseToken::new());
    assert_eq!(store.claim_now(&fp(1), &a, HOUR), ClaimOutcome::Claimed);
    assert!(!store.release_now(&fp(1), &b));
    assert!(!store.complete_now(&fp(1), &b, HOUR));
    assert!(store.complete_now(&fp(1), &a, HOUR));
    assert!(
        !store.release_now(&fp(1), &a),
        "a done claim is not released"
    );
    assert_eq!(store.claim_now(&fp(1), &b, HOUR), ClaimOutcome::Done);
}

#[test]
fn a_lapsed_lease_still_completes_unless_another_copy_claimed() {
    let store = MemoryStore::with_capacity(100);
    let (a, b) = (LeaseToken::new(), LeaseToken::new());
    assert_eq!(
        store.claim_now(&fp(1), &a, Duration::ZERO),
        ClaimOutcome::Claimed
    );
    assert!(
        store.complete_now(&fp(1), &a, HOUR),
        "nobody holds it: done"
    );
    assert_eq!(
        store.claim_now(&fp(2), &a, Duration::ZERO),
        ClaimOutcome::Claimed
    );
    assert_eq!(store.claim_now(&fp(2), &b, HOUR), ClaimOutcome::Claimed);
    assert!(!store.complete_now(&fp(2), &a, HOUR), "b holds it now");
}

#[test]
fn the_longest_ttl_does_not_overflow() {
    let store = MemoryStore::with_capacity(100);
    let a = LeaseToken::new();
    assert_eq!(
        store.claim_now(&fp(1), &a, Duration::MAX),
        ClaimOutcome::Claimed
    );
    assert!(store.complete_now(&fp(1), &a, Duration::MAX));
    assert_eq!(
        store.claim_now(&fp(1), &a, Duration::MAX),
        ClaimOutcome::Done
    );
}

#[test]
fn a_flood_of_unique_deliveries_stays_bounded() {
    let store = MemoryStore::with_capacity(1_000);
    let owner = LeaseToken::new();
    for i in 0..200_000 {
        assert_eq!(store.claim_now(&fp(i), &owner, HOUR), ClaimOutcome::Claimed);
        assert!(store.complete_now(&fp(i), &owner, HOUR));
    }
    assert!(store.len() <= 1_000 + SHARDS, "{}", store.len());
    let queued: usize = store
        .shards
        .iter()
        .map(|s| s.lock().unwrap().order.len())
        .sum();
    assert!(queued <= 2 * (1_000 + SHARDS), "{queued}");
    // The newest are remembered.
    assert_eq!(
        store.claim_now(&fp(199_999), &owner, HOUR),
        ClaimOutcome::Done
    );
}

#[test]
fn release_and_reclaim_cycles_do_not_grow_the_queue() {
    let store = MemoryStore::with_capacity(160);
    for _ in 0..10_000 {
        let owner = LeaseToken::new();
        assert_eq!(store.claim_now(&fp(5), &owner, HOUR), ClaimOutcome::Claimed);
        assert!(store.release_now(&fp(5), &owner));
    }
    let queued: usize = store
        .shards
        .iter()
        .map(|s| s.lock().unwrap().order.len())
        .sum();
    assert!(queued <= 2 * 10 + 1, "{queued}");
}

/// An identity of `body` under label `n`, as Appwrite's scheme makes them.
fn labelled(body: &Fingerprint, n: u8) -> Fingerprint {
    let mut bytes = [n; 32];
    bytes[..Fingerprint::BODY_KEY_PREFIX]
        .copy_from_slice(&body.as_bytes()[..Fingerprint::BODY_KEY_PREFIX]);
    Fingerprint::new(&bytes)
}

#[test]
fn a_body_takes_at_most_the_limit_of_labels_and_always_its_own_again() {
    let store = MemoryStore::with_capacity(10);
    let body = Fingerprint::new(&[1; 32]);
    let label = |n: u8| Fingerprint::new(&[n; 32]);
    for n in 0..4 {
        assert!(store.label_now(&body, &label(n), 4, HOUR), "label {n}");
    }
    assert!(!store.label_now(&body, &label(9), 4, HOUR), "a fifth label");
    assert!(store.label_now(&body, &label(2), 4, HOUR), "a label it has");
    assert!(store.label_now(&Fingerprint::new(&[2; 32]), &label(9), 4, HOUR));
}

#[test]
fn label_sets_are_bounded_and_expire() {
    let store = MemoryStore::with_capacity(2);
    let label = Fingerprint::new(&[9; 32]);
    for n in 0..10u8 {
        assert!(store.label_now(&Fingerprint::new(&[n; 32]), &label, 1, Duration::MAX));
    }
    let held: usize = store
        .shards
        .iter()
        .map(|s| s.lock().unwrap().order.len())
        .sum();
    assert!(held <= SHARDS, "{held}");
    let body = Fingerprint::new(&[42; 32]);
    assert!(store.label_now(&body, &label, 1, Duration::ZERO));
    assert!(store.label_now(&body, &Fingerprint::new(&[8; 32]), 1, Duration::ZERO));
}

#[test]
fn a_bodys_labels_and_claims_share_one_group_and_keep_apart() {
    let store = MemoryStore::with_capacity(100);
    let body = Fingerprint::new(&[3; 32]);
    let (a, b) = (labelled(&body, 1), labelled(&body, 2));
    let (first, second) = (LeaseToken::new(), LeaseToken::new());
    let limit = (2, HOUR);
    let take = |fp: &Fingerprint, owner: &LeaseToken| {
        store.label_and_claim_now(&body, fp, owner, limit, HOUR)
    };
    assert_eq!(take(&a, &first), Some(ClaimOutcome::Claimed));
    assert_eq!(take(&b, &second), Some(ClaimOutcome::Claimed));
    assert_eq!(take(&a, &second), Some(ClaimOutcome::InProgress));
    assert_eq!(take(&labelled(&body, 3), &second), None, "a third label");
    assert!(store.complete_now(&a, &first, HOUR));
    assert_eq!(take(&a, &second), Some(ClaimOutcome::Done));
    assert!(store.release_now(&b, &second));
    assert_eq!(store.len(), 1);
    // A released claim keeps its label: the body still has two, and `b` is claimed again.
    assert_eq!(take(&labelled(&body, 4), &first), None);
    assert_eq!(take(&b, &first), Some(ClaimOutcome::Claimed));
    let groups: usize = store
        .shards
        .iter()
        .map(|s| s.lock().unwrap().order.len())
        .sum();
    assert_eq!(groups, 1, "one body, one group");
}

#[test]
fn a_label_apart_from_its_claim_counts_the_same() {
    let store = MemoryStore::with_capacity(100);
    let body = Fingerprint::new(&[4; 32]);
    let owner = LeaseToken::new();
    let limit = (1, HOUR);
    let take = |fp: &Fingerprint| store.label_and_claim_now(&body, fp, &owner, limit, HOUR);
    assert_eq!(take(&fp(1)), Some(ClaimOutcome::Claimed));
    assert_eq!(take(&fp(1)), Some(ClaimOutcome::InProgress));
    assert_eq!(take(&fp(2)), None);
    assert!(
        store.label_now(&body, &fp(1), 1, HOUR),
        "the same label, asked alone"
    );
}

#[test]
fn expired_claims_and_labels_free_their_places_in_a_group() {
    let store = MemoryStore::with_capacity(100);
    let body = Fingerprint::new(&[5; 32]);
    let owner = LeaseToken::new();
    // A claim held for an hour keeps the group.
    let held = labelled(&body, 255);
    assert_eq!(store.claim_now(&held, &owner, HOUR), ClaimOutcome::Claimed);
    for n in 0..100 {
        let identity = labelled(&body, n);
        let outcome = store.label_and_claim_now(
            &body,
            &identity,
            &owner,
            (1, Duration::ZERO),
            Duration::ZERO,
        );
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "{n}");
    }
    let shard = store.shards[Key::of(&body).shard(SHARDS)].lock().unwrap();
    assert_eq!(
        shard.claims(),
        2,
        "each identity took the place of the expired one"
    );
    drop(shard);
    assert_eq!(
        store.claim_now(&held, &owner, HOUR),
        ClaimOutcome::InProgress
    );
}

/// Identities sharing their first 16 bytes without being one body's labels (nothing this crate
/// computes makes them, but `Fingerprint::new` can).
fn shared(n: u32) -> Fingerprint {
    let mut bytes = [7; 32];
    bytes[28..].copy_from_slice(&n.to_le_bytes());
    Fingerprint::new(&bytes)
}

#[test]
fn identities_sharing_their_first_bytes_are_all_remembered_within_the_capacity() {
    let store = MemoryStore::with_capacity(100_000);
    let owner = LeaseToken::new();
    for n in 0..1_000 {
        assert_eq!(
            store.claim_now(&shared(n), &owner, HOUR),
            ClaimOutcome::Claimed
        );
    }
    assert_eq!(store.len(), 1_000);
    for n in 0..1_000 {
        assert_eq!(
            store.claim_now(&shared(n), &owner, HOUR),
            ClaimOutcome::InProgress,
            "{n}"
        );
        assert!(store.complete_now(&shared(n), &owner, HOUR), "{n}");
    }
    assert!(!store.release_now(&shared(5), &owner), "done, not pending");
    assert_eq!(
        store.claim_now(&shared(999), &owner, HOUR),
        ClaimOutcome::Done
    );

    // Done claims past a full group's size give their places to new ones, soonest to expire
    // first: bounded, and the newest remembered.
    let small = MemoryStore::with_capacity(160);
    for n in 0..10_000 {
        assert_eq!(
            small.claim_now(&shared(n), &owner, HOUR),
            ClaimOutcome::Claimed
        );
        assert!(small.complete_now(&shared(n), &owner, HOUR));
    }
    assert!(
        small.len() <= 2 * MAX_LABELS_PER_BODY as usize,
        "{}",
        small.len()
    );
    assert_eq!(
        small.claim_now(&shared(9_999), &owner, HOUR),
        ClaimOutcome::Done
    );
}

#[test]
fn a_full_group_never_gives_up_a_live_claim() {
    let store = MemoryStore::with_capacity(100_000);
    let (first, second) = (LeaseToken::new(), LeaseToken::new());
    assert_eq!(
        store.claim_now(&shared(0), &first, Duration::from_secs(1)),
        ClaimOutcome::Claimed
    );
    for n in 1..=64 {
        assert_eq!(
            store.claim_now(&shared(n), &first, HOUR),
            ClaimOutcome::Claimed
        );
    }
    assert_eq!(
        store.claim_now(&shared(0), &second, HOUR),
        ClaimOutcome::InProgress
    );
    assert!(store.release_now(&shared(40), &first));
    assert_eq!(
        store.claim_now(&shared(40), &second, HOUR),
        ClaimOutcome::Claimed
    );
}

#[test]
fn a_limit_past_the_group_size_is_still_the_limit() {
    let store = MemoryStore::with_capacity(100);
    let body = Fingerprint::new(&[6; 32]);
    let accepted = (0..200u8)
        .filter(|&n| store.label_now(&body, &labelled(&body, n), 40, HOUR))
        .count();
    assert_eq!(accepted, 40);
}

#[test]
fn a_refused_label_keeps_nothing_and_forgets_nothing() {
    // One group per shard; these bodies share shard 0 (16 equal bytes fold to zero).
    let store = MemoryStore::with_capacity(SHARDS);
    let owner = LeaseToken::new();
    let held = Fingerprint::new(&[1; 32]);
    assert_eq!(store.claim_now(&held, &owner, HOUR), ClaimOutcome::Claimed);
    let body = Fingerprint::new(&[2; 32]);
    assert!(!store.label_now(&body, &labelled(&body, 1), 0, HOUR));
    assert_eq!(
        store.label_and_claim_now(&body, &labelled(&body, 1), &owner, (0, HOUR), HOUR),
        None
    );
    assert_eq!(
        store.claim_now(&held, &LeaseToken::new(), HOUR),
        ClaimOutcome::InProgress
    );
}

#[test]
fn a_claim_just_made_in_an_old_group_is_not_the_first_forgotten() {
    // Two groups per shard, all in shard 0.
    let store = MemoryStore::with_capacity(2 * SHARDS);
    let owner = LeaseToken::new();
    let old = Fingerprint::new(&[1; 32]);
    assert!(
        store.label_now(&old, &labelled(&old, 1), 16, HOUR),
        "the old body's group"
    );
    let other = Fingerprint::new(&[2; 32]);
    assert_eq!(store.claim_now(&other, &owner, HOUR), ClaimOutcome::Claimed);
    let fresh = labelled(&old, 1);
    assert_eq!(
        store.label_and_claim_now(&old, &fresh, &owner, (16, HOUR), HOUR),
        Some(ClaimOutcome::Claimed)
    );
    // A third group forces one out: the one whose newest claim is oldest.
    assert_eq!(
        store.claim_now(&Fingerprint::new(&[3; 32]), &owner, HOUR),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim_now(&fresh, &LeaseToken::new(), HOUR),
        ClaimOutcome::InProgress
    );
    assert_eq!(
        store.claim_now(&other, &LeaseToken::new(), HOUR),
        ClaimOutcome::Claimed,
        "forgotten"
    );
}

#[test]
fn concurrent_claims_of_one_fingerprint_have_one_winner() {
    for round in 0..50u32 {
        let store = Arc::new(MemoryStore::default());
        let winners: usize = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..8)
                .map(|_| {
                    let store = Arc::clone(&store);
                    scope.spawn(move || {
                        let outcome = store.claim_now(&fp(round), &LeaseToken::new(), HOUR);
                        usize::from(outcome == ClaimOutcome::Claimed)
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(winners, 1);
    }
}

#[test]
fn a_claim_completed_after_its_lease_ran_out_is_not_the_next_forgotten() {
    // Two groups per shard, all in shard 0.
    let store = MemoryStore::with_capacity(2 * SHARDS);
    let owner = LeaseToken::new();
    let (a, b) = (Fingerprint::new(&[1; 32]), Fingerprint::new(&[2; 32]));
    assert_eq!(
        store.claim_now(&a, &owner, Duration::from_millis(1)),
        ClaimOutcome::Claimed
    );
    assert_eq!(store.claim_now(&b, &owner, HOUR), ClaimOutcome::Claimed);
    std::thread::sleep(Duration::from_millis(5));
    assert!(
        store.complete_now(&a, &owner, HOUR),
        "nobody holds it: done"
    );
    assert_eq!(
        store.claim_now(&Fingerprint::new(&[3; 32]), &owner, HOUR),
        ClaimOutcome::Claimed
    );
    assert_eq!(
        store.claim_now(&a, &LeaseToken::new(), HOUR),
        ClaimOutcome::Done
    );
}
