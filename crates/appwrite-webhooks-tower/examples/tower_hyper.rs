//! An Appwrite webhook receiver with plain hyper and the tower layer: the layer verifies, the
//! service reads the `Delivery` from the request extensions.
//!
//! ```sh
//! cargo run -p appwrite-webhooks-tower --example tower_hyper     # serve on loopback, play Appwrite against it, exit
//! ```
//!
//! Only published crates (`appwrite-webhooks` with `sender` to sign what it sends): copy it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use appwrite_webhooks::sender::{DeliveryBuilder, SignedDelivery};
use appwrite_webhooks::{Delivery, ReplayGuard, Verifier};
use appwrite_webhooks_tower::AppwriteWebhookLayer;
use bytes::Bytes;
use http::{HeaderValue, header};
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tower::ServiceBuilder;

/// The key the webhook has in Appwrite (here, a made-up one: both sides are in this file).
const KEY: &str = "whsec_a819408ce5010ca2e09ef59ac3d89f5ff8595d02b524e61b";

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
            Verifier::new(KEY, url.as_str())
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
    play_appwrite(addr, &url).await
}

/// A row-created body exactly as Appwrite's PHP encodes it: `\/` and `\u00eb` escapes.
const ROW_BODY: &str = r#"{"$id":"ord_1042","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":["read(\"any\")"],"customer":"Zo\u00eb M\u00fcller","note":"ships to https:\/\/example.com\/a\/b","total":10}"#;

/// What a case must get.
#[derive(Clone, Copy)]
enum Expect {
    /// 2xx from the handler.
    Handled,
    /// 401: the signature does not match.
    Unauthorized,
    /// 200 from the replay guard, the handler not run.
    Duplicate,
    /// 400: the (unsigned) events header contradicts the signed body.
    Malformed,
}

/// Sends what Appwrite sends, signed for `url`, and what an attacker would: a delivery signed
/// with a guessed key, one whose body was re-serialised after signing, the genuine one again,
/// and a captured copy whose (unsigned) events header names another row. Prints each answer.
async fn play_appwrite(addr: SocketAddr, url: &str) -> ExitCode {
    let event = match "tablesdb.shop.tables.orders.rows.ord_1042.create".parse() {
        Ok(event) => event,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::FAILURE;
        }
    };
    let genuine = DeliveryBuilder::new(KEY, url, ROW_BODY)
        .event(&event)
        .webhook_name("Orders sync")
        .build();
    let forged = DeliveryBuilder::new("a-guessed-key", url, ROW_BODY)
        .event(&event)
        .build();
    // What a framework that parses and re-serialises JSON before verifying would pass on.
    let (to, headers, _) = genuine.clone().into_parts();
    let reencoded = SignedDelivery::from_parts(to, headers, ROW_BODY.replace("\\/", "/").into());
    // A captured copy replayed with its events header turned into the deletion of another row.
    let (to, mut headers, body) = genuine.clone().into_parts();
    headers.insert(
        appwrite_webhooks::headers::WEBHOOK_EVENTS,
        HeaderValue::from_static("tablesdb.shop.tables.orders.rows.ord_1.delete"),
    );
    let relabelled = SignedDelivery::from_parts(to, headers, body);

    let cases = [
        ("genuine delivery", &genuine, Expect::Handled),
        ("forged signature", &forged, Expect::Unauthorized),
        ("re-serialised body", &reencoded, Expect::Unauthorized),
        (
            "the same delivery again (Appwrite re-sends)",
            &genuine,
            Expect::Duplicate,
        ),
        (
            "a captured copy relabelled as another row's delete",
            &relabelled,
            Expect::Malformed,
        ),
    ];
    let mut as_expected = true;
    for (label, sent, expect) in cases {
        println!("sending {label}");
        let (status, text) = match send(addr, sent).await {
            Ok(answer) => answer,
            Err(error) => {
                eprintln!("cannot reach the receiver at {addr}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let duplicate = text.contains("duplicate");
        let verdict = match status {
            200 if duplicate => "duplicate, not handled again",
            200..300 => "accepted",
            _ => "rejected",
        };
        println!("  {verdict}: {status} {text}\n");
        as_expected &= match expect {
            Expect::Handled => (200..300).contains(&status) && !duplicate,
            Expect::Unauthorized => status == 401,
            Expect::Duplicate => status == 200 && duplicate,
            Expect::Malformed => status == 400,
        };
    }
    if as_expected {
        println!(
            "all as expected: the genuine delivery was handled once, the forgeries and the relabelled copy rejected"
        );
        ExitCode::SUCCESS
    } else {
        println!("unexpected result");
        ExitCode::FAILURE
    }
}

/// Sends `sent` to `addr` (a POST) at its URL's path, as HTTP/1.1 over a fresh connection: the body byte
/// for byte, every header (`Content-Length` from the body as sent). The status and the body.
async fn send(addr: SocketAddr, sent: &SignedDelivery) -> std::io::Result<(u16, String)> {
    let path = sent
        .url()
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| uri.path_and_query().map(|p| p.as_str().to_owned()))
        .unwrap_or_else(|| "/".to_owned());
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-length: {}\r\n",
        sent.body().len()
    )
    .into_bytes();
    for (name, value) in sent.headers() {
        if name != header::CONTENT_LENGTH {
            request.extend_from_slice(name.as_str().as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value.as_bytes());
            request.extend_from_slice(b"\r\n");
        }
    }
    request.extend_from_slice(b"\r\n");
    request.extend_from_slice(sent.body());
    let mut stream = tokio::net::TcpStream::connect(addr).await?;
    stream.write_all(&request).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok((status, body.trim().to_owned()))
}
