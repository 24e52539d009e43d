// One page of a version's rows, with the search and filters that pick them. Made per row browser
// (not a singleton): the filters belong to what is on screen, and start empty on every dataset.
// Any filter change goes back to the first page; bursts (typing) are coalesced into one query.
import type {MethodInput} from '../../../../main/common/contract';
import type {RowKind, StoredRow} from '../../../../main/common/datasets';
import {api} from './client';

export interface RowFilters {
  query: string;
  department: string;
  source: string;
  kind: RowKind | '';
  minTurns: number | null;
  maxTurns: number | null;
  split: 'train' | 'validation' | '';
}

const EMPTY: RowFilters = {query: '', department: '', source: '', kind: '', minTurns: null, maxTurns: null, split: ''};

export const PAGE_SIZE = 20;

export class RowQuery {
  filters = $state<RowFilters>({...EMPTY});
  offset = $state(0);
  total = $state(0);
  rows = $state<StoredRow[]>([]);
  loaded = $state(false);
  loading = $state(false);
  error = $state<unknown>(null);

  page = $derived(Math.floor(this.offset / PAGE_SIZE) + 1);
  pages = $derived(Math.max(1, Math.ceil(this.total / PAGE_SIZE)));
  filtered = $derived(JSON.stringify(this.filters) !== JSON.stringify(EMPTY));

  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  set<K extends keyof RowFilters>(key: K, value: RowFilters[K]): void {
    this.filters[key] = value;
    this.offset = 0;
  }

  clear(): void {
    this.filters = {...EMPTY};
    this.offset = 0;
  }

  goToPage(page: number): void {
    this.offset = Math.max(0, Math.min(this.pages - 1, page - 1)) * PAGE_SIZE;
  }

  /** The call's input for the current filters; reading it inside an $effect tracks them all. */
  request(id: string, version: number): MethodInput<'datasets.rows'> {
    const f = this.filters;
    const input: MethodInput<'datasets.rows'> = {id, version, offset: this.offset, limit: PAGE_SIZE};
    if (f.query.trim()) input.query = f.query.trim();
    if (f.department) input.department = f.department;
    if (f.source) input.source = f.source;
    if (f.kind) input.kind = f.kind;
    if (f.minTurns !== null && Number.isInteger(f.minTurns) && f.minTurns >= 0) input.minTurns = f.minTurns;
    if (f.maxTurns !== null && Number.isInteger(f.maxTurns) && f.maxTurns >= 0) input.maxTurns = f.maxTurns;
    if (f.split) input.split = f.split;
    return input;
  }

  schedule(input: MethodInput<'datasets.rows'>, ms = 200): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.load(input);
    }, ms);
  }

  async load(input: MethodInput<'datasets.rows'>): Promise<void> {
    const seq = ++this.seq;
    this.loading = true;
    try {
      const page = await api('datasets.rows', input);
      if (seq !== this.seq) return; // an older query answering late
      this.rows = page.rows;
      this.total = page.total;
      this.error = null;
      this.loaded = true;
      // Rows deleted from under the last page: step back to a page that exists.
      if (page.rows.length === 0 && page.total > 0 && this.offset >= page.total) this.goToPage(this.pages);
    } catch (error) {
      if (seq === this.seq) this.error = error;
    } finally {
      if (seq === this.seq) this.loading = false;
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.seq += 1;
  }
}
