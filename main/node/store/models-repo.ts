import {existsSync} from 'node:fs';
import type {GgufSummary, GpuLayers, ModelInfo} from '../../common/contract.js';
import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';

interface ModelRow {
  id: string;
  name: string;
  path: string;
  kind: 'base' | 'adapter';
  architecture: string;
  parameter_count: number;
  quantization: string;
  context_length: number | null;
  file_size_bytes: number;
  sha256: string | null;
  has_chat_template: number;
  gpu_layers: string;
  added_at: string;
}

function toModel(row: ModelRow): ModelInfo {
  return {
    id: row.id,
    name: row.name,
    path: row.path,
    kind: row.kind,
    architecture: row.architecture,
    parameterCount: row.parameter_count,
    quantization: row.quantization,
    contextLength: row.context_length,
    fileSizeBytes: row.file_size_bytes,
    sha256: row.sha256,
    hasChatTemplate: row.has_chat_template === 1,
    gpuLayers: row.gpu_layers === 'auto' ? 'auto' : Number(row.gpu_layers),
    // checked on every read: a file deleted behind our back must show, not crash a chat later
    missing: !existsSync(row.path),
    addedAt: row.added_at,
  };
}

export class ModelsRepo {
  constructor(private readonly db: Db) {}

  list(): ModelInfo[] {
    return (this.db.prepare('SELECT * FROM models ORDER BY added_at DESC').all() as ModelRow[]).map(toModel);
  }

  get(id: string): ModelInfo | null {
    const row = this.db.prepare('SELECT * FROM models WHERE id = ?').get(id) as ModelRow | undefined;
    return row ? toModel(row) : null;
  }

  findByPath(path: string): ModelInfo | null {
    const row = this.db.prepare('SELECT * FROM models WHERE path = ?').get(path) as ModelRow | undefined;
    return row ? toModel(row) : null;
  }

  /** by id, exact name, or path: what the CLI accepts for --model */
  resolve(ref: string): ModelInfo | null {
    const row = this.db
      .prepare('SELECT * FROM models WHERE id = ? OR name = ? OR path = ? ORDER BY added_at DESC LIMIT 1')
      .get(ref, ref, ref) as ModelRow | undefined;
    return row ? toModel(row) : null;
  }

  insert(summary: GgufSummary, name: string, sha256: string | null): ModelInfo {
    const id = newId();
    this.db
      .prepare(
        `INSERT INTO models (id, name, path, kind, architecture, parameter_count, quantization, context_length,
           file_size_bytes, sha256, has_chat_template, gpu_layers, added_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'auto', ?)`,
      )
      .run(
        id,
        name,
        summary.path,
        summary.kind,
        summary.architecture,
        summary.parameterCount,
        summary.quantization,
        summary.contextLength,
        summary.fileSizeBytes,
        sha256,
        summary.hasChatTemplate ? 1 : 0,
        nowIso(),
      );
    return this.get(id)!;
  }

  update(id: string, changes: {name?: string; gpuLayers?: GpuLayers}): void {
    if (changes.name !== undefined) this.db.prepare('UPDATE models SET name = ? WHERE id = ?').run(changes.name, id);
    if (changes.gpuLayers !== undefined)
      this.db.prepare('UPDATE models SET gpu_layers = ? WHERE id = ?').run(String(changes.gpuLayers), id);
  }

  setSha256(id: string, sha256: string): void {
    this.db.prepare('UPDATE models SET sha256 = ? WHERE id = ?').run(sha256, id);
  }

  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM models WHERE id = ?').run(id).changes > 0;
  }
}
