// OpenAI-compatible endpoints (llama.cpp's llama-server, vLLM, an intranet gateway) that a
// consultation may answer with instead of a local GGUF. The API key is never in this file: it is
// kept by a SecretStore (the OS keychain through Electron's safeStorage, or a 0600 file under
// <data>/secrets/); `has_key` only says whether one was given.
export const sql = /* sql */ `
CREATE TABLE remote_endpoints (
  id TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  base_url TEXT NOT NULL,
  model TEXT NOT NULL,
  has_key INTEGER NOT NULL DEFAULT 0 CHECK (has_key IN (0, 1)),
  created_at TEXT NOT NULL
) STRICT;

ALTER TABLE consultations ADD COLUMN remote_endpoint_id TEXT REFERENCES remote_endpoints(id) ON DELETE SET NULL;
`;
