-- The DSN extension (RFC 3461) and delay warnings. What the client asked for in MAIL (RET,
-- ENVID) and in each RCPT (NOTIFY, ORCPT) is kept with the message, so every DSN the relay
-- sends later (failure, success, relayed, delayed) and every next hop that speaks DSN gets it.

-- MAIL RET=: 0 none given, 1 FULL, 2 HDRS (server/store/queue_types.hpp: dsn_return).
ALTER TABLE message ADD COLUMN dsn_ret INTEGER NOT NULL DEFAULT 0;
-- MAIL ENVID=, xtext decoded; NULL when none was given.
ALTER TABLE message ADD COLUMN dsn_envid TEXT;
-- Whether the sender was sent the one "delayed" DSN a message gets ([queue] delay_warning).
ALTER TABLE message ADD COLUMN delay_warned INTEGER NOT NULL DEFAULT 0;
-- RCPT NOTIFY= as flags: 1 SUCCESS, 2 FAILURE, 4 DELAY, 8 NEVER; 0 when none was given.
ALTER TABLE recipient ADD COLUMN dsn_notify INTEGER NOT NULL DEFAULT 0;
-- RCPT ORCPT=, decoded, "type;address"; NULL when none was given.
ALTER TABLE recipient ADD COLUMN dsn_orcpt TEXT;
