// The reward model and DPO end to end on the tiny model.
// - The RM learns a preference it can see: on generated K=3 rankings where the better answer asks a
//   follow-up question before advising (the paper's "proactive inquiry"), held-out pairwise
//   accuracy is far above chance (its 95 % interval is printed and must exclude 0.5).
// - DPO raises the chosen − rejected log-prob margin on held-out pairs, and its exported adapter,
//   loaded in node-llama-cpp, gives chosen answers a higher likelihood than the base model does.
// - kill -9 then resume gives the same losses and metrics for RM and DPO.
// - An annotation project ranked through the API trains an RM with no file export in between,
//   its provenance names the annotators, and training.score scores answers with it.
// - Bad input: a project without final rankings, identical chosen/rejected, rankings longer than
//   the context, an RM used with another base model: clear messages in both languages.
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {PreferenceRecord, TrainingKind} from '../../main/common/training.js';
import {datasetInputs, type TrainingInputFile} from '../../main/node/training/inputs.js';
import {defaultJobConfig, startTrainingJob} from '../../main/node/training/job.js';
import {RunDir, type EvalMetrics, type Metrics, type StepMetrics, type TrainConfig} from '../../main/node/training/record.js';
import {ExampleTokenizer} from '../../main/node/training/render.js';
import {runTraining} from '../../main/node/training/run.js';
import {LocalisedError, scoreAnswers} from '../../main/node/training/score.js';
import {runCli} from '../helpers/cli.js';
import {startServices, waitFor} from '../helpers/services.js';
import {THREADS, llamaCppLogits, tinyModel, trainerEnv, type TrainerEnv} from './training-support.js';

let env: TrainerEnv;
let dir: string;
before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-train-pref-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

const SYMPTOMS = ['头痛', '发热', '咳嗽', '腹痛', '胸闷', '头晕', '恶心', '失眠', '腹泻', '背痛'];
const DAYS = ['一', '两', '三', '四', '五', '六', '七', '八'];

/** The rule the models must find: asking before advising beats advising at once. */
function item(i: number) {
  const symptom = SYMPTOMS[i % SYMPTOMS.length]!;
  const days = DAYS[Math.floor(i / SYMPTOMS.length) % DAYS.length]!;
  return {
    question: `医生，我${symptom}${days}天了，怎么办？`,
    asks: `请问${symptom}是持续的吗？还有其他不舒服吗？`,
    advises: `多喝水，注意休息，${symptom}会好的。`,
    curt: '没事。',
  };
}

function rankingsFile(n: number): string {
  const path = join(dir, `rankings-${n}.jsonl`);
  const records: PreferenceRecord[] = Array.from({length: n}, (_, i) => {
    const it = item(i);
    // candidates in a shuffled order, so the index says nothing
    const order = [[it.curt, 2], [it.asks, 0], [it.advises, 1]] as const;
    const rot = i % 3;
    const candidates = [...order.slice(rot), ...order.slice(0, rot)];
    const tiers = [0, 1, 2].map((rank) => [candidates.findIndex((c) => c[1] === rank)]);
    return {turns: [{role: 'user', content: it.question}], candidates: candidates.map((c) => c[0]), tiers};
  });
  writeFileSync(path, records.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return path;
}

function pairsFile(n: number, identical = false): string {
  const path = join(dir, `pairs-${n}${identical ? '-same' : ''}.jsonl`);
  writeFileSync(path, Array.from({length: n}, (_, i) => {
    const it = item(i);
    return JSON.stringify({question: it.question, response_chosen: it.asks, response_rejected: identical ? it.asks : it.advises});
  }).join('\n') + '\n');
  return path;
}

async function config(kind: TrainingKind, inputs: TrainingInputFile[], overrides: Partial<TrainConfig> = {}): Promise<TrainConfig> {
  return {
    ...defaultJobConfig({kind, model: await tinyModel(env.addon!, 'llama'), inputs, out: join(dir, `${kind}-${Math.random().toString(36).slice(2)}.gguf`), threads: THREADS}),
    steps: 30, lr: 1e-2, warmupSteps: 2, nCtx: 96, rows: 4, accum: 1, valFraction: 0.25, evalEvery: 10, checkpointEvery: 0,
    lora: {rank: 8, alpha: 16, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
    ...overrides,
  };
}

async function train(name: string, c: TrainConfig) {
  const runDir = join(dir, name);
  const record = await runTraining({runDir, runId: name, config: c});
  const metrics = new RunDir(runDir).readMetrics();
  return {record, steps: metrics.filter((m): m is StepMetrics => m.type === 'step'), evals: metrics.filter((m): m is EvalMetrics => m.type === 'eval')};
}

test('the reward model learns a preference it can see: held-out pairwise accuracy far above chance', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const {record, steps, evals} = await train('rm', await config('rm', [{path: rankingsFile(80), role: 'train', content: 'preferences'}], {lr: 5e-3}));
  const first = evals[0]!.values!;
  const last = evals.at(-1)!.values!;
  const rate = (s: StepMetrics) => Math.round(s.tokensPerS);
  t.diagnostic(`RM: ${record.data!.trainExamples} train / ${record.data!.valExamples} held-out rankings (K=3, ${last['eval/pairs']} held-out pairs); loss ${steps[0]!.loss.toFixed(3)} → ${steps.at(-1)!.loss.toFixed(3)}`);
  t.diagnostic(`RM held-out accuracy ${first['eval/accuracy']!.toFixed(3)} → ${last['eval/accuracy']!.toFixed(3)}, 95 % CI [${last['eval/accuracy_low']!.toFixed(3)}, ${last['eval/accuracy_high']!.toFixed(3)}]; margin ${last['eval/margin']!.toFixed(3)}; ${rate(steps.at(-1)!)} tok/s`);
  assert.equal(record.status, 'completed');
  assert.ok(last['eval/accuracy_low']! > 0.5, `the interval ${last['eval/accuracy_low']}..${last['eval/accuracy_high']} must exclude chance`);
  assert.ok(last['eval/margin']! > first['eval/margin']!, 'the margin grows');
  assert.ok(steps.every((s) => typeof s.values?.accuracy === 'number'), 'every step reports its accuracy');
  assert.ok(record.best && record.best.step > 0, 'the best checkpoint by validation is the result');
});

test('DPO raises the held-out log-prob margin; node-llama-cpp with its adapter prefers the chosen answers more than the base does', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const c = await config('dpo', datasetInputs([pairsFile(60)]), {beta: 0.1, lr: 1e-2});
  const {record, evals} = await train('dpo', c);
  const margin = (e: EvalMetrics) => e.values!['eval/logps/chosen']! - e.values!['eval/logps/rejected']!;
  t.diagnostic(`DPO held-out log-prob margin (chosen − rejected) ${margin(evals[0]!).toFixed(3)} → ${margin(evals.at(-1)!).toFixed(3)}; rewards/accuracies ${evals.at(-1)!.values!['eval/rewards/accuracies']!.toFixed(3)}; rewards/margins ${evals.at(-1)!.values!['eval/rewards/margins']!.toFixed(3)}`);
  assert.equal(record.status, 'completed');
  assert.ok(margin(evals.at(-1)!) > margin(evals[0]!) + 1, 'the margin rises');
  assert.ok(Math.abs(evals[0]!.values!['eval/rewards/margins']!) < 1e-4, 'at the start the policy is its reference');

  const model = await env.llama.loadModel({modelPath: c.model});
  const probe = await env.addon!.createSession({modelPath: c.model, threads: THREADS});
  const nVocab = probe.info().nVocab;
  probe.dispose();
  try {
    const tokenizer = new ExampleTokenizer(model, 256);
    const logLikelihood = async (text: string, question: string, lora?: string) => {
      const {tokens, train} = tokenizer.dialogue([{role: 'user', content: question}, {role: 'assistant', content: text}], {lastReplyOnly: true});
      const logits = await llamaCppLogits(model, [...tokens], nVocab, {exact: true, ...(lora ? {lora: {filePath: lora}} : {})});
      let sum = 0;
      for (let i = 0; i + 1 < tokens.length; i++) {
        if (!train[i + 1]) continue;
        const row = logits[i]!;
        const max = Math.max(...row);
        const lse = max + Math.log(row.reduce((s, x) => s + Math.exp(x - max), 0));
        sum += row[tokens[i + 1]!]! - lse;
      }
      return sum;
    };
    let better = 0;
    const probes = [60, 61, 62, 63]; // prompts the run never saw (the file has items 0–59)
    for (const i of probes) {
      const it = item(i);
      const base = await logLikelihood(it.asks, it.question);
      const tuned = await logLikelihood(it.asks, it.question, record.result!.out);
      if (tuned > base) better++;
      t.diagnostic(`item ${i}: log p(chosen) base ${base.toFixed(2)} → with the DPO adapter ${tuned.toFixed(2)}`);
    }
    assert.equal(better, probes.length, 'node-llama-cpp with the adapter gives every chosen answer a higher likelihood');
  } finally {
    await model.dispose();
  }
});

/** What must be identical between runs (timings excluded). */
function comparable(metrics: Metrics[]) {
  // the job's peak memory is a measurement, not a result
  const values = (v: Record<string, number> | undefined) => Object.fromEntries(Object.entries(v ?? {}).filter(([k]) => k !== 'memory/peak_rss_bytes'));
  return metrics.map((m) => (m.type === 'step' ? {step: m.step, loss: m.loss, lr: m.lr, gradNorm: m.gradNorm, values: values(m.values)} : m));
}

for (const kind of ['rm', 'dpo'] as const) {
  test(`kill -9 mid-run, resume: ${kind} gives the same losses and metrics as an uninterrupted run`, async (t) => {
    if (env.skip) return t.skip(env.skip);
    const inputs = kind === 'rm' ? [{path: rankingsFile(24), role: 'train' as const, content: 'preferences' as const}] : datasetInputs([pairsFile(24)]);
    const c = await config(kind, inputs, {steps: 10, checkpointEvery: 3, evalEvery: 4, lora: {rank: 4, alpha: 8, dropout: 0.1, targets: ['q', 'v', 'up']}});
    const straight = startTrainingJob({runsDir: join(dir, `runs-${kind}-a`), config: {...c, out: join(dir, `${kind}-a.gguf`)}});
    assert.equal((await straight.done).status, 'completed');
    const victim = startTrainingJob({runsDir: join(dir, `runs-${kind}-b`), config: {...c, out: join(dir, `${kind}-b.gguf`)}});
    victim.onEvent((event) => {
      if (event.type === 'step' && event.step === 5) victim.kill();
    });
    assert.equal((await victim.done).status, 'failed');
    const resumed = startTrainingJob({runsDir: join(dir, `runs-${kind}-b`), resume: victim.runId});
    let resumedFrom: number | null = null;
    resumed.onEvent((event) => {
      if (event.type === 'started') resumedFrom = event.resumedFrom;
    });
    assert.equal((await resumed.done).status, 'completed');
    const a = new RunDir(straight.runDir).readMetrics();
    const b = new RunDir(victim.runDir).readMetrics();
    t.diagnostic(`${kind}: resumed from checkpoint ${resumedFrom}; losses ${a.filter((m) => m.type === 'step').map((m) => (m as StepMetrics).loss.toFixed(4)).join(' ')}`);
    assert.ok(resumedFrom !== null && resumedFrom >= 3, `resumed from ${resumedFrom}`);
    assert.deepEqual(comparable(b), comparable(a));
  });
}

test('an annotation project ranked through the API trains a reward model, with no file in between, and scores answers', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const s = startServices();
  t.after(() => s.close());
  const file = join(s.dataDir, 'asks.jsonl');
  writeFileSync(file, Array.from({length: 12}, (_, i) => JSON.stringify({query: item(i).question, response: item(i).asks})).join('\n') + '\n');
  const {datasetId} = await s.services.datasets.importNow({path: file, deidentify: false});
  const model = await s.call('models.add', {path: await tinyModel(env.addon!, 'llama')});
  const project = await s.call('annotation.createProject', {name: '主动问诊', datasetId, maxItems: 12, k: 3, minAnnotators: 1, generation: {modelId: model.id, maxTokens: 8}});

  // before any ranking: a clear refusal, in both languages
  const none = await s.callRaw('training.start', {kind: 'rm', modelId: model.id, annotationProjects: [project.id]});
  assert.ok(!none.ok && none.error.code === 'validation', 'no final rankings');
  assert.match(!none.ok ? none.error.message.zh : '', /还没有最终排序/);
  assert.match(!none.ok ? none.error.message.en : '', /no final rankings/);

  await s.call('annotation.generate', {projectId: project.id});
  await waitFor(() => s.events.find((e) => e.type === 'annotation.progress' && e.finished), 120_000, 'generation');
  const doctor = await s.call('annotators.create', {name: '李医生', role: 'annotator'});
  let ranked = 0;
  for (;;) {
    const view = await s.call('annotation.item', {projectId: project.id, annotatorId: doctor.id});
    if (!view) break;
    // the expert prefers the longest answer; every third item she marks all wrong and corrects
    const order = [...view.candidates].sort((x, y) => y.text.length - x.text.length || x.index - y.index).map((c) => [c.index]);
    const allWrong = ranked % 3 === 2;
    await s.call('annotation.save', {itemId: view.id, annotatorId: doctor.id, ranking: order, ...(allWrong ? {allWrong, correction: '抱歉，我不知道，请到医院就诊。'} : {})});
    ranked++;
  }
  assert.equal(ranked, 12);

  const run = await s.call('training.start', {
    kind: 'rm', modelId: model.id, annotationProjects: [project.id],
    config: {steps: 6, gradientAccumulation: 1, batchSize: 2, maxSequenceLength: 96, learningRate: 5e-3, warmupSteps: 1, validationFraction: 0.25, evalEvery: 3},
  });
  await waitFor(() => s.events.some((e) => e.type === 'training.state' && e.run.id === run.id && (e.run.state === 'completed' || e.run.state === 'failed')), 180_000, 'rm run');
  const detail = await s.call('training.get', {id: run.id});
  assert.equal(detail.state, 'completed', JSON.stringify(detail.error));
  const source = detail.sources[0]!;
  assert.ok(source.type === 'annotation' && source.rankings === 12 && source.annotators.includes('李医生'), JSON.stringify(source));
  assert.ok(detail.metrics.some((m) => typeof m.values.accuracy === 'number'), 'RM metrics are in the store');
  assert.ok(detail.metrics.some((m) => typeof m.values['eval/accuracy'] === 'number'), 'held-out accuracy is in the store');
  assert.equal(detail.adapterModelId, null, 'a reward model is not registered as a chat adapter');
  assert.match(detail.cliCommand, /^zhongjing train rm .*--data 主动问诊/);

  const scored = await s.call('training.score', {runId: run.id, items: [
    {turns: [{role: 'user', content: '我头痛三天了'}], answer: '请问还有其他不舒服吗？'},
    {turns: [{role: 'user', content: '我头痛三天了'}], answer: '没事。'},
  ]});
  assert.equal(scored.scores.length, 2);
  assert.ok(scored.scores.every(Number.isFinite));
  t.diagnostic(`RM from annotation: scores ${scored.scores.map((x) => x.toFixed(3)).join(' / ')}`);

  // the annotation screen shows the RM's scores to an expert after she has ranked, never before
  const first = (await s.call('annotation.item', {projectId: project.id, annotatorId: doctor.id, position: 0, direction: 'exact'}))!;
  const mine = await s.call('annotation.rewardScores', {itemId: first.id, annotatorId: doctor.id, runId: run.id});
  assert.deepEqual(mine.scores.map((x) => x.index).sort(), [0, 1, 2], 'one score per candidate');
  const newcomer = await s.call('annotators.create', {name: '王医生', role: 'annotator'});
  const early = await s.callRaw('annotation.rewardScores', {itemId: first.id, annotatorId: newcomer.id, runId: run.id});
  assert.ok(!early.ok && early.error.code === 'validation', 'before her own ranking an annotator gets no scores');
  assert.match(!early.ok ? early.error.message.zh : '', /请先保存您对这一条的排序/);
});

test('bad input: identical answers, rankings longer than the context, an RM on another base model', async (t) => {
  if (env.skip) return t.skip(env.skip);
  await assert.rejects(runTraining({runDir: join(dir, 'same'), runId: 'same', config: await config('dpo', datasetInputs([pairsFile(6, true)]))}), (e: Error & {localised?: {zh: string}}) => {
    assert.match(e.message, /No usable preference rankings/);
    assert.match(e.localised!.zh, /没有可用的偏好排序/);
    return true;
  });
  assert.match(new RunDir(join(dir, 'same')).read().error ?? '', /没有可用的偏好排序/, 'the run record keeps both languages');
  await assert.rejects(runTraining({runDir: join(dir, 'long'), runId: 'long', config: await config('rm', datasetInputs([pairsFile(6)]), {nCtx: 12})}), /longer than the context \(12 tokens\)/);

  const rm = await train('rm-small', await config('rm', datasetInputs([pairsFile(8)]), {steps: 2, valFraction: 0}));
  const other = await tinyModel(env.addon!, 'llama', 'f16');
  await assert.rejects(
    scoreAnswers({model: other, rewardModel: rm.record.result!.out, items: [{turns: [{role: 'user', content: '头痛'}], answer: '请问多久了？'}], threads: THREADS, nCtx: 96}),
    (e: LocalisedError) => {
      assert.match(e.localised.en, /trained on another base model/);
      assert.match(e.localised.zh, /另一个基础模型/);
      return true;
    },
  );
  const same = await scoreAnswers({model: rm.record.config.model, rewardModel: rm.record.result!.out, items: [{turns: [{role: 'user', content: '头痛'}], answer: '请问多久了？'}], threads: THREADS, nCtx: 96});
  assert.equal(same.length, 1);
});

test('CLI: train rm and dpo (from an SFT adapter) with --json, then reward score from stdin; wrong base refused', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const dataDir = join(dir, 'cli');
  const model = await tinyModel(env.addon!, 'llama');
  const pairs = pairsFile(16);
  const common = ['--model', model, '--data', pairs, '--steps', '4', '--lr', '5e-3', '--ctx', '96', '--accum', '1', '--val', '0.25', '--eval-every', '2', '--data-dir', dataDir, '--json'];
  const rmOut = join(dir, 'cli-rm.gguf');
  const rm = runCli(['train', 'rm', ...common, '--out', rmOut, '--center-rewards', '0.01']);
  assert.equal(rm.status, 0, rm.stderr);
  const lines = rm.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const step = lines.find((l) => l.type === 'step')!;
  for (const key of ['loss', 'accuracy', 'margin', 'rewards/chosen', 'rewards/rejected']) assert.equal(typeof step[key], 'number', `${key} in ${JSON.stringify(step)}`);
  assert.equal(typeof lines.find((l) => l.type === 'eval')!['eval/accuracy_low'], 'number');
  assert.equal(lines.at(-1)!.adapter, rmOut);

  // DPO from an SFT adapter: the policy starts from it, the frozen reference is it
  const sft = join(dir, 'cli-sft.gguf');
  const sftRun = runCli(['train', 'sft', '--model', model, '--data', pairs, '--steps', '1', '--ctx', '96', '--out', sft, '--data-dir', dataDir, '--json']);
  // preference rows are not SFT data: a clear refusal, then an SFT run on dialogues
  assert.notEqual(sftRun.status, 0);
  assert.match(sftRun.stderr, /No dialogues to fine-tune on|没有可用于 SFT 的对话/);
  const dialogues = join(dir, 'dialogues.jsonl');
  writeFileSync(dialogues, Array.from({length: 8}, (_, i) => JSON.stringify({query: item(i).question, response: item(i).asks})).join('\n') + '\n');
  assert.equal(runCli(['train', 'sft', '--model', model, '--data', dialogues, '--steps', '2', '--ctx', '96', '--out', sft, '--data-dir', dataDir]).status, 0);
  const dpo = runCli(['train', 'dpo', ...common, '--out', join(dir, 'cli-dpo.gguf'), '--init-adapter', sft, '--beta', '0.2']);
  assert.equal(dpo.status, 0, dpo.stderr);
  const dpoStep = dpo.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.type === 'step')!;
  for (const key of ['rewards/chosen', 'rewards/rejected', 'rewards/accuracies', 'rewards/margins', 'logps/chosen', 'logps/rejected']) assert.equal(typeof dpoStep[key], 'number', key);

  const input = [JSON.stringify({prompt: '我头痛三天了', answer: '请问头痛是持续的吗？'}), JSON.stringify({messages: [{role: 'user', content: '我发热'}], response: '没事。'})].join('\n');
  const scored = runCli(['reward', 'score', '--rm', rmOut, '--model', model, '--ctx', '96'], {input});
  assert.equal(scored.status, 0, scored.stderr);
  const scores = scored.stdout.trim().split('\n').map((l) => (JSON.parse(l) as {score: number}).score);
  assert.equal(scores.length, 2);
  t.diagnostic(`reward score: ${scores.map((s) => s.toFixed(3)).join(', ')}`);
  const wrong = runCli(['reward', 'score', '--rm', rmOut, '--model', await tinyModel(env.addon!, 'llama', 'f16')], {input, env: {LANG: 'zh_CN.UTF-8'}});
  assert.equal(wrong.status, 2);
  assert.match(wrong.stderr, /另一个基础模型/);
});
