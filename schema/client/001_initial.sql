-- The local store of `missive`: messages fetched over POP3, kept so that reading works
-- offline, and the deletions still to be made on the server.

-- One fetched message. `uid` is the server's UIDL (RFC 1939 7) for `account`; UNIQUE makes
-- a second download of the same message a no-op (INSERT OR IGNORE), so a fetch killed at
-- any moment and run again stores every message exactly once.
CREATE TABLE messages (
  id              INTEGER PRIMARY KEY,
  account         TEXT    NOT NULL,            -- the POP3 user the message was fetched for
  uid             TEXT    NOT NULL,
  fetched_at      INTEGER NOT NULL,            -- unix seconds
  date            TEXT    NOT NULL DEFAULT '', -- the Date: field as written
  date_unix       INTEGER NOT NULL,            -- Date: parsed, else fetched_at (for sorting)
  from_address    TEXT    NOT NULL DEFAULT '', -- From:, RFC 2047-decoded
  subject         TEXT    NOT NULL DEFAULT '', -- Subject:, RFC 2047-decoded
  size            INTEGER NOT NULL,            -- octets of `raw`
  raw             BLOB    NOT NULL,            -- the message exactly as retrieved
  seen            INTEGER NOT NULL DEFAULT 0,
  deleted_locally INTEGER NOT NULL DEFAULT 0,  -- `missive delete`: hidden, kept as a tombstone
  UNIQUE (account, uid)
);

CREATE INDEX messages_by_date ON messages (account, deleted_locally, date_unix DESC, id DESC);

-- Deletions asked for locally and not yet made on the server: the next poll sends DELE for
-- each uid still in the maildrop, and removes the row once QUIT has committed them.
CREATE TABLE pending_deletions (
  account      TEXT    NOT NULL,
  uid          TEXT    NOT NULL,
  requested_at INTEGER NOT NULL,
  PRIMARY KEY (account, uid)
);
