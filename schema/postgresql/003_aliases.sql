-- Aliases and what forwarding and subaddresses need of a recipient, as SQLite's sixth
-- migration (schema/server/006_aliases.sql says why).
CREATE TABLE alias (
  id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  source text   NOT NULL,              -- an address, or '@domain' for a catch-all
  target text   NOT NULL
);
CREATE UNIQUE INDEX alias_source_target ON alias (lower(source), lower(target));

ALTER TABLE recipient ADD COLUMN mailbox text;  -- the user's address when not the recipient's
ALTER TABLE recipient ADD COLUMN sender text;   -- the envelope sender when not the message's (SRS)
