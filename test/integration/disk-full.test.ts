// Disk full, by fault injection at SQLite's own statement surface: while the fault is on, every
// statement that writes throws the SqliteError SQLITE_FULL that better-sqlite3 raises on a full
// disk (reads still work, as on a real full disk). A streamed reply keeps streaming from memory,
// the person is told (storage.diskFull, disk_full), nothing acknowledged is lost, the services
// keep answering, and everything held is written by itself once the fault is lifted.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import type {ApiEvent, Message} from '../../main/common/contract.js';
import {replyHold} from '../helpers/hold.js';
import {startServices, waitFor} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const holdDir = tempDir();
const hold = replyHold(holdDir.path);
Object.assign(process.env, hold.env);
test.after(() => holdDir.cleanup());

/** Makes every writing statement of every better-sqlite3 database in this process fail with
 * SQLITE_FULL while `on`. Statements are patched on their shared prototype, so statements the
 * repositories prepared earlier are covered too. */
function diskFullFault(db: Database.Database) {
  const statement = db.prepare('SELECT 1');
  const proto = Object.getPrototypeOf(statement) as {run: (...args: unknown[]) => unknown};
  const realRun = proto.run;
  let on = false;
  let refused = 0;
  proto.run = function (this: {reader: boolean}, ...args: unknown[]) {
    if (on && !this.reader) {
      refused++;
      throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
    }
    return realRun.apply(this, args);
  };
  return {
    set on(value: boolean) {
      on = value;
    },
    get refused() {
      return refused;
    },
    restore: () => (proto.run = realRun),
  };
}

const diskEvents = (events: ApiEvent[]) => events.filter((e): e is Extract<ApiEvent, {type: 'storage.diskFull'}> => e.type === 'storage.diskFull');

test('disk full during a streamed reply: it streams on from memory, the person is told, the services keep answering, and it is saved once there is room', async (t) => {
  const s = startServices();
  const fault = diskFullFault(s.services.store.db);
  t.after(async () => {
    fault.restore();
    hold.release();
    await s.close();
  });
  const model = await s.call('models.add', {path: await tinyModelPath()});
  const c = await s.call('consultations.create', {modelId: model.id});
  await s.call('consultations.update', {id: c.id, sampling: {maxTokens: 48, temperature: 0, seed: 3}});

  hold.hold();
  const {userMessage, assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '我咳嗽一周了，晚上更厉害。'});
  await waitFor(() => s.events.some((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id), 60_000, 'first text');
  await new Promise((r) => setTimeout(r, 2200)); // past the 2-second partial save
  fault.on = true;
  hold.release(); // the next delta's partial save and the final save both find the disk full

  const finished = await waitFor(() => {
    const e = s.events.find((e) => e.type === 'chat.finished' && e.message.id === assistantMessage.id);
    return e?.type === 'chat.finished' ? e.message : undefined;
  }, 60_000, 'reply finished');
  const streamed = s.events.filter((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id).map((e) => (e.type === 'chat.delta' ? e.delta : '')).join('');
  assert.equal(finished.status, 'complete', 'the reply finished, from memory');
  assert.equal(finished.content, streamed, 'the whole streamed text is held');
  assert.ok(fault.refused >= 1, 'the writes really failed');
  assert.deepEqual(diskEvents(s.events).map((e) => e.full), [true], 'the person was told once');
  assert.match(diskEvents(s.events)[0]!.message.zh, /磁盘已满/);
  assert.equal(s.services.storage.pendingWrites, 1, 'the reply waits in memory');

  // still answering; a write asked for meanwhile is refused clearly, not as internal
  const info = await s.callRaw('app.info', {});
  assert.equal(info.ok, true);
  const refused = await s.callRaw('consultations.create', {});
  assert.equal(refused.ok, false);
  assert.equal(!refused.ok && refused.error.code, 'disk_full');
  const send = await s.callRaw('chat.send', {consultationId: c.id, text: '还需要做什么检查？'});
  assert.equal(!send.ok && send.error.code, 'disk_full', 'a send that could not be saved is not acknowledged');
  const before = await s.call('consultations.get', {id: c.id});
  assert.equal(before.messages.length, 2, 'the refused send left nothing behind');
  assert.equal(before.messages.find((m) => m.id === userMessage.id)?.content, '我咳嗽一周了，晚上更厉害。', 'the acknowledged question is on disk');

  fault.on = false; // space freed
  await waitFor(() => diskEvents(s.events).length === 2, 15_000, 'recovery');
  assert.equal(diskEvents(s.events)[1]!.full, false);
  const after = await s.call('consultations.get', {id: c.id});
  const saved = after.messages.find((m) => m.id === assistantMessage.id) as Message;
  assert.equal(saved.status, 'complete');
  assert.equal(saved.content, streamed, 'the held reply was written by itself');
  assert.equal(s.services.storage.pendingWrites, 0);
  const again = await s.call('chat.send', {consultationId: c.id, text: '还需要做什么检查？', parentId: assistantMessage.id});
  assert.equal(again.userMessage.parentId, assistantMessage.id, 'and writing works again');
  await s.services.consultations.idle();
});

test('disk full during an import: a clear error, no half dataset, the next import works once there is room', async (t) => {
  const s = startServices();
  const fault = diskFullFault(s.services.store.db);
  t.after(async () => {
    fault.restore();
    await s.close();
  });
  const content = Array.from({length: 1200}, (_, i) => JSON.stringify({instruction: `第${i}个问题：头痛怎么办？`, output: '注意休息，必要时就医。'})).join('\n');
  // the fault starts after the dataset row exists, in the middle of the row batches
  let inserts = 0;
  const unsubscribe = s.services.bus.subscribe((e) => {
    if (e.type === 'dataset.importProgress' && ++inserts === 1) fault.on = true;
  });
  fault.on = false;
  const {jobId} = await s.call('datasets.import', {content, fileName: 'big.jsonl'});
  // progress may not be reported before the first batch on a small file: fail the first batch then
  if (!inserts) fault.on = true;
  const done = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === jobId), 30_000, 'import end');
  unsubscribe();
  assert.equal(done.type === 'dataset.imported' && done.datasetId, null);
  assert.match(done.type === 'dataset.imported' ? done.error?.en ?? '' : '', /disk is full/);
  assert.equal((await s.callRaw('datasets.list', {})).ok, true, 'still answering');
  assert.ok(diskEvents(s.events).some((e) => e.full));

  fault.on = false;
  await waitFor(() => diskEvents(s.events).some((e) => !e.full), 15_000, 'recovery');
  assert.deepEqual(await s.call('datasets.list', {}), [], 'the half import was removed once there was room');
  const {jobId: second} = await s.call('datasets.import', {content, fileName: 'big.jsonl'});
  const ok = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === second), 30_000, 'second import');
  assert.equal(ok.type === 'dataset.imported' && ok.report?.rowsImported, 1200);
});

test('disk full while a training run reports its steps: the services stay up and the steps are indexed once there is room', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  if (!(await s.call('training.capabilities', {})).available) return t.skip('the trainer addon is not built here');
  const rows = Array.from({length: 16}, (_, i) => JSON.stringify({query: `我发热${i + 1}天了，怎么办？`, response: '请多喝水，体温超过38.5度可以用退热药。'})).join('\n');
  const {datasetId} = await s.services.datasets.importNow({content: rows, fileName: 'fever.jsonl', deidentify: false});
  const model = await s.call('models.add', {path: await tinyModelPath()});
  const fault = diskFullFault(s.services.store.db);
  t.after(() => (fault.on = false));
  const run = await s.call('training.start', {kind: 'sft', modelId: model.id, datasets: [{datasetId}], config: {steps: 4, checkpointEvery: 0, evalEvery: 2, maxSequenceLength: 96, warmupSteps: 0}});
  fault.on = true; // from the first step on, nothing the job reports can be written
  const result = await s.services.training.finished(run.id);
  assert.equal(result?.status, 'completed', 'the job itself finished');
  assert.ok(fault.refused > 0, 'writes were refused');
  assert.ok(s.events.some((e) => e.type === 'storage.diskFull' && e.full), 'the person is told the disk is full');
  assert.equal((await s.call('app.info', {})).version.length > 0, true, 'the services still answer');
  fault.on = false;
  await waitFor(() => s.services.storage.pendingWrites === 0, 10_000, 'held writes flushed');
  const steps = new Set(s.services.store.training.metrics(run.id).map((m) => m.step));
  assert.deepEqual([1, 2, 3, 4].filter((step) => steps.has(step)), [1, 2, 3, 4], 'every step is indexed');
  const detail = await s.call('training.get', {id: run.id});
  assert.equal(detail.state, 'completed');
  assert.equal(detail.step, 4);
});
