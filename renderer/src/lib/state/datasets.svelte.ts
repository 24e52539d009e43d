// The Datasets screen: the list of datasets, and where inside the screen we are. The place lives
// in the URL hash after `#/datasets` (…/import, …/mix, …/view/<id>/<tab>), like the screens
// themselves, so reload and back/forward keep it and a test can open a dataset by address.
import type {DatasetSummary} from '../../../../main/common/datasets';
import {t} from '../lang.svelte';
import {api} from './client';
import {datasetView} from './dataset-view.svelte';
import {toasts} from './toasts.svelte';

export type DatasetTab = 'overview' | 'rows' | 'review' | 'export';
export const DATASET_TABS: readonly DatasetTab[] = ['overview', 'rows', 'review', 'export'];

export type DatasetRoute = {view: 'list'} | {view: 'import'} | {view: 'mix'} | {view: 'dataset'; id: string; tab: DatasetTab};

function routeFromHash(): DatasetRoute {
  const [screen, view, id, tab] = window.location.hash.replace(/^#\/?/, '').split('/');
  if (screen !== 'datasets') return {view: 'list'};
  if (view === 'import') return {view: 'import'};
  if (view === 'mix') return {view: 'mix'};
  if (view === 'view' && id) {
    const known = (DATASET_TABS as readonly string[]).includes(tab ?? '');
    return {view: 'dataset', id: decodeURIComponent(id), tab: known ? (tab as DatasetTab) : 'overview'};
  }
  return {view: 'list'};
}

function hashOf(route: DatasetRoute): string {
  if (route.view === 'dataset') return `#/datasets/view/${encodeURIComponent(route.id)}/${route.tab}`;
  return route.view === 'list' ? '#/datasets' : `#/datasets/${route.view}`;
}

class Datasets {
  items = $state<DatasetSummary[]>([]);
  loaded = $state(false);
  error = $state<unknown>(null);
  route = $state<DatasetRoute>(routeFromHash());

  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  constructor() {
    window.addEventListener('hashchange', () => (this.route = routeFromHash()));
  }

  go(route: DatasetRoute): void {
    this.route = route;
    const hash = hashOf(route);
    if (window.location.hash !== hash) window.location.hash = hash;
  }

  open(id: string, tab: DatasetTab = 'overview'): void {
    this.go({view: 'dataset', id, tab});
  }

  async refresh(): Promise<void> {
    const seq = ++this.seq;
    try {
      const items = await api('datasets.list', {});
      if (seq !== this.seq) return;
      this.items = items;
      this.error = null;
      this.loaded = true;
    } catch (error) {
      if (seq === this.seq) this.error = error;
    }
  }

  /** An import or a review sends a burst of change events; one re-read is enough. */
  scheduleRefresh(ms = 250): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, ms);
  }

  onChanged(id: string): void {
    this.scheduleRefresh();
    datasetView.onChanged(id);
  }

  /** Deleting cannot be undone (the services keep no soft copy), so the row asks first. */
  async remove(summary: DatasetSummary): Promise<void> {
    await api('datasets.delete', {id: summary.id});
    this.items = this.items.filter((item) => item.id !== summary.id);
    if (this.route.view === 'dataset' && this.route.id === summary.id) this.go({view: 'list'});
    toasts.show(() => t('dsDeleted', {name: summary.name}));
  }

  /** Puts a dataset the services just returned (a mix, a rename) into the list at once. */
  upsert(summary: DatasetSummary): void {
    const index = this.items.findIndex((item) => item.id === summary.id);
    if (index < 0) this.items = [summary, ...this.items];
    else this.items[index] = summary;
  }
}

export const datasets = new Datasets();
