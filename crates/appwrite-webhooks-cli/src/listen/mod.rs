//! `listen`: a local receiver for development that prints each delivery.

mod printer;

use std::net::SocketAddr;
use std::sync::Arc;

use appwrite_webhooks::{Delivery, ProxyHeaders, Scheme, Verifier};
use appwrite_webhooks_axum::{Webhook, WebhookRejection};
use axum::Router;
use axum::extract::{FromRequest as _, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clap::Args;

use appwrite_webhooks::inbox::Inbox;

use crate::Failure;
use crate::inbox::StoreArgs;
use crate::keys::{self, KeyArgs};
use crate::output::Style;
use crate::scheme::SchemeArgs;

use self::printer::Printer;

#[derive(Args)]
pub struct ListenArgs {
    #[command(flatten)]
    keys: KeyArgs,
    #[command(flatten)]
    scheme: SchemeArgs,
    /// Timestamped and alert schemes: how far a delivery's timestamp may be from now, in
    /// seconds.
    #[arg(long, value_name = "SECS", default_value_t = 300)]
    tolerance: u64,
    /// Alert scheme: also accept alerts sent with no signature (an alert channel without a
    /// secret). Anyone who can reach the port can then post alerts.
    #[arg(long)]
    unsigned_alerts: bool,
    /// The webhook URL exactly as configured in Appwrite (the public URL, e.g. your tunnel's);
    /// the appwrite scheme needs it or --request-url.
    #[arg(long)]
    url: Option<String>,
    /// Rebuild the URL from each request instead of --url.
    #[arg(long, conflicts_with = "url")]
    request_url: bool,
    /// With --request-url: believe Forwarded / X-Forwarded-* headers from a proxy you run.
    #[arg(long, requires = "request_url")]
    trust_proxy: bool,
    /// Port to listen on (0: the system picks one, and the "listening on" line says which).
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "127.0.0.1")]
    bind: std::net::IpAddr,
    /// One JSON object per line on stdout, for piping; each accepted delivery's line has
    /// `delivery_id` (Appwrite's X-Appwrite-Webhook-Delivery-Id, null when absent) and, in inbox
    /// mode, `stored`, `duplicate` and `over_label_limit`.
    #[arg(long)]
    json: bool,
    /// Seconds a request body may take to arrive before it is answered 408 and its connection
    /// closed (Appwrite sends the whole body at once and gives up after 15 s).
    #[arg(long, value_name = "SECS", default_value_t = 10)]
    body_timeout: u64,
    /// Inbox mode: store each verified delivery durably in this SQLite file and answer 202
    /// (503 if it cannot be stored); workers process them later (`inbox` to inspect).
    #[arg(long, value_name = "PATH", conflicts_with_all = ["inbox_redis", "inbox_postgres"])]
    inbox_sqlite: Option<std::path::PathBuf>,
    /// Inbox mode with a Redis Streams inbox shared by replicas.
    #[arg(long, value_name = "URL", conflicts_with = "inbox_postgres")]
    inbox_redis: Option<String>,
    /// Inbox mode with a Postgres inbox shared by replicas (`postgres://user@host:port/db`);
    /// creates or upgrades its schema on start.
    #[arg(long, value_name = "URL")]
    inbox_postgres: Option<String>,
    /// Require HTTP Basic credentials with this user name, as Appwrite sends them when the
    /// webhook has a username and password (401 with WWW-Authenticate otherwise).
    #[arg(long, value_name = "USER", requires = "http_pass_file")]
    http_user: Option<String>,
    /// With --http-user: a file holding the password; each non-empty line is one accepted
    /// password, for a rotation. A file, so the password stays out of process lists.
    #[arg(long, value_name = "PATH", requires = "http_user")]
    http_pass_file: Option<std::path::PathBuf>,
    /// With --inbox-redis: the inbox's key prefix.
    #[arg(long, value_name = "PREFIX", default_value = appwrite_webhooks_redis::DEFAULT_INBOX_PREFIX)]
    inbox_prefix: String,
}

pub async fn run(args: ListenArgs, style: Style) -> Result<(), Failure> {
    let mut keys = args.keys.resolve()?.into_iter();
    let first = keys.next().ok_or_else(keys::missing)?;
    let verifier = match &args.url {
        _ if args.scheme.scheme != Scheme::Appwrite => {
            if args.request_url {
                return Err(Failure::Usage(
                    "--request-url applies to the appwrite scheme only".into(),
                ));
            }
            args.scheme.verifier(first, None, args.tolerance)?
        }
        Some(url) => Verifier::new(first, url.as_str()),
        None if !args.request_url => {
            return Err(Failure::Usage(
                "--url (or --request-url) is required: the appwrite scheme signs the webhook URL"
                    .into(),
            ));
        }
        None => {
            let proxy = if args.trust_proxy {
                ProxyHeaders::Trust
            } else {
                ProxyHeaders::Ignore
            };
            Verifier::for_request_url(first, proxy)
        }
    }
    .with_keys(keys)
    .with_body_timeout(std::time::Duration::from_secs(args.body_timeout.max(1)));
    let verifier = match (args.unsigned_alerts, args.scheme.scheme) {
        (false, _) => verifier,
        (true, Scheme::Alert { .. }) => {
            if !style.quiet {
                eprintln!("accepting unsigned alerts: anyone who can reach this port can post one");
            }
            verifier.with_unsigned_alerts(true)
        }
        (true, _) => {
            return Err(Failure::Usage(
                "--unsigned-alerts applies to --scheme alert only".into(),
            ));
        }
    };
    let verifier = match (&args.http_user, &args.http_pass_file) {
        (Some(user), Some(path)) => with_basic_auth(verifier, user, path)?,
        _ => verifier,
    };
    let inbox = match (&args.inbox_sqlite, &args.inbox_redis, &args.inbox_postgres) {
        (None, None, None) => None,
        (sqlite, redis, postgres) => {
            let store = StoreArgs::new(
                sqlite.clone(),
                redis.clone(),
                postgres.clone(),
                args.inbox_prefix.clone(),
            );
            let inbox = store.open(true).await?;
            if !style.quiet {
                eprintln!("inbox mode: storing into the {}", store.describe());
            }
            Some(inbox)
        }
    };
    let address = SocketAddr::new(args.bind, args.port);
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| Failure::Usage(format!("cannot listen on {address}: {e}")))?;
    // What was bound: with `--port 0` the system picks the port, and the line below says which.
    let address = listener
        .local_addr()
        .map_err(|e| Failure::Usage(format!("cannot listen on {address}: {e}")))?;
    // Ctrl-C's handler is registered when its future is first polled: poll it once now, so a
    // Ctrl-C right after the "listening" line stops the server cleanly instead of killing it.
    let mut interrupted = Box::pin(tokio::signal::ctrl_c());
    std::future::poll_fn(|cx| {
        let _ = interrupted.as_mut().poll(cx);
        std::task::Poll::Ready(())
    })
    .await;
    if !style.quiet {
        let signed_for = match args.scheme.scheme {
            Scheme::Appwrite => args.url.as_deref().unwrap_or("the request's own URL"),
            _ => "any URL",
        };
        eprintln!(
            "listening on http://{address} for {} deliveries signed for {signed_for}; Ctrl-C stops",
            args.scheme.scheme
        );
    }
    let printer = Arc::new(Printer {
        style,
        json: args.json,
    });
    let app = Router::new()
        .fallback(axum::routing::post(receive))
        .with_state(AppState {
            verifier,
            scheme: args.scheme.scheme,
            printer,
            inbox,
        });
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = interrupted.await;
        })
        .await
        .map_err(|e| Failure::Usage(format!("server error: {e}")))?;
    if !style.quiet {
        eprintln!("stopped");
    }
    Ok(())
}

/// Requires `user` with each password of the file at `path`.
fn with_basic_auth(
    verifier: Verifier,
    user: &str,
    path: &std::path::Path,
) -> Result<Verifier, Failure> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Failure::Usage(format!("cannot read password file {}: {e}", path.display()))
    })?;
    let passwords: Vec<&str> = text
        .lines()
        .map(|line| line.trim_end_matches('\r'))
        .filter(|line| !line.is_empty())
        .collect();
    if user.is_empty() || passwords.is_empty() {
        return Err(Failure::Usage(format!(
            "--http-user and the password file {} must not be empty: Appwrite sends \
             credentials only when both are set",
            path.display()
        )));
    }
    Ok(passwords
        .into_iter()
        .fold(verifier, |v, password| v.with_basic_auth(user, password)))
}

#[derive(Clone)]
struct AppState {
    verifier: Verifier,
    scheme: Scheme,
    printer: Arc<Printer>,
    inbox: Option<Inbox>,
}

impl axum::extract::FromRef<AppState> for Verifier {
    fn from_ref(state: &AppState) -> Self {
        state.verifier.clone()
    }
}

/// Answers like the adapters: 204 when the delivery verifies and its payload parses, the
/// rejection's status otherwise; in inbox mode, 202 once stored (as `InboxService` does).
async fn receive(State(state): State<AppState>, request: Request) -> Response {
    let printer = &state.printer;
    if let Some(inbox) = &state.inbox {
        let (parts, body) = request.into_parts();
        return match inbox
            .accept(&state.verifier, &parts.uri, &parts.headers, body)
            .await
        {
            Ok(put) => {
                // Verified with the rest: a delivery id the scheme reads is well-formed here.
                let delivery_id = (state.scheme == Scheme::Appwrite)
                    .then(|| {
                        parts
                            .headers
                            .get(&appwrite_webhooks::headers::WEBHOOK_DELIVERY_ID)
                    })
                    .flatten()
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty());
                printer.stored(put, delivery_id);
                appwrite_webhooks::Answer::from(put)
                    .into_response()
                    .map(axum::body::Body::from)
            }
            Err(error) => {
                printer.rejected(error.status().as_u16(), &error.to_string());
                WebhookRejection::from(error).into_response()
            }
        };
    }
    let webhook = Webhook::<Delivery>::from_request(request, &state).await;
    match webhook {
        Ok(Webhook(delivery)) => match delivery.event() {
            Ok(event) => {
                printer.accepted(&delivery, &format!("{:?}", event.kind()));
                StatusCode::NO_CONTENT.into_response()
            }
            Err(error) => {
                printer.rejected(error.status().as_u16(), &error.to_string());
                WebhookRejection::from(error).into_response()
            }
        },
        Err(rejection) => {
            printer.rejected(rejection.status().as_u16(), &rejection.body_text());
            rejection.into_response()
        }
    }
}
