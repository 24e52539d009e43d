// The dataset open in the viewer: its detail (summary, versions, stats) for the version chosen.
// `revision` goes up on every fresh read, so the row list can re-query after a change made here
// or elsewhere (another window, an edit that created a new version) without knowing why.
import type {DatasetDetail} from '../../../../main/common/contract';
import {api} from './client';

class DatasetView {
  id = $state<string | null>(null);
  /** null = follow the latest version */
  version = $state<number | null>(null);
  detail = $state<DatasetDetail | null>(null);
  error = $state<unknown>(null);
  loading = $state(false);
  revision = $state(0);

  /** Only the latest version can be edited: updateRow/deleteRow name no version. */
  isLatest = $derived(this.detail !== null && this.detail.version.version === this.detail.summary.latest.version);

  private seq = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;

  async open(id: string, version: number | null = null): Promise<void> {
    if (this.id !== id) {
      this.detail = null;
      this.error = null;
    }
    this.id = id;
    this.version = version;
    await this.reload();
  }

  async reload(): Promise<void> {
    const id = this.id;
    if (!id) return;
    const seq = ++this.seq;
    this.loading = true;
    try {
      const detail = await api('datasets.get', this.version === null ? {id} : {id, version: this.version});
      if (seq !== this.seq) return;
      this.detail = detail;
      this.error = null;
      this.revision += 1;
    } catch (error) {
      if (seq === this.seq) this.error = error;
    } finally {
      if (seq === this.seq) this.loading = false;
    }
  }

  /** Switches to a version; `null` follows the latest (what an edit creates). */
  async selectVersion(version: number | null): Promise<void> {
    this.version = version;
    await this.reload();
  }

  onChanged(id: string): void {
    if (id !== this.id) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.reload();
    }, 250);
  }

  /** Only closes `id`: a viewer being replaced must not close the one that replaces it. */
  close(id: string): void {
    if (this.id !== id) return;
    this.seq += 1;
    this.id = null;
    this.detail = null;
    this.error = null;
  }
}

export const datasetView = new DatasetView();
