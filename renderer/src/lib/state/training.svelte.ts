// The Training screen's state: whether this machine can train at all, the run history, the one
// run open in full with its curves growing live, and where inside the screen we are. The place
// lives in the URL hash after `#/training` (…/new, …/run/<id>), like the other screens, so reload
// and back/forward keep it and a test can open a run by address.
//
// Live curves: `training.metric` events carry one step each and race the `training.get` that
// reads the run's record (over HTTP they even travel on different connections), so metrics that
// arrive while the record is being read are held and merged in by step afterwards. The open run
// is `$state.raw` and replaced on every change: a run can have thousands of metric records, and
// the charts recompute from the whole list anyway, so proxying each record would only cost.
import type {ApiEvent, MethodInput, TrainingPreset} from '../../../../main/common/contract';
import type {TrainingCapabilities, TrainingConfig, TrainingKind, TrainingMetric, TrainingRun, TrainingRunSummary} from '../../../../main/common/training';
import {t, ui} from '../lang.svelte';
import {mergeMetric} from '../training';
import {app} from './app.svelte';
import {chat} from './chat.svelte';
import {api} from './client';
import {consultations} from './consultations.svelte';
import {EventOrder} from './event-order';
import {toasts} from './toasts.svelte';

export type TrainingRoute = {view: 'list'} | {view: 'new'} | {view: 'run'; id: string};

/** What "以此配置新建" carries into the form. */
export interface RunTemplate {
  kind: TrainingKind;
  modelId: string | null;
  name: string;
  datasets: {datasetId: string; version: number}[];
  annotationProjects: string[];
  initAdapterModelId: string | null;
  rewardRunId: string | null;
  config: TrainingConfig;
}

function routeFromHash(): TrainingRoute {
  const [screen, view, id] = window.location.hash.replace(/^#\/?/, '').split('/');
  if (screen !== 'training') return {view: 'list'};
  if (view === 'new') return {view: 'new'};
  if (view === 'run' && id) return {view: 'run', id: decodeURIComponent(id)};
  return {view: 'list'};
}

function hashOf(route: TrainingRoute): string {
  if (route.view === 'run') return `#/training/run/${encodeURIComponent(route.id)}`;
  return route.view === 'new' ? '#/training/new' : '#/training';
}

const usableLoss = (metric: TrainingMetric): boolean => metric.step > 0 && Number.isFinite(metric.loss);

class TrainingState {
  capabilities = $state<TrainingCapabilities | null>(null);
  /** reading the capabilities failed: treated as unavailable, with this error as the reason */
  capabilitiesError = $state<unknown>(null);
  runs = $state<TrainingRunSummary[]>([]);
  loaded = $state(false);
  error = $state<unknown>(null);
  route = $state<TrainingRoute>(routeFromHash());
  current = $state.raw<TrainingRun | null>(null);
  /** id being opened, for the loading state */
  opening = $state<string | null>(null);
  openError = $state<unknown>(null);
  /** the latest time-left estimate per run, from its metric events */
  eta = $state<Record<string, number | null>>({});
  /** runs asked to pause that have not stopped yet (they finish the step and checkpoint first) */
  pausing = $state<Record<string, boolean>>({});
  /** runs asked to finish now that have not ended yet */
  finishing = $state<Record<string, boolean>>({});
  template = $state.raw<RunTemplate | null>(null);

  available = $derived(this.capabilities?.available === true);

  private seq = 0;
  private openSeq = 0;
  private pending: TrainingMetric[] = [];
  private reloadTimer: ReturnType<typeof setTimeout> | null = null;
  /** a run that fails or finishes at once may say so by event before start's reply arrives */
  private readonly order = new EventOrder();

  constructor() {
    window.addEventListener('hashchange', () => (this.route = routeFromHash()));
  }

  go(route: TrainingRoute): void {
    this.route = route;
    const hash = hashOf(route);
    if (window.location.hash !== hash) window.location.hash = hash;
  }

  /** Capabilities and history are read independently: a failing one must not hide the other. */
  async refresh(): Promise<void> {
    const seq = ++this.seq;
    const [capabilities, runs] = await Promise.allSettled([api('training.capabilities', {}), api('training.list', {})]);
    if (seq !== this.seq) return;
    if (capabilities.status === 'fulfilled') {
      this.capabilities = capabilities.value;
      this.capabilitiesError = null;
    } else this.capabilitiesError = capabilities.reason;
    if (runs.status === 'fulfilled') {
      this.runs = runs.value;
      this.error = null;
      this.loaded = true;
    } else this.error = runs.reason;
  }

  async open(id: string): Promise<void> {
    const seq = ++this.openSeq;
    if (this.current?.id !== id) this.current = null;
    this.pending = [];
    this.opening = id;
    this.openError = null;
    try {
      const run = await api('training.get', {id});
      if (seq === this.openSeq) this.adopt(run);
    } catch (error) {
      if (seq === this.openSeq) this.openError = error;
    } finally {
      if (seq === this.openSeq) this.opening = null;
    }
  }

  /** Re-reads the open run (a new checkpoint, the error of a failure, the adapter at the end). */
  scheduleReload(ms = 300): void {
    if (this.reloadTimer) clearTimeout(this.reloadTimer);
    this.reloadTimer = setTimeout(() => {
      this.reloadTimer = null;
      void this.reload();
    }, ms);
  }

  async reload(): Promise<void> {
    const id = this.current?.id;
    if (!id) return;
    try {
      const run = await api('training.get', {id});
      if (this.current?.id === id) this.adopt(run);
    } catch {
      // The view keeps what it has; the next event or resync tries again.
    }
  }

  resync(): void {
    void this.refresh();
    if (this.current) void this.reload();
  }

  onMetric(event: Extract<ApiEvent, {type: 'training.metric'}>): void {
    const {runId, metric} = event;
    // an evaluation's event carries no estimate: keep the one of the step before it
    if (event.etaSeconds !== null || metric.evalLoss === null) this.eta[runId] = event.etaSeconds;
    const summary = this.runs.find((run) => run.id === runId);
    if (summary) Object.assign(summary, progressOf(summary, metric));
    const current = this.current;
    if (current?.id === runId) {
      const metrics = [...current.metrics];
      mergeMetric(metrics, metric);
      this.current = {...current, ...progressOf(current, metric), metrics};
      // a checkpoint was due at this step: re-read so the checkpoint list shows it
      const every = current.config.checkpointEvery;
      if (every > 0 && metric.step > 0 && metric.step % every === 0) this.scheduleReload(1000);
    } else if (this.opening === runId) {
      this.pending.push(metric);
    }
  }

  /** a `training.state` event */
  onState(run: TrainingRunSummary): void {
    this.order.saw(run.id);
    this.applyState(run);
  }

  /** The summary a start/resume/cancel request answered with, unless an event overtook it. */
  private applyReply(run: TrainingRunSummary, mark: number): void {
    if (!this.order.isStale(run.id, mark)) this.applyState(run);
  }

  private applyState(run: TrainingRunSummary): void {
    const index = this.runs.findIndex((known) => known.id === run.id);
    if (index < 0) this.runs = [run, ...this.runs];
    else this.runs[index] = run;
    if (run.state !== 'running') {
      delete this.eta[run.id];
      delete this.pausing[run.id];
    }
    // a paused run asked to finish passes through queued: only an end clears the flag
    if (run.state === 'completed' || run.state === 'failed' || run.state === 'cancelled') delete this.finishing[run.id];
    const current = this.current;
    if (current?.id !== run.id) return;
    let metrics = current.metrics;
    // Resuming a failed run re-does the steps after its last checkpoint: drop their old points
    // so the curve does not fold back on itself (the service truncates its record the same way).
    if (current.state === 'failed' && run.state !== 'failed') {
      const from = Math.max(0, ...current.checkpoints.map((checkpoint) => checkpoint.step));
      metrics = metrics.filter((metric) => metric.step <= from);
    }
    this.current = {...current, ...run, metrics};
    if (current.state !== run.state) this.scheduleReload(0);
  }

  async start(input: MethodInput<'training.start'>): Promise<TrainingRunSummary> {
    const mark = this.order.mark();
    const summary = await api('training.start', input);
    this.applyReply(summary, mark);
    toasts.show(() => t('trStarted', {name: summary.name}));
    this.go({view: 'run', id: summary.id});
    return summary;
  }

  async pause(id: string): Promise<void> {
    const {pausing} = await api('training.pause', {id});
    if (pausing) this.pausing[id] = true;
  }

  async resume(id: string): Promise<void> {
    const mark = this.order.mark();
    this.applyReply(await api('training.resume', {id}), mark);
  }

  /** End after the current step, keeping the result; the state event says when it is done. */
  async finish(id: string): Promise<void> {
    const mark = this.order.mark();
    this.applyReply(await api('training.finish', {id}), mark);
    this.finishing[id] = true;
  }

  async cancel(id: string): Promise<void> {
    const mark = this.order.mark();
    this.applyReply(await api('training.cancel', {id}), mark);
  }

  /** Keep the best checkpoint as the result, or the last step's adapter instead. */
  async useResult(id: string, step: 'best' | 'last'): Promise<void> {
    const run = await api('training.useResult', {id, step});
    if (this.current?.id === id) this.adopt(run);
    await app.reloadModels();
  }

  /** A new consultation with the run's base model and its adapter, opened on the consultation
   * screen. The adapter is added by an update because `consultations.create` takes no adapters. */
  async tryInConsultation(run: TrainingRun): Promise<void> {
    if (!run.modelId || !run.adapterModelId) return;
    const title = t('trTryTitle', {name: run.name}).slice(0, 200);
    const created = await api('consultations.create', {modelId: run.modelId, title, language: ui.language});
    const updated = await api('consultations.update', {id: created.id, adapterIds: [run.adapterModelId]});
    // the adapter must be among the known models for the consultation's adapter picker to show it
    await app.reloadModels();
    chat.show(updated);
    consultations.query = ''; // the new consultation must be visible, whatever was searched
    void consultations.refresh();
    app.go('consultation');
  }

  newRunFrom(run: TrainingRun): void {
    this.template = {
      kind: run.kind,
      modelId: run.modelId,
      name: run.name,
      datasets: run.datasets.map((ref) => ({datasetId: ref.datasetId, version: ref.version})),
      annotationProjects: run.sources.flatMap((s) => (s.type === 'annotation' ? [s.projectId] : [])),
      rewardRunId: run.sources.flatMap((s) => (s.type === 'reward-model' && s.runId ? [s.runId] : []))[0] ?? null,
      initAdapterModelId: run.initAdapter ? (app.adapterModels.find((m) => m.path === run.initAdapter!.path)?.id ?? null) : null,
      config: run.config,
    };
    this.go({view: 'new'});
  }

  /** Saves the form as a named preset in the settings (one of the same name is replaced). */
  async savePreset(preset: TrainingPreset): Promise<void> {
    const others = (app.settings?.trainingPresets ?? []).filter((known) => known.name !== preset.name);
    app.applySettings(await api('settings.update', {trainingPresets: [...others, preset]}));
  }

  async deletePreset(name: string): Promise<void> {
    const rest = (app.settings?.trainingPresets ?? []).filter((known) => known.name !== name);
    app.applySettings(await api('settings.update', {trainingPresets: rest}));
  }

  /** The form takes the template once; a later "新建训练" starts from the defaults again. */
  takeTemplate(): RunTemplate | null {
    const template = this.template;
    this.template = null;
    return template;
  }

  private adopt(run: TrainingRun): void {
    // metrics that arrived while the record was read and are newer than it
    const held = this.current?.id === run.id ? this.current.metrics : this.pending;
    const last = run.metrics.at(-1)?.step ?? -1;
    const metrics = [...run.metrics];
    for (const metric of held) if (metric.step > last) mergeMetric(metrics, metric);
    this.pending = [];
    this.current = {...run, metrics};
    const index = this.runs.findIndex((known) => known.id === run.id);
    if (index >= 0) this.runs[index] = summaryOf(this.current);
  }
}

/** The summary fields a metric moves: step and the latest losses. A training record sets the step
 * (a resumed run goes back to its checkpoint); an evaluation-only record never moves it back. */
function progressOf(run: TrainingRunSummary, metric: TrainingMetric): Pick<TrainingRunSummary, 'step' | 'lastLoss' | 'lastEvalLoss'> {
  return {
    step: usableLoss(metric) ? metric.step : Math.max(run.step, metric.step),
    lastLoss: usableLoss(metric) ? metric.loss : run.lastLoss,
    lastEvalLoss: metric.evalLoss ?? run.lastEvalLoss,
  };
}

function summaryOf(run: TrainingRun): TrainingRunSummary {
  const {id, kind, name, modelId, modelName, state, step, totalSteps, lastLoss, lastEvalLoss, createdAt, finishedAt, adapterModelId} = run;
  return {id, kind, name, modelId, modelName, state, step, totalSteps, lastLoss, lastEvalLoss, createdAt, finishedAt, adapterModelId};
}

export const training = new TrainingState();
