// Models, consultations (a tree of messages per consultation), settings, downloads.
export const sql = /* sql */ `
CREATE TABLE models (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL,
  path TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL CHECK (kind IN ('base', 'adapter')),
  architecture TEXT NOT NULL,
  parameter_count INTEGER NOT NULL,
  quantization TEXT NOT NULL,
  context_length INTEGER,
  file_size_bytes INTEGER NOT NULL,
  sha256 TEXT,
  has_chat_template INTEGER NOT NULL CHECK (has_chat_template IN (0, 1)),
  -- 'auto' or a whole number of layers to offload
  gpu_layers TEXT NOT NULL DEFAULT 'auto',
  added_at TEXT NOT NULL
) STRICT;

CREATE TABLE consultations (
  id TEXT PRIMARY KEY,
  title TEXT NOT NULL,
  model_id TEXT REFERENCES models(id) ON DELETE SET NULL,
  system_prompt TEXT NOT NULL,
  sampling TEXT NOT NULL CHECK (json_valid(sampling)),
  -- the visible branch ends here; no FK so that a leaf can be set in the same statement batch
  current_leaf_id TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  -- soft delete, so that "undo" can bring it back; purged after a week
  deleted_at TEXT
) STRICT;
CREATE INDEX consultations_by_update ON consultations(deleted_at, updated_at DESC);

CREATE TABLE consultation_adapters (
  consultation_id TEXT NOT NULL REFERENCES consultations(id) ON DELETE CASCADE,
  model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  scale REAL NOT NULL DEFAULT 1.0,
  PRIMARY KEY (consultation_id, model_id)
) STRICT;

CREATE TABLE messages (
  id TEXT PRIMARY KEY,
  consultation_id TEXT NOT NULL REFERENCES consultations(id) ON DELETE CASCADE,
  parent_id TEXT REFERENCES messages(id) ON DELETE CASCADE,
  role TEXT NOT NULL CHECK (role IN ('user', 'assistant')),
  content TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('complete', 'streaming', 'stopped', 'error', 'interrupted')),
  meta TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(meta)),
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX messages_by_consultation ON messages(consultation_id, created_at);
CREATE INDEX messages_by_parent ON messages(parent_id);

CREATE TABLE settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL CHECK (json_valid(value))
) STRICT;

CREATE TABLE downloads (
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  url TEXT NOT NULL,
  file_name TEXT NOT NULL,
  dest_path TEXT NOT NULL,
  expected_sha256 TEXT,
  state TEXT NOT NULL CHECK (state IN ('running', 'paused', 'done', 'failed', 'cancelled')),
  received_bytes INTEGER NOT NULL DEFAULT 0,
  total_bytes INTEGER,
  error TEXT CHECK (error IS NULL OR json_valid(error)),
  model_id TEXT REFERENCES models(id) ON DELETE SET NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
`;
