/** SQLite schema of the tracking store; `user_version` records which migration ran last. */
export const SCHEMA_VERSION = 1;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS experiments (
  experiment_id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  artifact_location TEXT NOT NULL,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  creation_time INTEGER NOT NULL,
  last_update_time INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS experiment_tags (
  experiment_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (experiment_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS runs (
  run_uuid TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  experiment_id INTEGER NOT NULL,
  user_id TEXT NOT NULL,
  status TEXT NOT NULL,
  start_time INTEGER NOT NULL,
  end_time INTEGER,
  lifecycle_stage TEXT NOT NULL DEFAULT 'active',
  artifact_uri TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_experiment ON runs (experiment_id, start_time DESC, run_uuid);
CREATE TABLE IF NOT EXISTS params (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS params_by_key_value ON params (key, value);
CREATE TABLE IF NOT EXISTS tags (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS tags_by_key_value ON tags (key, value);
-- One row per (run, metric key): points refer to it by a small integer, which keeps them compact.
CREATE TABLE IF NOT EXISTS metric_series (
  series_id INTEGER PRIMARY KEY,
  run_uuid TEXT NOT NULL, key TEXT NOT NULL,
  UNIQUE (run_uuid, key)
);
-- Every logged point. MLflow's key includes the value, so re-sending an identical point is a no-op.
CREATE TABLE IF NOT EXISTS metric_points (
  series_id INTEGER NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
  value REAL NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (series_id, step, timestamp, value, is_nan)
) WITHOUT ROWID;
-- The latest point per (run, key): max by (step, timestamp, value), as MLflow defines it.
CREATE TABLE IF NOT EXISTS latest_metrics (
  run_uuid TEXT NOT NULL, key TEXT NOT NULL, step INTEGER NOT NULL, timestamp INTEGER NOT NULL,
  value REAL NOT NULL, is_nan INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (run_uuid, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS latest_metrics_by_key_value ON latest_metrics (key, value);
CREATE TABLE IF NOT EXISTS run_inputs (
  run_uuid TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, payload TEXT NOT NULL,
  PRIMARY KEY (run_uuid, name, digest)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registered_models (
  name TEXT PRIMARY KEY,
  creation_timestamp INTEGER NOT NULL,
  last_updated_timestamp INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  user_id TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS registered_model_tags (
  name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (name, key)
) WITHOUT ROWID;
-- Deleted versions keep their row (deleted = 1) so that version numbers are never reused.
CREATE TABLE IF NOT EXISTS model_versions (
  name TEXT NOT NULL, version INTEGER NOT NULL,
  creation_timestamp INTEGER NOT NULL, last_updated_timestamp INTEGER NOT NULL,
  description TEXT NOT NULL DEFAULT '', user_id TEXT NOT NULL DEFAULT '',
  current_stage TEXT NOT NULL DEFAULT 'None', source TEXT NOT NULL, run_id TEXT NOT NULL DEFAULT '',
  run_link TEXT NOT NULL DEFAULT '', deleted INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (name, version)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS model_version_tags (
  name TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (name, version, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS registered_model_aliases (
  name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL,
  PRIMARY KEY (name, alias)
) WITHOUT ROWID;
`;
