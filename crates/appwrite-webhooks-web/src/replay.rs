//! Replaying a stored delivery to a handler under development, re-signed for its URL.

use std::fmt::Write as _;
use std::time::Duration;

use appwrite_webhooks::headers::{
    WEBHOOK_DELIVERY_ID, WEBHOOK_EVENTS, WEBHOOK_ID, WEBHOOK_NAME, WEBHOOK_PROJECT_ID,
    WEBHOOK_USER_ID,
};
use appwrite_webhooks::sender::DeliveryBuilder;
use axum::http::StatusCode;
use axum::response::Response;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::ViewState;
use crate::actions::ActionForm;
use crate::html::{escape, page};
use crate::pages::{header_text, html, problem};

/// How long a replay waits for the handler's answer.
pub(crate) const REPLAY_TIMEOUT: Duration = Duration::from_secs(15);

/// How much of the handler's answer is shown.
const ANSWER_SHOWN: usize = 4096;

/// Sends delivery `id` to the form's URL, signed with the form's key, and shows the answer.
/// The key goes into the signature and nowhere else: not into the page, a log or an error.
pub(crate) async fn replay(state: &ViewState, base: &str, id: u64, form: ActionForm) -> Response {
    let url = form.url.unwrap_or_default().trim().to_owned();
    let Some(key) = form.key.filter(|k| !k.is_empty()) else {
        return problem(
            state,
            base,
            StatusCode::BAD_REQUEST,
            "a replay needs the key to sign with",
        );
    };
    let parsed = url.parse::<http::Uri>().ok();
    if !parsed
        .as_ref()
        .is_some_and(|u| u.scheme_str() == Some("http") && u.authority().is_some())
    {
        return problem(
            state,
            base,
            StatusCode::BAD_REQUEST,
            "a replay goes to an http:// URL (a handler under development)",
        );
    }
    let row = match state.admin().get(id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return problem(
                state,
                base,
                StatusCode::NOT_FOUND,
                &format!("no delivery {id}"),
            );
        }
        Err(e) => {
            return problem(
                state,
                base,
                StatusCode::SERVICE_UNAVAILABLE,
                &format!("the inbox failed: {e}"),
            );
        }
    };
    let events = header_text(&row, &WEBHOOK_EVENTS);
    let mut builder = DeliveryBuilder::new(key, url.clone(), row.received.body.clone())
        .events(events.split(',').map(str::trim).filter(|e| !e.is_empty()));
    let kept = |name: &http::HeaderName| Some(header_text(&row, name)).filter(|v| !v.is_empty());
    if let Some(v) = kept(&WEBHOOK_DELIVERY_ID) {
        builder = builder.delivery_id(v);
    }
    if let Some(v) = kept(&WEBHOOK_ID) {
        builder = builder.webhook_id(v);
    }
    if let Some(v) = kept(&WEBHOOK_NAME) {
        builder = builder.webhook_name(v);
    }
    if let Some(v) = kept(&WEBHOOK_PROJECT_ID) {
        builder = builder.project_id(v);
    }
    if let Some(v) = kept(&WEBHOOK_USER_ID) {
        builder = builder.user_id(v);
    }
    let request = builder.build().into_request().map(Full::new);
    let client: Client<_, Full<bytes::Bytes>> = Client::builder(TokioExecutor::new()).build_http();
    let answer = async {
        let response = client.request(request).await.map_err(|e| e.to_string())?;
        let status = response.status();
        let body = Limited::new(response.into_body(), ANSWER_SHOWN * 4)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Ok::<_, String>((status, body))
    };
    let mut main = String::new();
    match tokio::time::timeout(REPLAY_TIMEOUT, answer).await {
        Ok(Ok((status, body))) => {
            let text = String::from_utf8_lossy(&body[..body.len().min(ANSWER_SHOWN)]).into_owned();
            let _ = write!(
                main,
                "<p class=\"notice\" id=\"replay-result\">Delivery {id} replayed to <code>{}</code>: \
                 the handler answered <strong id=\"replay-status\">{}</strong>.</p><pre>{}</pre>",
                escape(&url),
                status.as_u16(),
                escape(&text),
            );
        }
        Ok(Err(e)) => {
            let _ = write!(
                main,
                "<p class=\"error\" id=\"replay-result\">Could not reach <code>{}</code>: {}</p>",
                escape(&url),
                escape(&e),
            );
        }
        Err(_) => {
            let _ = write!(
                main,
                "<p class=\"error\" id=\"replay-result\">No answer from <code>{}</code> within {} s.</p>",
                escape(&url),
                REPLAY_TIMEOUT.as_secs(),
            );
        }
    }
    let _ = write!(
        main,
        "<p><a href=\"{base}/deliveries/{id}\">Back to delivery {id}</a></p>"
    );
    html(state, StatusCode::OK, page(base, "Replay", &main))
}
