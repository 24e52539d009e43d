// A damaged store is refused at start with a way out; backups are taken before migrations, daily
// and on demand, kept N deep, and a restore brings the data back.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createHash, randomBytes} from 'node:crypto';
import {closeSync, existsSync, openSync, readdirSync, readFileSync, statSync, writeFileSync, writeSync} from 'node:fs';
import {join} from 'node:path';
import Database from 'better-sqlite3';
import {AppError} from '../../main/common/errors.js';
import {openDatabase, schemaVersion} from '../../main/node/store/database.js';
import {BackupSchedule, backupOnline, backupSync, checkStoreFile, listBackups} from '../../main/node/store/health.js';
import {migrations} from '../../main/node/store/migrations/index.js';
import {Store} from '../../main/node/store/index.js';
import {runCli, startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

/** A real store with a few MB in it, closed. */
function filledStore(file: string): void {
  const store = Store.open(file);
  store.db.exec('CREATE TABLE filler (n INTEGER PRIMARY KEY, blob BLOB NOT NULL) STRICT');
  const insert = store.db.prepare('INSERT INTO filler (blob) VALUES (?)');
  store.db.transaction(() => {
    for (let i = 0; i < 3000; i++) insert.run(randomBytes(1000));
  })();
  store.settings.update({hfEndpoint: 'https://hf-mirror.com'});
  store.close();
}

/** 256 KB of garbage in the middle of the file, as a failing disk would leave it. */
function corruptMiddle(file: string): void {
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  writeSync(fd, randomBytes(256 * 1024), 0, 256 * 1024, Math.floor(size / 2 / 4096) * 4096);
  closeSync(fd);
}

test('256 KB of garbage in the middle: serve refuses to start, writes nothing into it, keeps a copy and says how to restore', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'zhongjing.sqlite');
  filledStore(file);
  assert.ok(statSync(file).size > 2_000_000, 'a store of a few MB');
  corruptMiddle(file);
  const before = sha(file);
  await assert.rejects(startServe(['--data-dir', dir.path], {env: {ZHONGJING_LANG: 'en'}}), (e: Error) => {
    assert.match(e.message, /exited with 1/);
    assert.match(e.message, /The database file is damaged and was not opened/, e.message);
    assert.match(e.message, /zhongjing store restore --latest/);
    assert.doesNotMatch(e.message, /    at /, 'no stack trace');
    return true;
  });
  assert.equal(sha(file), before, 'the damaged file was not written to');
  const copies = readdirSync(join(dir.path, 'damaged')).filter((n) => n.endsWith('.sqlite'));
  assert.equal(copies.length, 1, 'a copy of the damaged file is kept');
  assert.equal(sha(join(dir.path, 'damaged', copies[0]!)), before);
  // a second start on the same damage does not make a second copy
  assert.throws(() => Store.open(file), (e: unknown) => e instanceof AppError && e.code === 'store_corrupt' && /数据库文件已损坏/.test(e.localised.zh));
  assert.equal(readdirSync(join(dir.path, 'damaged')).filter((n) => n.endsWith('.sqlite')).length, 1);
  const check = runCli(['store', 'check', '--data-dir', dir.path]);
  assert.equal(check.status, 1, 'store check exits 1 on a damaged store');
  assert.match(check.stdout, /The database is damaged/);
});

test('a zero-length store file is refused, not silently replaced by an empty store', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'zhongjing.sqlite');
    writeFileSync(file, '');
    assert.throws(() => Store.open(file), (e: unknown) => e instanceof AppError && e.code === 'store_corrupt' && /empty \(0 bytes\)/.test(e.message));
    assert.equal(statSync(file).size, 0, 'left as it was');
    // a new store never passes through a zero-length file: it is built aside and renamed in
    const fresh = join(dir.path, 'fresh.sqlite');
    openDatabase(fresh).close();
    assert.ok(statSync(fresh).size > 0);
    assert.equal(existsSync(`${fresh}.new`), false);
  } finally {
    dir.cleanup();
  }
});

test('backup before a migration, kept N deep; the daily schedule backs up once a day', async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'zhongjing.sqlite');
    // a store one schema version behind
    const raw = new Database(file);
    for (const m of migrations.slice(0, -1)) raw.exec(m.sql);
    raw.pragma(`user_version = ${migrations.length - 1}`);
    raw.close();
    const db = openDatabase(file);
    assert.equal(schemaVersion(db), migrations.length);
    const backups = join(dir.path, 'backups');
    const before = listBackups(backups);
    assert.equal(before.length, 1, 'one backup before the migration');
    assert.match(before[0]!.name, new RegExp(`-before-v${migrations.length}\\.sqlite$`));
    const old = new Database(before[0]!.path, {readonly: true});
    assert.equal(old.pragma('user_version', {simple: true}), migrations.length - 1, 'the backup holds the store as it was');
    old.close();

    for (let i = 0; i < 4; i++) backupSync(db, backups, 'manual', 3);
    assert.equal(listBackups(backups).length, 3, 'kept 3 deep');
    assert.equal(listBackups(backups).some((b) => b.reason.startsWith('before-')), false, 'the oldest went first');

    const schedule = new BackupSchedule(db, join(dir.path, 'daily'), (e) => assert.fail(String(e)));
    const first = await schedule.check();
    assert.ok(first && checkStoreFile(first).ok, 'no backup yet: one is taken, online, and it is healthy');
    assert.equal(await schedule.check(), null, 'not again the same day');
    assert.ok(await schedule.check(Date.now() + 25 * 3600_000), 'again a day later');
    await schedule.stop();
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('a backup is never what fills the disk: without room for it and as much again, it is skipped with disk_full', async () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'zhongjing.sqlite');
    filledStore(file);
    const db = openDatabase(file);
    const size = statSync(file).size;
    const backups = join(dir.path, 'backups');
    const tooLittle = () => 2 * size; // the backup would fit, but leave the store no room
    await assert.rejects(backupOnline(db, backups, 'manual', 7, tooLittle), (e: unknown) => e instanceof AppError && e.code === 'disk_full' && /磁盘空间不足/.test(e.localised.zh));
    assert.throws(() => backupSync(db, backups, 'manual', 7, tooLittle), (e: unknown) => e instanceof AppError && e.code === 'disk_full');
    const errors: unknown[] = [];
    const schedule = new BackupSchedule(db, backups, (e) => errors.push(e), undefined, tooLittle);
    assert.equal(await schedule.check(), null, 'the daily backup is skipped');
    assert.equal((errors[0] as AppError | undefined)?.code, 'disk_full', 'and the reason logged');
    assert.deepEqual(listBackups(backups), [], 'nothing was written');
    assert.ok(await backupOnline(db, backups, 'manual', 7, () => 3 * size + 64 * 1024 * 1024), 'with room it is taken');
    await schedule.stop();
    db.close();
  } finally {
    dir.cleanup();
  }
});

test('CLI: store backup, damage, store restore --latest brings the data back; the damaged file is kept', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const data = join(dir.path, 'd.jsonl');
  writeFileSync(data, `${JSON.stringify({instruction: '头痛怎么办？', output: '注意休息，必要时就医。'})}\n`);
  const dataDir = join(dir.path, 'data');
  assert.equal(runCli(['data', 'import', data, '--name', '头痛', '--data-dir', dataDir]).status, 0);
  const file = join(dataDir, 'zhongjing.sqlite');
  // pad the store so the garbage lands on pages in use
  const store = Store.open(file);
  store.db.exec('CREATE TABLE filler (blob BLOB NOT NULL) STRICT');
  store.db.transaction(() => {
    for (let i = 0; i < 3000; i++) store.db.prepare('INSERT INTO filler VALUES (?)').run(randomBytes(1000));
  })();
  store.close();

  const backup = runCli(['store', 'backup', '--data-dir', dataDir, '--json']);
  assert.equal(backup.status, 0, backup.stderr);
  const backupPath = JSON.parse(backup.stdout).backup as string;
  assert.ok(checkStoreFile(backupPath, true).ok, 'the backup is a healthy store');
  assert.equal(runCli(['store', 'check', '--data-dir', dataDir]).status, 0);

  corruptMiddle(file);
  const damaged = sha(file);
  const refused = runCli(['data', 'list', '--data-dir', dataDir]);
  assert.equal(refused.status, 1);
  assert.match(refused.stderr, /damaged/);
  const listed = runCli(['store', 'restore', '--data-dir', dataDir]);
  assert.equal(listed.status, 0);
  assert.ok(listed.stdout.includes(backupPath), 'restore without an argument lists the backups');
  const restored = runCli(['store', 'restore', '--latest', '--data-dir', dataDir, '--json']);
  assert.equal(restored.status, 0, restored.stderr);
  const {previous} = JSON.parse(restored.stdout) as {previous: string};
  assert.equal(sha(previous), damaged, 'the damaged file was moved aside, not deleted');
  const list = runCli(['data', 'list', '--data-dir', dataDir, '--json']);
  assert.equal(list.status, 0, list.stderr);
  assert.deepEqual((JSON.parse(list.stdout) as {name: string}[]).map((d) => d.name), ['头痛'], 'the data is back');
});
