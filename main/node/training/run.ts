// One training run, start to finish, in the current process (the job process; see job.ts):
// inputs (the dataset engine's reader) → the objective's items and batches → native steps →
// metrics, checkpoints, evaluation, the best checkpoint → the artifact. The loop names no
// objective: SFT, PT, RM and DPO plug in through objectives/. Resuming reloads the newest complete checkpoint and
// continues with the same batches, dropout masks and learning rates, so a killed and resumed run
// produces the same losses as one that never stopped.

import {copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {getLlama, LlamaLogLevel, type Llama, type LlamaModel} from 'node-llama-cpp';
import {packageRoot} from '../paths.js';
import {learningRate, START, type Cursor} from './feeder.js';
import {readInputs, type ReadInputs} from './inputs.js';
import {loadTrainer, type NativeTrainerAddon, type NativeTrainingSession, type SessionOptions, type TrainingBatch} from './native.js';
import {objectiveFor, ObjectiveDataError, type PreparedObjective, type StepOutcome} from './objectives/index.js';
import {RunDir, type CheckpointInfo, type DatasetProvenance, type EvalMetrics, type Metrics, type RunRecord, type StepMetrics, type TrainConfig} from './record.js';
import {sha256File} from '../hash.js';
import {ExampleTokenizer} from './render.js';

export type TrainEvent =
  | {type: 'started'; runId: string; resumedFrom: number | null; totalSteps: number; device: string; trainExamples: number; valExamples: number}
  | StepMetrics
  | EvalMetrics
  | {type: 'checkpoint'; step: number; dir: string}
  | {type: 'done'; runId: string; status: 'completed' | 'interrupted'; adapter: string | null; step: number; loss: number | null; evalLoss: number | null; stopped?: {step: number; reason: {zh: string; en: string}} | null};

export interface RunOptions {
  runDir: string;
  runId: string;
  /** A new run's configuration; absent when resuming (run.json has it). */
  config?: TrainConfig;
  onEvent?: (event: TrainEvent) => void;
  /** Stop after the current step, with a checkpoint (the run can be resumed). */
  signal?: AbortSignal;
  /** End after the current step and keep the result (best checkpoint, else this step), as a
   * completed run stopped early: what a person wants instead of cancelling a run that is good enough. */
  finishSignal?: AbortSignal;
}

const FINISHED_ON_REQUEST = {zh: '按要求提前结束', en: 'finished early on request'};

/** The session's base model, threads, optimizer and the objective's adapters and loss head. */
export function sessionOptions(config: TrainConfig): SessionOptions {
  return {
    modelPath: config.model,
    threads: config.threads,
    seed: config.seed,
    gpu: config.gpu,
    gradientCheckpointing: config.gradientCheckpointing ?? false,
    ...objectiveFor(config.kind).sessionOptions(config),
    adamw: {beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay, gradClip: config.gradClip},
  };
}

/** The input rows, tokenised and ready to feed by the run's objective: reused by the benchmark. */
export async function prepareObjective(llama: Llama, config: TrainConfig): Promise<{model: LlamaModel; inputs: ReadInputs; prepared: PreparedObjective}> {
  const model = await llama.loadModel({modelPath: config.model, vocabOnly: true});
  try {
    const inputs = await readInputs(config.inputs);
    const prepared = objectiveFor(config.kind).prepare(inputs, new ExampleTokenizer(model, config.nCtx), config);
    return {model, inputs, prepared};
  } catch (error) {
    await model.dispose();
    throw error;
  }
}

/** A step whose gradient norm passes this many times the median of the recent ones (all of them,
 * so a lasting change of scale is followed within a few steps) is scaled down to that bound. */
const EXPLODING_GRADIENT_FACTOR = 20;
const GRADIENT_HISTORY = 20;

/** The job's peak resident memory (Linux; null elsewhere): every step reports it. */
function peakResidentBytes(): number | null {
  try {
    const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

function explosionBound(norms: readonly number[]): number | undefined {
  if (norms.length < 10) return undefined;
  const recent = [...norms.slice(-GRADIENT_HISTORY)].sort((a, b) => a - b);
  const median = recent[recent.length >> 1]!;
  return median > 0 ? median * EXPLODING_GRADIENT_FACTOR : undefined;
}

function codeVersion(addon: NativeTrainerAddon): NonNullable<RunRecord['provenance']>['code'] {
  const root = packageRoot();
  const app = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {version: string}).version;
  let commit: string | null = process.env.ZHONGJING_COMMIT ?? null;
  try {
    // .git/HEAD → ref → commit, without running git
    const head = readFileSync(join(root, '.git', 'HEAD'), 'utf8').trim();
    commit ??= head.startsWith('ref: ') ? readFileSync(join(root, '.git', head.slice(5)), 'utf8').trim() : head;
  } catch {
    // not a git checkout (a packaged app): the app version identifies the code
  }
  const nlc = JSON.parse(readFileSync(join(root, 'node_modules', 'node-llama-cpp', 'package.json'), 'utf8')) as {version: string};
  const tag = (JSON.parse(readFileSync(join(root, 'node_modules', 'node-llama-cpp', 'llama', 'llama.cpp.info.json'), 'utf8')) as {tag: string}).tag;
  return {app, commit, nodeLlamaCpp: nlc.version, llamaCpp: tag, addon: {...addon.build}};
}

export async function runTraining(options: RunOptions): Promise<RunRecord> {
  const run = new RunDir(options.runDir);
  const resuming = !options.config;
  let record: RunRecord;
  if (resuming) {
    if (!run.exists()) throw new Error(`no training run at ${options.runDir}`);
    record = run.read();
  } else {
    const now = new Date().toISOString();
    record = {
      id: options.runId, kind: options.config!.kind, status: 'running', createdAt: now, updatedAt: now, finishedAt: null,
      config: options.config!, provenance: null, data: null,
      progress: {step: 0, totalSteps: 0, epoch: 0, lastCheckpoint: null, resumes: 0}, result: null, best: null, error: null,
    };
    run.write(record);
  }
  const config = record.config;

  let session: NativeTrainingSession | null = null;
  let model: LlamaModel | null = null;
  let disposePrepared: (() => Promise<void>) | null = null;
  try {
    const llama = await getLlama({gpu: config.gpu ? 'auto' : false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: config.threads});
    const trainer = loadTrainer(llama);
    if (!trainer.ok) throw new Error(trainer.reason.en);
    const addon = trainer.addon;
    const objective = objectiveFor(config.kind);

    const data = await prepareObjective(llama, config);
    model = data.model;
    const {prepared, inputs} = data;
    const perEpoch = prepared.microBatchesPerEpoch();
    const totalSteps = config.steps ?? Math.max(1, Math.ceil((config.epochs * perEpoch) / config.accum));

    session = await addon.createSession(sessionOptions(config));
    let step = 0;
    let cursor: Cursor = START;
    let resumedFrom: number | null = null;
    const checkpoint = resuming ? run.checkpoints()[0] : undefined;
    if (checkpoint) {
      await session.loadState(join(checkpoint.dir, 'state.gguf'));
      step = checkpoint.step;
      cursor = checkpoint.cursor;
      if (checkpoint.objective !== undefined) prepared.restoreState?.(checkpoint.objective);
      resumedFrom = step;
      run.truncateMetrics(step);
      record.progress.resumes++;
    } else if (resuming) {
      run.truncateMetrics(-1); // killed before the first checkpoint: start over
    }
    // before the first step: DPO's reference log-probs (cached in the run directory), PPO's generator
    await prepared.attach?.(session, {runDir: options.runDir, llama});
    disposePrepared = prepared.dispose?.bind(prepared) ?? null;
    const valBatches = prepared.evalBatches();
    const device = session.info().device;
    const datasets: DatasetProvenance[] = inputs.files.map((f, i) => ({...f, ...(prepared.perFile[i] ?? {examples: 0, skipped: f.rows})}));
    if (!record.provenance) {
      const modelBytes = statSync(config.model).size;
      record.provenance = {
        datasets,
        baseModel: {path: resolve(config.model), sha256: await sha256File(config.model), bytes: modelBytes},
        initAdapter: config.initAdapter ? {path: resolve(config.initAdapter), sha256: await sha256File(config.initAdapter)} : null,
        rewardModel: config.rewardModel ? {path: resolve(config.rewardModel), sha256: await sha256File(config.rewardModel)} : null,
        seed: config.seed,
        code: codeVersion(addon),
        device,
      };
    } else {
      // a resumed run must see the same inputs it started with
      for (const d of datasets) {
        const before = record.provenance.datasets.find((p) => p.path === d.path);
        if (before && before.sha256 !== d.sha256) throw new Error(`${d.path} changed since the run started (sha256 differs): cannot resume exactly`);
      }
    }
    record.data = prepared.stats;
    record.status = 'running';
    record.error = null;
    record.progress.totalSteps = totalSteps;
    record.progress.step = step;
    run.write(record);
    options.onEvent?.({type: 'started', runId: record.id, resumedFrom, totalSteps, device, trainExamples: prepared.stats.trainExamples, valExamples: prepared.stats.valExamples});

    const emit = (m: Metrics) => {
      run.appendMetrics(m);
      options.onEvent?.(m);
    };
    const metadata = (steps: number) => ({
      'general.name': `zhongjing ${config.kind} ${record.id}`,
      'zhongjing.run_id': record.id,
      'zhongjing.kind': config.kind,
      'zhongjing.base_model.sha256': record.provenance!.baseModel.sha256,
      'zhongjing.datasets': JSON.stringify(record.provenance!.datasets.map((d) => ({name: d.name, sha256: d.sha256}))),
      'zhongjing.config': JSON.stringify(config),
      'zhongjing.steps': String(steps),
      'zhongjing.code': JSON.stringify(record.provenance!.code),
      ...(record.provenance!.initAdapter ? {'zhongjing.init_adapter.sha256': record.provenance!.initAdapter.sha256} : {}),
      ...objective.artifactMetadata(config),
    });
    // the best checkpoint by validation (the paper keeps the best of its held-out 10 %; lowest
    // loss, or the objective's own rank such as PPO's held-out reward): on resume it is recomputed
    // from the evaluations up to the checkpoint, which repeat exactly
    const earlier = run.readMetrics();
    const rankOf = (m: EvalMetrics) => m.rank ?? {metric: 'eval_loss', value: m.evalLoss, higherIsBetter: false};
    const better = (r: {value: number; higherIsBetter: boolean}, than: RunRecord['best']) =>
      Number.isFinite(r.value) && (!than || (r.higherIsBetter ? r.value > than.value : r.value < than.value));
    let best: RunRecord['best'] = null;
    for (const m of earlier.filter((e): e is EvalMetrics => e.type === 'eval' && e.step > 0)) {
      const r = rankOf(m);
      if (better(r, best)) best = {step: m.step, metric: r.metric, value: r.value};
    }
    const norms = earlier.filter((m): m is StepMetrics => m.type === 'step').map((m) => m.gradNorm);
    const exportOptions = {head: objective.artifactHasHead};
    let stop: {zh: string; en: string} | null = null;
    const evaluateNow = async (at: number) => {
      const e = await prepared.evaluate(session!, valBatches, at);
      const metric: EvalMetrics = {type: 'eval', step: at, evalLoss: e.loss, evalTokens: e.items, values: e.values, ...(e.rank ? {rank: e.rank} : {})};
      emit(metric);
      const r = rankOf(metric);
      if (at > 0 && better(r, best)) {
        await session!.exportAdapter(run.bestAdapterPath, metadata(at), undefined, exportOptions);
        best = {step: at, metric: r.metric, value: r.value};
        record.best = best;
        run.write(record);
      }
      if (e.stop) stop = e.stop;
      return e.loss;
    };
    let lastEval: number | null = null;
    if (valBatches.length && step === 0) lastEval = await evaluateNow(0);

    const started = performance.now();
    let lastLoss: number | null = null;
    const lrOptions = {lr: config.lr, warmupSteps: config.warmupSteps, totalSteps, minRatio: config.minLrRatio};
    while (step < totalSteps && !stop) {
      if (options.signal?.aborted) break;
      const lr = learningRate(step, lrOptions);
      const t0 = performance.now();
      let outcome: StepOutcome;
      if (prepared.step) {
        outcome = await prepared.step({session, cursor, step, lr});
      } else {
        const batches: TrainingBatch[] = [];
        let next = cursor;
        for (let i = 0; i < config.accum; i++) {
          const fed = prepared.next(next);
          batches.push(fed.batch);
          next = fed.cursor;
        }
        const r = await session.trainStep(batches, lr, undefined, {maxGradNorm: explosionBound(norms)});
        outcome = {cursor: next, loss: r.loss, gradNorm: r.gradNorm, tokens: r.nTokens, values: prepared.stepValues(batches, r), ...(r.downscaled ? {downscaled: true} : {})};
      }
      const seconds = (performance.now() - t0) / 1000;
      const peak = peakResidentBytes();
      if (peak !== null) outcome.values = {...outcome.values, 'memory/peak_rss_bytes': peak};
      step += 1;
      cursor = outcome.cursor;
      lastLoss = outcome.loss;
      norms.push(outcome.gradNorm);
      emit({
        type: 'step', step, loss: outcome.loss, lr, gradNorm: outcome.gradNorm, tokens: outcome.tokens,
        tokensPerS: outcome.tokens / Math.max(seconds, 1e-9), epoch: cursor.epoch, elapsedS: (performance.now() - started) / 1000,
        values: outcome.values, ...(outcome.downscaled ? {downscaled: true} : {}),
      });
      if (!stop && options.finishSignal?.aborted) stop = FINISHED_ON_REQUEST;
      // finishing early evaluates once more, so the best checkpoint is chosen with this step too
      const last = step >= totalSteps || stop === FINISHED_ON_REQUEST;
      if (valBatches.length && ((config.evalEvery > 0 && step % config.evalEvery === 0) || last)) lastEval = await evaluateNow(step);
      if (stop) {
        record.stopped = {step, reason: stop};
        run.write(record);
      }
      if ((config.checkpointEvery > 0 && step % config.checkpointEvery === 0) || last || stop || options.signal?.aborted) {
        await saveCheckpoint(run, session, {step, cursor, epoch: cursor.epoch, dir: run.checkpointDir(step), ...(prepared.saveState ? {objective: prepared.saveState()} : {})}, config);
        record.progress = {...record.progress, step, epoch: cursor.epoch, lastCheckpoint: step};
        run.write(record);
        options.onEvent?.({type: 'checkpoint', step, dir: run.checkpointDir(step)});
      }
    }

    if (step < totalSteps && !stop) {
      // stopped on request: resumable from the checkpoint just written
      record.status = 'interrupted';
      record.progress.step = step;
      run.write(record);
      options.onEvent?.({type: 'done', runId: record.id, status: 'interrupted', adapter: null, step, loss: lastLoss, evalLoss: lastEval});
      return record;
    }

    // the result: the best checkpoint by validation when there was validation data, else the last
    if (best && existsSync(run.bestAdapterPath)) {
      copyFileSync(run.bestAdapterPath, run.adapterPath);
      record.best = best;
      // the last step's adapter too, so the user can keep it instead of rolling back to the best
      if (best.step !== step) await session.exportAdapter(run.lastAdapterPath, metadata(step), undefined, exportOptions);
    } else {
      await session.exportAdapter(run.adapterPath, metadata(step), undefined, exportOptions);
      record.best = null;
    }
    const out = resolve(config.out);
    mkdirSync(dirname(out), {recursive: true});
    const tmp = `${out}.tmp-${process.pid}`;
    copyFileSync(run.adapterPath, tmp);
    renameSync(tmp, out);
    const finalLoss = run.readMetrics().filter((m): m is StepMetrics => m.type === 'step').at(-1)?.loss ?? lastLoss;
    record.status = 'completed';
    record.finishedAt = new Date().toISOString();
    record.progress.step = step;
    record.result = {adapter: run.adapterPath, adapterSha256: await sha256File(run.adapterPath), out, finalLoss, evalLoss: lastEval};
    run.write(record);
    options.onEvent?.({type: 'done', runId: record.id, status: 'completed', adapter: out, step, loss: finalLoss, evalLoss: lastEval, stopped: record.stopped ?? null});
    return record;
  } catch (error) {
    record.status = 'failed';
    record.error = error instanceof ObjectiveDataError ? JSON.stringify(error.localised) : (error as Error).message;
    run.write(record);
    throw error;
  } finally {
    await disposePrepared?.();
    session?.dispose();
    await model?.dispose();
  }
}

async function saveCheckpoint(run: RunDir, session: NativeTrainingSession, info: CheckpointInfo, config: TrainConfig): Promise<void> {
  mkdirSync(info.dir, {recursive: true});
  await session.saveState(join(info.dir, 'state.gguf'), {'zhongjing.step': String(info.step)});
  run.commitCheckpoint(info);
  run.pruneCheckpoints(config.keepCheckpoints);
}
