//! What durability costs, and what exactly-once costs on top (issue #25's benchmark).
//!
//! ```sh
//! cargo run --release -p appwrite-webhooks-tower --example durable_load   # ROUNDS=5 REQUESTS=10000 CONNECTIONS=32 STORED=4000
//! ```
//!
//! The server runs in a child process pinned to core 0 (`taskset -c 0`), with the Postgres
//! cluster it starts (fsync on); the load generator runs in this process, pinned to core 1.
//! Five routes, each sent unique, correctly signed 1 KiB deliveries at 32 connections, in turn
//! for several rounds:
//! - **no durability** — axum, verify inline, parse the JSON, answer `204`;
//! - **by hand, SQLite** — the same, then one `INSERT` per request into a SQLite file with the
//!   inbox's durability (WAL, `synchronous = FULL`) on a blocking thread, answer `202`: the
//!   receiver a user would write the obvious way;
//! - **SQLite inbox** — `InboxService` over `SqliteLedger` (default `Durability::Full`);
//! - **by hand, Postgres** — one `INSERT` per request through a connection pool;
//! - **Postgres inbox** — `InboxService` over `PostgresLedger`.
//!
//! Then, in the server process, the workers: how many stored deliveries per second 4 workers
//! settle with a handler that upserts each user into a `users` table — a plain handler writing
//! its own SQLite file (`synchronous = FULL`), against `SqliteLedger::exactly_once` writing the
//! same row in the ledger's transaction. Not a test: run by hand, results in BENCHMARKS.md.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Inbox, Workers};
use appwrite_webhooks::{Delivery, HandlerError, Verifier};
use appwrite_webhooks_postgres::PostgresLedger;
use appwrite_webhooks_sqlite::SqliteLedger;
use appwrite_webhooks_sqlite::rusqlite::{Connection, params};
use appwrite_webhooks_tower::InboxService;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use testkit::load::{KEY, URL, deliveries, drive, env_or, median_of};

/// Set in the server process's environment.
const ROLE: &str = "DURABLE_LOAD_SERVER";

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    if std::env::var_os(ROLE).is_some() {
        runtime.block_on(server());
    } else {
        runtime.block_on(client());
    }
}

/// Runs `command` under `taskset -c core` when `taskset` is there (util-linux), alone otherwise.
fn pinned(core: usize, program: &std::path::Path) -> Command {
    if Command::new("taskset").arg("-V").output().is_ok() {
        let mut command = Command::new("taskset");
        command.arg("-c").arg(core.to_string()).arg(program);
        command
    } else {
        Command::new(program)
    }
}

async fn client() {
    // This process on core 1 (its threads inherit it), the server on core 0.
    if Command::new("taskset").arg("-V").output().is_ok() {
        let own = std::process::id().to_string();
        let _ = Command::new("taskset")
            .args(["-a", "-p", "-c", "1", &own])
            .output();
    }
    let rounds = env_or("ROUNDS", 5);
    let requests = env_or("REQUESTS", 10_000);
    let connections = env_or("CONNECTIONS", 32);
    let exe = std::env::current_exe().expect("this program");
    let mut server = pinned(0, &exe)
        .env(ROLE, "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("the server process");
    let mut lines = BufReader::new(server.stdout.take().expect("its stdout")).lines();
    let mut routes: Vec<(String, SocketAddr, u16)> = Vec::new();
    for line in lines.by_ref() {
        let line = line.expect("a line");
        if line == "ready" {
            break;
        }
        let mut fields = line.split('\t');
        let (name, addr, status) = (fields.next(), fields.next(), fields.next());
        routes.push((
            name.expect("a name").to_owned(),
            addr.expect("an address").parse().expect("an address"),
            status.expect("a status").parse().expect("a status"),
        ));
    }
    // ONLY=<part of a name>[,…] runs those routes alone (to profile one).
    if let Ok(only) = std::env::var("ONLY") {
        routes.retain(|(name, _, _)| only.split(',').any(|part| name.contains(part)));
    }
    for (i, (_, addr, status)) in routes.iter().enumerate() {
        drive(
            *addr,
            deliveries(2_000, &format!("w{i}")),
            connections,
            *status,
        )
        .await;
    }
    let mut runs: Vec<Vec<testkit::load::Run>> = routes.iter().map(|_| Vec::new()).collect();
    for round in 1..=rounds {
        let mut line = format!("round {round}:");
        for (i, (name, addr, status)) in routes.iter().enumerate() {
            let tag = format!("r{round}m{i}");
            let run = drive(*addr, deliveries(requests, &tag), connections, *status).await;
            line.push_str(&format!(" {name} {:.0};", run.rps));
            runs[i].push(run);
        }
        println!("{line}");
    }
    println!(
        "\nmedian of {rounds} rounds, {requests} unique 1 KiB deliveries each, {connections} connections, server on core 0, load on core 1:"
    );
    let rate = |i: usize| median_of(runs[i].iter().map(|r| r.rps).collect());
    let rate_of = |name: &str| {
        let i = routes.iter().position(|(n, _, _)| n == name);
        i.map_or(f64::NAN, rate)
    };
    let none = rate_of("no durability");
    let (by_hand_sqlite, by_hand_postgres) =
        (rate_of("by hand, SQLite"), rate_of("by hand, Postgres"));
    for (i, (name, _, _)) in routes.iter().enumerate() {
        let by_hand = if name.contains("Postgres") {
            by_hand_postgres
        } else {
            by_hand_sqlite
        };
        let p50 = median_of(runs[i].iter().map(|r| r.p50).collect());
        let p99 = median_of(runs[i].iter().map(|r| r.p99).collect());
        println!(
            "  {name:<18} {:>7.0} req/s  {:>5.2}x of no durability  {:>5.2}x of by hand  p50 {:.2} ms  p99 {:.2} ms",
            rate(i),
            rate(i) / none,
            rate(i) / by_hand,
            p50.as_secs_f64() * 1e3,
            p99.as_secs_f64() * 1e3
        );
    }
    // The workers' phase runs in the server process, on its core.
    let mut stdin = server.stdin.take().expect("its stdin");
    if std::env::var_os("ONLY").is_none() {
        writeln!(stdin, "workers").expect("the server reads");
    }
    // Closed before reading the rest: with `ONLY` the server waits for a line or the end of
    // its input, and the rest of its output comes after that.
    drop(stdin);
    for line in lines {
        println!("{}", line.expect("a line"));
    }
    let _ = server.wait();
}

/// The hand-written receivers' state: the verifier and where they write.
#[derive(Clone)]
struct ByHand {
    verifier: Arc<Verifier>,
    sqlite: Option<Arc<Mutex<Connection>>>,
    postgres: Option<deadpool_postgres::Pool>,
}

/// Verify inline, parse, then write once where this receiver writes.
async fn by_hand(State(state): State<ByHand>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let Ok(delivery) = state.verifier.verify(&headers, &body) else {
        return StatusCode::UNAUTHORIZED;
    };
    if serde_json::from_slice::<serde_json::Value>(&body).is_err() {
        return StatusCode::BAD_REQUEST;
    }
    let events = delivery.events_header().to_owned();
    if let Some(sqlite) = state.sqlite {
        let written = tokio::task::spawn_blocking(move || {
            let connection = sqlite.lock().expect("the connection");
            connection.execute(
                "INSERT INTO received (events, body) VALUES (?1, ?2)",
                params![events, body.as_ref()],
            )
        })
        .await;
        return match written {
            Ok(Ok(_)) => StatusCode::ACCEPTED,
            failed => {
                eprintln!("by hand, SQLite: {failed:?}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
    }
    if let Some(pool) = state.postgres {
        let client = match pool.get().await {
            Ok(client) => client,
            Err(error) => {
                eprintln!("by hand, Postgres: {error}");
                return StatusCode::SERVICE_UNAVAILABLE;
            }
        };
        let written = client
            .execute(
                "INSERT INTO received (events, body) VALUES ($1, $2)",
                &[&events, &body.as_ref()],
            )
            .await;
        return match written {
            Ok(_) => StatusCode::ACCEPTED,
            Err(error) => {
                eprintln!("by hand, Postgres: {error}");
                StatusCode::SERVICE_UNAVAILABLE
            }
        };
    }
    StatusCode::NO_CONTENT
}

async fn serve_axum(state: ByHand) -> SocketAddr {
    let app = axum::Router::new()
        .route("/hook", axum::routing::post(by_hand))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("an address");
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

async fn server() {
    let dir = std::env::temp_dir().join(format!("durable-load-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("a directory");
    // Flushing as in production. (An earlier version started the tests' cluster, which runs
    // with `-c fsync=off`, and then ran `ALTER SYSTEM SET fsync = on`: the command line
    // outranks it, so those figures were measured without fsync.) Checked, not assumed:
    let postgres = testkit::postgres::PostgresServer::start_flushed();
    for setting in ["fsync", "full_page_writes", "synchronous_commit"] {
        let shown = postgres.psql("postgres", &format!("SHOW {setting}"));
        let value = String::from_utf8_lossy(&shown.stdout).trim().to_owned();
        assert_eq!(
            value, "on",
            "the benchmark's Postgres must run with {setting} = on"
        );
    }
    let url = postgres.database("bench");
    let verifier = Arc::new(Verifier::new(KEY, URL));

    let sqlite = Connection::open(dir.join("by_hand.db")).expect("SQLite");
    sqlite
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE received (id INTEGER PRIMARY KEY, events TEXT NOT NULL, body BLOB NOT NULL);",
        )
        .expect("the table");
    let config: tokio_postgres::Config = url.parse().expect("a URL");
    let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
    let pool = deadpool_postgres::Pool::builder(manager)
        .max_size(16)
        .build()
        .expect("a pool");
    pool.get()
        .await
        .expect("a connection")
        .batch_execute(
            "CREATE TABLE received (id BIGSERIAL PRIMARY KEY, events TEXT NOT NULL, body BYTEA NOT NULL)",
        )
        .await
        .expect("the table");

    let sqlite_inbox = Inbox::new(SqliteLedger::open(dir.join("inbox.db")).expect("SQLite"));
    let ledger = PostgresLedger::connect(&url).await.expect("Postgres");
    ledger.migrate().await.expect("the ledger's schema");
    let postgres_inbox = Inbox::new(ledger);
    let plain = ByHand {
        verifier: Arc::clone(&verifier),
        sqlite: None,
        postgres: None,
    };
    let routes = [
        ("no durability", serve_axum(plain.clone()).await, 204),
        (
            "by hand, SQLite",
            serve_axum(ByHand {
                sqlite: Some(Arc::new(Mutex::new(sqlite))),
                ..plain.clone()
            })
            .await,
            202,
        ),
        (
            "SQLite inbox",
            testkit::net::serve_tower(InboxService::new(Verifier::new(KEY, URL), sqlite_inbox))
                .await,
            202,
        ),
        (
            "by hand, Postgres",
            serve_axum(ByHand {
                postgres: Some(pool),
                ..plain
            })
            .await,
            202,
        ),
        (
            "Postgres inbox",
            testkit::net::serve_tower(InboxService::new(Verifier::new(KEY, URL), postgres_inbox))
                .await,
            202,
        ),
    ];
    for (name, addr, status) in routes {
        println!("{name}\t{addr}\t{status}");
    }
    println!("ready");
    // Wait for the client's word (or its end) before the workers' phase.
    let asked = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map(|_| line)
    })
    .await
    .expect("stdin");
    if asked.is_ok_and(|line| line.trim() == "workers") {
        workers_phase(&dir).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

const UPSERT: &str = "INSERT INTO users (id, name) VALUES (?1, ?2)
     ON CONFLICT (id) DO UPDATE SET name = excluded.name";

/// The user a delivery carries, as the handlers write it.
fn user(delivery: &Delivery) -> Result<(String, String), HandlerError> {
    let value: serde_json::Value = serde_json::from_slice(delivery.body())?;
    let field = |name: &str| value[name].as_str().unwrap_or_default().to_owned();
    Ok((field("$id"), field("name")))
}

/// Stores `n` new deliveries into `inbox` (the same path a request takes, without HTTP).
async fn fill(inbox: &Inbox, n: usize, tag: &str) {
    let verifier = Verifier::new(KEY, URL);
    for sent in deliveries(n, tag) {
        let (parts, body) = sent.into_request().into_parts();
        inbox
            .accept(
                &verifier,
                &parts.uri,
                &parts.headers,
                http_body_util::Full::new(body),
            )
            .await
            .expect("stored");
    }
}

/// Deliveries per second `workers` (4 at a time) take to settle everything `inbox` holds.
async fn drain<H: appwrite_webhooks::inbox::InboxHandler>(inbox: &Inbox, handler: H) -> f64 {
    let before = inbox.admin().stats().await.expect("stats");
    let started = Instant::now();
    let running = Workers::new(inbox.clone(), Verifier::new(KEY, URL), handler)
        .with_concurrency(4)
        .with_poll_interval(Duration::from_millis(2))
        .start();
    loop {
        let stats = inbox.admin().stats().await.expect("stats");
        if stats.pending == 0 && stats.in_flight == 0 {
            let rate = (stats.done - before.done) as f64 / started.elapsed().as_secs_f64();
            running.shutdown(Duration::from_secs(5)).await;
            return rate;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn workers_phase(dir: &std::path::Path) {
    let rounds = env_or("ROUNDS", 5);
    let stored = env_or("STORED", 4_000);
    let users = Connection::open(dir.join("users.db")).expect("SQLite");
    users
        .execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL;
             CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL);",
        )
        .expect("the table");
    let users = Arc::new(Mutex::new(users));
    let plain_inbox = Inbox::new(SqliteLedger::open(dir.join("plain.db")).expect("SQLite"));
    let ledger = SqliteLedger::open(dir.join("once.db")).expect("SQLite");
    ledger
        .execute_batch("CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL)")
        .await
        .expect("the table");
    let once_inbox = Inbox::new(ledger.clone());
    let idle_inbox = Inbox::new(SqliteLedger::open(dir.join("idle.db")).expect("SQLite"));
    let (mut plain_rates, mut once_rates, mut idle_rates) = (Vec::new(), Vec::new(), Vec::new());
    for round in 1..=rounds {
        fill(&plain_inbox, stored, &format!("p{round}")).await;
        fill(&once_inbox, stored, &format!("o{round}")).await;
        fill(&idle_inbox, stored, &format!("i{round}")).await;
        let idle = |_: Delivery| async { Ok::<_, HandlerError>(()) };
        idle_rates.push(drain(&idle_inbox, idle).await);
        let users = Arc::clone(&users);
        let plain = move |delivery: Delivery| {
            let users = Arc::clone(&users);
            async move {
                let (id, name) = user(&delivery)?;
                tokio::task::spawn_blocking(move || {
                    let users = users.lock().expect("the connection");
                    users.execute(UPSERT, params![id, name]).map(drop)
                })
                .await??;
                Ok::<_, HandlerError>(())
            }
        };
        let once = ledger.exactly_once(|delivery, tx| {
            let (id, name) = user(delivery)?;
            tx.execute(UPSERT, params![id, name])?;
            Ok(())
        });
        // Alternate which goes first, so a drift of the machine hits both alike.
        let (p, o) = if round % 2 == 0 {
            let p = drain(&plain_inbox, plain).await;
            (p, drain(&once_inbox, once).await)
        } else {
            let o = drain(&once_inbox, once).await;
            (drain(&plain_inbox, plain).await, o)
        };
        println!("workers round {round}: plain {p:.0}/s, exactly-once {o:.0}/s");
        plain_rates.push(p);
        once_rates.push(o);
    }
    let (p, o, i) = (
        median_of(plain_rates),
        median_of(once_rates),
        median_of(idle_rates),
    );
    println!(
        "\nworkers (4 concurrent, SQLite, {stored} stored deliveries a round, median of {rounds}):\n  handler writing nothing         {i:>7.0} deliveries/s\n  plain handler, own file (FULL)  {p:>7.0} deliveries/s\n  exactly-once, ledger's tx       {o:>7.0} deliveries/s\n  exactly-once costs {:.2}x a plain handler, {:.2}x one writing nothing (time per delivery)",
        p / o,
        i / o
    );
}
