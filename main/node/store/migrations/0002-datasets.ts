// Datasets: a dataset has numbered versions; each version owns its rows (copy on a new version).
// A version is 'open' (editable in place) until something uses it (a mix, an export, a training
// run), then 'frozen', so whatever used it can always be reproduced from its content hash.
export const sql = /* sql */ `
CREATE TABLE datasets (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE dataset_versions (
  id TEXT PRIMARY KEY,
  dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('importing', 'open', 'frozen')),
  content_hash TEXT NOT NULL,
  rows INTEGER NOT NULL DEFAULT 0,
  dialogues INTEGER NOT NULL DEFAULT 0,
  turns INTEGER NOT NULL DEFAULT 0,
  origin TEXT NOT NULL CHECK (json_valid(origin)),
  created_at TEXT NOT NULL,
  UNIQUE (dataset_id, version)
) STRICT;

CREATE TABLE dataset_rows (
  version_id TEXT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  -- stable identity of a row within its version (gaps after deletions)
  position INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('dialogue', 'safety', 'preference', 'text')),
  data TEXT NOT NULL CHECK (json_valid(data)),
  hash TEXT NOT NULL,
  department TEXT,
  source TEXT,
  user_turns INTEGER NOT NULL,
  chars INTEGER NOT NULL,
  split TEXT CHECK (split IN ('train', 'validation')),
  PRIMARY KEY (version_id, position)
) STRICT, WITHOUT ROWID;
CREATE INDEX dataset_rows_by_department ON dataset_rows(version_id, department);

-- tokens of a version as a given model counts them (its own tokenizer and chat template)
CREATE TABLE dataset_token_counts (
  version_id TEXT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  model_id TEXT NOT NULL REFERENCES models(id) ON DELETE CASCADE,
  tokens INTEGER NOT NULL,
  computed_at TEXT NOT NULL,
  PRIMARY KEY (version_id, model_id)
) STRICT;

CREATE TABLE dataset_replacements (
  id TEXT PRIMARY KEY,
  version_id TEXT NOT NULL REFERENCES dataset_versions(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  turn_index INTEGER NOT NULL,
  field TEXT NOT NULL CHECK (field IN ('content', 'chosen', 'rejected', 'text')),
  start INTEGER NOT NULL,
  "end" INTEGER NOT NULL,
  type TEXT NOT NULL,
  -- erased (NULL) when the review is finished: the store keeps no identifiers after that
  original TEXT,
  status TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'undone'))
) STRICT;
CREATE INDEX dataset_replacements_by_row ON dataset_replacements(version_id, position, turn_index, field);
CREATE INDEX dataset_replacements_by_status ON dataset_replacements(version_id, status);
`;
