// Expert annotation: annotators, projects built from dataset turns, K candidates per item, one
// ranking per (item, annotator) with its previous state kept for undo, and the third expert's
// adjudications stored beside the originals.
export const sql = /* sql */ `
CREATE TABLE annotators (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL CHECK (role IN ('annotator', 'expert')),
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE annotation_projects (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  k INTEGER NOT NULL CHECK (k BETWEEN 2 AND 8),
  min_annotators INTEGER NOT NULL,
  source TEXT NOT NULL CHECK (json_valid(source)),
  generation TEXT CHECK (generation IS NULL OR json_valid(generation)),
  created_at TEXT NOT NULL
) STRICT;

CREATE TABLE annotation_items (
  id TEXT PRIMARY KEY,
  project_id TEXT NOT NULL REFERENCES annotation_projects(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  history TEXT NOT NULL CHECK (json_valid(history)),
  question TEXT NOT NULL,
  department TEXT,
  reference TEXT,
  UNIQUE (project_id, position)
) STRICT;

CREATE TABLE annotation_candidates (
  item_id TEXT NOT NULL REFERENCES annotation_items(id) ON DELETE CASCADE,
  idx INTEGER NOT NULL,
  text TEXT NOT NULL,
  origin TEXT NOT NULL CHECK (json_valid(origin)),
  near_duplicate_of INTEGER,
  PRIMARY KEY (item_id, idx)
) STRICT;

CREATE TABLE annotation_rankings (
  item_id TEXT NOT NULL REFERENCES annotation_items(id) ON DELETE CASCADE,
  annotator_id TEXT NOT NULL REFERENCES annotators(id),
  -- 'adjudication' rows are the third expert's final decision
  kind TEXT NOT NULL CHECK (kind IN ('ranking', 'adjudication')),
  ranking TEXT NOT NULL CHECK (json_valid(ranking)),
  marks TEXT NOT NULL CHECK (json_valid(marks)),
  comment TEXT NOT NULL,
  all_wrong INTEGER NOT NULL CHECK (all_wrong IN (0, 1)),
  correction TEXT,
  saved_at TEXT NOT NULL,
  -- the state before the last save (JSON), so "undo" can restore it; NULL = there was none
  previous TEXT CHECK (previous IS NULL OR json_valid(previous)),
  PRIMARY KEY (item_id, annotator_id, kind)
) STRICT;
CREATE INDEX annotation_rankings_by_annotator ON annotation_rankings(annotator_id);
`;
