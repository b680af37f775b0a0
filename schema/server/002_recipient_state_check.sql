-- recipient.state's CHECK as comparisons instead of IN (...): SQLite evaluates a constant
-- IN list of more than two values through a temporary b-tree (its own pager and page
-- cache), built again for every row inserted or updated, which was a good part of the cost
-- of storing a message. Same rule, same columns, same indexes.
CREATE TABLE recipient_new (
  id              INTEGER PRIMARY KEY,
  message_id      INTEGER NOT NULL REFERENCES message(id) ON DELETE CASCADE,
  address         TEXT    NOT NULL,
  is_local        INTEGER NOT NULL,
  state           TEXT    NOT NULL CHECK (state = 'queued' OR state = 'deferred' OR
                                          state = 'delivered' OR state = 'failed'),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,      -- unix seconds
  last_attempt_at INTEGER,               -- unix seconds
  last_reply      TEXT,
  in_flight       INTEGER NOT NULL DEFAULT 0  -- claimed by a delivery under way; reset at start
);
INSERT INTO recipient_new(id, message_id, address, is_local, state, attempts, next_attempt_at,
                          last_attempt_at, last_reply, in_flight)
  SELECT id, message_id, address, is_local, state, attempts, next_attempt_at,
         last_attempt_at, last_reply, in_flight FROM recipient;
DROP TABLE recipient;
ALTER TABLE recipient_new RENAME TO recipient;
CREATE INDEX recipient_message ON recipient(message_id);
CREATE INDEX recipient_due ON recipient(next_attempt_at) WHERE state IN ('queued', 'deferred');
