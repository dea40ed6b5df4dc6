-- Issue 21, spoken answers: the person's /voice on (data.json's "voice"); answers are then also
-- sent as voice notes.
ALTER TABLE accounts ADD COLUMN voice boolean NOT NULL DEFAULT false;
