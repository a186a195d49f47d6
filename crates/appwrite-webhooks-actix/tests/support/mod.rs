//! The server the at-least-once and observability tests drive: the extractor on `POST /hook`,
//! behind the `require_signature` middleware or bare, running the suite's [`Handler`].

use std::net::SocketAddr;

use actix_web::middleware::from_fn;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use appwrite_webhooks::{Delivery, Verifier};
use appwrite_webhooks_actix::{Webhook, require_signature};
use testkit::at_least_once::{Act, BEHAVIOUR, Handler};

pub async fn on_event(
    request: HttpRequest,
    handler: web::Data<Handler>,
    Webhook(delivery): Webhook<Delivery>,
) -> HttpResponse {
    let behaviour = request
        .headers()
        .get(BEHAVIOUR)
        .and_then(|v| v.to_str().ok());
    let status = match handler.act(behaviour, delivery.body()).await {
        Act::Status(status) => status,
        Act::Err => 500,
    };
    HttpResponse::build(actix_web::http::StatusCode::from_u16(status).unwrap()).finish()
}

pub fn start(verifier: Verifier, handler: Handler, middleware: bool) -> SocketAddr {
    start_route(verifier, handler, middleware, || web::post().to(on_event))
}

/// `route` on `POST /hook`, behind the middleware or not, with the verifier and handler as data.
pub fn start_route(
    verifier: Verifier,
    handler: Handler,
    middleware: bool,
    route: impl Fn() -> actix_web::Route + Clone + Send + 'static,
) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (verifier, handler) = (web::Data::new(verifier), web::Data::new(handler));
    let server = HttpServer::new(move || {
        let resource = web::resource("/hook").route(route());
        let app = App::new()
            .app_data(verifier.clone())
            .app_data(handler.clone());
        if middleware {
            app.service(resource.wrap(from_fn(require_signature)))
        } else {
            // The same type either way: an identity wrap where the middleware would be.
            app.service(resource.wrap(from_fn(pass_through)))
        }
    })
    .workers(2)
    .listen(listener)
    .unwrap()
    .run();
    actix_web::rt::spawn(server);
    addr
}

async fn pass_through(
    request: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    next.call(request).await
}
