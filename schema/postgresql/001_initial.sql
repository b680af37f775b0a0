-- The relay's queue, mailboxes and users on PostgreSQL, shared by every node of a cluster.
-- The same tables and columns as the SQLite schema (schema/server/) as it stands after its
-- fourth migration, so admin queries and tests read both alike, plus what several nodes
-- need: a recipient claimed for delivery carries a lease (the node and until when); a node
-- that dies loses its leases when they run out, and another node takes the recipients.
-- Times are unix seconds, as in SQLite. Applied by the migration runner under an advisory
-- lock, which records the version in missive_schema.

CREATE TABLE message (
  id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  queue_id    text    NOT NULL UNIQUE,
  sender      text    NOT NULL,          -- envelope reverse-path, '' for <>
  size        bigint  NOT NULL,          -- octets of body
  received_at bigint  NOT NULL,
  client      text    NOT NULL,          -- helo name and address of the submitting client
  body        bytea   NOT NULL           -- CRLF line endings, dot-stuffing undone; '' once finished
);

-- A local user; logs in with the full address, in any case.
CREATE TABLE "user" (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  address       text   NOT NULL,
  password_hash text   NOT NULL,         -- $scrypt$... (see server/store/password_hash.cpp)
  created_at    bigint NOT NULL
);
CREATE UNIQUE INDEX user_address ON "user" (lower(address));

-- One envelope recipient of a message, with its own fate. A local delivery is the
-- recipient's row naming the user whose maildrop holds the message (mailbox_user_id).
CREATE TABLE recipient (
  id              bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id      bigint  NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  address         text    NOT NULL,
  is_local        integer NOT NULL,
  state           text    NOT NULL CHECK (state IN ('queued', 'deferred', 'delivered', 'failed')),
  attempts        integer NOT NULL DEFAULT 0,
  next_attempt_at bigint  NOT NULL,
  last_attempt_at bigint,
  last_reply      text,
  lease_node      text,                  -- the node delivering it, while lease_until lasts
  lease_until     bigint,
  in_flight       integer GENERATED ALWAYS AS (CASE WHEN lease_until IS NULL THEN 0 ELSE 1 END) STORED,
  mailbox_user_id bigint  REFERENCES "user"(id) ON DELETE SET NULL
);
CREATE INDEX recipient_message ON recipient(message_id);
CREATE INDEX recipient_due ON recipient(next_attempt_at) WHERE state IN ('queued', 'deferred');
CREATE INDEX recipient_mailbox ON recipient(mailbox_user_id, id) WHERE mailbox_user_id IS NOT NULL;

-- What no other row records: deferrals, failures, expiries, bounces, remote deliveries.
CREATE TABLE event (
  id         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  message_id bigint  NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  at         bigint  NOT NULL,
  recipient  text,                       -- NULL for events of the whole message
  kind       text    NOT NULL,
  detail     text    NOT NULL DEFAULT ''
);
CREATE INDEX event_message ON event(message_id);

-- The maildrops, as the SQLite view: the uid is the POP3 unique-id, stable forever.
CREATE VIEW mailbox_entry(id, user_id, message_id, uid, delivered_at) AS
  SELECT r.id, r.mailbox_user_id, r.message_id, m.queue_id || '.' || r.id, r.last_attempt_at
    FROM recipient r JOIN message m ON m.id = r.message_id
   WHERE r.mailbox_user_id IS NOT NULL;

-- A message's story in order, as the SQLite view.
CREATE VIEW message_history(message_id, at, recipient, kind, detail, rank, position) AS
  SELECT m.id, m.received_at, NULL, 'accepted',
         format('from=<%s> client=%s size=%s nrcpt=%s', m.sender, m.client, m.size,
                (SELECT count(*) FROM recipient r WHERE r.message_id = m.id)),
         0, 0::bigint
    FROM message m
  UNION ALL
  SELECT e.message_id, e.at, e.recipient, e.kind, e.detail, 1, e.id FROM event e
  UNION ALL
  SELECT r.message_id, r.last_attempt_at, r.address, 'delivered', 'local mailbox', 2, r.id
    FROM recipient r WHERE r.is_local = 1 AND r.state = 'delivered';
