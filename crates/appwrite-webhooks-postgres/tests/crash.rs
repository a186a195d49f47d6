//! Exactly once across crashes, with two replicas: two worker processes share one database,
//! and each is SIGKILLed at random points of a burst — before the handler's writes, between
//! two of them, after them but before the commit, after a commit, or at a random moment — and
//! restarted, round after round. Afterwards every acknowledged delivery is settled, each
//! applied one left its effect exactly once, and the mirrored table equals every user's newest
//! state.
//!
//! The worker processes are this test binary itself, run as [`crash_child`] with the
//! database's URL in `AW_ONCE_CHILD_URL` and the kill point in `AW_ONCE_KILL` (`point:n`: the
//! `n`th time the handler reaches `point`, or after `n` more settled deliveries for `after`):
//! it prints `KILLPOINT` there and waits to be killed; with nothing left pending it prints
//! `FINISHED`. A killed process's connections close with it, so Postgres rolls back its open
//! transactions; its leases run out and the other replica, or the next process, takes over.

mod common;
mod once_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Inbox, Put, RetryPolicy, State, Stats, Workers};
use appwrite_webhooks_postgres::{LedgerTransaction, PostgresLedger};
use common::{PostgresServer, ledger};
use once_support::*;

const CHILD: &str = "AW_ONCE_CHILD_URL";
const KILL: &str = "AW_ONCE_KILL";
const DATABASE: &str = "crash";

/// Waits here until the parent's SIGKILL.
fn stop_here(point: &str) -> ! {
    println!("KILLPOINT {point}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Not a test of its own: a replica's worker process, which
/// [`two_replicas_killed_at_any_point_apply_each_effect_once`] spawns and kills. Without its
/// environment variable it returns at once.
#[test]
fn crash_child() {
    let Ok(url) = std::env::var(CHILD) else {
        return;
    };
    let kill = std::env::var(KILL).unwrap_or_default();
    let (point, n) = kill.split_once(':').unwrap_or(("none", "0"));
    let (point, n): (String, u64) = (point.to_owned(), n.parse().unwrap_or(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let ledger = PostgresLedger::builder(url)
            .with_timeout(Duration::from_secs(10))
            .connect()
            .await
            .unwrap();
        let inbox = Inbox::new(ledger.clone());
        let reached = AtomicU32::new(0);
        let hook_point = point.clone();
        let hook = move |at: &str, _: &LedgerTransaction<'_>| {
            if at == hook_point && u64::from(reached.fetch_add(1, Ordering::SeqCst)) + 1 == n {
                stop_here(at);
            }
            Ok(())
        };
        let timeout = Duration::from_millis(500);
        let workers = Workers::new(inbox.clone(), verifier(), mirror(&ledger, hook))
            .with_concurrency(2)
            .with_poll_interval(Duration::from_millis(5))
            // As short as allowed (the timeout plus 5 s): a killed attempt's delivery is taken
            // again by the other replica or a later process once this lease runs out.
            .with_lease(timeout)
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(1000)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(5))
                    .with_attempt_timeout(timeout),
            )
            .start();
        let settled = |s: Stats| s.done + s.stale;
        let baseline = settled(inbox.admin().stats().await.unwrap());
        loop {
            let stats = inbox.admin().stats().await.unwrap();
            if point == "after" && settled(stats) >= baseline + n {
                stop_here("after");
            }
            if stats.pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        println!("FINISHED");
        workers.shutdown(Duration::from_secs(5)).await;
    });
}

/// One replica's worker process, killed when dropped unless it finished.
struct Replica {
    process: std::process::Child,
    kill: String,
    /// When a `random:ms` kill falls due.
    random: Option<Instant>,
    /// `Some(finished)` once it has ended: killed (`false`) or finished (`true`).
    ended: Option<bool>,
}

impl Replica {
    /// Starts replica `index`, forwarding its lines to `lines`.
    fn start(url: &str, index: usize, kill: String, lines: mpsc::Sender<(usize, String)>) -> Self {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
            .env(CHILD, url)
            .env(KILL, &kill)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if lines.send((index, line)).is_err() {
                    break;
                }
            }
        });
        let random = match kill.split_once(':') {
            Some(("random", ms)) => {
                Some(Instant::now() + Duration::from_millis(ms.parse().unwrap()))
            }
            _ => None,
        };
        Self {
            process,
            kill,
            random,
            ended: None,
        }
    }

    /// SIGKILL: no destructor, no shutdown, no flush runs.
    fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
        self.ended = Some(false);
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        if self.ended.is_none() {
            self.kill();
        }
    }
}

/// Runs one round: two replicas, each until it reaches its kill point (then SIGKILLed) or
/// finishes. Returns how many were killed and whether one finished.
fn round(url: &str, kills: [String; 2]) -> (usize, bool) {
    let (lines, heard) = mpsc::channel();
    let mut replicas: Vec<Replica> = kills
        .into_iter()
        .enumerate()
        .map(|(i, kill)| Replica::start(url, i, kill, lines.clone()))
        .collect();
    let limit = Instant::now() + Duration::from_secs(180);
    while replicas.iter().any(|r| r.ended.is_none()) {
        assert!(
            Instant::now() < limit,
            "a worker process neither reached its kill point nor finished: {:?}",
            replicas.iter().map(|r| &r.kill).collect::<Vec<_>>()
        );
        for replica in &mut replicas {
            if replica.ended.is_none() && replica.random.is_some_and(|at| Instant::now() >= at) {
                replica.kill();
            }
        }
        match heard.recv_timeout(Duration::from_millis(5)) {
            Ok((i, line)) if line.contains("KILLPOINT") => replicas[i].kill(),
            Ok((i, line)) if line.contains("FINISHED") => {
                let status = replicas[i].process.wait().unwrap();
                assert!(status.success(), "worker process {i} failed");
                replicas[i].ended = Some(true);
            }
            Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => unreachable!("we hold a sender"),
        }
        // A process that ended on its own without saying FINISHED failed.
        for (i, replica) in replicas.iter_mut().enumerate() {
            if replica.ended.is_none()
                && let Some(status) = replica.process.try_wait().unwrap()
            {
                assert!(status.success(), "worker process {i} failed: {status}");
                replica.ended = Some(true);
            }
        }
    }
    let killed = replicas.iter().filter(|r| r.ended == Some(false)).count();
    (killed, replicas.iter().any(|r| r.ended == Some(true)))
}

#[test]
fn two_replicas_killed_at_any_point_apply_each_effect_once() {
    let server = PostgresServer::start();
    let url = server.url(DATABASE);
    let mut rng = Rng::new(2026);
    let (sends, expected) = burst(&mut rng, 100);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The burst, acknowledged: every copy answered 202 (stored now or already held).
    let acknowledged: Vec<u64> = runtime.block_on(async {
        let ledger = ledger(&server, DATABASE).await;
        ledger.execute_batch(TABLES).await.unwrap();
        let inbox = Inbox::new(ledger);
        let mut ids = Vec::new();
        for send in &sends {
            match accept(&inbox, send).await {
                Put::Stored(id) | Put::Duplicate(id) => ids.push(id),
                Put::OverLabelLimit => panic!("not stored"),
            }
        }
        ids
    });
    assert!(
        acknowledged.len() >= 30,
        "a burst of {}",
        acknowledged.len()
    );

    let points = ["before", "inside", "between", "after", "random"];
    let kill_at = |rng: &mut Rng, point: &str| match point {
        "random" => format!("random:{}", 20 + rng.below(130)),
        _ => format!("{point}:{}", 1 + rng.below(3)),
    };
    let (mut kills, mut finished) = (0, false);
    for r in 0..24 {
        // After 40 kills, both processes run to the end.
        let plan = if kills >= 40 {
            ["none:0".to_owned(), "none:0".to_owned()]
        } else {
            [
                kill_at(&mut rng, points[r % points.len()]),
                kill_at(&mut rng, points[(r + 2) % points.len()]),
            ]
        };
        let (killed, done) = round(&url, plan.clone());
        // What each round did, for whoever reads a failure.
        eprintln!("round {r}: {plan:?}: {killed} killed, finished: {done}");
        kills += killed;
        // A process finishes only with nothing left pending: the burst is settled.
        if done {
            finished = true;
            break;
        }
    }
    if !finished {
        let (_, done) = round(&url, ["none:0".to_owned(), "none:0".to_owned()]);
        assert!(done, "never finished");
    }
    assert!(kills >= 20, "only {kills} kills: the burst ran out early");

    runtime.block_on(async {
        let inbox = Inbox::new(common::replica(&server, DATABASE));
        let effects = effects(&server, DATABASE);
        for id in &acknowledged {
            let row = inbox.admin().get(*id).await.unwrap().unwrap();
            let applied = effects.get(id).copied().unwrap_or(0);
            match row.state {
                State::Done => assert_eq!(applied, 1, "{row:?}"),
                State::Stale => assert_eq!(applied, 0, "{row:?}"),
                _ => panic!("an acknowledged delivery was left {row:?}"),
            }
        }
        // No effect from a delivery that is not done.
        assert_eq!(
            effects.values().sum::<i64>() as u64,
            inbox.admin().stats().await.unwrap().done
        );
    });
    assert_eq!(users(&server, DATABASE), live(&expected));
}
