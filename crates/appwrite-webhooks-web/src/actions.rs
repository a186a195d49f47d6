//! The state-changing requests: every one a `POST` checked for CSRF before anything happens.

use std::sync::Arc;

use appwrite_webhooks::StoreError;
use appwrite_webhooks::inbox::{Filter, State as DeliveryState};
use axum::body::Bytes;
use axum::extract::{FromRequest, OriginalUri, Path, Request};
use axum::http::{StatusCode, Uri, header};
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

/// A `POST` whose CSRF checks passed: its form, and the mount point its answer points to.
/// Every action takes one, so none can forget the check; a refused one is answered 403.
pub(crate) struct Post {
    form: ActionForm,
    /// The mount point, unescaped: a redirect's `Location` is a header, not HTML.
    location: String,
    /// The mount point, escaped for HTML: for an error page.
    base: String,
}

impl FromRequest<Arc<ViewState>> for Post {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<ViewState>) -> Result<Self, Response> {
        let original = request
            .extensions()
            .get::<OriginalUri>()
            .map_or_else(|| request.uri().clone(), |OriginalUri(uri)| uri.clone());
        let matched = request.uri().clone();
        let headers = request.headers().clone();
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let form: ActionForm = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        guard::check_csrf(&headers, form.csrf.as_deref(), &state.csrf)
            .map_err(IntoResponse::into_response)?;
        Ok(Self {
            form,
            location: raw_base(&original, &matched),
            base: base(&original, &matched),
        })
    }
}

impl Post {
    /// `303 See Other` to `path` under the mount point, or the page of the store's failure.
    fn redirect(&self, state: &ViewState, path: Result<String, StoreError>) -> Response {
        match path {
            Ok(path) => {
                let location = format!("{}{path}", self.location);
                (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
            }
            Err(e) => store_failed(state, &self.base, e),
        }
    }
}

/// The mount point for a redirect's `Location` (unescaped: it is a header, not HTML).
fn raw_base(original: &Uri, matched: &Uri) -> String {
    let (original, matched) = (original.path(), matched.path());
    match original.strip_suffix(matched) {
        Some(base) => base.to_owned(),
        None => String::new(),
    }
}

pub(crate) async fn requeue(state: Shared, Path(id): Path<u64>, post: Post) -> Response {
    let requeued = state.admin().requeue(id).await;
    let path = requeued.map(|requeued| {
        let notice = if requeued { "requeued" } else { "not-dead" };
        format!("/deliveries/{id}?notice={notice}")
    });
    post.redirect(&state, path)
}

pub(crate) async fn delete(state: Shared, Path(id): Path<u64>, post: Post) -> Response {
    let deleted = state.admin().delete_dead(id).await;
    let path = deleted.map(|deleted| {
        if deleted {
            "/dead?notice=deleted".to_owned()
        } else {
            format!("/deliveries/{id}?notice=not-dead")
        }
    });
    post.redirect(&state, path)
}

pub(crate) async fn requeue_all(state: Shared, post: Post) -> Response {
    let requeued = state.admin().requeue_dead().await;
    let path = requeued.map(|n| format!("/dead?notice=requeued-all&n={n}"));
    post.redirect(&state, path)
}

pub(crate) async fn delete_all(state: Shared, post: Post) -> Response {
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
        Ok(()) => post.redirect(&state, Ok(format!("/dead?notice=deleted-all&n={deleted}"))),
        Err(e) => problem(
            &state,
            &post.base,
            StatusCode::SERVICE_UNAVAILABLE,
            &format!("the inbox failed after deleting {deleted}: {e}"),
        ),
    }
}

pub(crate) async fn replay(state: Shared, Path(id): Path<u64>, post: Post) -> Response {
    crate::replay::replay(&state, &post.base, id, post.form).await
}
