// Benchmark: PPO on a random-weight model of a real layer shape, through the real run loop.
// Prints, side by side:
//   - rollout tokens/s (node-llama-cpp sampling from the policy exported as a LoRA each step)
//     against plain chat decoding of the same model (same process, threads and sampling, no LoRA);
//   - the job's peak resident memory against the size of the base weights, with the trainer
//     holding policy + value head, reference and reward model on ONE copy of the base (llama.cpp's
//     generator maps the same file a second time);
//   - PPO training tokens/s.
//
//   node --import tsx bench/ppo.ts -- [--threads 1] [--shape small] [--steps 4] [--batch 8] [--new-tokens 32]

import {mkdtempSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import type {Token} from 'node-llama-cpp';
import {datasetInputs} from '../main/node/training/inputs.js';
import {defaultJobConfig, startTrainingJob} from '../main/node/training/job.js';
import {RunDir, type StepMetrics} from '../main/node/training/record.js';
import {benchModel} from './shapes.js';

const {values} = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {threads: {type: 'string', default: '1'}, shape: {type: 'string', default: 'small'}, steps: {type: 'string', default: '4'}, batch: {type: 'string', default: '8'}, 'new-tokens': {type: 'string', default: '32'}},
});
const threads = Number(values.threads);
const newTokens = Number(values['new-tokens']);
const {llama, model, shape} = await benchModel('ppo', values.shape, threads, 5);
const dir = mkdtempSync(join(tmpdir(), 'zhongjing-bench-ppo-'));

try {
  const symptoms = ['头痛', '发热', '咳嗽', '腹痛', '胸闷', '头晕', '恶心', '失眠'];
  const pairs = join(dir, 'pairs.jsonl');
  writeFileSync(pairs, Array.from({length: 32}, (_, i) => JSON.stringify({question: `我${symptoms[i % 8]}${(i % 3) + 1}天了`, response_chosen: '请问还有其他不舒服吗？', response_rejected: '多喝水。'})).join('\n') + '\n');
  const base = (kind: 'sft' | 'rm' | 'ppo') => ({
    ...defaultJobConfig({kind, model, inputs: datasetInputs([pairs]), out: join(dir, `${kind}.gguf`), threads}),
    nCtx: 128, accum: 1, checkpointEvery: 0, warmupSteps: 0, lora: {rank: 8, alpha: 16, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
  });
  const rm = startTrainingJob({runsDir: join(dir, 'runs'), config: {...base('rm'), steps: 2, valFraction: 0}});
  if ((await rm.done).status !== 'completed') throw new Error('the reward model run failed');
  // the same model fine-tuned with SFT: one base + one adapter, the memory reference for PPO's four roles
  const sftFile = join(dir, 'sft.jsonl');
  writeFileSync(sftFile, Array.from({length: 32}, (_, i) => JSON.stringify({query: `我${symptoms[i % 8]}${(i % 3) + 1}天了`, response: '请问还有其他不舒服吗？还有发热吗？有没有吃过药？'})).join('\n') + '\n');
  const sft = startTrainingJob({runsDir: join(dir, 'runs'), config: {...base('sft'), inputs: datasetInputs([sftFile]), steps: 4, rows: Number(values.batch), valFraction: 0}});
  if ((await sft.done).status !== 'completed') throw new Error('the SFT run failed');
  const peakOf = (runDir: string) => Math.max(...new RunDir(runDir).readMetrics().filter((m): m is StepMetrics => m.type === 'step').map((s) => s.values?.['memory/peak_rss_bytes'] ?? 0));
  const sftPeak: number | null = peakOf(sft.runDir) || null;

  // plain decoding of the same model: what a consultation gets
  const plainModel = await llama.loadModel({modelPath: model, gpuLayers: 0});
  const context = await plainModel.createContext({contextSize: 256, sequences: 1, threads});
  const sequence = context.getSequence();
  let plainTokens = 0;
  const t0 = performance.now();
  for (let i = 0; i < Number(values.batch); i++) {
    await sequence.clearHistory();
    let n = 0;
    for await (const token of sequence.evaluate(plainModel.tokenize(`我${symptoms[i % 8]}三天了`) as Token[], {temperature: 0.7, seed: i, yieldEogToken: true})) {
      void token;
      plainTokens++;
      if (++n >= newTokens) break;
    }
  }
  const plainRate = plainTokens / ((performance.now() - t0) / 1000);
  await context.dispose();
  await plainModel.dispose();

  const ppoConfig = base('ppo');
  const job = startTrainingJob({
    runsDir: join(dir, 'runs'),
    config: {...ppoConfig, steps: Number(values.steps), rows: Number(values.batch), valFraction: 0, rewardModel: join(dir, 'rm.gguf'), ppo: {...ppoConfig.ppo, maxNewTokens: newTokens, minResponseTokens: 0, minDistinct2: 0}},
  });
  if ((await job.done).status !== 'completed') throw new Error('the PPO run failed');
  const steps = new RunDir(job.runDir).readMetrics().filter((m): m is StepMetrics => m.type === 'step');
  const rollout = steps.map((s) => s.values!['rollout/tokens_per_s']!).reduce((a, b) => a + b, 0) / steps.length;
  const peak = peakOf(job.runDir);
  const baseBytes = statSync(model).size;
  const trainRate = steps.slice(1).reduce((a, s) => a + s.tokensPerS, 0) / Math.max(1, steps.length - 1);
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`;
  console.log(`shape ${values.shape} (${shape.nEmbd}×${shape.nLayer}, F32 base ${mib(baseBytes)}), ${threads} thread(s), CPU; ${steps.length} PPO steps of ${values.batch} prompts, ${newTokens} new tokens`);
  console.log(`rollout decoding (policy as LoRA) ${rollout.toFixed(0)} tok/s | plain chat decoding ${plainRate.toFixed(0)} tok/s | ratio ${(rollout / plainRate).toFixed(2)}×`);
  console.log(`peak RSS of the PPO job ${mib(peak)} | of an SFT job on the same model ${sftPeak === null ? '—' : mib(sftPeak)} | PPO − SFT ${sftPeak === null ? '—' : mib(peak - sftPeak)} = ${sftPeak === null ? '—' : ((peak - sftPeak) / baseBytes).toFixed(2)}× the base weights (${mib(baseBytes)}; llama.cpp's generator maps the file a second time)`);
  console.log(`PPO step throughput (rollouts + scoring + ${ppoConfig.ppo.ppoEpochs} epochs) ${trainRate.toFixed(0)} tok/s`);
} finally {
  rmSync(dir, {recursive: true, force: true});
}
