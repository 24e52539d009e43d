// Models: register local GGUF files (validated before they are stored), per-model GPU offload,
// and downloads from Hugging Face or a mirror that resume after an interruption.

import {existsSync, statSync} from 'node:fs';
import {totalmem} from 'node:os';
import {basename, join, resolve} from 'node:path';
import type {DownloadInfo, GgufSummary, MethodInput, ModelInfo} from '../../common/contract.js';
import {AppError, notFound, toAppError} from '../../common/errors.js';
import {discardPartial, downloadFile, resolveDownloadSource} from '../models/download.js';
import {inspectGguf} from '../models/gguf-inspect.js';
import {searchHf} from '../models/hf-search.js';
import {MODEL_CATALOG, type CatalogEntry, type MachineMemory} from '../../common/model-catalog.js';
import type {DataPaths} from '../paths.js';
import {sha256File} from '../hash.js';
import type {Store} from '../store/index.js';
import type {DownloadRecord} from '../store/downloads-repo.js';
import type {EventBus} from './event-bus.js';

const MODEL = {zh: '模型', en: 'model'};
const DOWNLOAD = {zh: '下载任务', en: 'download'};

function toInfo(record: DownloadRecord): DownloadInfo {
  const {source: _source, destPath: _dest, expectedSha256: _sha, ...info} = record;
  return info;
}

export class ModelService {
  private readonly running = new Map<string, AbortController>();
  private readonly hashing = new Set<Promise<unknown>>();

  constructor(
    private readonly store: Store,
    private readonly paths: DataPaths,
    private readonly bus: EventBus,
  ) {
    store.downloads.pauseRunning();
  }

  list(): ModelInfo[] {
    return this.store.models.list();
  }

  inspect(path: string): Promise<GgufSummary> {
    return inspectGguf(resolve(path));
  }

  /** Validates the file, then registers it — once: a file already registered (by this path or
   * another one to the same file: a symlink, a hard link) is answered as it is, marked
   * `alreadyRegistered`. The sha256 (for provenance) is computed in the background so that adding
   * a 5 GB model does not block the UI. */
  async add(input: MethodInput<'models.add'>, knownSha256: string | null = null): Promise<ModelInfo & {alreadyRegistered: boolean}> {
    const path = resolve(input.path);
    const existing = this.store.models.findByPath(path) ?? this.registeredSameFile(path);
    if (existing) return {...existing, alreadyRegistered: true};
    const summary = await inspectGguf(path);
    // a second add of the same file may have finished while this one read the header
    const raced = this.store.models.findByPath(path);
    if (raced) return {...raced, alreadyRegistered: true};
    const model = this.store.models.insert(summary, input.name ?? basename(path).replace(/\.gguf$/i, ''), knownSha256);
    if (!knownSha256) {
      const job = sha256File(path)
        .then((sha) => {
          if (this.store.db.open) this.store.models.setSha256(model.id, sha);
        })
        .catch(() => undefined)
        .finally(() => this.hashing.delete(job));
      this.hashing.add(job);
    }
    this.bus.emit({type: 'models.changed'});
    return {...model, alreadyRegistered: false};
  }

  /** The registered model whose file is the file at `path` (same device and inode), if any. */
  private registeredSameFile(path: string): ModelInfo | null {
    const identity = (p: string) => {
      try {
        const stat = statSync(p);
        return stat.isFile() ? `${stat.dev}:${stat.ino}` : null;
      } catch {
        return null;
      }
    };
    const wanted = identity(path);
    if (wanted === null) return null;
    return this.store.models.list().find((model) => identity(model.path) === wanted) ?? null;
  }

  update(input: MethodInput<'models.update'>): ModelInfo {
    this.get(input.id);
    this.store.models.update(input.id, {name: input.name, gpuLayers: input.gpuLayers});
    this.bus.emit({type: 'models.changed'});
    return this.get(input.id);
  }

  /** Forgets the model; the file itself is never deleted (it may be the person's only copy). */
  remove(id: string): {removed: true} {
    if (!this.store.models.remove(id)) throw notFound(MODEL, id);
    this.bus.emit({type: 'models.changed'});
    return {removed: true};
  }

  get(id: string): ModelInfo {
    const model = this.store.models.get(id);
    if (!model) throw notFound(MODEL, id);
    return model;
  }

  /** Waits for background work (hashing, downloads); for tests and an orderly shutdown. */
  async settle(): Promise<void> {
    await Promise.all([...this.hashing]);
  }

  /** The curated list and this machine's memory; VRAM once the engine has started on a GPU. */
  catalog(gpu: {gpu: string | null; vramBytes: number | null}): {entries: CatalogEntry[]; machine: MachineMemory} {
    return {entries: [...MODEL_CATALOG], machine: {totalMemoryBytes: totalmem(), vramBytes: gpu.vramBytes, gpu: gpu.gpu}};
  }

  search(query: string) {
    return searchHf(this.store.settings.get().hfEndpoint, query);
  }

  // ───────────── downloads ─────────────

  downloads(): DownloadInfo[] {
    return this.store.downloads.list().map(toInfo);
  }

  download(input: MethodInput<'models.download'>): DownloadInfo {
    const {url, fileName} = resolveDownloadSource(input.source.trim(), this.store.settings.get().hfEndpoint);
    const destPath = join(this.paths.models, fileName);
    const registered = this.store.models.findByPath(destPath);
    if (registered && existsSync(destPath))
      throw new AppError('validation', {
        zh: `该模型已下载并登记为“${registered.name}”。`,
        en: `This model is already downloaded and registered as "${registered.name}".`,
      });
    // the same destination resumes the earlier attempt (its .part file) instead of starting over
    const earlier = this.store.downloads.findUnfinishedByDest(destPath);
    if (earlier && this.running.has(earlier.id)) return toInfo(earlier);
    const record = earlier ?? this.store.downloads.create({source: input.source, url, fileName, destPath, expectedSha256: input.sha256 ?? null});
    this.store.downloads.update(record.id, {state: 'running', error: null, url, expectedSha256: input.sha256 ?? record.expectedSha256});
    void this.runDownload(this.store.downloads.get(record.id)!);
    return toInfo(this.store.downloads.get(record.id)!);
  }

  cancelDownload(id: string): DownloadInfo {
    const record = this.store.downloads.get(id);
    if (!record) throw notFound(DOWNLOAD, id);
    this.running.get(id)?.abort();
    return toInfo(this.store.downloads.get(id)!);
  }

  /** Takes a download that is not running off the list (a failed one the person has read, a
   * paused one they gave up on, a finished one) and deletes its partial file; a downloaded model
   * stays registered. */
  async dismissDownload(id: string): Promise<{dismissed: true}> {
    const record = this.store.downloads.get(id);
    if (!record) throw notFound(DOWNLOAD, id);
    if (this.running.has(id) || record.state === 'running')
      throw new AppError('validation', {zh: '下载仍在进行，请先取消再移除。', en: 'The download is still running: cancel it before removing it.'});
    if (record.state !== 'done') await discardPartial(record.destPath);
    this.store.downloads.remove(id);
    return {dismissed: true};
  }

  /** Pauses every running download; each keeps its .part file and resumes when started again. */
  stopDownloads(): void {
    for (const controller of this.running.values()) controller.abort();
  }

  /** Resolves when no download is running (tests). */
  async downloadsIdle(): Promise<void> {
    while (this.running.size) await new Promise((r) => setTimeout(r, 20));
  }

  private async runDownload(record: DownloadRecord): Promise<void> {
    const controller = new AbortController();
    this.running.set(record.id, controller);
    const emit = (extra: {bytesPerSecond: number; etaSeconds: number | null}) =>
      this.bus.emit({type: 'download.progress', download: {...toInfo(this.store.downloads.get(record.id)!), ...extra}});
    try {
      const result = await downloadFile({
        url: record.url,
        destPath: record.destPath,
        expectedSha256: record.expectedSha256 ?? undefined,
        signal: controller.signal,
        onProgress: (p) => {
          this.store.downloads.update(record.id, {receivedBytes: p.receivedBytes, totalBytes: p.totalBytes});
          emit({bytesPerSecond: p.bytesPerSecond, etaSeconds: p.etaSeconds});
        },
      });
      const model = await this.add({path: result.path}, result.sha256);
      this.store.downloads.update(record.id, {state: 'done', receivedBytes: result.bytes, totalBytes: result.bytes, modelId: model.id});
    } catch (error) {
      const cancelled = controller.signal.aborted;
      // every failure reads as one (the downloader's own errors already start "下载失败："; a file
      // that arrived but is no valid GGUF, or a disk error, did not)
      const failure = toAppError(error);
      const message = failure.code === 'download_failed' || cancelled ? failure.localised : {zh: `下载失败：${failure.localised.zh}`, en: `Download failed: ${failure.localised.en}`};
      this.store.downloads.update(record.id, {state: cancelled ? 'paused' : 'failed', error: message});
    } finally {
      this.running.delete(record.id);
      emit({bytesPerSecond: 0, etaSeconds: null});
    }
  }
}
