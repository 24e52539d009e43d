// The native trainer addon's JS surface, typed in this ONE file (native/src/addon.cpp implements
// it). Built by scripts/build-native.js into native/build/<variant>/zhongjing_trainer.node, one
// build per node-llama-cpp binary variant (cpu, cuda, vulkan): the addon links to the same
// prebuilt libggml as node-llama-cpp, so it must match the variant node-llama-cpp loaded, and
// node-llama-cpp must be loaded first (its backend registry is the one the addon uses).
//
// Loading never throws: if the addon is missing or cannot load, chat and annotation still work and
// the training screen shows `reason`.

import {existsSync, readFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join} from 'node:path';
import type {Llama} from 'node-llama-cpp';
import {LORA_TARGETS, type LoraTarget, type TrainingCapabilities} from '../../common/training.js';
import {packageRoot, unpackedPath} from '../paths.js';

/** One micro-batch: nRows rows of nCtx tokens, row-major. */
export interface TrainingBatch {
  nRows: number;
  nCtx: number;
  tokens: Int32Array;
  /** Position of each token inside its own sequence (restarts at 0 for every packed sequence). */
  positions: Int32Array;
  /** Sequence number inside the row (attention never crosses sequences); -1 = padding. */
  segments: Int32Array;
  /** Token to predict at each position, -1 = no loss here. */
  targets: Int32Array;
  /** Preference heads (reward, dpo). Sequences are numbered in order of appearance, row-major,
   * one per (row, segment). Pair p prefers sequence pairs[2p] over pairs[2p+1]; its loss is
   * w·[(1-ε)·softplus(-z) + ε·softplus(z)] with z = β·(score[better] - score[worse] - offset). */
  pairs?: Int32Array;
  pairWeights?: Float32Array;
  /** The reward model's margin, or DPO's reference log-ratio (ref[better] - ref[worse]). */
  pairOffsets?: Float32Array;
  /** Reward centering: weight of score² per sequence (TRL's center_rewards_coefficient). */
  sequenceWeights?: Float32Array;
  /** PPO: per target token (target order), four runs of M values: the rollout's log-prob, the
   * advantage, the return and the rollout's value. */
  targetValues?: Float32Array;
}

/** Which adapters a forward pass applies: true = the trainable ones, false = none (the bare base),
 * or adapter names. */
export type AdapterSelection = boolean | readonly string[];

export interface AdapterSpec {
  name: string;
  trainable: boolean;
  /** A scalar head on the last token's hidden state (reward model; value model later). */
  head?: boolean;
  /** Start from this LoRA GGUF (its rank, alpha, targets and head come from the file). */
  initFrom?: string;
  lora?: {rank?: number; alpha?: number; dropout?: number; targets?: readonly LoraTarget[]; seed?: number};
}

/** The loss head (the objective's end of the graph). */
export type LossHead = 'lm' | 'reward' | 'dpo' | 'ppo';

/** What `scores` computes: per sequence ('reward', 'logp') or per target token ('tokens': log-probs
 * [M]; 'policy': log-probs [M], the value head [M], the next-token entropy [M]). */
export type ScoreKind = 'reward' | 'logp' | 'tokens' | 'policy';

export {LORA_TARGETS, type LoraTarget};

export interface SessionOptions {
  modelPath: string;
  /** CPU threads: required, never a library default (see ARCHITECTURE.md, Threads). */
  threads: number;
  /** Seed of the dropout masks; also LoRA A's initialisation unless lora.seed is given. */
  seed?: number;
  /** Use the first GPU when the loaded variant has one. */
  gpu?: boolean;
  /** Keep only each layer's input from the forward and recompute each layer for its backward:
   * activation memory of one layer instead of all, for about one more forward pass of compute. */
  gradientCheckpointing?: boolean;
  /** With gradient checkpointing, the LM loss over slices of at most this many target tokens
   * (default 512), so its vocabulary-sized logits are alive for one slice at a time. */
  lossChunkTargets?: number;
  /** A frozen weight's transposed copy for the backward is made in slices of about this many
   * values (default 2^25): the LM head's is never held whole. Tests set it small. */
  backwardSliceValues?: number;
  /** 'lm': next-token NLL on target positions; 'reward' / 'dpo': preference loss over pairs. */
  lossHead?: LossHead;
  loss?: {beta?: number; labelSmoothing?: number; centerRewards?: number; clipRange?: number; clipRangeValue?: number; vfCoef?: number};
  /** Several named adapters on one base; without it, one trainable adapter from `lora`. */
  adapters?: readonly AdapterSpec[];
  lora?: {rank?: number; alpha?: number; dropout?: number; targets?: readonly LoraTarget[]; seed?: number};
  adamw?: {beta1?: number; beta2?: number; eps?: number; weightDecay?: number; gradClip?: number};
}

export interface SessionInfo {
  architecture: string;
  nVocab: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  nHeadKv: number;
  nFf: number;
  nCtxTrain: number;
  /** ggml type of the frozen base weights (f32, f16, q8_0, q4_0, q4_K, ...). */
  weightType: string;
  device: string;
  threads: number;
  trainableParams: number;
  /** Optimizer steps taken. */
  step: number;
  /** Training forwards taken (selects dropout masks). */
  microStep: number;
  lossHead: string;
  adapters: {name: string; trainable: boolean; head: boolean; rank: number; alpha: number; params: number}[];
}

export interface StepResult {
  /** Mean loss over the step's items (target tokens) across all its micro-batches. */
  loss: number;
  nItems: number;
  /** Non-padding tokens processed. */
  nTokens: number;
  /** Global gradient L2 norm before clipping. */
  gradNorm: number;
  /** Clipping factor applied (1 = not clipped). */
  gradScale: number;
  /** Optimizer steps after this one. */
  step: number;
  /** The gradient norm passed `maxGradNorm` and was scaled down to it. */
  downscaled: boolean;
  /** Per-sequence scores of the step's micro-batches in order (reward or summed log-prob); empty for 'lm'. */
  scores: Float32Array;
}

export interface EvalResult {
  lossSum: number;
  nItems: number;
  nTokens: number;
  scores: Float32Array;
}

export interface NativeTrainingSession {
  info(): SessionInfo;
  /** One optimizer step: gradient accumulated over all `batches`, clipped, AdamW at `lr`. */
  trainStep(batches: readonly TrainingBatch[], lr: number, onProgress?: (done: number, total: number) => void, options?: {maxGradNorm?: number}): Promise<StepResult>;
  /** Gradient over `batches` without dropout and without a step (read with getGradient). */
  accumulate(batches: readonly TrainingBatch[]): Promise<EvalResult>;
  evaluate(batch: TrainingBatch): Promise<EvalResult>;
  /** Logits [nRows * nCtx][nVocab] (row-major) with the chosen adapters (default: the trainable ones). */
  logits(batch: TrainingBatch, adapters?: AdapterSelection): Promise<Float32Array>;
  /** Per-sequence scores without a loss: 'reward' (the scalar head of the first applied adapter
   * that has one, at each sequence's last token) or 'logp' (summed log-probs of its targets). */
  scores(batch: TrainingBatch, kind: ScoreKind, adapters?: AdapterSelection): Promise<Float32Array>;
  /** Tensor names of an adapter (default: the first trainable), e.g. blk.0.attn_q.weight.lora_a;
   * getTensor/getGradient/setTensor take them bare or as "adapter/name". */
  tensorNames(adapter?: string): string[];
  getTensor(name: string): Float32Array;
  getGradient(name: string): Float32Array;
  setTensor(name: string, data: Float32Array): void;
  /** LoRA + AdamW moments + step + dropout counter, as GGUF (atomic write). */
  saveState(path: string, metadata?: Record<string, string>): Promise<void>;
  loadState(path: string): Promise<{step: number; microStep: number}>;
  /** A LoRA GGUF that llama.cpp / node-llama-cpp loads (default: the first trainable adapter; a
   * scalar head is written too, as zhongjing.score.weight); metadata is stored as strings. */
  exportAdapter(path: string, metadata?: Record<string, string>, adapter?: string, options?: {head?: boolean}): Promise<void>;
  /** Frees the model, LoRA and optimizer memory. Throws while a call is in flight. */
  dispose(): void;
  readonly disposed: boolean;
}

export interface MakeModelOptions {
  out: string;
  /** ggml type for the 2-D weights: f32, f16, q8_0, q4_0, q4_K, ... */
  type?: string;
  /** Convert this model's weights (shapes and metadata kept). */
  weightsFrom?: string;
  /** Or: random weights with the shapes below and this model's tokenizer. */
  vocabFrom?: string;
  architecture?: 'llama' | 'qwen2';
  nEmbd?: number;
  nLayer?: number;
  nHead?: number;
  nHeadKv?: number;
  nFf?: number;
  nCtx?: number;
  seed?: number;
}

export interface DeviceInfo {
  name: string;
  description: string;
  type: 'cpu' | 'gpu' | 'igpu' | 'accel' | 'other';
  memoryFree: number;
  memoryTotal: number;
}

export interface NativeTrainerAddon {
  createSession(options: SessionOptions): Promise<NativeTrainingSession>;
  devices(): DeviceInfo[];
  makeModel(options: MakeModelOptions): Promise<{nParams: number; nConverted: number; nKept: number}>;
  setLogLevel(level: 'debug' | 'info' | 'warn' | 'error'): void;
  readonly build: {variant: string; binsDir: string; ggmlVersion: string; ggmlCommit: string};
}

export type TrainerVariant = 'cpu' | 'cuda' | 'vulkan';

export type TrainerAvailability =
  | {ok: true; addon: NativeTrainerAddon; variant: TrainerVariant; path: string}
  | {ok: false; variant: TrainerVariant | null; path: string | null; reason: {zh: string; en: string}};

/** node-llama-cpp's loaded binary variant (the addon must match it). */
export function variantOf(llama: Llama): TrainerVariant | null {
  if (llama.gpu === false) return 'cpu';
  if (llama.gpu === 'cuda' || llama.gpu === 'vulkan') return llama.gpu;
  return null; // metal: not built here
}

/** native/build/<variant>/zhongjing_trainer.node of this installation; in the packaged app, the copy
 * in app.asar.unpacked (it finds node-llama-cpp's libggml through its $ORIGIN-relative rpath). */
export function trainerAddonPath(variant: TrainerVariant): string {
  return process.env.ZHONGJING_TRAINER_ADDON || unpackedPath(join(packageRoot(), 'native', 'build', variant, 'zhongjing_trainer.node'));
}

const loaded = new Map<string, NativeTrainerAddon>();

/** Loads the addon matching `llama` (node-llama-cpp, already initialised). Never throws. */
export function loadTrainer(llama: Llama): TrainerAvailability {
  const variant = variantOf(llama);
  if (!variant) {
    return {
      ok: false, variant: null, path: null,
      reason: {zh: `训练模块不支持当前的推理后端（${String(llama.gpu)}）。`, en: `Training does not support the inference backend in use (${String(llama.gpu)}).`},
    };
  }
  const path = trainerAddonPath(variant);
  const cached = loaded.get(path);
  if (cached) return {ok: true, addon: cached, variant, path};
  if (!existsSync(path)) {
    return {
      ok: false, variant, path,
      reason: {
        zh: `训练模块尚未编译（${variant}）。请运行 node scripts/build-native.js --variant ${variant}。`,
        en: `The training module is not built for ${variant}. Run: node scripts/build-native.js --variant ${variant}`,
      },
    };
  }
  const infoPath = join(path, '..', 'build-info.json');
  try {
    const info = existsSync(infoPath) ? (JSON.parse(readFileSync(infoPath, 'utf8')) as {llamaCppTag?: string}) : {};
    const nlcInfo = JSON.parse(readFileSync(join(packageRoot(), 'node_modules', 'node-llama-cpp', 'llama', 'llama.cpp.info.json'), 'utf8')) as {tag: string};
    if (info.llamaCppTag && info.llamaCppTag !== nlcInfo.tag) {
      return {
        ok: false, variant, path,
        reason: {
          zh: `训练模块是为 llama.cpp ${info.llamaCppTag} 编译的，但已安装的是 ${nlcInfo.tag}。请重新运行 node scripts/build-native.js。`,
          en: `The training module was built for llama.cpp ${info.llamaCppTag} but ${nlcInfo.tag} is installed. Rebuild: node scripts/build-native.js`,
        },
      };
    }
  } catch {
    // no way to compare versions: try loading anyway
  }
  try {
    const addon = createRequire(import.meta.url)(path) as NativeTrainerAddon;
    loaded.set(path, addon);
    return {ok: true, addon, variant, path};
  } catch (error) {
    const message = (error as Error).message;
    return {
      ok: false, variant, path,
      reason: {zh: `训练模块无法加载：${message}`, en: `The training module cannot be loaded: ${message}`},
    };
  }
}

/** What the training screen shows: whether training can run here, and if not, why. */
export function trainingCapabilities(llama: Llama, threads: number): TrainingCapabilities {
  const loaded = loadTrainer(llama);
  if (!loaded.ok) return {available: false, reason: loaded.reason, backends: [], threads};
  try {
    const backends = loaded.addon.devices().map((d) => `${d.type}: ${d.description}`);
    return {available: true, reason: null, backends, threads};
  } catch (error) {
    const message = (error as Error).message;
    return {available: false, reason: {zh: `训练模块无法初始化：${message}`, en: `The training module cannot start: ${message}`}, backends: [], threads};
  }
}
