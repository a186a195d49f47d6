//! The thread that owns the connection: it commits the work that arrives together in one
//! transaction (one flush for many deliveries) and answers each request after the commit.

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
    pub(crate) fn start(connection: Connection, flush_when_asked: bool) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("appwrite-webhooks-sqlite".to_owned())
            .spawn(move || run(&connection, &queue, flush_when_asked))
            .expect("spawning the SQLite inbox thread");
        Self { jobs }
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
            sent.map_err(|_| commit_error("the inbox thread has stopped"))?;
            answer
                .await
                .map_err(|_| commit_error("the inbox thread has stopped"))?
        }
    }
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
        let mut answers = Vec::with_capacity(batch.len());
        let committed = match db.execute_batch("BEGIN IMMEDIATE") {
            Err(error) => {
                let why = error.to_string();
                answers.extend(batch.into_iter().map(|job| (job.work)(Err(&why)).1));
                Err(why)
            }
            Ok(()) => {
                for job in batch {
                    // A savepoint per request: one that fails undoes only its own statements.
                    let (ok, answer) = match db.execute_batch("SAVEPOINT request") {
                        Ok(()) => (job.work)(Ok(db)),
                        Err(error) => (job.work)(Err(&error.to_string())),
                    };
                    let _ = db.execute_batch(if ok {
                        "RELEASE request"
                    } else {
                        "ROLLBACK TO request; RELEASE request"
                    });
                    answers.push(answer);
                }
                db.execute_batch("COMMIT").map_err(|e| e.to_string())
            }
        };
        if committed.is_err() && !db.is_autocommit() {
            let _ = db.execute_batch("ROLLBACK");
        }
        let failure = committed.err();
        for answer in answers {
            answer(failure.as_deref());
        }
    }
}
