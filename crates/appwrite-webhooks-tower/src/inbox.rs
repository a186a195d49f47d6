//! Inbox mode: the route verifies, stores, and answers `202`; workers handle it later.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use appwrite_webhooks::inbox::Inbox;
use appwrite_webhooks::{Answer, FixedKeys, KeySource, Verifier};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower_service::Service;

use crate::respond;

/// A route in inbox mode: verifies each delivery as it arrives, writes it to the inbox, and
/// only then answers `202 Accepted` (a re-send of one already held also gets `202`, without
/// being stored again). A delivery that fails verification gets its error's status (`401`,
/// `400`, `413`, `408`); a store that fails gets `503`, so Appwrite counts a failed attempt and
/// nothing is acknowledged that is not stored.
///
/// The verifier's [`ReplayGuard`](appwrite_webhooks::ReplayGuard), if any, is not used: the
/// inbox de-duplicates. A verifier of either [`KeySource`] will do (`K` is inferred from it).
///
/// ```
/// use appwrite_webhooks::{MemoryLedger, Verifier, inbox::Inbox, sender::DeliveryBuilder};
/// use appwrite_webhooks_tower::InboxService;
/// use tower::ServiceExt as _;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let url = "https://example.com/hooks/appwrite";
/// let inbox = Inbox::new(MemoryLedger::default()); // SqliteLedger::open("inbox.db")?, RedisInbox::connect(…)
/// let route = InboxService::new(Verifier::new("whsec_…", url), inbox);
///
/// let request = DeliveryBuilder::new("whsec_…", url, "{}").build().into_request();
/// let response = route.oneshot(request.map(http_body_util::Full::new)).await.unwrap();
/// assert_eq!(response.status(), 202);
/// # }
/// ```
#[derive(Clone, Debug)]
pub struct InboxService<K: KeySource = FixedKeys> {
    verifier: Verifier<K>,
    inbox: Inbox,
}

impl<K: KeySource> InboxService<K> {
    /// A route verifying with `verifier` and storing into `inbox`.
    pub fn new(verifier: Verifier<K>, inbox: Inbox) -> Self {
        Self { verifier, inbox }
    }
}

impl<B, K: KeySource> Service<Request<B>> for InboxService<K>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Response = Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (verifier, inbox) = (self.verifier.clone(), self.inbox.clone());
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let accepted = inbox
                .accept(&verifier, &parts.uri, &parts.headers, body)
                .await;
            // `accept` logs and counts the outcome in the delivery's span.
            Ok(respond(Answer::from(accepted)))
        })
    }
}
