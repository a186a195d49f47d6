//! The view in a real browser: headless Chromium driven over WebDriver filters the list, opens
//! a dead letter, requeues it, sees it done once a worker handled it — and a hostile name in a
//! genuine delivery stays text: no alert, no injected element.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`.ci/run` installs them). Set
//! `APPWRITE_WEBHOOKS_SKIP_BROWSER=1` to skip it on a machine without them.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use appwrite_webhooks::Delivery;
use appwrite_webhooks::inbox::{RetryPolicy, Workers};
use common::webdriver::{CHROMEDRIVER, Driver};
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn filter_open_requeue_and_see_done_with_a_hostile_name_inert() {
    if std::env::var_os("APPWRITE_WEBHOOKS_SKIP_BROWSER").is_some() {
        eprintln!("skipped: APPWRITE_WEBHOOKS_SKIP_BROWSER is set");
        return;
    }
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists(),
        "the browser test needs {CHROMEDRIVER}: apt-get install chromium chromium-driver \
         (or set APPWRITE_WEBHOOKS_SKIP_BROWSER=1)"
    );

    // A real SQLite inbox, real workers: the hostile user's delivery fails until fixed.
    let inbox = inbox("browser");
    let broken = Arc::new(AtomicBool::new(true));
    let failing = Arc::clone(&broken);
    let workers = Workers::new(inbox.clone(), verifier(), move |delivery: Delivery| {
        let fail = failing.load(Ordering::SeqCst)
            && String::from_utf8_lossy(delivery.bytes()).contains("u-hostile");
        async move {
            if fail {
                Err(std::io::Error::other("the CRM refused <b>it</b>"))
            } else {
                Ok(())
            }
        }
    })
    .with_retry(RetryPolicy::default().with_max_attempts(1))
    .with_poll_interval(Duration::from_millis(50))
    .start();
    user_created(&inbox, "u-ada", "Ada Lovelace").await;
    let hostile = user_created(&inbox, "u-hostile", HOSTILE).await;
    user_created(&inbox, "u-grace", "Grace Hopper").await;
    eventually("one dead letter and two done", async || {
        let stats = inbox.admin().stats().await.unwrap();
        stats.dead == 1 && stats.done == 2
    })
    .await;
    let addr = serve_view(&inbox).await;

    let driver = Driver::start().await;
    let browser = driver.session().await;

    // Filter: dead `users.*.create` deliveries.
    browser.goto(&format!("http://{addr}/deliveries")).await;
    assert_eq!(browser.find_all("a.delivery").await.len(), 3);
    let event = browser.find("#filter-event").await;
    browser.type_into(&event, "users.*.create").await;
    browser
        .click(&browser.find("#filter-state option[value=dead]").await)
        .await;
    browser
        .click_and_load(&browser.find("#filter-submit").await)
        .await;
    let url = browser.current_url().await;
    assert!(
        url.contains("state=dead") && url.contains("event=users.*.create"),
        "{url}"
    );
    let rows = browser.find_all("a.delivery").await;
    assert_eq!(rows.len(), 1);
    assert_eq!(browser.text(&rows[0]).await, hostile.to_string());

    // Open the dead letter: the hostile name is text, inert.
    browser.click_and_load(&rows[0]).await;
    assert!(
        browser
            .current_url()
            .await
            .ends_with(&format!("/deliveries/{hostile}"))
    );
    assert_eq!(
        browser.text(&browser.find("#delivery-state").await).await,
        "dead"
    );
    let body = browser.text(&browser.find("#body").await).await;
    assert!(body.contains(HOSTILE), "{body}");
    assert_no_injection(&browser).await;
    let error = browser.text(&browser.find("#last-error").await).await;
    assert!(error.contains("the CRM refused <b>it</b>"), "{error}");

    // Fix the handler, requeue from the page, and see it done.
    broken.store(false, Ordering::SeqCst);
    browser
        .click_and_load(&browser.find("#requeue").await)
        .await;
    assert!(
        browser
            .text(&browser.find("#notice").await)
            .await
            .contains("Requeued")
    );
    let page = format!("http://{addr}/deliveries/{hostile}");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        browser.goto(&page).await;
        let state = browser.text(&browser.find("#delivery-state").await).await;
        if state == "done" {
            break;
        }
        assert!(Instant::now() < deadline, "still {state} after 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let outcomes: Vec<String> = {
        let mut texts = Vec::new();
        for cell in browser.find_all("#attempts td.outcome").await {
            texts.push(browser.text(&cell).await);
        }
        texts
    };
    assert_eq!(outcomes, ["dead", "done"]);
    assert_no_injection(&browser).await;

    // The overview and the list, with the name in stored data, stay inert too.
    browser.goto(&format!("http://{addr}/")).await;
    assert_eq!(browser.text(&browser.find("#stat-done").await).await, "3");
    assert_eq!(browser.find_all("svg polyline").await.len(), 4);
    assert_no_injection(&browser).await;

    browser.quit().await;
    drop(driver);
    workers.shutdown(Duration::from_secs(5)).await;
}

/// No alert opened, and no element the stored name would have injected.
async fn assert_no_injection(browser: &common::webdriver::Session<'_>) {
    match browser.alert_text().await {
        Err(error) => assert_eq!(error, "no such alert"),
        Ok(text) => panic!("an alert opened: {text}"),
    }
    assert!(browser.find_all("img[onerror]").await.is_empty());
    assert!(browser.find_all("img").await.is_empty());
    assert!(!browser.source().await.contains("<img"));
}

/// Waits (at most 20 s) until `ready`.
async fn eventually(what: &str, mut ready: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready().await {
        assert!(Instant::now() < deadline, "not within 20 s: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
