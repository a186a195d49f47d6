//! The thread that owns the connection: it commits the work that arrives together in one
//! transaction (one flush for many deliveries) and answers each request after the commit.

use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

/// Runs one request's statements on the connection (or, given why the transaction could not
/// start, does not) and says whether they succeeded, with what answers the request once the
/// commit's outcome is known.
type Job = Box<dyn FnOnce(Result<&Connection, &str>) -> (bool, Answer) + Send>;
type Answer = Box<dyn FnOnce(Option<&str>) + Send>;

/// At most this many requests share one transaction.
const BATCH: usize = 256;

#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
}

impl Writer {
    /// Starts the thread; it ends when the last clone is dropped.
    pub(crate) fn start(connection: Connection) -> Self {
        let (jobs, queue) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("appwrite-webhooks-sqlite".to_owned())
            .spawn(move || run(&connection, &queue))
            .expect("spawning the SQLite inbox thread");
        Self { jobs }
    }

    /// Queues `work`; the reply comes after its transaction committed (or failed).
    pub(crate) fn submit<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> impl Future<Output = rusqlite::Result<T>> + Send + 'static {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |db| {
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
        let sent = self.jobs.send(job);
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

fn run(db: &Connection, queue: &mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        let mut batch = vec![first];
        while batch.len() < BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let mut answers = Vec::with_capacity(batch.len());
        let committed = match db.execute_batch("BEGIN IMMEDIATE") {
            Err(error) => {
                let why = error.to_string();
                answers.extend(batch.into_iter().map(|job| job(Err(&why)).1));
                Err(why)
            }
            Ok(()) => {
                for job in batch {
                    // A savepoint per request: one that fails undoes only its own statements.
                    let (ok, answer) = match db.execute_batch("SAVEPOINT request") {
                        Ok(()) => job(Ok(db)),
                        Err(error) => job(Err(&error.to_string())),
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
