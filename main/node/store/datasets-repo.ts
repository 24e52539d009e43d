// Datasets, their versions and rows, and the de-identification replacements to review.

import type {
  DatasetOrigin,
  DatasetRow,
  DatasetStats,
  DatasetSummary,
  DatasetVersionInfo,
  Replacement,
  RowKind,
  StoredRow,
} from '../../common/datasets.js';
import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';
import {containsPattern} from './sql.js';
import {rowHash, versionContentHash} from '../datasets/hash.js';

interface VersionRow {
  id: string;
  dataset_id: string;
  version: number;
  state: 'importing' | 'open' | 'frozen';
  content_hash: string;
  rows: number;
  dialogues: number;
  turns: number;
  origin: string;
  created_at: string;
  pending_review: number;
}

interface DatasetHead {
  id: string;
  name: string;
  description: string;
  created_at: string;
}

interface RowRow {
  position: number;
  data: string;
  hash: string;
  split: 'train' | 'validation' | null;
}

export interface RowFilter {
  query?: string;
  department?: string;
  source?: string;
  kind?: RowKind;
  minTurns?: number;
  maxTurns?: number;
  split?: 'train' | 'validation';
}

/** Derived columns kept beside the JSON so filters and stats are plain SQL. */
export function rowColumns(row: DatasetRow) {
  const userTurns = row.turns.filter((t) => t.role === 'user').length;
  const chars =
    row.turns.reduce((n, t) => n + t.content.length, 0) + (row.chosen?.length ?? 0) + (row.rejected?.length ?? 0) + (row.text?.length ?? 0);
  return {kind: row.kind, department: row.department ?? null, source: row.source ?? null, userTurns, chars};
}

function toVersion(row: VersionRow): DatasetVersionInfo {
  return {
    id: row.id,
    version: row.version,
    state: row.state === 'frozen' ? 'frozen' : 'open',
    contentHash: row.content_hash,
    rows: row.rows,
    dialogues: row.dialogues,
    turns: row.turns,
    createdAt: row.created_at,
    origin: JSON.parse(row.origin) as DatasetOrigin,
    pendingReview: row.pending_review,
  };
}


export class DatasetsRepo {
  constructor(private readonly db: Db) {}

  // ───── datasets and versions ─────

  list(): DatasetSummary[] {
    const rows = this.db.prepare('SELECT id, name, description, created_at FROM datasets ORDER BY created_at DESC').all() as DatasetHead[];
    return rows.flatMap((row) => this.summarize(row) ?? []);
  }

  summary(id: string): DatasetSummary | null {
    const row = this.db.prepare('SELECT id, name, description, created_at FROM datasets WHERE id = ?').get(id) as DatasetHead | undefined;
    return row ? this.summarize(row) : null;
  }

  /** null while the dataset's first version is still importing */
  private summarize(d: DatasetHead): DatasetSummary | null {
    const versions = this.versions(d.id);
    const latest = versions.at(-1);
    if (!latest) return null;
    return {id: d.id, name: d.name, description: d.description, createdAt: d.created_at, latest, versionCount: versions.length, kinds: this.kinds(latest.id)};
  }

  nameTaken(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM datasets WHERE name = ?').get(name) !== undefined;
  }

  resolve(ref: string): {id: string; name: string} | null {
    return (this.db.prepare('SELECT id, name FROM datasets WHERE id = ? OR name = ?').get(ref, ref) as {id: string; name: string} | undefined) ?? null;
  }

  create(name: string, description = ''): string {
    const id = newId();
    this.db.prepare('INSERT INTO datasets (id, name, description, created_at) VALUES (?, ?, ?, ?)').run(id, name, description, nowIso());
    return id;
  }

  rename(id: string, changes: {name?: string; description?: string}): void {
    if (changes.name !== undefined) this.db.prepare('UPDATE datasets SET name = ? WHERE id = ?').run(changes.name, id);
    if (changes.description !== undefined) this.db.prepare('UPDATE datasets SET description = ? WHERE id = ?').run(changes.description, id);
  }

  delete(id: string): boolean {
    return this.db.prepare('DELETE FROM datasets WHERE id = ?').run(id).changes > 0;
  }

  versions(datasetId: string): DatasetVersionInfo[] {
    return (
      this.db
        .prepare(
          `SELECT v.*, (SELECT count(*) FROM dataset_replacements r WHERE r.version_id = v.id AND r.status = 'pending') AS pending_review
           FROM dataset_versions v WHERE v.dataset_id = ? AND v.state != 'importing' ORDER BY v.version`,
        )
        .all(datasetId) as VersionRow[]
    ).map(toVersion);
  }

  latestVersion(datasetId: string): DatasetVersionInfo | null {
    return this.versions(datasetId).at(-1) ?? null;
  }

  version(datasetId: string, version?: number): DatasetVersionInfo | null {
    return version === undefined ? this.latestVersion(datasetId) : (this.versions(datasetId).find((v) => v.version === version) ?? null);
  }

  /** `origin` may be null only for a version still importing (never listed, see versions()). */
  createVersion(datasetId: string, origin: DatasetOrigin | null, state: 'importing' | 'open'): {id: string; version: number} {
    const next = ((this.db.prepare('SELECT max(version) AS v FROM dataset_versions WHERE dataset_id = ?').get(datasetId) as {v: number | null}).v ?? 0) + 1;
    const id = newId();
    this.db
      .prepare(`INSERT INTO dataset_versions (id, dataset_id, version, state, content_hash, origin, created_at) VALUES (?, ?, ?, ?, '', ?, ?)`)
      .run(id, datasetId, next, state, JSON.stringify(origin), nowIso());
    return {id, version: next};
  }

  setOrigin(versionId: string, origin: DatasetOrigin): void {
    this.db.prepare('UPDATE dataset_versions SET origin = ? WHERE id = ?').run(JSON.stringify(origin), versionId);
  }

  setState(versionId: string, state: 'open' | 'frozen'): void {
    this.db.prepare('UPDATE dataset_versions SET state = ? WHERE id = ?').run(state, versionId);
  }

  /** Copies every row of a version into a new open version (the edit-a-frozen-version path). */
  copyVersion(datasetId: string, from: DatasetVersionInfo): {id: string; version: number} {
    return this.db.transaction(() => {
      const created = this.createVersion(datasetId, {type: 'edit', fromVersion: from.version}, 'open');
      this.db
        .prepare(
          `INSERT INTO dataset_rows (version_id, position, kind, data, hash, department, source, user_turns, chars, split)
           SELECT ?, position, kind, data, hash, department, source, user_turns, chars, split FROM dataset_rows WHERE version_id = ?`,
        )
        .run(created.id, from.id);
      this.refreshVersion(created.id);
      return created;
    })();
  }

  /** Recomputes the counts and the content hash (sha256 over the row hashes in order). */
  refreshVersion(versionId: string): void {
    const hashes = this.db.prepare('SELECT hash FROM dataset_rows WHERE version_id = ? ORDER BY position').pluck().iterate(versionId) as Iterable<string>;
    const contentHash = versionContentHash(hashes);
    const rows = (this.db.prepare('SELECT count(*) AS n FROM dataset_rows WHERE version_id = ?').get(versionId) as {n: number}).n;
    const counts = this.db
      .prepare(`SELECT count(*) FILTER (WHERE kind IN ('dialogue', 'safety')) AS dialogues, coalesce(sum(user_turns), 0) AS turns FROM dataset_rows WHERE version_id = ?`)
      .get(versionId) as {dialogues: number; turns: number};
    this.db
      .prepare('UPDATE dataset_versions SET content_hash = ?, rows = ?, dialogues = ?, turns = ? WHERE id = ?')
      .run(contentHash, rows, counts.dialogues, counts.turns, versionId);
  }

  /** Orphans of an import that never finished (a crash mid-import) are removed at start-up. */
  removeUnfinishedImports(): number {
    const ids = (this.db.prepare(`SELECT DISTINCT dataset_id FROM dataset_versions WHERE state = 'importing'`).all() as {dataset_id: string}[]).map((r) => r.dataset_id);
    for (const id of ids) this.delete(id);
    return ids.length;
  }

  // ───── rows ─────

  insertRows(versionId: string, rows: {position: number; row: DatasetRow; hash: string; split?: 'train' | 'validation' | null}[]): void {
    const insert = this.db.prepare(
      `INSERT INTO dataset_rows (version_id, position, kind, data, hash, department, source, user_turns, chars, split) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.db.transaction(() => {
      for (const {position, row, hash, split} of rows) {
        const c = rowColumns(row);
        insert.run(versionId, position, c.kind, JSON.stringify(row), hash, c.department, c.source, c.userTurns, c.chars, split ?? null);
      }
    })();
  }

  getRow(versionId: string, position: number): StoredRow | null {
    const row = this.db.prepare('SELECT position, data, hash, split FROM dataset_rows WHERE version_id = ? AND position = ?').get(versionId, position) as RowRow | undefined;
    return row ? {...(JSON.parse(row.data) as DatasetRow), position: row.position, hash: row.hash, split: row.split} : null;
  }

  replaceRow(versionId: string, position: number, row: DatasetRow): void {
    const c = rowColumns(row);
    this.db
      .prepare(`UPDATE dataset_rows SET kind = ?, data = ?, hash = ?, department = ?, source = ?, user_turns = ?, chars = ? WHERE version_id = ? AND position = ?`)
      .run(c.kind, JSON.stringify(row), rowHash(row), c.department, c.source, c.userTurns, c.chars, versionId, position);
  }

  deleteRow(versionId: string, position: number): boolean {
    return this.db.prepare('DELETE FROM dataset_rows WHERE version_id = ? AND position = ?').run(versionId, position).changes > 0;
  }

  queryRows(versionId: string, filter: RowFilter, offset: number, limit: number): {total: number; rows: StoredRow[]} {
    const where = ['version_id = ?'];
    const args: unknown[] = [versionId];
    if (filter.query?.trim()) (where.push(`data LIKE ? ESCAPE '\\'`), args.push(containsPattern(filter.query.trim())));
    if (filter.department) (where.push('department = ?'), args.push(filter.department));
    if (filter.source) (where.push('source = ?'), args.push(filter.source));
    if (filter.kind) (where.push('kind = ?'), args.push(filter.kind));
    if (filter.minTurns !== undefined) (where.push('user_turns >= ?'), args.push(filter.minTurns));
    if (filter.maxTurns !== undefined) (where.push('user_turns <= ?'), args.push(filter.maxTurns));
    if (filter.split) (where.push('split = ?'), args.push(filter.split));
    const clause = where.join(' AND ');
    const total = (this.db.prepare(`SELECT count(*) AS n FROM dataset_rows WHERE ${clause}`).get(...args) as {n: number}).n;
    const rows = this.db
      .prepare(`SELECT position, data, hash, split FROM dataset_rows WHERE ${clause} ORDER BY position LIMIT ? OFFSET ?`)
      .all(...args, limit, offset) as RowRow[];
    return {total, rows: rows.map((r) => ({...(JSON.parse(r.data) as DatasetRow), position: r.position, hash: r.hash, split: r.split}))};
  }

  /** Rows in position order, without loading the whole version (exports, training, mixes). */
  *iterateRows(versionId: string): Generator<StoredRow> {
    for (const r of this.db.prepare('SELECT position, data, hash, split FROM dataset_rows WHERE version_id = ? ORDER BY position').iterate(versionId) as Iterable<RowRow>)
      yield {...(JSON.parse(r.data) as DatasetRow), position: r.position, hash: r.hash, split: r.split};
  }

  rowShapes(versionId: string): {position: number; kind: RowKind; userTurns: number; chars: number}[] {
    return this.db.prepare('SELECT position, kind, user_turns AS userTurns, chars FROM dataset_rows WHERE version_id = ? ORDER BY position').all(versionId) as {
      position: number;
      kind: RowKind;
      userTurns: number;
      chars: number;
    }[];
  }

  kinds(versionId: string): Partial<Record<RowKind, number>> {
    const rows = this.db.prepare('SELECT kind, count(*) AS n FROM dataset_rows WHERE version_id = ? GROUP BY kind').all(versionId) as {kind: RowKind; n: number}[];
    return Object.fromEntries(rows.map((r) => [r.kind, r.n]));
  }

  stats(versionId: string): DatasetStats {
    const one = <T>(sql: string) => this.db.prepare(sql).get(versionId) as T;
    const all = <T>(sql: string) => this.db.prepare(sql).all(versionId) as T[];
    const totals = one<{rows: number; dialogues: number; turns: number; single: number; multi: number; chars: number; train: number; validation: number}>(
      `SELECT count(*) AS rows, count(*) FILTER (WHERE kind IN ('dialogue','safety')) AS dialogues, coalesce(sum(user_turns), 0) AS turns,
         count(*) FILTER (WHERE kind IN ('dialogue','safety') AND user_turns = 1) AS single,
         count(*) FILTER (WHERE kind IN ('dialogue','safety') AND user_turns > 1) AS multi, coalesce(sum(chars), 0) AS chars,
         count(*) FILTER (WHERE split = 'train') AS train, count(*) FILTER (WHERE split = 'validation') AS validation
       FROM dataset_rows WHERE version_id = ?`,
    );
    const histogram = Array<number>(10).fill(0);
    for (const {t, n} of all<{t: number; n: number}>(`SELECT user_turns AS t, count(*) AS n FROM dataset_rows WHERE version_id = ? AND kind IN ('dialogue','safety') GROUP BY user_turns`))
      histogram[Math.min(Math.max(t, 1), 10) - 1]! += n;
    return {
      rows: totals.rows,
      dialogues: totals.dialogues,
      turns: totals.turns,
      singleTurn: totals.single,
      multiTurn: totals.multi,
      byKind: this.kinds(versionId),
      byDepartment: all<{name: string; count: number}>(
        `SELECT department AS name, count(*) AS count FROM dataset_rows WHERE version_id = ? AND department IS NOT NULL GROUP BY department ORDER BY count DESC LIMIT 30`,
      ),
      bySource: all<{name: string; count: number}>(
        `SELECT source AS name, count(*) AS count FROM dataset_rows WHERE version_id = ? AND source IS NOT NULL GROUP BY source ORDER BY count DESC LIMIT 30`,
      ),
      turnHistogram: histogram,
      characters: totals.chars,
      split: {train: totals.train, validation: totals.validation},
    };
  }

  setTokenCount(versionId: string, modelId: string, tokens: number): void {
    this.db
      .prepare(`INSERT INTO dataset_token_counts (version_id, model_id, tokens, computed_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (version_id, model_id) DO UPDATE SET tokens = excluded.tokens, computed_at = excluded.computed_at`)
      .run(versionId, modelId, tokens, nowIso());
  }

  tokenCounts(versionId: string): {modelId: string; modelName: string; tokens: number}[] {
    return this.db
      .prepare(`SELECT t.model_id AS modelId, m.name AS modelName, t.tokens FROM dataset_token_counts t JOIN models m ON m.id = t.model_id WHERE t.version_id = ?`)
      .all(versionId) as {modelId: string; modelName: string; tokens: number}[];
  }

  // ───── de-identification review ─────

  insertReplacements(versionId: string, items: {position: number; turnIndex: number; field: string; start: number; end: number; type: string; original: string}[]): void {
    const insert = this.db.prepare(
      `INSERT INTO dataset_replacements (id, version_id, position, turn_index, field, start, "end", type, original, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending')`,
    );
    this.db.transaction(() => {
      for (const r of items) insert.run(newId(), versionId, r.position, r.turnIndex, r.field, r.start, r.end, r.type, r.original);
    })();
  }

  replacementRecord(id: string) {
    return this.db.prepare('SELECT * FROM dataset_replacements WHERE id = ?').get(id) as
      | {id: string; version_id: string; position: number; turn_index: number; field: string; start: number; end: number; type: string; original: string | null; status: Replacement['status']}
      | undefined;
  }

  replacementPage(versionId: string, status: Replacement['status'] | undefined, offset: number, limit: number) {
    const where = status ? 'version_id = ? AND status = ?' : 'version_id = ?';
    const args = status ? [versionId, status] : [versionId];
    const total = (this.db.prepare(`SELECT count(*) AS n FROM dataset_replacements WHERE ${where}`).get(...args) as {n: number}).n;
    const ids = (this.db.prepare(`SELECT id FROM dataset_replacements WHERE ${where} ORDER BY position, turn_index, start LIMIT ? OFFSET ?`).all(...args, limit, offset) as {id: string}[]).map((r) => r.id);
    const counts = Object.fromEntries(
      (this.db.prepare('SELECT status, count(*) AS n FROM dataset_replacements WHERE version_id = ? GROUP BY status').all(versionId) as {status: string; n: number}[]).map((r) => [r.status, r.n]),
    );
    return {total, ids, counts: {pending: counts.pending ?? 0, confirmed: counts.confirmed ?? 0, undone: counts.undone ?? 0}};
  }

  setReplacementStatus(id: string, status: Replacement['status']): void {
    this.db.prepare('UPDATE dataset_replacements SET status = ? WHERE id = ?').run(status, id);
  }

  /** After an undo lengthens or shortens a text, later spans in the same text move by `delta`. */
  shiftReplacements(versionId: string, position: number, turnIndex: number, field: string, after: number, delta: number): void {
    this.db
      .prepare(`UPDATE dataset_replacements SET start = start + ?, "end" = "end" + ? WHERE version_id = ? AND position = ? AND turn_index = ? AND field = ? AND start > ?`)
      .run(delta, delta, versionId, position, turnIndex, field, after);
  }

  finishReview(versionId: string): number {
    return this.db.transaction(() => {
      const confirmed = this.db.prepare(`UPDATE dataset_replacements SET status = 'confirmed' WHERE version_id = ? AND status = 'pending'`).run(versionId).changes;
      this.db.prepare('UPDATE dataset_replacements SET original = NULL WHERE version_id = ?').run(versionId);
      return confirmed;
    })();
  }
}
