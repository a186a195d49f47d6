//! The schema's migrations: the SQL in `migrations/`, embedded, and how they are applied.

use deadpool_postgres::Object;
use tokio_postgres::error::SqlState;

use crate::Failure;

/// One step of the schema: its version and its SQL, as in `migrations/` beside the crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Migration {
    /// The schema version it brings the database to.
    pub version: i32,
    /// The file's name in `migrations/`.
    pub name: &'static str,
    /// Its SQL: idempotent, without `BEGIN`/`COMMIT` (run it with `psql --single-transaction`).
    pub sql: &'static str,
}

/// Every migration, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "001_ledger.sql",
        sql: include_str!("../migrations/001_ledger.sql"),
    },
    Migration {
        version: 2,
        name: "002_history.sql",
        sql: include_str!("../migrations/002_history.sql"),
    },
    Migration {
        version: 3,
        name: "003_ordering.sql",
        sql: include_str!("../migrations/003_ordering.sql"),
    },
    Migration {
        version: 4,
        name: "004_notify.sql",
        sql: include_str!("../migrations/004_notify.sql"),
    },
    Migration {
        version: 5,
        name: "005_labels.sql",
        sql: include_str!("../migrations/005_labels.sql"),
    },
];

/// The schema version this crate reads and writes: the last of [`MIGRATIONS`].
pub const SCHEMA_VERSION: i32 = 5;

/// The schema's version as recorded, `None` when it was never migrated.
pub(crate) async fn version(client: &Object) -> Result<Option<i32>, Failure> {
    match client
        .query_one(
            "SELECT max(version) FROM appwrite_webhooks.schema_versions",
            &[],
        )
        .await
    {
        Ok(row) => Ok(row.try_get(0)?),
        Err(error)
            if matches!(
                error.code(),
                Some(&SqlState::UNDEFINED_TABLE) | Some(&SqlState::INVALID_SCHEMA_NAME)
            ) =>
        {
            Ok(None)
        }
        Err(error) => Err(error.into()),
    }
}

/// Refuses a schema written by a newer version of this crate.
fn refuse_newer(found: Option<i32>) -> Result<(), Failure> {
    match found {
        Some(found) if found > SCHEMA_VERSION => Err(Failure::Schema(format!(
            "the database has schema version {found}, newer than this version of \
             appwrite-webhooks-postgres understands ({SCHEMA_VERSION})"
        ))),
        _ => Ok(()),
    }
}

/// Fails unless the schema is exactly [`SCHEMA_VERSION`].
pub(crate) async fn check(client: &Object) -> Result<(), Failure> {
    let found = version(client).await?;
    refuse_newer(found)?;
    match found {
        Some(SCHEMA_VERSION) => Ok(()),
        Some(older) => Err(Failure::Schema(format!(
            "the database has schema version {older}, older than this crate's \
             ({SCHEMA_VERSION}): call PostgresLedger::migrate() or run the files in \
             migrations/ that are newer"
        ))),
        None => Err(Failure::Schema(
            "the database has no ledger schema (appwrite_webhooks): call \
             PostgresLedger::migrate() or run migrations/001_ledger.sql"
                .into(),
        )),
    }
}

/// Runs every migration newer than the database's schema, in one transaction under the
/// migrations' advisory lock: replicas migrating at once wait for each other, and the later
/// ones find nothing to do. Returns the version reached.
pub(crate) async fn migrate(client: &mut Object) -> Result<i32, Failure> {
    let transaction = client.transaction().await?;
    // The same lock the files take first, so a hand-run file and this wait for each other.
    transaction
        .execute("SELECT pg_advisory_xact_lock(1098343287, 0)", &[])
        .await?;
    // Read under the lock: what another replica committed meanwhile counts.
    let found = match transaction
        .query_one(
            "SELECT to_regclass('appwrite_webhooks.schema_versions') IS NOT NULL",
            &[],
        )
        .await?
        .try_get::<_, bool>(0)?
    {
        true => transaction
            .query_one(
                "SELECT max(version) FROM appwrite_webhooks.schema_versions",
                &[],
            )
            .await?
            .try_get::<_, Option<i32>>(0)?,
        false => None,
    };
    refuse_newer(found)?;
    for migration in MIGRATIONS
        .iter()
        .filter(|m| found.is_none_or(|found| m.version > found))
    {
        transaction.batch_execute(migration.sql).await?;
    }
    transaction.commit().await?;
    Ok(SCHEMA_VERSION.max(found.unwrap_or(0)))
}
