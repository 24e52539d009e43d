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
  {key: 'validationFraction', flag: 'val'},
  {key: 'beta', flag: 'beta'},
  {key: 'labelSmoothing', flag: 'label-smoothing'},
  {key: 'margin', flag: 'margin'},
  {key: 'centerRewards', flag: 'center-rewards'},
];

const quote = (s: string) => (/^[\p{L}\p{N}_./:,@+-]+$/u.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** `zhongjing train …` for a run: the settings that differ from the objective's defaults. */
export function cliCommandFor(run: {kind: TrainingKind; config: TrainingConfig; sources: TrainingSource[]; datasets: {name: string}[]; initAdapter: string | null}, modelPath: string): string {
  const defaults = defaultTrainingConfig(run.kind);
  const parts = ['zhongjing', 'train', run.kind, '--model', quote(modelPath)];
  const names = run.sources.length ? run.sources.map((s) => s.name) : run.datasets.map((d) => d.name);
  parts.push('--data', quote(names.join(',')));
  if (run.initAdapter) parts.push('--init-adapter', quote(run.initAdapter));
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
