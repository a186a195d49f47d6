//! `inbox`: inspect and operate a durable inbox (SQLite file, Redis or Postgres), and open one
//! for `listen`.

use std::io::Write as _;
use std::path::PathBuf;

use appwrite_webhooks::inbox::{Inbox, Purge, State, Stored};
use appwrite_webhooks_postgres::PostgresLedger;
use appwrite_webhooks_redis::{DEFAULT_INBOX_PREFIX, RedisLedger};
use appwrite_webhooks_sqlite::SqliteLedger;
use clap::{Args, Subcommand};

use crate::Failure;
use crate::output::{Fit, Style, escape, json_line, word};

/// Which inbox: a SQLite file, a Redis or a Postgres database.
#[derive(Args, Clone)]
pub struct StoreArgs {
    /// The SQLite inbox file.
    #[arg(long, value_name = "PATH", global = true, conflicts_with_all = ["redis", "postgres"])]
    sqlite: Option<PathBuf>,
    /// The Redis holding the inbox (`redis://host:port/db`).
    #[arg(long, value_name = "URL", global = true, conflicts_with = "postgres")]
    redis: Option<String>,
    /// The Postgres database holding the inbox (`postgres://user@host:port/db`).
    #[arg(long, value_name = "URL", global = true)]
    postgres: Option<String>,
    /// With --redis: the inbox's key prefix.
    #[arg(long, value_name = "PREFIX", global = true, default_value = DEFAULT_INBOX_PREFIX)]
    prefix: String,
}

#[derive(Args)]
pub struct InboxArgs {
    #[command(flatten)]
    store: StoreArgs,
    #[command(subcommand)]
    command: InboxCommand,
}

#[derive(Subcommand)]
enum InboxCommand {
    /// Count deliveries by state: stored, pending (in flight), done, dead, and stale (settled
    /// without their handler: older than a version of their resource already applied).
    Stats {
        /// One JSON object.
        #[arg(long)]
        json: bool,
    },
    /// List deliveries, oldest first, with attempts, delivery id (`-` when absent) and last
    /// error.
    List {
        /// Only those in this state.
        #[arg(long, value_parser = parse_state)]
        state: Option<State>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show one delivery: its state, delivery id, headers and body.
    Show {
        /// The delivery's id (from `list`).
        id: u64,
        /// Print only the body, byte for byte as received.
        #[arg(long, conflicts_with = "json")]
        body: bool,
        /// One JSON object (the body as text and as base64).
        #[arg(long)]
        json: bool,
    },
    /// Make a dead letter pending again (attempts reset) for the workers.
    Retry {
        /// The dead letter's id.
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<u64>,
        /// Every dead letter.
        #[arg(long)]
        all_dead: bool,
    },
    /// Delete handled deliveries (kept only to recognise re-sends); pending ones are never
    /// deleted.
    Purge {
        /// Delete the dead letters too.
        #[arg(long)]
        dead: bool,
    },
    /// Serve a web view of the inbox: deliveries, dead letters, failures; requeue, delete,
    /// replay.
    Web(crate::web::WebArgs),
}

fn parse_state(text: &str) -> Result<State, String> {
    State::parse(text).map_err(|_| "expected pending, done, dead or stale".to_owned())
}

impl StoreArgs {
    pub fn new(
        sqlite: Option<PathBuf>,
        redis: Option<String>,
        postgres: Option<String>,
        prefix: String,
    ) -> Self {
        Self {
            sqlite,
            redis,
            postgres,
            prefix,
        }
    }

    /// Opens the inbox the flags name. For inspection an inbox must exist: a SQLite path with
    /// no file, or a Postgres database without the ledger's schema, is an error, not a new
    /// inbox. To receive (`create`), a Postgres ledger's schema is created or upgraded.
    pub async fn open(&self, create: bool) -> Result<Inbox, Failure> {
        if let Some(url) = &self.postgres {
            return open_postgres(url, create).await;
        }
        match (&self.sqlite, &self.redis) {
            (Some(path), _) => {
                let mut builder = SqliteLedger::builder(path);
                if !create {
                    if !path.exists() {
                        return Err(Failure::Usage(format!("no inbox at {}", path.display())));
                    }
                    builder = builder.existing();
                }
                let store = builder
                    .open()
                    .map_err(|e| Failure::Usage(format!("cannot open the inbox: {e}")))?;
                Ok(Inbox::new(store))
            }
            (None, Some(url)) => {
                let unavailable =
                    |e| Failure::Connection(format!("cannot reach Redis at {url}: {e}"));
                let store = RedisLedger::builder(url.as_str())
                    .with_inbox_prefix(self.prefix.as_str())
                    .connect()
                    .await
                    .map_err(unavailable)?;
                store.check_inbox().await.map_err(unavailable)?;
                Ok(Inbox::new(store))
            }
            (None, None) => Err(Failure::Usage(
                "which inbox? give --sqlite PATH or --redis URL (or --postgres URL)".into(),
            )),
        }
    }

    /// Where the deliveries go, for messages.
    pub fn describe(&self) -> String {
        if let Some(url) = &self.postgres {
            return format!("Postgres inbox {}", without_password(url));
        }
        match (&self.sqlite, &self.redis) {
            (Some(path), _) => format!("SQLite inbox {}", path.display()),
            (None, Some(url)) => format!("Redis inbox {url} (prefix {})", self.prefix),
            (None, None) => "no inbox".into(),
        }
    }
}

/// The Postgres ledger at `url`: migrated to receive into; for inspection, it must have been.
async fn open_postgres(url: &str, create: bool) -> Result<Inbox, Failure> {
    let shown = without_password(url);
    let store = PostgresLedger::connect(url)
        .await
        .map_err(|e| Failure::Connection(format!("cannot reach Postgres at {shown}: {e}")))?;
    if create {
        store
            .migrate()
            .await
            .map_err(|e| Failure::Usage(format!("cannot prepare the inbox: {e}")))?;
    } else {
        store
            .check_schema()
            .await
            .map_err(|e| Failure::Usage(format!("no inbox at {shown}: {e}")))?;
    }
    Ok(Inbox::new(store))
}

/// `url` for messages: a password in it is replaced by `***`.
fn without_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((credentials, host)) => match credentials.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{path}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

fn store_failed(error: appwrite_webhooks::StoreError) -> Failure {
    Failure::Connection(format!("the inbox failed: {error}"))
}

pub async fn run(args: InboxArgs, style: Style) -> Result<(), Failure> {
    let inbox = args.store.open(false).await?;
    let store = inbox.admin();
    match args.command {
        InboxCommand::Web(web) => return crate::web::run(inbox.clone(), web, style).await,
        InboxCommand::Stats { json } => {
            let stats = store.stats().await.map_err(store_failed)?;
            if json {
                println!(
                    "{}",
                    json_line(&serde_json::json!({
                        "stored": stats.stored,
                        "pending": stats.pending,
                        "in_flight": stats.in_flight,
                        "done": stats.done,
                        "dead": stats.dead,
                        "stale": stats.stale,
                    }))
                );
            } else {
                // `stale` only where a ledger orders deliveries per resource and settled some.
                let stale = match stats.stale {
                    0 => String::new(),
                    n => format!("  stale {n}"),
                };
                println!(
                    "stored {}  pending {} ({} in flight)  done {}  dead {}{stale}",
                    stats.stored, stats.pending, stats.in_flight, stats.done, stats.dead
                );
            }
        }
        InboxCommand::List { state, limit, json } => {
            let rows = store.list(state, limit).await.map_err(store_failed)?;
            if !json && !style.quiet {
                println!(
                    "{:>6}  {:<7}  {:>8}  {:<24}  {:>7}  {:<20}  event / last error",
                    "id", "state", "attempts", "received", "bytes", "delivery-id"
                );
            }
            for row in &rows {
                if json {
                    println!("{}", json_line(&summary(row)));
                } else {
                    // Stored headers are the sender's: each column escaped so that it stays one.
                    println!(
                        "{:>6}  {:<7}  {:>8}  {:<24}  {:>7}  {:<20}  {}{}",
                        row.id,
                        row.state,
                        row.attempts,
                        received_at(row),
                        row.received.body.len(),
                        word(delivery_id(row).as_deref()),
                        word(first_event(row).as_deref()),
                        row.last_error
                            .as_deref()
                            .map(|e| format!("  {}", style.bad(&escape(e, Fit::Line))))
                            .unwrap_or_default()
                    );
                }
            }
        }
        InboxCommand::Show { id, body, json } => {
            let row = store
                .get(id)
                .await
                .map_err(store_failed)?
                .ok_or_else(|| Failure::Rejected(format!("no delivery {id} in the inbox")))?;
            if body {
                let mut out = std::io::stdout().lock();
                out.write_all(&row.received.body)
                    .and_then(|()| out.flush())
                    .map_err(|e| Failure::Usage(format!("cannot write the body: {e}")))?;
            } else if json {
                let mut object = summary(&row);
                object["uri"] = row.received.uri.clone().into();
                object["headers"] = row
                    .received
                    .headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), String::from_utf8_lossy(v.as_bytes()).into()))
                    .collect::<serde_json::Map<_, _>>()
                    .into();
                object["body"] = String::from_utf8_lossy(&row.received.body).into();
                object["body_base64"] = base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &row.received.body,
                )
                .into();
                println!("{}", json_line(&object));
            } else {
                println!(
                    "delivery {}: {} after {} attempt(s)",
                    row.id, row.state, row.attempts
                );
                println!("delivery id: {}", word(delivery_id(&row).as_deref()));
                if let Some(error) = &row.last_error {
                    println!("last error: {}", escape(error, Fit::Line));
                }
                println!(
                    "received {} at {}",
                    received_at(&row),
                    escape(&row.received.uri, Fit::Word)
                );
                for (name, value) in &row.received.headers {
                    println!(
                        "{name}: {}",
                        escape(&String::from_utf8_lossy(value.as_bytes()), Fit::Line)
                    );
                }
                println!();
                println!(
                    "{}",
                    crate::output::printable(&String::from_utf8_lossy(&row.received.body))
                );
            }
        }
        InboxCommand::Retry { id: Some(id), .. } => {
            if !store.requeue(id).await.map_err(store_failed)? {
                let why = match store.get(id).await.map_err(store_failed)? {
                    Some(row) => format!("delivery {id} is {}, not a dead letter", row.state),
                    None => format!("no delivery {id} in the inbox"),
                };
                return Err(Failure::Rejected(why));
            }
            println!("delivery {id} is pending again");
        }
        InboxCommand::Retry { id: None, .. } => {
            let n = store.requeue_dead().await.map_err(store_failed)?;
            println!("{n} dead letter(s) pending again");
        }
        InboxCommand::Purge { dead } => {
            let what = if dead {
                Purge::DoneAndDead
            } else {
                Purge::Done
            };
            let n = store.purge(what).await.map_err(store_failed)?;
            println!("purged {n} deliver{}", if n == 1 { "y" } else { "ies" });
        }
    }
    Ok(())
}

fn summary(row: &Stored) -> serde_json::Value {
    serde_json::json!({
        "id": row.id,
        "state": row.state.as_str(),
        "attempts": row.attempts,
        "last_error": row.last_error,
        "received_at": received_at(row),
        "event": first_event(row).unwrap_or_default(),
        "delivery_id": delivery_id(row),
        "bytes": row.received.body.len(),
    })
}

/// A stored header as text, `None` when absent or empty (as Appwrite sends an absent value).
fn stored_header(row: &Stored, name: &http::HeaderName) -> Option<String> {
    row.received
        .headers
        .get(name)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .filter(|v| !v.is_empty())
}

/// The first name in the stored (unsigned) events header, for listing; unescaped.
fn first_event(row: &Stored) -> Option<String> {
    stored_header(row, &appwrite_webhooks::headers::WEBHOOK_EVENTS)
        .map(|events| events.split(',').next().unwrap_or("").to_owned())
}

/// The stored (unsigned) X-Appwrite-Webhook-Delivery-Id, verified when it was received;
/// unescaped.
fn delivery_id(row: &Stored) -> Option<String> {
    stored_header(row, &appwrite_webhooks::headers::WEBHOOK_DELIVERY_ID)
}

fn received_at(row: &Stored) -> String {
    let at = time::OffsetDateTime::from(row.received.received_at);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
