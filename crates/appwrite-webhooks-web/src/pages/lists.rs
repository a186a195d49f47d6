//! The lists of deliveries (all, or the dead letters), their filters and their pages.

use std::fmt::Write as _;
use std::time::SystemTime;

use appwrite_webhooks::headers::{WEBHOOK_DELIVERY_ID, WEBHOOK_EVENTS};
use appwrite_webhooks::inbox::{Filter, State as DeliveryState};
use axum::extract::OriginalUri;
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use serde::Deserialize;

use crate::html::{escape, page, time};
use crate::pages::{csrf_field, header_text, html, notice, problem, store_failed};
use crate::{PAGE_SIZE, Shared, ViewState, base};

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
}
