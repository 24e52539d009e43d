// The Annotation screen's shared state: who is annotating (remembered on this computer), the
// annotators and projects, candidate generation as it runs, and where inside the screen we are.
// The place lives in the URL hash after `#/annotation` (…/new, …/project/<id>/<tab>), like the
// other screens, so reload and back/forward keep it and a test can open a project by address.
import type {ApiEvent, MethodInput} from '../../../../main/common/contract';
import type {AnnotationProjectSummary, Annotator} from '../../../../main/common/annotation-views';
import type {LocalisedText} from '../../../../main/common/errors';
import {MARK_SCOPES, type MarkScope} from '../../../../main/common/annotation';
import {t} from '../lang.svelte';
import {api} from './client';
import {EventOrder} from './event-order';
import {toasts} from './toasts.svelte';

export type ProjectTab = 'rank' | 'adjudicate' | 'dashboard' | 'export';
export const PROJECT_TABS: readonly ProjectTab[] = ['rank', 'adjudicate', 'dashboard', 'export'];

export type AnnotationRoute = {view: 'list'} | {view: 'new'} | {view: 'project'; id: string; tab: ProjectTab};

/** Per computer, not per account: the app has no login, and a shared workstation is passed from
 * one expert to the next, each picking their own name. */
const STORAGE_KEY = 'zhongjing.annotation.annotatorId';
/** Whether the nine ability marks are shown under each answer: some experts mark every answer,
 * others only rank; each keeps their way of working. */
const MARKS_KEY = 'zhongjing.annotation.showMarks';
/** How much of the rubric this computer's annotator marks (main/common/annotation.ts, MarkScope). */
const SCOPE_KEY = 'zhongjing.annotation.markScope';

export interface GenerationState {
  running: boolean;
  done: number;
  total: number;
  tokensPerSecond: number;
  etaSeconds: number | null;
  /** the run ended because cancel was asked for */
  cancelled: boolean;
  error: LocalisedText | null;
  /** the run ended (done, cancelled or failed) since this page loaded */
  finished: boolean;
}

function routeFromHash(): AnnotationRoute {
  const [screen, view, id, tab] = window.location.hash.replace(/^#\/?/, '').split('/');
  if (screen !== 'annotation') return {view: 'list'};
  if (view === 'new') return {view: 'new'};
  if (view === 'project' && id) {
    const known = (PROJECT_TABS as readonly string[]).includes(tab ?? '');
    return {view: 'project', id: decodeURIComponent(id), tab: known ? (tab as ProjectTab) : 'rank'};
  }
  return {view: 'list'};
}

function hashOf(route: AnnotationRoute): string {
  if (route.view === 'project') return `#/annotation/project/${encodeURIComponent(route.id)}/${route.tab}`;
  return route.view === 'new' ? '#/annotation/new' : '#/annotation';
}

function readStored(key: string): string | null {
  try {
    return window.localStorage.getItem(key);
  } catch {
    return null; // storage disabled: the choice still holds for this page's life
  }
}

function store(key: string, value: string | null): void {
  try {
    if (value === null) window.localStorage.removeItem(key);
    else window.localStorage.setItem(key, value);
  } catch {
    // remembered for this page only
  }
}

class AnnotationState {
  annotators = $state<Annotator[]>([]);
  projects = $state<AnnotationProjectSummary[]>([]);
  loaded = $state(false);
  error = $state<unknown>(null);
  route = $state<AnnotationRoute>(routeFromHash());
  currentId = $state<string | null>(readStored(STORAGE_KEY));
  showMarks = $state(readStored(MARKS_KEY) !== 'false');
  /** the paper's full rubric unless the annotator chose to mark less */
  markScope = $state<MarkScope>(((stored) => (MARK_SCOPES as readonly string[]).includes(stored ?? '') ? (stored as MarkScope) : 'all')(readStored(SCOPE_KEY)));
  generation = $state<Record<string, GenerationState>>({});
  /** bumped per project after its data changed, so open views (dashboard, queue) read again */
  changes = $state<Record<string, number>>({});

  current = $derived(this.annotators.find((a) => a.id === this.currentId) ?? null);

  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private changed = new Set<string>();
  private cancelAsked = new Set<string>();
  private readonly order = new EventOrder();

  constructor() {
    window.addEventListener('hashchange', () => (this.route = routeFromHash()));
  }

  go(route: AnnotationRoute): void {
    this.route = route;
    const hash = hashOf(route);
    if (window.location.hash !== hash) window.location.hash = hash;
  }

  open(id: string, tab: ProjectTab = 'rank'): void {
    this.go({view: 'project', id, tab});
  }

  project(id: string): AnnotationProjectSummary | null {
    return this.projects.find((p) => p.id === id) ?? null;
  }

  async refresh(): Promise<void> {
    const seq = ++this.seq;
    try {
      const [annotators, projects] = await Promise.all([api('annotators.list', {}), api('annotation.projects', {})]);
      if (seq !== this.seq) return;
      this.annotators = annotators;
      this.projects = projects;
      this.error = null;
      this.loaded = true;
    } catch (error) {
      if (seq === this.seq) this.error = error;
    }
  }

  /** Generation and saving send bursts of change events; one re-read per burst is enough. */
  scheduleRefresh(ms = 300): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      const changed = [...this.changed];
      this.changed.clear();
      void this.refresh().then(() => {
        for (const id of changed) this.changes[id] = (this.changes[id] ?? 0) + 1;
      });
    }, ms);
  }

  onChanged(projectId: string): void {
    this.changed.add(projectId);
    this.scheduleRefresh();
  }

  onProgress(event: Extract<ApiEvent, {type: 'annotation.progress'}>): void {
    this.order.saw(event.projectId);
    const cancelled = event.finished && this.cancelAsked.has(event.projectId);
    if (event.finished) this.cancelAsked.delete(event.projectId);
    this.generation[event.projectId] = {
      running: !event.finished,
      done: event.done,
      total: event.total,
      tokensPerSecond: event.tokensPerSecond,
      etaSeconds: event.etaSeconds,
      cancelled,
      error: event.error,
      finished: event.finished,
    };
    if (event.finished) this.onChanged(event.projectId);
  }

  selectAnnotator(id: string | null): void {
    this.currentId = id;
    store(STORAGE_KEY, id);
  }

  setShowMarks(on: boolean): void {
    this.showMarks = on;
    store(MARKS_KEY, String(on));
  }

  setMarkScope(scope: MarkScope): void {
    this.markScope = scope;
    store(SCOPE_KEY, scope);
  }

  /** A new annotator is usually the person at the keyboard, so they become the current one. */
  async createAnnotator(input: MethodInput<'annotators.create'>): Promise<Annotator> {
    const created = await api('annotators.create', input);
    this.annotators = [...this.annotators.filter((a) => a.id !== created.id), created];
    this.selectAnnotator(created.id);
    return created;
  }

  async createProject(input: MethodInput<'annotation.createProject'>): Promise<AnnotationProjectSummary> {
    const created = await api('annotation.createProject', input);
    this.projects = [created, ...this.projects.filter((p) => p.id !== created.id)];
    this.open(created.id);
    return created;
  }

  /** Deleting cannot be undone (rankings go with the project), so the row asks first. */
  async deleteProject(summary: AnnotationProjectSummary): Promise<void> {
    await api('annotation.deleteProject', {projectId: summary.id});
    this.projects = this.projects.filter((p) => p.id !== summary.id);
    delete this.generation[summary.id];
    if (this.route.view === 'project' && this.route.id === summary.id) this.go({view: 'list'});
    toasts.show(() => t('anProjectDeleted', {name: summary.name}));
  }

  /** The call answers at once; progress arrives as `annotation.progress` (counting candidates,
   * not items). Until the first event the bar is indeterminate (total 0). `started: false` means
   * a run is already going (another window started it), so it is shown as running too. */
  async generate(summary: AnnotationProjectSummary): Promise<boolean> {
    this.cancelAsked.delete(summary.id);
    const mark = this.order.mark();
    const {started} = await api('annotation.generate', {projectId: summary.id});
    // a short run may already have reported its end by event: never turn that back into "running"
    if ((started || summary.ready < summary.items) && !this.order.isStale(summary.id, mark)) {
      const known = this.generation[summary.id];
      if (!known?.running)
        this.generation[summary.id] = {running: true, done: 0, total: 0, tokensPerSecond: 0, etaSeconds: null, cancelled: false, error: null, finished: false};
    }
    return started;
  }

  async cancelGeneration(projectId: string): Promise<void> {
    this.cancelAsked.add(projectId);
    const {cancelled} = await api('annotation.cancelGeneration', {projectId});
    // Nothing was running (it ended meanwhile): no finishing event will come, so stop here.
    if (!cancelled) {
      this.cancelAsked.delete(projectId);
      const known = this.generation[projectId];
      if (known?.running) this.generation[projectId] = {...known, running: false, finished: true};
      this.onChanged(projectId);
    }
  }
}

export const annotation = new AnnotationState();
