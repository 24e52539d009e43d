import type {DownloadInfo} from '../../common/contract.js';
import type {LocalisedText} from '../../common/errors.js';
import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';

interface DownloadRow {
  id: string;
  source: string;
  url: string;
  file_name: string;
  dest_path: string;
  expected_sha256: string | null;
  state: DownloadInfo['state'];
  received_bytes: number;
  total_bytes: number | null;
  error: string | null;
  model_id: string | null;
}

export interface DownloadRecord extends DownloadInfo {
  source: string;
  destPath: string;
  expectedSha256: string | null;
}

function toRecord(row: DownloadRow): DownloadRecord {
  return {
    id: row.id,
    source: row.source,
    url: row.url,
    fileName: row.file_name,
    destPath: row.dest_path,
    expectedSha256: row.expected_sha256,
    receivedBytes: row.received_bytes,
    totalBytes: row.total_bytes,
    state: row.state,
    error: row.error ? (JSON.parse(row.error) as LocalisedText) : null,
    modelId: row.model_id,
  };
}

/** Downloads are recorded so that one interrupted by a crash or a quit shows as paused and
 * resumes (from its .part file) when started again. */
export class DownloadsRepo {
  constructor(private readonly db: Db) {}

  list(): DownloadRecord[] {
    return (this.db.prepare('SELECT * FROM downloads ORDER BY created_at DESC LIMIT 50').all() as DownloadRow[]).map(toRecord);
  }

  get(id: string): DownloadRecord | null {
    const row = this.db.prepare('SELECT * FROM downloads WHERE id = ?').get(id) as DownloadRow | undefined;
    return row ? toRecord(row) : null;
  }

  findUnfinishedByDest(destPath: string): DownloadRecord | null {
    const row = this.db
      .prepare(`SELECT * FROM downloads WHERE dest_path = ? AND state NOT IN ('done') ORDER BY created_at DESC LIMIT 1`)
      .get(destPath) as DownloadRow | undefined;
    return row ? toRecord(row) : null;
  }

  create(fields: {source: string; url: string; fileName: string; destPath: string; expectedSha256: string | null}): DownloadRecord {
    const id = newId();
    const now = nowIso();
    this.db
      .prepare(
        `INSERT INTO downloads (id, source, url, file_name, dest_path, expected_sha256, state, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'running', ?, ?)`,
      )
      .run(id, fields.source, fields.url, fields.fileName, fields.destPath, fields.expectedSha256, now, now);
    return this.get(id)!;
  }

  update(
    id: string,
    changes: Partial<Pick<DownloadRecord, 'state' | 'receivedBytes' | 'totalBytes' | 'error' | 'modelId' | 'url' | 'expectedSha256'>>,
  ): void {
    const columns: Record<string, unknown> = {
      state: changes.state,
      received_bytes: changes.receivedBytes,
      total_bytes: changes.totalBytes,
      error: changes.error === undefined ? undefined : changes.error === null ? null : JSON.stringify(changes.error),
      model_id: changes.modelId,
      url: changes.url,
      expected_sha256: changes.expectedSha256,
    };
    const entries = Object.entries(columns).filter(([, v]) => v !== undefined);
    entries.push(['updated_at', nowIso()]);
    this.db
      .prepare(`UPDATE downloads SET ${entries.map(([k]) => `${k} = ?`).join(', ')} WHERE id = ?`)
      .run(...entries.map(([, v]) => v), id);
  }

  remove(id: string): boolean {
    return this.db.prepare('DELETE FROM downloads WHERE id = ?').run(id).changes > 0;
  }

  /** At start-up nothing is running: whatever was, was cut off and can resume. */
  pauseRunning(): void {
    this.db.prepare(`UPDATE downloads SET state = 'paused' WHERE state = 'running'`).run();
  }
}
