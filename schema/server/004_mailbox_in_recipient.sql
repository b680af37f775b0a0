-- A local delivery is its recipient's row: the recipient names the user whose maildrop
-- holds the message (mailbox_user_id), until POP3 removes it there or the user goes.
-- Storing a message for a local user wrote a mailbox_entry row with three index entries
-- and two foreign-key checks besides; now it writes one entry in a partial index. The
-- view mailbox_entry shows the maildrops with the same columns as the table had.
ALTER TABLE recipient ADD COLUMN mailbox_user_id INTEGER REFERENCES user(id) ON DELETE SET NULL;

-- Every entry was written with the uid <queue id>.<recipient id>, which names its
-- recipient. An entry that did not would be lost here: the CHECK stops the migration.
CREATE TEMP TABLE migration_guard (
  every_entry_names_its_recipient INTEGER CHECK (every_entry_names_its_recipient)
);
INSERT INTO migration_guard
  SELECT 0 FROM mailbox_entry e JOIN message m ON m.id = e.message_id
  WHERE NOT EXISTS (SELECT 1 FROM recipient r WHERE r.message_id = e.message_id
                    AND e.uid = m.queue_id || '.' || r.id)
  LIMIT 1;
DROP TABLE migration_guard;

UPDATE recipient SET mailbox_user_id = e.user_id
  FROM mailbox_entry e JOIN message m ON m.id = e.message_id
  WHERE e.message_id = recipient.message_id AND e.uid = m.queue_id || '.' || recipient.id;
DROP TABLE mailbox_entry;

-- A maildrop in order; also what the foreign key's ON DELETE SET NULL searches.
CREATE INDEX recipient_mailbox ON recipient(mailbox_user_id, id) WHERE mailbox_user_id IS NOT NULL;

-- The POP3 unique-id stays <queue id>.<recipient id>: stable forever, as before.
CREATE VIEW mailbox_entry(id, user_id, message_id, uid, delivered_at) AS
  SELECT r.id, r.mailbox_user_id, r.message_id, m.queue_id || '.' || r.id, r.last_attempt_at
    FROM recipient r JOIN message m ON m.id = r.message_id
   WHERE r.mailbox_user_id IS NOT NULL;
