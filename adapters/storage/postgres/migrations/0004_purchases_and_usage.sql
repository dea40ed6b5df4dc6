-- Issue 17: tokens bought with Telegram Stars, credited once per charge.

-- One row per charge: the charge id is the key, so a payment reported twice (Telegram
-- redelivers, a standby takes over, two processes receive it) inserts one row, and the
-- credit is made in the same transaction as the insert that succeeded (data.json's
-- "purchases" in "global").
CREATE TABLE purchases (
    charge_id text PRIMARY KEY,
    user_id text NOT NULL,
    stars bigint NOT NULL,
    tokens bigint NOT NULL,
    at timestamp NOT NULL,
    refunded_at timestamp
);
CREATE INDEX purchases_at ON purchases (at);

-- The tokens charged each day (data.json's "usage" in "global"), tallied in the transaction of
-- each charge, for the operator's /stats, /usage and export. Sharded like the totals, so
-- concurrent charges do not queue for one row; a day's tally is the sum of its rows.
CREATE TABLE usage_days (
    day date NOT NULL,
    shard smallint NOT NULL,
    tokens bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (day, shard)
);
