-- Issue 12: the model a person chose, and the pictures of a turn.

-- data.json's "lang_model": the name of the model the person chose; NULL: the default model.
ALTER TABLE accounts ADD COLUMN model text;

-- The previous version imported "lang_model" as a key it did not interpret, into extra: it
-- moves to the column, and out of extra (rebuilt in its order: json keeps it, jsonb would
-- not). A null or "" stays in extra, where the export writes it back as it was.
UPDATE accounts AS a
SET model = a.extra ->> 'lang_model',
    extra = (
        SELECT json_object_agg(e.key, e.value ORDER BY e.n)
        FROM json_each(a.extra) WITH ORDINALITY AS e (key, value, n)
        WHERE e.key <> 'lang_model'
    )
WHERE json_typeof(a.extra -> 'lang_model') = 'string' AND a.extra ->> 'lang_model' <> '';

-- A node's attachments in the format of adapters/storage/attachments.py (a JSON list, ASCII
-- only); NULL when there are none. text, not jsonb: the one codec the SQLite store uses reads
-- it, and jsonb would refuse a "\u0000" a file name may hold.
ALTER TABLE nodes ADD COLUMN attachments text;
