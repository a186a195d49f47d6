//! The server the at-least-once and observability tests drive: the extractor on `POST /hook`,
//! under the layer or bare, running the suite's [`Handler`].

use std::net::SocketAddr;

use appwrite_webhooks::{Delivery, Verifier};
use appwrite_webhooks_axum::{AppwriteWebhookLayer, Webhook};
use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use testkit::at_least_once::{Act, BEHAVIOUR, Handler};

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    handler: Handler,
}

impl FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

async fn on_event(
    State(state): State<AppState>,
    headers: HeaderMap,
    Webhook(delivery): Webhook<Delivery>,
) -> StatusCode {
    let behaviour = headers.get(BEHAVIOUR).and_then(|v| v.to_str().ok());
    match state.handler.act(behaviour, delivery.body()).await {
        Act::Status(status) => StatusCode::from_u16(status).unwrap(),
        Act::Err => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

pub async fn spawn(verifier: Verifier, handler: Handler, layer: bool) -> SocketAddr {
    let mut app = Router::new().route("/hook", post(on_event));
    if layer {
        app = app.route_layer(AppwriteWebhookLayer::new(verifier.clone()));
    }
    let app = app.with_state(AppState { verifier, handler });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}
