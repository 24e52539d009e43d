// SFT and continued pre-training on the tiny models, end to end in this process: dialogues
// rendered with the model's own chat template (loss on every assistant turn, nothing else), loss
// and held-out eval loss falling on real DISC-Med dialogues (skipped with a reason when the shared
// samples are absent), plain-text training, and the real proof that training tokens equal
// inference tokens: after memorising a two-turn dialogue, the app's own ModelRunner (node-llama-cpp,
// exported adapter, greedy) reproduces both replies.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {DEFAULT_SAMPLING} from '../../main/common/contract.js';
import {ModelRunner} from '../../main/node/engine/model-runner.js';
import {datasetInputs} from '../../main/node/training/inputs.js';
import {defaultJobConfig} from '../../main/node/training/job.js';
import {RunDir, type EvalMetrics, type StepMetrics, type TrainConfig} from '../../main/node/training/record.js';
import {ExampleTokenizer} from '../../main/node/training/render.js';
import {runTraining} from '../../main/node/training/run.js';
import {THREADS, tinyModel, trainerEnv, type TrainerEnv} from './training-support.js';

const DISC = '/work/shared/data/disc_medllm/test_examples.jsonl';
const SYSTEM = '你是一位耐心的医生。';
const DIALOGUE = [
  {role: 'user', content: '我头痛三天了，还有点发热。'},
  {role: 'assistant', content: '建议多休息，多喝水。如果发热持续，请到医院检查。'},
  {role: 'user', content: '需要吃药吗？'},
  {role: 'assistant', content: '可以服用退烧药，注意饮食。'},
] as const;

let env: TrainerEnv;
let dir: string;
before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-train-sft-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

/** A job configuration: the objective's defaults, the files as training inputs, then the overrides. */
function config({data, ...overrides}: Partial<TrainConfig> & Pick<TrainConfig, 'model' | 'out'> & {data: string[]}): TrainConfig {
  const kind = overrides.kind ?? 'sft';
  return {...defaultJobConfig({kind, model: overrides.model, inputs: datasetInputs(data), out: overrides.out, threads: THREADS}), ...overrides};
}

async function train(name: string, c: TrainConfig) {
  const runDir = join(dir, name);
  const record = await runTraining({runDir, runId: name, config: c});
  const metrics = new RunDir(runDir).readMetrics();
  return {
    record,
    steps: metrics.filter((m): m is StepMetrics => m.type === 'step'),
    evals: metrics.filter((m): m is EvalMetrics => m.type === 'eval'),
  };
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('dialogue rendering', () => {
  test('loss mask = every assistant reply and its end token, rendered with the model template', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const model = await env.llama.loadModel({modelPath: await tinyModel(env.addon!, 'llama'), vocabOnly: true});
    try {
      const tokenizer = new ExampleTokenizer(model, 4096);
      const {tokens, train} = tokenizer.dialogue([{role: 'system', content: SYSTEM}, ...DIALOGUE]);
      const spans: number[][] = [];
      train.forEach((on, i) => {
        if (!on) return;
        if (!spans.length || !train[i - 1]) spans.push([]);
        spans[spans.length - 1]!.push(tokens[i]!);
      });
      assert.equal(spans.length, 2, 'one span per assistant turn');
      assert.equal(model.detokenize(spans[0]! as never, true), `${DIALOGUE[1].content}<|im_end|>`);
      assert.equal(model.detokenize(spans[1]! as never, true), `${DIALOGUE[3].content}<|im_end|>`);
      // the example ends with the last reply's end token: nothing after it is trained or fed
      assert.equal(train[train.length - 1], 1);
      assert.ok(model.isEogToken(tokens[tokens.length - 1]! as never), 'the example ends with an end-of-generation token');
      // the text before the first reply is the system + user turn in ChatML, as inference renders it
      const before = model.detokenize([...tokens.slice(0, train.indexOf(1))] as never, true);
      assert.match(before, /^<\|im_start\|> ?system\n你是一位耐心的医生。<\|im_end\|> ?\n<\|im_start\|> ?user\n我头痛三天了，还有点发热。<\|im_end\|> ?\n<\|im_start\|> ?assistant\n$/);
    } finally {
      await model.dispose();
    }
  });
});

test('SFT on real DISC-Med dialogues: training loss and held-out eval loss fall', async (t) => {
  if (env.skip) return t.skip(env.skip);
  if (!existsSync(DISC)) {
    console.log(`# SKIP ${DISC} is absent (shared real-data samples not mounted)`);
    return t.skip(`${DISC} is absent`);
  }
  const {steps, evals, record} = await train('disc', config({
    model: await tinyModel(env.addon!, 'qwen2'),
    data: [DISC],
    out: join(dir, 'disc.gguf'),
    steps: 40, lr: 1e-2, warmupSteps: 4, nCtx: 256, rows: 4, accum: 1, valFraction: 0.1,
    evalEvery: 20, checkpointEvery: 0, lora: {rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
  }));
  const first = mean(steps.slice(0, 5).map((s) => s.loss));
  const last = mean(steps.slice(-5).map((s) => s.loss));
  t.diagnostic(`${record.data!.trainExamples} train / ${record.data!.valExamples} held-out dialogues; loss ${first.toFixed(3)} → ${last.toFixed(3)}; eval ${evals.map((e) => `${e.step}:${e.evalLoss.toFixed(3)}`).join(' ')}; ${Math.round(mean(steps.map((s) => s.tokensPerS)))} tok/s`);
  t.diagnostic(`loss curve: ${steps.filter((s) => s.step % 5 === 0).map((s) => `${s.step}:${s.loss.toFixed(3)}`).join(' ')}`);
  assert.equal(record.status, 'completed');
  // The tiny model's random output head bounds its logits (|logit| ≲ 1.3, so loss ≳ 5.3 over 786
  // tokens) and LoRA does not touch that head: the falls are small but far above noise (the run is
  // deterministic, so these margins do not flake).
  assert.ok(last < first - 0.05, `training loss ${first} → ${last}`);
  assert.ok(evals.at(-1)!.evalLoss < evals[0]!.evalLoss - 0.1, `eval loss ${evals[0]!.evalLoss} → ${evals.at(-1)!.evalLoss}`);
  assert.equal(record.provenance!.datasets[0]!.name, 'test_examples.jsonl');
  assert.match(record.provenance!.baseModel.sha256, /^[0-9a-f]{64}$/);
});

test('continued pre-training on plain text uses every token and learns', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const file = join(dir, 'texts.jsonl');
  const texts = ['感冒时应多休息，多喝水，注意饮食。', '高血压患者需要注意饮食，每天检查血压。', '糖尿病患者需要控制血糖，注意运动和饮食。'];
  writeFileSync(file, texts.map((text) => JSON.stringify({text})).join('\n') + '\n');
  const {steps, record} = await train('pt', config({
    kind: 'pt', model: await tinyModel(env.addon!, 'llama'), data: [file], out: join(dir, 'pt.gguf'),
    steps: 20, lr: 1e-2, warmupSteps: 2, nCtx: 64, rows: 3, accum: 1, valFraction: 0, pack: true, checkpointEvery: 0,
  }));
  assert.equal(record.data!.trainTargets, record.data!.trainTokens - record.data!.trainExamples, 'every token but the first of each text is a target');
  t.diagnostic(`pt loss ${steps[0]!.loss.toFixed(3)} → ${steps.at(-1)!.loss.toFixed(3)}`);
  assert.ok(steps.at(-1)!.loss < steps[0]!.loss - 0.5, `pt loss ${steps[0]!.loss} → ${steps.at(-1)!.loss}`);
});

for (const arch of ['llama', 'qwen2'] as const) {
  test(`memorised dialogue: node-llama-cpp with the exported adapter replies greedily with it (${arch})`, async (t) => {
    if (env.skip) return t.skip(env.skip);
    const file = join(dir, `memorise-${arch}.jsonl`);
    writeFileSync(file, JSON.stringify({conversation: [{role: 'system', content: SYSTEM}, ...DIALOGUE]}) + '\n');
    const out = join(dir, `memorised-${arch}.gguf`);
    const model = await tinyModel(env.addon!, arch);
    const {steps, record} = await train(`memorise-${arch}`, config({
      model, data: [file], out,
      steps: 100, lr: 2e-2, warmupSteps: 5, minLrRatio: 0.1, nCtx: 256, rows: 1, accum: 1, valFraction: 0, checkpointEvery: 0,
      lora: {rank: 8, alpha: 16, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
    }));
    assert.equal(record.result!.out, out);
    t.diagnostic(`${arch}: loss ${steps[0]!.loss.toFixed(3)} → ${steps.at(-1)!.loss.toFixed(4)} in ${steps.length} steps`);

    const runner = new ModelRunner({threads: THREADS, gpuMode: 'cpu'});
    try {
      const sampling = {...DEFAULT_SAMPLING, temperature: 0, repeatPenalty: 1, maxTokens: 64, seed: 1};
      const ask = (turns: {role: 'user' | 'assistant'; content: string}[]) =>
        runner.generate({modelPath: model, gpuLayers: 0, adapters: [{path: out, scale: 1}], systemPrompt: SYSTEM, turns, sampling});
      const first = await ask([DIALOGUE[0]]);
      const second = await ask([DIALOGUE[0], DIALOGUE[1], DIALOGUE[2]]);
      t.diagnostic(`${arch}: replies ${JSON.stringify(first.text)} / ${JSON.stringify(second.text)} (stop: ${first.stopReason}, ${second.stopReason})`);
      assert.equal(first.text, DIALOGUE[1].content);
      assert.equal(second.text, DIALOGUE[3].content);
      assert.equal(first.stopReason, 'eogToken', 'the model learned to stop where the reply ends');
      // without the adapter the base model says something else entirely
      const base = await runner.generate({modelPath: model, gpuLayers: 0, adapters: [], systemPrompt: SYSTEM, turns: [DIALOGUE[0]], sampling});
      assert.notEqual(base.text, DIALOGUE[1].content);
    } finally {
      await runner.dispose();
    }
  });
}
