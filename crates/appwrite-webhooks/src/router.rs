//! Routing verified deliveries to async handlers by event pattern or typed variant.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use bytes::Bytes;
use http::StatusCode;

use crate::delivery::Delivery;
use crate::error::Error;
use crate::events::event::Event;
use crate::events::kind::EventKind;
use crate::events::name::{EventName, InvalidEventName};
use crate::events::pattern::Pattern;

/// What a handler may fail with.
pub type HandlerError = Box<dyn std::error::Error + Send + Sync>;

type BoxFuture = Pin<Box<dyn Future<Output = Result<(), HandlerError>> + Send>>;
type Handler = Arc<dyn Fn(Arc<Incoming>) -> BoxFuture + Send + Sync>;

/// What a handler receives: the verified delivery, its typed event and primary event name,
/// shared by every handler the delivery is routed to.
#[derive(Debug)]
pub struct Incoming {
    delivery: Delivery<Bytes>,
    event: Event,
    name: Option<EventName>,
}

impl Incoming {
    /// The verified delivery (headers and raw body).
    pub fn delivery(&self) -> &Delivery<Bytes> {
        &self.delivery
    }

    /// The typed event.
    pub fn event(&self) -> &Event {
        &self.event
    }

    /// The primary event name, when the events header has a concrete one.
    pub fn name(&self) -> Option<&EventName> {
        self.name.as_ref()
    }
}

enum Matcher {
    Pattern(Pattern),
    Kind(EventKind),
}

impl fmt::Display for Matcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Matcher::Pattern(pattern) => f.write_str(pattern.as_str()),
            Matcher::Kind(kind) => write!(f, "{kind:?}"),
        }
    }
}

/// Sends each verified delivery to the handlers registered for it, in registration order.
///
/// A handler is registered for an Appwrite event pattern (matched exactly as Appwrite matches
/// webhook subscriptions, see [`Pattern`]) or for an [`EventKind`]. Every matching handler runs;
/// if none matches, the fallback does. Handler errors are collected and returned, never
/// swallowed.
///
/// ```
/// use appwrite_webhooks::{Event, EventKind, Router, Verifier, sender::DeliveryBuilder};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let router = Router::new()
///     .on("users.*.create", |incoming| async move {
///         if let Event::User { user, .. } = incoming.event() {
///             println!("welcome {}", user.id);
///         }
///         Ok(())
///     })?
///     .on_kind(EventKind::Row, |_| async { Ok(()) })
///     .fallback(|incoming| async move {
///         println!("unhandled {:?}", incoming.name());
///         Ok(())
///     });
///
/// # let delivery = appwrite_webhooks::sender::example_delivery();
/// let dispatched = router.dispatch(delivery).await?;
/// assert_eq!(dispatched.ran(), ["users.*.create"]);
/// # Ok(()) }
/// ```
#[derive(Clone, Default)]
pub struct Router {
    routes: Vec<(Arc<Matcher>, Handler)>,
    fallback: Option<Handler>,
}

impl Router {
    /// A router with no routes.
    pub fn new() -> Self {
        Self::default()
    }

    /// Runs `handler` for deliveries whose event matches `pattern` (`users.*.create`,
    /// `databases.*.tables.orders.rows.*`, `buckets.*`). Fails if the pattern does not parse.
    pub fn on<F, Fut>(self, pattern: &str, handler: F) -> Result<Self, InvalidEventName>
    where
        F: Fn(Arc<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        let pattern = Pattern::parse(pattern)?;
        Ok(self.route(Matcher::Pattern(pattern), handler))
    }

    /// Runs `handler` for deliveries whose typed event is of `kind`.
    pub fn on_kind<F, Fut>(self, kind: EventKind, handler: F) -> Self
    where
        F: Fn(Arc<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.route(Matcher::Kind(kind), handler)
    }

    /// Runs `handler` for deliveries no route matches.
    pub fn fallback<F, Fut>(mut self, handler: F) -> Self
    where
        F: Fn(Arc<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.fallback = Some(boxed(handler));
        self
    }

    fn route<F, Fut>(mut self, matcher: Matcher, handler: F) -> Self
    where
        F: Fn(Arc<Incoming>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
    {
        self.routes.push((Arc::new(matcher), boxed(handler)));
        self
    }

    /// Parses the delivery's event and runs every matching handler, one after another.
    ///
    /// Returns which routes ran, or, if the payload is not the event's JSON or any handler
    /// failed, a [`DispatchError`] saying so (with the routes that did run). A delivery from
    /// [`Verifier::verify`](crate::Verifier::verify) borrows its body: pass
    /// `delivery.into_owned()`.
    pub async fn dispatch(&self, delivery: Delivery<Bytes>) -> Result<Dispatched, DispatchError> {
        let name = delivery.primary_event();
        let event = delivery.event().map_err(DispatchError::Payload)?;
        // Matching against the expansion is exactly Appwrite's subscription rule.
        let expanded = match &name {
            Some(name) => name.expand(),
            None => delivery.events().map(str::to_owned).collect(),
        };
        let kind = event.kind();
        let incoming = Arc::new(Incoming {
            delivery,
            event,
            name,
        });

        let mut selected: Vec<(String, &Handler)> = self
            .routes
            .iter()
            .filter(|(matcher, _)| match &**matcher {
                Matcher::Pattern(pattern) => pattern.matches_expanded(&expanded),
                Matcher::Kind(k) => *k == kind,
            })
            .map(|(matcher, handler)| (matcher.to_string(), handler))
            .collect();
        if selected.is_empty()
            && let Some(fallback) = &self.fallback
        {
            selected.push(("fallback".to_owned(), fallback));
        }

        let mut ran = Vec::with_capacity(selected.len());
        let mut failures = Vec::new();
        for (route, handler) in selected {
            match handler(Arc::clone(&incoming)).await {
                Ok(()) => ran.push(route),
                Err(error) => failures.push((route, error)),
            }
        }
        if failures.is_empty() {
            Ok(Dispatched { ran })
        } else {
            Err(DispatchError::Handlers { ran, failures })
        }
    }
}

fn boxed<F, Fut>(handler: F) -> Handler
where
    F: Fn(Arc<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), HandlerError>> + Send + 'static,
{
    Arc::new(move |incoming| Box::pin(handler(incoming)))
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let routes: Vec<String> = self.routes.iter().map(|(m, _)| m.to_string()).collect();
        f.debug_struct("Router")
            .field("routes", &routes)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

/// The routes that handled a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dispatched {
    ran: Vec<String>,
}

impl Dispatched {
    /// The routes that ran, by pattern, kind (`Row`) or `fallback`, in order. Empty when
    /// nothing matched and there is no fallback.
    pub fn ran(&self) -> &[String] {
        &self.ran
    }
}

/// Why dispatching a delivery failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DispatchError {
    /// The verified body is not the JSON its event promises; no handler ran.
    #[error(transparent)]
    Payload(Error),
    /// At least one handler failed. The others still ran.
    #[error("{} handler(s) failed: {}", failures.len(), failures.iter().map(|(r, e)| format!("{r}: {e}")).collect::<Vec<_>>().join("; "))]
    Handlers {
        /// The routes that succeeded.
        ran: Vec<String>,
        /// Each failed route with its error.
        failures: Vec<(String, HandlerError)>,
    },
}

impl DispatchError {
    /// The HTTP status to answer: 400 for a bad payload, 500 when a handler failed (so Appwrite
    /// counts a failed attempt and the delivery can be retried).
    pub fn status(&self) -> StatusCode {
        match self {
            DispatchError::Payload(error) => error.status(),
            DispatchError::Handlers { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sender::DeliveryBuilder;
    use crate::verify::verifier::Verifier;
    use std::sync::Mutex;

    fn delivery(name: &str, body: &str) -> Delivery<Bytes> {
        let url = "https://example.com/hook";
        let sent = DeliveryBuilder::new("k", url, body.to_owned())
            .event(&name.parse().unwrap())
            .build();
        Verifier::new("k", url)
            .verify(sent.headers(), sent.body())
            .unwrap()
            .into_owned()
    }

    const ROW: &str = r#"{"$id":"r1","$sequence":"1","$tableId":"orders","$databaseId":"shop","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","$permissions":[],"total":3}"#;

    #[tokio::test]
    async fn routes_by_pattern_kind_and_mirror() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = |label: &'static str| {
            let seen = Arc::clone(&seen);
            move |_: Arc<Incoming>| {
                seen.lock().unwrap().push(label);
                async { Ok(()) }
            }
        };
        let router = Router::new()
            .on("databases.*.tables.orders.rows.*.create", log("orders"))
            .unwrap()
            .on("databases.*.collections.*.documents.*", log("legacy"))
            .unwrap()
            .on("users.*", log("users"))
            .unwrap()
            .on_kind(EventKind::Row, log("kind"))
            .fallback(log("fallback"));

        let ran = router
            .dispatch(delivery("tablesdb.shop.tables.orders.rows.r1.create", ROW))
            .await
            .unwrap();
        assert_eq!(
            ran.ran(),
            [
                "databases.*.tables.orders.rows.*.create",
                "databases.*.collections.*.documents.*",
                "Row"
            ]
        );
        assert_eq!(*seen.lock().unwrap(), ["orders", "legacy", "kind"]);

        let ran = router.dispatch(delivery("teams.t1.delete", r#"{"$id":"t1","$createdAt":"2020-10-15T06:38:00.000+00:00","$updatedAt":"2020-10-15T06:38:00.000+00:00","name":"T","total":1,"prefs":[]}"#)).await.unwrap();
        assert_eq!(ran.ran(), ["fallback"]);
    }

    #[tokio::test]
    async fn handler_errors_are_reported_and_others_still_run() {
        let router = Router::new()
            .on("databases.*", |_| async { Err("disk full".into()) })
            .unwrap()
            .on_kind(EventKind::Row, |_| async { Ok(()) });
        let error = router
            .dispatch(delivery("databases.shop.tables.orders.rows.r1.update", ROW))
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::INTERNAL_SERVER_ERROR);
        match error {
            DispatchError::Handlers { ran, failures } => {
                assert_eq!(ran, ["Row"]);
                assert_eq!(failures.len(), 1);
                assert_eq!(failures[0].0, "databases.*");
                assert_eq!(failures[0].1.to_string(), "disk full");
            }
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn bad_payload_runs_nothing() {
        let router = Router::new()
            .fallback(|_| async { panic!("must not run") as Result<(), HandlerError> });
        let error = router
            .dispatch(delivery("teams.t1.create", "{"))
            .await
            .unwrap_err();
        assert_eq!(error.status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn invalid_patterns_are_rejected_at_registration() {
        assert!(Router::new().on("users.*.*", |_| async { Ok(()) }).is_err());
    }
}
