-- The DSN extension (RFC 3461) and delay warnings: the same columns as the SQLite schema's
-- seventh migration (schema/server/007_dsn.sql), which says what each holds.
ALTER TABLE message ADD COLUMN dsn_ret integer NOT NULL DEFAULT 0;
ALTER TABLE message ADD COLUMN dsn_envid text;
ALTER TABLE message ADD COLUMN delay_warned integer NOT NULL DEFAULT 0;
ALTER TABLE recipient ADD COLUMN dsn_notify integer NOT NULL DEFAULT 0;
ALTER TABLE recipient ADD COLUMN dsn_orcpt text;
