//! `inbox_route` under actix-web on loopback, storing into a real SQLite file.

use actix_web::{App, HttpServer};
use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks_actix::inbox_route;
use testkit::{http_suite, inbox_suite};

fn serve(inbox: &Inbox) -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (verifier, inbox) = (http_suite::suite_verifier(), inbox.clone());
    // Every sample's path: the route is the default service.
    let server = HttpServer::new(move || {
        App::new().default_service(inbox_route(verifier.clone(), inbox.clone()))
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    addr
}

#[actix_web::test]
async fn stores_every_version_once_and_refuses_forgeries() {
    let inbox = inbox_suite::sqlite_inbox("actix-suite", None);
    testkit::inbox_http::over_http(serve(&inbox), &inbox).await;
}

#[actix_web::test]
async fn a_full_store_is_a_503_and_nothing_half_way() {
    let inbox = inbox_suite::sqlite_inbox("actix-full", Some(64 * 1024));
    testkit::inbox_http::answers_503_when_the_store_fails(serve(&inbox), &inbox).await;
}
