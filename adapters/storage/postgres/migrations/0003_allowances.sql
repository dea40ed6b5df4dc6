-- Issue 17: allowances that refill each period.

-- The admin's /allowance for this person (data.json's "allowance"); NULL: the ALLOWANCE setting.
ALTER TABLE accounts ADD COLUMN allowance bigint;
-- The allowance period last refilled ("2026-01-05", "2026-W02", "2026-01"; data.json's
-- "refilled"): a refill is applied once per period, whichever process reads the account first.
ALTER TABLE accounts ADD COLUMN refilled text;

-- The access list needs no table of its own: it is the "access" key of data.json's "global",
-- kept in document_extra.global_extra, where import and export already carry it.
