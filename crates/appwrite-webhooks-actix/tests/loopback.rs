//! The extractor and middleware in a real actix-web server on loopback, with a real client.

use std::net::SocketAddr;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpMessage, HttpRequest, HttpResponse, HttpServer, web};
use appwrite_webhooks::sender::SignedDelivery;
use appwrite_webhooks::{Delivery, Event, Verifier};
use appwrite_webhooks_actix::{AppwriteDelivery, Webhook, require_signature};
use testkit::net::send;
use testkit::{http_suite, scheme_suite};

async fn on_event(Webhook((delivery, event)): Webhook<(Delivery, Event)>) -> HttpResponse {
    HttpResponse::Ok().body(http_suite::expected_body(
        &event,
        delivery.primary_event().as_ref(),
    ))
}

/// Behind the middleware: reads the delivery from the extensions and the body as usual.
async fn signed_only(request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let delivery = request
        .extensions()
        .get::<Delivery>()
        .cloned()
        .expect("set by the middleware");
    assert_eq!(delivery.body(), &body[..]);
    match delivery.event() {
        Ok(event) => HttpResponse::Ok().body(http_suite::expected_body(
            &event,
            delivery.primary_event().as_ref(),
        )),
        Err(error) => HttpResponse::build(
            actix_web::http::StatusCode::from_u16(error.status().as_u16()).unwrap(),
        )
        .body(error.to_string()),
    }
}

/// Starts an actix-web server on a free loopback port (a macro: `App`'s type is unnameable).
macro_rules! start {
    ($app:expr) => {{
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr: SocketAddr = listener.local_addr().unwrap();
        let server = HttpServer::new($app)
            .workers(2)
            .listen(listener)
            .unwrap()
            .run();
        actix_web::rt::spawn(server);
        addr
    }};
}

#[actix_web::test]
async fn extractor_conformance_suite() {
    let verifier = web::Data::new(http_suite::suite_verifier());
    let addr = start!(move || App::new()
        .app_data(verifier.clone())
        .default_service(web::post().to(on_event)));
    http_suite::run_all(addr).await;
}

#[actix_web::test]
async fn middleware_conformance_suite() {
    let verifier = web::Data::new(http_suite::suite_verifier());
    let addr = start!(move || {
        App::new()
            .app_data(verifier.clone())
            .wrap(from_fn(require_signature))
            .default_service(web::post().to(signed_only))
    });
    http_suite::run_all(addr).await;
}

#[actix_web::test]
async fn guard_routes_by_header_and_missing_config_is_a_500() {
    let addr = start!(|| {
        App::new()
            .route("/hook", web::post().guard(AppwriteDelivery).to(on_event))
            .route(
                "/hook",
                web::post().to(|| async { HttpResponse::Accepted().body("other webhook") }),
            )
    });
    let unsigned = SignedDelivery::from_parts(
        "http://example.com/hook".into(),
        http::HeaderMap::new(),
        "{}".into(),
    );
    assert_eq!(send(&unsigned, addr).await.0, 202);
    let sent = http_suite::signed_for("http://example.com/hook", "k");
    assert_eq!(
        send(&sent, addr).await,
        (500, "webhook verifier not configured".to_owned()),
        "no verifier in app data"
    );
}

#[actix_web::test]
async fn plain_verifier_in_app_data_works_too() {
    let url = "http://example.com/hook";
    let addr = start!(move || App::new()
        .app_data(Verifier::new("k", url))
        .route("/hook", web::post().to(on_event)));
    let sent = http_suite::signed_for(url, "k");
    assert_eq!(
        send(&sent, addr).await,
        (200, "Team teams.team_acme.create".to_owned())
    );
}

#[actix_web::test]
async fn replay_guard_in_middleware_and_extractor() {
    use appwrite_webhooks::ReplayGuard;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let url = "http://example.com/hook";
    let ran = Arc::new(AtomicUsize::new(0));
    let verifier =
        web::Data::new(Verifier::new("k", url).with_replay_guard(ReplayGuard::in_memory()));
    let counter = Arc::clone(&ran);
    let addr = start!(move || {
        let counter = Arc::clone(&counter);
        App::new()
            .app_data(verifier.clone())
            .service(
                web::resource("/guarded")
                    .wrap(from_fn(require_signature))
                    .route(web::post().to(move || {
                        // Fails the first time, succeeds after.
                        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
                        async move {
                            if first {
                                HttpResponse::InternalServerError().finish()
                            } else {
                                HttpResponse::NoContent().finish()
                            }
                        }
                    })),
            )
            .route(
                "/extracted",
                web::post().to(|Webhook(_): Webhook<Delivery>| async {
                    HttpResponse::NoContent().finish()
                }),
            )
    });
    // The verifier checks the configured URL, so the path a copy is posted to is free.
    let send = |path: &'static str, sent: SignedDelivery| async move {
        let (_, headers, body) = sent.into_parts();
        let at = SignedDelivery::from_parts(format!("http://example.com{path}"), headers, body);
        send(&at, addr).await.0
    };
    let guarded = http_suite::signed_for(url, "k");
    assert_eq!(
        send("/guarded", guarded.clone()).await,
        500,
        "handler fails: claim released"
    );
    assert_eq!(
        send("/guarded", guarded.clone()).await,
        204,
        "the retry is handled"
    );
    assert_eq!(
        send("/guarded", guarded).await,
        200,
        "then it is a duplicate"
    );
    assert_eq!(ran.load(Ordering::SeqCst), 2);

    let extracted = appwrite_webhooks::sender::DeliveryBuilder::new("k", url, r#"{"$id":"t9"}"#)
        .event(&"teams.t9.create".parse().unwrap())
        .build();
    // The bare extractor cannot see the handler's outcome: it verifies, claims nothing, and
    // every copy reaches the handler.
    assert_eq!(send("/extracted", extracted.clone()).await, 204);
    assert_eq!(send("/extracted", extracted).await, 204);
}

#[actix_web::test]
async fn opt_in_schemes_with_extractor_and_middleware() {
    let schemes = [
        (
            scheme_suite::timestamped_verifier as fn() -> Verifier,
            "timestamped",
        ),
        (scheme_suite::generic_verifier, "generic"),
        (scheme_suite::alert_verifier, "alert"),
    ];
    for (make_verifier, scheme) in schemes {
        for behind_middleware in [false, true] {
            let verifier = web::Data::new(make_verifier());
            let addr = if behind_middleware {
                start!(move || App::new()
                    .app_data(verifier.clone())
                    .wrap(from_fn(require_signature))
                    .route("/hook", web::post().to(signed_only)))
            } else {
                // The extractor behind the middleware that settles its replay claims.
                start!(move || App::new()
                    .app_data(verifier.clone())
                    .wrap(from_fn(require_signature))
                    .route("/hook", web::post().to(on_event)))
            };
            match scheme {
                "timestamped" => scheme_suite::run_timestamped(addr).await,
                "generic" => scheme_suite::run_generic(addr).await,
                _ => scheme_suite::run_alert(addr).await,
            }
        }
    }
}

#[actix_web::test]
async fn http_basic_auth_is_checked_before_the_body() {
    let verifier = web::Data::new(testkit::auth_suite::verifier());
    let data = verifier.clone();
    let extractor = start!(move || App::new()
        .app_data(data.clone())
        .route("/hooks/auth", web::post().to(on_event)));
    testkit::auth_suite::run_all(extractor).await;
    let data = verifier.clone();
    let middleware = start!(move || App::new()
        .app_data(data.clone())
        .wrap(from_fn(require_signature))
        .route("/hooks/auth", web::post().to(signed_only)));
    testkit::auth_suite::run_all(middleware).await;
    let inbox = appwrite_webhooks::inbox::Inbox::new(appwrite_webhooks::MemoryLedger::default());
    let route = appwrite_webhooks_actix::inbox_route(verifier.get_ref().clone(), inbox);
    let _ = route;
    let plain = verifier.get_ref().clone();
    let stored = start!(move || {
        let inbox =
            appwrite_webhooks::inbox::Inbox::new(appwrite_webhooks::MemoryLedger::default());
        App::new().route(
            "/hooks/auth",
            appwrite_webhooks_actix::inbox_route(plain.clone(), inbox),
        )
    });
    testkit::auth_suite::run_all(stored).await;
}
