//! How the Postgres ledger counts a body's labels (schema version 5): from the rows of its
//! deliveries and claims, found by the body key their identities begin with, plus the `labels`
//! table for what those rows cannot say (a label recorded alone, a database written before, a
//! row deleted early). What every ledger does is `testkit::label_suite`; here, what only this
//! one shows — what it writes, its sweep, its upgrade, replicas racing — on one cluster, a
//! database each.

mod common;

use std::time::Duration;

use appwrite_webhooks::inbox::Put;
use appwrite_webhooks::{ClaimOutcome, Fingerprint, LabelStore, LeaseToken, ReplayStore};
use appwrite_webhooks_postgres::{MIGRATIONS, PostgresLedger};
use common::{PostgresServer, ledger};
use testkit::label_suite::{abandon_claims_of_every_label, body, claim, label, put};

const LIMIT: u32 = appwrite_webhooks::MAX_LABELS_PER_BODY;
const WEEK: Duration = Duration::from_secs(7 * 24 * 3600);
const MINUTE: Duration = Duration::from_secs(60);

/// One number that `sql` selects in `database`.
fn count(server: &PostgresServer, database: &str, sql: &str) -> i64 {
    let output = server.psql(database, sql);
    assert!(
        output.status.success(),
        "{sql}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .trim()
        .parse()
        .unwrap()
}

const LABELS: &str = "SELECT count(*) FROM appwrite_webhooks.labels";

/// The rows are the labels: nothing is written beside a labelled delivery or claim, and the
/// released claims' labels are kept in the table (by the trigger) until their time is up.
async fn deliveries_and_claims_hold_their_labels_with_nothing_written_beside_them(
    server: &PostgresServer,
) {
    let ledger = ledger(server, "rows").await;
    let b = body(1);
    for n in 0..LIMIT as u8 / 2 {
        assert!(matches!(
            put(&ledger, &b, &label(&b, n)).await,
            Put::Stored(_)
        ));
    }
    assert_eq!(count(server, "rows", LABELS), 0);
    for n in 100..100 + LIMIT as u8 / 2 {
        let owner = LeaseToken::new();
        let outcome = claim(&ledger, &b, &label(&b, n), &owner).await;
        assert_eq!(outcome, Some(ClaimOutcome::Claimed), "label {n}");
        assert!(ledger.release(&label(&b, n), &owner).await.unwrap());
    }
    assert_eq!(count(server, "rows", LABELS), i64::from(LIMIT / 2));
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 99), &owner).await, None);
}

/// An identity that does not begin with its body key (a store fed by hand, another scheme) is
/// labelled in the table.
async fn an_identity_without_its_body_key_is_labelled_in_the_table(server: &PostgresServer) {
    let ledger = ledger(server, "other").await;
    let b = body(7);
    for n in 0..4 {
        let unrelated = Fingerprint::new(&[n + 100; 32]);
        assert!(matches!(put(&ledger, &b, &unrelated).await, Put::Stored(_)));
    }
    assert_eq!(count(server, "other", LABELS), 4);
}

async fn a_label_whose_time_is_up_is_not_kept_for_a_deleted_row(server: &PostgresServer) {
    let ledger = ledger(server, "expired").await;
    let b = body(5);
    // Kept for no time at all: a released claim leaves nothing behind.
    let owner = LeaseToken::new();
    let admitted = ledger
        .label_and_claim(&b, &label(&b, 0), &owner, (LIMIT, Duration::ZERO), MINUTE)
        .await
        .unwrap();
    assert_eq!(admitted, Some(ClaimOutcome::Claimed));
    assert!(ledger.release(&label(&b, 0), &owner).await.unwrap());
    assert_eq!(count(server, "expired", LABELS), 0);
}

/// A database at version 4 (every label a row of `labels`, keyed by the whole body key) is
/// brought up to date by `migrate()`, and the labels it kept still count.
async fn a_database_from_before_is_upgraded_and_its_labels_still_count(server: &PostgresServer) {
    let url = server.database("upgrade");
    for migration in &MIGRATIONS[..4] {
        let file = common::migration_file().with_file_name(migration.name);
        assert!(server.psql_file("upgrade", &file).status.success());
    }
    let b = body(9);
    let older = PostgresLedger::connect(&url).await.unwrap();
    for n in 0..LIMIT as u8 - 1 {
        assert!(older.label(&b, &label(&b, n), LIMIT, WEEK).await.unwrap());
    }
    assert_eq!(
        older.migrate().await.unwrap(),
        appwrite_webhooks_postgres::SCHEMA_VERSION
    );
    let ledger = PostgresLedger::connect(&url).await.unwrap();
    assert!(matches!(
        put(&ledger, &b, &label(&b, 100)).await,
        Put::Stored(_)
    ));
    assert_eq!(put(&ledger, &b, &label(&b, 101)).await, Put::OverLabelLimit);
}

/// Claims whose lease ran out (their process was killed) hold their labels after the sweep
/// deleted their rows.
async fn an_abandoned_claim_still_counts_after_it_is_swept(server: &PostgresServer) {
    let ledger = ledger(server, "abandoned").await;
    let b = body(10);
    abandon_claims_of_every_label(&ledger, &b).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    // The sweep's statement, as a replica runs it once a minute.
    let swept = server.psql(
        "abandoned",
        "DELETE FROM appwrite_webhooks.deliveries
         WHERE state = 'pending' AND body IS NULL
           AND due_at_ms <= appwrite_webhooks.now_ms()",
    );
    assert!(swept.status.success());
    let rows = "SELECT count(*) FROM appwrite_webhooks.deliveries";
    assert_eq!(count(server, "abandoned", rows), 0, "swept");
    let owner = LeaseToken::new();
    assert_eq!(claim(&ledger, &b, &label(&b, 99), &owner).await, None);
}

/// During an upgrade a replica of schema version 4 runs its own statement — `label()`, then
/// `put()` — beside this version's: the body still gets no more than the limit.
async fn a_replica_of_the_previous_version_keeps_the_limit(server: &PostgresServer) {
    let ledger = ledger(server, "mixed").await;
    let b = body(14);
    let hex = |bytes: &[u8]| {
        let digits: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        format!("'\\x{digits}'::bytea")
    };
    let older = |n: u8| {
        let (body, label) = (hex(b.as_bytes()), hex(label(&b, n).as_bytes()));
        // The statement of appwrite-webhooks-postgres at schema version 4.
        let sql = format!(
            "SELECT CASE WHEN appwrite_webhooks.label({body}, {label}, {LIMIT}, 604800000) THEN (
                 SELECT p.outcome FROM appwrite_webhooks.put(
                     {label}, 0, '/hook', ''::bytea, '{{}}'::bytea) p
             ) END"
        );
        let output = server.psql("mixed", &sql);
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim() == "stored"
    };
    let mut stored = 0;
    for n in 0..LIMIT as u8 + 4 {
        let admitted = if n % 2 == 0 {
            older(n)
        } else {
            matches!(put(&ledger, &b, &label(&b, n)).await, Put::Stored(_))
        };
        if admitted {
            stored += 1;
        }
    }
    assert_eq!(stored, LIMIT);
}

/// Two replicas storing new labels of one body at once admit no more than the limit: the row
/// that holds a label is inserted under the body's lock. Eight bodies, so that a race has
/// many chances to show.
async fn racing_replicas_pass_no_more_labels_than_the_limit(server: &PostgresServer) {
    let first = ledger(server, "racing").await;
    let second = common::replica(server, "racing");
    for b in (12..20).map(body) {
        let mut puts = tokio::task::JoinSet::new();
        for n in 0..4 * LIMIT as u8 {
            let ledger = if n % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            puts.spawn(async move { put(&ledger, &b, &label(&b, n)).await });
        }
        let stored = puts
            .join_all()
            .await
            .into_iter()
            .filter(|put| matches!(put, Put::Stored(_)))
            .count();
        assert_eq!(stored, LIMIT as usize, "body {:?}", b.as_bytes()[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bodys_labels_are_counted_from_its_rows() {
    let server = PostgresServer::start();
    testkit::label_suite::a_bodys_labels_are_counted_once_for_every_path(async |name| {
        ledger(&server, &format!("suite_{name}")).await
    })
    .await;
    deliveries_and_claims_hold_their_labels_with_nothing_written_beside_them(&server).await;
    a_label_whose_time_is_up_is_not_kept_for_a_deleted_row(&server).await;
    an_identity_without_its_body_key_is_labelled_in_the_table(&server).await;
    a_database_from_before_is_upgraded_and_its_labels_still_count(&server).await;
    an_abandoned_claim_still_counts_after_it_is_swept(&server).await;
    racing_replicas_pass_no_more_labels_than_the_limit(&server).await;
    a_replica_of_the_previous_version_keeps_the_limit(&server).await;
}
