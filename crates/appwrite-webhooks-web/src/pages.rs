//! The pages: overview, lists, a delivery, its raw body.

use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

use appwrite_webhooks::headers::{WEBHOOK_DELIVERY_ID, WEBHOOK_EVENTS};
use appwrite_webhooks::inbox::{Filter, State as DeliveryState, Stored};
use axum::extract::{OriginalUri, Path};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::html::{escape, page, time};
use crate::{PAGE_SIZE, Shared, ViewState, base, chart, guard};

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
fn notice(code: Option<&str>, n: Option<u64>) -> String {
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

/// The list's query: filters, cursor, and a notice code.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ListQuery {
    state: Option<String>,
    event: Option<String>,
    resource: Option<String>,
    delivery: Option<String>,
    since: Option<String>,
    until: Option<String>,
    before: Option<u64>,
    notice: Option<String>,
    n: Option<u64>,
}

impl ListQuery {
    fn parse(uri: &Uri) -> Result<Self, String> {
        serde_urlencoded::from_str(uri.query().unwrap_or(""))
            .map_err(|e| format!("the query does not read: {e}"))
    }

    /// A filter from the non-empty fields.
    fn filter(&self) -> Result<Filter, String> {
        fn given(v: &Option<String>) -> Option<&str> {
            v.as_deref().map(str::trim).filter(|v| !v.is_empty())
        }
        let mut filter = Filter::default();
        if let Some(state) = given(&self.state) {
            filter = filter.with_state(
                DeliveryState::parse(state)
                    .map_err(|_| "the state is one of pending, done or dead".to_owned())?,
            );
        }
        if let Some(pattern) = given(&self.event) {
            filter = filter
                .with_event(pattern)
                .map_err(|e| format!("the event pattern does not read: {e}"))?;
        }
        if let Some(id) = given(&self.resource) {
            filter = filter.with_resource(id);
        }
        if let Some(id) = given(&self.delivery) {
            filter = filter.with_delivery_id(id);
        }
        if let Some(at) = given(&self.since) {
            filter = filter.with_since(parse_time(at)?);
        }
        if let Some(at) = given(&self.until) {
            filter = filter.with_until(parse_time(at)?);
        }
        Ok(filter)
    }

    /// The filters as a query string, for the next page's link (escaped for an attribute).
    fn query_without_cursor(&self) -> String {
        let pairs: Vec<(&str, &str)> = [
            ("state", &self.state),
            ("event", &self.event),
            ("resource", &self.resource),
            ("delivery", &self.delivery),
            ("since", &self.since),
            ("until", &self.until),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().filter(|v| !v.is_empty()).map(|v| (k, v)))
        .collect();
        serde_urlencoded::to_string(pairs).unwrap_or_default()
    }
}

/// A time typed in a filter: RFC 3339, or a browser's `datetime-local` value read as UTC.
fn parse_time(text: &str) -> Result<SystemTime, String> {
    use time::format_description::well_known::Rfc3339;
    if let Ok(at) = time::OffsetDateTime::parse(text, &Rfc3339) {
        return Ok(at.into());
    }
    // A `datetime-local` value (`2026-12-05T16:00`, seconds optional) read as UTC.
    let utc = match text.len() {
        16 => format!("{text}:00Z"),
        19 => format!("{text}Z"),
        _ => String::new(),
    };
    time::OffsetDateTime::parse(&utc, &Rfc3339)
        .map(SystemTime::from)
        .map_err(|_| {
            "a time is RFC 3339 (2026-12-05T16:00:00Z) or YYYY-MM-DDTHH:MM in UTC".to_owned()
        })
}

/// A stored header as text (lossy), empty when absent.
pub(crate) fn header_text(row: &Stored, name: &http::HeaderName) -> String {
    row.received
        .headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .unwrap_or_default()
}

pub(crate) async fn list(state: Shared, OriginalUri(original): OriginalUri, uri: Uri) -> Response {
    listing(&state, &base(&original, &uri), &uri, None).await
}

pub(crate) async fn dead(state: Shared, OriginalUri(original): OriginalUri, uri: Uri) -> Response {
    listing(
        &state,
        &base(&original, &uri),
        &uri,
        Some(DeliveryState::Dead),
    )
    .await
}

/// The list page; `fixed` is the dead letters' page, whose state is not a choice.
async fn listing(
    state: &ViewState,
    base: &str,
    uri: &Uri,
    fixed: Option<DeliveryState>,
) -> Response {
    let mut query = match ListQuery::parse(uri) {
        Ok(query) => query,
        Err(e) => return problem(state, base, StatusCode::BAD_REQUEST, &e),
    };
    if let Some(fixed) = fixed {
        query.state = Some(fixed.as_str().to_owned());
    }
    let title = if fixed.is_some() {
        "Dead letters"
    } else {
        "Deliveries"
    };
    let path = if fixed.is_some() {
        "/dead"
    } else {
        "/deliveries"
    };
    let mut main = notice(query.notice.as_deref(), query.n);
    let filter = match query.filter() {
        Ok(filter) => Some(filter),
        Err(e) => {
            let _ = write!(
                main,
                "<p class=\"error\" id=\"filter-error\">{}</p>",
                escape(&e)
            );
            None
        }
    };
    main.push_str(&filter_form(base, path, &query, fixed.is_some()));
    if fixed.is_some() {
        let csrf = csrf_field(state);
        let _ = write!(
            main,
            "<p><form class=\"inline\" method=\"post\" action=\"{base}/dead/requeue\">{csrf}\
             <button type=\"submit\" id=\"requeue-all\">Requeue every dead letter</button></form> \
             <form class=\"inline\" method=\"post\" action=\"{base}/dead/delete\">{csrf}\
             <button type=\"submit\" class=\"danger\" id=\"delete-all\">Delete every dead letter</button></form></p>"
        );
    }
    let Some(filter) = filter else {
        return html(state, StatusCode::BAD_REQUEST, page(base, title, &main));
    };
    let found = match state.admin().find(&filter, query.before, PAGE_SIZE).await {
        Ok(found) => found,
        Err(e) => return store_failed(state, base, e),
    };
    main.push_str(
        "<table id=\"deliveries\"><thead><tr><th>id</th><th>state</th><th>attempts</th>\
         <th>received</th><th>event</th><th>delivery id</th><th>bytes</th><th>last error</th>\
         </tr></thead><tbody>",
    );
    for row in &found.items {
        let events = header_text(row, &WEBHOOK_EVENTS);
        let event = events.split(',').next().unwrap_or("");
        let _ = write!(
            main,
            "<tr><td><a class=\"delivery\" href=\"{base}/deliveries/{id}\">{id}</a></td>\
             <td class=\"state-{state}\">{state}</td><td>{}</td><td>{}</td><td><code>{}</code></td>\
             <td><code>{}</code></td><td>{}</td><td>{}</td></tr>",
            row.attempts,
            time(row.received.received_at),
            escape(event),
            escape(&header_text(row, &WEBHOOK_DELIVERY_ID)),
            row.received.body.len(),
            escape(row.last_error.as_deref().unwrap_or("")),
            id = row.id,
            state = row.state.as_str(),
        );
    }
    main.push_str("</tbody></table>");
    if found.items.is_empty() && found.next.is_some() {
        // A store reads a bounded range per page: older deliveries may still match.
        main.push_str("<p id=\"empty\">No match among the deliveries read for this page; older ones may match.</p>");
    } else if found.items.is_empty() {
        main.push_str("<p id=\"empty\">No deliveries match.</p>");
    }
    let filters = escape(&query.query_without_cursor());
    let sep = if filters.is_empty() { "" } else { "&amp;" };
    main.push_str("<p class=\"pages\">");
    if query.before.is_some() {
        let _ = write!(
            main,
            "<a id=\"first-page\" href=\"{base}{path}?{filters}\">First page</a> "
        );
    }
    if let Some(next) = found.next {
        let _ = write!(
            main,
            "<a id=\"next-page\" rel=\"next\" href=\"{base}{path}?{filters}{sep}before={next}\">Older →</a>"
        );
    }
    main.push_str("</p>");
    html(state, StatusCode::OK, page(base, title, &main))
}

/// The filter form: GET, so a filtered list is a link.
fn filter_form(base: &str, path: &str, query: &ListQuery, fixed: bool) -> String {
    let value = |v: &Option<String>| escape(v.as_deref().unwrap_or(""));
    let mut form =
        format!("<form class=\"filters\" id=\"filters\" method=\"get\" action=\"{base}{path}\">");
    if !fixed {
        form.push_str("<label>state <select name=\"state\" id=\"filter-state\"><option value=\"\">any</option>");
        for s in ["pending", "done", "dead", "stale"] {
            let selected = if query.state.as_deref() == Some(s) {
                " selected"
            } else {
                ""
            };
            let _ = write!(form, "<option value=\"{s}\"{selected}>{s}</option>");
        }
        form.push_str("</select></label> ");
    }
    let _ = write!(
        form,
        "<label>event <input name=\"event\" id=\"filter-event\" placeholder=\"users.*.create\" value=\"{}\"></label> \
         <label>resource id <input name=\"resource\" id=\"filter-resource\" value=\"{}\"></label> \
         <label>delivery id <input name=\"delivery\" id=\"filter-delivery\" value=\"{}\"></label> \
         <label>since <input name=\"since\" id=\"filter-since\" placeholder=\"2026-12-05T16:00\" value=\"{}\"></label> \
         <label>until <input name=\"until\" id=\"filter-until\" value=\"{}\"></label> \
         <button type=\"submit\" id=\"filter-submit\">Filter</button></form>",
        value(&query.event),
        value(&query.resource),
        value(&query.delivery),
        value(&query.since),
        value(&query.until),
    );
    form
}

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
    let admin = state.admin();
    let row = match admin.get(id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            return problem(
                &state,
                &base,
                StatusCode::NOT_FOUND,
                &format!("no delivery {id}"),
            );
        }
        Err(e) => return store_failed(&state, &base, e),
    };
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
    match state.admin().get(id).await {
        Ok(Some(row)) => (
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
        Ok(None) => problem(
            &state,
            &base,
            StatusCode::NOT_FOUND,
            &format!("no delivery {id}"),
        ),
        Err(e) => store_failed(&state, &base, e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_in_filters_read_as_rfc3339_or_utc_local() {
        let a = parse_time("2026-12-05T16:00:00Z").unwrap();
        let b = parse_time("2026-12-05T16:00").unwrap();
        assert_eq!(a, b);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn json_bodies_are_pretty_printed_and_others_kept() {
        assert_eq!(pretty(br#"{"a":1}"#), "{\n  \"a\": 1\n}");
        assert_eq!(pretty(b"not json"), "not json");
    }

    #[test]
    fn notices_are_fixed_texts() {
        assert!(notice(Some("<script>"), None).is_empty());
        assert!(notice(Some("requeued-all"), Some(3)).contains("3 dead letter(s)"));
    }
}
