// Starting, watching and resuming training jobs from the app, serve or the CLI. Each job is its
// own process (job-process.ts); this side only relays its events and notices when it dies
// without finishing, in which case the run is marked failed and can be resumed from its newest
// checkpoint.

import {fork} from 'node:child_process';
import {closeSync, existsSync, mkdirSync, openSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {TrainingConfig, TrainingKind} from '../../common/training.js';
import {newId} from '../ids.js';
import {defaultThreads} from '../threads.js';
import type {HostToJob, JobSpec, JobToHost} from './job-process.js';
import {RunDir, type RunRecord, type TrainConfig} from './record.js';
import type {TrainEvent} from './run.js';

export const DEFAULT_TRAIN_CONFIG: Omit<TrainConfig, 'kind' | 'model' | 'data' | 'out'> = {
  valData: [],
  steps: null,
  epochs: 1,
  lora: {rank: 8, alpha: 16, dropout: 0.05, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down']},
  lr: 2e-4,
  warmupSteps: 10,
  minLrRatio: 0.1,
  weightDecay: 0,
  gradClip: 1,
  beta1: 0.9,
  beta2: 0.999,
  nCtx: 1024,
  rows: 1,
  accum: 4,
  pack: false,
  valFraction: 0.05,
  evalEvery: 50,
  checkpointEvery: 50,
  keepCheckpoints: 2,
  seed: 42,
  threads: defaultThreads(),
  gpu: false,
};

/** The contract's TrainingConfig (main/common/training.ts) as a job configuration. */
export function trainConfigFrom(
  c: TrainingConfig,
  run: {kind: TrainingKind; model: string; data: string[]; valData?: string[]; out: string; threads?: number; gpu?: boolean},
): TrainConfig {
  return {
    ...DEFAULT_TRAIN_CONFIG,
    kind: run.kind,
    model: run.model,
    data: run.data,
    valData: run.valData ?? [],
    out: run.out,
    steps: c.steps,
    epochs: c.epochs,
    lora: {rank: c.rank, alpha: c.alpha, dropout: c.dropout, targets: [...c.targets]},
    lr: c.learningRate,
    warmupSteps: c.warmupSteps,
    weightDecay: c.weightDecay,
    gradClip: c.clipGradNorm,
    nCtx: c.maxSequenceLength,
    rows: c.batchSize,
    accum: c.gradientAccumulation,
    // continued pre-training packs texts; SFT pads one dialogue per row (short dialogues would
    // otherwise pay for the longest one, so packing is worth it for SFT too when rows are long)
    pack: run.kind === 'pt',
    valFraction: c.validationFraction,
    evalEvery: c.evalEvery,
    checkpointEvery: c.checkpointEvery,
    seed: c.seed,
    threads: run.threads ?? DEFAULT_TRAIN_CONFIG.threads,
    gpu: run.gpu ?? false,
  };
}

export interface JobResult {
  runId: string;
  status: 'completed' | 'interrupted' | 'failed';
  record: RunRecord | null;
  error: string | null;
}

export interface TrainingJob {
  runId: string;
  runDir: string;
  pid: number | null;
  onEvent(listener: (event: TrainEvent) => void): void;
  done: Promise<JobResult>;
  /** Stop after the current step, with a checkpoint (resumable). */
  stop(): void;
  /** Kill at once (SIGKILL); the run resumes from its newest checkpoint. */
  kill(): void;
}

export interface StartJobOptions {
  /** Directory holding one folder per run (e.g. <data dir>/training/runs). */
  runsDir: string;
  /** A new run... */
  config?: TrainConfig;
  /** ...or the id of a run to resume. */
  resume?: string;
  /** Extra environment for the job (tests: ZHONGJING_TRAINER_LOG). */
  env?: NodeJS.ProcessEnv;
}

/** When this module runs from TypeScript source (tests, tsx), the child must too. */
function jobEntry(): {path: string; execArgv: string[]} {
  const fromSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(fromSource ? './job-process.ts' : './job-process.js', import.meta.url));
  return {path, execArgv: fromSource ? ['--import', 'tsx'] : []};
}

export function runDirOf(runsDir: string, runId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(runId)) throw new Error(`invalid run id ${JSON.stringify(runId)}`);
  return join(resolve(runsDir), runId);
}

export function startTrainingJob(options: StartJobOptions): TrainingJob {
  if (!options.config === !options.resume) throw new Error('give either a config (new run) or a run id to resume');
  const runId = options.resume ?? newId();
  const runDir = runDirOf(options.runsDir, runId);
  if (options.resume && !existsSync(join(runDir, 'run.json'))) throw new Error(`no training run ${runId} in ${options.runsDir}`);
  if (options.config) validateConfig(options.config);
  const spec: JobSpec = {runDir, runId, ...(options.config ? {config: options.config} : {})};
  const entry = jobEntry();
  // the job's stderr (trainer and llama.cpp logs, a native abort's message) goes to the run's log
  mkdirSync(runDir, {recursive: true});
  const log = openSync(join(runDir, 'train.log'), 'a');
  const child = fork(entry.path, [], {
    execArgv: entry.execArgv,
    env: {...process.env, ...options.env, ZHONGJING_TRAIN_JOB: JSON.stringify(spec)},
    serialization: 'json',
    stdio: ['ignore', 'ignore', log, 'ipc'],
  });
  closeSync(log);
  const listeners: ((event: TrainEvent) => void)[] = [];
  let finished: TrainEvent | null = null;
  let failure: string | null = null;
  child.on('message', (raw) => {
    const message = raw as JobToHost;
    if (message.type === 'event') {
      if (message.event.type === 'done') finished = message.event;
      for (const l of listeners) l(message.event);
    } else if (message.type === 'failed') {
      failure = message.message;
    }
  });
  const done = new Promise<JobResult>((resolveDone) => {
    child.on('exit', (code, signal) => {
      const run = new RunDir(runDir);
      let record = run.exists() ? run.read() : null;
      const ended = finished as Extract<TrainEvent, {type: 'done'}> | null;
      if (ended && code === 0) {
        resolveDone({runId, status: ended.status, record, error: null});
        return;
      }
      const error = failure ?? `the training process ended unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})`;
      if (record && record.status === 'running') {
        // the job cannot write any more: record why it stopped
        record = {...record, status: 'failed', error};
        run.write(record);
      }
      resolveDone({runId, status: 'failed', record, error});
    });
  });
  return {
    runId,
    runDir,
    pid: child.pid ?? null,
    onEvent: (listener) => listeners.push(listener),
    done,
    stop: () => {
      if (child.connected) child.send({type: 'stop'} satisfies HostToJob);
    },
    kill: () => child.kill('SIGKILL'),
  };
}

export function validateConfig(c: TrainConfig): void {
  const problems: string[] = [];
  const int = (v: number, min: number, name: string) => (!Number.isInteger(v) || v < min) && problems.push(`${name} must be an integer >= ${min}`);
  if (c.kind !== 'sft' && c.kind !== 'pt') problems.push('kind must be sft or pt');
  if (!existsSync(c.model)) problems.push(`model ${c.model} does not exist`);
  if (!c.data.length) problems.push('no data files');
  for (const d of [...c.data, ...(c.valData ?? [])]) if (!existsSync(d)) problems.push(`data file ${d} does not exist`);
  if (!c.out.endsWith('.gguf')) problems.push('the adapter path (--out) must end with .gguf');
  if (c.steps !== null) int(c.steps, 1, 'steps');
  if (!(c.epochs > 0)) problems.push('epochs must be > 0');
  int(c.lora.rank, 1, 'rank');
  if (!(c.lora.alpha > 0)) problems.push('alpha must be > 0');
  if (!(c.lora.dropout >= 0 && c.lora.dropout < 1)) problems.push('dropout must be in [0, 1)');
  if (!(c.lr > 0 && c.lr < 1)) problems.push('lr must be in (0, 1)');
  int(c.warmupSteps, 0, 'warmup');
  int(c.nCtx, 8, 'ctx');
  int(c.rows, 1, 'batch rows');
  int(c.accum, 1, 'accum');
  int(c.evalEvery, 0, 'eval-every');
  int(c.checkpointEvery, 0, 'checkpoint-every');
  int(c.threads, 1, 'threads');
  int(c.seed, 0, 'seed');
  if (!(c.valFraction >= 0 && c.valFraction < 1)) problems.push('val must be in [0, 1)');
  if (problems.length) throw new Error(`invalid training configuration: ${problems.join('; ')}`);
}
