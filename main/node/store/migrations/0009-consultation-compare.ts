// Side by side in a consultation: a second responder (`compare`, JSON: a local model + adapters
// or a remote endpoint) answers every turn beside the consultation's own, and the clinician's
// choice between the two answers is kept as a preference pair the reward model can train on.
export const sql = /* sql */ `
ALTER TABLE consultations ADD COLUMN compare TEXT CHECK (compare IS NULL OR json_valid(compare));

CREATE TABLE consultation_preferences (
  user_message_id TEXT PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,
  consultation_id TEXT NOT NULL REFERENCES consultations(id) ON DELETE CASCADE,
  chosen_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  rejected_id TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
  created_at TEXT NOT NULL
) STRICT;
`;
