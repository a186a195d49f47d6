//! Exactly once across crashes: a worker process SIGKILLed at random points of a burst —
//! before the handler's writes, between two of them, after them but before the commit, after a
//! commit, or at a random moment — and restarted, again and again. Afterwards every
//! acknowledged delivery is settled, each applied one left its effect exactly once, and the
//! mirrored table equals every user's newest state.
//!
//! The worker process is this test binary itself, run as [`crash_child`] with the ledger's
//! path in `AW_ONCE_CHILD_LEDGER` and the kill point in `AW_ONCE_KILL` (`point:n`: the `n`th
//! time the handler reaches `point`, or after `n` more commits for `after`): it prints
//! `KILLPOINT` there and waits to be killed; with nothing left pending it prints `FINISHED`.

mod once_support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use appwrite_webhooks::inbox::{Inbox, Put, RetryPolicy, State, Workers};
use appwrite_webhooks_sqlite::SqliteLedger;
use once_support::*;

const CHILD: &str = "AW_ONCE_CHILD_LEDGER";
const KILL: &str = "AW_ONCE_KILL";

/// Waits here until the parent's SIGKILL.
fn stop_here(point: &str) -> ! {
    println!("KILLPOINT {point}");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}

/// Not a test of its own: the worker process [`killed_at_any_point_each_effect_is_applied_once`]
/// spawns and kills. Without its environment variable it returns at once.
#[test]
fn crash_child() {
    let Ok(file) = std::env::var(CHILD) else {
        return;
    };
    let kill = std::env::var(KILL).unwrap_or_default();
    let (point, n) = kill.split_once(':').unwrap_or(("none", "0"));
    let (point, n): (String, u32) = (point.to_owned(), n.parse().unwrap_or(0));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let ledger = SqliteLedger::open(&file).unwrap();
        let inbox = Inbox::new(ledger.clone());
        let reached = AtomicU32::new(0);
        let hook_point = point.clone();
        let hook = move |at: &str, _: &appwrite_webhooks_sqlite::LedgerTransaction<'_>| {
            if at == hook_point && reached.fetch_add(1, Ordering::SeqCst) + 1 == n {
                stop_here(at);
            }
            Ok(())
        };
        let timeout = Duration::from_millis(100);
        let workers = Workers::new(inbox.clone(), verifier(), mirror(&ledger, hook))
            .with_concurrency(2)
            .with_poll_interval(Duration::from_millis(5))
            // As short as allowed (the timeout plus 5 s): a killed attempt's delivery is taken
            // again by a later process once this lease runs out.
            .with_lease(timeout)
            .with_retry(
                RetryPolicy::default()
                    .with_max_attempts(1000)
                    .with_initial_backoff(Duration::from_millis(1))
                    .with_max_backoff(Duration::from_millis(5))
                    .with_attempt_timeout(timeout),
            )
            .start();
        let settled = |s: appwrite_webhooks::inbox::Stats| s.done + s.stale;
        let baseline = settled(inbox.admin().stats().await.unwrap());
        loop {
            let stats = inbox.admin().stats().await.unwrap();
            if point == "after" && settled(stats) >= baseline + u64::from(n) {
                stop_here("after");
            }
            if stats.pending == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        println!("FINISHED");
        workers.shutdown(Duration::from_secs(5)).await;
    });
}

/// Runs one worker process until it reaches `kill` (then SIGKILLs it) or finishes; for
/// `random:ms`, SIGKILLs it after that long. Returns whether it finished.
fn run_child(file: &std::path::Path, kill: &str) -> bool {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["crash_child", "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD, file)
        .env(KILL, kill)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, heard) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let limit = match kill.split_once(':') {
        Some(("random", ms)) => Duration::from_millis(ms.parse().unwrap()),
        _ => Duration::from_secs(120),
    };
    let deadline = Instant::now() + limit;
    let mut finished = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match heard.recv_timeout(left) {
            Ok(line) if line.contains("KILLPOINT") => break,
            Ok(line) if line.contains("FINISHED") => {
                finished = true;
                break;
            }
            Ok(_) => continue,
            // A random kill's moment came, or the child ended (printing nothing more).
            Err(_) => break,
        }
    }
    if finished {
        assert!(child.wait().unwrap().success(), "the worker process failed");
    } else {
        assert!(
            kill.starts_with("random") || Instant::now() < deadline,
            "{kill}: the worker process neither reached its kill point nor finished"
        );
        // SIGKILL: no destructor, no shutdown, no flush runs.
        let _ = child.kill();
        let _ = child.wait();
    }
    finished
}

#[test]
fn killed_at_any_point_each_effect_is_applied_once() {
    let file = path("crash");
    let mut rng = Rng::new(2026);
    let (sends, expected) = burst(&mut rng, 40);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // The burst, acknowledged: every copy answered 202 (stored now or already held).
    let acknowledged: Vec<u64> = runtime.block_on(async {
        let ledger = SqliteLedger::open(&file).unwrap();
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
    let mut kills = 0;
    let mut finished = false;
    for round in 0..40 {
        let point = points[round % points.len()];
        let kill = match point {
            "random" => format!("random:{}", 10 + rng.below(60)),
            _ => format!("{point}:{}", 1 + rng.below(3)),
        };
        // After 25 kills, one process runs to the end.
        let kill = if kills >= 25 {
            "none:0".to_owned()
        } else {
            kill
        };
        if run_child(&file, &kill) {
            finished = true;
            break;
        }
        kills += 1;
    }
    assert!(finished, "never finished");
    assert!(kills >= 10, "only {kills} kills: the burst ran out early");

    runtime.block_on(async {
        let inbox = Inbox::new(SqliteLedger::open(&file).unwrap());
        let effects = effects(&file);
        for id in &acknowledged {
            let row = inbox.admin().get(*id).await.unwrap().unwrap();
            let applied = effects.get(&(*id as i64)).copied().unwrap_or(0);
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
    assert_eq!(users(&file), live(&expected));
}
