// Opens the workstation's SQLite store: WAL for concurrent readers, synchronous=FULL so a commit
// is on disk before we answer "saved" (anything a person typed or ranked must survive a kill or
// power cut), foreign keys on, and numbered migrations applied in one transaction.

import Database from 'better-sqlite3';
import {existsSync, mkdirSync, renameSync, rmSync, statSync} from 'node:fs';
import {dirname} from 'node:path';
import {AppError} from '../../common/errors.js';
import {migrations} from './migrations/index.js';
import {backupSync, backupsDirFor, checkOpenDatabase, corruptStoreError, keepDamagedCopy} from './health.js';

export type Db = Database.Database;

/** Opens (creating or migrating) the store. An existing file is checked first (see health.ts):
 * a damaged or zero-length one is refused with `store_corrupt` and a copy is kept. */
export function openDatabase(file: string): Db {
  if (file !== ':memory:') {
    mkdirSync(dirname(file), {recursive: true});
    if (!existsSync(file)) createFresh(file);
    else if (statSync(file).size === 0) throw corruptStoreError(file, {ok: false, problems: ['the file is empty (0 bytes)']}, keepDamagedCopy(file));
  }
  return openExisting(file);
}

/** A new store is built beside its final name and renamed into place when migrated, so a
 * zero-length or half-made `zhongjing.sqlite` is never ours: it is always damage. */
function createFresh(file: string): void {
  const part = `${file}.new`;
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${part}${suffix}`, {force: true});
  const db = openExisting(part, false);
  db.close(); // the last connection checkpoints the WAL into the file and removes it
  renameSync(part, file);
}

function openExisting(file: string, check = file !== ':memory:'): Db {
  let db: Db;
  try {
    db = new Database(file, {timeout: 5000});
  } catch (error) {
    throw new AppError('io', {
      zh: `无法打开数据库 ${file}：${(error as Error).message}`,
      en: `Cannot open the database ${file}: ${(error as Error).message}`,
    });
  }
  if (check) {
    // before anything writes to it
    const health = checkOpenDatabase(db);
    if (!health.ok) {
      db.close();
      throw corruptStoreError(file, health, keepDamagedCopy(file));
    }
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db, file === ':memory:' ? null : backupsDirFor(file));
  } catch (error) {
    db.close();
    if (error instanceof AppError) throw error;
    throw new AppError('io', {
      zh: `数据库 ${file} 无法使用（文件可能已损坏）：${(error as Error).message}`,
      en: `The database ${file} cannot be used (it may be corrupt): ${(error as Error).message}`,
    });
  }
  return db;
}

export function schemaVersion(db: Db): number {
  return db.pragma('user_version', {simple: true}) as number;
}

/** Applies the missing migrations in one transaction; an existing store (schema > 0) is backed
 * up into `backupDir` first. */
export function migrate(db: Db, backupDir: string | null = null): void {
  const current = schemaVersion(db);
  const latest = migrations.length;
  if (current > latest) {
    throw new AppError('db_newer', {
      zh: `此数据库由更新版本的仲景写入（架构版本 ${current}，本程序支持到 ${latest}）。请升级程序；为保护数据，本程序不会修改它。`,
      en: `This database was written by a newer version of Zhongjing (schema ${current}; this build knows up to ${latest}). Please upgrade; to protect your data it is left untouched.`,
    }, {current, latest});
  }
  if (current === latest) return;
  if (current > 0 && backupDir) {
    try {
      backupSync(db, backupDir, `before-v${latest}`);
    } catch (error) {
      // no room for a copy: the migration still runs in one transaction (all or nothing), as
      // it did before backups existed; said on stderr
      if (!(error instanceof AppError && error.code === 'disk_full')) throw error;
      process.stderr.write(`[zhongjing] migrating without a backup: ${error.message}\n`);
    }
  }
  db.transaction(() => {
    for (const migration of migrations.slice(current)) db.exec(migration.sql);
    db.pragma(`user_version = ${latest}`);
  }).immediate();
}
