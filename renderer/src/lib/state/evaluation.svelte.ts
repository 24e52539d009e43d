// The Evaluation screen's shared state: the runs, each run's background pass (answers or judge)
// as it progresses, and where inside the screen we are — in the URL hash after `#/evaluation`
// (…/new, …/run/<id>/<tab>) like the other screens, so reload and back/forward keep the place.
import type {ApiEvent} from '../../../../main/common/contract';
import type {EvalRunSummary} from '../../../../main/common/evaluation-views';
import type {LocalisedText} from '../../../../main/common/errors';
import {api} from './client';

export type RunTab = 'progress' | 'answers' | 'blind' | 'report';
export const RUN_TABS: readonly RunTab[] = ['progress', 'answers', 'blind', 'report'];
export type EvalRoute = {view: 'list'} | {view: 'new'} | {view: 'run'; id: string; tab: RunTab};

export interface PassState {
  phase: 'answers' | 'judge';
  done: number;
  total: number;
  etaSeconds: number | null;
  finished: boolean;
  error: LocalisedText | null;
  warning: LocalisedText | null;
}

function routeFromHash(): EvalRoute {
  const [screen, view, id, tab] = window.location.hash.replace(/^#\/?/, '').split('/');
  if (screen !== 'evaluation') return {view: 'list'};
  if (view === 'new') return {view: 'new'};
  if (view === 'run' && id) return {view: 'run', id: decodeURIComponent(id), tab: (RUN_TABS as readonly string[]).includes(tab ?? '') ? (tab as RunTab) : 'progress'};
  return {view: 'list'};
}

function hashOf(route: EvalRoute): string {
  if (route.view === 'run') return `#/evaluation/run/${encodeURIComponent(route.id)}/${route.tab}`;
  return route.view === 'new' ? '#/evaluation/new' : '#/evaluation';
}

class EvaluationState {
  runs = $state<EvalRunSummary[]>([]);
  loaded = $state(false);
  error = $state<unknown>(null);
  route = $state<EvalRoute>(routeFromHash());
  passes = $state<Record<string, PassState>>({});
  /** bumped per run after its data changed, so open views (report, blind pair) read again */
  changes = $state<Record<string, number>>({});
  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    window.addEventListener('hashchange', () => (this.route = routeFromHash()));
  }

  go(route: EvalRoute): void {
    this.route = route;
    const hash = hashOf(route);
    if (window.location.hash !== hash) window.location.hash = hash;
  }

  run(id: string): EvalRunSummary | null {
    return this.runs.find((r) => r.id === id) ?? null;
  }

  async refresh(): Promise<void> {
    const seq = ++this.seq;
    try {
      const runs = await api('eval.list', {});
      if (seq !== this.seq) return;
      this.runs = runs;
      this.error = null;
      this.loaded = true;
    } catch (error) {
      if (seq === this.seq) this.error = error;
    }
  }

  /** Passes send a burst of events; one re-read per burst is enough. */
  private scheduleRefresh(runId: string): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh().then(() => (this.changes[runId] = (this.changes[runId] ?? 0) + 1));
    }, 300);
  }

  onEvent(event: ApiEvent): void {
    if (event.type === 'eval.changed') this.scheduleRefresh(event.runId);
    else if (event.type === 'eval.progress') {
      this.passes[event.runId] = {phase: event.phase, done: event.done, total: event.total, etaSeconds: event.etaSeconds, finished: event.finished, error: event.error, warning: event.warning};
      if (event.finished) this.scheduleRefresh(event.runId);
    }
  }
}

export const evaluation = new EvaluationState();
