// Unsaved work on the ranking screen: one draft per (item, annotator), written as the person
// works and whenever she leaves an item, restored when she comes back (as Argilla keeps drafts),
// removed in the same transaction as the real save. A draft is never part of any result.
export const sql = /* sql */ `
CREATE TABLE annotation_drafts (
  item_id TEXT NOT NULL REFERENCES annotation_items(id) ON DELETE CASCADE,
  annotator_id TEXT NOT NULL REFERENCES annotators(id) ON DELETE CASCADE,
  draft TEXT NOT NULL CHECK (json_valid(draft)),
  saved_at TEXT NOT NULL,
  PRIMARY KEY (item_id, annotator_id)
) STRICT, WITHOUT ROWID;
`;
