// Domain types of training runs (LoRA SFT and continued pre-training now; the reward model, PPO
// and DPO reuse the same run, metrics and checkpoint records). Part of the API contract.

export type TrainingKind = 'sft' | 'pt';
export type LoraTarget = 'q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down';
export const LORA_TARGETS: readonly LoraTarget[] = ['q', 'k', 'v', 'o', 'gate', 'up', 'down'];

export interface TrainingConfig {
  rank: number;
  alpha: number;
  dropout: number;
  targets: LoraTarget[];
  learningRate: number;
  weightDecay: number;
  warmupSteps: number;
  /** optimizer steps; when null, `epochs` over the training split decides */
  steps: number | null;
  epochs: number;
  /** sequences per micro-batch */
  batchSize: number;
  gradientAccumulation: number;
  maxSequenceLength: number;
  clipGradNorm: number;
  seed: number;
  checkpointEvery: number;
  evalEvery: number;
  /** used when a dataset has no validation split of its own */
  validationFraction: number;
}

export const DEFAULT_TRAINING_CONFIG: TrainingConfig = {
  rank: 8,
  alpha: 16,
  dropout: 0.05,
  targets: ['q', 'k', 'v', 'o'],
  learningRate: 2e-4,
  weightDecay: 0,
  warmupSteps: 10,
  steps: null,
  epochs: 1,
  batchSize: 1,
  gradientAccumulation: 4,
  maxSequenceLength: 1024,
  clipGradNorm: 1,
  seed: 42,
  checkpointEvery: 50,
  evalEvery: 25,
  validationFraction: 0.05,
};

export type TrainingState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

export interface TrainingDatasetRef {
  datasetId: string;
  name: string;
  version: number;
  contentHash: string;
}

export interface TrainingMetric {
  step: number;
  loss: number;
  evalLoss: number | null;
  learningRate: number;
  tokensPerSecond: number;
  gradNorm: number | null;
  memoryBytes: number | null;
  at: string;
}

export interface TrainingRunSummary {
  id: string;
  kind: TrainingKind;
  name: string;
  modelId: string | null;
  modelName: string;
  state: TrainingState;
  step: number;
  totalSteps: number;
  lastLoss: number | null;
  lastEvalLoss: number | null;
  createdAt: string;
  finishedAt: string | null;
  adapterModelId: string | null;
}

export interface TrainingRun extends TrainingRunSummary {
  config: TrainingConfig;
  datasets: TrainingDatasetRef[];
  /** provenance: exactly what produced the adapter */
  provenance: {baseModelSha256: string | null; codeVersion: string; seed: number; threads: number; backend: string};
  adapterPath: string | null;
  checkpoints: {step: number; createdAt: string}[];
  metrics: TrainingMetric[];
  error: {zh: string; en: string} | null;
}

export interface TrainingCapabilities {
  available: boolean;
  /** why training cannot run here (the native addon did not build or load), in both languages */
  reason: {zh: string; en: string} | null;
  backends: string[];
  threads: number;
}
