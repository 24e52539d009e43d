// One training run, start to finish, in the current process (the job process; see job.ts):
// data → tokens (with the model's own chat template) → batches → native steps → metrics,
// checkpoints, evaluation → the adapter. Resuming reloads the newest complete checkpoint and
// continues with the same batches, dropout masks and learning rates, so a killed and resumed run
// produces the same losses as one that never stopped.

import {copyFileSync, mkdirSync, readFileSync, renameSync, statSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {getLlama, LlamaLogLevel, type Llama, type LlamaModel} from 'node-llama-cpp';
import {packageRoot} from '../paths.js';
import {readDatasetFile, type Example} from './data.js';
import {BatchFeeder, evalBatches, learningRate, splitIndices, START, type Cursor} from './feeder.js';
import {loadTrainer, type NativeTrainerAddon, type NativeTrainingSession, type TrainingBatch} from './native.js';
import {RunDir, type CheckpointInfo, type DatasetProvenance, type Metrics, type RunRecord, type StepMetrics, type TrainConfig} from './record.js';
import {sha256File} from '../hash.js';
import {ExampleTokenizer, type TokenizedExample} from './render.js';

export type TrainEvent =
  | {type: 'started'; runId: string; resumedFrom: number | null; totalSteps: number; device: string; trainExamples: number; valExamples: number}
  | StepMetrics
  | {type: 'eval'; step: number; evalLoss: number; evalTokens: number}
  | {type: 'checkpoint'; step: number; dir: string}
  | {type: 'done'; runId: string; status: 'completed' | 'interrupted'; adapter: string | null; step: number; loss: number | null; evalLoss: number | null};

export interface RunOptions {
  runDir: string;
  runId: string;
  /** A new run's configuration; absent when resuming (run.json has it). */
  config?: TrainConfig;
  onEvent?: (event: TrainEvent) => void;
  /** Stop after the current step, with a checkpoint (the run can be resumed). */
  signal?: AbortSignal;
}

/** Everything a run needs that is not the native session: reused by the benchmark. */
export interface PreparedData {
  model: LlamaModel;
  train: TokenizedExample[];
  val: TokenizedExample[];
  datasets: DatasetProvenance[];
  stats: NonNullable<RunRecord['data']>;
}

export async function prepareData(llama: Llama, config: TrainConfig): Promise<PreparedData> {
  const model = await llama.loadModel({modelPath: config.model, vocabOnly: true});
  const datasets: DatasetProvenance[] = [];
  const load = (paths: readonly string[]): Example[] => {
    const out: Example[] = [];
    for (const path of paths) {
      const file = readDatasetFile(path);
      const usable = file.examples.filter((e) => (config.kind === 'pt' ? true : e.kind === 'dialogue'));
      datasets.push({path: resolve(path), name: file.name, sha256: file.sha256, bytes: file.bytes, rows: file.rows, examples: usable.length, skipped: file.rows - usable.length});
      // continued pre-training on dialogue files learns the dialogues' text as plain text
      for (const e of usable) out.push(config.kind === 'pt' && e.kind === 'dialogue' ? {kind: 'text', text: e.turns.map((t) => t.content).join('\n'), source: e.source} : e);
    }
    return out;
  };
  const examples = load(config.data);
  const heldOut = load(config.valData ?? []);
  if (!examples.length) throw new Error(`no usable ${config.kind === 'sft' ? 'dialogues' : 'texts'} in ${config.data.join(', ')}`);
  // the split is over source examples, before tokenisation, so one dialogue never feeds both sides
  const split = heldOut.length ? {train: examples.map((_, i) => i), val: []} : splitIndices(examples.length, config.valFraction, config.seed);
  const tokenizer = new ExampleTokenizer(model, config.nCtx);
  const train = tokenizer.tokenizeAll(split.train.map((i) => examples[i]!));
  const val = tokenizer.tokenizeAll(heldOut.length ? heldOut : split.val.map((i) => examples[i]!));
  return {
    model,
    train: train.items,
    val: val.items,
    datasets,
    stats: {
      trainExamples: train.items.length,
      valExamples: val.items.length,
      trainTokens: train.stats.tokens,
      trainTargets: train.stats.trainTokens,
      truncated: train.stats.truncated + val.stats.truncated,
      dropped: train.stats.dropped + val.stats.dropped,
    },
  };
}

/** Micro-batches of one epoch (for sizing a run given in epochs). */
export function microBatchesPerEpoch(train: readonly TokenizedExample[], config: TrainConfig): number {
  const feeder = new BatchFeeder(train, {nCtx: config.nCtx, rows: config.rows, pack: config.pack, seed: config.seed});
  let cursor: Cursor = START;
  let n = 0;
  do {
    cursor = feeder.next(cursor).cursor;
    n++;
  } while (cursor.epoch === 0 && cursor.index < feeder.size);
  return n;
}

export function sessionOptions(config: TrainConfig) {
  return {
    modelPath: config.model,
    threads: config.threads,
    seed: config.seed,
    gpu: config.gpu,
    lossHead: 'lm' as const,
    lora: {rank: config.lora.rank, alpha: config.lora.alpha, dropout: config.lora.dropout, targets: config.lora.targets as never, seed: config.seed},
    adamw: {beta1: config.beta1, beta2: config.beta2, weightDecay: config.weightDecay, gradClip: config.gradClip},
  };
}

async function evaluate(session: NativeTrainingSession, batches: readonly TrainingBatch[]): Promise<{loss: number; tokens: number}> {
  let sum = 0;
  let items = 0;
  for (const b of batches) {
    const r = await session.evaluate(b);
    sum += r.lossSum;
    items += r.nItems;
  }
  return {loss: items ? sum / items : NaN, tokens: items};
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
      progress: {step: 0, totalSteps: 0, epoch: 0, lastCheckpoint: null, resumes: 0}, result: null, error: null,
    };
    run.write(record);
  }
  const config = record.config;

  let session: NativeTrainingSession | null = null;
  let data: PreparedData | null = null;
  try {
    const llama = await getLlama({gpu: config.gpu ? 'auto' : false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: config.threads});
    const trainer = loadTrainer(llama);
    if (!trainer.ok) throw new Error(trainer.reason.en);
    const addon = trainer.addon;

    data = await prepareData(llama, config);
    if (!data.train.length) throw new Error('no training examples left after tokenisation');
    const perEpoch = microBatchesPerEpoch(data.train, config);
    const totalSteps = config.steps ?? Math.max(1, Math.ceil((config.epochs * perEpoch) / config.accum));
    const feeder = new BatchFeeder(data.train, {nCtx: config.nCtx, rows: config.rows, pack: config.pack, seed: config.seed});
    const valBatches = evalBatches(data.val, config.nCtx, config.rows);

    session = await addon.createSession(sessionOptions(config));
    let step = 0;
    let cursor: Cursor = START;
    let resumedFrom: number | null = null;
    const checkpoint = resuming ? run.checkpoints()[0] : undefined;
    if (checkpoint) {
      await session.loadState(join(checkpoint.dir, 'state.gguf'));
      step = checkpoint.step;
      cursor = checkpoint.cursor;
      resumedFrom = step;
      run.truncateMetrics(step);
      record.progress.resumes++;
    } else if (resuming) {
      run.truncateMetrics(-1); // killed before the first checkpoint: start over
    }
    const device = session.info().device;
    if (!record.provenance) {
      const modelBytes = statSync(config.model).size;
      record.provenance = {
        datasets: data.datasets,
        baseModel: {path: resolve(config.model), sha256: await sha256File(config.model), bytes: modelBytes},
        seed: config.seed,
        code: codeVersion(addon),
        device,
      };
    } else {
      // a resumed run must see the same inputs it started with
      for (const d of data.datasets) {
        const before = record.provenance.datasets.find((p) => p.path === d.path);
        if (before && before.sha256 !== d.sha256) throw new Error(`${d.path} changed since the run started (sha256 differs): cannot resume exactly`);
      }
    }
    record.data = data.stats;
    record.status = 'running';
    record.error = null;
    record.progress.totalSteps = totalSteps;
    record.progress.step = step;
    run.write(record);
    options.onEvent?.({type: 'started', runId: record.id, resumedFrom, totalSteps, device, trainExamples: data.train.length, valExamples: data.val.length});

    const emit = (m: Metrics) => {
      run.appendMetrics(m);
      options.onEvent?.(m);
    };
    let lastEval: number | null = null;
    if (valBatches.length && step === 0) {
      const e = await evaluate(session, valBatches);
      lastEval = e.loss;
      emit({type: 'eval', step: 0, evalLoss: e.loss, evalTokens: e.tokens});
    }

    const started = performance.now();
    let lastLoss: number | null = null;
    const lrOptions = {lr: config.lr, warmupSteps: config.warmupSteps, totalSteps, minRatio: config.minLrRatio};
    while (step < totalSteps) {
      if (options.signal?.aborted) break;
      const batches: TrainingBatch[] = [];
      for (let i = 0; i < config.accum; i++) {
        const next = feeder.next(cursor);
        batches.push(next.batch);
        cursor = next.cursor;
      }
      const lr = learningRate(step, lrOptions);
      const t0 = performance.now();
      const r = await session.trainStep(batches, lr);
      const seconds = (performance.now() - t0) / 1000;
      step = r.step;
      lastLoss = r.loss;
      emit({
        type: 'step', step, loss: r.loss, lr, gradNorm: r.gradNorm, tokens: r.nTokens,
        tokensPerS: r.nTokens / Math.max(seconds, 1e-9), epoch: cursor.epoch, elapsedS: (performance.now() - started) / 1000,
      });
      const last = step >= totalSteps;
      if (valBatches.length && ((config.evalEvery > 0 && step % config.evalEvery === 0) || last)) {
        const e = await evaluate(session, valBatches);
        lastEval = e.loss;
        emit({type: 'eval', step, evalLoss: e.loss, evalTokens: e.tokens});
      }
      if ((config.checkpointEvery > 0 && step % config.checkpointEvery === 0) || last || options.signal?.aborted) {
        await saveCheckpoint(run, session, {step, cursor, epoch: cursor.epoch, dir: run.checkpointDir(step)}, config);
        record.progress = {...record.progress, step, epoch: cursor.epoch, lastCheckpoint: step};
        run.write(record);
        options.onEvent?.({type: 'checkpoint', step, dir: run.checkpointDir(step)});
      }
    }

    if (step < totalSteps) {
      // stopped on request: resumable from the checkpoint just written
      record.status = 'interrupted';
      record.progress.step = step;
      run.write(record);
      options.onEvent?.({type: 'done', runId: record.id, status: 'interrupted', adapter: null, step, loss: lastLoss, evalLoss: lastEval});
      return record;
    }

    const metadata = {
      'general.name': `zhongjing ${config.kind} ${record.id}`,
      'zhongjing.run_id': record.id,
      'zhongjing.kind': config.kind,
      'zhongjing.base_model.sha256': record.provenance.baseModel.sha256,
      'zhongjing.datasets': JSON.stringify(record.provenance.datasets.map((d) => ({name: d.name, sha256: d.sha256}))),
      'zhongjing.config': JSON.stringify(config),
      'zhongjing.steps': String(step),
      'zhongjing.code': JSON.stringify(record.provenance.code),
    };
    await session.exportAdapter(run.adapterPath, metadata);
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
    options.onEvent?.({type: 'done', runId: record.id, status: 'completed', adapter: out, step, loss: finalLoss, evalLoss: lastEval});
    return record;
  } catch (error) {
    record.status = 'failed';
    record.error = (error as Error).message;
    run.write(record);
    throw error;
  } finally {
    session?.dispose();
    await data?.model.dispose();
  }
}

async function saveCheckpoint(run: RunDir, session: NativeTrainingSession, info: CheckpointInfo, config: TrainConfig): Promise<void> {
  mkdirSync(info.dir, {recursive: true});
  await session.saveState(join(info.dir, 'state.gguf'), {'zhongjing.step': String(info.step)});
  run.commitCheckpoint(info);
  run.pruneCheckpoints(config.keepCheckpoints);
}
