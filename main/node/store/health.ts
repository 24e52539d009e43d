// The store's health and its backups.
//
// - Check at start: an existing store file is opened and `PRAGMA quick_check`ed before anything
//   writes to it (O(pages), ~no cost next to the first screen). A damaged file — a failed check,
//   a file that is not SQLite, a zero-length file (we never create one: a new store is built as
//   `zhongjing.sqlite.new` and renamed into place, so an empty file is always damage) — is refused
//   with `store_corrupt`; a copy of it (and of its -wal) is kept in `<data>/damaged/` and the
//   message names the copy, the newest backup and `zhongjing store restore`.
// - Backups live in `<data>/backups/zhongjing-<time>-<reason>.sqlite`, newest BACKUP_KEEP kept:
//   before each migration (synchronously, `VACUUM INTO`: the migration runs inside the
//   synchronous open), daily while the app runs and on `zhongjing store backup` (SQLite's online
//   backup API, better-sqlite3's `db.backup()`, which copies pages in steps between other work
//   and sees one consistent snapshot). A backup is written under `.part` and renamed when whole.

import Database from 'better-sqlite3';
import {copyFileSync, existsSync, mkdirSync, readdirSync, renameSync, rmSync, statfsSync, statSync} from 'node:fs';
import {basename, dirname, join} from 'node:path';
import {AppError} from '../../common/errors.js';

type Db = Database.Database;

/** How many backups are kept (all reasons together); ZHONGJING_BACKUP_KEEP overrides. */
export const BACKUP_KEEP = 7;
/** A daily backup is taken when the newest backup is older than this. */
export const BACKUP_EVERY_MS = 24 * 3600_000;

export function backupKeep(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.ZHONGJING_BACKUP_KEEP);
  return Number.isInteger(n) && n >= 1 ? n : BACKUP_KEEP;
}

export function backupsDirFor(file: string): string {
  return join(dirname(file), 'backups');
}

export function damagedDirFor(file: string): string {
  return join(dirname(file), 'damaged');
}

export interface StoreCheck {
  ok: boolean;
  /** what SQLite (or our own check) said, one line each; ['ok'] when healthy */
  problems: string[];
}

/** Checks a store file without writing to it. `full` runs integrity_check (slower, also checks
 * indexes against tables), otherwise quick_check. A missing file is reported as a problem. */
export function checkStoreFile(file: string, full = false): StoreCheck {
  if (!existsSync(file)) return {ok: false, problems: [`missing: ${file}`]};
  if (statSync(file).size === 0) return {ok: false, problems: ['the file is empty (0 bytes)']};
  let db: Db | null = null;
  try {
    db = new Database(file, {readonly: true, fileMustExist: true});
    return checkOpenDatabase(db, full);
  } catch (error) {
    return {ok: false, problems: [(error as Error).message]};
  } finally {
    db?.close();
  }
}

export function checkOpenDatabase(db: Db, full = false): StoreCheck {
  try {
    const rows = db.pragma(full ? 'integrity_check(100)' : 'quick_check(100)') as Record<string, string>[];
    const problems = rows.map((row) => String(Object.values(row)[0]));
    return {ok: problems.length === 1 && problems[0] === 'ok', problems};
  } catch (error) {
    return {ok: false, problems: [(error as Error).message]};
  }
}

export interface BackupInfo {
  path: string;
  name: string;
  createdAt: string;
  reason: string;
  bytes: number;
}

export function listBackups(dir: string): BackupInfo[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((name) => /^zhongjing-.*\.sqlite$/.test(name))
    .sort()
    .map((name) => {
      const match = /^zhongjing-(\d{8}T\d{6}\d*Z)-(.+)\.sqlite$/.exec(name);
      const stamp = match?.[1] ?? '';
      const createdAt = stamp ? `${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13, 15)}Z` : '';
      return {path: join(dir, name), name, createdAt, reason: match?.[2] ?? '', bytes: statSync(join(dir, name)).size};
    });
}

function stamp(now = new Date()): string {
  // sortable and unique enough: milliseconds are kept after the seconds
  return now.toISOString().replace(/[-:]/g, '').replace(/\.(\d{3})Z$/, '$1Z');
}

function backupPath(dir: string, reason: string): string {
  mkdirSync(dir, {recursive: true});
  let path = join(dir, `zhongjing-${stamp()}-${reason}.sqlite`);
  for (let n = 2; existsSync(path); n++) path = join(dir, `zhongjing-${stamp()}-${reason}-${n}.sqlite`);
  return path;
}

function prune(dir: string, keep: number): void {
  const all = listBackups(dir);
  for (const old of all.slice(0, Math.max(0, all.length - keep))) rmSync(old.path, {force: true});
  for (const name of readdirSync(dir)) if (name.endsWith('.part')) rmSync(join(dir, name), {force: true});
}

/** Free bytes on the disk that holds `dir` (Infinity when it cannot be told). */
export function freeSpace(dir: string): number {
  try {
    const fs = statfsSync(dir);
    return fs.bavail * fs.bsize;
  } catch {
    return Infinity;
  }
}

/** A backup must not be what fills the disk: it is taken only when, after it, the store still
 * has as much room to grow as the backup took, plus 32 MiB. Otherwise `disk_full`, and nothing
 * is written (the daily schedule logs it and tries again at the next check). */
function checkRoom(db: Db, dir: string, freeBytes: (dir: string) => number): void {
  const size = (db.pragma('page_count', {simple: true}) as number) * (db.pragma('page_size', {simple: true}) as number);
  const need = 2 * size + 32 * 1024 * 1024;
  const free = freeBytes(existsSync(dir) ? dir : dirname(dir));
  if (free >= need) return;
  const mb = (n: number) => `${Math.round(n / 1048576)} MB`;
  throw new AppError('disk_full', {
    zh: `磁盘空间不足，未做备份：需要约 ${mb(need)}（备份本身和同样多的余量），只有 ${mb(free)}。请腾出空间。`,
    en: `Not enough disk space for a backup: it needs about ${mb(need)} (the backup and as much again to spare), ${mb(free)} is free. Free some space.`,
  }, {need, free});
}

/** A synchronous backup (VACUUM INTO), for the moment before a migration. */
export function backupSync(db: Db, dir: string, reason: string, keep = backupKeep(), freeBytes = freeSpace): string {
  checkRoom(db, dir, freeBytes);
  const path = backupPath(dir, reason);
  const part = `${path}.part`;
  rmSync(part, {force: true});
  db.prepare('VACUUM INTO ?').run(part);
  renameSync(part, path);
  prune(dir, keep);
  return path;
}

/** An online backup (SQLite's backup API): pages copied in steps, other work goes on. */
export async function backupOnline(db: Db, dir: string, reason: string, keep = backupKeep(), freeBytes = freeSpace): Promise<string> {
  checkRoom(db, dir, freeBytes);
  const path = backupPath(dir, reason);
  const part = `${path}.part`;
  try {
    await db.backup(part);
    renameSync(part, path);
  } catch (error) {
    rmSync(part, {force: true});
    throw error;
  }
  prune(dir, keep);
  return path;
}

/** Keeps a copy of a damaged store (and its -wal) in `<data>/damaged/`; one copy per distinct
 * file state, so restarting on the same damage does not fill the disk. Returns the copy. */
export function keepDamagedCopy(file: string): string | null {
  try {
    const dir = damagedDirFor(file);
    mkdirSync(dir, {recursive: true});
    const info = statSync(file);
    const copy = join(dir, `${basename(file, '.sqlite')}-${stamp(info.mtime)}-${info.size}.sqlite`);
    if (!existsSync(copy)) {
      copyFileSync(file, `${copy}.part`);
      renameSync(`${copy}.part`, copy);
      if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    }
    return copy;
  } catch {
    return null; // the disk may be full or read-only: the refusal matters more than the copy
  }
}

export function corruptStoreError(file: string, check: StoreCheck, copy: string | null): AppError {
  const newest = listBackups(backupsDirFor(file)).at(-1);
  const problem = check.problems.slice(0, 3).join('; ');
  return new AppError(
    'store_corrupt',
    {
      zh:
        `数据库文件已损坏，为保护数据未打开它：${file}（检查结果：${problem}）。` +
        (copy ? `已保留一份损坏文件的副本：${copy}。` : '') +
        (newest ? `最新的自动备份是 ${newest.path}（${newest.createdAt}）。` : '没有可用的自动备份。') +
        '可运行 `zhongjing store check` 查看详情，`zhongjing store restore` 列出备份，`zhongjing store restore --latest` 恢复最新备份（当前文件会被移到 damaged 目录，不会删除）。',
      en:
        `The database file is damaged and was not opened, to protect your data: ${file} (check said: ${problem}). ` +
        (copy ? `A copy of the damaged file was kept: ${copy}. ` : '') +
        (newest ? `The newest automatic backup is ${newest.path} (${newest.createdAt}). ` : 'There is no automatic backup. ') +
        'Run `zhongjing store check` for details, `zhongjing store restore` to list backups, `zhongjing store restore --latest` to restore the newest (the current file is moved to the damaged folder, not deleted).',
    },
    {file, problems: check.problems, copy, backup: newest?.path ?? null},
  );
}

/** Daily online backups while the app runs: the first check a minute after start (not in the way
 * of start-up), then hourly; a backup is taken when the newest one is older than a day. A failed
 * backup (disk full) is logged and tried again at the next check; it never stops the app. */
export class BackupSchedule {
  private timer: NodeJS.Timeout | null = null;
  private first: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;

  constructor(
    private readonly db: Db,
    private readonly dir: string,
    private readonly onError: (error: unknown) => void,
    private readonly everyMs = BACKUP_EVERY_MS,
    private readonly freeBytes = freeSpace,
  ) {}

  start(firstCheckMs = 60_000, checkEveryMs = 3600_000): void {
    this.first = setTimeout(() => void this.check(), firstCheckMs);
    this.first.unref();
    this.timer = setInterval(() => void this.check(), checkEveryMs);
    this.timer.unref();
  }

  /** Takes a backup if the newest is older than a day; resolves to its path (or null). */
  async check(now = Date.now()): Promise<string | null> {
    if (this.running || !this.db.open) return null;
    const newest = listBackups(this.dir).at(-1);
    if (newest && now - statSync(newest.path).mtimeMs < this.everyMs) return null;
    const run = backupOnline(this.db, this.dir, 'daily', backupKeep(), this.freeBytes).catch((error: unknown) => {
      this.onError(error);
      return null;
    });
    this.running = run;
    try {
      return await run;
    } finally {
      this.running = null;
    }
  }

  async stop(): Promise<void> {
    if (this.first) clearTimeout(this.first);
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }
}
