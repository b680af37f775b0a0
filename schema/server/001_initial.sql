-- The relay's queue, mailboxes and users. Applied once, in a transaction, by the migration
-- runner, which then sets PRAGMA user_version = 1.

-- A message accepted over SMTP, stored once with the headers the relay added. Local
-- mailbox entries point at it, so one body serves every local recipient.
CREATE TABLE message (
  id          INTEGER PRIMARY KEY,
  queue_id    TEXT    NOT NULL UNIQUE,
  sender      TEXT    NOT NULL,          -- envelope reverse-path, '' for <>
  size        INTEGER NOT NULL,          -- octets of body
  received_at INTEGER NOT NULL,          -- unix seconds
  client      TEXT    NOT NULL,          -- helo name and address of the submitting client
  body        BLOB    NOT NULL           -- CRLF line endings, dot-stuffing undone
);

-- One envelope recipient of a message, with its own fate.
CREATE TABLE recipient (
  id              INTEGER PRIMARY KEY,
  message_id      INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  address         TEXT    NOT NULL,
  is_local        INTEGER NOT NULL,
  state           TEXT    NOT NULL CHECK (state IN ('queued', 'deferred', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,      -- unix seconds
  last_attempt_at INTEGER,               -- unix seconds
  last_reply      TEXT,
  in_flight       INTEGER NOT NULL DEFAULT 0  -- claimed by a delivery under way; reset at start
);
CREATE INDEX recipient_message ON recipient(message_id);
CREATE INDEX recipient_due ON recipient(next_attempt_at) WHERE state IN ('queued', 'deferred');

-- The story of a message: accepted, delivered, deferred (with the reason), failed, bounced.
CREATE TABLE event (
  id         INTEGER PRIMARY KEY,
  message_id INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  at         INTEGER NOT NULL,           -- unix seconds
  recipient  TEXT,                       -- NULL for events of the whole message
  kind       TEXT    NOT NULL,
  detail     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX event_message ON event(message_id);

-- A local user; logs in with the full address.
CREATE TABLE user (
  id            INTEGER PRIMARY KEY,
  address       TEXT    NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT    NOT NULL,        -- $scrypt$... (see server/password_hash.cpp)
  created_at    INTEGER NOT NULL
);

-- A message in a user's maildrop. The uid is the POP3 unique-id, stable forever.
CREATE TABLE mailbox_entry (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
  message_id   INTEGER NOT NULL REFERENCES message(id),
  uid          TEXT    NOT NULL UNIQUE,
  delivered_at INTEGER NOT NULL
);
CREATE INDEX mailbox_entry_user ON mailbox_entry(user_id, id);
CREATE INDEX mailbox_entry_message ON mailbox_entry(message_id);
