-- One row that GET /healthz rewrites when no write of this node has committed in the last
-- second (server/daemon/metrics_http.cpp), as in SQLite's fifth migration.
CREATE TABLE health_probe (
  id        integer PRIMARY KEY CHECK (id = 1),
  probed_at bigint  NOT NULL               -- unix seconds
);
