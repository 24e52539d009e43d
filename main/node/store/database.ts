// Opens the workstation's SQLite store: WAL for concurrent readers, synchronous=FULL so a commit
// is on disk before we answer "saved" (anything a person typed or ranked must survive a kill or
// power cut), foreign keys on, and numbered migrations applied in one transaction.

import Database from 'better-sqlite3';
import {mkdirSync} from 'node:fs';
import {dirname} from 'node:path';
import {AppError} from '../../common/errors.js';
import {migrations} from './migrations/index.js';

export type Db = Database.Database;

export function openDatabase(file: string): Db {
  if (file !== ':memory:') mkdirSync(dirname(file), {recursive: true});
  let db: Db;
  try {
    db = new Database(file, {timeout: 5000});
  } catch (error) {
    throw new AppError('io', {
      zh: `无法打开数据库 ${file}：${(error as Error).message}`,
      en: `Cannot open the database ${file}: ${(error as Error).message}`,
    });
  }
  try {
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = FULL');
    db.pragma('foreign_keys = ON');
    migrate(db);
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

export function migrate(db: Db): void {
  const current = schemaVersion(db);
  const latest = migrations.length;
  if (current > latest) {
    throw new AppError('db_newer', {
      zh: `此数据库由更新版本的仲景写入（架构版本 ${current}，本程序支持到 ${latest}）。请升级程序；为保护数据，本程序不会修改它。`,
      en: `This database was written by a newer version of Zhongjing (schema ${current}; this build knows up to ${latest}). Please upgrade; to protect your data it is left untouched.`,
    }, {current, latest});
  }
  if (current === latest) return;
  db.transaction(() => {
    for (const migration of migrations.slice(current)) db.exec(migration.sql);
    db.pragma(`user_version = ${latest}`);
  }).immediate();
}
