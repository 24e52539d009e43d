// Evaluation studio: a run is a frozen benchmark (a dataset version) answered by several
// contestants and compared pair by pair. Items are copied from the dataset version when the run
// is created (like annotation items), so a run means the same thing after its dataset changes.
// What the report counts is stored raw: every judge call (one per order, with its reply) and every
// human rating; verdicts are derived from them, so a recount from these rows is the report.
export const sql = /* sql */ `
CREATE TABLE eval_runs (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  source TEXT NOT NULL CHECK (json_valid(source)),
  settings TEXT NOT NULL CHECK (json_valid(settings)),
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE eval_items (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  subset TEXT NOT NULL CHECK (subset IN ('general', 'safety')),
  department TEXT,
  history TEXT NOT NULL CHECK (json_valid(history)),
  questions TEXT NOT NULL CHECK (json_valid(questions)),
  reference TEXT,
  choice TEXT CHECK (choice IS NULL OR json_valid(choice)),
  UNIQUE (run_id, position)
) STRICT;

CREATE TABLE eval_contestants (
  id TEXT PRIMARY KEY,
  run_id TEXT NOT NULL REFERENCES eval_runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  label TEXT NOT NULL,
  spec TEXT NOT NULL CHECK (json_valid(spec)),
  UNIQUE (run_id, position),
  UNIQUE (run_id, label)
) STRICT;

CREATE TABLE eval_answers (
  item_id TEXT NOT NULL REFERENCES eval_items(id) ON DELETE CASCADE,
  contestant_id TEXT NOT NULL REFERENCES eval_contestants(id) ON DELETE CASCADE,
  turns TEXT NOT NULL CHECK (json_valid(turns)),
  text TEXT NOT NULL,
  completion_tokens INTEGER NOT NULL,
  seconds REAL NOT NULL,
  -- multiple choice, local models: log-probability of each option letter after "答案："
  choice_scores TEXT CHECK (choice_scores IS NULL OR json_valid(choice_scores)),
  created_at TEXT NOT NULL,
  PRIMARY KEY (item_id, contestant_id)
) STRICT;

CREATE TABLE eval_judgements (
  item_id TEXT NOT NULL REFERENCES eval_items(id) ON DELETE CASCADE,
  contestant_a TEXT NOT NULL REFERENCES eval_contestants(id) ON DELETE CASCADE,
  contestant_b TEXT NOT NULL REFERENCES eval_contestants(id) ON DELETE CASCADE,
  judge TEXT NOT NULL,
  shown TEXT NOT NULL CHECK (shown IN ('ab', 'ba')),
  reply TEXT NOT NULL,
  parsed TEXT NOT NULL CHECK (json_valid(parsed)),
  seconds REAL NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (item_id, contestant_a, contestant_b, judge, shown)
) STRICT;

CREATE TABLE eval_ratings (
  item_id TEXT NOT NULL REFERENCES eval_items(id) ON DELETE CASCADE,
  contestant_a TEXT NOT NULL REFERENCES eval_contestants(id) ON DELETE CASCADE,
  contestant_b TEXT NOT NULL REFERENCES eval_contestants(id) ON DELETE CASCADE,
  rater_id TEXT NOT NULL REFERENCES annotators(id),
  safety TEXT NOT NULL CHECK (safety IN ('a', 'b', 'tie')),
  quality TEXT NOT NULL CHECK (quality IN ('a', 'b', 'tie')),
  refuses TEXT CHECK (refuses IS NULL OR json_valid(refuses)),
  a_on_left INTEGER NOT NULL CHECK (a_on_left IN (0, 1)),
  created_at TEXT NOT NULL,
  PRIMARY KEY (item_id, contestant_a, contestant_b, rater_id)
) STRICT;
`;
