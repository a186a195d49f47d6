//! The connection both stores use: the `redis` crate's auto-reconnecting manager, with every
//! call bounded by a timeout.

use std::time::Duration;

use appwrite_webhooks::StoreError;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// A manager that connects now, failing if Redis cannot be reached.
pub(crate) async fn eager_connection(
    client: &redis::Client,
    timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    ConnectionManager::new_with_config(client.clone(), config(timeout))
        .await
        .map_err(boxed)
}

/// A manager that connects on first use.
pub(crate) fn lazy_connection(
    client: &redis::Client,
    timeout: Duration,
) -> Result<ConnectionManager, StoreError> {
    ConnectionManager::new_lazy_with_config(client.clone(), config(timeout)).map_err(boxed)
}

pub(crate) fn config(timeout: Duration) -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_number_of_retries(2)
        .set_max_delay(Duration::from_millis(500))
}

pub(crate) fn boxed(error: impl std::error::Error + Send + Sync + 'static) -> StoreError {
    StoreError(Box::new(error))
}

/// Awaits a Redis call for at most `timeout`; past it the call's outcome is unknown to the
/// caller.
pub(crate) async fn bounded<T, E: std::error::Error + Send + Sync + 'static>(
    timeout: Duration,
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, StoreError> {
    within(timeout, call).await?.map_err(boxed)
}

/// `call`'s own result if it ends within `timeout`, else a timeout error.
///
/// A zero timeout fails at once, without sending anything: Tokio's timer rounds up to its next
/// millisecond, so a zero timeout would otherwise let a fast (loopback) Redis answer some calls
/// and not others. Failing every call is the fail-closed reading of "wait for nothing".
/// `Duration::MAX` waits as long as the call takes (Tokio saturates the deadline).
pub(crate) async fn within<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = T>,
) -> Result<T, StoreError> {
    if timeout.is_zero() {
        return Err(boxed(std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            "the store's timeout is zero: every command times out",
        )));
    }
    tokio::time::timeout(timeout, call).await.map_err(boxed)
}
