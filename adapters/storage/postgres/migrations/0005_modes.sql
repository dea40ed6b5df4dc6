-- Issue 21: modes.

-- The /mode the person chose (data.json's "mode"); NULL: the default mode.
ALTER TABLE accounts ADD COLUMN mode text;
