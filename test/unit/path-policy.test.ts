import {test} from 'node:test';
import assert from 'node:assert/strict';
import {linkSync, mkdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {readablePath, type PathPolicy} from '../../main/node/path-policy.js';
import {AppError} from '../../main/common/errors.js';
import {importPairs, startServices} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';

test('a path that looks inside an allowed folder but links out of it is refused, naming where it leads', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const allowed = join(dir.path, 'allowed');
  const elsewhere = join(dir.path, 'elsewhere');
  mkdirSync(allowed);
  mkdirSync(elsewhere);
  writeFileSync(join(elsewhere, 'rows.jsonl'), '{}\n');
  writeFileSync(join(allowed, 'own.jsonl'), '{}\n');
  symlinkSync(elsewhere, join(allowed, 'shared'));
  const policy: PathPolicy = {confined: true, roots: () => [allowed]};

  assert.equal(await readablePath(policy, join(allowed, 'own.jsonl')), join(allowed, 'own.jsonl'));
  const typed = join(allowed, 'shared', 'rows.jsonl');
  await assert.rejects(readablePath(policy, typed), (error: unknown) => {
    assert.ok(error instanceof AppError && error.code === 'path_denied');
    const real = join(realpathSync(elsewhere), 'rows.jsonl');
    assert.match(error.localised.zh, new RegExp(`经符号链接实际指向“${real.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}”`));
    assert.ok(error.localised.en.includes(`a symbolic link to "${real}"`), error.localised.en);
    return true;
  });
});

test("the workstation's own files are never an import source or an export target, allowed folder or not", async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const projectId = await importPairs(s, [{question: '感冒能喝酒吗？', response_chosen: '不建议。', response_rejected: '可以。'}]);
  const database = join(s.dataDir, 'zhongjing.sqlite');
  const before = readFileSync(database).subarray(0, 16).toString('latin1');
  // an annotation export over the live database, "overwrite" ticked: refused, the store untouched
  for (const target of [database, `${database}-wal`, join(s.dataDir, 'secrets', 'x.jsonl'), join(s.dataDir, 'backups', 'x.jsonl'), join(s.dataDir, 'zhongjing.lock'), join(s.dataDir, 'logs', 'serve.log')]) {
    const refused = await s.callRaw('annotation.export', {projectId, format: 'ranking', outPath: target, overwrite: true});
    assert.ok(!refused.ok && refused.error.code === 'path_denied', `${target}: ${JSON.stringify(refused)}`);
    assert.match(refused.error.message.zh, /工作站自己的数据/);
  }
  assert.equal(readFileSync(database).subarray(0, 16).toString('latin1'), before, 'still an SQLite file');
  assert.equal(s.services.store.annotation.items(projectId).length, 1, 'and still readable');
  const folder = await s.callRaw('datasets.export', {id: 'x', format: 'sharegpt', outDir: join(s.dataDir, 'secrets')});
  assert.ok(!folder.ok && ['path_denied', 'not_found'].includes(folder.error.code));
  // reading them as data is refused too (an import's rejected rows quote the lines they read)
  mkdirSync(join(s.dataDir, 'secrets'), {recursive: true});
  writeFileSync(join(s.dataDir, 'secrets', 'key.txt'), 'sk-secret');
  const read = await s.callRaw('annotation.import', {paths: [join(s.dataDir, 'secrets', 'key.txt')]});
  assert.ok(!read.ok && read.error.code === 'path_denied', JSON.stringify(read));
  // through a symbolic link as well
  symlinkSync(database, join(s.dataDir, 'innocent.jsonl'));
  const linked = await s.callRaw('annotation.export', {projectId, format: 'ranking', outPath: join(s.dataDir, 'innocent.jsonl'), overwrite: true});
  assert.ok(!linked.ok && linked.error.code === 'path_denied', JSON.stringify(linked));
  // and through a hard link (another name for the same file)
  linkSync(database, join(s.dataDir, 'hard.jsonl'));
  const hard = await s.callRaw('annotation.export', {projectId, format: 'ranking', outPath: join(s.dataDir, 'hard.jsonl'), overwrite: true});
  assert.ok(!hard.ok && hard.error.code === 'path_denied', JSON.stringify(hard));
  assert.equal(readFileSync(database).subarray(0, 16).toString('latin1'), before, 'still an SQLite file');
  // an ordinary export next to them still works
  assert.equal((await s.call('annotation.export', {projectId, format: 'ranking', outPath: join(s.dataDir, 'ranking.jsonl')})).records, 1);
});
