-- Issue 12: the model a person chose, and the pictures of a turn.

-- data.json's "lang_model": the name of the model the person chose; NULL: the default model.
ALTER TABLE accounts ADD COLUMN model text;

-- A node's attachments in the format of adapters/storage/attachments.py (a JSON list, ASCII
-- only); NULL when there are none. text, not jsonb: the one codec the SQLite store uses reads
-- it, and jsonb would refuse a "\u0000" a file name may hold.
ALTER TABLE nodes ADD COLUMN attachments text;
