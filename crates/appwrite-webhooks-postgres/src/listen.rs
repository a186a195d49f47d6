//! `LISTEN appwrite_webhooks_due`: one connection per ledger (and its clones) that wakes an
//! idle worker for each delivery another replica made due.
//!
//! The schema's trigger notifies once per row that becomes due and unheld (the payload is its
//! id, so a batch of requeues is not folded into one notification) — in one transaction at a
//! time: one that finds another notifying commits without, and is covered by it, by its own
//! process's workers, and by the poll (`004_notify.sql` says why). Each notification wakes
//! one waiting worker, or leaves a permit for the next one to wait, so a notification that
//! arrives while every worker is busy is not lost. When the connection breaks, the listener
//! connects again with a growing pause; meanwhile workers poll, as they always do as well.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tokio_postgres::{AsyncMessage, Config, NoTls};

/// The channel the schema's trigger notifies.
pub(crate) const CHANNEL: &str = "appwrite_webhooks_due";

pub(crate) struct Arrivals {
    config: Config,
    due: Arc<Notify>,
    /// The listening task, started by the first worker that waits; stopped on drop.
    task: OnceLock<JoinHandle<()>>,
}

impl Arrivals {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            due: Arc::new(Notify::new()),
            task: OnceLock::new(),
        }
    }

    /// Resolves at the next notification (or at once, for one that arrived since the last
    /// wait). Starts listening on first use; must be called within a Tokio runtime.
    pub(crate) async fn wait(&self) {
        self.task
            .get_or_init(|| tokio::spawn(listen(self.config.clone(), Arc::clone(&self.due))));
        self.due.notified().await;
    }
}

impl Drop for Arrivals {
    fn drop(&mut self) {
        if let Some(task) = self.task.get() {
            task.abort();
        }
    }
}

/// Listens until aborted, connecting again whenever the connection ends.
async fn listen(config: Config, due: Arc<Notify>) {
    const FIRST_PAUSE: Duration = Duration::from_millis(100);
    let mut pause = FIRST_PAUSE;
    loop {
        if let Ok((client, mut connection)) = config.connect(NoTls).await {
            // The connection delivers notifications only while it is polled, and the client's
            // LISTEN needs it polled too: both run here until the connection ends.
            let forward = Arc::clone(&due);
            let messages = async move {
                while let Some(Ok(message)) =
                    std::future::poll_fn(|cx| connection.poll_message(cx)).await
                {
                    if let AsyncMessage::Notification(_) = message {
                        forward.notify_one();
                    }
                }
            };
            let subscribe = async {
                if client
                    .batch_execute(&format!("LISTEN {CHANNEL}"))
                    .await
                    .is_ok()
                {
                    // Whatever became due while nobody listened: one worker looks now.
                    due.notify_one();
                    true
                } else {
                    false
                }
            };
            let (listened, ()) = tokio::join!(subscribe, messages);
            if listened {
                pause = FIRST_PAUSE;
            }
            drop(client);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}
