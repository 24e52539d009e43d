// Training runs. The job process writes <data>/training/runs/<id>/ (run.json, metrics.jsonl,
// checkpoints/): that directory is what resume reads. The store indexes each run with what it
// was made from (model, dataset versions and content hashes), its state, its metrics and the
// adapter it produced, so the UI and later issues can query runs without reading files.
export const sql = /* sql */ `
CREATE TABLE training_runs (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('sft', 'pt', 'rm', 'ppo', 'dpo')),
  name TEXT NOT NULL,
  model_id TEXT REFERENCES models(id) ON DELETE SET NULL,
  model_name TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'paused', 'completed', 'failed', 'cancelled')),
  run_dir TEXT NOT NULL,
  config TEXT NOT NULL CHECK (json_valid(config)),
  datasets TEXT NOT NULL CHECK (json_valid(datasets)),
  step INTEGER NOT NULL DEFAULT 0,
  total_steps INTEGER NOT NULL DEFAULT 0,
  last_loss REAL,
  last_eval_loss REAL,
  adapter_path TEXT,
  adapter_model_id TEXT REFERENCES models(id) ON DELETE SET NULL,
  error TEXT CHECK (error IS NULL OR json_valid(error)),
  created_at TEXT NOT NULL,
  finished_at TEXT
) STRICT;
CREATE INDEX training_runs_by_created ON training_runs(created_at);

CREATE TABLE training_metrics (
  run_id TEXT NOT NULL REFERENCES training_runs(id) ON DELETE CASCADE,
  step INTEGER NOT NULL,
  loss REAL,
  eval_loss REAL,
  learning_rate REAL,
  tokens_per_second REAL,
  grad_norm REAL,
  memory_bytes INTEGER,
  at TEXT NOT NULL,
  PRIMARY KEY (run_id, step)
) STRICT, WITHOUT ROWID;
`;
