// PPO on the tiny model, a toy alignment that mirrors the paper: an SFT model that opens its
// replies either with a follow-up question or with advice, a reward model trained to prefer the
// follow-up question (proactive inquiry), then PPO from the SFT adapter against that RM — the
// held-out RM reward rises, the KL to the reference stays under its target, and the share of
// held-out replies that open with a question rises. Also: a guard-rail stops a run with a tiny KL
// bound and records why; kill -9 then resume gives the same metrics; GAE and the KL estimators
// against hand computations.
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {RolloutSample} from '../../main/common/training.js';
import {datasetInputs} from '../../main/node/training/inputs.js';
import {defaultJobConfig, startTrainingJob} from '../../main/node/training/job.js';
import {distinct2, gae, klEstimate, whiten} from '../../main/node/training/objectives/ppo.js';
import {RunDir, type EvalMetrics, type Metrics, type StepMetrics, type TrainConfig} from '../../main/node/training/record.js';
import {runTraining} from '../../main/node/training/run.js';
import {tinyModel, trainerEnv, type TrainerEnv} from './training-support.js';

let env: TrainerEnv;
let dir: string;
let sft: string;
let rm: string;
before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-train-ppo-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

const SYMPTOMS = ['头痛', '发热', '咳嗽', '腹痛', '胸闷', '头晕', '恶心', '失眠'];
const question = (i: number) => `我${SYMPTOMS[i % SYMPTOMS.length]}${(i % 3) + 1}天了`;
const ASK = '请问还有其他不舒服吗？';
const ADVISE = '多喝水，注意休息。';

function write(name: string, rows: object[]): string {
  const path = join(dir, name);
  writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

async function base(kind: 'sft' | 'rm' | 'ppo', inputs: ReturnType<typeof datasetInputs>, overrides: Partial<TrainConfig>): Promise<TrainConfig> {
  return {
    // one thread: on this 2-core machine llama.cpp's decoding with 2 threads under load is ~30× slower
    ...defaultJobConfig({kind, model: await tinyModel(env.addon!, 'llama'), inputs, out: join(dir, `${kind}-${Math.random().toString(36).slice(2)}.gguf`), threads: 1}),
    nCtx: 96, accum: 1, checkpointEvery: 0, warmupSteps: 0,
    lora: {rank: 8, alpha: 16, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
    ...overrides,
  };
}

/** The SFT adapter (both openings, half each) and the RM (asking beats advising), once. */
async function prerequisites(): Promise<void> {
  if (sft) return;
  const dialogues = write('sft.jsonl', Array.from({length: 32}, (_, i) => ({query: question(i), response: i % 2 ? ASK : ADVISE})));
  const sftRun = await runTraining({runDir: join(dir, 'sft'), runId: 'sft', config: await base('sft', datasetInputs([dialogues]), {steps: 60, lr: 1e-2, rows: 4, valFraction: 0})});
  sft = sftRun.result!.out;
  const pairs = write('pairs.jsonl', Array.from({length: 32}, (_, i) => ({question: question(i), response_chosen: ASK, response_rejected: ADVISE})));
  const rmRun = await runTraining({runDir: join(dir, 'rm'), runId: 'rm', config: await base('rm', datasetInputs([pairs]), {steps: 20, lr: 5e-3, rows: 4, valFraction: 0})});
  rm = rmRun.result!.out;
}

async function ppoConfig(overrides: Partial<TrainConfig> = {}, ppo: Partial<TrainConfig['ppo']> = {}): Promise<TrainConfig> {
  await prerequisites();
  const prompts = write('prompts.jsonl', Array.from({length: 80}, (_, i) => ({query: question(i), response: ASK})));
  // This toy is chaotic: 12 PPO steps on a random-weight model whose RM only ever saw question vs
  // advice, so a policy that drifts into garbage after "请问" is scored well (reward hacking). Seed
  // sweeps (seeds 0–19; a different CPU's summation order acts like another seed): 40 prompts (8
  // held out), KL coefficient 0.05, failed on 3 of 8; 80 prompts (16 held out) on 4 of 20;
  // with the KL coefficient at 0.5, which holds the policy near the SFT model's two clean
  // openings, on 1 of 20. The default seed passes in every setting.
  const c = await base('ppo', datasetInputs([prompts]), {steps: 12, lr: 1e-3, rows: 8, valFraction: 0.2, evalEvery: 6, initAdapter: sft, rewardModel: rm, ...overrides});
  // a low temperature: the tiny model's untrained output head bounds its logits to about ±1.3, so at
  // temperature 1 every token is almost equally likely and no reply would look like its training
  return {...c, ppo: {...c.ppo, maxNewTokens: 12, temperature: 0.1, klTarget: 6, ppoEpochs: 4, miniBatches: 2, klCoef: 0.5, ...ppo}};
}

const asksShare = (samples: RolloutSample[], step: number) => {
  const at = samples.filter((s) => s.step === step);
  return at.filter((s) => s.response.startsWith('请问')).length / at.length;
};

function samplesOf(runDir: string): RolloutSample[] {
  return readFileSync(join(runDir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as RolloutSample);
}

test('GAE, KL estimators, whitening and distinct-2 equal hand computations', () => {
  // γ = 1, λ = 0.95, rewards only at the end: A_t = Σ (γλ)^k δ_{t+k}
  const {advantages, returns} = gae([0, 0, 1], [0.5, 0.2, 0.1], 1, 0.95);
  const d = [0 + 0.2 - 0.5, 0 + 0.1 - 0.2, 1 + 0 - 0.1];
  const expected = [d[0]! + 0.95 * (d[1]! + 0.95 * d[2]!), d[1]! + 0.95 * d[2]!, d[2]!];
  advantages.forEach((a, i) => assert.ok(Math.abs(a - expected[i]!) < 1e-12, `A_${i}`));
  returns.forEach((r, i) => assert.ok(Math.abs(r - (expected[i]! + [0.5, 0.2, 0.1][i]!)) < 1e-12, `R_${i}`));
  assert.equal(klEstimate(-1, -1.5, 1), 0.5);
  assert.ok(Math.abs(klEstimate(-1, -1.5, 3) - (Math.exp(-0.5) - 1 + 0.5)) < 1e-12);
  assert.ok(klEstimate(-2, -1, 3) >= 0, 'k3 is never negative');
  const w = whiten([1, 2, 3]);
  assert.ok(Math.abs(w.reduce((a, b) => a + b, 0)) < 1e-9 && Math.abs(w[2]! - 1) < 1e-6);
  assert.equal(distinct2([[1, 2, 1, 2], [3]]), 2 / 3);
});

test('PPO raises the held-out reward of the toy alignment, KL stays under its target, and more replies open with a question', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const config = await ppoConfig();
  const runDir = join(dir, 'ppo');
  const record = await runTraining({runDir, runId: 'ppo', config});
  const metrics = new RunDir(runDir).readMetrics();
  const evals = metrics.filter((m): m is EvalMetrics => m.type === 'eval');
  const steps = metrics.filter((m): m is StepMetrics => m.type === 'step');
  const first = evals[0]!.values!;
  const last = evals.at(-1)!.values!;
  const samples = samplesOf(runDir);
  const before = asksShare(samples, 0);
  const afterShare = asksShare(samples, evals.at(-1)!.step);
  const rollout = steps.map((s) => s.values!['rollout/tokens_per_s']!);
  t.diagnostic(`held-out RM reward ${first['eval/reward']!.toFixed(3)} → ${last['eval/reward']!.toFixed(3)}; KL ${first['eval/kl']!.toFixed(3)} → ${last['eval/kl']!.toFixed(3)} (target ${config.ppo.klTarget}); replies opening with a question ${(before * 100).toFixed(0)}% → ${(afterShare * 100).toFixed(0)}%`);
  t.diagnostic(`rollouts ${Math.round(rollout.reduce((a, b) => a + b, 0) / rollout.length)} tok/s; peak RSS ${((steps.at(-1)!.values!['memory/peak_rss_bytes'] ?? 0) / 2 ** 20).toFixed(0)} MiB; steps: ${steps.map((s) => `${s.step}: score ${s.values!['objective/scores']!.toFixed(2)} kl ${s.values!['objective/kl']!.toFixed(2)} clip ${s.values!['policy/clipfrac_avg']!.toFixed(2)}`).join(' | ')}`);
  t.diagnostic(`samples at 0: ${samples.filter((s) => s.step === 0).slice(0, 4).map((s) => JSON.stringify(s.response)).join(' ')}; at the end: ${samples.filter((s) => s.step === evals.at(-1)!.step).slice(0, 4).map((s) => JSON.stringify(s.response)).join(' ')}`);
  assert.equal(record.status, 'completed');
  for (const key of ['objective/kl', 'objective/entropy', 'objective/rlhf_reward', 'objective/scores', 'policy/approxkl_avg', 'policy/clipfrac_avg', 'loss/policy_avg', 'loss/value_avg', 'val/clipfrac_avg', 'val/ratio', 'response_length']) {
    assert.ok(steps.every((s) => Number.isFinite(s.values![key])), `${key} on every step`);
  }
  assert.ok(last['eval/reward']! > first['eval/reward']!, 'the held-out reward rises');
  assert.ok(last['eval/kl']! < config.ppo.klTarget, 'KL stays under its target');
  assert.ok(afterShare > before, 'more held-out replies open with a question');
  assert.ok(record.best && record.best.metric === 'eval/reward', 'the best checkpoint by held-out reward is the result');
});

test('a guard-rail stops the run by itself: a tiny KL bound, with the reason recorded', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const config = await ppoConfig({steps: 8, evalEvery: 2}, {klStop: 1e-6});
  const runDir = join(dir, 'ppo-guard');
  const record = await runTraining({runDir, runId: 'guard', config});
  t.diagnostic(`stopped at step ${record.stopped?.step}: ${record.stopped?.reason.en}`);
  assert.equal(record.status, 'completed');
  assert.ok(record.stopped && record.stopped.step >= 2 && record.stopped.step < config.steps!, `stopped at a check before the end (${record.stopped?.step})`);
  assert.equal(record.progress.step, record.stopped!.step, 'no step after the stop');
  assert.match(record.stopped!.reason.en, /KL to the reference .* passed its bound/);
  assert.match(record.stopped!.reason.zh, /超过了上限/);
  assert.ok(record.result, 'the best checkpoint is kept as the result');
});

test('kill -9 mid-run, resume: PPO gives the same metrics as an uninterrupted run', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const config = await ppoConfig({steps: 6, evalEvery: 3, checkpointEvery: 2});
  const straight = startTrainingJob({runsDir: join(dir, 'runs-a'), config: {...config, out: join(dir, 'ppo-a.gguf')}});
  assert.equal((await straight.done).status, 'completed');
  const victim = startTrainingJob({runsDir: join(dir, 'runs-b'), config: {...config, out: join(dir, 'ppo-b.gguf')}});
  victim.onEvent((event) => {
    if (event.type === 'step' && event.step === 3) victim.kill();
  });
  assert.equal((await victim.done).status, 'failed');
  const resumed = startTrainingJob({runsDir: join(dir, 'runs-b'), resume: victim.runId});
  assert.equal((await resumed.done).status, 'completed');
  const timing = new Set(['rollout/tokens_per_s', 'memory/peak_rss_bytes']);
  const comparable = (ms: Metrics[]) =>
    ms.map((m) => ({
      type: m.type, step: m.step, loss: m.type === 'step' ? m.loss : m.evalLoss,
      values: Object.fromEntries(Object.entries(m.values ?? {}).filter(([k]) => !timing.has(k))),
    }));
  const a = comparable(new RunDir(straight.runDir).readMetrics());
  const b = comparable(new RunDir(victim.runDir).readMetrics());
  t.diagnostic(`ppo losses ${a.filter((m) => m.type === 'step').map((m) => m.loss.toFixed(4)).join(' ')}`);
  assert.deepEqual(b, a);
});

test('CLI: train ppo prints every step and check in words, and one JSON object per step with TRL names', async (t) => {
  if (env.skip) return t.skip(env.skip);
  await prerequisites();
  const {runTrainCommand} = await import('../../main/cli/commands/train.js');
  const prompts = write('cli-prompts.jsonl', Array.from({length: 12}, (_, i) => ({query: question(i), response: ASK})));
  const args = ['ppo', '--model', await tinyModel(env.addon!, 'llama'), '--policy-init', sft, '--rm', rm, '--data', prompts, '--steps', '2', '--eval-every', '2',
    '--ctx', '96', '--max-new-tokens', '6', '--temperature', '0.1', '--batch', '4', '--threads', '1', '--data-dir', join(dir, 'cli-data')];
  const human: string[] = [];
  const first = await runTrainCommand([...args, '--out', join(dir, 'cli-ppo.gguf')], {out: (l) => human.push(l), err: () => {}});
  assert.equal(first.status, 'completed');
  assert.ok(human.some((l) => /^eval {2}step 2 {2}eval\/reward -?\d/.test(l)), `a held-out line without a loss: ${human.join('\n')}`);
  assert.ok(!human.some((l) => l.includes('memory/')), 'no raw byte counts in the words');
  const json: string[] = [];
  await runTrainCommand([...args, '--out', join(dir, 'cli-ppo-2.gguf'), '--json'], {out: (l) => json.push(l), err: () => {}});
  const step = json.map((l) => JSON.parse(l) as Record<string, unknown>).find((o) => o.type === 'step')!;
  for (const key of ['objective/kl', 'objective/scores', 'policy/clipfrac_avg', 'loss/value_avg', 'val/ratio']) assert.equal(typeof step[key], 'number', key);
});
