// Disk full for real: a `zhongjing serve` process whose data directory is a small tmpfs, filled
// to the last byte while a reply streams and before an import. Needs root (mount); skipped
// otherwise — the fault-injection test (disk-full.test.ts) covers the same paths everywhere.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {spawnSync} from 'node:child_process';
import {closeSync, mkdirSync, openSync, rmSync, writeSync} from 'node:fs';
import {dirname, join} from 'node:path';
import WebSocket from 'ws';
import type {ApiEvent} from '../../main/common/contract.js';
import {startServe} from '../helpers/cli.js';
import {replyHold} from '../helpers/hold.js';
import {waitFor} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

function mountTmpfs(dir: string, size: string): string | null {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs';
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], {encoding: 'utf8'});
  return result.status === 0 ? null : `mount failed: ${result.stderr.trim()}`;
}

/** Writes a file until the disk is full; returns its path (remove it to free the space). */
function fillDisk(dir: string): string {
  const file = join(dir, 'filler.bin');
  const fd = openSync(file, 'w');
  const chunk = Buffer.alloc(16 * 1024, 1);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
    for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
      try {
        for (;;) writeSync(fd, chunk, 0, n);
      } catch {
        /* smaller pieces until not one byte fits */
      }
    }
  } finally {
    closeSync(fd);
  }
  return file;
}

test('serve on a full tmpfs: the reply streams on, disk_full is said, the server stays up and saves everything once space is freed', async (t) => {
  const dir = tempDir();
  const data = join(dir.path, 'data');
  mkdirSync(data);
  const skip = mountTmpfs(data, '8m');
  if (skip) {
    dir.cleanup();
    return t.skip(skip);
  }
  const hold = replyHold(dir.path);
  // the tiny model lives outside the data directory: allow its folder (serve holds typed paths to allowed folders)
  const serve = await startServe(['--data-dir', data, '--allow-dir', dirname(await tinyModelPath())], {env: {...hold.env, ZHONGJING_LANG: 'en'}});
  const socket = new WebSocket(`${serve.base.replace('http', 'ws')}/api/events?token=${serve.token}`);
  const events: ApiEvent[] = [];
  socket.on('message', (m) => events.push(JSON.parse(String(m)) as ApiEvent));
  await new Promise((r) => socket.once('open', r));
  t.after(async () => {
    socket.close();
    hold.release();
    await serve.stop();
    spawnSync('umount', [data]);
    dir.cleanup();
  });
  const call = async (method: string, input: unknown) =>
    (await (await fetch(`${serve.base}/api/${method}`, {method: 'POST', headers: {Authorization: `Bearer ${serve.token}`}, body: JSON.stringify(input)})).json()) as {ok: boolean; result?: any; error?: {code: string}};

  const model = (await call('models.add', {path: await tinyModelPath()})).result;
  const c = (await call('consultations.create', {modelId: model.id})).result;
  await call('consultations.update', {id: c.id, sampling: {maxTokens: 400, temperature: 0.8, seed: 5}});
  hold.hold();
  const sent = await call('chat.send', {consultationId: c.id, text: '我发烧两天了，体温三十九度，需要去医院吗？'});
  assert.equal(sent.ok, true);
  const replyId = sent.result.assistantMessage.id as string;
  await waitFor(() => events.some((e) => e.type === 'chat.delta' && e.messageId === replyId), 60_000, 'first text');
  const filler = fillDisk(data);
  await new Promise((r) => setTimeout(r, 2200));
  hold.release();
  const finished = await waitFor(() => events.find((e) => e.type === 'chat.finished' && e.message.id === replyId), 60_000, 'reply finished');
  const streamed = events.filter((e) => e.type === 'chat.delta' && e.messageId === replyId).map((e) => (e.type === 'chat.delta' ? e.delta : '')).join('');
  assert.equal(finished.type === 'chat.finished' && finished.message.content, streamed, 'the whole reply, from memory');
  assert.equal(serve.child.exitCode, null, 'the server is still running');
  const full = events.some((e) => e.type === 'storage.diskFull' && e.full);
  t.diagnostic(`the reply's writes ${full ? 'found the disk full (storage.diskFull sent)' : 'fitted in the space SQLite had already reserved'}`);

  // an import on the full disk: a clear error, the server stays up
  const rows = Array.from({length: 3000}, (_, i) => JSON.stringify({instruction: `问题${i}：头痛怎么办？`, output: '注意休息，必要时就医。'.repeat(4)})).join('\n');
  const started = await call('datasets.import', {content: rows, fileName: 'full.jsonl'});
  if (started.ok) {
    const done = await waitFor(() => events.find((e) => e.type === 'dataset.imported' && e.jobId === started.result.jobId), 60_000, 'import end');
    assert.match(done.type === 'dataset.imported' ? done.error?.en ?? '' : '', /disk is full/, 'the import says the disk is full');
  } else assert.equal(started.error?.code, 'disk_full');
  assert.ok(events.some((e) => e.type === 'storage.diskFull' && e.full), 'the person was told the disk is full');
  assert.equal((await call('app.info', {})).ok, true, 'still answering');

  rmSync(filler); // space freed
  await waitFor(() => events.some((e) => e.type === 'storage.diskFull' && !e.full), 20_000, 'recovery');
  const stored = (await call('consultations.get', {id: c.id})).result;
  const reply = stored.messages.find((m: {id: string}) => m.id === replyId);
  assert.equal(reply.content, streamed, 'the reply is on disk');
  assert.equal(reply.status, 'complete');
  assert.deepEqual((await call('datasets.list', {})).result, [], 'no half import left');
  const again = await call('datasets.import', {content: rows.split('\n').slice(0, 100).join('\n'), fileName: 'small.jsonl'});
  const ok = await waitFor(() => events.find((e) => e.type === 'dataset.imported' && e.jobId === again.result.jobId), 60_000, 'second import');
  assert.equal(ok.type === 'dataset.imported' && ok.report?.rowsImported, 100, 'imports work again');
});
