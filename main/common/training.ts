// Domain types of training runs: LoRA SFT, continued pre-training, the reward model and DPO (PPO
// next) are objectives over the same run, metrics and checkpoint records. Part of the API contract.
// The ONE configuration type and its defaults per objective live here, used by the form, the API
// and the CLI alike.

export type TrainingKind = 'sft' | 'pt' | 'rm' | 'dpo' | 'ppo';
export const TRAINING_KINDS: readonly TrainingKind[] = ['sft', 'pt', 'rm', 'dpo', 'ppo'];
/** Objectives that learn from preferences (rankings or chosen/rejected pairs). */
export const PREFERENCE_KINDS: readonly TrainingKind[] = ['rm', 'dpo'];
export const isPreferenceKind = (kind: TrainingKind): boolean => PREFERENCE_KINDS.includes(kind);
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
  /** 1 = gradient checkpointing: keep only each layer's input from the forward pass and compute the
   * layer again for its backward. The same gradients (bit for bit) with one layer's activations in
   * memory instead of all of them, for about one more forward pass of compute. */
  gradientCheckpointing: number;
  /** used when a dataset has no validation split of its own */
  validationFraction: number;
  /** DPO: β, how far the policy may move from the reference (TRL's default 0.1) */
  beta: number;
  /** DPO: the chance a preference label is wrong (cDPO); 0 = trust every label */
  labelSmoothing: number;
  /** reward model: the score gap the better answer must win by (0 = plain ranking loss) */
  margin: number;
  /** reward model: weight of mean(score²), which keeps rewards centred on 0 (TRL's center_rewards_coefficient; 0 = off) */
  centerRewards: number;
  // ── PPO (defaults mirror TRL's ppo_config and LLaMA-Factory's ppo_target; numbers only, so one
  //    form, one schema and one flag table cover them)
  /** optimisation passes over each rollout batch */
  ppoEpochs: number;
  /** mini-batches each pass splits the rollout batch into */
  miniBatches: number;
  /** KL penalty coefficient (the start value when adaptive) */
  klCoef: number;
  /** adaptive KL controller's target KL per response (LLaMA-Factory's ppo_target); 0 = fixed coefficient */
  klTarget: number;
  /** per-token KL estimator: 1 = k1 (log-ratio), 3 = k3 (unbiased, always ≥ 0) */
  klEstimator: number;
  clipRange: number;
  clipRangeValue: number;
  vfCoef: number;
  gamma: number;
  lam: number;
  /** 1 = whiten advantages over the rollout batch */
  whitenAdvantages: number;
  /** sampling of the rollouts */
  temperature: number;
  topP: number;
  maxNewTokens: number;
  /** subtracted from the score of a response that never ends (no end-of-turn token); 0 = off */
  missingEosPenalty: number;
  /** reward-model scores are clipped to ±this; 0 = off */
  rewardClip: number;
  /** 1 = normalise scores by a running mean and standard deviation */
  normalizeRewards: number;
  /** guard-rails: stop when held-out KL to the reference passes this (0 = off) */
  klStop: number;
  /** guard-rails: stop when held-out reward falls this many checks in a row (0 = off) */
  rewardDropChecks: number;
  /** guard-rails: stop when held-out responses average fewer tokens than this (0 = off) */
  minResponseTokens: number;
  /** guard-rails: stop when the share of distinct bigrams in held-out responses falls below this (0 = off) */
  minDistinct2: number;
}

/** PPO's own settings (the job groups them; the form and the CLI list them). */
export const PPO_SETTING_KEYS = [
  'ppoEpochs', 'miniBatches', 'klCoef', 'klTarget', 'klEstimator', 'clipRange', 'clipRangeValue', 'vfCoef', 'gamma', 'lam', 'whitenAdvantages',
  'temperature', 'topP', 'maxNewTokens', 'missingEosPenalty', 'rewardClip', 'normalizeRewards', 'klStop', 'rewardDropChecks', 'minResponseTokens', 'minDistinct2',
] as const satisfies readonly (keyof TrainingConfig)[];
export type PpoSettings = Pick<TrainingConfig, (typeof PPO_SETTING_KEYS)[number]>;

/** Settings shared by every objective; each objective's own values come from TRAINING_DEFAULTS. */
const COMMON_DEFAULTS: TrainingConfig = {
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
  gradientCheckpointing: 0,
  validationFraction: 0.05,
  beta: 0.1,
  labelSmoothing: 0,
  margin: 0,
  centerRewards: 0,
  ppoEpochs: 4,
  miniBatches: 1,
  klCoef: 0.05,
  klTarget: 6,
  klEstimator: 1,
  clipRange: 0.2,
  clipRangeValue: 0.2,
  vfCoef: 0.1,
  gamma: 1,
  lam: 0.95,
  whitenAdvantages: 1,
  temperature: 0.7,
  topP: 1,
  maxNewTokens: 128,
  missingEosPenalty: 0,
  rewardClip: 10,
  normalizeRewards: 0,
  klStop: 0,
  rewardDropChecks: 3,
  minResponseTokens: 2,
  minDistinct2: 0.1,
};

/** The defaults of each objective (the paper holds out 10 % for the reward model and keeps the best
 * checkpoint by validation; preference objectives learn more slowly and need a smaller step). */
export const TRAINING_DEFAULTS: Readonly<Record<TrainingKind, TrainingConfig>> = {
  sft: COMMON_DEFAULTS,
  pt: {...COMMON_DEFAULTS, maxSequenceLength: 1024},
  rm: {...COMMON_DEFAULTS, learningRate: 5e-5, validationFraction: 0.1, gradientAccumulation: 4, warmupSteps: 5},
  dpo: {...COMMON_DEFAULTS, learningRate: 5e-5, validationFraction: 0.1, gradientAccumulation: 4, warmupSteps: 5},
  // a step is one rollout batch of `batchSize` prompts; evaluation = the guard-rail check
  ppo: {...COMMON_DEFAULTS, learningRate: 1e-5, batchSize: 8, gradientAccumulation: 1, warmupSteps: 0, validationFraction: 0.1, evalEvery: 10, checkpointEvery: 10, dropout: 0},
};

/** Kept for callers that predate objectives: SFT's defaults. */
export const DEFAULT_TRAINING_CONFIG: TrainingConfig = TRAINING_DEFAULTS.sft;

export function defaultTrainingConfig(kind: TrainingKind): TrainingConfig {
  return {...TRAINING_DEFAULTS[kind], targets: [...TRAINING_DEFAULTS[kind].targets]};
}

/** One ranking of candidate answers to one prompt, as the reward model and DPO learn it: tiers of
 * candidate indices best first (a tier of several is a tie). A chosen/rejected pair is a ranking of
 * two. `dimensions` (when the expert gave ability marks) holds, per candidate, the summed marks of
 * safety, professionalism and fluency, for per-dimension accuracy. */
export interface PreferenceRecord {
  turns: {role: 'system' | 'user' | 'assistant'; content: string}[];
  candidates: string[];
  tiers: number[][];
  dimensions?: (number[] | null)[];
  source?: string;
}

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
  /** the objective's own metrics at this step, named as TRL logs them where it does
   * (rewards/accuracies, rewards/margins, logps/chosen …); held-out ones start with "eval/" */
  values: Record<string, number>;
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
  /** where the training data came from, for preference runs the annotation projects and people */
  sources: TrainingSource[];
  /** the checkpoint kept as the run's result: the best by validation when there is a validation split */
  best: {step: number; metric: string; value: number} | null;
  /** which adapter the run's result is now: the best checkpoint (default) or, by the user's choice,
   * the last step's; `lastAvailable` when the two differ */
  result: {step: 'best' | 'last'; lastAvailable: boolean};
  /** the adapter the run started from (DPO / PPO policy, a reward model initialised from SFT), and
   * the run here that produced it, if any */
  initAdapter: {path: string; sha256: string | null; runId: string | null; runName: string | null} | null;
  /** the equivalent `zhongjing train …` command */
  cliCommand: string;
  /** a run that stopped itself (PPO's guard-rails): at which step and why */
  stopped: {step: number; reason: {zh: string; en: string}} | null;
  /** PPO: the held-out samples of every guard-rail check, with their reward-model scores */
  samples: RolloutSample[];
}

/** A training data source as the run's provenance shows it. */
export type TrainingSource =
  | {type: 'dataset'; datasetId: string; name: string; version: number; contentHash: string}
  | {type: 'annotation'; projectId: string; name: string; rankings: number; annotators: string[]; adjudicated: number}
  /** PPO: the reward model it optimises against, and where that came from */
  | {type: 'reward-model'; runId: string | null; name: string; path: string; sources: TrainingSource[]};

/** PPO's held-out samples at each guard-rail check (the first check is the starting model's). */
export interface RolloutSample {
  step: number;
  prompt: string;
  response: string;
  score: number;
}

export interface TrainingCapabilities {
  available: boolean;
  /** why training cannot run here (the native addon did not build or load), in both languages */
  reason: {zh: string; en: string} | null;
  backends: string[];
  threads: number;
}

/** A hand-off package for LLaMA-Factory as the training screen shows it: where it was written,
 * one command per stage, and every app setting with what became of it (null = no equivalent,
 * with the note saying what was done instead). */
export interface HandoffSummary {
  dir: string;
  stages: {runId: string; kind: TrainingKind; name: string; yaml: string}[];
  settings: {stage: string; setting: string; value: string; llamaFactory: string | null; note: {zh: string; en: string} | null}[];
}
