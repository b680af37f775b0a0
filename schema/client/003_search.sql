-- Full-text search over the local store (SQLite FTS5): the decoded text of each message, so
-- that a word in a base64 or quoted-printable body, or in an RFC 2047 subject, is found.
-- The row of a message has the message's id as its rowid.
CREATE VIRTUAL TABLE message_search USING fts5(
  sender,       -- From, decoded: display name and address
  recipients,   -- To and Cc, decoded
  subject,      -- Subject, decoded
  body,         -- the text part in UTF-8 (mime_parse), attachments' names
  tokenize = 'unicode61 remove_diacritics 2'
);

-- Whether a message's text is in message_search. Decoding MIME takes C++, not SQL: the
-- store fills the index for every message still at 0 when it opens (local_store.cpp), so
-- messages fetched before this migration are found as soon as any command runs.
ALTER TABLE messages ADD COLUMN search_indexed INTEGER NOT NULL DEFAULT 0;
-- A tombstone (deleted locally) has no text left to index.
UPDATE messages SET search_indexed = 1 WHERE deleted_locally = 1;

-- What is still to index, found without reading the whole table at every start.
CREATE INDEX messages_to_index ON messages (id) WHERE search_indexed = 0;
