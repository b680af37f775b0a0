-- The outbox: messages `missive send` and `sendmail` could not hand to the relay (it was
-- away, or answered 4xx), kept whole so that `flush`, `watch` and the next send deliver
-- them later. A message leaves the outbox only once the relay has said 250 for it.

-- One queued message: the envelope and the content exactly as it would have been sent.
CREATE TABLE outbox (
  -- AUTOINCREMENT: an id the user was told ("queued in the outbox as N") never names
  -- another message later, even after N was sent and its row deleted.
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  queued_at       INTEGER NOT NULL,            -- unix seconds
  sender          TEXT    NOT NULL,            -- MAIL FROM; '' for the null reverse-path <>
  content         BLOB    NOT NULL,            -- the message, CRLF line endings, as composed
  attempts        INTEGER NOT NULL DEFAULT 0,  -- tries that failed, the first one included
  last_attempt_at INTEGER NOT NULL,            -- unix seconds; the backoff counts from here
  last_error      TEXT    NOT NULL DEFAULT '', -- the last failure, one sentence
  -- 'queued': waiting to be sent; 'refused': the relay refused it for good (5xx), kept for
  -- the user to read and delete, never sent again by itself.
  state           TEXT    NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'refused')),
  -- The client sending it now (outbox_claim.hpp): host, pid and the process's start time,
  -- so that a claim whose holder died is taken over and one whose holder lives never is.
  claim_host      TEXT,
  claim_pid       INTEGER,
  claim_start     INTEGER,
  claimed_at      INTEGER
);

-- Its envelope recipients (RCPT TO), in order.
CREATE TABLE outbox_recipients (
  message_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
  position   INTEGER NOT NULL,
  address    TEXT    NOT NULL,
  PRIMARY KEY (message_id, position)
);
