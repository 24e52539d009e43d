// The ONE table between the training configuration (main/common/training.ts) and the
// `zhongjing train` flags: the CLI parses with it, and every run shows the equivalent command
// built from it (as LlamaBoard shows its command line).

import {defaultTrainingConfig, type TrainingConfig, type TrainingKind, type TrainingSource} from '../../common/training.js';

export const CONFIG_FLAGS: readonly {key: keyof TrainingConfig; flag: string}[] = [
  {key: 'steps', flag: 'steps'},
  {key: 'epochs', flag: 'epochs'},
  {key: 'rank', flag: 'rank'},
  {key: 'alpha', flag: 'alpha'},
  {key: 'dropout', flag: 'dropout'},
  {key: 'targets', flag: 'targets'},
  {key: 'learningRate', flag: 'lr'},
  {key: 'weightDecay', flag: 'weight-decay'},
  {key: 'warmupSteps', flag: 'warmup'},
  {key: 'batchSize', flag: 'batch'},
  {key: 'gradientAccumulation', flag: 'accum'},
  {key: 'maxSequenceLength', flag: 'ctx'},
  {key: 'clipGradNorm', flag: 'clip'},
  {key: 'seed', flag: 'seed'},
  {key: 'checkpointEvery', flag: 'checkpoint-every'},
  {key: 'evalEvery', flag: 'eval-every'},
  {key: 'gradientCheckpointing', flag: 'gradient-checkpointing'},
  {key: 'validationFraction', flag: 'val'},
  {key: 'beta', flag: 'beta'},
  {key: 'labelSmoothing', flag: 'label-smoothing'},
  {key: 'margin', flag: 'margin'},
  {key: 'centerRewards', flag: 'center-rewards'},
  {key: 'ppoEpochs', flag: 'ppo-epochs'},
  {key: 'miniBatches', flag: 'mini-batches'},
  {key: 'klCoef', flag: 'kl-coef'},
  {key: 'klTarget', flag: 'kl-target'},
  {key: 'klEstimator', flag: 'kl-estimator'},
  {key: 'clipRange', flag: 'clip-range'},
  {key: 'clipRangeValue', flag: 'clip-range-value'},
  {key: 'vfCoef', flag: 'vf-coef'},
  {key: 'gamma', flag: 'gamma'},
  {key: 'lam', flag: 'lam'},
  {key: 'whitenAdvantages', flag: 'whiten-advantages'},
  {key: 'temperature', flag: 'temperature'},
  {key: 'topP', flag: 'top-p'},
  {key: 'maxNewTokens', flag: 'max-new-tokens'},
  {key: 'missingEosPenalty', flag: 'missing-eos-penalty'},
  {key: 'rewardClip', flag: 'reward-clip'},
  {key: 'normalizeRewards', flag: 'normalize-rewards'},
  {key: 'klStop', flag: 'kl-stop'},
  {key: 'rewardDropChecks', flag: 'reward-drop-checks'},
  {key: 'minResponseTokens', flag: 'min-response-tokens'},
  {key: 'minDistinct2', flag: 'min-distinct-2'},
];

const quote = (s: string) => (/^[\p{L}\p{N}_./:,@+-]+$/u.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** `zhongjing train …` for a run: the settings that differ from the objective's defaults. */
export function cliCommandFor(run: {kind: TrainingKind; config: TrainingConfig; sources: TrainingSource[]; datasets: {name: string}[]; initAdapter: string | null}, modelPath: string): string {
  const defaults = defaultTrainingConfig(run.kind);
  const parts = ['zhongjing', 'train', run.kind, '--model', quote(modelPath)];
  const data = run.sources.filter((s) => s.type !== 'reward-model');
  const names = data.length ? data.map((s) => s.name) : run.datasets.map((d) => d.name);
  parts.push('--data', quote(names.join(',')));
  // PPO's start is the policy (README and `train --help` spell it --policy-init); RM/DPO start from an adapter
  if (run.initAdapter) parts.push(run.kind === 'ppo' ? '--policy-init' : '--init-adapter', quote(run.initAdapter));
  for (const s of run.sources) if (s.type === 'reward-model') parts.push('--rm', quote(s.runId ?? s.path));
  for (const {key, flag} of CONFIG_FLAGS) {
    const value = run.config[key];
    const fallback = defaults[key];
    if (JSON.stringify(value) === JSON.stringify(fallback)) continue;
    if (value === null) continue;
    parts.push(`--${flag}`, quote(Array.isArray(value) ? value.join(',') : String(value)));
  }
  parts.push('--out', 'ADAPTER.gguf');
  return parts.join(' ');
}
