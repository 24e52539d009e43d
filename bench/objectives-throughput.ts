// Benchmark: training tokens/s of the reward model and DPO against SFT on the SAME model, data
// and settings, through the real run loop (runTraining: data → objective → native steps). The
// data are consultation turns with two answers: SFT learns the better answer, the RM and DPO the
// pair. "Tokens" are every non-padding token the step processes (a preference step feeds both
// answers), so the ratio says what a preference step costs per token, not per example.
//
//   node --import tsx bench/objectives-throughput.ts -- [--threads N] [--steps 12] [--shape tiny|small]
//
// A random-weight model with a real layer shape is generated (no downloads).

import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import type {TrainingKind} from '../main/common/training.js';
import {datasetInputs} from '../main/node/training/inputs.js';
import {defaultJobConfig} from '../main/node/training/job.js';
import {RunDir, type StepMetrics} from '../main/node/training/record.js';
import {runTraining} from '../main/node/training/run.js';
import {defaultThreads} from '../main/node/threads.js';
import {benchModel} from './shapes.js';

const {values} = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {threads: {type: 'string'}, steps: {type: 'string', default: '12'}, shape: {type: 'string', default: 'small'}},
});
const threads = Number(values.threads ?? defaultThreads());
const steps = Number(values.steps);
const {model, shape} = await benchModel('objectives', values.shape, threads, 3);

const dir = mkdtempSync(join(tmpdir(), 'zhongjing-bench-objectives-'));
const symptoms = ['头痛', '发热', '咳嗽', '腹痛', '胸闷', '头晕', '恶心', '失眠'];
const rows = Array.from({length: 64}, (_, i) => {
  const s = symptoms[i % symptoms.length]!;
  return {question: `医生，我${s}${(i % 5) + 1}天了，需要注意什么？`, good: `请问${s}是持续的还是一阵一阵的？还有其他不舒服吗？有没有用过药？`, bad: `多喝水，注意休息，${s}一般会自己好的，不用担心。`};
});
const sftFile = join(dir, 'sft.jsonl');
writeFileSync(sftFile, rows.map((r) => JSON.stringify({query: r.question, response: r.good})).join('\n') + '\n');
const pairFile = join(dir, 'pairs.jsonl');
writeFileSync(pairFile, rows.map((r) => JSON.stringify({question: r.question, response_chosen: r.good, response_rejected: r.bad})).join('\n') + '\n');

async function measure(kind: TrainingKind): Promise<{tokensPerS: number; loss: number}> {
  const config = {
    ...defaultJobConfig({kind, model, inputs: datasetInputs([kind === 'sft' ? sftFile : pairFile]), out: join(dir, `${kind}.gguf`), threads}),
    // the same sequences per micro-batch: 8 answers for SFT, 4 pairs (8 answers) for RM and DPO
    steps, lr: 1e-3, warmupSteps: 1, nCtx: 128, rows: kind === 'sft' ? 8 : 4, accum: 1, valFraction: 0, evalEvery: 0, checkpointEvery: 0,
    lora: {rank: 8, alpha: 16, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
  };
  const runDir = join(dir, kind);
  await runTraining({runDir, runId: kind, config});
  // the first step pays for graph allocation: leave it out
  const measured = new RunDir(runDir).readMetrics().filter((m): m is StepMetrics => m.type === 'step').slice(1);
  const tokens = measured.reduce((n, m) => n + m.tokens, 0);
  const seconds = measured.reduce((n, m) => n + m.tokens / m.tokensPerS, 0);
  return {tokensPerS: tokens / seconds, loss: measured.at(-1)!.loss};
}

try {
  const results: Record<string, {tokensPerS: number; loss: number}> = {};
  for (const kind of ['sft', 'rm', 'dpo'] as const) results[kind] = await measure(kind);
  const sft = results.sft!.tokensPerS;
  console.log(`shape ${values.shape} (${shape.nEmbd}×${shape.nLayer}), ${threads} thread(s), ${steps} steps of 8 answers (SFT) or 4 pairs (RM, DPO), LoRA r8 on every projection, F32 base, CPU`);
  console.log('objective | tokens/s | vs SFT | last loss');
  for (const [kind, r] of Object.entries(results)) console.log(`${kind.padEnd(9)} | ${r.tokensPerS.toFixed(0).padStart(8)} | ${(r.tokensPerS / sft).toFixed(2)}× | ${r.loss.toFixed(4)}`);
} finally {
  rmSync(dir, {recursive: true, force: true});
}
