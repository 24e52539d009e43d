// OpenAI-compatible endpoints. No key here: only whether one is kept (see remote/secrets.ts).

import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';

export interface RemoteEndpointRow {
  id: string;
  name: string;
  baseUrl: string;
  model: string;
  hasKey: boolean;
  createdAt: string;
}

interface Row {
  id: string;
  name: string;
  base_url: string;
  model: string;
  has_key: number;
  created_at: string;
}

const toEndpoint = (r: Row): RemoteEndpointRow => ({
  id: r.id,
  name: r.name,
  baseUrl: r.base_url,
  model: r.model,
  hasKey: r.has_key === 1,
  createdAt: r.created_at,
});

export class RemotesRepo {
  constructor(private readonly db: Db) {}

  list(): RemoteEndpointRow[] {
    return (this.db.prepare('SELECT * FROM remote_endpoints ORDER BY name').all() as Row[]).map(toEndpoint);
  }

  get(id: string): RemoteEndpointRow | null {
    const row = this.db.prepare('SELECT * FROM remote_endpoints WHERE id = ?').get(id) as Row | undefined;
    return row ? toEndpoint(row) : null;
  }

  findByName(name: string): RemoteEndpointRow | null {
    const row = this.db.prepare('SELECT * FROM remote_endpoints WHERE name = ?').get(name) as Row | undefined;
    return row ? toEndpoint(row) : null;
  }

  add(fields: {name: string; baseUrl: string; model: string; hasKey: boolean}): RemoteEndpointRow {
    const id = newId();
    this.db
      .prepare('INSERT INTO remote_endpoints (id, name, base_url, model, has_key, created_at) VALUES (?, ?, ?, ?, ?, ?)')
      .run(id, fields.name, fields.baseUrl, fields.model, fields.hasKey ? 1 : 0, nowIso());
    return this.get(id)!;
  }

  /** Consultations that used it are set back to their local model (ON DELETE SET NULL). */
  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM remote_endpoints WHERE id = ?').run(id).changes > 0;
  }
}
