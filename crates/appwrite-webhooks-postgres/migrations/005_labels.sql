-- appwrite-webhooks-postgres, schema version 5: a body's labels counted from its deliveries' rows.
--
-- PostgresLedger::migrate() runs this file after 004 in one transaction; by hand:
--
--     psql "$DATABASE_URL" --single-transaction -v ON_ERROR_STOP=1 -f 005_labels.sql
--
-- Idempotent. Every function of 001 to 004 keeps its name, signature and meaning (put(),
-- claim() and label() now call the functions below), so a replica of the previous version
-- still running during an upgrade works on, and the label limit holds across both (the
-- older replica's statements call label(), which counts the rows too from now on). It adds a
-- column to `deliveries` and makes two of its triggers anew, which takes the table's exclusive
-- lock: every operation on the table waits until this file commits, and this file waits for
-- the transactions already running on it (an exactly-once handler's, say). Run it when a
-- moment's pause suits; an operation that waits past its timeout answers 503, and Appwrite
-- retries.
--
-- Why: a label is a delivery's identity, and an Appwrite identity begins with its body key
-- (its first 16 bytes). Before, every labelled delivery also wrote a row into `labels` (a
-- heap row and two index entries, one at a hash-keyed place). Now the deliveries' own rows are
-- the body's labels, found by that prefix in the identities' unique index; `labels` keeps only
-- what those rows cannot say: a label recorded alone (label()), an identity that does not
-- carry its body key, the labels written before this version, and the label of a row deleted
-- before its label's time was up (a released claim, a purge, a sweep: the trigger below).

-- Also, functions that Postgres parsed and planned again on every call: a function in
-- LANGUAGE sql that is not a single SELECT is never inlined, and Postgres before 18 keeps its
-- plan only for the statement that called it — every put, claim and completion parsed and
-- planned forget_expired's DELETE (profiled: a fifth of the database's time under load).
-- PL/pgSQL keeps each statement's plan for the session. For the same reason the triggers'
-- conditions spell the time out instead of calling now_ms(), which a condition, prepared
-- again for each statement, inlined by parsing its body.

SELECT pg_advisory_xact_lock(1098343287, 0);

-- forget_expired() of 001, with its plan kept; label_and_put() and label_and_claim() call it
-- when their insert finds the fingerprint held.
CREATE OR REPLACE FUNCTION appwrite_webhooks.forget_expired(fp bytea, at_ms bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM appwrite_webhooks.deliveries
    WHERE fingerprint = fp
      AND ((state = 'done' AND keep_until_ms <= at_ms)
        OR (state = 'pending' AND body IS NULL AND due_at_ms <= at_ms));
END
$$;

-- Until when a row holds its label; NULL for a row that holds none (a delivery stored without
-- a label, one labelled in `labels`, one written before this version).
ALTER TABLE appwrite_webhooks.deliveries ADD COLUMN IF NOT EXISTS label_until_ms bigint;

-- Admits `p_label` as one of the labels of the signed body `p_body`, unless the body has
-- `p_limit` others (NULL: no limit): whether it did. The body's labels are the rows whose
-- identities begin with its body key (the first 16 bytes) and whose label's time is not up,
-- and the labels kept in `labels`.
-- `p_row` says that the row the same transaction inserts next has `p_label` as its
-- fingerprint: if that identity begins with the body key, the row will hold the new label
-- until `label_until_ms`, and nothing is written here; otherwise the label is kept in
-- `labels` for `p_keep_ms`.
CREATE OR REPLACE FUNCTION appwrite_webhooks.admit_label(
    p_body bytea, p_label bytea, p_limit integer, p_keep_ms bigint, p_row boolean,
    OUT admitted boolean, OUT label_until_ms bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    at_ms  bigint := appwrite_webhooks.now_ms();
    prefix bytea := substring(p_body FROM 1 FOR 16);
    -- Every identity that begins with `prefix` sorts at or after it, and before `prefix`
    -- followed by more 0xff bytes than any identity (32 bytes at most) has after it. Only a
    -- body key longer than the prefix begins identities: a shorter one's labels are all in
    -- `labels`, and its range is empty.
    past   bytea := CASE WHEN length(p_body) > 16
                         THEN prefix || decode(repeat('ff', 17), 'hex') ELSE prefix END;
    known  bigint;
    mine   boolean;
BEGIN
    -- The lock label() of 001 takes: one transaction at a time counts a body's labels and
    -- adds one (a row or a kept label), so two replicas cannot both add the last one allowed.
    PERFORM pg_advisory_xact_lock(
        1098343287, ('x' || encode(substring(p_body FROM 1 FOR 4), 'hex'))::bit(32)::integer);
    -- One statement, so one snapshot: a sweep that deletes a row and keeps its label in
    -- `labels` (one transaction) is seen before or after, never half-way.
    SELECT count(DISTINCT known_label), coalesce(bool_or(known_label = p_label), false)
    INTO known, mine
    FROM (
        -- A row is a label while its label's time is not up: one stored without a label
        -- (put(), a delivery whose fingerprint is not its label) holds none.
        SELECT d.fingerprint AS known_label FROM appwrite_webhooks.deliveries d
        WHERE d.fingerprint >= prefix AND d.fingerprint < past AND d.label_until_ms > at_ms
        UNION ALL
        SELECT label FROM appwrite_webhooks.labels
        WHERE body IN (p_body, prefix) AND keep_until_ms > at_ms
    ) labels_of_body;
    admitted := mine OR p_limit IS NULL OR known < p_limit;
    IF NOT admitted THEN
        RETURN;
    END IF;
    IF p_row AND length(p_label) = length(p_body) AND length(p_label) > 16
       AND substring(p_label FROM 1 FOR 16) = prefix THEN
        label_until_ms := appwrite_webhooks.after(at_ms, p_keep_ms);
    ELSIF NOT mine THEN
        -- The body may still have this label kept past its time (not swept yet): renewed.
        INSERT INTO appwrite_webhooks.labels (body, label, keep_until_ms)
        VALUES (p_body, p_label, appwrite_webhooks.after(at_ms, p_keep_ms))
        ON CONFLICT (body, label) DO UPDATE SET keep_until_ms = excluded.keep_until_ms;
    END IF;
END
$$;

-- label() of 001, counting the rows too: a replica of the previous version, still running
-- during an upgrade, and a label recorded alone (LabelStore::label) see the labels the rows
-- hold, so the limit holds for every path.
CREATE OR REPLACE FUNCTION appwrite_webhooks.label(
    p_body bytea, p_label bytea, p_limit integer, p_keep_ms bigint
) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RETURN (SELECT l.admitted FROM appwrite_webhooks.admit_label(
        p_body, p_label, p_limit, p_keep_ms, false) l);
END
$$;

-- Stores an inbox delivery, fingerprint `fp`, under the label `p_label` of the signed body
-- `p_body` (at most `p_limit` labels, kept for `p_keep_ms`) unless its fingerprint is held:
-- ('stored', id), ('duplicate', id of the row that holds it), or ('over_limit', NULL) when the
-- body has its `p_limit` other labels. Without a body (NULL) it stores without a label: put().
-- The label is the fingerprint in every delivery this crate stores; a label that is not is
-- kept in `labels`, as label() keeps it.
CREATE OR REPLACE FUNCTION appwrite_webhooks.label_and_put(
    p_body bytea, p_label bytea, p_limit integer, p_keep_ms bigint,
    fp bytea, p_received_at_ms bigint, p_uri text, p_headers bytea, p_body_bytes bytea,
    OUT outcome text, OUT delivery_id bigint
)
LANGUAGE plpgsql AS $$
DECLARE
    at_ms    bigint := appwrite_webhooks.now_ms();
    admitted boolean;
    until_ms bigint;
BEGIN
    IF p_body IS NOT NULL THEN
        SELECT l.admitted, l.label_until_ms INTO admitted, until_ms
        FROM appwrite_webhooks.admit_label(p_body, p_label, p_limit, p_keep_ms, p_label = fp) l;
    END IF;
    IF NOT admitted THEN
        outcome := 'over_limit';
        RETURN;
    END IF;
    LOOP
        -- Due on arrival (oldest first), but never later than now: a delivery stamped in the
        -- future (a clock that jumped) must not hide from workers until then.
        INSERT INTO appwrite_webhooks.deliveries
            (fingerprint, received_at_ms, uri, headers, body, state, attempts, due_at_ms,
             label_until_ms)
        VALUES (fp, p_received_at_ms, p_uri, p_headers, p_body_bytes, 'pending', 0,
                least(p_received_at_ms, at_ms), until_ms)
        ON CONFLICT (fingerprint) DO NOTHING
        RETURNING id INTO delivery_id;
        IF FOUND THEN
            outcome := 'stored';
            RETURN;
        END IF;
        -- Held. A row past its time (done past its retention, a claim whose lease ran out)
        -- no longer counts: forgotten, the look-ups below find nothing and the loop inserts
        -- again. Looked for only now, as a new delivery (the common case) has no row at all.
        PERFORM appwrite_webhooks.forget_expired(fp, at_ms);
        outcome := 'duplicate';
        -- A pending claim holds the fingerprint: a guard's request is handling it now. Keep
        -- the delivery in the claim's row, so that if that request fails (the claim is
        -- released, or its lease runs out) workers handle it.
        UPDATE appwrite_webhooks.deliveries
        SET received_at_ms = p_received_at_ms, uri = p_uri, headers = p_headers,
            body = p_body_bytes
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

-- put() of 001: label_and_put() without a label.
CREATE OR REPLACE FUNCTION appwrite_webhooks.put(
    fp bytea, p_received_at_ms bigint, p_uri text, p_headers bytea, p_body bytea,
    OUT outcome text, OUT delivery_id bigint
)
LANGUAGE plpgsql AS $$
BEGIN
    SELECT p.outcome, p.delivery_id INTO outcome, delivery_id
    FROM appwrite_webhooks.label_and_put(
        NULL, NULL, NULL, NULL, fp, p_received_at_ms, p_uri, p_headers, p_body) p;
END
$$;

-- The replay guard's claim of the label `fp` of the signed body `p_body` (as label_and_put()):
-- 'claimed', 'in_progress', 'done', or 'over_limit'. Without a body (NULL): claim().
CREATE OR REPLACE FUNCTION appwrite_webhooks.label_and_claim(
    p_body bytea, p_limit integer, p_keep_ms bigint, fp bytea, owner text, lease_ms bigint
)
RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    at_ms    bigint := appwrite_webhooks.now_ms();
    admitted boolean;
    until_ms bigint;
    held     text;
BEGIN
    IF p_body IS NOT NULL THEN
        SELECT l.admitted, l.label_until_ms INTO admitted, until_ms
        FROM appwrite_webhooks.admit_label(p_body, fp, p_limit, p_keep_ms, true) l;
        IF NOT admitted THEN
            RETURN 'over_limit';
        END IF;
    END IF;
    LOOP
        -- A concurrent insert of the same fingerprint waits here for the other transaction:
        -- exactly one of them claims.
        INSERT INTO appwrite_webhooks.deliveries
            (fingerprint, received_at_ms, state, attempts, due_at_ms, lease, label_until_ms)
        VALUES (fp, at_ms, 'pending', 0, appwrite_webhooks.after(at_ms, lease_ms), owner,
                until_ms)
        ON CONFLICT (fingerprint) DO NOTHING;
        IF FOUND THEN
            RETURN 'claimed';
        END IF;
        -- Held: by a row past its time (forgotten, the look-up below finds nothing and the
        -- loop claims again), or by a live one.
        PERFORM appwrite_webhooks.forget_expired(fp, at_ms);
        SELECT state INTO held FROM appwrite_webhooks.deliveries WHERE fingerprint = fp;
        IF FOUND THEN
            RETURN CASE held WHEN 'done' THEN 'done' ELSE 'in_progress' END;
        END IF;
        -- Deleted in between (released, purged, swept): look again.
    END LOOP;
END
$$;

-- claim() of 001: label_and_claim() without a label.
CREATE OR REPLACE FUNCTION appwrite_webhooks.claim(fp bytea, owner text, lease_ms bigint)
RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
    RETURN appwrite_webhooks.label_and_claim(NULL, NULL, NULL, fp, owner, lease_ms);
END
$$;

-- A row deleted before its label's time is up (a released claim, a purge, a sweep) leaves its
-- label in `labels`, keyed by the body key's prefix, so the body does not get it back early.
CREATE OR REPLACE FUNCTION appwrite_webhooks.outlive_label() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO appwrite_webhooks.labels (body, label, keep_until_ms)
    VALUES (substring(OLD.fingerprint FROM 1 FOR 16), OLD.fingerprint, OLD.label_until_ms)
    ON CONFLICT (body, label) DO UPDATE
        SET keep_until_ms = greatest(labels.keep_until_ms, excluded.keep_until_ms);
    RETURN NULL;
END
$$;

-- Made anew, so running this file again leaves one of each; 001's and 005's conditions say
-- the same, with the time spelt out.
DROP TRIGGER IF EXISTS deliveries_outlive_label ON appwrite_webhooks.deliveries;
CREATE TRIGGER deliveries_outlive_label
AFTER DELETE ON appwrite_webhooks.deliveries
FOR EACH ROW
WHEN (OLD.label_until_ms > (extract(epoch FROM statement_timestamp()) * 1000)::bigint)
EXECUTE FUNCTION appwrite_webhooks.outlive_label();

DROP TRIGGER IF EXISTS deliveries_notify_due ON appwrite_webhooks.deliveries;
CREATE TRIGGER deliveries_notify_due
AFTER INSERT OR UPDATE ON appwrite_webhooks.deliveries
FOR EACH ROW
WHEN (NEW.state = 'pending' AND NEW.body IS NOT NULL AND NEW.lease IS NULL
      AND NEW.due_at_ms <= (extract(epoch FROM statement_timestamp()) * 1000)::bigint)
EXECUTE FUNCTION appwrite_webhooks.notify_due();

INSERT INTO appwrite_webhooks.schema_versions (version) VALUES (5) ON CONFLICT DO NOTHING;
