// A training run on disk: one directory per run, written only by the run's own job process.
//
//   <runs>/<run id>/run.json          config, provenance, progress, result (atomic rewrite)
//   <runs>/<run id>/metrics.jsonl     one JSON object per step / evaluation (append-only)
//   <runs>/<run id>/checkpoints/step-000050/state.gguf   LoRA + AdamW moments + counters (native)
//   <runs>/<run id>/checkpoints/step-000050/trainer.json data cursor, step, written LAST: a
//                                     checkpoint without it is incomplete and ignored
//   <runs>/<run id>/adapter.gguf      the produced LoRA (also copied to the --out path)
//   <runs>/<run id>/train.log         the job process's stderr (trainer, llama.cpp, aborts)
//
// Files are written beside and renamed, with fsync, so a kill -9 at any instant leaves either the
// old or the new version. The store can index these records (see the report's migration); the
// files stay the source of truth for resuming.

import {closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeSync} from 'node:fs';
import {join} from 'node:path';
import type {PpoSettings, TrainingKind} from '../../common/training.js';
import type {Cursor} from './feeder.js';
import type {InputProvenance, TrainingInputFile} from './inputs.js';

export type RunStatus = 'running' | 'completed' | 'failed' | 'interrupted';

/** The job's configuration: the common TrainingConfig (main/common/training.ts) in the job's own
 * terms, made by trainConfigFrom (job.ts), plus what only the job needs. */
export interface TrainConfig {
  kind: TrainingKind;
  /** Base model GGUF (llama or qwen2). */
  model: string;
  /** The input files with their roles (the manifest); when no file has the validation role,
   * `valFraction` of the training items is held out instead. */
  inputs: TrainingInputFile[];
  /** An adapter to start from (DPO: the policy and its frozen reference; RM: SFT instead of the base). */
  initAdapter: string | null;
  /** DPO β, label smoothing; RM margin and centering (see TrainingConfig). */
  beta: number;
  labelSmoothing: number;
  margin: number;
  centerRewards: number;
  /** PPO: the reward-model file (LoRA + head) and PPO's settings */
  rewardModel: string | null;
  ppo: PpoSettings;
  /** Where the finished adapter is copied. */
  out: string;
  /** Optimizer steps; when absent, `epochs` over the training split decide. */
  steps: number | null;
  epochs: number;
  lora: {rank: number; alpha: number; dropout: number; targets: string[]};
  lr: number;
  warmupSteps: number;
  minLrRatio: number;
  weightDecay: number;
  gradClip: number;
  beta1: number;
  beta2: number;
  /** Longest training row in tokens. */
  nCtx: number;
  /** Rows per micro-batch. */
  rows: number;
  /** Micro-batches accumulated per optimizer step. */
  accum: number;
  pack: boolean;
  valFraction: number;
  /** Evaluate on the validation split every N steps (0 = only at start and end). */
  evalEvery: number;
  /** Save a checkpoint every N steps (0 = only at the end). */
  checkpointEvery: number;
  keepCheckpoints: number;
  seed: number;
  threads: number;
  gpu: boolean;
  /** recompute each layer in the backward instead of keeping its activations (absent in runs from before it existed) */
  gradientCheckpointing?: boolean;
}

/** An input file as the run used it: how many of its rows became training items. */
export interface DatasetProvenance extends InputProvenance {
  /** items the objective learns from (dialogues, texts or rankings) */
  examples: number;
  /** rows of a kind this objective does not learn from, or that could not be used */
  skipped: number;
}

export interface RunRecord {
  id: string;
  kind: TrainConfig['kind'];
  status: RunStatus;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
  config: TrainConfig;
  provenance: {
    datasets: DatasetProvenance[];
    baseModel: {path: string; sha256: string; bytes: number};
    initAdapter: {path: string; sha256: string} | null;
    rewardModel?: {path: string; sha256: string} | null;
    seed: number;
    code: {app: string; commit: string | null; nodeLlamaCpp: string; llamaCpp: string; addon: Record<string, string>};
    device: string;
  } | null;
  data: {trainExamples: number; valExamples: number; trainTokens: number; trainTargets: number; truncated: number; dropped: number; notes?: string[]} | null;
  progress: {step: number; totalSteps: number; epoch: number; lastCheckpoint: number | null; resumes: number};
  result: {adapter: string; adapterSha256: string; out: string; finalLoss: number | null; evalLoss: number | null} | null;
  /** The checkpoint kept as the result: the best by validation (loss, or PPO's held-out reward) when there is validation data. */
  best: {step: number; metric: string; value: number} | null;
  /** The run stopped itself (PPO's guard-rails): at which step and why. */
  stopped?: {step: number; reason: {zh: string; en: string}} | null;
  error: string | null;
}

export interface StepMetrics {
  type: 'step';
  step: number;
  loss: number;
  lr: number;
  gradNorm: number;
  tokens: number;
  tokensPerS: number;
  epoch: number;
  elapsedS: number;
  /** the objective's own metrics (RM accuracy and margin, DPO rewards/logps …) */
  values?: Record<string, number>;
  /** the gradient norm exploded: the step's gradient was scaled down to the bound */
  downscaled?: boolean;
}

export interface EvalMetrics {
  type: 'eval';
  step: number;
  evalLoss: number;
  evalTokens: number;
  values?: Record<string, number>;
  /** what picks the best checkpoint when it is not the lowest loss (PPO: the held-out reward) */
  rank?: {metric: string; value: number; higherIsBetter: boolean};
}

export type Metrics = StepMetrics | EvalMetrics;

export interface CheckpointInfo {
  step: number;
  dir: string;
  cursor: Cursor;
  epoch: number;
  /** the objective's own state (PPO: KL coefficient, reward statistics, guard-rail history) */
  objective?: unknown;
}

/** Writes `content` to `path` durably and atomically. */
export function writeFileAtomic(path: string, content: string | Buffer): void {
  const tmp = `${path}.tmp-${process.pid}`;
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, typeof content === 'string' ? Buffer.from(content) : content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

export class RunDir {
  constructor(readonly dir: string) {}

  get recordPath(): string {
    return join(this.dir, 'run.json');
  }
  get metricsPath(): string {
    return join(this.dir, 'metrics.jsonl');
  }
  get adapterPath(): string {
    return join(this.dir, 'adapter.gguf');
  }
  /** The adapter at the best validation loss so far (copied over the result at the end). */
  get bestAdapterPath(): string {
    return join(this.dir, 'best.gguf');
  }
  /** The last step's adapter, written when the result is an earlier (best) checkpoint. */
  get lastAdapterPath(): string {
    return join(this.dir, 'last.gguf');
  }
  checkpointDir(step: number): string {
    return join(this.dir, 'checkpoints', `step-${String(step).padStart(6, '0')}`);
  }

  exists(): boolean {
    return existsSync(this.recordPath);
  }

  read(): RunRecord {
    return JSON.parse(readFileSync(this.recordPath, 'utf8')) as RunRecord;
  }

  write(record: RunRecord): void {
    mkdirSync(this.dir, {recursive: true});
    record.updatedAt = new Date().toISOString();
    writeFileAtomic(this.recordPath, JSON.stringify(record, null, 2) + '\n');
  }

  appendMetrics(line: Metrics): void {
    const fd = openSync(this.metricsPath, 'a');
    try {
      writeSync(fd, JSON.stringify(line) + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  }

  readMetrics(): Metrics[] {
    if (!existsSync(this.metricsPath)) return [];
    return readFileSync(this.metricsPath, 'utf8')
      .split('\n')
      .filter((l) => l.trim())
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Metrics];
        } catch {
          return []; // a line cut by a kill mid-write
        }
      });
  }

  /** Keeps the metrics of steps up to `step` (a resumed run re-does the later ones). */
  truncateMetrics(step: number): void {
    const kept = this.readMetrics().filter((m) => m.step <= step && !(m.type === 'step' && m.step > step));
    writeFileAtomic(this.metricsPath, kept.map((m) => JSON.stringify(m) + '\n').join(''));
  }

  /** Complete checkpoints, newest first. */
  checkpoints(): CheckpointInfo[] {
    const root = join(this.dir, 'checkpoints');
    if (!existsSync(root)) return [];
    return readdirSync(root)
      .filter((name) => /^step-\d{6}$/.test(name) && existsSync(join(root, name, 'trainer.json')) && existsSync(join(root, name, 'state.gguf')))
      .map((name) => {
        const info = JSON.parse(readFileSync(join(root, name, 'trainer.json'), 'utf8')) as Omit<CheckpointInfo, 'dir'>;
        return {...info, dir: join(root, name)};
      })
      .sort((a, b) => b.step - a.step);
  }

  /** Marks a checkpoint complete (its state.gguf must already be written). */
  commitCheckpoint(info: CheckpointInfo): void {
    const {dir, ...rest} = info;
    writeFileAtomic(join(dir, 'trainer.json'), JSON.stringify(rest, null, 2) + '\n');
    const parent = openSync(dir, 'r');
    try {
      fsyncSync(parent);
    } finally {
      closeSync(parent);
    }
  }

  /** Removes all but the newest `keep` complete checkpoints, and any incomplete one. */
  pruneCheckpoints(keep: number): void {
    const root = join(this.dir, 'checkpoints');
    if (!existsSync(root)) return;
    const complete = new Set(this.checkpoints().slice(0, Math.max(1, keep)).map((c) => c.dir));
    for (const name of readdirSync(root)) {
      const dir = join(root, name);
      if (!complete.has(dir)) rmSync(dir, {recursive: true, force: true});
    }
  }
}

