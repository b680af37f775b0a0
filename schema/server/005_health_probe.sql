-- One row that GET /healthz rewrites when no write has committed in the last second
-- (server/daemon/metrics_http.cpp): a write transaction that must reach the disk, as every
-- accepted message's does, so that an idle relay's health is a fact, not a memory.
CREATE TABLE health_probe (
  id        INTEGER PRIMARY KEY CHECK (id = 1),
  probed_at INTEGER NOT NULL               -- unix seconds
);
