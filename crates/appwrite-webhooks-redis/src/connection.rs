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
pub(crate) async fn bounded<T>(
    timeout: Duration,
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> Result<T, StoreError> {
    match tokio::time::timeout(timeout, call).await {
        Ok(result) => result.map_err(boxed),
        Err(elapsed) => Err(boxed(elapsed)),
    }
}
