-- appwrite-webhooks-postgres, schema version 2: the history of attempts, for an operator's view
-- (appwrite-webhooks-web, `appwrite-webhooks inbox web`).
--
-- PostgresLedger::migrate() runs this file after 001 in one transaction; by hand:
--
--     psql "$DATABASE_URL" --single-transaction -v ON_ERROR_STOP=1 -f 002_history.sql
--
-- Idempotent. One row per attempt at an inbox delivery, written by a trigger in the very
-- statement that takes or settles the delivery, so the history never disagrees with the
-- delivery's state, whoever changes it (a replica, an older binary, a hand-run UPDATE). Rows go
-- with their delivery.

SELECT pg_advisory_xact_lock(1098343287, 0);

CREATE TABLE IF NOT EXISTS appwrite_webhooks.attempts (
    id            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery      bigint  NOT NULL
                  REFERENCES appwrite_webhooks.deliveries (id) ON DELETE CASCADE,
    attempt       integer NOT NULL,
    lease         text    NOT NULL,
    worker        text,
    started_at_ms bigint  NOT NULL,
    ended_at_ms   bigint,
    outcome       text    NOT NULL DEFAULT 'running',
    error         text
);
CREATE INDEX IF NOT EXISTS attempts_delivery ON appwrite_webhooks.attempts (delivery, lease);
CREATE INDEX IF NOT EXISTS attempts_ended ON appwrite_webhooks.attempts (ended_at_ms)
    WHERE ended_at_ms IS NOT NULL;
-- The view's counts of deliveries received per minute.
CREATE INDEX IF NOT EXISTS deliveries_received ON appwrite_webhooks.deliveries (received_at_ms)
    WHERE body IS NOT NULL;

-- A delivery's lease changed: the attempt that held the old one ended (how is read from the
-- new row: done, dead, handed back — its attempt uncounted — or retried; replaced by a new
-- lease, its worker died: abandoned), and a take (one more attempt, a new lease) starts one.
CREATE OR REPLACE FUNCTION appwrite_webhooks.record_attempt() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    at_ms bigint := appwrite_webhooks.now_ms();
BEGIN
    IF OLD.lease IS NOT NULL THEN
        UPDATE appwrite_webhooks.attempts
        SET ended_at_ms = CASE WHEN NEW.lease IS NULL THEN at_ms END,
            outcome = CASE
                WHEN NEW.lease IS NOT NULL THEN 'abandoned'
                WHEN NEW.state = 'done' THEN 'done'
                WHEN NEW.state = 'dead' THEN 'dead'
                WHEN NEW.attempts < OLD.attempts THEN 'handed back'
                ELSE 'retry'
            END,
            error = CASE
                WHEN NEW.lease IS NULL AND NEW.state <> 'done' AND NEW.attempts >= OLD.attempts
                THEN NEW.last_error
            END
        WHERE delivery = NEW.id AND lease = OLD.lease AND outcome = 'running';
    END IF;
    IF NEW.lease IS NOT NULL AND NEW.attempts > OLD.attempts THEN
        INSERT INTO appwrite_webhooks.attempts (delivery, attempt, lease, worker, started_at_ms)
        VALUES (NEW.id, NEW.attempts, NEW.lease, NEW.worker, at_ms);
    END IF;
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = 'deliveries_record_attempt'
          AND tgrelid = 'appwrite_webhooks.deliveries'::regclass
    ) THEN
        CREATE TRIGGER deliveries_record_attempt
        AFTER UPDATE OF lease ON appwrite_webhooks.deliveries
        FOR EACH ROW
        WHEN (NEW.body IS NOT NULL AND OLD.lease IS DISTINCT FROM NEW.lease)
        EXECUTE FUNCTION appwrite_webhooks.record_attempt();
    END IF;
END
$$;

INSERT INTO appwrite_webhooks.schema_versions (version) VALUES (2) ON CONFLICT DO NOTHING;
