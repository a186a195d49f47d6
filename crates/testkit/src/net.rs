//! The network side of tests: one way to send a signed delivery to a server on loopback, and
//! one way to serve a tower service there.

use std::convert::Infallible;
use std::net::SocketAddr;

use appwrite_webhooks::sender::SignedDelivery;
use bytes::Bytes;
use http::header;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

/// The path and query of `url`, as a server sees them (`/` when it has none).
pub fn path_and_query(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme.find('/').map_or("/", |i| &after_scheme[i..])
}

/// `sent` with `extra` headers added (or replacing its own of the same name); the signature is
/// unchanged.
pub fn with_headers(
    sent: &SignedDelivery,
    extra: &[(&'static str, &'static str)],
) -> SignedDelivery {
    let (url, mut headers, body) = sent.clone().into_parts();
    for (name, value) in extra {
        headers.insert(*name, http::HeaderValue::from_static(value));
    }
    SignedDelivery::from_parts(url, headers, body)
}

/// POSTs `sent` — every header it carries, its body byte for byte — to the server at `addr`,
/// at its URL's path and query. Returns the status and the response body as text.
///
/// The client computes `Content-Length` from the body; the delivery's own is not sent, so a
/// delivery rebuilt with another body stays consistent.
pub async fn send(sent: &SignedDelivery, addr: SocketAddr) -> (u16, String) {
    send_body(sent, addr, Full::new(Bytes::copy_from_slice(sent.body())))
        .await
        .unwrap_or_else(|error| panic!("POST to {addr} failed: {error:?}"))
}

/// The POST of `sent` to the server at `addr`, at its URL's path and query: its body byte for
/// byte and every header but `Content-Length` (the client computes it from the body).
pub fn request(sent: &SignedDelivery, addr: SocketAddr) -> http::Request<Full<Bytes>> {
    with_body(sent, addr, Full::new(Bytes::copy_from_slice(sent.body())))
}

fn with_body<B>(sent: &SignedDelivery, addr: SocketAddr, body: B) -> http::Request<B> {
    let mut request = http::Request::post(format!("http://{addr}{}", path_and_query(sent.url())))
        .body(body)
        .expect("a request");
    for (name, value) in sent.headers() {
        if name != header::CONTENT_LENGTH {
            request.headers_mut().append(name, value.clone());
        }
    }
    request
}

/// [`send`] with another body, such as a chunked stream without a length. The error is the
/// client's, for tests in which the server may close the connection first.
pub async fn send_body<B>(
    sent: &SignedDelivery,
    addr: SocketAddr,
    body: B,
) -> Result<(u16, String), hyper_util::client::legacy::Error>
where
    B: http_body::Body<Data = Bytes> + Send + Unpin + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let client = Client::builder(TokioExecutor::new()).build_http();
    let response = client.request(with_body(sent, addr, body)).await?;
    let status = response.status().as_u16();
    let text = match response.into_body().collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    Ok((status, text))
}

/// Serves `service` over HTTP/1 on a free loopback port until the runtime ends; returns its
/// address.
pub async fn serve_tower<S, B>(service: S) -> SocketAddr
where
    S: tower_service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = hyper_util::service::TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}
