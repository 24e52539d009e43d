// `zhongjing train sft|pt|rm|dpo …` and `zhongjing train --resume RUN_ID`: the same TrainingService
// as the app, so a run started here is in the store with its curves and provenance and shows on
// the training screen. Data may be a dataset name, an annotation project name (RM/DPO) or a file
// (imported once as a dataset, without de-identification: it is the user's own training file).
// The settings are checked by the contract's schema, as the app's are. With --json, one JSON
// object per line on stdout:
//   {"type":"step","step":…,"loss":…,"lr":…,"tokens_per_s":…,"grad_norm":…,"tokens":…,"epoch":…,"elapsed_s":…, …objective metrics}
//   {"type":"eval","step":…,"eval_loss":…, …held-out metrics}
//   {"type":"done","run_id":…,"status":"completed","adapter":"…/x.gguf","steps":…,"loss":…,"eval_loss":…}
// Ctrl-C pauses after the current step with a checkpoint; --resume continues it.

import {existsSync} from 'node:fs';
import {basename, resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {methods} from '../../common/contract.js';
import {AppError} from '../../common/errors.js';
import {TRAINING_KINDS, type TrainingConfig, type TrainingKind} from '../../common/training.js';
import {parseInput} from '../../node/api/validate.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {sha256File} from '../../node/hash.js';
import {Services} from '../../node/services/index.js';
import {CONFIG_FLAGS} from '../../node/training/cli-command.js';
import type {JobResult} from '../../node/training/job.js';
import type {TrainEvent} from '../../node/training/run.js';
import {resolveDataDir, say} from '../context.js';

export const TRAIN_USAGE = {
  zh: `用法：zhongjing train sft|pt|rm|dpo|ppo --model 模型 --data 数据集、标注项目或文件[,…] --out 适配器.gguf [--steps N | --epochs E] [--rank R] [--lr X] [--json]
       zhongjing train rm|dpo … [--init-adapter SFT.gguf] [--beta B] [--label-smoothing E] [--margin M] [--center-rewards C]
       zhongjing train ppo … --policy-init SFT.gguf --rm 奖励模型 [--kl-target X] [--kl-coef C] [--temperature T] [--max-new-tokens N] [--ppo-epochs E] [--kl-stop K]
       zhongjing train --resume 运行ID [--json]
选项：--alpha A --dropout P --targets q,k,v,o,gate,up,down --ctx N --batch 行数 --accum N --val 比例 --warmup N
      --weight-decay W --clip C --eval-every N --checkpoint-every N --seed S --threads N --gpu --name 名称 --data-dir 目录`,
  en: `usage: zhongjing train sft|pt|rm|dpo|ppo --model M --data DATASET_PROJECT_OR_FILE[,…] --out ADAPTER.gguf [--steps N | --epochs E] [--rank R] [--lr X] [--json]
       zhongjing train rm|dpo … [--init-adapter SFT.gguf] [--beta B] [--label-smoothing E] [--margin M] [--center-rewards C]
       zhongjing train ppo … --policy-init SFT.gguf --rm RM [--kl-target X] [--kl-coef C] [--temperature T] [--max-new-tokens N] [--ppo-epochs E] [--kl-stop K]
       zhongjing train --resume RUN_ID [--json]
options: --alpha A --dropout P --targets q,k,v,o,gate,up,down --ctx N --batch ROWS --accum N --val FRACTION --warmup N
         --weight-decay W --clip C --eval-every N --checkpoint-every N --seed S --threads N --gpu --name NAME --data-dir DIR`,
};

export interface TrainCommandHooks {
  /** Where lines go (default stdout / stderr). */
  out?: (line: string) => void;
  err?: (line: string) => void;
  /** Sees every event with a way to pause the run (tests stop a run at a chosen step). */
  onEvent?: (event: TrainEvent, control: {pause(): void}) => void;
}

const NUMBER_KEYS = new Set<keyof TrainingConfig>(CONFIG_FLAGS.map((f) => f.key).filter((k) => k !== 'targets'));

/** The flags as a partial TrainingConfig; the contract's schema checks it. */
function configFromFlags(values: Record<string, unknown>): Partial<TrainingConfig> {
  const config: Record<string, unknown> = {};
  for (const {key, flag} of CONFIG_FLAGS) {
    const raw = values[flag];
    if (raw === undefined) continue;
    if (key === 'targets') config.targets = String(raw).split(',').map((t) => t.trim()).filter(Boolean);
    else if (NUMBER_KEYS.has(key)) {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new AppError('validation', {zh: `--${flag} 需要一个数字。`, en: `--${flag} needs a number.`});
      config[key] = n;
    }
  }
  if (config.steps !== undefined && values.epochs === undefined) config.epochs = 1;
  return config as Partial<TrainingConfig>;
}

async function resolveData(services: Services, refs: string[]): Promise<{datasets: {datasetId: string}[]; annotationProjects: string[]}> {
  const datasets: {datasetId: string}[] = [];
  const annotationProjects: string[] = [];
  for (const ref of refs) {
    if (existsSync(ref)) {
      // a file: imported once (named by its content), so a repeated command reuses it
      const name = `${basename(ref)} · ${(await sha256File(ref)).slice(0, 12)}`;
      const existing = services.datasets.list().find((d) => d.name === name);
      datasets.push({datasetId: existing?.id ?? (await services.datasets.importNow({path: resolve(ref), name, deidentify: false})).datasetId});
      continue;
    }
    const dataset = services.datasets.list().find((d) => d.name === ref || d.id === ref);
    if (dataset) {
      datasets.push({datasetId: dataset.id});
      continue;
    }
    const project = services.annotation.projects().find((p) => p.name === ref || p.id === ref);
    if (project) {
      annotationProjects.push(project.id);
      continue;
    }
    throw new AppError('not_found', {zh: `找不到数据文件、数据集或标注项目“${ref}”。`, en: `No data file, dataset or annotation project "${ref}".`});
  }
  return {datasets, annotationProjects};
}

/** A registered model by id, name or path, or a GGUF path registered now. */
export async function resolveModelId(services: Services, ref: string): Promise<string> {
  const registered = services.models.list().find((m) => m.id === ref || m.name === ref || m.path === resolve(ref));
  if (registered && !registered.missing) return registered.id;
  if (existsSync(ref)) return (await services.models.add({path: resolve(ref)})).id;
  throw new AppError('not_found', {
    zh: `找不到模型“${ref}”：既不是文件路径，也不是已登记的模型。`,
    en: `No model "${ref}": neither a file path nor a registered model.`,
  });
}

/** The CLI's --json line for an event (snake_case keys as the rest of the CLI; objective metrics under their TRL names). */
export function cliJson(event: TrainEvent): Record<string, unknown> | null {
  switch (event.type) {
    case 'started':
      return {type: 'started', run_id: event.runId, total_steps: event.totalSteps, resumed_from: event.resumedFrom, device: event.device, train_examples: event.trainExamples, val_examples: event.valExamples};
    case 'step':
      return {type: 'step', step: event.step, loss: event.loss, lr: event.lr, tokens_per_s: event.tokensPerS, grad_norm: event.gradNorm, tokens: event.tokens, epoch: event.epoch, elapsed_s: event.elapsedS, ...(event.downscaled ? {downscaled: true} : {}), ...event.values};
    case 'eval':
      return {type: 'eval', step: event.step, eval_loss: event.evalLoss, eval_tokens: event.evalTokens, ...event.values};
    case 'done':
      return {type: 'done', run_id: event.runId, status: event.status, adapter: event.adapter, steps: event.step, loss: event.loss, eval_loss: event.evalLoss, ...(event.stopped ? {stopped: {step: event.stopped.step, reason: say(event.stopped.reason)}} : {})};
    default:
      return null;
  }
}

/** The objective's metrics for a human line: counts and memory left out, four decimals. */
function humanValues(values: Record<string, number> | undefined): string {
  return Object.entries(values ?? {})
    .filter(([k, v]) => !k.includes('pairs') && !k.startsWith('memory/') && typeof v === 'number' && Number.isFinite(v))
    .map(([k, v]) => `  ${k} ${v.toFixed(4)}`)
    .join('');
}

export async function runTrainCommand(argv: string[], hooks: TrainCommandHooks = {}): Promise<JobResult> {
  const out = hooks.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = hooks.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const flagOptions = Object.fromEntries(CONFIG_FLAGS.map((f) => [f.flag, {type: 'string' as const}]));
  const {values, positionals} = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      ...flagOptions,
      'data-dir': {type: 'string'},
      model: {type: 'string', short: 'm'},
      data: {type: 'string', multiple: true},
      out: {type: 'string', short: 'o'},
      'init-adapter': {type: 'string'},
      'policy-init': {type: 'string'},
      rm: {type: 'string'},
      name: {type: 'string'},
      threads: {type: 'string'},
      gpu: {type: 'boolean'},
      resume: {type: 'string'},
      json: {type: 'boolean'},
    },
  });
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) throw new AppError('validation', {zh: '--threads 需要一个正整数。', en: '--threads needs a positive integer.'});
  const services = new Services({dataDir: resolveDataDir(values['data-dir'] as string | undefined), spawnEngine: forkEngine, ...(threads ? {threads} : {})});
  try {
    let runId: string;
    if (values.resume) {
      runId = services.training.resume(String(values.resume)).id;
    } else {
      const kind = positionals[0] as TrainingKind | undefined;
      const dataRefs = ((values.data as string[] | undefined) ?? []).flatMap((d) => d.split(',')).map((d) => d.trim()).filter(Boolean);
      if (!kind || !TRAINING_KINDS.includes(kind) || !values.model || !dataRefs.length || !values.out) throw new AppError('validation', TRAIN_USAGE);
      const out = resolve(String(values.out));
      if (!out.endsWith('.gguf')) throw new AppError('validation', {zh: '--out 必须以 .gguf 结尾。', en: 'The adapter path (--out) must end with .gguf.'});
      const initFlag = values['init-adapter'] ?? values['policy-init'];
      const initAdapter = initFlag ? resolve(String(initFlag)) : undefined;
      // PPO's reward model: a completed reward-model run (id or name) or an RM file
      let rewardRunId: string | undefined;
      let rewardModelPath: string | undefined;
      if (values.rm) {
        const ref = String(values.rm);
        const run = services.training.list().find((r) => (r.id === ref || r.name === ref) && r.kind === 'rm');
        if (run) rewardRunId = run.id;
        else if (existsSync(ref)) rewardModelPath = resolve(ref);
        else throw new AppError('not_found', {zh: `找不到奖励模型“${ref}”（既不是奖励模型训练，也不是文件）。`, en: `No reward model "${ref}" (neither a reward-model run nor a file).`});
      }
      if (initAdapter && !existsSync(initAdapter)) throw new AppError('not_found', {zh: `找不到适配器文件：${initAdapter}`, en: `No adapter file: ${initAdapter}`});
      const data = await resolveData(services, dataRefs);
      const input = parseInput(methods['training.start'].input, {
        kind,
        modelId: await resolveModelId(services, String(values.model)),
        ...(values.name ? {name: String(values.name)} : {}),
        ...data,
        ...(rewardRunId ? {rewardRunId} : {}),
        config: configFromFlags(values),
      });
      runId = (await services.training.start(input, {out, gpu: values.gpu ?? false, ...(initAdapter ? {initAdapterPath: initAdapter} : {}), ...(rewardModelPath ? {rewardModelPath} : {})})).id;
    }
    const json = values.json ?? false;
    services.training.onJobEvent(runId, (event) => {
      hooks.onEvent?.(event, {pause: () => services.training.pause(runId)});
      if (json) {
        const line = cliJson(event);
        if (line) out(JSON.stringify(line));
        return;
      }
      if (event.type === 'started') {
        err(`run ${event.runId}: ${event.totalSteps} steps on ${event.device}; ${event.trainExamples} training / ${event.valExamples} validation items${event.resumedFrom !== null ? `; resumed at step ${event.resumedFrom}` : ''}`);
      } else if (event.type === 'step') {
        const extra = humanValues(event.values);
        out(`step ${event.step}  loss ${event.loss.toFixed(4)}  lr ${event.lr.toExponential(2)}  ${Math.round(event.tokensPerS)} tok/s${extra}${event.downscaled ? '  (gradient exploded: scaled down)' : ''}`);
      } else if (event.type === 'eval') {
        // PPO has no held-out loss (its held-out reward is in the values): NaN crosses IPC as null
        const loss = typeof event.evalLoss === 'number' && Number.isFinite(event.evalLoss) ? `  loss ${event.evalLoss.toFixed(4)}` : '';
        out(`eval  step ${event.step}${loss}${humanValues(event.values)}`);
      } else if (event.type === 'done') {
        if (event.stopped) err(say(event.stopped.reason));
        out(event.status === 'completed' ? `adapter ${event.adapter} (run ${event.runId})` : `stopped at step ${event.step}; resume with: zhongjing train --resume ${event.runId}`);
      }
    });
    const onSigint = () => services.training.pause(runId);
    process.once('SIGINT', onSigint);
    const result = await services.training.finished(runId);
    process.off('SIGINT', onSigint);
    if (!result) throw new AppError('internal', {zh: `训练 ${runId} 没有在运行。`, en: `Run ${runId} is not running.`});
    if (result.status === 'failed') {
      const run = services.training.get(runId);
      throw new AppError('internal', {
        zh: `训练失败（运行 ${runId}）：${run.error?.zh ?? result.error}。可用 zhongjing train --resume ${runId} 从最近的检查点继续。`,
        en: `Training failed (run ${runId}): ${run.error?.en ?? result.error}. Resume from the last checkpoint with: zhongjing train --resume ${runId}`,
      });
    }
    return result;
  } finally {
    await services.close();
  }
}

export async function trainCommand(argv: string[]): Promise<void> {
  const result = await runTrainCommand(argv);
  if (result.status === 'failed') process.exitCode = 1;
}
