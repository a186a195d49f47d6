//! Keys per tenant, keys that expire, keys replaced at run time and the injected clock.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{
    Delivery, Error, KeySource, MAX_KEYS_PER_DELIVERY, ManualClock, PerTenant, ReplayGuard,
    SigningKey, StoreError, Tenant, Verifier,
};
use http_body_util::Full;

const URL: &str = "https://hooks.example.com/appwrite";

fn sent(key: &str, webhook: &str, project: &str) -> SignedDelivery {
    DeliveryBuilder::new(key, URL, r#"{"$id":"t1","name":"Team"}"#)
        .event(&"teams.t1.create".parse().unwrap())
        .webhook_id(webhook)
        .project_id(project)
        .build()
}

async fn receive<K: KeySource>(
    verifier: &Verifier<K>,
    sent: &SignedDelivery,
) -> Result<String, Error> {
    let (parts, body) = sent.clone().into_request().into_parts();
    let delivery: Delivery = verifier
        .extract(&parts.uri, &parts.headers, Full::new(body))
        .await?;
    Ok(format!(
        "{}/{} key {}",
        delivery.project_id(),
        delivery.webhook_id(),
        delivery.key_label().unwrap_or("?")
    ))
}

/// A resolver for two projects, counting its calls; project `down` fails, `many` has six keys.
fn resolver(calls: Arc<AtomicUsize>) -> Verifier<PerTenant> {
    Verifier::per_tenant(
        move |tenant: Tenant| {
            let calls = Arc::clone(&calls);
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                let key = |k: &str| SigningKey::from(k).label(k.to_owned());
                match (tenant.project_id.as_str(), tenant.webhook_id.as_str()) {
                    ("shop", "wh1") => Ok(vec![key("shop-key")]),
                    ("blog", "wh2") => Ok(vec![key("blog-new"), key("blog-old")]),
                    ("many", _) => Ok((1..=6).map(|i| key(&format!("many-{i}"))).collect()),
                    ("down", _) => Err(StoreError("the keys database is down".into())),
                    _ => Ok(vec![]),
                }
            }
        },
        URL,
    )
}

#[tokio::test]
async fn a_resolver_serves_two_projects_with_their_own_keys_and_caches_them() {
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = ManualClock::at(UNIX_EPOCH + Duration::from_secs(1_800_000_000));
    let verifier = resolver(Arc::clone(&calls))
        .with_clock(clock.clone())
        .with_key_cache_ttl(Duration::from_secs(60));

    assert_eq!(
        receive(&verifier, &sent("shop-key", "wh1", "shop"))
            .await
            .unwrap(),
        "shop/wh1 key shop-key"
    );
    assert_eq!(
        receive(&verifier, &sent("blog-old", "wh2", "blog"))
            .await
            .unwrap(),
        "blog/wh2 key blog-old"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // Cached: the same tenants again do not ask the resolver.
    for _ in 0..5 {
        receive(&verifier, &sent("shop-key", "wh1", "shop"))
            .await
            .unwrap();
        receive(&verifier, &sent("blog-new", "wh2", "blog"))
            .await
            .unwrap();
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);

    // The headers only choose the keys: a shop delivery relabelled as the blog's fails.
    assert!(matches!(
        receive(&verifier, &sent("shop-key", "wh2", "blog")).await,
        Err(Error::SignatureMismatch)
    ));
    // An unknown tenant is a 401; a flood of odd ids never reaches the resolver.
    let unknown = receive(&verifier, &sent("shop-key", "wh9", "nobody")).await;
    assert!(matches!(unknown, Err(Error::UnknownTenant)), "{unknown:?}");
    assert_eq!(unknown.unwrap_err().status(), 401);
    let before = calls.load(Ordering::SeqCst);
    for hostile in ["a b", "w*1", "wé", &"w".repeat(100), "../etc"] {
        let outcome = receive(&verifier, &sent("shop-key", hostile, "shop")).await;
        assert!(matches!(outcome, Err(Error::UnknownTenant)), "{hostile:?}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), before);

    // A resolver that fails is a 503, and is asked again next time (not cached).
    for _ in 0..2 {
        let down = receive(&verifier, &sent("k", "wh1", "down"))
            .await
            .unwrap_err();
        assert!(matches!(down, Error::KeyResolver(_)), "{down:?}");
        assert_eq!(down.status(), 503);
    }
    assert_eq!(calls.load(Ordering::SeqCst), before + 2);

    // Past the TTL the resolver is asked again; forgetting the cache does the same.
    let before = calls.load(Ordering::SeqCst);
    clock.advance(Duration::from_secs(61));
    receive(&verifier, &sent("shop-key", "wh1", "shop"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before + 1);
    verifier.forget_cached_keys();
    receive(&verifier, &sent("shop-key", "wh1", "shop"))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before + 2);
    // Synchronous verification cannot wait for a resolver: `verifier.verify(..)` does not
    // compile on a `Verifier<PerTenant>` (the `compile_fail` examples on `KeySource`).
}

#[tokio::test]
async fn every_asynchronous_entry_point_takes_a_per_tenant_verifier() {
    use appwrite_webhooks::{Admission, Served, inbox::Received};
    let verifier = resolver(Arc::new(AtomicUsize::new(0)))
        .with_replay_guard(ReplayGuard::in_memory())
        .with_url("https://other.example.com/appwrite");
    let shop = sent("shop-key", "wh1", "shop");

    let (parts, body) = shop.clone().into_request().into_parts();
    let (delivery, admission) = verifier
        .receive(&parts.uri, &parts.headers, Full::new(body))
        .await
        .unwrap();
    let Admission::Handle(claim) = admission else {
        panic!("the first copy is handled")
    };
    claim.settle(true).await;
    assert!(matches!(
        verifier.admit(&delivery).await,
        Ok(Admission::Duplicate { .. })
    ));

    let received = Received::new(&parts.uri, &parts.headers, &delivery);
    assert_eq!(
        verifier
            .verify_stored(&received)
            .await
            .unwrap()
            .project_id(),
        "shop"
    );

    let (parts, body) = sent("blog-new", "wh2", "blog").into_request().into_parts();
    let handler = |delivery: Delivery, _| async move {
        Ok::<_, std::convert::Infallible>(delivery.project_id().to_owned())
    };
    let served = verifier
        .serve(parts, Full::new(body), handler, |_| 200)
        .await;
    assert!(matches!(served, Ok(Served::Handled(project)) if project == "blog"));
}

#[tokio::test]
async fn one_delivery_tries_a_bounded_number_of_keys() {
    let verifier = resolver(Arc::new(AtomicUsize::new(0)));
    let last_tried = format!("many-{MAX_KEYS_PER_DELIVERY}");
    assert!(
        receive(&verifier, &sent(&last_tried, "w", "many"))
            .await
            .is_ok()
    );
    let past = format!("many-{}", MAX_KEYS_PER_DELIVERY + 1);
    assert!(matches!(
        receive(&verifier, &sent(&past, "w", "many")).await,
        Err(Error::SignatureMismatch)
    ));
}

#[tokio::test]
async fn a_key_expires_mid_test_by_the_injected_clock() {
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = ManualClock::at(start);
    let verifier = Verifier::new(SigningKey::from("new").label("current"), URL)
        .with_key(
            SigningKey::from("old")
                .label("previous")
                .not_after(start + Duration::from_secs(10)),
        )
        .with_clock(clock.clone());
    let old = sent("old", "w", "p");
    let new = sent("new", "w", "p");
    assert_eq!(
        verifier
            .verify(old.headers(), old.body())
            .unwrap()
            .key_index(),
        1
    );
    clock.advance(Duration::from_secs(10));
    assert!(
        verifier.verify(old.headers(), old.body()).is_ok(),
        "valid up to not_after"
    );
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        verifier.verify(old.headers(), old.body()),
        Err(Error::SignatureMismatch)
    ));
    assert_eq!(
        verifier
            .verify(new.headers(), new.body())
            .unwrap()
            .key_index(),
        0
    );

    // Resolved keys expire the same way.
    let resolved = Verifier::per_tenant(
        move |_: Tenant| async move {
            Ok::<_, StoreError>(vec![
                SigningKey::from("old").not_after(start + Duration::from_secs(10)),
            ])
        },
        URL,
    )
    .with_clock(clock.clone());
    assert!(matches!(
        receive(&resolved, &old).await,
        Err(Error::SignatureMismatch)
    ));
    clock.set(start);
    assert!(receive(&resolved, &old).await.is_ok());
}

#[test]
fn keys_are_replaced_at_run_time_for_every_clone() {
    let verifier = Verifier::new("k1", URL);
    let serving = verifier.clone();
    let k2 = sent("k2", "w", "p");
    assert!(serving.verify(k2.headers(), k2.body()).is_err());
    verifier.replace_keys(["k2", "k1"]).unwrap();
    assert_eq!(
        serving.verify(k2.headers(), k2.body()).unwrap().key_index(),
        0
    );
    verifier.replace_keys(["k2"]).unwrap();
    let k1 = sent("k1", "w", "p");
    assert!(serving.verify(k1.headers(), k1.body()).is_err());
    // Refused, and the keys stay as they were.
    assert!(verifier.replace_keys(Vec::<String>::new()).is_err());
    assert!(verifier.replace_keys(["k3", ""]).is_err());
    assert!(serving.verify(k2.headers(), k2.body()).is_ok());
}

#[tokio::test]
async fn max_age_and_tolerance_read_the_injected_clock() {
    let updated = "2030-01-01T00:00:00.000+00:00";
    let body =
        format!(r#"{{"$id":"t1","name":"T","$createdAt":"{updated}","$updatedAt":"{updated}"}}"#);
    let sent = DeliveryBuilder::new("k", URL, body)
        .event(&"teams.t1.create".parse().unwrap())
        .build();
    let at = |secs| UNIX_EPOCH + Duration::from_secs(1_893_456_000) + Duration::from_secs(secs);
    let clock = ManualClock::at(at(30));
    let verifier = Verifier::new("k", URL)
        .with_replay_guard(ReplayGuard::in_memory().with_max_age(Duration::from_secs(60)))
        .with_clock(clock.clone());
    let delivery = verifier.verify(sent.headers(), sent.body()).unwrap();
    assert!(verifier.admit(&delivery).await.is_ok(), "30 s old");
    clock.set(at(61));
    assert!(matches!(
        verifier.admit(&delivery).await,
        Err(Error::Stale { .. })
    ));
}
