//! `conformance` against the workspace's own receivers on loopback: every adapter (and
//! `listen`) passes. Main's deliveries carry a delivery id per delivery and are redelivered
//! with it; a receiver refusing redeliveries fails that check.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use appwrite_webhooks::MemoryLedger;
use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
use bytes::Bytes;
use common::BIN;
use common::grading::{
    KEY, Seen, Spawned, URL, failed, genuine, grade, header, raw_receiver, result, typed, wait_for,
};
use http::Request;
use http_body_util::Full;

fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
        .with_replay_guard(ReplayGuard::in_memory())
        .with_body_timeout(Duration::from_secs(2))
}

/// Every adapter passes every required check, and the optional replay and stall checks.
fn assert_passes(name: &str, addr: SocketAddr, url: &str) {
    let (code, report, output) = grade(addr, url, &[]);
    assert_eq!(
        failed(&report, true),
        BTreeSet::new(),
        "{name}: {}",
        common::stdout(&output)
    );
    assert_eq!(code, Some(0), "{name}");
    assert_eq!(report["format"], "appwrite-webhooks-conformance/1");
    assert_eq!(report["passed"], true, "{name}");
    let genuine = genuine(&report);
    assert!(genuine >= 529, "{name}: {genuine} genuine deliveries");
    // The redelivery: main's last delivery again, with its delivery id (the crate's replay
    // guard knows it by that id, and answers the repeat 2xx).
    for id in [
        "optional/replay",
        "optional/stalled-body",
        "optional/redelivery",
    ] {
        assert_eq!(result(&report, id), "pass", "{name}: {id}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_adapter_of_the_workspace_passes() {
    // tower: the layer, the typed event in the inner service.
    let service = tower::ServiceBuilder::new()
        .layer(appwrite_webhooks_tower::AppwriteWebhookLayer::new(
            verifier(),
        ))
        .service_fn(|request: Request<Full<Bytes>>| async move {
            let delivery = request.extensions().get::<Delivery>().unwrap().clone();
            Ok::<_, std::convert::Infallible>(typed(&delivery).await)
        });
    let tower_addr = testkit::net::serve_tower(service).await;

    // axum: the extractor under the layer.
    let app = axum::Router::new()
        .fallback(axum::routing::post(
            |appwrite_webhooks_axum::Webhook(_event): appwrite_webhooks_axum::Webhook| async {
                axum::http::StatusCode::NO_CONTENT
            },
        ))
        .layer(appwrite_webhooks_axum::AppwriteWebhookLayer::new(verifier()))
        .with_state(verifier());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let axum_addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // Inbox mode: the tower route over a memory inbox.
    let inbox = Inbox::new(MemoryLedger::default());
    let stored = appwrite_webhooks_tower::InboxService::new(verifier(), inbox);
    let inbox_addr = testkit::net::serve_tower(stored).await;

    // actix-web: the extractor behind the middleware, on its own runtime.
    // Bound here, before the server starts: a port chosen free and bound later may be taken.
    let actix_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let actix_addr = actix_listener.local_addr().unwrap();
    std::thread::spawn(move || {
        use actix_web::{App, HttpResponse, HttpServer, middleware::from_fn, web};
        actix_web::rt::System::new().block_on(async move {
            let data = web::Data::new(verifier());
            HttpServer::new(move || {
                App::new()
                    .app_data(data.clone())
                    .wrap(from_fn(appwrite_webhooks_actix::require_signature))
                    .default_service(web::post().to(
                        |appwrite_webhooks_actix::Webhook(_event): appwrite_webhooks_actix::Webhook| async {
                            HttpResponse::NoContent().finish()
                        },
                    ))
            })
            .workers(2)
            .listen(actix_listener)
            .unwrap()
            .run()
            .await
            .unwrap();
        });
    });
    wait_for(actix_addr);

    // listen, the CLI's own receiver.
    let listen = Spawned::new(Command::new(BIN).args([
        "listen",
        "--key",
        KEY,
        "--url",
        URL,
        "--port",
        "0",
        "--body-timeout",
        "2",
    ]));

    let receivers = [
        ("tower", tower_addr),
        ("axum", axum_addr),
        ("inbox", inbox_addr),
        ("actix", actix_addr),
        ("listen", listen.addr),
    ];
    let graded = tokio::task::spawn_blocking(move || {
        for (name, addr) in receivers {
            assert_passes(name, addr, URL);
        }
    });
    graded.await.unwrap();
    drop(listen);
}

/// Main's genuine deliveries carry `X-Appwrite-Webhook-Delivery-Id` as Appwrite after 1.9.6
/// sends it — a fresh id per delivery — and the redelivery repeats one with the same id and the
/// same bytes; releases up to 1.9.6 send none, and then there is no redelivery to check.
#[test]
fn main_sends_one_delivery_id_per_delivery_and_redelivers_with_it() {
    let (addr, seen) = raw_receiver(Box::new(|_| 204));
    let (_, report, _) = grade(addr, URL, &["--appwrite-version", "main"]);
    let genuine_main = genuine(&report);
    let with_ids: Vec<(String, Vec<u8>)> = seen
        .lock()
        .unwrap()
        .iter()
        .filter_map(|s| {
            header(s, "X-Appwrite-Webhook-Delivery-Id").map(|id| (id.to_owned(), s.1.clone()))
        })
        .collect();
    let distinct: BTreeSet<&str> = with_ids.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(distinct.len(), genuine_main, "one id per genuine delivery");
    assert!(distinct.iter().all(|id| id.len() == 20), "{distinct:?}");
    // The replay and the redelivery: ids seen before, each with the bytes it was first sent with.
    assert_eq!(with_ids.len(), genuine_main + 2);
    for (id, body) in &with_ids[genuine_main..] {
        let first = with_ids.iter().find(|(i, _)| i == id).unwrap();
        assert_eq!(&first.1, body, "{id}: another body under the same id");
    }
    assert_eq!(result(&report, "optional/redelivery"), "pass");

    let (addr, seen) = raw_receiver(Box::new(|_| 204));
    let (_, report, _) = grade(addr, URL, &["--appwrite-version", "1.9.6"]);
    assert!(
        seen.lock()
            .unwrap()
            .iter()
            .all(|s| header(s, "X-Appwrite-Webhook-Delivery-Id").is_none())
    );
    assert_eq!(result(&report, "optional/redelivery"), "skip");
}

/// A receiver that refuses every redelivery by its id (409, "already seen") fails the
/// redelivery check, and only that one among the optional ones it could pass.
#[test]
fn a_receiver_refusing_redeliveries_fails_the_redelivery_check() {
    let ids = std::sync::Mutex::new(BTreeSet::new());
    let (addr, _) = raw_receiver(Box::new(move |s: &Seen| {
        match header(s, "X-Appwrite-Webhook-Delivery-Id") {
            Some(id) if !ids.lock().unwrap().insert(id.to_owned()) => 409,
            _ => 204,
        }
    }));
    let (_, report, _) = grade(addr, URL, &["--appwrite-version", "main"]);
    assert_eq!(result(&report, "optional/redelivery"), "fail");
}
