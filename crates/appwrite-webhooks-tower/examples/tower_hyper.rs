//! An Appwrite webhook receiver with plain hyper and the tower layer: the layer verifies, the
//! service reads the `Delivery` from the request extensions.
//!
//! ```sh
//! cargo run -p appwrite-webhooks-tower --example tower_hyper     # serve on loopback, play Appwrite against it, exit
//! ```

use std::convert::Infallible;
use std::process::ExitCode;
use std::time::Duration;

use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use testkit::demo;
use tower::ServiceBuilder;

async fn handle(request: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    let Some(delivery) = request.extensions().get::<Delivery>() else {
        unreachable!("the layer only calls this service with a verified delivery");
    };
    let mut response = Response::new(Full::default());
    match delivery.event() {
        Ok(event) => {
            println!(
                "  handler: {:?} event {}",
                event.kind(),
                delivery.events().next().unwrap_or("")
            );
            *response.status_mut() = StatusCode::NO_CONTENT;
        }
        Err(error) => *response.status_mut() = error.status(),
    }
    Ok(response)
}

#[tokio::main]
async fn main() -> ExitCode {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    let url = format!("http://{addr}/hooks/appwrite");
    let service = ServiceBuilder::new()
        .layer(AppwriteWebhookLayer::new(
            Verifier::new(demo::KEY, url.as_str())
                .with_replay_guard(ReplayGuard::in_memory())
                .with_body_timeout(Duration::from_secs(10)),
        ))
        .service_fn(handle);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(
                hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service),
            );
        }
    });
    println!("hyper + tower receiver listening at {url}\n");
    demo::run(addr, &url).await
}
