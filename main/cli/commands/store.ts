// `zhongjing store check|backup|restore`: the way out of a damaged store.
//  - check: integrity_check without writing (safe while serve or the app runs: a WAL reader);
//    exit 1 when damaged. Also lists the backups.
//  - backup [--out FILE]: an online backup (SQLite's backup API) into <data>/backups or FILE;
//    safe while serve runs, it reads one consistent snapshot.
//  - restore [FILE | --latest]: without an argument lists the backups. Takes the data-directory
//    lock (refused while serve or the app runs), checks the backup, moves the current file (and
//    its -wal/-shm) into <data>/damaged/ — never deletes it — and puts the backup in place.

import Database from 'better-sqlite3';
import {copyFileSync, existsSync, mkdirSync, renameSync, rmSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {AppError} from '../../common/errors.js';
import {acquireDataLock} from '../../node/data-lock.js';
import {dataPaths} from '../../node/paths.js';
import {backupKeep, backupOnline, backupsDirFor, checkStoreFile, damagedDirFor, listBackups} from '../../node/store/health.js';
import {resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: `用法：
  zhongjing store check [--json]                 检查数据库（只读，可在程序运行时执行）
  zhongjing store backup [--out 文件]            立即备份（在线备份，可在程序运行时执行）
  zhongjing store restore [备份文件 | --latest]  不带参数时列出备份；恢复前需先关闭程序`,
  en: `usage:
  zhongjing store check [--json]                 check the database (read-only, fine while the app runs)
  zhongjing store backup [--out FILE]            back up now (online backup, fine while the app runs)
  zhongjing store restore [BACKUP | --latest]    without an argument lists the backups; close the app first`,
};

export async function storeCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const {values, positionals} = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {'data-dir': {type: 'string'}, json: {type: 'boolean'}, out: {type: 'string'}, latest: {type: 'boolean'}},
  });
  if (!sub || !['check', 'backup', 'restore'].includes(sub)) throw usageError(USAGE);
  const paths = dataPaths(resolveDataDir(values['data-dir']));
  const file = paths.database;
  const backupsDir = backupsDirFor(file);
  const missing = () =>
    new AppError('not_found', {zh: `数据目录中没有数据库：${file}`, en: `No database in the data directory: ${file}`}, {file});

  if (sub === 'check') {
    if (!existsSync(file)) throw missing();
    const check = checkStoreFile(file, true);
    const backups = listBackups(backupsDir);
    if (values.json) process.stdout.write(`${JSON.stringify({file, ...check, backups})}\n`);
    else {
      process.stdout.write(`${check.ok ? say({zh: `数据库完好：${file}`, en: `The database is healthy: ${file}`}) : say({zh: `数据库已损坏：${file}`, en: `The database is damaged: ${file}`})}\n`);
      if (!check.ok) for (const problem of check.problems.slice(0, 20)) process.stdout.write(`  ${problem}\n`);
      process.stdout.write(`${say({zh: `备份（${backups.length} 个，位于 ${backupsDir}）：`, en: `Backups (${backups.length}, in ${backupsDir}):`})}\n`);
      for (const b of backups) process.stdout.write(`  ${b.name}  ${b.bytes} B\n`);
    }
    if (!check.ok) process.exitCode = 1;
    return;
  }

  if (sub === 'backup') {
    if (!existsSync(file)) throw missing();
    const check = checkStoreFile(file);
    if (!check.ok)
      throw new AppError('store_corrupt', {
        zh: `数据库已损坏，不做备份（以免覆盖较早的完好备份）：${check.problems.slice(0, 3).join('; ')}`,
        en: `The database is damaged; no backup taken (it would push out an older, healthy one): ${check.problems.slice(0, 3).join('; ')}`,
      });
    const db = new Database(file, {readonly: true, fileMustExist: true});
    try {
      let path: string;
      if (values.out) {
        const out = resolve(values.out);
        if (existsSync(out)) throw new AppError('validation', {zh: `目标文件已存在：${out}`, en: `The target file already exists: ${out}`});
        await db.backup(`${out}.part`);
        renameSync(`${out}.part`, out);
        path = out;
      } else path = await backupOnline(db, backupsDir, 'manual', backupKeep());
      process.stdout.write(`${values.json ? JSON.stringify({backup: path}) : say({zh: `已备份到 ${path}`, en: `Backed up to ${path}`})}\n`);
    } finally {
      db.close();
    }
    return;
  }

  // restore
  const backups = listBackups(backupsDir);
  const chosen = values.latest ? backups.at(-1)?.path : positionals[0] ? resolve(positionals[0]) : undefined;
  if (!chosen) {
    if (values.latest) throw new AppError('not_found', {zh: `没有备份：${backupsDir}`, en: `No backups in ${backupsDir}`});
    process.stdout.write(`${say({zh: `备份（${backupsDir}）：`, en: `Backups (${backupsDir}):`})}\n`);
    for (const b of backups) process.stdout.write(`  ${b.path}  ${b.bytes} B\n`);
    process.stdout.write(`${say({zh: '用 zhongjing store restore 文件 或 --latest 恢复。', en: 'Restore with zhongjing store restore FILE or --latest.'})}\n`);
    return;
  }
  const check = checkStoreFile(chosen, true);
  if (!check.ok)
    throw new AppError('store_corrupt', {
      zh: `备份文件也无法使用，未恢复：${chosen}（${check.problems.slice(0, 3).join('; ')}）`,
      en: `The backup cannot be used either; nothing restored: ${chosen} (${check.problems.slice(0, 3).join('; ')})`,
    });
  mkdirSync(paths.root, {recursive: true});
  const lock = acquireDataLock(paths.root, 'cli');
  try {
    let movedTo: string | null = null;
    if (existsSync(file)) {
      const dir = damagedDirFor(file);
      mkdirSync(dir, {recursive: true});
      movedTo = join(dir, `zhongjing-replaced-${new Date().toISOString().replace(/[-:.]/g, '')}.sqlite`);
      renameSync(file, movedTo);
      for (const suffix of ['-wal', '-shm']) if (existsSync(`${file}${suffix}`)) renameSync(`${file}${suffix}`, `${movedTo}${suffix}`);
    }
    rmSync(`${file}.part`, {force: true});
    copyFileSync(chosen, `${file}.part`);
    renameSync(`${file}.part`, file);
    process.stdout.write(
      `${values.json ? JSON.stringify({restored: chosen, previous: movedTo}) : say({
        zh: `已从 ${chosen} 恢复数据库。${movedTo ? `原来的文件已移到 ${movedTo}。` : ''}`,
        en: `Restored the database from ${chosen}.${movedTo ? ` The previous file was moved to ${movedTo}.` : ''}`,
      })}\n`,
    );
  } finally {
    lock.release();
  }
}
