-- appwrite-webhooks-postgres, schema version 3: exactly-once handlers and per-resource ordering
-- (PostgresLedger::exactly_once, ExactlyOnce::with_ordering).
--
-- PostgresLedger::migrate() runs this file after 002 in one transaction; by hand:
--
--     psql "$DATABASE_URL" --single-transaction -v ON_ERROR_STOP=1 -f 003_ordering.sql
--
-- Idempotent, and leaves the objects of 001 and 002 as they are, so running any earlier file
-- again afterwards changes nothing either.

SELECT pg_advisory_xact_lock(1098343287, 0);

-- 'stale' on a done delivery settled without its handler: a newer version of its resource
-- had been applied. Any other row leaves it NULL. An older crate reads a stale row as done,
-- which it also is.
ALTER TABLE appwrite_webhooks.deliveries ADD COLUMN IF NOT EXISTS outcome text;

-- The ordering state: per resource (its kind and ids, e.g. `users.u1`), the newest version
-- applied — `$updatedAt` in microseconds and the change's rank (create 0, update 1,
-- delete 2) —, whether that was a delete, and by which delivery. Rows are kept after a delete
-- (that is what keeps a late update from resurrecting it) and never swept: one small row per
-- resource ever ordered. `delivery_id` has no foreign key: purged deliveries stay applied.
CREATE TABLE IF NOT EXISTS appwrite_webhooks.resource_versions (
    resource      text     PRIMARY KEY,
    updated_at_us bigint   NOT NULL,
    change        smallint NOT NULL CHECK (change IN (0, 1, 2)),
    deleted       boolean  NOT NULL,
    delivery_id   bigint,
    applied_at_ms bigint   NOT NULL
);

-- The history of a stale attempt says `stale` (and why), not `done`. A trigger of its own
-- rather than a new record_attempt(): 002 stays the last word on that function, so running
-- 002 again by hand cannot undo this. Triggers on one event fire in name order, so this one
-- runs after deliveries_record_attempt has closed the attempt as done.
CREATE OR REPLACE FUNCTION appwrite_webhooks.record_stale() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE appwrite_webhooks.attempts
    SET outcome = 'stale', error = NEW.last_error
    WHERE delivery = NEW.id AND lease = OLD.lease AND outcome = 'done';
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = 'deliveries_record_stale'
          AND tgrelid = 'appwrite_webhooks.deliveries'::regclass
    ) THEN
        CREATE TRIGGER deliveries_record_stale
        AFTER UPDATE OF lease ON appwrite_webhooks.deliveries
        FOR EACH ROW
        WHEN (NEW.body IS NOT NULL AND OLD.lease IS NOT NULL AND NEW.lease IS NULL
              AND NEW.state = 'done' AND NEW.outcome = 'stale')
        EXECUTE FUNCTION appwrite_webhooks.record_stale();
    END IF;
END
$$;

INSERT INTO appwrite_webhooks.schema_versions (version) VALUES (3) ON CONFLICT DO NOTHING;
