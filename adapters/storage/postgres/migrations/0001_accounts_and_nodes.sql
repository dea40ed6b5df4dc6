-- Accounts, their holds, the global totals and the reply-chain nodes.
-- Ids are text: the core treats them as opaque strings.

CREATE TABLE accounts (
    id text PRIMARY KEY,
    -- Order of arrival: export writes data.json in this order, so import then export gives
    -- back the file as the embedded store would have written it.
    seq bigint GENERATED ALWAYS AS IDENTITY,
    balance bigint NOT NULL,
    -- Tokens held by requests in flight: always the sum of this account's rows in holds.
    held bigint NOT NULL DEFAULT 0 CHECK (held >= 0),
    requests bigint NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0,
    name text,
    username text,
    last_request timestamp,
    prompt text,
    banned boolean NOT NULL DEFAULT false,
    -- The data.json entry's keys this code does not interpret. json, not jsonb: json keeps
    -- the keys in their order, so an export writes them back exactly as they were read.
    extra json
);

-- A hold has a lease: a process that dies between reserve and settle leaves its holds behind,
-- and they are given back once they expire.
CREATE TABLE holds (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES accounts (id),
    amount bigint NOT NULL CHECK (amount >= 0),
    expires_at timestamptz NOT NULL
);
CREATE INDEX holds_by_user ON holds (user_id);
CREATE INDEX holds_by_expiry ON holds (expires_at);

-- The global totals are the sum of these rows. Every settlement adds to the totals, and a
-- single row would be locked by each in turn until its commit reached the disk: one
-- settlement at a time. A settlement adds to one row of 16 instead.
CREATE TABLE totals (
    shard smallint PRIMARY KEY,
    requests bigint NOT NULL DEFAULT 0,
    tokens bigint NOT NULL DEFAULT 0
);
INSERT INTO totals (shard) SELECT generate_series(0, 15);

-- data.json's keys this code does not interpret, inside "global" and at the top level, kept
-- for the export. Exactly one row.
CREATE TABLE document_extra (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    global_extra json,
    top_extra json
);
INSERT INTO document_extra DEFAULT VALUES;

CREATE TABLE nodes (
    chat text NOT NULL,
    message text NOT NULL,
    role text,  -- NULL: a pass-through node (an error message the bot sent)
    text text NOT NULL,
    parent text,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY (chat, message)
);
CREATE INDEX nodes_by_age ON nodes (seq);
