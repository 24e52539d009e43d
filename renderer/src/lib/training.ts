// Small pure helpers of the Training screen: the numeric fields of a run's config with the ranges
// of `trainingConfigSchema` in main/common/contract.ts (repeated because the renderer must not
// bundle zod; the service validates again), the draft ⇄ config conversion, the labels of the
// domain's enums, and the merging of streamed metrics. Kept out of the components so each of
// them stays short and this logic can be read (and tested) on its own.
//
// training.ts in main/common has no imports, so using its constants at runtime pulls nothing
// else into the bundle.
import {DEFAULT_TRAINING_CONFIG, defaultTrainingConfig, LORA_TARGETS, PPO_SETTING_KEYS, TRAINING_KINDS, type LoraTarget, type TrainingConfig, type TrainingKind, type TrainingMetric, type TrainingRun, type TrainingState} from '../../../main/common/training';
import type {TrainingPreset} from '../../../main/common/contract';
import {FRACTION, NON_NEGATIVE, type ChartBounds} from './chart';
import type {MessageKey} from './i18n';

export type NumericKey = Exclude<keyof TrainingConfig, 'targets'>;

export interface ConfigField {
  key: NumericKey;
  label: MessageKey;
  hint: MessageKey;
  /** the LLaMA-Factory argument of the same meaning, shown beside the label for people who know it */
  term: string;
  min: number;
  max: number;
  integer: boolean;
  /** must be above `min`, not equal to it */
  exclusiveMin?: boolean;
  /** folded under 高级设置: rarely changed */
  advanced: boolean;
  /** only these objectives use it (absent: every objective) */
  kinds?: readonly TrainingKind[];
  /** an on/off switch stored as 1 / 0 (the config is numbers only): shown as a checkbox */
  toggle?: boolean;
}

const field = (key: NumericKey, term: string, min: number, max: number, integer: boolean, advanced: boolean, exclusiveMin = false, kinds?: readonly TrainingKind[]): ConfigField => {
  const base = `tr${key.charAt(0).toUpperCase()}${key.slice(1)}` as MessageKey;
  return {key, label: base, hint: `${base}Hint` as MessageKey, term, min, max, integer, advanced, ...(exclusiveMin ? {exclusiveMin} : {}), ...(kinds ? {kinds} : {})};
};

/** A switch: 0 or 1, shown as a checkbox. */
const toggle = (key: NumericKey, term: string, advanced: boolean, kinds?: readonly TrainingKind[]): ConfigField =>
  ({...field(key, term, 0, 1, true, advanced, false, kinds), toggle: true});

export const CONFIG_FIELDS: Record<NumericKey, ConfigField> = {
  rank: field('rank', 'lora_rank', 1, 256, true, false),
  alpha: field('alpha', 'lora_alpha', 0, 1024, false, false, true),
  dropout: field('dropout', 'lora_dropout', 0, 0.9, false, true),
  learningRate: field('learningRate', 'learning_rate', 0, 1, false, false, true),
  epochs: field('epochs', 'num_train_epochs', 0, 100, false, false, true),
  steps: field('steps', 'max_steps', 1, 10_000_000, true, false),
  batchSize: field('batchSize', 'per_device_train_batch_size', 1, 256, true, false),
  gradientAccumulation: field('gradientAccumulation', 'gradient_accumulation_steps', 1, 1024, true, false),
  maxSequenceLength: field('maxSequenceLength', 'cutoff_len', 16, 131_072, true, false),
  warmupSteps: field('warmupSteps', 'warmup_steps', 0, 100_000, true, true),
  clipGradNorm: field('clipGradNorm', 'max_grad_norm', 0, 100, false, true),
  weightDecay: field('weightDecay', 'weight_decay', 0, 1, false, true),
  seed: field('seed', 'seed', 0, 2 ** 31 - 1, true, true),
  checkpointEvery: field('checkpointEvery', 'save_steps', 0, 1_000_000, true, true),
  evalEvery: field('evalEvery', 'eval_steps', 0, 1_000_000, true, true),
  gradientCheckpointing: toggle('gradientCheckpointing', 'gradient_checkpointing', true),
  validationFraction: field('validationFraction', 'val_size', 0, 0.5, false, true),
  beta: field('beta', 'pref_beta', 0, 10, false, false, true, ['dpo']),
  labelSmoothing: field('labelSmoothing', 'dpo_label_smoothing', 0, 0.49, false, false, false, ['dpo']),
  margin: field('margin', 'margin', 0, 100, false, false, false, ['rm']),
  centerRewards: field('centerRewards', 'center_rewards_coefficient', 0, 10, false, false, false, ['rm']),
  // PPO (TRL's ppo_config names where it has one; LLaMA-Factory's ppo_target for the KL target)
  klTarget: field('klTarget', 'ppo_target', 0, 1000, false, false, false, ['ppo']),
  klCoef: field('klCoef', 'kl_coef', 0, 10, false, false, false, ['ppo']),
  temperature: field('temperature', 'temperature', 0, 2, false, false, false, ['ppo']),
  topP: field('topP', 'top_p', 0, 1, false, false, true, ['ppo']),
  maxNewTokens: field('maxNewTokens', 'response_length', 1, 4096, true, false, false, ['ppo']),
  ppoEpochs: field('ppoEpochs', 'num_ppo_epochs', 1, 32, true, false, false, ['ppo']),
  miniBatches: field('miniBatches', 'num_mini_batches', 1, 256, true, false, false, ['ppo']),
  klStop: field('klStop', 'kl_stop', 0, 10_000, false, false, false, ['ppo']),
  rewardDropChecks: field('rewardDropChecks', 'reward_drop_checks', 0, 100, true, false, false, ['ppo']),
  minResponseTokens: field('minResponseTokens', 'min_response_tokens', 0, 4096, false, false, false, ['ppo']),
  minDistinct2: field('minDistinct2', 'min_distinct_2', 0, 1, false, false, false, ['ppo']),
  klEstimator: field('klEstimator', 'kl_estimator', 1, 3, true, true, false, ['ppo']),
  clipRange: field('clipRange', 'cliprange', 0, 0.99, false, true, true, ['ppo']),
  clipRangeValue: field('clipRangeValue', 'cliprange_value', 0, 100, false, true, true, ['ppo']),
  vfCoef: field('vfCoef', 'vf_coef', 0, 100, false, true, false, ['ppo']),
  gamma: field('gamma', 'gamma', 0, 1, false, true, false, ['ppo']),
  lam: field('lam', 'lam', 0, 1, false, true, false, ['ppo']),
  whitenAdvantages: toggle('whitenAdvantages', 'whiten_advantages', true, ['ppo']),
  missingEosPenalty: field('missingEosPenalty', 'missing_eos_penalty', 0, 100, false, true, false, ['ppo']),
  rewardClip: field('rewardClip', 'cliprange_reward', 0, 1000, false, true, false, ['ppo']),
  normalizeRewards: toggle('normalizeRewards', 'normalize_reward', true, ['ppo']),
};

/** Whether a setting takes part in runs of this objective. */
export const fieldApplies = (spec: ConfigField, kind: TrainingKind): boolean => !spec.kinds || spec.kinds.includes(kind);

/** The objective's own settings (DPO's β, the reward model's margin …), shown in their own group. */
export const objectiveKeys = (kind: TrainingKind): NumericKey[] =>
  (Object.keys(CONFIG_FIELDS) as NumericKey[]).filter((key) => CONFIG_FIELDS[key].kinds?.includes(kind));

/** Attention projections first, then the feed-forward ones, as the form groups them. */
export const ATTENTION_TARGETS: readonly LoraTarget[] = ['q', 'k', 'v', 'o'];
export const MLP_TARGETS: readonly LoraTarget[] = ['gate', 'up', 'down'];

/** A dataset ticked in the new-run form. */
export interface DatasetPick {
  datasetId: string;
  /** null = the latest version (sent as its number, so what was seen is what is trained) */
  version: number | null;
  /** rows of that version, for the step estimate */
  rows: number;
}

/** The form edits text, so half-typed numbers ("0.", "2e-") are not fought over while typing,
 * and a learning rate can be written the way papers write it (2e-4). */
export interface ConfigDraft {
  numbers: Record<NumericKey, string>;
  targets: LoraTarget[];
  /** train for `epochs` over the data, or for exactly `steps` optimizer steps */
  duration: 'epochs' | 'steps';
}

export function draftFromConfig(config: TrainingConfig = DEFAULT_TRAINING_CONFIG): ConfigDraft {
  const numbers = {} as Record<NumericKey, string>;
  for (const key of Object.keys(CONFIG_FIELDS) as NumericKey[]) {
    // a run recorded before a setting existed has no value for it: the default stands in
    numbers[key] = configText(key, key === 'steps' ? (config.steps ?? 100) : (config[key] ?? DEFAULT_TRAINING_CONFIG[key]));
  }
  return {numbers, targets: [...config.targets], duration: config.steps === null ? 'epochs' : 'steps'};
}

/** A config value as the form and the run view write it. A learning rate reads as configs and
 * papers write it: 2e-4, not 0.0002. */
export function configText(key: NumericKey, value: number | null): string {
  if (value === null) return '—';
  if (key === 'learningRate' && value > 0 && value < 1e-2) return Number(value.toPrecision(6)).toExponential();
  return String(value);
}

/** Checks one field; the answer is the message key of the problem, or null when it is fine. */
export function fieldProblem(spec: ConfigField, text: string): MessageKey | null {
  const trimmed = text.trim();
  const value = Number(trimmed);
  const inRange =
    trimmed !== '' &&
    Number.isFinite(value) &&
    (spec.exclusiveMin ? value > spec.min : value >= spec.min) &&
    value <= spec.max &&
    (!spec.integer || Number.isInteger(value));
  if (inRange) return null;
  if (spec.integer) return 'invalidInteger';
  return spec.exclusiveMin ? 'trInvalidPositive' : 'invalidNumber';
}

/** Fields that take part in this draft: only one of epochs / steps counts, and only the
 * objective's own settings. */
export function activeKeys(draft: ConfigDraft, kind: TrainingKind = 'sft'): NumericKey[] {
  return (Object.keys(CONFIG_FIELDS) as NumericKey[]).filter((key) => (draft.duration === 'steps' ? key !== 'epochs' : key !== 'steps') && fieldApplies(CONFIG_FIELDS[key], kind));
}

/** The draft as a config, or null while a field is invalid or no target module is chosen. The
 * settings of other objectives keep their defaults. */
export function configFromDraft(draft: ConfigDraft, kind: TrainingKind = 'sft'): TrainingConfig | null {
  const keys = activeKeys(draft, kind);
  if (draft.targets.length === 0 || keys.some((key) => fieldProblem(CONFIG_FIELDS[key], draft.numbers[key]) !== null)) return null;
  const n = (key: NumericKey): number => Number(draft.numbers[key].trim());
  return {
    rank: n('rank'),
    alpha: n('alpha'),
    dropout: n('dropout'),
    targets: [...draft.targets],
    learningRate: n('learningRate'),
    weightDecay: n('weightDecay'),
    warmupSteps: n('warmupSteps'),
    steps: draft.duration === 'steps' ? n('steps') : null,
    // epochs stays a valid number in steps mode, so the service's schema accepts the config
    epochs: draft.duration === 'epochs' ? n('epochs') : DEFAULT_TRAINING_CONFIG.epochs,
    batchSize: n('batchSize'),
    gradientAccumulation: n('gradientAccumulation'),
    maxSequenceLength: n('maxSequenceLength'),
    clipGradNorm: n('clipGradNorm'),
    seed: n('seed'),
    checkpointEvery: n('checkpointEvery'),
    evalEvery: n('evalEvery'),
    gradientCheckpointing: n('gradientCheckpointing') ? 1 : 0,
    validationFraction: n('validationFraction'),
    beta: keys.includes('beta') ? n('beta') : DEFAULT_TRAINING_CONFIG.beta,
    labelSmoothing: keys.includes('labelSmoothing') ? n('labelSmoothing') : DEFAULT_TRAINING_CONFIG.labelSmoothing,
    margin: keys.includes('margin') ? n('margin') : DEFAULT_TRAINING_CONFIG.margin,
    centerRewards: keys.includes('centerRewards') ? n('centerRewards') : DEFAULT_TRAINING_CONFIG.centerRewards,
    ...ppoPart(keys, n),
  };
}


/** PPO's settings from the draft when they take part, else their defaults. */
function ppoPart(keys: readonly NumericKey[], n: (key: NumericKey) => number): Pick<TrainingConfig, (typeof PPO_SETTING_KEYS)[number]> {
  const out = {} as Record<(typeof PPO_SETTING_KEYS)[number], number>;
  for (const key of PPO_SETTING_KEYS) out[key] = keys.includes(key) ? n(key) : DEFAULT_TRAINING_CONFIG[key];
  // the estimator is 1 (k1) or 3 (k3), the switches 0 or 1: the schema refuses anything between
  if (out.klEstimator !== 1) out.klEstimator = 3;
  out.whitenAdvantages = out.whitenAdvantages ? 1 : 0;
  out.normalizeRewards = out.normalizeRewards ? 1 : 0;
  return out as Pick<TrainingConfig, (typeof PPO_SETTING_KEYS)[number]>;
}

/** The objective's defaults as a draft (a changed objective brings its own learning rate …). */
export const draftForKind = (kind: TrainingKind): ConfigDraft => draftFromConfig(defaultTrainingConfig(kind));

/** Whether the draft still holds exactly the defaults of `kind` (then switching objective may replace it). */
export function isDefaultDraft(draft: ConfigDraft, kind: TrainingKind): boolean {
  return JSON.stringify(draft) === JSON.stringify(draftForKind(kind));
}

/** The steps a run over `rows` examples will take, roughly: the service knows better (rows too
 * long are dropped, a dataset may carry its own validation split), so the form says "about". */
export function estimateSteps(rows: number, config: TrainingConfig): number | null {
  if (config.steps !== null) return config.steps;
  if (rows <= 0) return null;
  const train = Math.max(1, Math.round(rows * (1 - config.validationFraction)));
  return Math.max(1, Math.ceil((train * config.epochs) / (config.batchSize * config.gradientAccumulation)));
}

export const KIND_LABEL: Record<TrainingKind, MessageKey> = {sft: 'trKindSft', pt: 'trKindPt', rm: 'trKindRm', dpo: 'trKindDpo', ppo: 'trKindPpo'};

/** The objective's own curves: which metrics, how to label them, whether they are rates (read
 * out, axis included, in per cent) and what values they can take at all, so that the axis never
 * offers impossible ones. Only true bounds are declared: a reward, a margin or PPO's KL (the k1
 * estimate, a mean log-ratio, goes below 0 on a sample) can be negative; the log-probability of
 * a sequence never exceeds 0. */
export interface ObjectiveChart {
  title: MessageKey;
  series: {key: string; label: MessageKey; tone: 'main' | 'second' | 'faint'}[];
  percent?: boolean;
  /** a count of things (tokens): read out with at most one decimal */
  count?: boolean;
  bounds?: ChartBounds;
}

export const OBJECTIVE_CHARTS: Partial<Record<TrainingKind, ObjectiveChart[]>> = {
  rm: [
    {title: 'trChartAccuracy', percent: true, bounds: FRACTION, series: [{key: 'accuracy', label: 'trSeriesTrain', tone: 'main'}, {key: 'eval/accuracy', label: 'trSeriesHeldOut', tone: 'second'}]},
    {title: 'trChartMargin', series: [{key: 'margin', label: 'trSeriesTrain', tone: 'main'}, {key: 'eval/margin', label: 'trSeriesHeldOut', tone: 'second'}]},
  ],
  dpo: [
    {title: 'trChartRewardMargin', series: [{key: 'rewards/margins', label: 'trSeriesTrain', tone: 'main'}, {key: 'eval/rewards/margins', label: 'trSeriesHeldOut', tone: 'second'}]},
    {title: 'trChartAccuracy', percent: true, bounds: FRACTION, series: [{key: 'rewards/accuracies', label: 'trSeriesTrain', tone: 'main'}, {key: 'eval/rewards/accuracies', label: 'trSeriesHeldOut', tone: 'second'}]},
    {title: 'trChartLogps', bounds: {max: 0}, series: [{key: 'logps/chosen', label: 'trSeriesChosen', tone: 'main'}, {key: 'logps/rejected', label: 'trSeriesRejected', tone: 'second'}]},
  ],
  ppo: [
    {title: 'trChartReward', series: [{key: 'objective/scores', label: 'trSeriesRollouts', tone: 'main'}, {key: 'eval/reward', label: 'trSeriesHeldOut', tone: 'second'}]},
    {title: 'trChartKl', series: [{key: 'objective/kl', label: 'trSeriesRollouts', tone: 'main'}, {key: 'eval/kl', label: 'trSeriesHeldOut', tone: 'second'}]},
    {title: 'trChartClipfrac', percent: true, bounds: FRACTION, series: [{key: 'policy/clipfrac_avg', label: 'trSeriesPolicy', tone: 'main'}, {key: 'val/clipfrac_avg', label: 'trSeriesValue', tone: 'second'}]},
    {title: 'trChartValueLoss', bounds: NON_NEGATIVE, series: [{key: 'loss/value_avg', label: 'trSeriesValue', tone: 'main'}]},
    {title: 'trChartLength', count: true, bounds: NON_NEGATIVE, series: [{key: 'response_length', label: 'trSeriesRollouts', tone: 'main'}, {key: 'eval/response_length', label: 'trSeriesHeldOut', tone: 'second'}]},
  ],
};

/** The chart's title for these runs' configs. PPO's KL chart names its estimator: k1 (a mean
 * log-ratio, TRL's default) can come out slightly below 0 on a sample, which without a word
 * reads as a bug; k3 never does. Two runs compared with different estimators get both named. */
export function objectiveTitle(chart: ObjectiveChart, configs: readonly Pick<TrainingConfig, 'klEstimator'>[]): MessageKey {
  if (chart.title !== 'trChartKl') return chart.title;
  // a run from before the setting existed used the default (k1)
  const estimators = new Set(configs.map((config) => (config.klEstimator ?? DEFAULT_TRAINING_CONFIG.klEstimator) === 3 ? 3 : 1));
  if (estimators.size > 1) return 'trChartKlMixed';
  return estimators.has(3) ? 'trChartKlK3' : 'trChartKlK1';
}

/** What each objective's training (and eval) loss can be: a cross-entropy, the reward model's
 * −log σ(margin) (plus its squared centring term) and DPO's −log σ (smoothed or not) are never
 * below 0; PPO's is the clipped policy loss plus the value loss, and the policy part is negative
 * whenever the advantages are. */
export const LOSS_BOUNDS: Record<TrainingKind, ChartBounds> = {sft: NON_NEGATIVE, pt: NON_NEGATIVE, rm: NON_NEGATIVE, dpo: NON_NEGATIVE, ppo: {}};

export const STATE_LABEL: Record<TrainingState, MessageKey> = {
  queued: 'trStateQueued',
  running: 'trStateRunning',
  paused: 'trStatePaused',
  completed: 'trStateCompleted',
  failed: 'trStateFailed',
  cancelled: 'trStateCancelled',
};

/** States in which the run's process may still be working: pause and cancel apply. */
export function isActive(state: TrainingState): boolean {
  return state === 'queued' || state === 'running' || state === 'paused';
}

export function formatLoss(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toFixed(4);
}

/** A count (a reply's length in tokens, averaged over a batch): at most one decimal, none when
 * it is whole; 24.0000 tokens claims a precision a count does not have. */
export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—';
  // + 0 turns the −0 of rounding a small negative into 0
  return String(Math.round(value * 10) / 10 + 0);
}

/** 0.0002 → "2.00e-4": learning rates read best the way they are written in configs. */
export function formatRate(value: number): string {
  if (!Number.isFinite(value)) return '—';
  if (value === 0) return '0';
  return value.toExponential(2).replace('e+', 'e');
}

/** Puts a streamed metric into a run's step-ordered list. An evaluation is reported as its own
 * record at the step it ran after, so two records of one step are merged (the training loss of
 * the one, the eval loss of the other); a resumed run re-does steps, and the newer record wins. */
export function mergeMetric(list: TrainingMetric[], metric: TrainingMetric): void {
  const last = list.at(-1);
  if (!last || last.step < metric.step) {
    list.push(metric);
    return;
  }
  let index = list.length - 1;
  while (index > 0 && list[index]!.step > metric.step) index -= 1;
  const held = list[index]!;
  if (held.step === metric.step) list[index] = combine(held, metric);
  else list.splice(held.step < metric.step ? index + 1 : index, 0, metric);
}

function combine(held: TrainingMetric, incoming: TrainingMetric): TrainingMetric {
  const evalOnly = incoming.evalLoss !== null && !Number.isFinite(incoming.loss);
  return {
    ...held,
    ...(evalOnly ? {} : incoming),
    loss: Number.isFinite(incoming.loss) ? incoming.loss : held.loss,
    evalLoss: incoming.evalLoss ?? held.evalLoss,
    values: {...held.values, ...incoming.values},
  };
}

/** From this many points on, the per-step training loss (one small batch each, noisy) is
 * drawn smoothed. */
export const SMOOTH_FROM = 10;

/** The training loss's smoothed line, or null while it has too few points to need one. */
export function smoothedLine(points: readonly {x: number; y: number}[]): {x: number; y: number}[] | null {
  if (points.length < SMOOTH_FROM) return null;
  const smoothed = smooth(points.map((p) => p.y));
  return points.map((p, i) => ({x: p.x, y: smoothed[i]!}));
}

/** Exponential moving average, as TensorBoard smooths a noisy loss (weight 0.6 by default). */
export function smooth(values: readonly number[], weight = 0.6): number[] {
  const out: number[] = [];
  let previous = values[0] ?? 0;
  for (const value of values) {
    previous = previous * weight + value * (1 - weight);
    out.push(previous);
  }
  return out;
}

// ───────────── saved configurations ─────────────

/** The `format` field of an exported run configuration (JSON file). */
export const PRESET_FILE_FORMAT = 'zhongjing-training-config';

export function presetFileContent(preset: TrainingPreset): string {
  return `${JSON.stringify({format: PRESET_FILE_FORMAT, version: 1, preset}, null, 2)}\n`;
}

export function presetFileName(name: string): string {
  const safe = name.replace(/[\\/:*?"<>|\s]+/g, '-').replace(/^-+|-+$/g, '') || 'training-config';
  return `${safe}.zhongjing-train.json`;
}

const isId = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 100;

/** Reads an exported configuration. Unknown or mistyped settings fall back to the objective's
 * defaults (the form then shows every value, and checks each as it does typed ones); anything
 * that is not our file at all is refused with the reason. */
export function parsePresetFile(text: string, fileName: string): {preset: TrainingPreset} | {problem: MessageKey; file: string} {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return {problem: 'trPresetBadJson', file: fileName};
  }
  const body = data as {format?: unknown; preset?: Record<string, unknown>};
  const raw = body?.format === PRESET_FILE_FORMAT ? body.preset : null;
  const kind = raw?.kind as TrainingKind;
  if (!raw || typeof raw !== 'object' || !TRAINING_KINDS.includes(kind) || typeof raw.config !== 'object' || raw.config === null)
    return {problem: 'trPresetBadShape', file: fileName};
  const defaults = defaultTrainingConfig(kind);
  const given = raw.config as Record<string, unknown>;
  const config = {...defaults};
  for (const key of Object.keys(defaults) as (keyof TrainingConfig)[]) {
    const value = given[key];
    if (key === 'targets') {
      const targets = Array.isArray(value) ? value.filter((v): v is LoraTarget => LORA_TARGETS.includes(v as LoraTarget)) : [];
      if (targets.length) config.targets = [...new Set(targets)];
    } else if (key === 'steps') {
      if (value === null || (typeof value === 'number' && Number.isFinite(value))) config.steps = value as number | null;
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      (config as Record<string, unknown>)[key] = value;
    }
  }
  const datasets = Array.isArray(raw.datasets)
    ? (raw.datasets as {datasetId?: unknown; version?: unknown}[]).flatMap((d) =>
        isId(d?.datasetId) && Number.isInteger(d.version) && (d.version as number) >= 1 ? [{datasetId: d.datasetId, version: d.version as number}] : [],
      )
    : [];
  return {
    preset: {
      name: typeof raw.name === 'string' && raw.name.trim() ? raw.name.trim().slice(0, 80) : fileName.replace(/\.json$/i, '').slice(0, 80),
      savedAt: typeof raw.savedAt === 'string' ? raw.savedAt.slice(0, 40) : new Date().toISOString(),
      kind,
      modelId: isId(raw.modelId) ? raw.modelId : null,
      datasets: datasets.slice(0, 16),
      annotationProjects: Array.isArray(raw.annotationProjects) ? raw.annotationProjects.filter(isId).slice(0, 16) : [],
      initAdapterModelId: isId(raw.initAdapterModelId) ? raw.initAdapterModelId : null,
      rewardRunId: isId(raw.rewardRunId) ? raw.rewardRunId : null,
      config,
    },
  };
}

/** The 结果取自 line of a completed run, or null while it cannot be said yet. The run turns
 * completed before its result arrives (best checkpoint, adapter path: a re-read brings them), and
 * a run with validation metrics must not be said to have none meanwhile. */
export function resultLine(
  run: Pick<TrainingRun, 'state' | 'step' | 'best' | 'result' | 'adapterPath' | 'metrics'>,
): {key: MessageKey; vars?: {step: number; value?: string}} | null {
  if (run.state !== 'completed') return null;
  if (run.best) return run.result.step === 'best' ? bestLine(run.best) : {key: 'trLastChosen', vars: {step: run.step}};
  const validated = run.metrics.some((m) => m.evalLoss !== null || Object.keys(m.values).some((key) => key.startsWith('eval/')));
  return run.adapterPath !== null || !validated ? {key: 'trLastLine'} : null;
}

/** The line that says which checkpoint is the result and by what it was chosen: the lowest
 * validation loss, or PPO's highest held-out reward. */
export function bestLine(best: {step: number; metric: string; value: number}): {key: MessageKey; vars: {step: number; value: string}} {
  return {key: best.metric === 'eval/reward' ? 'trBestRewardLine' : 'trBestLine', vars: {step: best.step, value: best.value.toFixed(4)}};
}
