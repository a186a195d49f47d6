-- appwrite-webhooks-postgres, schema version 4: wake-ups that do not serialize commits.
--
-- PostgresLedger::migrate() runs this file after 003 in one transaction; by hand:
--
--     psql "$DATABASE_URL" --single-transaction -v ON_ERROR_STOP=1 -f 004_notify.sql
--
-- Idempotent: it replaces one function and records the version.
--
-- Why: a transaction that has run NOTIFY takes a database-wide lock when it commits and holds
-- it until its commit is flushed, so every storing transaction that notified flushed alone —
-- no group commit. With fsync on, a disk with a 1 ms flush stored about 1 000 deliveries a
-- second however many requests arrived at once (durable_load, BENCHMARKS.md).
--
-- Now one transaction at a time notifies: the one holding a transaction-scoped advisory lock,
-- which is free again the moment it commits. A transaction that finds the lock taken does not
-- notify, and commits alongside the others. Its delivery is not forgotten: the notifying
-- transaction is committing at that moment, and the worker it wakes takes deliveries until none
-- is due; the process that stored it wakes its own workers without NOTIFY; and every worker
-- polls (Workers::with_poll_interval, 250 ms by default), the fallback for a notification
-- that finds the delivery not yet committed. One transaction that makes many rows due (a
-- requeue of every dead letter) still notifies once per row: the lock is its own after the
-- first.

SELECT pg_advisory_xact_lock(1098343287, 0);

CREATE OR REPLACE FUNCTION appwrite_webhooks.notify_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    -- Class 1098343289: neither the migrations' and labels' (…287) nor the resources' (…288).
    IF pg_try_advisory_xact_lock(1098343289, 0) THEN
        PERFORM pg_notify('appwrite_webhooks_due', NEW.id::text);
    END IF;
    RETURN NULL;
END
$$;

INSERT INTO appwrite_webhooks.schema_versions (version) VALUES (4) ON CONFLICT DO NOTHING;
