-- appwrite-webhooks-postgres, schema version 1: the ledger.
--
-- PostgresLedger::migrate() runs this file in one transaction. To run it by hand instead
-- (a role that may create schemas, e.g. before handing the application a narrower one):
--
--     psql "$DATABASE_URL" --single-transaction -v ON_ERROR_STOP=1 -f 001_ledger.sql
--
-- Idempotent: running it again changes nothing. Everything lives in the schema
-- `appwrite_webhooks`; nothing else in the database is touched. Postgres 12 or newer.

-- One migration at a time, whoever runs it (replicas starting together).
SELECT pg_advisory_xact_lock(1098343287, 0);

CREATE SCHEMA IF NOT EXISTS appwrite_webhooks;

-- Which migrations have run: the highest is the schema's version.
CREATE TABLE IF NOT EXISTS appwrite_webhooks.schema_versions (
    version    integer     PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- One row per fingerprint: the ledger. A row with a body is an inbox delivery; a row without
-- one is a replay guard's claim (pending while its request runs, done for the TTL), which
-- workers never take. Times are milliseconds since the Unix epoch on the server's clock, so
-- replicas with drifting clocks agree on leases. `due_at_ms` is when a worker may take a
-- delivery next (its arrival, a retry's time, or the end of a lease) and when a claim's lease
-- ends; `lease` is the token of the attempt or claim that holds the row; `keep_until_ms` ends
-- a done row's retention.
CREATE TABLE IF NOT EXISTS appwrite_webhooks.deliveries (
    id             bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fingerprint    bytea   NOT NULL UNIQUE,
    received_at_ms bigint  NOT NULL,
    uri            text,
    headers        bytea,
    body           bytea,
    state          text    NOT NULL CHECK (state IN ('pending', 'done', 'dead')),
    attempts       integer NOT NULL DEFAULT 0,
    due_at_ms      bigint  NOT NULL,
    lease          text,
    worker         text,
    last_error     text,
    done_at_ms     bigint,
    keep_until_ms  bigint,
    CHECK ((body IS NULL) = (uri IS NULL) AND (body IS NULL) = (headers IS NULL))
);

-- What workers look for: due deliveries, oldest first. Claims and settled rows are not in it.
CREATE INDEX IF NOT EXISTS deliveries_due ON appwrite_webhooks.deliveries (due_at_ms, id)
    WHERE state = 'pending' AND body IS NOT NULL;

-- What the sweep looks for: done rows past their retention, claims past their lease.
CREATE INDEX IF NOT EXISTS deliveries_done_expiry ON appwrite_webhooks.deliveries (keep_until_ms)
    WHERE state = 'done';
CREATE INDEX IF NOT EXISTS deliveries_claim_expiry ON appwrite_webhooks.deliveries (due_at_ms)
    WHERE state = 'pending' AND body IS NULL;

-- The labels each signed body was delivered under, for the inbox and the guard alike, so a
-- captured body is handled under at most MAX_LABELS_PER_BODY labels whichever path it takes.
CREATE TABLE IF NOT EXISTS appwrite_webhooks.labels (
    body          bytea  NOT NULL,
    label         bytea  NOT NULL,
    keep_until_ms bigint NOT NULL,
    PRIMARY KEY (body, label)
);
CREATE INDEX IF NOT EXISTS labels_expiry ON appwrite_webhooks.labels (keep_until_ms);

-- Now, in milliseconds since the Unix epoch: when the client's statement started.
CREATE OR REPLACE FUNCTION appwrite_webhooks.now_ms() RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint
$$;

-- `ms` after `at`, saturating: a retention of Duration::MAX is "never", not an overflow.
CREATE OR REPLACE FUNCTION appwrite_webhooks.after(at bigint, ms bigint) RETURNS bigint
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN ms >= 9223372036854775807 - at THEN 9223372036854775807 ELSE at + ms END
$$;

-- Deletes the row for `fp` if it has expired (done past its retention, or a claim whose lease
-- ran out), so the fingerprint counts as absent. Run before claiming or storing.
CREATE OR REPLACE FUNCTION appwrite_webhooks.forget_expired(fp bytea, at_ms bigint) RETURNS void
LANGUAGE sql AS $$
    DELETE FROM appwrite_webhooks.deliveries
    WHERE fingerprint = fp
      AND ((state = 'done' AND keep_until_ms <= at_ms)
        OR (state = 'pending' AND body IS NULL AND due_at_ms <= at_ms))
$$;

-- Records `p_label` as one of the labels of the signed body `p_body`, unless it has `p_limit`
-- others; whether it is (now) one of them.
CREATE OR REPLACE FUNCTION appwrite_webhooks.label(
    p_body bytea, p_label bytea, p_limit integer, p_keep_ms bigint
) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    at_ms bigint := appwrite_webhooks.now_ms();
    known bigint;
    mine  boolean;
BEGIN
    -- One transaction at a time counts and adds a body's labels, so two replicas cannot both
    -- add the last one allowed. The key is the body fingerprint's first 32 bits (a digest).
    PERFORM pg_advisory_xact_lock(
        1098343287, ('x' || encode(substring(p_body FROM 1 FOR 4), 'hex'))::bit(32)::integer);
    DELETE FROM appwrite_webhooks.labels WHERE body = p_body AND keep_until_ms <= at_ms;
    SELECT count(*), coalesce(bool_or(label = p_label), false) INTO known, mine
    FROM appwrite_webhooks.labels WHERE body = p_body;
    IF mine THEN
        RETURN true;
    ELSIF known >= p_limit THEN
        RETURN false;
    END IF;
    INSERT INTO appwrite_webhooks.labels (body, label, keep_until_ms)
    VALUES (p_body, p_label, appwrite_webhooks.after(at_ms, p_keep_ms));
    RETURN true;
END
$$;

-- The replay guard's claim: 'claimed', 'in_progress' or 'done'. A fingerprint held by an inbox
-- delivery is 'done' once a worker handled it, 'in_progress' while it is pending or dead.
CREATE OR REPLACE FUNCTION appwrite_webhooks.claim(fp bytea, owner text, lease_ms bigint)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    at_ms bigint := appwrite_webhooks.now_ms();
    held  text;
BEGIN
    LOOP
        PERFORM appwrite_webhooks.forget_expired(fp, at_ms);
        -- A concurrent insert of the same fingerprint waits here for the other transaction:
        -- exactly one of them claims.
        INSERT INTO appwrite_webhooks.deliveries
            (fingerprint, received_at_ms, state, attempts, due_at_ms, lease)
        VALUES (fp, at_ms, 'pending', 0, appwrite_webhooks.after(at_ms, lease_ms), owner)
        ON CONFLICT (fingerprint) DO NOTHING;
        IF FOUND THEN
            RETURN 'claimed';
        END IF;
        SELECT state INTO held FROM appwrite_webhooks.deliveries WHERE fingerprint = fp;
        IF FOUND THEN
            RETURN CASE held WHEN 'done' THEN 'done' ELSE 'in_progress' END;
        END IF;
        -- Deleted in between (released, purged, swept): look again.
    END LOOP;
END
$$;

-- Marks a claim done for the TTL if `owner` holds it or nobody does; records it done afresh
-- if it is absent. Whether this call made it done.
CREATE OR REPLACE FUNCTION appwrite_webhooks.complete_claim(fp bytea, owner text, ttl_ms bigint)
RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    at_ms      bigint := appwrite_webhooks.now_ms();
    keep_until bigint := appwrite_webhooks.after(at_ms, ttl_ms);
BEGIN
    PERFORM appwrite_webhooks.forget_expired(fp, at_ms);
    -- Held by this owner, or by nobody: its lease ran out, or it is an inbox delivery no
    -- worker holds (kept in a claim's row by a put; the guard's handler succeeded with it).
    UPDATE appwrite_webhooks.deliveries
    SET state = 'done', lease = NULL, done_at_ms = at_ms, keep_until_ms = keep_until
    WHERE fingerprint = fp AND state = 'pending'
      AND (lease = owner OR lease IS NULL OR due_at_ms <= at_ms);
    IF FOUND THEN
        RETURN true;
    END IF;
    INSERT INTO appwrite_webhooks.deliveries
        (fingerprint, received_at_ms, state, attempts, due_at_ms, done_at_ms, keep_until_ms)
    VALUES (fp, at_ms, 'done', 0, at_ms, at_ms, keep_until)
    ON CONFLICT (fingerprint) DO NOTHING;
    RETURN FOUND;
END
$$;

-- Forgets a claim `owner` holds; a claim whose row a put filled with the delivery is handed
-- to the workers instead, due now, so the 202 that put answered is honoured.
CREATE OR REPLACE FUNCTION appwrite_webhooks.release_claim(fp bytea, owner text)
RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM appwrite_webhooks.deliveries
    WHERE fingerprint = fp AND state = 'pending' AND body IS NULL AND lease = owner;
    IF FOUND THEN
        RETURN true;
    END IF;
    UPDATE appwrite_webhooks.deliveries SET lease = NULL, due_at_ms = appwrite_webhooks.now_ms()
    WHERE fingerprint = fp AND state = 'pending' AND body IS NOT NULL AND lease = owner;
    RETURN FOUND;
END
$$;

-- Stores an inbox delivery unless its fingerprint is held: ('stored', id) or
-- ('duplicate', id of the row that holds it).
CREATE OR REPLACE FUNCTION appwrite_webhooks.put(
    fp bytea, p_received_at_ms bigint, p_uri text, p_headers bytea, p_body bytea,
    OUT outcome text, OUT delivery_id bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    at_ms bigint := appwrite_webhooks.now_ms();
BEGIN
    LOOP
        PERFORM appwrite_webhooks.forget_expired(fp, at_ms);
        -- Due on arrival (oldest first), but never later than now: a delivery stamped in the
        -- future (a clock that jumped) must not hide from workers until then.
        INSERT INTO appwrite_webhooks.deliveries
            (fingerprint, received_at_ms, uri, headers, body, state, attempts, due_at_ms)
        VALUES (fp, p_received_at_ms, p_uri, p_headers, p_body, 'pending', 0,
                least(p_received_at_ms, at_ms))
        ON CONFLICT (fingerprint) DO NOTHING
        RETURNING id INTO delivery_id;
        IF FOUND THEN
            outcome := 'stored';
            RETURN;
        END IF;
        outcome := 'duplicate';
        -- A pending claim holds the fingerprint: a guard's request is handling it now. Keep
        -- the delivery in the claim's row, so that if that request fails (the claim is
        -- released, or its lease runs out) workers handle it.
        UPDATE appwrite_webhooks.deliveries
        SET received_at_ms = p_received_at_ms, uri = p_uri, headers = p_headers, body = p_body
        WHERE fingerprint = fp AND state = 'pending' AND body IS NULL
        RETURNING id INTO delivery_id;
        IF FOUND THEN
            RETURN;
        END IF;
        SELECT id INTO delivery_id FROM appwrite_webhooks.deliveries WHERE fingerprint = fp;
        IF FOUND THEN
            RETURN;
        END IF;
        -- Deleted in between (released, purged, swept): try again.
    END LOOP;
END
$$;

-- Workers LISTEN on `appwrite_webhooks_due`: a delivery that becomes due now and is held by
-- no one (stored, handed back, released, requeued — by this crate or by hand) says so, once
-- per row (the payload is its id, so a batch is not folded into one word).
CREATE OR REPLACE FUNCTION appwrite_webhooks.notify_due() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('appwrite_webhooks_due', NEW.id::text);
    RETURN NULL;
END
$$;

DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_trigger
        WHERE tgname = 'deliveries_notify_due'
          AND tgrelid = 'appwrite_webhooks.deliveries'::regclass
    ) THEN
        CREATE TRIGGER deliveries_notify_due
        AFTER INSERT OR UPDATE ON appwrite_webhooks.deliveries
        FOR EACH ROW
        WHEN (NEW.state = 'pending' AND NEW.body IS NOT NULL AND NEW.lease IS NULL
              AND NEW.due_at_ms <= appwrite_webhooks.now_ms())
        EXECUTE FUNCTION appwrite_webhooks.notify_due();
    END IF;
END
$$;

INSERT INTO appwrite_webhooks.schema_versions (version) VALUES (1) ON CONFLICT DO NOTHING;
