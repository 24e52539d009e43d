import {test} from 'node:test';
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {writeFileSync} from 'node:fs';
import Database from 'better-sqlite3';
import {openDatabase, schemaVersion} from '../../main/node/store/database.js';
import {migrations} from '../../main/node/store/migrations/index.js';
import {Store} from '../../main/node/store/index.js';
import {AppError} from '../../main/common/errors.js';
import {DEFAULT_SAMPLING} from '../../main/common/contract.js';
import {tempDir} from '../helpers/tmp.js';

test('a new database is migrated, in WAL mode, durable and with foreign keys', () => {
  const dir = tempDir();
  try {
    const db = openDatabase(join(dir.path, 'a.sqlite'));
    assert.equal(schemaVersion(db), migrations.length);
    assert.equal(db.pragma('journal_mode', {simple: true}), 'wal');
    assert.equal(db.pragma('synchronous', {simple: true}), 2); // FULL
    assert.equal(db.pragma('foreign_keys', {simple: true}), 1);
    db.close();
    // opening again is a no-op, not a second migration
    const again = openDatabase(join(dir.path, 'a.sqlite'));
    assert.equal(schemaVersion(again), migrations.length);
    again.close();
  } finally {
    dir.cleanup();
  }
});

test('a database written by a newer version is refused and left untouched', () => {
  const dir = tempDir();
  const file = join(dir.path, 'newer.sqlite');
  try {
    openDatabase(file).close();
    const raw = new Database(file);
    raw.pragma(`user_version = ${migrations.length + 5}`);
    raw.exec("CREATE TABLE from_the_future (x TEXT); INSERT INTO from_the_future VALUES ('kept')");
    raw.close();
    assert.throws(
      () => openDatabase(file),
      (error: unknown) => error instanceof AppError && error.code === 'db_newer' && /newer version/.test(error.localised.en) && /更新版本/.test(error.localised.zh),
    );
    const check = new Database(file, {readonly: true});
    assert.equal(check.pragma('user_version', {simple: true}), migrations.length + 5);
    assert.deepEqual(check.prepare('SELECT x FROM from_the_future').get(), {x: 'kept'});
    check.close();
  } finally {
    dir.cleanup();
  }
});

test('a corrupt database file gives a clear error, not a crash', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'corrupt.sqlite');
    writeFileSync(file, Buffer.alloc(8192, 0x5a));
    assert.throws(() => openDatabase(file), (error: unknown) => error instanceof AppError && error.code === 'store_corrupt' && /数据库/.test(error.localised.zh));
  } finally {
    dir.cleanup();
  }
});

test('tables are STRICT: a wrong type is refused by SQLite itself', () => {
  const store = Store.open(':memory:');
  assert.throws(
    () =>
      store.db
        .prepare(
          `INSERT INTO models (id, name, path, kind, architecture, parameter_count, quantization, file_size_bytes, has_chat_template, added_at)
           VALUES ('m', 'm', '/m.gguf', 'base', 'llama', 'many', 'F32', 1, 1, 'now')`,
        )
        .run(),
    /cannot store TEXT value in INTEGER column/,
  );
  store.close();
});

test('consultation message tree: branches, leaf, soft delete, restore, search', () => {
  const store = Store.open(':memory:');
  const repo = store.consultations;
  const id = repo.create({title: '头痛三天', modelId: null, systemPrompt: 'sys', sampling: DEFAULT_SAMPLING});
  const u1 = repo.addMessage(id, {parentId: null, role: 'user', content: '我头痛三天了', status: 'complete'});
  const a1 = repo.addMessage(id, {parentId: u1.id, role: 'assistant', content: '请问疼痛在哪个部位？', status: 'complete'});
  const u2 = repo.addMessage(id, {parentId: a1.id, role: 'user', content: '前额，100% 确定_', status: 'complete'});
  const u2b = repo.addMessage(id, {parentId: a1.id, role: 'user', content: '太阳穴', status: 'complete'});
  const consultation = repo.get(id)!;
  assert.equal(consultation.messages.length, 4);
  assert.equal(consultation.currentLeafId, u2b.id);
  assert.equal(consultation.preview, '太阳穴');
  repo.setCurrentLeaf(id, u2.id);
  assert.equal(repo.get(id)!.currentLeafId, u2.id);
  // the list counts the messages of the branch on screen (u1 → a1 → u2), not of every branch
  assert.equal(repo.list()[0]!.messageCount, 3);
  const a1b = repo.addMessage(id, {parentId: u1.id, role: 'assistant', content: '重新生成的回答', status: 'complete'});
  assert.equal(repo.get(id)!.currentLeafId, a1b.id);
  assert.equal(repo.list()[0]!.messageCount, 2, 'a regenerated first reply: two messages on screen, five stored');
  assert.equal(repo.get(id)!.messages.length, 5);
  repo.setCurrentLeaf(id, u2.id);

  // LIKE wildcards in a search are literal
  assert.equal(repo.list('100%').length, 1);
  assert.equal(repo.list('0% 确定_').length, 1);
  assert.equal(repo.list('%%').length, 0);
  assert.equal(repo.list('_确').length, 0);
  assert.equal(repo.list('前额').length, 1);
  assert.equal(repo.list('头痛三天').length, 1);
  assert.equal(repo.list('没有的内容').length, 0);

  assert.equal(repo.softDelete(id), true);
  assert.equal(repo.list().length, 0);
  assert.equal(repo.get(id), null);
  assert.equal(repo.restore(id), true);
  assert.equal(repo.list().length, 1);

  repo.softDelete(id);
  assert.equal(repo.purgeDeletedBefore(new Date(Date.now() + 1000).toISOString()), 1);
  // messages went with it (ON DELETE CASCADE)
  assert.equal((store.db.prepare('SELECT count(*) AS n FROM messages').get() as {n: number}).n, 0);
  store.close();
});

test('an unused consultation can be replaced; one renamed, changed or with a message cannot', () => {
  const store = Store.open(':memory:');
  const repo = store.consultations;
  const make = () => repo.create({title: '新问诊', modelId: null, systemPrompt: '', sampling: DEFAULT_SAMPLING});
  const later = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 3); // past the clock's millisecond
  const unused = make();
  const renamed = make();
  const changed = make();
  const asked = make();
  later();
  repo.update(renamed, {title: '王女士'});
  repo.update(changed, {sampling: {...DEFAULT_SAMPLING, temperature: 0.2}});
  repo.addMessage(asked, {parentId: null, role: 'user', content: '我头痛', status: 'complete'});
  // a message saved within the same millisecond as the consultation still counts as use
  const askedAtOnce = make();
  repo.addMessage(askedAtOnce, {parentId: null, role: 'user', content: '我发烧', status: 'complete'});
  store.db.prepare('UPDATE consultations SET updated_at = created_at WHERE id = ?').run(askedAtOnce);

  assert.deepEqual([unused, renamed, changed, asked, askedAtOnce].map((id) => repo.softDeleteIfUntouched(id)), [true, false, false, false, false]);
  assert.equal(repo.get(unused), null, 'in the bin');
  assert.equal(repo.restore(unused), true, 'and restorable like any delete');
  assert.equal(repo.list().length, 5);
  store.close();
});

test('replies left streaming by a dead process are marked interrupted', () => {
  const store = Store.open(':memory:');
  const id = store.consultations.create({title: 't', modelId: null, systemPrompt: '', sampling: DEFAULT_SAMPLING});
  const u = store.consultations.addMessage(id, {parentId: null, role: 'user', content: 'q', status: 'complete'});
  const a = store.consultations.addMessage(id, {parentId: u.id, role: 'assistant', content: 'partial', status: 'streaming'});
  assert.equal(store.consultations.markInterruptedReplies(), 1);
  assert.equal(store.consultations.getMessage(id, a.id)!.status, 'interrupted');
  assert.equal(store.consultations.getMessage(id, a.id)!.content, 'partial');
  store.close();
});

test('settings: defaults, update, unknown keys ignored', () => {
  const store = Store.open(':memory:');
  assert.equal(store.settings.get().language, 'zh-CN');
  store.settings.update({language: 'en', hfEndpoint: 'https://mirror.example'});
  store.db.prepare("INSERT INTO settings (key, value) VALUES ('fromNewerVersion', '1')").run();
  const settings = store.settings.get();
  assert.equal(settings.language, 'en');
  assert.equal(settings.hfEndpoint, 'https://mirror.example');
  assert.equal('fromNewerVersion' in settings, false);
  store.close();
});
