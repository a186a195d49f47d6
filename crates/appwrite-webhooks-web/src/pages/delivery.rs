//! One delivery: its page (headers, attempts, payload and actions), and its raw body.

use std::fmt::Write as _;

use appwrite_webhooks::headers::{WEBHOOK_DELIVERY_ID, WEBHOOK_EVENTS};
use appwrite_webhooks::inbox::{State as DeliveryState, Stored};
use axum::extract::{OriginalUri, Path};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::html::{escape, page, time};
use crate::pages::{csrf_field, header_text, html, notice, problem, store_failed};
use crate::{Shared, ViewState, base};

/// The delivery page's query: a notice code.
#[derive(Debug, Default, Deserialize)]
struct DeliveryQuery {
    notice: Option<String>,
}

pub(crate) async fn delivery(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Path(id): Path<u64>,
) -> Response {
    let base = base(&original, &uri);
    let row = match stored(&state, &base, id).await {
        Ok(row) => row,
        Err(page) => return page,
    };
    let admin = state.admin();
    let attempts = match admin.attempts(id).await {
        Ok(attempts) => attempts,
        Err(e) => return store_failed(&state, &base, e),
    };
    let query: DeliveryQuery =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).unwrap_or_default();
    let mut main = notice(query.notice.as_deref(), None);
    let fingerprint: String = row
        .received
        .fingerprint
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let _ = write!(
        main,
        "<table id=\"identity\">\
         <tr><th>id</th><td id=\"delivery-id\">{id}</td></tr>\
         <tr><th>state</th><td id=\"delivery-state\" class=\"state-{state}\">{state}</td></tr>\
         <tr><th>attempts</th><td id=\"delivery-attempts\">{attempts}</td></tr>\
         <tr><th>received</th><td>{received}</td></tr>\
         <tr><th>URI</th><td><code>{uri}</code></td></tr>\
         <tr><th>delivery id</th><td><code>{delivery}</code></td></tr>\
         <tr><th>events</th><td><code>{events}</code></td></tr>\
         <tr><th>fingerprint</th><td><code>{fingerprint}</code></td></tr>\
         <tr><th>last error</th><td id=\"last-error\">{error}</td></tr></table>",
        state = row.state.as_str(),
        attempts = row.attempts,
        received = time(row.received.received_at),
        uri = escape(&row.received.uri),
        delivery = escape(&header_text(&row, &WEBHOOK_DELIVERY_ID)),
        events = escape(&header_text(&row, &WEBHOOK_EVENTS)),
        error = escape(row.last_error.as_deref().unwrap_or("")),
    );
    if row.state == DeliveryState::Dead {
        let csrf = csrf_field(&state);
        let _ = write!(
            main,
            "<p><form class=\"inline\" method=\"post\" action=\"{base}/deliveries/{id}/requeue\">{csrf}\
             <button type=\"submit\" id=\"requeue\">Requeue</button></form> \
             <form class=\"inline\" method=\"post\" action=\"{base}/deliveries/{id}/delete\">{csrf}\
             <button type=\"submit\" class=\"danger\" id=\"delete\">Delete</button></form></p>"
        );
    }
    main.push_str("<h2>Attempts</h2>");
    match attempts {
        Some(attempts) if !attempts.is_empty() => {
            main.push_str(
                "<table id=\"attempts\"><tr><th>attempt</th><th>worker</th><th>started</th>\
                 <th>duration</th><th>outcome</th><th>error</th></tr>",
            );
            for a in &attempts {
                let duration = a
                    .duration
                    .map(|d| format!("{} ms", d.as_millis()))
                    .unwrap_or_else(|| "—".into());
                let _ = write!(
                    main,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"outcome\">{}</td><td>{}</td></tr>",
                    a.attempt,
                    escape(a.worker.as_deref().unwrap_or("")),
                    time(a.started_at),
                    duration,
                    a.outcome.as_str(),
                    escape(a.error.as_deref().unwrap_or("")),
                );
            }
            main.push_str("</table>");
        }
        Some(_) => main.push_str("<p id=\"no-attempts\">No attempt yet.</p>"),
        None => main.push_str(
            "<p class=\"notice\">This store keeps no history of attempts: only their count and \
             the last error, above.</p>",
        ),
    }
    main.push_str("<h2>Headers</h2><table id=\"headers\">");
    for (name, value) in &row.received.headers {
        let _ = write!(
            main,
            "<tr><th>{}</th><td><code>{}</code></td></tr>",
            escape(name.as_str()),
            escape(&String::from_utf8_lossy(value.as_bytes()))
        );
    }
    main.push_str("</table>");
    let _ = write!(
        main,
        "<h2>Body</h2><p>{} bytes · <a id=\"download\" href=\"{base}/deliveries/{id}/body\">download the exact bytes</a></p>\
         <pre id=\"body\">{}</pre>",
        row.received.body.len(),
        escape(&pretty(&row.received.body)),
    );
    let _ = write!(
        main,
        "<h2>Replay</h2><p>Send this delivery again, re-signed with the key you give for the URL \
         you give (a local handler under development; <code>http://</code> only). The key is \
         used once and never shown or stored.</p>\
         <form method=\"post\" id=\"replay\" action=\"{base}/deliveries/{id}/replay\">{csrf}\
         <label>URL <input name=\"url\" id=\"replay-url\" size=\"40\" placeholder=\"http://127.0.0.1:3000/hooks\" required></label> \
         <label>key <input type=\"password\" name=\"key\" id=\"replay-key\" autocomplete=\"off\" required></label> \
         <button type=\"submit\" id=\"replay-submit\">Replay</button></form>",
        csrf = csrf_field(&state),
    );
    html(
        &state,
        StatusCode::OK,
        page(&base, &format!("Delivery {id}"), &main),
    )
}

/// The body as text: pretty-printed JSON when it is JSON, else as received (lossy UTF-8).
fn pretty(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|value| serde_json::to_string_pretty(&value).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned())
}

/// The exact stored bytes, as a download: never rendered by the browser.
pub(crate) async fn body(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Path(id): Path<u64>,
) -> Response {
    let base = base(&original, &uri);
    match stored(&state, &base, id).await {
        Ok(row) => (
            [
                (
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/octet-stream"),
                ),
                (
                    header::CONTENT_DISPOSITION,
                    HeaderValue::from_str(&format!("attachment; filename=\"delivery-{id}.body\""))
                        .unwrap_or_else(|_| HeaderValue::from_static("attachment")),
                ),
            ],
            row.received.body,
        )
            .into_response(),
        Err(page) => page,
    }
}

/// The stored delivery `id`, or the page that says why there is none: 404, or the store's
/// failure.
async fn stored(state: &ViewState, base: &str, id: u64) -> Result<Stored, Response> {
    match state.admin().get(id).await {
        Ok(Some(row)) => Ok(row),
        Ok(None) => Err(problem(
            state,
            base,
            StatusCode::NOT_FOUND,
            &format!("no delivery {id}"),
        )),
        Err(e) => Err(store_failed(state, base, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_bodies_are_pretty_printed_and_others_kept() {
        assert_eq!(pretty(br#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty(b"not json"), "not json");
    }
}
