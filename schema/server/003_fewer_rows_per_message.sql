-- Storing a message writes fewer rows and index entries: about a third of the writer's work
-- per message went to rows that repeated what other rows already say.
--
-- 1. The 'accepted' event repeated the message row, and a local recipient's 'delivered'
--    event repeated its recipient row (state 'delivered', last_attempt_at). Both are now
--    derived from those rows by the view message_history, which is what `queue show` reads.
--    The event table keeps what no other row records: deferrals, failures, expiries,
--    bounces, and remote deliveries with the relay that took them.
DELETE FROM event WHERE kind = 'accepted';
DELETE FROM event WHERE kind = 'delivered' AND EXISTS (
  SELECT 1 FROM recipient r
  WHERE r.message_id = event.message_id AND r.address = event.recipient AND r.is_local = 1);

-- A message's story in order. For one recipient the delivery is always its last event, so
-- a local delivery sorts after the stored events of the same second.
CREATE VIEW message_history(message_id, at, recipient, kind, detail, rank, position) AS
  SELECT m.id, m.received_at, NULL, 'accepted',
         printf('from=<%s> client=%s size=%d nrcpt=%d', m.sender, m.client, m.size,
                (SELECT count(*) FROM recipient r WHERE r.message_id = m.id)),
         0, 0
    FROM message m
  UNION ALL
  SELECT e.message_id, e.at, e.recipient, e.kind, e.detail, 1, e.id FROM event e
  UNION ALL
  SELECT r.message_id, r.last_attempt_at, r.address, 'delivered', 'local mailbox', 2, r.id
    FROM recipient r WHERE r.is_local = 1 AND r.state = 'delivered';

-- 2. mailbox_entry.uid loses its UNIQUE index, which nothing searched: a uid is the
--    message's queue id (unique while the entry holds the message) and its recipient's
--    row id, unique by construction (see put_in_mailbox).
CREATE TABLE mailbox_entry_new (
  id           INTEGER PRIMARY KEY,
  user_id      INTEGER NOT NULL REFERENCES user(id) ON DELETE CASCADE,
  message_id   INTEGER NOT NULL REFERENCES message(id),
  uid          TEXT    NOT NULL,
  delivered_at INTEGER NOT NULL
);
INSERT INTO mailbox_entry_new(id, user_id, message_id, uid, delivered_at)
  SELECT id, user_id, message_id, uid, delivered_at FROM mailbox_entry;
DROP TABLE mailbox_entry;
ALTER TABLE mailbox_entry_new RENAME TO mailbox_entry;
CREATE INDEX mailbox_entry_user ON mailbox_entry(user_id, id);
CREATE INDEX mailbox_entry_message ON mailbox_entry(message_id);
