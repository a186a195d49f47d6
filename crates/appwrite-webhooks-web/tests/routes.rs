//! Every route over a real SQLite file, through a real HTTP client on loopback.

mod common;

use std::time::Duration;

use appwrite_webhooks::inbox::State;
use appwrite_webhooks_web::{CONTENT_SECURITY_POLICY, Credentials, InboxView};
use base64::Engine as _;
use common::*;
use http::StatusCode;

#[tokio::test]
async fn the_overview_counts_states_and_charts_the_hour_with_security_headers() {
    let inbox = inbox("overview");
    for n in 0..3 {
        user_created(&inbox, &format!("u{n}"), "Ada").await;
    }
    kill_next(&inbox, "handler said no").await;
    let addr = serve_view(&inbox).await;

    let page = get(addr, "/").await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("id=\"stat-stored\"><a href=\"/deliveries\">3<"),
        "{text}"
    );
    assert!(text.contains("id=\"stat-dead\"><a href=\"/dead\">1<"));
    assert!(text.contains("<svg") && text.matches("<polyline").count() == 4);
    assert!(text.contains("id=\"total-received\">3<"));
    assert!(text.contains("id=\"total-failed\">1<"));
    assert!(!text.contains("<script"));
    assert_eq!(
        page.header("content-security-policy"),
        CONTENT_SECURITY_POLICY
    );
    assert_eq!(page.header("x-frame-options"), "DENY");
    assert_eq!(page.header("x-content-type-options"), "nosniff");
    assert!(page.header("set-cookie").contains("SameSite=Strict"));

    let css = get(addr, "/style.css").await;
    assert_eq!(css.status, StatusCode::OK);
    assert!(css.header("content-type").starts_with("text/css"));
    let missing = get(addr, "/nope").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.header("x-frame-options"), "DENY");
}

#[tokio::test]
async fn lists_filter_and_page_by_cursor() {
    let inbox = inbox("list");
    for n in 0..60 {
        user_created(&inbox, &format!("u{n}"), "Ada").await;
    }
    let addr = serve_view(&inbox).await;

    let first = get(addr, "/deliveries").await;
    assert_eq!(first.status, StatusCode::OK);
    let text = first.text();
    assert_eq!(text.matches("class=\"delivery\"").count(), 50);
    assert!(text.contains(">60</a>"));
    let next = text
        .split("id=\"next-page\" rel=\"next\" href=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("a next page")
        .replace("&amp;", "&");
    assert_eq!(next, "/deliveries?before=11");
    let second = get(addr, &next).await.text();
    assert_eq!(second.matches("class=\"delivery\"").count(), 10);
    assert!(!second.contains("id=\"next-page\""));

    let by_resource = get(addr, "/deliveries?resource=u7").await.text();
    assert_eq!(by_resource.matches("class=\"delivery\"").count(), 1);
    assert!(by_resource.contains("dlv-u7"));
    let by_delivery = get(addr, "/deliveries?delivery=dlv-u8").await.text();
    assert_eq!(by_delivery.matches("class=\"delivery\"").count(), 1);
    let by_pattern = get(addr, "/deliveries?event=users.*.create&state=pending")
        .await
        .text();
    assert_eq!(by_pattern.matches("class=\"delivery\"").count(), 50);
    let none = get(addr, "/deliveries?event=users.*.delete").await.text();
    assert!(none.contains("id=\"empty\""));
    let future = get(addr, "/deliveries?since=2999-01-01T00:00").await.text();
    assert!(future.contains("id=\"empty\""));
    let past = get(addr, "/deliveries?until=2000-01-01T00:00:00Z")
        .await
        .text();
    assert!(past.contains("id=\"empty\""));
    let bad = get(addr, "/deliveries?event=%3Cb%3E").await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text().contains("value=\"&lt;b&gt;\""));
    assert!(!bad.text().contains("<b>"));
}

#[tokio::test]
async fn a_delivery_page_shows_everything_escaped_and_the_exact_bytes() {
    let inbox = inbox("delivery");
    let id = user_created(&inbox, "u1", HOSTILE).await;
    kill_next(&inbox, "failed on <script>alert(2)</script>").await;
    let addr = serve_view(&inbox).await;

    let page = get(addr, &format!("/deliveries/{id}")).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(
        text.contains("&lt;img src=x onerror=alert(1)&gt;"),
        "{text}"
    );
    assert!(!text.contains("<img"));
    assert!(!text.contains("<script>"));
    assert!(text.contains("id=\"delivery-state\" class=\"state-dead\">dead<"));
    assert!(text.contains("x-appwrite-webhook-signature"));
    assert!(text.contains("users.u1.create"));
    assert!(text.contains("dlv-u1"));
    // The attempt, its outcome, duration and error.
    assert!(text.contains("id=\"attempts\""));
    assert!(text.contains("class=\"outcome\">dead<"));
    assert!(text.contains(" ms</td>"));
    assert!(text.contains("failed on &lt;script&gt;"));
    assert!(text.contains("id=\"requeue\""));

    let raw = get(addr, &format!("/deliveries/{id}/body")).await;
    assert_eq!(raw.status, StatusCode::OK);
    assert_eq!(raw.header("content-type"), "application/octet-stream");
    assert!(raw.header("content-disposition").starts_with("attachment"));
    let stored = inbox.admin().get(id).await.unwrap().unwrap();
    assert_eq!(raw.body, stored.received.body);

    assert_eq!(
        get(addr, "/deliveries/999").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(addr, "/deliveries/999/body").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn posts_without_the_token_cookie_or_origin_are_refused() {
    let inbox = inbox("csrf");
    let id = user_created(&inbox, "u1", "Ada").await;
    kill_next(&inbox, "no").await;
    let addr = serve_view(&inbox).await;
    let token = get(addr, &format!("/deliveries/{id}")).await.csrf();
    let path = format!("/deliveries/{id}/requeue");
    let origin = ("origin", format!("http://{addr}"));
    let cookie = ("cookie", format!("appwrite_webhooks_csrf={token}"));

    for (headers, form) in [
        (vec![origin.clone(), cookie.clone()], String::new()),
        (
            vec![origin.clone(), cookie.clone()],
            format!("csrf={}", "0".repeat(64)),
        ),
        (vec![origin.clone()], format!("csrf={token}")),
        (vec![cookie.clone()], format!("csrf={token}")),
        (
            vec![("origin", "http://evil.example".to_owned()), cookie.clone()],
            format!("csrf={token}"),
        ),
    ] {
        let answer = post_raw(addr, &path, &headers, &form).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{headers:?} {form}");
    }
    assert_eq!(
        inbox.admin().get(id).await.unwrap().unwrap().state,
        State::Dead
    );
    // A GET does not change anything either.
    assert_eq!(
        get(addr, &path).await.status,
        StatusCode::METHOD_NOT_ALLOWED
    );

    let done = post_form(addr, &path, &token, "").await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        done.header("location"),
        format!("/deliveries/{id}?notice=requeued")
    );
    assert_eq!(
        inbox.admin().get(id).await.unwrap().unwrap().state,
        State::Pending
    );
}

#[tokio::test]
async fn dead_letters_are_requeued_and_deleted_one_or_all() {
    let inbox = inbox("dead");
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(user_created(&inbox, &format!("u{n}"), "Ada").await);
    }
    for _ in 0..5 {
        kill_next(&inbox, "no").await;
    }
    let addr = serve_view(&inbox).await;
    let page = get(addr, "/dead").await;
    assert_eq!(page.text().matches("class=\"delivery\"").count(), 5);
    let token = page.csrf();

    let one = post_form(addr, &format!("/deliveries/{}/delete", ids[0]), &token, "").await;
    assert_eq!(one.status, StatusCode::SEE_OTHER);
    assert!(inbox.admin().get(ids[0]).await.unwrap().is_none());
    let again = post_form(addr, &format!("/deliveries/{}/delete", ids[0]), &token, "").await;
    assert_eq!(
        again.header("location"),
        format!("/deliveries/{}?notice=not-dead", ids[0])
    );

    let all = post_form(addr, "/dead/requeue", &token, "").await;
    assert_eq!(all.header("location"), "/dead?notice=requeued-all&n=4");
    assert_eq!(inbox.admin().stats().await.unwrap().pending, 4);
    let shown = get(addr, "/dead?notice=requeued-all&n=4").await.text();
    assert!(shown.contains("4 dead letter(s) pending again."));

    for _ in 0..4 {
        kill_next(&inbox, "no again").await;
    }
    let deleted = post_form(addr, "/dead/delete", &token, "").await;
    assert_eq!(deleted.header("location"), "/dead?notice=deleted-all&n=4");
    assert_eq!(inbox.admin().stats().await.unwrap().stored, 0);
}

#[tokio::test]
async fn a_replay_is_signed_for_the_given_url_and_never_shows_the_key() {
    use std::sync::{Arc, Mutex};
    let inbox = inbox("replay");
    let id = user_created(&inbox, "u1", "Ada").await;
    let addr = serve_view(&inbox).await;

    // A handler under development, with its own key and URL.
    let handler_key = "handler-dev-key-9f8e";
    let verified = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&verified);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let local = format!("http://{}/dev/hooks", listener.local_addr().unwrap());
    let url = local.clone();
    let handler = axum::Router::new().route(
        "/dev/hooks",
        axum::routing::post(move |headers: http::HeaderMap, body: bytes::Bytes| {
            let seen = Arc::clone(&seen);
            let url = url.clone();
            async move {
                let ok = appwrite_webhooks::Verifier::new(handler_key, url)
                    .verify(&headers, &body)
                    .map(|d| d.events_header().to_owned());
                let status = if ok.is_ok() {
                    StatusCode::OK
                } else {
                    StatusCode::UNAUTHORIZED
                };
                *seen.lock().unwrap() = Some(ok.map_err(|e| e.to_string()));
                (status, "handled <b>")
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, handler).await;
    });

    let token = get(addr, &format!("/deliveries/{id}")).await.csrf();
    let form = format!(
        "&url={}&key={handler_key}",
        form_urlencoded_component(&local)
    );
    let page = post_form(addr, &format!("/deliveries/{id}/replay"), &token, &form).await;
    assert_eq!(page.status, StatusCode::OK);
    let text = page.text();
    assert!(text.contains("id=\"replay-status\">200<"), "{text}");
    assert!(text.contains("handled &lt;b&gt;"));
    assert!(!text.contains(handler_key));
    let events = verified.lock().unwrap().clone().unwrap().unwrap();
    assert!(events.contains("users.u1.create"));

    // Not an http:// URL, or no key: refused before anything is sent.
    let https = post_form(
        addr,
        &format!("/deliveries/{id}/replay"),
        &token,
        "&url=https%3A%2F%2Fx.example%2F&key=k",
    )
    .await;
    assert_eq!(https.status, StatusCode::BAD_REQUEST);
    let keyless = post_form(
        addr,
        &format!("/deliveries/{id}/replay"),
        &token,
        &format!("&url={}", form_urlencoded_component(&local)),
    )
    .await;
    assert_eq!(keyless.status, StatusCode::BAD_REQUEST);
}

fn form_urlencoded_component(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn nested_under_a_prefix_every_link_and_redirect_keeps_it() {
    let inbox = inbox("nested");
    let id = user_created(&inbox, "u1", "Ada").await;
    kill_next(&inbox, "no").await;
    let app = axum::Router::new().nest("/admin/inbox", InboxView::new(inbox.clone()).router());
    let addr = serve(app).await;

    let overview = get(addr, "/admin/inbox").await;
    assert_eq!(overview.status, StatusCode::OK);
    assert!(overview.text().contains("href=\"/admin/inbox/style.css\""));
    assert!(overview.text().contains("href=\"/admin/inbox/dead\""));
    let list = get(addr, "/admin/inbox/deliveries").await.text();
    assert!(list.contains(&format!("href=\"/admin/inbox/deliveries/{id}\"")));
    let page = get(addr, &format!("/admin/inbox/deliveries/{id}")).await;
    assert!(
        page.text()
            .contains(&format!("action=\"/admin/inbox/deliveries/{id}/requeue\""))
    );
    let done = post_form(
        addr,
        &format!("/admin/inbox/deliveries/{id}/requeue"),
        &page.csrf(),
        "",
    )
    .await;
    assert_eq!(
        done.header("location"),
        format!("/admin/inbox/deliveries/{id}?notice=requeued")
    );
}

#[tokio::test]
async fn with_credentials_every_route_needs_basic_auth() {
    let inbox = inbox("auth");
    user_created(&inbox, "u1", "Ada").await;
    let view = InboxView::new(inbox.clone()).with_credentials(Credentials::new("ops", "pw-123"));
    let addr = serve(view.router()).await;

    let denied = get(addr, "/").await;
    assert_eq!(denied.status, StatusCode::UNAUTHORIZED);
    assert!(denied.header("www-authenticate").starts_with("Basic"));
    assert_eq!(denied.header("x-frame-options"), "DENY");
    let basic = |pair: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(pair)
        )
    };
    for (pair, status) in [
        ("ops:pw-123", StatusCode::OK),
        ("ops:pw-124", StatusCode::UNAUTHORIZED),
        ("root:pw-123", StatusCode::UNAUTHORIZED),
    ] {
        let answer = send(
            http::Request::get(format!("http://{addr}/deliveries"))
                .header("authorization", basic(pair))
                .body(http_body_util::Full::default())
                .unwrap(),
        )
        .await;
        assert_eq!(answer.status, status, "{pair}");
    }
    tokio::time::sleep(Duration::from_millis(1)).await;
}
