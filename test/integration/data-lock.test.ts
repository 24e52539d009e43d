// One writer per data directory, with real processes: a second `serve` and a CLI write command on
// the directory of a running `serve` are refused with data_locked's message (and touch nothing:
// the first one's running import survives); after the first is killed with SIGKILL its stale
// lock does not block the next start.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {hostname} from 'node:os';
import {acquireDataLock, LOCK_FILE, ownerAlive} from '../../main/node/data-lock.js';
import {runCli, startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

test('lock: taken once, refused while held, released, a dead owner is stale', (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const lock = acquireDataLock(dir.path, 'test');
  assert.throws(() => acquireDataLock(dir.path, 'cli'), (e: {code?: string}) => e.code === 'data_locked', 'a second taker is refused');
  lock.release();
  assert.equal(existsSync(join(dir.path, LOCK_FILE)), false, 'released lock is removed');
  // a lock left by a process that no longer runs
  writeFileSync(join(dir.path, LOCK_FILE), JSON.stringify({pid: 2 ** 22 + 12345, host: hostname(), kind: 'serve', startedAt: '2026-01-01T00:00:00Z', procStart: null}));
  const again = acquireDataLock(dir.path, 'test');
  assert.equal(JSON.parse(readFileSync(join(dir.path, LOCK_FILE), 'utf8')).pid, process.pid, 'the stale lock was replaced');
  again.release();
  // our own pid with another start time is a reused pid, not the owner
  assert.equal(ownerAlive({pid: process.pid, host: hostname(), kind: 'serve', startedAt: 'x', procStart: existsSync('/proc/self/stat') ? '1' : null}), !existsSync('/proc/self/stat'), 'pid reuse is seen on Linux');
  // an empty lock file (crash between create and write) is judged stale after a short wait
  writeFileSync(join(dir.path, LOCK_FILE), '');
  acquireDataLock(dir.path, 'test').release();
});

test('two processes on one data dir: the second serve and a CLI write are refused; kill -9 leaves a stale lock that does not block', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const first = await startServe(['--data-dir', dir.path]);
  // (stop() waits for an exit that already happened after the SIGKILL below)
  t.after(() => (first.child.signalCode === null ? first.stop() : undefined));
  const lock = JSON.parse(readFileSync(join(dir.path, LOCK_FILE), 'utf8'));
  assert.equal(lock.pid, first.child.pid, 'the lock names the serving process');
  assert.equal(lock.kind, 'serve');

  await assert.rejects(startServe(['--data-dir', dir.path]), (e: Error) => {
    assert.match(e.message, /exited with 1/, 'the second serve exits non-zero');
    assert.match(e.message, new RegExp(`in use by another Zhongjing process \\(zhongjing serve, pid ${first.child.pid}`), e.message);
    assert.doesNotMatch(e.message, /at .*\.ts:\d+/, 'no stack trace');
    return true;
  });
  const data = join(dir.path, 'd.jsonl');
  writeFileSync(data, `${JSON.stringify({instruction: '头痛怎么办？', output: '注意休息，必要时就医。'})}\n`);
  const write = runCli(['data', 'import', data, '--data-dir', dir.path], {env: {ZHONGJING_LANG: 'zh-CN'}});
  assert.equal(write.status, 1, write.stderr);
  assert.match(write.stderr, /正在被另一个仲景进程使用（zhongjing serve，进程号/, write.stderr);

  // store check and backup read beside the running serve; restore is a writer and is refused
  const check = runCli(['store', 'check', '--data-dir', dir.path]);
  assert.equal(check.status, 0, `check beside a running serve: ${check.stderr}`);
  const backup = runCli(['store', 'backup', '--data-dir', dir.path]);
  assert.equal(backup.status, 0, `online backup beside a running serve: ${backup.stderr}`);
  const restore = runCli(['store', 'restore', '--latest', '--data-dir', dir.path]);
  assert.equal(restore.status, 1, restore.stdout);
  assert.match(restore.stderr, /in use by another Zhongjing process/, restore.stderr);

  // the first one is untouched and still answers
  const answer = await fetch(`${first.base}/api/datasets.list`, {method: 'POST', headers: {Authorization: `Bearer ${first.token}`}, body: '{}'});
  assert.deepEqual(await answer.json(), {ok: true, result: []}, 'the refused writer imported nothing');

  first.child.kill('SIGKILL');
  await new Promise((r) => first.child.once('exit', r));
  assert.ok(existsSync(join(dir.path, LOCK_FILE)), 'kill -9 leaves its lock behind');
  const after = runCli(['data', 'import', data, '--data-dir', dir.path]);
  assert.equal(after.status, 0, `a dead owner's lock is stale: ${after.stderr}`);
  assert.equal(existsSync(join(dir.path, LOCK_FILE)), false, 'the CLI gives the lock back when it ends');
});
