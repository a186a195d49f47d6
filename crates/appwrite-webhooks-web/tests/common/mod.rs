//! A real SQLite inbox on a temporary file, the view served on a loopback port, and a plain
//! HTTP/1 client.

#![allow(dead_code)]

pub mod webdriver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use appwrite_webhooks::Verifier;
use appwrite_webhooks::inbox::{Inbox, Put};
use appwrite_webhooks::sender::DeliveryBuilder;
use appwrite_webhooks_sqlite::SqliteLedger;
use appwrite_webhooks_web::InboxView;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

pub const KEY: &str = "web-test-key";
pub const URL: &str = "https://example.com/hooks";

/// The name an attacker gives their Appwrite account.
pub const HOSTILE: &str = "<img src=x onerror=alert(1)>";

pub fn temp_file(name: &str) -> PathBuf {
    testkit::scratch::dir(&format!("web-{name}")).join("inbox.db")
}

pub fn verifier() -> Verifier {
    Verifier::new(KEY, URL)
}

pub fn inbox(name: &str) -> Inbox {
    Inbox::new(SqliteLedger::open(temp_file(name)).unwrap())
}

/// Stores a genuine `users.<id>.create` delivery for a user called `name`; returns its id.
pub async fn user_created(inbox: &Inbox, user: &str, name: &str) -> u64 {
    let body =
        serde_json::json!({ "$id": user, "name": name, "email": format!("{user}@example.com") })
            .to_string();
    let sent = DeliveryBuilder::new(KEY, URL, body)
        .events([
            format!("users.{user}.create"),
            "users.*.create".to_owned(),
            format!("users.{user}"),
            "users.*".to_owned(),
        ])
        .delivery_id(format!("dlv-{user}"))
        .build();
    let (parts, body) = sent.into_request().into_parts();
    match inbox
        .accept(&verifier(), &parts.uri, &parts.headers, Full::new(body))
        .await
        .unwrap()
    {
        Put::Stored(id) => id,
        other => panic!("{other:?}"),
    }
}

/// Takes the oldest due delivery and sends it to the dead letters with `error`.
pub async fn kill_next(inbox: &Inbox, error: &str) -> u64 {
    let taken = inbox
        .store()
        .take("test-worker", Duration::from_secs(60))
        .await
        .unwrap()
        .expect("a due delivery");
    assert!(inbox.store().dead(&taken.lease, error).await.unwrap());
    taken.lease.id
}

/// Serves `app` on a free loopback port.
pub async fn serve(app: axum::Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    addr
}

pub async fn serve_view(inbox: &Inbox) -> SocketAddr {
    serve(InboxView::new(inbox.clone()).router()).await
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The CSRF token in the page's forms.
    pub fn csrf(&self) -> String {
        let text = self.text();
        let at = text.find("name=\"csrf\" value=\"").expect("a form") + 19;
        text[at..at + 64].to_owned()
    }
}

pub async fn send(request: Request<Full<bytes::Bytes>>) -> Answer {
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let response = tokio::time::timeout(Duration::from_secs(20), client.request(request))
        .await
        .expect("an answer within 20 s")
        .unwrap();
    let (parts, body) = response.into_parts();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: body.collect().await.unwrap().to_bytes(),
    }
}

pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    send(
        Request::get(format!("http://{addr}{path}"))
            .body(Full::default())
            .unwrap(),
    )
    .await
}

/// A form POST as a browser on the view's page sends it: Origin, the cookie, the token.
pub async fn post_form(addr: SocketAddr, path: &str, token: &str, extra: &str) -> Answer {
    post_raw(
        addr,
        path,
        &[
            ("origin", format!("http://{addr}")),
            ("cookie", format!("appwrite_webhooks_csrf={token}")),
        ],
        &format!("csrf={token}{extra}"),
    )
    .await
}

pub async fn post_raw(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, String)],
    form: &str,
) -> Answer {
    let mut request = Request::post(format!("http://{addr}{path}"))
        .header("content-type", "application/x-www-form-urlencoded");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    send(request.body(Full::new(form.to_owned().into())).unwrap()).await
}
