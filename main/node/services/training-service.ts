// Training runs from the app and serve: datasets of the store are frozen and written to a durable
// folder as the job's input (resume re-reads those exact files), the job runs in its own process,
// its events become metrics in the store and on the bus, and a finished adapter is registered as a
// model so a consultation can use it at once.

import {createHash} from 'node:crypto';
import {copyFileSync, existsSync, mkdirSync, readFileSync, renameSync, statSync} from 'node:fs';
import {join} from 'node:path';
import type {MethodInput} from '../../common/contract.js';
import {AppError, notFound} from '../../common/errors.js';
import {defaultTrainingConfig, isPreferenceKind, type RolloutSample, type TrainingCapabilities, type TrainingConfig, type TrainingDatasetRef, type TrainingRun, type TrainingRunSummary, type TrainingSource} from '../../common/training.js';
import type {DataPaths} from '../paths.js';
import type {Store} from '../store/index.js';
import type {RunIndex} from '../store/training-repo.js';
import {cliCommandFor} from '../training/cli-command.js';
import type {TrainingInputFile} from '../training/inputs.js';
import {scoreInJob, startTrainingJob, trainConfigFrom, type JobResult, type TrainingJob} from '../training/job.js';
import {RunDir, writeFileAtomic} from '../training/record.js';
import {trainerAddonPath} from '../training/native.js';
import type {RunRecord} from '../training/record.js';
import type {TrainEvent} from '../training/run.js';
import type {AnnotationService} from './annotation-service.js';
import type {DatasetService} from './dataset-service.js';
import type {EventBus} from './event-bus.js';
import {StorageGuard} from './storage-guard.js';
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
  /** `started` / `startStep`: the time and step of the first step this job reported (the ETA's
   * clock starts there, not at the process start: loading and tokenising would inflate it) */
  private readonly jobs = new Map<string, {job: TrainingJob; cancelling: boolean; started: number; startStep: number | null; totalSteps: number; settled: Promise<void>}>();
  private readonly jobListeners = new Map<string, Set<(event: TrainEvent) => void>>();

  constructor(
    private readonly store: Store,
    private readonly paths: DataPaths,
    private readonly bus: EventBus,
    private readonly datasets: DatasetService,
    private readonly models: ModelService,
    private readonly annotation: AnnotationService,
    private readonly threads: number,
    /** a run's progress arrives without a caller: on a full disk it is held and written later */
    private readonly storage: StorageGuard = new StorageGuard(bus),
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
    // checkpoints are read through RunDir, the one place that knows their layout (resume reads them there too)
    const checkpoints = new RunDir(run.runDir)
      .checkpoints()
      .map((c) => ({step: c.step, createdAt: statSync(join(c.dir, 'trainer.json')).mtime.toISOString()}))
      .sort((a, b) => a.step - b.step);
    // the run that produced the starting adapter, when it was trained here (PPO's / DPO's SFT run)
    const initRun = run.initAdapter ? this.store.training.list().find((r) => r.adapterPath === run.initAdapter) : undefined;
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
      sources: run.sources.length ? run.sources : run.datasets.map((d): TrainingSource => ({type: 'dataset', ...d})),
      best: record?.best ?? null,
      initAdapter: run.initAdapter ? {path: run.initAdapter, sha256: record?.provenance?.initAdapter?.sha256 ?? null, runId: initRun?.id ?? null, runName: initRun?.name ?? null} : null,
      cliCommand: cliCommandFor(run, this.store.models.get(run.modelId ?? '')?.path ?? run.modelName),
      stopped: record?.stopped ?? null,
      result: {step: run.resultStep, lastAvailable: existsSync(new RunDir(run.runDir).lastAdapterPath)},
      samples: readSamples(run.runDir),
    };
  }

  /** The files a dataset version is trained from: written once per version, kept, and frozen.
   * Each file's role comes from the export's own parts (the manifest), never from its name. */
  async datasetInputs(datasetId: string, version?: number): Promise<{ref: TrainingDatasetRef; inputs: TrainingInputFile[]}> {
    const {name} = this.datasets.resolve(datasetId);
    const frozen = this.datasets.freeze(datasetId, version);
    const safe = name.replace(/[\\/:*?"<>|\s]+/g, '_');
    const dir = join(this.paths.root, 'training', 'data', `${safe}-v${frozen.version}-${frozen.contentHash.slice(0, 12)}`);
    const manifestPath = join(dir, 'manifest.json');
    let inputs: TrainingInputFile[];
    if (existsSync(manifestPath)) {
      inputs = (JSON.parse(readFileSync(manifestPath, 'utf8')) as {inputs: TrainingInputFile[]}).inputs;
    } else {
      const {result} = await this.datasets.exportParts({id: datasetId, version: frozen.version, format: 'llamafactory', outDir: dir});
      inputs = result.parts.map((p) => ({path: p.path, role: p.split, content: 'dataset' as const}));
      writeFileAtomic(manifestPath, JSON.stringify({dataset: name, version: frozen.version, contentHash: frozen.contentHash, inputs}, null, 2) + '\n');
    }
    return {ref: {datasetId, name, version: frozen.version, contentHash: frozen.contentHash}, inputs};
  }

  /** An annotation project's final rankings as a preference file (content-addressed, so an
   * unchanged project is written once), with who ranked them. */
  annotationInputs(projectId: string): {source: Extract<TrainingSource, {type: 'annotation'}>; inputs: TrainingInputFile[]} {
    const {records, source} = this.annotation.finalPreferences(projectId);
    if (!records.length)
      throw new AppError('validation', {
        zh: `标注项目“${source.name}”还没有最终排序（需要完成排序，有分歧的条目需要裁定），不能用来训练。`,
        en: `The annotation project "${source.name}" has no final rankings yet (items must be ranked, and disagreements adjudicated), so it cannot be trained on.`,
      });
    const body = records.map((r) => JSON.stringify(r)).join('\n') + '\n';
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    const dir = join(this.paths.root, 'training', 'data');
    mkdirSync(dir, {recursive: true});
    const path = join(dir, `annotation-${projectId}-${hash}.preferences.jsonl`);
    if (!existsSync(path)) writeFileAtomic(path, body);
    return {source, inputs: [{path, role: 'train', content: 'preferences'}]};
  }

  /**
   * Starts a run. `local` holds what only a caller on this machine gives (the CLI): an adapter
   * file to start from, where to copy the result, the device (else the GPU setting decides).
   */
  async start(input: MethodInput<'training.start'>, local: {initAdapterPath?: string; rewardModelPath?: string; out?: string; gpu?: boolean} = {}): Promise<TrainingRunSummary> {
    const capabilities = this.capabilities();
    if (!capabilities.available) throw new AppError('training_unavailable', capabilities.reason!);
    this.refuseSecondRun();
    const model = this.models.get(input.modelId);
    if (model.kind !== 'base' || model.missing)
      throw new AppError('validation', {zh: '请选择一个可用的基础模型。', en: 'Choose an available base model.'});
    const preference = isPreferenceKind(input.kind);
    const datasets = input.datasets ?? [];
    const projects = input.annotationProjects ?? [];
    if (!preference && input.kind !== 'ppo' && projects.length)
      throw new AppError('validation', {zh: '标注项目的排序用于奖励模型、DPO 和 PPO（作提示），不能用于 SFT 或继续预训练。', en: 'Annotation rankings train a reward model or DPO (or give PPO its prompts), not SFT or continued pre-training.'});
    const reward = input.kind === 'ppo' ? await this.rewardModelFor(input.rewardRunId, local.rewardModelPath, model) : null;
    if (preference) {
      const summaries = this.datasets.list();
      for (const d of datasets) {
        const summary = summaries.find((s) => s.id === d.datasetId);
        if (summary && !(summary.kinds.preference ?? 0))
          throw new AppError('validation', {
            zh: `数据集“${summary.name}”没有偏好对（chosen/rejected），不能训练${input.kind === 'rm' ? '奖励模型' : ' DPO'}。请选择偏好数据集或标注项目。`,
            en: `The dataset "${summary.name}" has no preference pairs (chosen/rejected), so it cannot train ${input.kind === 'rm' ? 'a reward model' : 'DPO'}. Choose a preference dataset or an annotation project.`,
          });
      }
    }
    let initAdapter: string | null = local.initAdapterPath ?? null;
    if (input.initAdapterModelId) {
      const adapter = this.models.get(input.initAdapterModelId);
      if (adapter.kind !== 'adapter' || adapter.missing)
        throw new AppError('validation', {zh: '起始适配器必须是一个可用的 LoRA 适配器。', en: 'The starting adapter must be an available LoRA adapter.'});
      initAdapter = adapter.path;
    }
    if (initAdapter && !existsSync(initAdapter)) throw new AppError('not_found', {zh: `找不到适配器文件：${initAdapter}`, en: `No adapter file: ${initAdapter}`});
    const parts = await Promise.all(datasets.map((d) => this.datasetInputs(d.datasetId, d.version)));
    const annotated = projects.map((p) => this.annotationInputs(p));
    const inputs = [...parts.flatMap((p) => p.inputs), ...annotated.flatMap((a) => a.inputs)];
    if (!inputs.some((i) => i.role === 'train')) throw new AppError('validation', {zh: '所选数据集中没有可用于训练的数据行。', en: 'The chosen datasets have no rows to train on.'});
    const config: TrainingConfig = {...defaultTrainingConfig(input.kind), ...input.config};
    const sources: TrainingSource[] = [
      ...parts.map((p): TrainingSource => ({type: 'dataset', ...p.ref})),
      ...annotated.map((a) => a.source),
      ...(reward ? [reward.source] : []),
    ];
    const name = this.unusedRunName(input.name ?? `${input.kind.toUpperCase()} ${model.name} · ${sources.filter((s) => s.type !== 'reward-model').map((s) => s.name).join('+')}`);
    const adaptersDir = join(this.paths.root, 'adapters');
    const job = startTrainingJob({
      runsDir: this.runsDir,
      config: trainConfigFrom(config, {
        kind: input.kind,
        model: model.path,
        inputs,
        initAdapter,
        rewardModel: reward?.path ?? null,
        out: local.out ?? join(adaptersDir, `${name.replace(/[\\/:*?"<>|\s·+]+/g, '_').slice(0, 80)}-${Date.now().toString(36)}.gguf`),
        threads: this.threads,
        // the GPU setting (设置 → GPU) holds for training as for chat: 'auto' trains on the first
        // GPU of the trainer's variant when there is one (the run records the device it used)
        gpu: local.gpu ?? this.store.settings.get().gpuMode === 'auto',
      }),
    });
    this.store.training.insert({
      id: job.runId, kind: input.kind, name, modelId: model.id, modelName: model.name, runDir: job.runDir, config,
      datasets: parts.map((p) => p.ref), sources, initAdapter,
    });
    this.follow(job.runId, job);
    return summaryOf(this.store.training.get(job.runId)!);
  }

  /** PPO's reward model: a completed RM run of the same base model (or, from the CLI, a file). */
  private async rewardModelFor(runId: string | undefined, path: string | undefined, base: {id: string; sha256: string | null}): Promise<{path: string; source: TrainingSource}> {
    if (runId) {
      const run = this.store.training.get(runId);
      if (!run) throw notFound(RUN, runId);
      if (run.kind !== 'rm' || run.state !== 'completed' || !run.adapterPath || !existsSync(run.adapterPath))
        throw new AppError('validation', {zh: 'PPO 需要一个已完成的奖励模型训练。', en: 'PPO needs a completed reward-model run.'});
      if (run.modelId !== base.id)
        throw new AppError('validation', {zh: '此奖励模型是在另一个基础模型上训练的，不能用于这次 PPO。', en: 'This reward model was trained on another base model; it cannot guide this PPO run.'});
      return {path: run.adapterPath, source: {type: 'reward-model', runId, name: run.name, path: run.adapterPath, sources: run.sources}};
    }
    if (path) {
      if (!existsSync(path)) throw new AppError('not_found', {zh: `找不到奖励模型文件：${path}`, en: `No reward-model file: ${path}`});
      return {path, source: {type: 'reward-model', runId: null, name: path.split(/[\\/]/).at(-1)!, path, sources: []}};
    }
    throw new AppError('validation', {zh: 'PPO 需要选择一个奖励模型。', en: 'PPO needs a reward model.'});
  }

  /** The reward model's scores of an annotation item's candidates, for an annotator who has saved
   * her ranking of it: after ranking, never before, so the model cannot steer the expert. */
  async scoreAnnotationItem(itemId: string, annotatorId: string, runId: string): Promise<{scores: {index: number; score: number}[]}> {
    const item = this.store.annotation.item(itemId);
    if (!item) throw notFound({zh: '标注条目', en: 'annotation item'}, itemId);
    if (!this.store.annotation.ranking(itemId, annotatorId, 'ranking'))
      throw new AppError('validation', {zh: '请先保存您对这一条的排序，之后才能查看奖励模型的分数。', en: 'Save your ranking of this item first; the reward model\'s scores are shown only after.'});
    const candidates = this.store.annotation.candidates(itemId);
    if (!candidates.length) return {scores: []};
    const turns = [...item.history.map((t) => ({role: t.role, content: t.content})), {role: 'user' as const, content: item.question}];
    const {scores} = await this.score({runId, items: candidates.map((c) => ({turns, answer: c.text}))});
    return {scores: candidates.map((c, i) => ({index: c.index, score: scores[i]!}))};
  }

  /** The result adapter becomes the best checkpoint or the last step's adapter: the file at the
   * run's output path is replaced (atomically) and registered again, so a consultation or an
   * evaluation that picks the run's adapter gets the chosen one. */
  async useResult(id: string, step: 'best' | 'last'): Promise<TrainingRun> {
    const run = this.store.training.get(id);
    if (!run) throw notFound(RUN, id);
    const dir = new RunDir(run.runDir);
    const source = step === 'last' ? dir.lastAdapterPath : dir.bestAdapterPath;
    if (run.state !== 'completed' || !run.adapterPath || !existsSync(source))
      throw new AppError('validation', {zh: '这次训练没有可以切换的检查点（最佳即最后一步，或训练未完成）。', en: 'This run has no other checkpoint to switch to (its best is its last step, or it has not completed).'});
    if (run.resultStep === step) return this.get(id);
    const tmp = `${run.adapterPath}.tmp-${process.pid}`;
    copyFileSync(source, tmp);
    renameSync(tmp, run.adapterPath);
    if (run.adapterModelId) {
      try {
        this.models.remove(run.adapterModelId);
      } catch {
        // already removed by the user: register anew
      }
    }
    const changes: Parameters<typeof this.store.training.update>[1] = {resultStep: step};
    if (run.kind !== 'rm') changes.adapterModelId = (await this.models.add({path: run.adapterPath, name: `${run.name} (LoRA${step === 'last' ? ', last step' : ''})`})).id;
    this.store.training.update(id, changes);
    this.emitState(id);
    return this.get(id);
  }

  /** Every event of a run's job as it happens (the CLI prints them); returns an unsubscribe. */
  onJobEvent(id: string, listener: (event: TrainEvent) => void): () => void {
    const set = this.jobListeners.get(id) ?? new Set();
    set.add(listener);
    this.jobListeners.set(id, set);
    return () => set.delete(listener);
  }

  /** Resolves when the run's job process ends (at once when none is running). */
  async finished(id: string): Promise<JobResult | null> {
    const running = this.jobs.get(id);
    if (!running) return null;
    const result = await running.job.done;
    await running.settled;
    return result;
  }

  /** Scores answers with a completed reward-model run, in a job process of its own. */
  async score(input: MethodInput<'training.score'>): Promise<{scores: number[]}> {
    const run = this.store.training.get(input.runId);
    if (!run) throw notFound(RUN, input.runId);
    if (run.kind !== 'rm' || run.state !== 'completed' || !run.adapterPath)
      throw new AppError('validation', {zh: '只有已完成的奖励模型训练才能用于打分。', en: 'Only a completed reward-model run can score answers.'});
    const model = run.modelId ? this.models.get(run.modelId) : null;
    if (!model || model.missing) throw new AppError('model_missing', {zh: '奖励模型所基于的基础模型已不存在。', en: 'The base model of this reward model is gone.'});
    const scores = await scoreInJob({model: model.path, rewardModel: run.adapterPath, items: input.items, threads: this.threads, nCtx: run.config.maxSequenceLength}, this.runsDir);
    return {scores};
  }

  pause(id: string): {pausing: boolean} {
    const running = this.jobs.get(id);
    running?.job.stop();
    return {pausing: running !== undefined};
  }

  resume(id: string, options: {finish?: boolean} = {}): TrainingRunSummary {
    const run = this.store.training.get(id);
    if (!run) throw notFound(RUN, id);
    if (this.jobs.has(id)) return summaryOf(run);
    if (run.state === 'completed' || run.state === 'cancelled')
      throw new AppError('validation', {zh: '此训练已结束，不能继续。', en: 'This run has ended and cannot be resumed.'});
    this.refuseSecondRun();
    const job = startTrainingJob({runsDir: this.runsDir, resume: id, ...(options.finish ? {finish: true} : {})});
    this.store.training.update(id, {state: 'queued', error: null, finished: false});
    this.follow(id, job);
    return summaryOf(this.store.training.get(id)!);
  }

  finish(id: string): TrainingRunSummary {
    const run = this.store.training.get(id);
    if (!run) throw notFound(RUN, id);
    if (run.state === 'completed' || run.state === 'cancelled')
      throw new AppError('validation', {zh: '此训练已结束，没有可以提前结束的步骤。', en: 'This run has ended; there is nothing to finish early.'});
    const running = this.jobs.get(id);
    if (running) {
      running.job.finish();
      return summaryOf(run);
    }
    // a paused (or failed) run goes on for one step from its checkpoint and ends there with its result
    return this.resume(id, {finish: true});
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

  /** A run's name as given, or with " (2)", " (3)" … when another run has it: the name labels the
   * run's adapter in every picker (start from, compare, consultation), where two alike cannot be
   * told apart. */
  private unusedRunName(name: string): string {
    const taken = new Set(this.store.training.list().map((run) => run.name));
    if (!taken.has(name)) return name;
    let n = 2;
    while (taken.has(`${name} (${n})`)) n++;
    return `${name} (${n})`;
  }

  /** One run at a time: each takes every core (or the GPU) it is given, so two at once each go at
   * a small fraction of one run's speed (seen on 2 cores: two SFT runs at steps 17 and 13 after
   * ~50 s, where one alone makes ~15 steps/s) and could together run out of memory. */
  private refuseSecondRun(): void {
    const [runningId] = this.jobs.keys();
    if (runningId === undefined) return;
    const name = this.store.training.get(runningId)?.name ?? runningId;
    throw new AppError('busy', {
      zh: `训练“${name}”正在进行。一次只运行一个训练（它占用全部 CPU 核心或 GPU）：请等它完成，或先暂停它。`,
      en: `The run "${name}" is in progress. One run trains at a time (it uses every CPU core or the GPU): wait for it to finish, or pause it first.`,
    });
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
    let settle = () => {};
    const entry = {job, cancelling: false, started: 0, startStep: null as number | null, totalSteps: 0, settled: new Promise<void>((r) => (settle = r))};
    this.jobs.set(id, entry);
    job.onEvent((event: TrainEvent) => {
      for (const listener of this.jobListeners.get(id) ?? []) listener(event);
      if (event.type === 'started') {
        // the ETA's clock starts at the first step (below): data preparation and the first step's
        // graph building and allocation are not what every later step costs
        entry.startStep = null;
        entry.totalSteps = event.totalSteps;
        this.storage.write(`training:${id}:started`, () =>
          this.store.db.transaction(() => {
            if (event.resumedFrom !== null) this.store.training.truncateMetrics(id, event.resumedFrom);
            this.store.training.update(id, {state: 'running', totalSteps: event.totalSteps, step: event.resumedFrom ?? 0});
          })(),
        );
        this.emitState(id);
      } else if (event.type === 'step') {
        const memoryBytes = residentBytes(job.pid);
        const metric = {step: event.step, loss: event.loss, evalLoss: null, learningRate: event.lr, tokensPerSecond: event.tokensPerS, gradNorm: event.gradNorm, memoryBytes, values: event.values ?? {}, at: new Date().toISOString()};
        // the run directory's metrics.jsonl is the record; the store indexes it for the screen
        this.storage.write(`training:${id}:step:${event.step}`, () =>
          this.store.db.transaction(() => {
            this.store.training.recordMetric(id, metric);
            this.store.training.update(id, {step: event.step, lastLoss: event.loss});
          })(),
        );
        // time per step since this job's first step (checks and checkpoints included, as they recur)
        if (entry.startStep === null) {
          entry.startStep = event.step;
          entry.started = performance.now();
        }
        const total = entry.totalSteps;
        const seconds = (performance.now() - entry.started) / 1000;
        const done = event.step - entry.startStep;
        this.bus.emit({type: 'training.metric', runId: id, metric, etaSeconds: done > 0 && total > event.step ? ((total - event.step) * seconds) / done : null});
      } else if (event.type === 'eval') {
        const written = this.storage.write(`training:${id}:eval:${event.step}`, () =>
          this.store.db.transaction(() => {
            this.store.training.recordMetric(id, {step: event.step, evalLoss: event.evalLoss, values: event.values ?? {}});
            this.store.training.update(id, {lastEvalLoss: event.evalLoss});
          })(),
        );
        const metric = written ? this.store.training.metrics(id).find((m) => m.step === event.step) : undefined;
        if (metric) this.bus.emit({type: 'training.metric', runId: id, metric, etaSeconds: null});
      }
    });
    void job.done.then(async (result) => {
      this.jobs.delete(id);
      if (result.status === 'completed' && result.record?.result) {
        const adapterPath = result.record.result.out;
        this.storage.write(`training:${id}:end`, () => this.store.training.update(id, {state: 'completed', adapterPath, finished: true, error: null}));
        try {
          const run = this.store.training.get(id)!;
          // a reward model is not a chat adapter: it is used through training.score, not registered
          if (run.kind !== 'rm') {
            const adapter = await this.models.add({path: adapterPath, name: `${run.name} (LoRA)`});
            this.store.training.update(id, {adapterModelId: adapter.id});
          }
        } catch (error) {
          const problem = {zh: `适配器已生成，但无法登记：${(error as Error).message}`, en: `The adapter was written but could not be registered: ${(error as Error).message}`};
          this.storage.write(`training:${id}:register`, () => this.store.training.update(id, {error: problem}));
        }
      } else if (entry.cancelling) {
        this.storage.write(`training:${id}:end`, () => this.store.training.update(id, {state: 'cancelled', finished: true}));
      } else if (result.status === 'interrupted') {
        this.storage.write(`training:${id}:end`, () => this.store.training.update(id, {state: 'paused'}));
      } else {
        const message = result.error ?? 'unknown';
        // a data problem the objective explained in both languages is shown as it is
        const localised = parseLocalised(message);
        const failed = {state: 'failed' as const, error: localised ?? failureText(message, this.store.training.get(id)?.config)};
        this.storage.write(`training:${id}:end`, () => this.store.training.update(id, failed));
      }
      this.emitState(id);
      settle();
    });
  }
}

/** Why a run's process failed, in both languages; running out of memory says what to change. */
function failureText(message: string, config: TrainingConfig | undefined): {zh: string; en: string} {
  if (/out of memory/i.test(message)) {
    const checkpointing = config?.gradientCheckpointing === 1;
    return {
      zh: `训练内存不足（可从最近的检查点继续）。请缩短“最长序列”、减少“每批序列数”（用梯度累积补足）${checkpointing ? '' : '，或在高级设置中打开“梯度检查点”'}，然后重新开始。详情：${message}`,
      en: `Training ran out of memory (it can resume from its last checkpoint). Shorten the maximum sequence length or use fewer sequences per micro-batch (gradient accumulation makes up for it)${checkpointing ? '' : ', or turn on gradient checkpointing under Advanced'}, then start again. Details: ${message}`,
    };
  }
  return {zh: `训练进程失败（可从最近的检查点继续）：${message}`, en: `The training process failed (it can resume from its last checkpoint): ${message}`};
}

function summaryOf(run: RunIndex): TrainingRunSummary {
  const {runDir: _dir, config: _config, datasets: _datasets, adapterPath: _adapter, error: _error, sources: _sources, initAdapter: _init, ...summary} = run;
  return summary;
}

/** PPO's held-out samples; a check repeated after a resume replaces the earlier lines of its step. */
function readSamples(runDir: string): RolloutSample[] {
  const path = join(runDir, 'samples.jsonl');
  if (!existsSync(path)) return [];
  const byKey = new Map<string, RolloutSample>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    try {
      const sample = JSON.parse(line) as RolloutSample;
      byKey.set(`${sample.step}\u0000${sample.prompt}`, sample);
    } catch {
      // a line cut by a kill mid-write
    }
  }
  return [...byKey.values()].sort((a, b) => a.step - b.step);
}

function parseLocalised(message: string): {zh: string; en: string} | null {
  try {
    const value = JSON.parse(message) as {zh?: unknown; en?: unknown};
    return typeof value.zh === 'string' && typeof value.en === 'string' ? {zh: value.zh, en: value.en} : null;
  } catch {
    return null;
  }
}

function readRecord(runDir: string): RunRecord | null {
  try {
    return JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8')) as RunRecord;
  } catch {
    return null;
  }
}
