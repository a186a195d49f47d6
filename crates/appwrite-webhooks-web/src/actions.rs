//! The state-changing requests: every one a `POST` checked for CSRF before anything happens.

use appwrite_webhooks::inbox::{Filter, State as DeliveryState};
use axum::body::Bytes;
use axum::extract::{OriginalUri, Path};
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::pages::{problem, store_failed};
use crate::{Shared, ViewState, base, guard};

/// The most dead letters one "delete every dead letter" removes; the page says how many went,
/// and another click goes on.
pub(crate) const DELETE_ALL_LIMIT: usize = 10_000;

/// A posted form: the CSRF token, and the replay's fields.
#[derive(Default, Deserialize)]
pub(crate) struct ActionForm {
    pub(crate) csrf: Option<String>,
    pub(crate) url: Option<String>,
    pub(crate) key: Option<String>,
}

/// The form of a POST, once its CSRF checks pass; the refusal (403) otherwise.
pub(crate) fn checked(
    state: &ViewState,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<ActionForm, guard::CsrfRefusal> {
    let form: ActionForm = serde_urlencoded::from_bytes(body).unwrap_or_default();
    guard::check_csrf(headers, form.csrf.as_deref(), &state.csrf)?;
    Ok(form)
}

/// `303 See Other` to `location` (a path this crate built).
fn see_other(location: String) -> Response {
    (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
}

/// The mount point for a redirect's `Location` (unescaped: it is a header, not HTML).
fn raw_base(original: &Uri, matched: &Uri) -> String {
    let (original, matched) = (original.path(), matched.path());
    match original.strip_suffix(matched) {
        Some(base) => base.to_owned(),
        None => String::new(),
    }
}

pub(crate) async fn requeue(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked(&state, &headers, &body) {
        return refused.into_response();
    }
    let location = raw_base(&original, &uri);
    match state.admin().requeue(id).await {
        Ok(true) => see_other(format!("{location}/deliveries/{id}?notice=requeued")),
        Ok(false) => see_other(format!("{location}/deliveries/{id}?notice=not-dead")),
        Err(e) => store_failed(&state, &base(&original, &uri), e),
    }
}

pub(crate) async fn delete(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked(&state, &headers, &body) {
        return refused.into_response();
    }
    let location = raw_base(&original, &uri);
    match state.admin().delete_dead(id).await {
        Ok(true) => see_other(format!("{location}/dead?notice=deleted")),
        Ok(false) => see_other(format!("{location}/deliveries/{id}?notice=not-dead")),
        Err(e) => store_failed(&state, &base(&original, &uri), e),
    }
}

pub(crate) async fn requeue_all(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked(&state, &headers, &body) {
        return refused.into_response();
    }
    let location = raw_base(&original, &uri);
    match state.admin().requeue_dead().await {
        Ok(n) => see_other(format!("{location}/dead?notice=requeued-all&n={n}")),
        Err(e) => store_failed(&state, &base(&original, &uri), e),
    }
}

pub(crate) async fn delete_all(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = checked(&state, &headers, &body) {
        return refused.into_response();
    }
    let location = raw_base(&original, &uri);
    let admin = state.admin();
    let dead = Filter::default().with_state(DeliveryState::Dead);
    let mut deleted = 0u64;
    let mut seen = 0usize;
    // Page by page from the newest, each delete its own small transaction: receivers go on.
    let mut before = None;
    let outcome: Result<(), appwrite_webhooks::StoreError> = async {
        while seen < DELETE_ALL_LIMIT {
            let page = admin.find(&dead, before, 500).await?;
            for row in &page.items {
                seen += 1;
                if admin.delete_dead(row.id).await? {
                    deleted += 1;
                }
            }
            match page.next {
                Some(next) => before = Some(next),
                None => break,
            }
        }
        Ok(())
    }
    .await;
    match outcome {
        Ok(()) => see_other(format!("{location}/dead?notice=deleted-all&n={deleted}")),
        Err(e) => problem(
            &state,
            &base(&original, &uri),
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the inbox failed after deleting {deleted}: {e}"),
        ),
    }
}

pub(crate) async fn replay(
    state: Shared,
    OriginalUri(original): OriginalUri,
    uri: Uri,
    Path(id): Path<u64>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match checked(&state, &headers, &body) {
        Ok(form) => form,
        Err(refused) => return refused.into_response(),
    };
    crate::replay::replay(&state, &base(&original, &uri), id, form).await
}
