//! See an [`appwrite-webhooks`](appwrite_webhooks) inbox: a web view of its deliveries, dead
//! letters and failures, with requeue, purge and replay — an [`axum::Router`] to mount in your
//! own application, behind your own auth, or to run with `appwrite-webhooks inbox web`.
//!
//! What it shows: an overview (deliveries by state, and received, done, retried and failed per
//! minute over the last hour, drawn on the server as inline SVG); deliveries filtered by state,
//! event pattern (`users.*.create`), resource id, delivery id and time range, a page at a time
//! under a keyset cursor; a delivery with its identity, headers, pretty-printed body (the exact
//! bytes downloadable) and every attempt with its outcome, duration and error; dead letters
//! with requeue and delete, one or all; and a replay of a stored delivery, re-signed with a key
//! you give, to a local handler under development.
//!
//! What stores record decides what is shown: the SQLite, Postgres, Redis and memory ledgers keep
//! every attempt (SQLite also answers filters with indexed queries); a store of your own
//! without a history of attempts says so instead of showing made-up numbers (see
//! [`InboxAdmin`]).
//!
//! **Safe by construction.** Every stored value is escaped by one function, [`escape`]: a user
//! named `<img src=x onerror=alert(1)>` renders as text. Every answer carries
//! [`CONTENT_SECURITY_POLICY`] (no script at all; the view serves none) and
//! `X-Frame-Options: DENY`. Every state-changing request is a `POST` whose form carries the
//! view's random token, checked in constant time against a `SameSite=Strict` cookie, and whose
//! `Origin` (or `Referer`) must be this host (behind a reverse proxy, pass the `Host` header
//! through); anything else is refused with `403`. With
//! [`InboxView::with_credentials`] every request needs HTTP basic auth; [`check_bind`] refuses
//! an address beyond loopback without them. The replay form's key is used once and never
//! shown, stored or logged. Everything works with JavaScript disabled: plain links and forms.
//!
//! ```no_run
//! use appwrite_webhooks::inbox::Inbox;
//! use appwrite_webhooks_sqlite::SqliteLedger;
//! use appwrite_webhooks_web::InboxView;
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let inbox = Inbox::new(SqliteLedger::open("inbox.db")?);
//! // Mounted under a prefix of your app, behind your own authentication layer.
//! let app = axum::Router::new().nest("/admin/inbox", InboxView::new(inbox).router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, app).await?;
//! # Ok(()) }
//! ```

#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod actions;
mod chart;
mod guard;
mod html;
mod pages;
mod replay;

use std::sync::Arc;

use appwrite_webhooks::inbox::{Inbox, InboxAdmin};
use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};

pub use guard::{BindRefused, CONTENT_SECURITY_POLICY, Credentials, check_bind};
pub use html::escape;

/// How many deliveries a list page holds.
pub const PAGE_SIZE: usize = 50;

/// The web view of one inbox. Build it, then mount [`router`](Self::router).
///
/// ```
/// use appwrite_webhooks::{MemoryLedger, inbox::Inbox};
/// use appwrite_webhooks_web::{Credentials, InboxView};
///
/// let view = InboxView::new(Inbox::new(MemoryLedger::with_capacity(10_000)))
///     .with_credentials(Credentials::new("ops", "correct horse"));
/// let app: axum::Router = axum::Router::new().nest("/inbox", view.router());
/// ```
#[derive(Clone)]
pub struct InboxView {
    inbox: Inbox,
    credentials: Option<Credentials>,
}

impl InboxView {
    /// A view of `inbox`, without credentials of its own (mount it behind yours, or set
    /// [`with_credentials`](Self::with_credentials)).
    pub fn new(inbox: Inbox) -> Self {
        Self {
            inbox,
            credentials: None,
        }
    }

    /// Requires HTTP basic auth with `credentials` on every request.
    pub fn with_credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = Some(credentials);
        self
    }

    /// The credentials every request needs, if set.
    pub fn credentials(&self) -> Option<&Credentials> {
        self.credentials.as_ref()
    }

    /// The view's routes, relative to wherever it is mounted (`Router::nest` works): `GET /`,
    /// `/deliveries`, `/deliveries/{id}`, `/deliveries/{id}/body`, `/dead`, `/style.css`;
    /// `POST /deliveries/{id}/requeue`, `/deliveries/{id}/delete`, `/deliveries/{id}/replay`,
    /// `/dead/requeue`, `/dead/delete`. A fresh CSRF token is drawn for each router.
    pub fn router(self) -> Router {
        let state = Arc::new(ViewState {
            inbox: self.inbox,
            csrf: guard::new_token(),
        });
        let mut router = Router::new()
            .route("/", get(pages::overview))
            .route("/style.css", get(pages::style))
            .route("/deliveries", get(pages::lists::list))
            .route("/dead", get(pages::lists::dead))
            .route("/deliveries/{id}", get(pages::delivery::delivery))
            .route("/deliveries/{id}/body", get(pages::delivery::body))
            .route("/deliveries/{id}/requeue", post(actions::requeue))
            .route("/deliveries/{id}/delete", post(actions::delete))
            .route("/deliveries/{id}/replay", post(actions::replay))
            .route("/dead/requeue", post(actions::requeue_all))
            .route("/dead/delete", post(actions::delete_all))
            .fallback(pages::not_found)
            .with_state(state);
        if let Some(credentials) = self.credentials {
            router = router.layer(middleware::from_fn_with_state(
                Arc::new(credentials),
                basic_auth,
            ));
        }
        router.layer(middleware::map_response(secure))
    }
}

impl std::fmt::Debug for InboxView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InboxView")
            .field("credentials", &self.credentials)
            .finish_non_exhaustive()
    }
}

/// What every handler shares.
pub(crate) struct ViewState {
    inbox: Inbox,
    /// This router's CSRF token.
    csrf: String,
}

impl ViewState {
    pub(crate) fn admin(&self) -> &dyn InboxAdmin {
        self.inbox.admin()
    }
}

pub(crate) type Shared = State<Arc<ViewState>>;

async fn secure(response: Response) -> Response {
    guard::secure(response)
}

async fn basic_auth(
    State(credentials): State<Arc<Credentials>>,
    request: Request,
    next: Next,
) -> Response {
    if credentials.accepts(request.headers().get(http::header::AUTHORIZATION)) {
        next.run(request).await
    } else {
        guard::unauthorized()
    }
}

/// Where the view is mounted, escaped for HTML: the original path without the part the
/// router matched (`/admin/inbox` under `nest("/admin/inbox", ..)`, empty at the root).
pub(crate) fn base(original: &http::Uri, matched: &http::Uri) -> String {
    let (original, matched) = (original.path(), matched.path());
    let base = match original.strip_suffix(matched) {
        Some(base) => base,
        None if matched == "/" => original.trim_end_matches('/'),
        None => "",
    };
    escape(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_the_mount_point() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(base(&uri("/deliveries"), &uri("/deliveries")), "");
        assert_eq!(
            base(&uri("/a/inbox/deliveries/3"), &uri("/deliveries/3")),
            "/a/inbox"
        );
        assert_eq!(base(&uri("/a/inbox"), &uri("/")), "/a/inbox");
        assert_eq!(base(&uri("/a/inbox/"), &uri("/")), "/a/inbox");
        assert_eq!(base(&uri("/x\"y/z"), &uri("/z")), "/x&quot;y");
    }
}
