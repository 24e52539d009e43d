// Shared pieces of the training tests (not a test file itself): node-llama-cpp + the native
// trainer addon in this process, generated tiny models, batches, comparisons.
import {existsSync, mkdirSync, renameSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {getLlama, LlamaLogLevel, type ControlledEvaluateInputItem, type Llama, type LlamaModel, type Token} from 'node-llama-cpp';
import {tinyModelPath} from '../helpers/tiny-model.js';
import {loadTrainer, type NativeTrainerAddon, type TrainingBatch} from '../../main/node/training/native.js';

/** Training tests run with 2 threads (the machine has 2 cores), never the library default. */
export const THREADS = 2;

export interface TrainerEnv {
  llama: Llama;
  addon: NativeTrainerAddon | null;
  /** Why the addon is unavailable (the tests skip with this reason). */
  skip: string | false;
}

let env: Promise<TrainerEnv> | null = null;

/** node-llama-cpp first (CPU), then the addon of the same variant. */
export function trainerEnv(): Promise<TrainerEnv> {
  env ??= (async () => {
    const llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: THREADS});
    const loaded = loadTrainer(llama);
    if (!loaded.ok) {
      const skip = `native trainer unavailable: ${loaded.reason.en}`;
      console.log(`# SKIP ${skip}`);
      return {llama, addon: null, skip};
    }
    loaded.addon.setLogLevel(process.env.ZHONGJING_TRAINER_LOG === 'info' ? 'info' : 'warn');
    return {llama, addon: loaded.addon, skip: false};
  })();
  return env;
}

const modelDir = join(tmpdir(), 'zhongjing-test-models');

/** The tiny model, optionally converted to another weight type (cached per machine, deterministic). */
export async function tinyModel(addon: NativeTrainerAddon, arch: 'llama' | 'qwen2', type = 'f32'): Promise<string> {
  const base = await tinyModelPath(arch);
  if (type === 'f32') return base;
  return cached(`tiny-${arch}-v1-${type}.gguf`, (out) => addon.makeModel({out, type, weightsFrom: base}));
}

/** A model with 256-wide rows (Q4_K blocks are 256 values), the tiny tokenizer, random weights. */
export async function wideModel(addon: NativeTrainerAddon, arch: 'llama' | 'qwen2', type: string): Promise<string> {
  const vocabFrom = await tinyModelPath(arch);
  return cached(`wide-${arch}-v1-${type}.gguf`, (out) =>
    addon.makeModel({out, type, vocabFrom, architecture: arch, nEmbd: 256, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 512, nCtx: 4096, seed: 7}),
  );
}

async function cached(name: string, make: (out: string) => Promise<unknown>): Promise<string> {
  mkdirSync(modelDir, {recursive: true});
  const path = join(modelDir, name);
  if (!existsSync(path)) {
    const partial = `${path}.${process.pid}.tmp`;
    await make(partial);
    renameSync(partial, path);
  }
  return path;
}

/** One row holding one sequence; targets = next token everywhere (or as given). */
export function singleRow(tokens: readonly number[], targets?: readonly number[]): TrainingBatch {
  const T = tokens.length;
  return {
    nRows: 1,
    nCtx: T,
    tokens: Int32Array.from(tokens),
    positions: Int32Array.from({length: T}, (_, i) => i),
    segments: new Int32Array(T),
    targets: Int32Array.from(targets ?? tokens.map((_, i) => (i + 1 < T ? tokens[i + 1]! : -1))),
  };
}

/** llama.cpp's logits at every position, through node-llama-cpp. exact=true uses an F32 KV cache
 * and no flash attention, the configuration the training graph reproduces bit-for-bit. */
export async function llamaCppLogits(
  model: LlamaModel,
  tokens: readonly number[],
  nVocab: number,
  options: {exact: boolean; lora?: {filePath: string; scale?: number}},
): Promise<Float32Array[]> {
  const context = await model.createContext({
    contextSize: Math.max(64, tokens.length + 8),
    threads: THREADS,
    ...(options.exact ? {flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32'} : {}),
    ...(options.lora ? {lora: {adapters: [{filePath: options.lora.filePath, scale: options.lora.scale ?? 1}]}} : {}),
  });
  try {
    const input = tokens.map((t): ControlledEvaluateInputItem => [t as Token, {generateNext: {logits: true}}]);
    const out = await context.getSequence().controlledEvaluate(input);
    return out.map((item, i) => {
      const logits = item?.next?.logits;
      if (!logits) throw new Error(`no logits at position ${i}`);
      const row = new Float32Array(nVocab);
      for (const [token, value] of logits) row[token] = value;
      return row;
    });
  } finally {
    await context.dispose();
  }
}

/** max |a - b| over a row-major [n][nVocab] block of `flat` starting at row `from`. */
export function maxAbsDiff(reference: readonly Float32Array[], flat: Float32Array, nVocab: number, from = 0): number {
  let max = 0;
  reference.forEach((row, i) => {
    for (let v = 0; v < nVocab; v++) max = Math.max(max, Math.abs(row[v]! - flat[(from + i) * nVocab + v]!));
  });
  return max;
}

/** Deterministic pseudo-random floats in [-scale, scale). */
export function randomFloats(n: number, seed: number, scale: number): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}
