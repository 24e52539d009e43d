// `zhongjing train sft|pt …` and `zhongjing train --resume RUN_ID`: starts a training job process
// and reports its progress; with --json, one JSON object per line on stdout:
//   {"type":"step","step":…,"loss":…,"lr":…,"tokens_per_s":…,"grad_norm":…,"tokens":…,"epoch":…,"elapsed_s":…}
//   {"type":"eval","step":…,"eval_loss":…}
//   {"type":"done","run_id":…,"status":"completed","adapter":"…/x.gguf","steps":…,"loss":…,"eval_loss":…}
// Runs are kept in <data dir>/training/runs/<run id>/ (run.json, metrics.jsonl, checkpoints).
// Ctrl-C stops after the current step with a checkpoint; --resume continues it.

import {existsSync} from 'node:fs';
import {join, resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {AppError} from '../../common/errors.js';
import {dataPaths, defaultDataDir} from '../paths.js';
import {findRegisteredModel} from '../models/registered.js';
import {LORA_TARGETS, type LoraTarget} from './native.js';
import {DEFAULT_TRAIN_CONFIG, startTrainingJob, type JobResult} from './job.js';
import type {TrainConfig} from './record.js';
import type {TrainEvent} from './run.js';

export const TRAIN_USAGE = {
  zh: `用法：zhongjing train sft|pt --model 模型 --data 数据集或文件[,…] --out 适配器.gguf [--steps N | --epochs E] [--rank R] [--lr X] [--json]
       zhongjing train --resume 运行ID [--json]
选项：--alpha A --dropout P --targets q,k,v,o,gate,up,down --ctx N --batch 行数 --accum N --pack --val 比例 --val-data 文件
      --warmup N --eval-every N --checkpoint-every N --seed S --threads N --gpu --data-dir 目录`,
  en: `usage: zhongjing train sft|pt --model M --data NAME_OR_FILE[,…] --out ADAPTER.gguf [--steps N | --epochs E] [--rank R] [--lr X] [--json]
       zhongjing train --resume RUN_ID [--json]
options: --alpha A --dropout P --targets q,k,v,o,gate,up,down --ctx N --batch ROWS --accum N --pack --val FRACTION --val-data FILE
         --warmup N --eval-every N --checkpoint-every N --seed S --threads N --gpu --data-dir DIR`,
};

export interface TrainCommandHooks {
  /** Resolves a dataset NAME (not a file) to files, e.g. by exporting its version as ShareGPT
   * JSONL (the datasets service provides this); `validation` files are the dataset's own held-out
   * split and replace --val. */
  resolveDataset?: (name: string, dataDir: string) => Promise<ResolvedDataset> | ResolvedDataset;
  /** Where lines go (default stdout / stderr). */
  out?: (line: string) => void;
  err?: (line: string) => void;
}

export interface ResolvedDataset {
  train: string[];
  validation: string[];
}

export function runsDirOf(dataDir: string): string {
  return join(dataPaths(dataDir).root, 'training', 'runs');
}

function resolveModelPath(ref: string, dataDir: string): string {
  if (existsSync(ref)) return resolve(ref);
  const model = findRegisteredModel(ref, dataDir);
  if (model && !model.missing) return model.path;
  throw new AppError('not_found', {
    zh: `找不到模型“${ref}”：既不是文件路径，也不是已登记的模型。`,
    en: `No model "${ref}": neither a file path nor a registered model.`,
  });
}

const number = (value: string | undefined, name: string, fallback: number): number => {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n)) throw new AppError('validation', {zh: `--${name} 需要一个数字。`, en: `--${name} needs a number.`});
  return n;
};

export async function trainCommand(argv: string[], hooks: TrainCommandHooks = {}): Promise<JobResult> {
  const out = hooks.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = hooks.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const {values, positionals} = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      model: {type: 'string', short: 'm'},
      data: {type: 'string', multiple: true},
      'val-data': {type: 'string', multiple: true},
      out: {type: 'string', short: 'o'},
      steps: {type: 'string'},
      epochs: {type: 'string'},
      rank: {type: 'string'},
      alpha: {type: 'string'},
      dropout: {type: 'string'},
      targets: {type: 'string'},
      lr: {type: 'string'},
      warmup: {type: 'string'},
      ctx: {type: 'string'},
      batch: {type: 'string'},
      accum: {type: 'string'},
      pack: {type: 'boolean'},
      val: {type: 'string'},
      'eval-every': {type: 'string'},
      'checkpoint-every': {type: 'string'},
      seed: {type: 'string'},
      threads: {type: 'string'},
      gpu: {type: 'boolean'},
      resume: {type: 'string'},
      json: {type: 'boolean'},
    },
  });
  const dataDir = values['data-dir'] ?? defaultDataDir();
  const runsDir = runsDirOf(dataDir);
  let config: TrainConfig | undefined;
  if (!values.resume) {
    const kind = positionals[0];
    if ((kind !== 'sft' && kind !== 'pt') || !values.model || !values.data?.length || !values.out) {
      throw new AppError('validation', TRAIN_USAGE);
    }
    const files: string[] = [];
    const valFiles: string[] = [];
    const refs = (list: string[] | undefined) => (list ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
    for (const ref of refs(values.data)) {
      if (existsSync(ref)) files.push(resolve(ref));
      else if (hooks.resolveDataset) {
        const resolved = await hooks.resolveDataset(ref, dataDir);
        files.push(...resolved.train);
        valFiles.push(...resolved.validation);
      } else throw new AppError('not_found', {zh: `找不到数据文件或数据集“${ref}”。`, en: `No data file or dataset "${ref}".`});
    }
    for (const ref of refs(values['val-data'])) {
      if (!existsSync(ref)) throw new AppError('not_found', {zh: `找不到验证数据文件“${ref}”。`, en: `No validation file "${ref}".`});
      valFiles.push(resolve(ref));
    }
    const targets = values.targets ? values.targets.split(',').map((t) => t.trim()) : DEFAULT_TRAIN_CONFIG.lora.targets;
    for (const t of targets) {
      if (!LORA_TARGETS.includes(t as LoraTarget)) throw new AppError('validation', {zh: `未知的 LoRA 目标“${t}”。`, en: `Unknown LoRA target "${t}".`});
    }
    const d = DEFAULT_TRAIN_CONFIG;
    config = {
      ...d,
      kind,
      model: resolveModelPath(values.model, dataDir),
      data: files,
      valData: valFiles,
      out: resolve(values.out),
      steps: values.steps === undefined ? null : number(values.steps, 'steps', 0),
      epochs: number(values.epochs, 'epochs', d.epochs),
      lora: {rank: number(values.rank, 'rank', d.lora.rank), alpha: number(values.alpha, 'alpha', d.lora.alpha), dropout: number(values.dropout, 'dropout', d.lora.dropout), targets},
      lr: number(values.lr, 'lr', d.lr),
      warmupSteps: number(values.warmup, 'warmup', d.warmupSteps),
      nCtx: number(values.ctx, 'ctx', d.nCtx),
      rows: number(values.batch, 'batch', d.rows),
      accum: number(values.accum, 'accum', d.accum),
      pack: values.pack ?? (kind === 'pt'),
      valFraction: number(values.val, 'val', d.valFraction),
      evalEvery: number(values['eval-every'], 'eval-every', d.evalEvery),
      checkpointEvery: number(values['checkpoint-every'], 'checkpoint-every', d.checkpointEvery),
      seed: number(values.seed, 'seed', d.seed),
      threads: number(values.threads, 'threads', d.threads),
      gpu: values.gpu ?? false,
    };
  }

  let job;
  try {
    job = startTrainingJob({runsDir, ...(config ? {config} : {resume: values.resume!})});
  } catch (error) {
    throw new AppError('validation', {zh: (error as Error).message, en: (error as Error).message});
  }
  const json = values.json ?? false;
  job.onEvent((event: TrainEvent) => {
    if (json) {
      const line = cliJson(event);
      if (line) out(JSON.stringify(line));
      return;
    }
    if (event.type === 'started') {
      err(`run ${event.runId}: ${event.totalSteps} steps on ${event.device}; ${event.trainExamples} training / ${event.valExamples} validation examples${event.resumedFrom !== null ? `; resumed at step ${event.resumedFrom}` : ''}`);
    } else if (event.type === 'step') {
      out(`step ${event.step}  loss ${event.loss.toFixed(4)}  lr ${event.lr.toExponential(2)}  ${Math.round(event.tokensPerS)} tok/s`);
    } else if (event.type === 'eval') {
      out(`eval  step ${event.step}  loss ${event.evalLoss.toFixed(4)}`);
    } else if (event.type === 'done') {
      out(event.status === 'completed' ? `adapter ${event.adapter} (run ${event.runId})` : `stopped at step ${event.step}; resume with: zhongjing train --resume ${event.runId}`);
    }
  });
  const onSigint = () => job.stop();
  process.once('SIGINT', onSigint);
  const result = await job.done;
  process.off('SIGINT', onSigint);
  if (result.status === 'failed') {
    throw new AppError('internal', {
      zh: `训练失败（运行 ${result.runId}）：${result.error}。可用 zhongjing train --resume ${result.runId} 从最近的检查点继续。`,
      en: `Training failed (run ${result.runId}): ${result.error}. Resume from the last checkpoint with: zhongjing train --resume ${result.runId}`,
    });
  }
  return result;
}

/** The CLI's --json line for an event (snake_case keys, as the rest of the CLI's JSON). */
export function cliJson(event: TrainEvent): Record<string, unknown> | null {
  switch (event.type) {
    case 'started':
      return {type: 'started', run_id: event.runId, total_steps: event.totalSteps, resumed_from: event.resumedFrom, device: event.device, train_examples: event.trainExamples, val_examples: event.valExamples};
    case 'step':
      return {type: 'step', step: event.step, loss: event.loss, lr: event.lr, tokens_per_s: event.tokensPerS, grad_norm: event.gradNorm, tokens: event.tokens, epoch: event.epoch, elapsed_s: event.elapsedS};
    case 'eval':
      return {type: 'eval', step: event.step, eval_loss: event.evalLoss, eval_tokens: event.evalTokens};
    case 'done':
      return {type: 'done', run_id: event.runId, status: event.status, adapter: event.adapter, steps: event.step, loss: event.loss, eval_loss: event.evalLoss};
    default:
      return null;
  }
}
