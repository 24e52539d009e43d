// Model downloads: the list from `models.downloads`, kept current by `download.progress` events.
// Each running download also keeps a short history of its speed for the little curve.
import type {DownloadInfo} from '../../../../main/common/contract';
import {app} from './app.svelte';
import {api} from './client';
import {EventOrder} from './event-order';

export interface DownloadView extends DownloadInfo {
  bytesPerSecond: number | null;
  etaSeconds: number | null;
  /** recent speeds, oldest first (bytes/s) */
  speedHistory: number[];
}

const HISTORY_POINTS = 60;

class Downloads {
  items = $state<DownloadView[]>([]);
  error = $state<unknown>(null);
  private readonly order = new EventOrder();

  async refresh(): Promise<void> {
    try {
      const mark = this.order.mark();
      const list = await api('models.downloads', {});
      // Keep finished ones we saw in this session, so "done" stays visible a while.
      const ids = new Set(list.map((download) => download.id));
      const kept = this.items.filter((item) => !ids.has(item.id) && item.state === 'done');
      const fresh = (download: DownloadInfo) =>
        this.order.isStale(download.id, mark) ? (this.items.find((item) => item.id === download.id) ?? this.merge(download)) : this.merge(download);
      this.items = [...list.map(fresh), ...kept];
      this.error = null;
    } catch (error) {
      this.error = error;
    }
  }

  onProgress(download: DownloadInfo & {bytesPerSecond: number; etaSeconds: number | null}): void {
    this.order.saw(download.id);
    const view = this.merge(download, download.bytesPerSecond, download.etaSeconds);
    const index = this.items.findIndex((item) => item.id === download.id);
    if (index < 0) this.items.unshift(view);
    else this.items[index] = view;
    // A finished download registers a model; the models.changed event normally says so too.
    if (download.state === 'done') void app.reloadModels();
  }

  /** Starts, or resumes when the same source was paused or failed before. */
  async start(source: string, sha256?: string): Promise<void> {
    const mark = this.order.mark();
    const download = await api('models.download', sha256 ? {source, sha256} : {source});
    // a download that failed at once (404) has already said so by event: keep that
    if (this.order.isStale(download.id, mark)) return;
    const index = this.items.findIndex((item) => item.id === download.id);
    const view = this.merge(download);
    if (index < 0) this.items.unshift(view);
    else this.items[index] = view;
  }

  async cancel(id: string): Promise<void> {
    const mark = this.order.mark();
    const download = await api('models.cancelDownload', {id});
    if (this.order.isStale(id, mark)) return;
    const index = this.items.findIndex((item) => item.id === id);
    if (index >= 0) this.items[index] = this.merge(download);
  }

  /** Takes a download that is not running off the list (and its partial file off the disk). */
  async dismiss(id: string): Promise<void> {
    await api('models.dismissDownload', {id});
    this.items = this.items.filter((item) => item.id !== id);
  }

  private merge(download: DownloadInfo, bytesPerSecond: number | null = null, etaSeconds: number | null = null): DownloadView {
    const previous = this.items.find((item) => item.id === download.id);
    const history = previous ? previous.speedHistory : [];
    const speedHistory =
      bytesPerSecond !== null && download.state === 'running' ? [...history, bytesPerSecond].slice(-HISTORY_POINTS) : history;
    return {
      ...download,
      bytesPerSecond: download.state === 'running' ? (bytesPerSecond ?? previous?.bytesPerSecond ?? null) : null,
      etaSeconds: download.state === 'running' ? (etaSeconds ?? previous?.etaSeconds ?? null) : null,
      speedHistory,
    };
  }
}

export const downloads = new Downloads();
