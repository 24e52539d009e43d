// Training as a job process: kill -9 in the middle of a run, resume, and the loss sequence (and
// the final weights and optimizer state) equal those of a run that never stopped; a graceful stop
// is resumable the same way; the CLI function prints one JSON object per step.
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {createHash} from 'node:crypto';
import {runTrainCommand} from '../../main/cli/commands/train.js';
import {forkEngine} from '../../main/node/engine/fork-engine.js';
import {Services} from '../../main/node/services/index.js';
import {datasetInputs} from '../../main/node/training/inputs.js';
import {defaultJobConfig, startTrainingJob} from '../../main/node/training/job.js';
import {RunDir, type Metrics, type TrainConfig} from '../../main/node/training/record.js';
import {THREADS, tinyModel, trainerEnv, type TrainerEnv} from './training-support.js';

let env: TrainerEnv;
let dir: string;
let data: string;

// A small consultation set written by this test (the repo ships no third-party data).
const DIALOGUES = [
  ['我头痛三天了。', '请问有没有发热？', '有一点发热。', '建议多休息，多喝水。'],
  ['最近总是失眠。', '失眠多久了？', '一个月了。', '注意休息，睡前不要喝咖啡。'],
  ['血压有点高。', '高压是多少？', '一百五十。', '需要注意饮食，每天检查血压。'],
  ['孩子咳嗽有痰。', '咳嗽几天了？', '三天。', '多喝水，如果发热请到医院。'],
  ['胃有点痛。', '吃饭后痛吗？', '是的。', '注意饮食，少吃辛辣。'],
  ['皮肤很痒。', '有没有红肿？', '有一些。', '可能是过敏，请到医院检查。'],
  ['腰痛很久了。', '有没有受伤？', '没有。', '注意休息，可以做推拿。'],
  ['经常头晕。', '血压正常吗？', '不太清楚。', '建议检查血压和血糖。'],
];

before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-train-resume-'));
  data = join(dir, 'consult.jsonl');
  writeFileSync(
    data,
    DIALOGUES.map((d) => JSON.stringify({conversations: d.map((value, i) => ({from: i % 2 ? 'gpt' : 'human', value}))})).join('\n') + '\n',
  );
});
after(() => rmSync(dir, {recursive: true, force: true}));

async function config(out: string): Promise<TrainConfig> {
  return {
    ...defaultJobConfig({kind: 'sft', model: await tinyModel(env.addon!, 'qwen2'), inputs: datasetInputs([data]), out}),
    steps: 12,
    lr: 1e-2,
    warmupSteps: 2,
    nCtx: 128,
    rows: 2,
    accum: 2,
    pack: true,
    valFraction: 0.25,
    evalEvery: 4,
    checkpointEvery: 3,
    keepCheckpoints: 2,
    lora: {rank: 4, alpha: 8, dropout: 0.1, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
    seed: 9,
    threads: THREADS,
  };
}

/** What must be identical between runs (timings excluded). */
function comparable(metrics: Metrics[]) {
  return metrics.map((m) => (m.type === 'step' ? {step: m.step, loss: m.loss, lr: m.lr, gradNorm: m.gradNorm, tokens: m.tokens} : m));
}

const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

test('kill -9 mid-run, resume: the same losses, weights and optimizer state as an uninterrupted run', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const runsA = join(dir, 'runs-a');
  const runsB = join(dir, 'runs-b');

  const straight = startTrainingJob({runsDir: runsA, config: await config(join(dir, 'a.gguf'))});
  const a = await straight.done;
  assert.equal(a.status, 'completed', a.error ?? '');

  const victim = startTrainingJob({runsDir: runsB, config: await config(join(dir, 'b.gguf'))});
  let killedAfter = 0;
  victim.onEvent((event) => {
    if (event.type === 'step' && event.step === 7 && !killedAfter) {
      killedAfter = event.step;
      victim.kill();
    }
  });
  const killed = await victim.done;
  assert.equal(killed.status, 'failed');
  assert.match(killed.error ?? '', /SIGKILL/);
  assert.equal(new RunDir(victim.runDir).read().status, 'failed');

  const resumed = startTrainingJob({runsDir: runsB, resume: victim.runId});
  let resumedFrom: number | null = null;
  resumed.onEvent((event) => {
    if (event.type === 'started') resumedFrom = event.resumedFrom;
  });
  const b = await resumed.done;
  assert.equal(b.status, 'completed', b.error ?? '');
  assert.equal(b.record!.progress.resumes, 1);

  const metricsA = new RunDir(straight.runDir).readMetrics();
  const metricsB = new RunDir(victim.runDir).readMetrics();
  const losses = metricsA.filter((m) => m.type === 'step').map((m) => (m as {loss: number}).loss.toFixed(4));
  t.diagnostic(`killed after step ${killedAfter} was reported; resumed from checkpoint ${resumedFrom}; losses ${losses.join(' ')}`);
  assert.ok(resumedFrom !== null && resumedFrom >= 3 && resumedFrom <= 9, `resumed from ${resumedFrom}`);
  assert.deepEqual(comparable(metricsB), comparable(metricsA));
  // the final checkpoints hold LoRA + AdamW moments + counters: bit-identical
  const lastA = new RunDir(straight.runDir).checkpoints()[0]!;
  const lastB = new RunDir(victim.runDir).checkpoints()[0]!;
  assert.equal(lastA.step, 12);
  assert.equal(sha(join(lastB.dir, 'state.gguf')), sha(join(lastA.dir, 'state.gguf')));
  assert.equal(new RunDir(victim.runDir).checkpoints().length, 2, 'older checkpoints are pruned');
});

test('the CLI goes through the service: a paused run resumes, prints one JSON object per step, and is in the store', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const dataDir = join(dir, 'cli-data');
  const out = join(dir, 'c.gguf');
  const model = await tinyModel(env.addon!, 'qwen2');
  const args = ['--data-dir', dataDir, '--json'];
  const lines: string[] = [];
  const first = await runTrainCommand(
    ['sft', '--model', model, '--data', data, '--out', out, '--steps', '12', '--lr', '0.01', '--warmup', '2', '--ctx', '128', '--batch', '2', '--accum', '2',
      '--val', '0.25', '--eval-every', '4', '--checkpoint-every', '0', '--rank', '4', '--alpha', '8', '--seed', '9', ...args],
    {out: (l) => lines.push(l), err: () => {}, onEvent: (event, control) => event.type === 'step' && event.step === 2 && control.pause()},
  );
  assert.equal(first.status, 'interrupted');
  const runId = first.runId;
  const record = new RunDir(join(dataDir, 'training', 'runs', runId)).read();
  assert.ok(record.progress.lastCheckpoint !== null && record.progress.lastCheckpoint >= 2, 'a checkpoint at the pause');

  lines.length = 0;
  const result = await runTrainCommand(['--resume', runId, ...args], {out: (l) => lines.push(l), err: () => {}});
  assert.equal(result.status, 'completed');
  const objects = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  const steps = objects.filter((o) => o.type === 'step');
  assert.ok(steps.length >= 1, 'step lines');
  for (const s of steps) {
    for (const key of ['step', 'loss', 'lr', 'tokens_per_s']) assert.equal(typeof s[key], 'number', `${key} in ${JSON.stringify(s)}`);
  }
  assert.equal(steps.at(-1)!.step, 12);
  const done = objects.at(-1)!;
  assert.equal(done.type, 'done');
  assert.equal(done.run_id, runId);
  assert.equal(done.adapter, out);

  // the same run, as the training screen sees it: in the store, with its curve and provenance
  const services = new Services({dataDir, spawnEngine: forkEngine});
  try {
    const run = services.training.get(runId);
    assert.equal(run.state, 'completed');
    assert.equal(run.metrics.filter((m) => Number.isFinite(m.loss)).length, 12, 'every step\'s loss is in the store');
    assert.equal(run.sources[0]!.type, 'dataset');
    assert.match(run.cliCommand, /^zhongjing train sft --model .* --data .*--steps 12 .*--lr 0\.01/);
    assert.ok(run.adapterModelId, 'the adapter is registered for a consultation');
  } finally {
    await services.close();
  }
  t.diagnostic(`CLI lines: ${lines.length}; last step ${JSON.stringify(steps.at(-1))}`);
});
