//! The pages: overview, lists, a delivery, its raw body; and what every page shares (the
//! HTML response with its CSRF cookie, the error page, the notices).

pub(crate) mod delivery;
pub(crate) mod lists;

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use appwrite_webhooks::inbox::Stored;
use axum::extract::OriginalUri;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::html::{escape, page};
use crate::{Shared, ViewState, base, chart, guard};

/// An HTML page, with the CSRF cookie its forms need.
pub(crate) fn html(state: &ViewState, status: StatusCode, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::SET_COOKIE, guard::csrf_cookie(&state.csrf));
    response
}

/// A page saying what went wrong, escaped.
pub(crate) fn problem(state: &ViewState, base: &str, status: StatusCode, what: &str) -> Response {
    let main = format!("<p class=\"error\">{}</p>", escape(what));
    html(state, status, page(base, "Error", &main))
}

/// The hidden field every state-changing form carries.
pub(crate) fn csrf_field(state: &ViewState) -> String {
    format!(
        "<input type=\"hidden\" name=\"csrf\" value=\"{}\">",
        escape(&state.csrf)
    )
}

/// A store failure, as a page (the error text is the store's, escaped).
pub(crate) fn store_failed(
    state: &ViewState,
    base: &str,
    error: appwrite_webhooks::StoreError,
) -> Response {
    problem(
        state,
        base,
        StatusCode::SERVICE_UNAVAILABLE,
        &format!("the inbox failed: {error}"),
    )
}

/// A message chosen by a fixed code in the query (never the query's text itself).
pub(crate) fn notice(code: Option<&str>, n: Option<u64>) -> String {
    let n = n.unwrap_or(0);
    let text = match code {
        Some("requeued") => "Requeued: the delivery is pending again.".to_owned(),
        Some("deleted") => "The dead letter was deleted.".to_owned(),
        Some("requeued-all") => format!("{n} dead letter(s) pending again."),
        Some("deleted-all") => format!("{n} dead letter(s) deleted."),
        Some("not-dead") => "Nothing changed: that delivery is not a dead letter.".to_owned(),
        _ => return String::new(),
    };
    format!("<p class=\"notice\" id=\"notice\">{}</p>", escape(&text))
}

pub(crate) async fn style() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        crate::html::STYLE,
    )
        .into_response()
}

pub(crate) async fn not_found(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Response {
    problem(
        &state,
        &base(&original, &uri),
        StatusCode::NOT_FOUND,
        "no such page",
    )
}

pub(crate) async fn overview(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
) -> Response {
    let base = base(&original, &uri);
    let admin = state.admin();
    let stats = match admin.stats().await {
        Ok(stats) => stats,
        Err(e) => return store_failed(&state, &base, e),
    };
    let mut main = String::new();
    let _ = write!(
        main,
        "<h2>Deliveries by state</h2><table id=\"stats\"><tr><th>stored</th><th>pending</th>\
         <th>in flight</th><th>done</th><th>dead</th><th>stale</th></tr><tr>\
         <td id=\"stat-stored\"><a href=\"{base}/deliveries\">{}</a></td>\
         <td id=\"stat-pending\"><a href=\"{base}/deliveries?state=pending\">{}</a></td>\
         <td id=\"stat-in-flight\">{}</td>\
         <td id=\"stat-done\"><a href=\"{base}/deliveries?state=done\">{}</a></td>\
         <td id=\"stat-dead\"><a href=\"{base}/dead\">{}</a></td>\
         <td id=\"stat-stale\"><a href=\"{base}/deliveries?state=stale\">{}</a></td></tr></table>",
        stats.stored, stats.pending, stats.in_flight, stats.done, stats.dead, stats.stale
    );
    main.push_str("<h2>The last hour</h2>");
    let since = SystemTime::now() - Duration::from_secs(59 * 60);
    match admin.activity(since).await {
        Ok(Some(minutes)) => {
            main.push_str(&chart::activity(&minutes));
            main.push_str(&chart::legend(&minutes));
            main.push_str(
                "<p>Per minute: deliveries received (of those still stored), attempts that \
                 succeeded, failed and were retried, and failed for the last time.</p>",
            );
        }
        Ok(None) => main.push_str(
            "<p class=\"notice\">This store keeps no history of attempts, so there is no \
             activity to chart.</p>",
        ),
        Err(e) => return store_failed(&state, &base, e),
    }
    html(&state, StatusCode::OK, page(&base, "Overview", &main))
}

/// A stored header as text (lossy), empty when absent.
pub(crate) fn header_text(row: &Stored, name: &http::HeaderName) -> String {
    row.received
        .headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_are_fixed_texts() {
        assert!(notice(Some("<script>"), None).is_empty());
        assert!(notice(Some("requeued-all"), Some(3)).contains("3 dead letter(s)"));
    }
}
