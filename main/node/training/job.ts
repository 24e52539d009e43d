// Starting, watching and resuming training jobs from the app, serve or the CLI. Each job is its
// own process (job-process.ts); this side only relays its events and notices when it dies
// without finishing, in which case the run is marked failed and can be resumed from its newest
// checkpoint.

import {fork} from 'node:child_process';
import {closeSync, existsSync, mkdirSync, openSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import {defaultTrainingConfig, PPO_SETTING_KEYS, TRAINING_KINDS, type PpoSettings, type TrainingConfig, type TrainingKind} from '../../common/training.js';
import type {TrainingInputFile} from './inputs.js';
import {newId} from '../ids.js';
import {defaultThreads} from '../threads.js';
import {AppError} from '../../common/errors.js';
import type {HostToJob, JobSpec, JobToHost} from './job-process.js';
import type {ScoreRequest} from './score.js';
import {RunDir, type RunRecord, type TrainConfig} from './record.js';
import type {TrainEvent} from './run.js';

/** What only the job decides (not settings of the form, the API or the CLI). */
const JOB_DEFAULTS = {minLrRatio: 0.1, beta1: 0.9, beta2: 0.999, keepCheckpoints: 2} as const;

export interface RunTarget {
  kind: TrainingKind;
  model: string;
  inputs: TrainingInputFile[];
  out: string;
  initAdapter?: string | null;
  rewardModel?: string | null;
  threads?: number;
  gpu?: boolean;
  /** pack several sequences per row (default: continued pre-training packs, SFT pads one dialogue per row) */
  pack?: boolean;
}

/** The contract's TrainingConfig (main/common/training.ts, the one config type) as a job configuration. */
export function trainConfigFrom(c: TrainingConfig, run: RunTarget): TrainConfig {
  return {
    ...JOB_DEFAULTS,
    kind: run.kind,
    model: run.model,
    inputs: run.inputs,
    initAdapter: run.initAdapter ?? null,
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
    // otherwise pay for the longest one, so packing is worth it for SFT too when rows are long);
    // preference objectives always put one answer per row
    pack: run.pack ?? run.kind === 'pt',
    valFraction: c.validationFraction,
    evalEvery: c.evalEvery,
    checkpointEvery: c.checkpointEvery,
    seed: c.seed,
    threads: run.threads ?? defaultThreads(),
    gpu: run.gpu ?? false,
    gradientCheckpointing: c.gradientCheckpointing === 1,
    beta: c.beta,
    labelSmoothing: c.labelSmoothing,
    margin: c.margin,
    centerRewards: c.centerRewards,
    rewardModel: run.rewardModel ?? null,
    ppo: Object.fromEntries(PPO_SETTING_KEYS.map((key) => [key, c[key]])) as PpoSettings,
  };
}

/** A job configuration with the objective's defaults (tests, the benchmark). */
export function defaultJobConfig(run: RunTarget, overrides: Partial<TrainingConfig> = {}): TrainConfig {
  return trainConfigFrom({...defaultTrainingConfig(run.kind), ...overrides}, run);
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
  /** End after the current step as a completed run with its result kept (stopped early). */
  finish(): void;
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
  /** with `resume`: one step from the checkpoint, then end with the result (finish now) */
  finish?: boolean;
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
  const spec: JobSpec = {runDir, runId, ...(options.config ? {config: options.config} : {}), ...(options.finish ? {finish: true} : {})};
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
    finish: () => {
      if (child.connected) child.send({type: 'finish'} satisfies HostToJob);
    },
    kill: () => child.kill('SIGKILL'),
  };
}

/** Scores answers with a reward model in a job process of its own (a native abort or an
 * out-of-memory kill ends only that process). Errors the user can act on keep both languages. */
export function scoreInJob(request: ScoreRequest, logDir: string): Promise<number[]> {
  const entry = jobEntry();
  mkdirSync(logDir, {recursive: true});
  const log = openSync(join(logDir, 'score.log'), 'a');
  const child = fork(entry.path, [], {
    execArgv: entry.execArgv,
    env: {...process.env, ZHONGJING_TRAIN_JOB: JSON.stringify({score: request} satisfies JobSpec)},
    serialization: 'json',
    stdio: ['ignore', 'ignore', log, 'ipc'],
  });
  closeSync(log);
  return new Promise((resolveScores, reject) => {
    let scores: number[] | null = null;
    let failure: string | null = null;
    child.on('message', (raw) => {
      const message = raw as JobToHost;
      if (message.type === 'scores') scores = message.scores;
      else if (message.type === 'failed') failure = message.message;
    });
    child.on('exit', (code, signal) => {
      if (scores && code === 0) return resolveScores(scores);
      const text = failure ?? `the scoring process ended unexpectedly (${signal ? `signal ${signal}` : `exit code ${code}`})`;
      let localised: {zh: string; en: string} | null = null;
      try {
        const parsed = JSON.parse(text) as {zh?: unknown; en?: unknown};
        if (typeof parsed.zh === 'string' && typeof parsed.en === 'string') localised = {zh: parsed.zh, en: parsed.en};
      } catch {
        // a plain message
      }
      reject(new AppError(localised ? 'validation' : 'internal', localised ?? {zh: `奖励模型打分失败：${text}`, en: `Scoring with the reward model failed: ${text}`}));
    });
  });
}

export function validateConfig(c: TrainConfig): void {
  const problems: string[] = [];
  const int = (v: number, min: number, name: string) => (!Number.isInteger(v) || v < min) && problems.push(`${name} must be an integer >= ${min}`);
  if (!TRAINING_KINDS.includes(c.kind)) problems.push(`kind must be one of ${TRAINING_KINDS.join(', ')}`);
  if (!existsSync(c.model)) problems.push(`model ${c.model} does not exist`);
  if (!c.inputs.some((f) => f.role === 'train')) problems.push('no training data files');
  for (const f of c.inputs) if (!existsSync(f.path)) problems.push(`data file ${f.path} does not exist`);
  if (c.initAdapter && !existsSync(c.initAdapter)) problems.push(`adapter ${c.initAdapter} does not exist`);
  if (!(c.beta > 0)) problems.push('beta must be > 0');
  if (!(c.labelSmoothing >= 0 && c.labelSmoothing < 0.5)) problems.push('label smoothing must be in [0, 0.5)');
  if (!(c.margin >= 0) || !(c.centerRewards >= 0)) problems.push('margin and reward centering must be >= 0');
  if (c.kind === 'ppo') {
    if (!c.rewardModel) problems.push('PPO needs a reward model');
    else if (!existsSync(c.rewardModel)) problems.push(`reward model ${c.rewardModel} does not exist`);
    if (!(c.ppo.clipRange > 0 && c.ppo.clipRange < 1)) problems.push('clip range must be in (0, 1)');
    int(c.ppo.ppoEpochs, 1, 'ppo epochs');
    int(c.ppo.miniBatches, 1, 'mini-batches');
    int(c.ppo.maxNewTokens, 1, 'max new tokens');
    if (c.ppo.klEstimator !== 1 && c.ppo.klEstimator !== 3) problems.push('the KL estimator is 1 (k1) or 3 (k3)');
  }
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
