// Training runs from the app and serve: datasets of the store are frozen and written to a durable
// folder as the job's input (resume re-reads those exact files), the job runs in its own process,
// its events become metrics in the store and on the bus, and a finished adapter is registered as a
// model so a consultation can use it at once.

import {existsSync, readdirSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {MethodInput} from '../../common/contract.js';
import {AppError, notFound} from '../../common/errors.js';
import {DEFAULT_TRAINING_CONFIG, type TrainingCapabilities, type TrainingConfig, type TrainingDatasetRef, type TrainingRun, type TrainingRunSummary} from '../../common/training.js';
import type {DataPaths} from '../paths.js';
import type {Store} from '../store/index.js';
import type {RunIndex} from '../store/training-repo.js';
import {startTrainingJob, trainConfigFrom, type TrainingJob} from '../training/job.js';
import {trainerAddonPath} from '../training/native.js';
import type {RunRecord} from '../training/record.js';
import type {TrainEvent} from '../training/run.js';
import type {DatasetService} from './dataset-service.js';
import type {EventBus} from './event-bus.js';
import type {ModelService} from './model-service.js';

const RUN = {zh: '训练运行', en: 'training run'};

/** Resident memory of a process (Linux); null elsewhere. */
function residentBytes(pid: number | null): number | null {
  if (!pid) return null;
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}

export class TrainingService {
  private readonly jobs = new Map<string, {job: TrainingJob; cancelling: boolean; started: number; startStep: number; totalSteps: number}>();

  constructor(
    private readonly store: Store,
    private readonly paths: DataPaths,
    private readonly bus: EventBus,
    private readonly datasets: DatasetService,
    private readonly models: ModelService,
    private readonly threads: number,
  ) {
    store.training.markInterrupted();
  }

  get runsDir(): string {
    return join(this.paths.root, 'training', 'runs');
  }

  capabilities(): TrainingCapabilities {
    const built = (['cpu', 'cuda', 'vulkan'] as const).filter((v) => existsSync(trainerAddonPath(v)));
    if (!built.length)
      return {
        available: false,
        reason: {
          zh: '训练模块（原生插件）尚未编译，训练不可用；问诊与标注不受影响。请运行 npm run build:native 后重启。',
          en: 'The training module (native addon) is not built, so training is unavailable; consultation and annotation are unaffected. Run npm run build:native and restart.',
        },
        backends: [],
        threads: this.threads,
      };
    return {available: true, reason: null, backends: built, threads: this.threads};
  }

  list(): TrainingRunSummary[] {
    return this.store.training.list().map(summaryOf);
  }

  get(id: string): TrainingRun {
    const run = this.store.training.get(id);
    if (!run) throw notFound(RUN, id);
    const record = readRecord(run.runDir);
    const checkpointsDir = join(run.runDir, 'checkpoints');
    const checkpoints = existsSync(checkpointsDir)
      ? readdirSync(checkpointsDir)
          .map((name) => /^step-(\d+)$/.exec(name))
          .filter((m): m is RegExpExecArray => m !== null && existsSync(join(checkpointsDir, m[0], 'trainer.json')))
          .map((m) => ({step: Number(m[1]), createdAt: ''}))
          .sort((a, b) => a.step - b.step)
      : [];
    return {
      ...summaryOf(run),
      config: run.config,
      datasets: run.datasets,
      provenance: {
        baseModelSha256: record?.provenance?.baseModel.sha256 ?? null,
        codeVersion: record?.provenance ? `${record.provenance.code.app}${record.provenance.code.commit ? ` (${record.provenance.code.commit.slice(0, 10)})` : ''}, llama.cpp ${record.provenance.code.llamaCpp}` : '',
        seed: run.config.seed,
        threads: record?.config.threads ?? this.threads,
        backend: record?.provenance?.device ?? 'cpu',
      },
      adapterPath: run.adapterPath,
      checkpoints,
      metrics: this.store.training.metrics(id),
      error: run.error,
    };
  }

  /** The files a dataset version is trained from: written once per version, kept, and frozen. */
  async datasetFiles(datasetId: string, version?: number): Promise<{ref: TrainingDatasetRef; train: string[]; validation: string[]}> {
    const {name} = this.datasets.resolve(datasetId);
    const frozen = this.datasets.freeze(datasetId, version);
    const safe = name.replace(/[\\/:*?"<>|\s]+/g, '_');
    const dir = join(this.paths.root, 'training', 'data', `${safe}-v${frozen.version}-${frozen.contentHash.slice(0, 12)}`);
    if (!existsSync(join(dir, 'dataset_info.json'))) await this.datasets.export({id: datasetId, version: frozen.version, format: 'llamafactory', outDir: dir});
    // preference pairs are for the reward model and DPO, not SFT
    const files = readdirSync(dir).filter((f) => f.endsWith('.jsonl') && !f.includes('.pairs.')).sort().map((f) => join(dir, f));
    return {
      ref: {datasetId, name, version: frozen.version, contentHash: frozen.contentHash},
      train: files.filter((f) => !f.includes('.validation.')),
      validation: files.filter((f) => f.includes('.validation.')),
    };
  }

  async start(input: MethodInput<'training.start'>): Promise<TrainingRunSummary> {
    const capabilities = this.capabilities();
    if (!capabilities.available) throw new AppError('training_unavailable', capabilities.reason!);
    const model = this.models.get(input.modelId);
    if (model.kind !== 'base' || model.missing)
      throw new AppError('validation', {zh: '请选择一个可用的基础模型。', en: 'Choose an available base model.'});
    const parts = await Promise.all(input.datasets.map((d) => this.datasetFiles(d.datasetId, d.version)));
    const train = parts.flatMap((p) => p.train);
    if (!train.length) throw new AppError('validation', {zh: '所选数据集中没有可用于训练的数据行。', en: 'The chosen datasets have no rows to train on.'});
    const config: TrainingConfig = {...DEFAULT_TRAINING_CONFIG, ...input.config};
    const name = input.name ?? `${input.kind.toUpperCase()} ${model.name} · ${parts.map((p) => p.ref.name).join('+')}`;
    const adaptersDir = join(this.paths.root, 'adapters');
    const job = startTrainingJob({
      runsDir: this.runsDir,
      config: trainConfigFrom(config, {
        kind: input.kind,
        model: model.path,
        data: train,
        valData: parts.flatMap((p) => p.validation),
        out: join(adaptersDir, `${name.replace(/[\\/:*?"<>|\s·+]+/g, '_').slice(0, 80)}-${Date.now().toString(36)}.gguf`),
        threads: this.threads,
      }),
    });
    this.store.training.insert({id: job.runId, kind: input.kind, name, modelId: model.id, modelName: model.name, runDir: job.runDir, config, datasets: parts.map((p) => p.ref)});
    this.follow(job.runId, job);
    return summaryOf(this.store.training.get(job.runId)!);
  }

  pause(id: string): {pausing: boolean} {
    const running = this.jobs.get(id);
    running?.job.stop();
    return {pausing: running !== undefined};
  }

  resume(id: string): TrainingRunSummary {
    const run = this.store.training.get(id);
    if (!run) throw notFound(RUN, id);
    if (this.jobs.has(id)) return summaryOf(run);
    if (run.state === 'completed' || run.state === 'cancelled')
      throw new AppError('validation', {zh: '此训练已结束，不能继续。', en: 'This run has ended and cannot be resumed.'});
    const job = startTrainingJob({runsDir: this.runsDir, resume: id});
    this.store.training.update(id, {state: 'queued', error: null, finished: false});
    this.follow(id, job);
    return summaryOf(this.store.training.get(id)!);
  }

  cancel(id: string): TrainingRunSummary {
    const run = this.store.training.get(id);
    if (!run) throw notFound(RUN, id);
    const running = this.jobs.get(id);
    if (running) {
      running.cancelling = true;
      running.job.stop();
    } else if (run.state !== 'completed') {
      this.store.training.update(id, {state: 'cancelled', finished: true});
      this.emitState(id);
    }
    return summaryOf(this.store.training.get(id)!);
  }

  /** Stops every job with a checkpoint (quit): each can be resumed later. */
  async stopAll(): Promise<void> {
    for (const {job} of this.jobs.values()) job.stop();
    await Promise.all([...this.jobs.values()].map(({job}) => job.done));
  }

  private emitState(id: string): void {
    const run = this.store.training.get(id);
    if (run) this.bus.emit({type: 'training.state', run: summaryOf(run)});
  }

  private follow(id: string, job: TrainingJob): void {
    const entry = {job, cancelling: false, started: performance.now(), startStep: 0, totalSteps: 0};
    this.jobs.set(id, entry);
    job.onEvent((event: TrainEvent) => {
      if (event.type === 'started') {
        // the ETA counts from here: data preparation before the first step is not step time
        entry.started = performance.now();
        entry.startStep = event.resumedFrom ?? 0;
        entry.totalSteps = event.totalSteps;
        if (event.resumedFrom !== null) this.store.training.truncateMetrics(id, event.resumedFrom);
        this.store.training.update(id, {state: 'running', totalSteps: event.totalSteps, step: event.resumedFrom ?? 0});
        this.emitState(id);
      } else if (event.type === 'step') {
        const memoryBytes = residentBytes(job.pid);
        const metric = {step: event.step, loss: event.loss, evalLoss: null, learningRate: event.lr, tokensPerSecond: event.tokensPerS, gradNorm: event.gradNorm, memoryBytes, at: new Date().toISOString()};
        this.store.training.recordMetric(id, metric);
        this.store.training.update(id, {step: event.step, lastLoss: event.loss});
        const total = entry.totalSteps;
        const seconds = (performance.now() - entry.started) / 1000;
        const done = event.step - entry.startStep;
        this.bus.emit({type: 'training.metric', runId: id, metric, etaSeconds: done > 0 && total > event.step ? ((total - event.step) * seconds) / done : null});
      } else if (event.type === 'eval') {
        this.store.training.recordMetric(id, {step: event.step, evalLoss: event.evalLoss});
        this.store.training.update(id, {lastEvalLoss: event.evalLoss});
        const metric = this.store.training.metrics(id).find((m) => m.step === event.step)!;
        this.bus.emit({type: 'training.metric', runId: id, metric, etaSeconds: null});
      }
    });
    void job.done.then(async (result) => {
      this.jobs.delete(id);
      if (result.status === 'completed' && result.record?.result) {
        const adapterPath = result.record.result.out;
        this.store.training.update(id, {state: 'completed', adapterPath, finished: true, error: null});
        try {
          const run = this.store.training.get(id)!;
          const adapter = await this.models.add({path: adapterPath, name: `${run.name} (LoRA)`});
          this.store.training.update(id, {adapterModelId: adapter.id});
        } catch (error) {
          this.store.training.update(id, {error: {zh: `适配器已生成，但无法登记：${(error as Error).message}`, en: `The adapter was written but could not be registered: ${(error as Error).message}`}});
        }
      } else if (entry.cancelling) {
        this.store.training.update(id, {state: 'cancelled', finished: true});
      } else if (result.status === 'interrupted') {
        this.store.training.update(id, {state: 'paused'});
      } else {
        const message = result.error ?? 'unknown';
        this.store.training.update(id, {
          state: 'failed',
          error: {zh: `训练进程失败（可从最近的检查点继续）：${message}`, en: `The training process failed (it can resume from its last checkpoint): ${message}`},
        });
      }
      this.emitState(id);
    });
  }
}

function summaryOf(run: RunIndex): TrainingRunSummary {
  const {runDir: _dir, config: _config, datasets: _datasets, adapterPath: _adapter, error: _error, ...summary} = run;
  return summary;
}

function readRecord(runDir: string): RunRecord | null {
  try {
    return JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return null;
  }
}
