// Training runs through the service, as the training screen and serve start them: a dataset of
// the store becomes a frozen version and the job's input, metrics reach the store and the bus,
// pause/resume go through a checkpoint, and the finished adapter is registered and used in a
// consultation. Also `zhongjing train sft --data <dataset name> --json`.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {startServices, waitFor} from '../helpers/services.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';
import type {AppError} from '../../main/common/errors.js';

/** A store dataset of n fever dialogues and the tiny model, registered. */
async function feverDatasetAndModel(s: ReturnType<typeof startServices>, n = 24): Promise<{datasetId: string; model: {id: string}}> {
  const file = join(s.dataDir, 'fever.jsonl');
  writeDialogues(file, n);
  const {datasetId} = await s.services.datasets.importNow({path: file, deidentify: false});
  return {datasetId, model: await s.call('models.add', {path: await tinyModelPath()})};
}

function writeDialogues(path: string, n = 24): void {
  writeFileSync(
    path,
    Array.from({length: n}, (_, i) =>
      JSON.stringify({conversation: [{role: 'user', content: `我发热${(i % 5) + 1}天了，怎么办？`}, {role: 'assistant', content: '请多喝水，体温超过38.5度可以用退热药。'}]}),
    ).join('\n'),
  );
}

test('an SFT run from a store dataset: metrics, pause and resume, adapter used in a consultation', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const capabilities = await s.call('training.capabilities', {});
  if (!capabilities.available) {
    // CI builds the addon; here it would mean the build is broken, which must not pass silently
    assert.fail(`training unavailable: ${capabilities.reason?.en}`);
  }
  const {datasetId, model} = await feverDatasetAndModel(s);
  const run = await s.call('training.start', {
    kind: 'sft',
    modelId: model.id,
    datasets: [{datasetId}],
    config: {steps: 6, checkpointEvery: 2, evalEvery: 3, gradientAccumulation: 1, maxSequenceLength: 128, warmupSteps: 1, learningRate: 1e-3},
  });
  assert.equal((await s.call('datasets.get', {id: datasetId})).version.state, 'frozen', 'a run freezes the version it used');
  // one run at a time: a second start is refused while this one runs, naming it
  await assert.rejects(
    s.call('training.start', {kind: 'sft', modelId: model.id, datasets: [{datasetId}], config: {steps: 2}}),
    (error: AppError) => error.code === 'busy' && error.localised.zh.includes(run.name) && /one run trains at a time/i.test(error.localised.en),
  );

  // pause after the first steps, then resume from the checkpoint
  await waitFor(() => s.events.some((e) => e.type === 'training.metric' && e.runId === run.id && e.metric.step >= 2), 120_000, 'first steps');
  await s.call('training.pause', {id: run.id});
  await waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === run.id && e.run.state === 'paused'), 60_000, 'paused');
  await s.call('training.resume', {id: run.id});
  await waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === run.id && e.run.state === 'completed'), 180_000, 'completed');

  const detail = await s.call('training.get', {id: run.id});
  assert.equal(detail.state, 'completed');
  assert.equal(detail.step, 6);
  assert.deepEqual(detail.metrics.filter((m) => !Number.isNaN(m.loss)).map((m) => m.step), [1, 2, 3, 4, 5, 6], 'one metric per step, none doubled by the resume');
  assert.ok(detail.metrics.some((m) => m.evalLoss !== null), 'eval loss recorded');
  assert.equal(detail.datasets[0]?.datasetId, datasetId);
  assert.match(detail.datasets[0]!.contentHash, /^[0-9a-f]{64}$/);
  assert.match(detail.provenance.baseModelSha256 ?? '', /^[0-9a-f]{64}$/);
  assert.ok(detail.checkpoints.length >= 1);
  assert.ok(detail.adapterModelId, 'the adapter is registered as a model');

  // try it in a consultation: base model + the new adapter
  const adapter = (await s.call('models.list', {})).find((m) => m.id === detail.adapterModelId)!;
  assert.equal(adapter.kind, 'adapter');
  const c = await s.call('consultations.create', {modelId: model.id});
  await s.call('consultations.update', {id: c.id, adapterIds: [adapter.id], sampling: {maxTokens: 8, temperature: 0}});
  const sent = await s.call('chat.send', {consultationId: c.id, text: '我发热2天了，怎么办？'});
  const reply = await waitFor(() => {
    const e = s.events.find((x) => x.type === 'chat.finished' && x.message.id === sent.assistantMessage.id);
    return e?.type === 'chat.finished' ? e.message : undefined;
  }, 60_000, 'reply');
  assert.equal(reply.status, 'complete', JSON.stringify(reply.meta.error));
  assert.deepEqual(reply.meta.adapterIds, [adapter.id]);
});

test('finish now: a running run, and a paused one, end after one more step with their adapter kept', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const {datasetId, model} = await feverDatasetAndModel(s, 12);
  const config = {steps: 500, checkpointEvery: 2, evalEvery: 0, gradientAccumulation: 1, maxSequenceLength: 128, warmupSteps: 0, validationFraction: 0.25};
  const ended = (id: string) => waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === id && ['completed', 'failed', 'cancelled'].includes(e.run.state)), 180_000, 'ended');

  const running = await s.call('training.start', {kind: 'sft', modelId: model.id, datasets: [{datasetId}], config});
  await waitFor(() => s.events.some((e) => e.type === 'training.metric' && e.runId === running.id && e.metric.step >= 2), 120_000, 'first steps');
  await s.call('training.finish', {id: running.id});
  await ended(running.id);
  const done = await s.call('training.get', {id: running.id});
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  assert.ok(done.step >= 2 && done.step < 500, `ended early, at step ${done.step}`);
  assert.equal(done.stopped?.reason.zh, '按要求提前结束');
  assert.ok(done.metrics.some((m) => m.step === done.step && m.evalLoss !== null), 'evaluated at the step it ended, so the best is chosen with it');
  assert.ok(done.adapterModelId && existsSync(done.adapterPath!), 'its adapter is kept and registered');

  const paused = await s.call('training.start', {kind: 'sft', modelId: model.id, datasets: [{datasetId}], config});
  await waitFor(() => s.events.some((e) => e.type === 'training.metric' && e.runId === paused.id && e.metric.step >= 2), 120_000, 'first steps');
  await s.call('training.pause', {id: paused.id});
  await waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === paused.id && e.run.state === 'paused'), 60_000, 'paused');
  const pausedAt = (await s.call('training.get', {id: paused.id})).step;
  await s.call('training.finish', {id: paused.id});
  await ended(paused.id);
  const after = await s.call('training.get', {id: paused.id});
  assert.equal(after.state, 'completed', JSON.stringify(after.error));
  assert.equal(after.step, pausedAt + 1, 'one step from its checkpoint, then the result');
  assert.ok(after.adapterModelId);
  await assert.rejects(s.call('training.finish', {id: paused.id}), (error: AppError) => error.code === 'validation');
});

test('CLI: train sft --data <dataset name> --json prints steps and the adapter', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'fever.jsonl');
  writeDialogues(file, 12);
  assert.equal(runCli(['data', 'import', file, '--name', '发热', '--data-dir', dir.path]).status, 0);
  const out = join(dir.path, 'fever-lora.gguf');
  const result = runCli(['train', 'sft', '--model', await tinyModelPath(), '--data', '发热', '--out', out, '--steps', '3', '--accum', '1', '--ctx', '128', '--json', '--data-dir', dir.path]);
  assert.equal(result.status, 0, result.stderr);
  const lines = result.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const steps = lines.filter((l) => l.type === 'step');
  assert.deepEqual(steps.map((l) => l.step), [1, 2, 3]);
  for (const step of steps) for (const key of ['loss', 'lr', 'tokens_per_s']) assert.equal(typeof step[key], 'number', key);
  const done = lines.at(-1);
  assert.equal(done.type, 'done');
  assert.equal(done.adapter, out);
  assert.ok(existsSync(out));
  assert.ok(done.run_id);
});

test('the result is the best checkpoint by validation; the user can keep the last step instead, and back', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const {datasetId, model} = await feverDatasetAndModel(s, 16);
  // a learning rate far too high: the validation loss falls, then rises, so the best is early
  const run = await s.call('training.start', {
    kind: 'sft', modelId: model.id, datasets: [{datasetId}],
    config: {steps: 12, evalEvery: 1, checkpointEvery: 0, gradientAccumulation: 1, maxSequenceLength: 128, warmupSteps: 0, learningRate: 0.3, validationFraction: 0.25, dropout: 0},
  });
  await waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === run.id && (e.run.state === 'completed' || e.run.state === 'failed')), 180_000, 'completed');
  const done = await s.call('training.get', {id: run.id});
  assert.equal(done.state, 'completed', JSON.stringify(done.error));
  const evals = done.metrics.filter((m) => m.evalLoss !== null && m.step > 0).map((m) => m.evalLoss!);
  t.diagnostic(`eval losses ${evals.map((x) => x.toFixed(3)).join(' ')}; best at step ${done.best?.step}`);
  assert.ok(done.best, 'a best checkpoint');
  assert.equal(done.best.value, Math.min(...evals), 'the best is the lowest validation loss');
  assert.ok(done.best.step < done.step, 'with this learning rate the best is an early step');
  assert.equal(done.result.step, 'best');
  assert.equal(done.result.lastAvailable, true);
  const adapterBefore = done.adapterModelId;
  const last = await s.call('training.useResult', {id: run.id, step: 'last'});
  assert.equal(last.result.step, 'last');
  assert.notEqual(last.adapterModelId, adapterBefore, 'the registered adapter follows the choice');
  const models = await s.call('models.list', {});
  assert.ok(models.some((m) => m.id === last.adapterModelId && !m.missing));
  assert.ok(!models.some((m) => m.id === adapterBefore), 'the old registration is gone');
  const back = await s.call('training.useResult', {id: run.id, step: 'best'});
  assert.equal(back.result.step, 'best');

  // a second run of the same model and data would have the same name: it is told apart
  const again = await s.call('training.start', {kind: 'sft', modelId: model.id, datasets: [{datasetId}], config: {steps: 1, evalEvery: 0, checkpointEvery: 0, gradientAccumulation: 1, maxSequenceLength: 128}});
  assert.equal(again.name, `${run.name} (2)`);
  await waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === again.id && (e.run.state === 'completed' || e.run.state === 'failed')), 180_000, 'second run');
});
