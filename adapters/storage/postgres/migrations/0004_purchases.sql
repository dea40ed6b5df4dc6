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
