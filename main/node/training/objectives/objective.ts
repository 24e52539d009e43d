// The objective seam of the trainer. SFT, continued pre-training, the reward model and DPO (PPO
// next) each implement TrainingObjective: which rows they learn from and how they become batches
// (the feeder), which adapters the session holds and which loss head ends the graph, which metrics
// a step and an evaluation report, and what the artifact's metadata says. The run loop (run.ts)
// names none of them: it asks the registry (index.ts) for the run's kind and drives the interface.

import type {Llama} from 'node-llama-cpp';
import type {TrainingKind} from '../../../common/training.js';
import type {Cursor} from '../feeder.js';
import type {ReadInputs} from '../inputs.js';
import type {AdapterSpec, LossHead, NativeTrainingSession, SessionOptions, StepResult, TrainingBatch} from '../native.js';
import type {RunRecord, TrainConfig} from '../record.js';
import type {ExampleTokenizer} from '../render.js';

export type RunData = NonNullable<RunRecord['data']>;

/** An objective's data, ready to feed. */
export interface PreparedObjective {
  stats: RunData;
  /** Per input file: items it gave, rows skipped (in the order of ReadInputs.files). */
  perFile: {examples: number; skipped: number}[];
  /** The micro-batch at `cursor` and the cursor after it (a pure function: resume feeds the same). */
  next(cursor: Cursor): {batch: TrainingBatch; cursor: Cursor};
  /** Micro-batches in one epoch (sizes a run given in epochs). */
  microBatchesPerEpoch(): number;
  /** Every held-out item once. */
  evalBatches(): TrainingBatch[];
  /** Once the session exists, before the first step (DPO: the reference log-probs, cached in the
   * run directory; PPO: the model that generates rollouts). */
  attach?(session: NativeTrainingSession, env: AttachEnv): Promise<void>;
  /** An objective whose step is more than one optimizer update (PPO: rollouts, then epochs of
   * mini-batches) runs it itself; others leave the loop to feed `next` and call trainStep. */
  step?(context: StepContext): Promise<StepOutcome>;
  /** The objective's metrics of one optimizer step from its micro-batches and the native result. */
  stepValues(batches: readonly TrainingBatch[], result: StepResult): Record<string, number>;
  /** Loss and metrics on the held-out batches (names of held-out values start with "eval/").
   * `rank` is what picks the best checkpoint (default: the lowest loss); `stop` ends the run. */
  evaluate(session: NativeTrainingSession, batches: readonly TrainingBatch[], step: number): Promise<Evaluation>;
  /** What must survive a checkpoint besides the weights and the cursor (PPO: the adaptive KL
   * coefficient, running reward statistics, the guard-rail history). */
  saveState?(): unknown;
  restoreState?(state: unknown): void;
  /** Frees what attach() loaded. */
  dispose?(): Promise<void>;
}

export interface AttachEnv {
  runDir: string;
  llama: Llama;
}

export interface StepContext {
  session: NativeTrainingSession;
  cursor: Cursor;
  /** steps done before this one */
  step: number;
  lr: number;
}

export interface StepOutcome {
  cursor: Cursor;
  loss: number;
  gradNorm: number;
  /** tokens processed (rollouts and training) */
  tokens: number;
  values: Record<string, number>;
  downscaled?: boolean;
}

export interface Evaluation {
  loss: number;
  items: number;
  values: Record<string, number>;
  rank?: {metric: string; value: number; higherIsBetter: boolean};
  stop?: {zh: string; en: string};
}

export interface TrainingObjective {
  readonly kind: TrainingKind;
  readonly lossHead: LossHead;
  /** What the session holds besides the base model. */
  sessionOptions(config: TrainConfig): Pick<SessionOptions, 'lossHead' | 'loss' | 'adapters'>;
  prepare(inputs: ReadInputs, tokenizer: ExampleTokenizer, config: TrainConfig): PreparedObjective;
  /** Extra metadata of the exported artifact (beside run id, base model hash, data and config). */
  artifactMetadata(config: TrainConfig): Record<string, string>;
  /** Whether the artifact keeps the adapter's scalar head (the reward model's file does; a chat
   * adapter must not: llama.cpp refuses any tensor that is not a LoRA pair). */
  readonly artifactHasHead: boolean;
}

/** The adapter every objective trains: LoRA from the config, or started from `initAdapter`. */
export function trainedAdapter(config: TrainConfig, name: string, extra: Partial<AdapterSpec> = {}): AdapterSpec {
  return {
    name,
    trainable: true,
    ...(config.initAdapter ? {initFrom: config.initAdapter} : {}),
    lora: {rank: config.lora.rank, alpha: config.lora.alpha, dropout: config.lora.dropout, targets: config.lora.targets as never, seed: config.seed},
    ...extra,
  };
}

/** A usage error of the data (no items, wrong kind of rows): a clear message in both languages. */
export class ObjectiveDataError extends Error {
  constructor(readonly localised: {zh: string; en: string}) {
    super(localised.en);
  }
}
