-- Issue 21: web search per person.

-- The person's /search on (data.json's "search"): answers may search the web where the model
-- offers it.
ALTER TABLE accounts ADD COLUMN search boolean NOT NULL DEFAULT false;
