// Benchmark: training tokens/s of the native trainer (LoRA on a frozen base, every position a
// target, as continued pre-training) side by side with llama.cpp's own training path (llama_opt:
// ggml-opt, cross-entropy over every position) on the SAME model, same context, same threads.
// llama_opt trains model weights, not LoRA, so it runs twice: every weight (full fine-tuning)
// and a single norm vector of layer 0 (the least update work that still back-propagates through
// every layer, the closest to LoRA's cost).
//
//   node scripts/build-native.js && node --import tsx bench/train-throughput.ts -- \
//     [--threads N] [--ctx 256] [--steps 8] [--shape small|tiny|qwen05] [--types f32,f16,q8_0,q4_0,q4_K]
//
// Random-weight models with real shapes are generated (no downloads); speed does not depend on
// the values. Prints a table and the ratio trainer / llama_opt. GPU: none in this environment.

import {mkdirSync} from 'node:fs';
import {createRequire} from 'node:module';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import {getLlama, LlamaLogLevel} from 'node-llama-cpp';
import {tinyModelPath} from '../test/helpers/tiny-model.js';
import {loadTrainer, trainerAddonPath, type TrainingBatch} from '../main/node/training/native.js';
import {defaultThreads} from '../main/node/threads.js';
import {shapeNamed} from './shapes.js';

const {values} = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== '--'),
  options: {
    threads: {type: 'string'},
    ctx: {type: 'string', default: '256'},
    steps: {type: 'string', default: '8'},
    shape: {type: 'string', default: 'small'},
    types: {type: 'string', default: 'f32,f16,q8_0,q4_0,q4_K'},
  },
});
const threads = Number(values.threads ?? defaultThreads());
const nCtx = Number(values.ctx);
const steps = Number(values.steps);
const shape = shapeNamed(values.shape);

const llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads});
const trainer = loadTrainer(llama);
if (!trainer.ok) throw new Error(trainer.reason.en);
trainer.addon.setLogLevel('warn');
const bench = createRequire(import.meta.url)(trainerAddonPath('cpu').replace('zhongjing_trainer.node', 'zhongjing_bench.node')) as {
  benchLlamaOpt(o: {modelPath: string; tokens: Int32Array; nCtx: number; threads: number; epochs: number; onlyTensor?: string; applyThreads?: boolean}): Promise<{tokensPerSecond: number; seconds: number; tokens: number; loss: number}>;
};

const dir = join(tmpdir(), 'zhongjing-bench-models');
mkdirSync(dir, {recursive: true});
const vocabFrom = await tinyModelPath('llama');

// a token stream: the tiny vocabulary's ordinary pieces in a fixed pseudo-random order
const stream = new Int32Array(nCtx * (steps + 1) + 1);
let s = 12345;
for (let i = 0; i < stream.length; i++) {
  s = (Math.imul(s, 1103515245) + 12345) >>> 0;
  stream[i] = 261 + (s % 500);
}

function row(offset: number): TrainingBatch {
  const tokens = stream.slice(offset, offset + nCtx);
  return {
    nRows: 1,
    nCtx,
    tokens,
    positions: Int32Array.from({length: nCtx}, (_, i) => i),
    segments: new Int32Array(nCtx),
    targets: stream.slice(offset + 1, offset + nCtx + 1),
  };
}

interface Result {
  what: string;
  tokensPerSecond: number;
}
const results: Result[] = [];
console.log(`shape ${values.shape} ${JSON.stringify(shape)}, vocab 786, ctx ${nCtx}, ${threads} threads, ${steps} measured steps`);

for (const arch of ['llama', 'qwen2'] as const) {
  const f32 = join(dir, `${values.shape}-${arch}-f32.gguf`);
  await trainer.addon.makeModel({out: f32, type: 'f32', vocabFrom, architecture: arch, ...shape, nCtx: 4096, seed: 3});
  for (const type of values.types.split(',')) {
    const path = type === 'f32' ? f32 : join(dir, `${values.shape}-${arch}-${type}.gguf`);
    if (type !== 'f32') await trainer.addon.makeModel({out: path, type, weightsFrom: f32});
    const session = await trainer.addon.createSession({modelPath: path, threads, seed: 1, lora: {rank: 8, alpha: 16, dropout: 0}});
    await session.trainStep([row(0)], 1e-4); // warm-up: first graph allocation
    const t0 = performance.now();
    for (let i = 1; i <= steps; i++) await session.trainStep([row(i * nCtx)], 1e-4);
    const seconds = (performance.now() - t0) / 1000;
    session.dispose();
    results.push({what: `${arch} ${type}: trainer, LoRA r8 on q,k,v,o,gate,up,down`, tokensPerSecond: (steps * nCtx) / seconds});
    console.log(`  ${results.at(-1)!.what}: ${results.at(-1)!.tokensPerSecond.toFixed(0)} tok/s`);
  }
  for (const [label, onlyTensor] of [['every weight (full fine-tune)', ''], ['blk.0.attn_norm only', 'blk.0.attn_norm.weight']] as const) {
    const r = await bench.benchLlamaOpt({modelPath: f32, tokens: stream, nCtx, threads, epochs: 2, onlyTensor, applyThreads: true});
    results.push({what: `${arch} f32: llama_opt, ${label}`, tokensPerSecond: r.tokensPerSecond});
    console.log(`  ${results.at(-1)!.what}: ${r.tokensPerSecond.toFixed(0)} tok/s`);
  }
  const ours = results.find((r) => r.what.startsWith(`${arch} f32: trainer`))!.tokensPerSecond;
  const full = results.find((r) => r.what.startsWith(`${arch} f32: llama_opt, every`))!.tokensPerSecond;
  const norm = results.find((r) => r.what.startsWith(`${arch} f32: llama_opt, blk.0`))!.tokensPerSecond;
  console.log(`  ratio trainer / llama_opt (${arch}, f32): ${(ours / full).toFixed(2)}× vs full fine-tune, ${(ours / norm).toFixed(2)}× vs single-norm`);
  // a quantised frozen base against F16 (the target: no slower than F16 / 1.2)
  const f16 = results.find((r) => r.what.startsWith(`${arch} f16: trainer`))?.tokensPerSecond;
  if (f16) {
    const quantised = results.filter((r) => r.what.startsWith(`${arch} `) && /^\S+ (q\w+): trainer/.test(r.what));
    console.log(`  speed vs the F16 base (${arch}): ${quantised.map((r) => `${r.what.split(':')[0]!.split(' ')[1]} ${(r.tokensPerSecond / f16).toFixed(2)}×`).join(', ')}`);
  }
}
console.log(JSON.stringify({shape: values.shape, nCtx, threads, results}));
