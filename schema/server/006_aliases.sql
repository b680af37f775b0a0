-- Aliases, stored beside the users (missived alias add|del|list), and what forwarding and
-- subaddresses need of a recipient.
--
-- An alias maps a source (an address, or '@domain' for a catch-all) to one target per row
-- (a local user, another alias, or an outside address); the ids keep the order they were
-- added in. What they lead to is decided above the store (recipient_expansion).
CREATE TABLE alias (
  id     INTEGER PRIMARY KEY,
  source TEXT    NOT NULL COLLATE NOCASE,
  target TEXT    NOT NULL COLLATE NOCASE,
  UNIQUE (source, target)              -- also the index lookups by source use
);

-- A local recipient whose address is not its user's (alice+tag@d delivered to alice@d):
-- the user's address; NULL when the address is the mailbox's own.
ALTER TABLE recipient ADD COLUMN mailbox TEXT;
-- A remote recipient reached through an alias: the envelope sender it is sent with (the
-- SRS address, RFC 7208 11.3); NULL when it is the message's own. Bounces still go to the
-- message's sender.
ALTER TABLE recipient ADD COLUMN sender TEXT;
