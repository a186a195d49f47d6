//! The thread that owns the connection: it commits the work that arrives together in one
//! transaction (one flush for many deliveries) and answers each request after the commit.
//!
//! Each request runs in a savepoint of its own inside the shared transaction: a request that
//! fails (a body past the size cap, a constraint) undoes only its own statements, and its
//! neighbours commit. A request is answered `Ok` only once the transaction holding it
//! committed: if the `COMMIT` fails, or SQLite rolls the whole transaction back by itself (it
//! may, on a full disk or an I/O error), every request that ran in it is answered with that
//! error — and none of them was stored.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Runs one request's statements on the connection (or, given why the transaction could not
/// start, does not) and says whether they succeeded, with what answers the request once the
/// commit's outcome is known.
type Work = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Answer) + Send>;

/// One request: its work, and whether its commit must be flushed before it is answered.
struct Job {
    flush: bool,
    work: Work,
}

/// Answers a request: `None` when its transaction committed, else why it did not.
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// At most this many requests share one transaction.
const BATCH: usize = 256;

#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread; it ends when the last clone is dropped. With `flush_when_asked`, a
    /// batch holding a request that asks for a flush commits with `synchronous = FULL`, any
    /// other with `NORMAL`; without it, every commit is `NORMAL`.
    pub(crate) fn start(connection: Connection, flush_when_asked: bool) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("appwrite-webhooks-sqlite".to_owned())
            .spawn(move || run(&connection, &queue, flush_when_asked))?;
        Ok(Self { jobs })
    }

    /// Queues `work`; the reply comes after its transaction committed (or failed), flushed to
    /// disk first if `flush`.
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        flush: bool,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl Future<Output = rusqlite::Result<T>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let work: Work = Box::new(move |db| {
            let result = match db {
                Ok(db) => work(db),
                Err(why) => Err(commit_error(why)),
            };
            let ok = result.is_ok();
            let answer: Answer = Box::new(move |commit_failed: Option<&str>| {
                let _ = reply.send(match (result, commit_failed) {
                    (Ok(value), None) => Ok(value),
                    (Err(error), _) => Err(error),
                    (Ok(_), Some(error)) => Err(commit_error(error)),
                });
            });
            (ok, answer)
        });
        let sent = self.jobs.send(Job { flush, work });
        async move {
            sent.map_err(|_| commit_error("the ledger's thread has stopped"))?;
            answer
                .await
                .map_err(|_| commit_error("the ledger's thread has stopped"))?
        }
    }
}

/// Runs one statement that takes no parameters, prepared once rather than parsed again for
/// every request (a savepoint and its release run for each).
fn exec(db: &Connection, sql: &str) -> rusqlite::Result<()> {
    db.prepare_cached(sql)?.execute([]).map(|_| ())
}

fn commit_error(message: &str) -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_IOERR),
        Some(message.to_owned()),
    )
}

fn run(db: &Connection, queue: &mpsc::Receiver<Job>, flush_when_asked: bool) {
    let mut flushing = None;
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Outside a transaction, as SQLite requires. WAL frames are written in order, so a
        // flushed commit also flushes every unflushed one before it.
        let flush = flush_when_asked && batch.iter().any(|job| job.flush);
        if flushing != Some(flush) {
            let level = if flush { "FULL" } else { "NORMAL" };
            flushing = db
                .pragma_update(None, "synchronous", level)
                .ok()
                .map(|()| flush);
        }
        run_batch(db, batch);
    }
}

/// Runs `batch` in as few transactions as it takes: one, unless SQLite rolls one back by
/// itself, in which case the requests after it get a fresh one.
fn run_batch(db: &Connection, batch: Vec<Job>) {
    // The answers of the requests in the open transaction, if one is open.
    let mut open: Option<Vec<Answer>> = None;
    for job in batch {
        if open.is_none() {
            if let Err(error) = exec(db, "BEGIN IMMEDIATE") {
                let (_, answer) = (job.work)(Err(&error.to_string()));
                answer(None);
                continue;
            }
            open = Some(Vec::new());
        }
        let Some(answers) = open.as_mut() else {
            continue;
        };
        let (ok, answer) = match exec(db, "SAVEPOINT request") {
            Ok(()) => (job.work)(Ok(db)),
            Err(error) => (job.work)(Err(&error.to_string())),
        };
        let closed = if ok {
            exec(db, "RELEASE request")
        } else {
            exec(db, "ROLLBACK TO request").and_then(|()| exec(db, "RELEASE request"))
        };
        if db.is_autocommit() || closed.is_err() {
            // The transaction is gone (SQLite rolled it back) or in a state no one can vouch
            // for: nothing in it may be reported stored.
            if !db.is_autocommit() {
                let _ = db.execute_batch("ROLLBACK");
            }
            let why =
                "the transaction was rolled back (is the disk full?); nothing in it was stored";
            for earlier in answers.drain(..) {
                earlier(Some(why));
            }
            answer(Some(why));
            open = None;
            continue;
        }
        answers.push(answer);
    }
    if let Some(answers) = open {
        let committed = exec(db, "COMMIT").map_err(|e| e.to_string());
        if committed.is_err() && !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
        let failure = committed.err();
        for answer in answers {
            answer(failure.as_deref());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer() -> (Writer, std::path::PathBuf) {
        let dir = testkit::scratch::dir(&format!(
            "sqlite-writer-{}",
            appwrite_webhooks::LeaseToken::new()
        ));
        let path = dir.join("w.db");
        let db = Connection::open(&path).unwrap();
        db.execute_batch(
            "PRAGMA foreign_keys = ON;
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (parent INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);
             CREATE TABLE t (x INTEGER UNIQUE);",
        )
        .unwrap();
        (Writer::start(db, false).unwrap(), path)
    }

    /// A request's statements, as a test writes them.
    type Job = Box<dyn FnOnce(&Connection) -> rusqlite::Result<usize> + Send>;

    fn count(path: &std::path::Path, table: &str) -> i64 {
        Connection::open(path)
            .unwrap()
            .query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))
            .unwrap()
    }

    /// Submits every job before awaiting any, so they share one transaction (the thread takes
    /// the first alone at worst; the test holds either way).
    async fn together(writer: &Writer, jobs: Vec<Job>) -> Vec<rusqlite::Result<usize>> {
        let pending: Vec<_> = jobs
            .into_iter()
            .map(|job| writer.submit(false, job))
            .collect();
        let mut results = Vec::new();
        for reply in pending {
            results.push(reply.await);
        }
        results
    }

    #[tokio::test]
    async fn a_failing_request_undoes_only_itself() {
        let (writer, path) = writer();
        let insert = |x: i64| -> Job {
            Box::new(move |db| db.execute("INSERT INTO t (x) VALUES (?1)", [x]))
        };
        let results = together(&writer, vec![insert(1), insert(2), insert(1), insert(3)]).await;
        assert!(results[0].is_ok() && results[1].is_ok() && results[3].is_ok());
        assert!(results[2].is_err(), "the duplicate fails alone");
        assert_eq!(count(&path, "t"), 3);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_request_and_stores_none() {
        let (writer, path) = writer();
        let jobs: Vec<Job> = vec![
            Box::new(|db| db.execute("INSERT INTO t (x) VALUES (1)", [])),
            // A deferred foreign key fails at COMMIT, not at the statement.
            Box::new(|db| db.execute("INSERT INTO child (parent) VALUES (42)", [])),
            Box::new(|db| db.execute("INSERT INTO t (x) VALUES (2)", [])),
        ];
        let results = together(&writer, jobs).await;
        let failed = results.iter().filter(|r| r.is_err()).count();
        // Whichever requests shared the failing transaction all fail; the child's always does.
        assert!(results[1].is_err());
        assert_eq!(count(&path, "child"), 0);
        assert_eq!(count(&path, "t") as usize, 3 - failed, "{results:?}");
        // The connection is usable afterwards.
        writer
            .submit(false, |db| db.execute("INSERT INTO t (x) VALUES (9)", []))
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_transaction_sqlite_rolled_back_reports_nothing_stored() {
        let (writer, path) = writer();
        let jobs: Vec<Job> = vec![
            Box::new(|db| db.execute("INSERT INTO t (x) VALUES (1)", [])),
            // What SQLite does by itself on some errors: the whole transaction is gone.
            Box::new(|db| db.execute_batch("ROLLBACK").map(|()| 0)),
            Box::new(|db| db.execute("INSERT INTO t (x) VALUES (2)", [])),
        ];
        let results = together(&writer, jobs).await;
        assert!(results[1].is_err());
        let stored = count(&path, "t");
        // What was answered Ok is exactly what is stored.
        let answered_ok = results.iter().filter(|r| r.is_ok()).count() as i64;
        assert_eq!(stored, answered_ok, "{results:?}");
    }
}
