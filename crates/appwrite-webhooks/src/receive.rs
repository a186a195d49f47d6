//! The receive sequence, once for every adapter: observe the request, verify it, admit it
//! through the replay guard, run the handler, settle the claim by the handler's status, and
//! answer — or, when the handler must not run, the [`Answer`] to send instead.
//!
//! Adapters convert their framework's request into [`http::request::Parts`] and a body, call
//! [`Verifier::serve`] with a closure that runs the handler, and turn an [`Answer`] into their
//! framework's response. Nothing else is theirs to decide: the statuses, the texts, the
//! `WWW-Authenticate` challenge, the span and the metrics are all here.

use std::borrow::Cow;
use std::future::Future;

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header, request::Parts};
use tracing::Instrument as _;

use crate::delivery::Delivery;
use crate::error::Error;
use crate::inbox::Put;
use crate::observe::Outcome;
use crate::replay::Admission;
use crate::verify::source::KeySource;
use crate::verify::verifier::Verifier;

/// What to answer a request whose handler does not run: a rejection, a copy of a delivery
/// that is handled or being handled, or inbox mode's `202`. Every adapter sends exactly this:
/// the status, [`text`](Self::text) as a `text/plain; charset=utf-8` body, and the
/// [`www_authenticate`](Self::www_authenticate) challenge when there is one.
///
/// The text is safe for an unauthenticated caller: it names the check that failed and never
/// carries a key, a store's or a resolver's error text (those go to the log), or which of
/// several keys came closest.
///
/// ```
/// use appwrite_webhooks::{Answer, Error, inbox::Put};
///
/// let answer = Answer::from(&Error::SignatureMismatch);
/// assert_eq!((answer.status().as_u16(), answer.text()), (401, "signature does not match the body, URL and key(s)"));
/// assert_eq!(Answer::from(Put::Stored(7)).status(), 202);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    status: StatusCode,
    text: Cow<'static, str>,
    challenge: Option<HeaderValue>,
}

impl Answer {
    /// The `Content-Type` of every answer's body.
    pub const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

    fn new(status: StatusCode, text: impl Into<Cow<'static, str>>) -> Self {
        Self {
            status,
            text: text.into(),
            challenge: None,
        }
    }

    /// A copy of a delivery a handler already finished: answered with the guard's duplicate
    /// status (`200` unless configured otherwise), so Appwrite stops sending it.
    pub fn duplicate(status: StatusCode) -> Self {
        Self::new(status, "duplicate delivery: already handled")
    }

    /// A copy of a delivery whose handler is running now: `409`, a failed attempt to Appwrite
    /// (success is not known yet), so it comes again and meets the first copy's outcome.
    pub fn in_progress() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "another copy of this delivery is being handled; retry later",
        )
    }

    /// The status to answer with.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The body: one line, safe to send to anyone.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The `WWW-Authenticate` challenge a `401` for missing or wrong HTTP Basic credentials
    /// carries.
    pub fn www_authenticate(&self) -> Option<&HeaderValue> {
        self.challenge.as_ref()
    }

    /// The answer as an HTTP response, for frameworks on the `http` crate (tower, axum, hyper).
    ///
    /// ```
    /// let response = appwrite_webhooks::Answer::in_progress().into_response();
    /// assert_eq!(response.status(), 409);
    /// assert_eq!(response.headers()["content-type"], "text/plain; charset=utf-8");
    /// ```
    pub fn into_response(self) -> http::Response<Bytes> {
        let mut response = http::Response::new(match self.text {
            Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
            Cow::Owned(text) => Bytes::from(text),
        });
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(Self::CONTENT_TYPE),
        );
        if let Some(challenge) = self.challenge {
            headers.insert(header::WWW_AUTHENTICATE, challenge);
        }
        response
    }
}

impl From<&Error> for Answer {
    /// The error's status and its public text: [`Error::public_text`].
    fn from(error: &Error) -> Self {
        Self {
            status: error.status(),
            text: error.public_text(),
            challenge: error.www_authenticate(),
        }
    }
}

impl From<Put> for Answer {
    /// Inbox mode's `202`: `stored 7`, or `duplicate of 7, already stored`.
    fn from(put: Put) -> Self {
        Self::new(StatusCode::ACCEPTED, put.to_string())
    }
}

impl From<Result<Put, Error>> for Answer {
    /// What inbox mode answers: the `202`, or the error's answer (`503` when the store failed).
    fn from(result: Result<Put, Error>) -> Self {
        match result {
            Ok(put) => put.into(),
            Err(error) => (&error).into(),
        }
    }
}

/// How [`Verifier::serve`] ended without an error from the handler.
#[derive(Debug)]
#[must_use]
pub enum Served<R> {
    /// The handler ran and answered this.
    Handled(R),
    /// The handler did not run: send this answer.
    Answered(Answer),
}

impl<K: KeySource> Verifier<K> {
    /// The receive sequence every adapter with a layer or middleware runs, in one call:
    ///
    /// 1. start the delivery's span and clock and run everything below in the span;
    /// 2. verify the body as it arrives and check the ids
    ///    its events header names ([`Delivery::check_event_ids`]);
    /// 3. admit it through the replay guard, if one is configured
    ///    ([`receive`](Self::receive)): a copy of a handled delivery, or of one being handled,
    ///    is answered without the handler;
    /// 4. run `handler` with the delivery and the request's `parts`, and settle the claim by
    ///    the status `status_of` reads from its response: below 400 marks the delivery done,
    ///    anything else gives it back;
    /// 5. record the outcome.
    ///
    /// A handler that returns `Err`, panics, or whose future is dropped (a client that hung up,
    /// a timeout) gives the delivery back too, and the `Err` is returned as it is.
    ///
    /// ```
    /// use appwrite_webhooks::{ReplayGuard, Served, Verifier, sender::DeliveryBuilder};
    /// use http_body_util::Full;
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let url = "https://example.com/hook";
    /// let verifier = Verifier::new("k", url).with_replay_guard(ReplayGuard::in_memory());
    /// let request = || DeliveryBuilder::new("k", url, "{}").build().into_request().into_parts();
    /// let handler = |_delivery, _parts| async { Ok::<_, std::convert::Infallible>(204) };
    ///
    /// let (parts, body) = request();
    /// let served = verifier.serve(parts, Full::new(body), handler, |status| *status).await;
    /// assert!(matches!(served, Ok(Served::Handled(204))));
    ///
    /// // Appwrite's redelivery of the same delivery: answered without the handler.
    /// let (parts, body) = request();
    /// let Ok(Served::Answered(answer)) = verifier.serve(parts, Full::new(body), handler, |s| *s).await else { panic!() };
    /// assert_eq!(answer.status(), 200);
    /// # }
    /// ```
    pub async fn serve<B, F, Fut, R, E>(
        &self,
        parts: Parts,
        body: B,
        handler: F,
        status_of: impl FnOnce(&R) -> u16,
    ) -> Result<Served<R>, E>
    where
        B: http_body::Body,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
        F: FnOnce(Delivery<Bytes>, Parts) -> Fut,
        Fut: Future<Output = Result<R, E>>,
    {
        let mut observation = self.observe(&parts.headers);
        let span = observation.span().clone();
        async move {
            let (delivery, claim) = match self.receive(&parts.uri, &parts.headers, body).await {
                Ok((delivery, Admission::Handle(claim))) => (delivery, claim),
                Ok((delivery, outcome)) => {
                    observation.verified(&delivery);
                    let (answer, outcome) = match outcome {
                        Admission::Duplicate { status } => {
                            (Answer::duplicate(status), Outcome::Duplicate)
                        }
                        _ => (Answer::in_progress(), Outcome::InProgress),
                    };
                    observation.finish(outcome);
                    return Ok(Served::Answered(answer));
                }
                Err(error) => {
                    observation.finish(Outcome::of_error(&error));
                    return Ok(Served::Answered(Answer::from(&error)));
                }
            };
            observation.verified(&delivery);
            // An `Err`, a panic or this future being dropped leaves the claim unsettled:
            // dropping it releases the delivery, and the observation records the failure.
            let response = match handler(delivery, parts).await {
                Ok(response) => response,
                Err(error) => {
                    observation.finish(Outcome::HandlerFailed);
                    return Err(error);
                }
            };
            let succeeded = status_of(&response) < 400;
            claim.settle(succeeded).await;
            observation.finish(if succeeded {
                Outcome::Accepted
            } else {
                Outcome::HandlerFailed
            });
            Ok(Served::Handled(response))
        }
        .instrument(span)
        .await
    }
}
