// The composition root of the services: one store, one event bus, one engine host, and the
// services on top. Electron's main process and `zhongjing serve` both build exactly this.

import {readFileSync} from 'node:fs';
import {basename, join} from 'node:path';
import type {AppInfo, EngineStatus, MethodInput, Settings} from '../../common/contract.js';
import {DEFAULT_SAMPLING, MAX_MESSAGE_CHARS} from '../../common/contract.js';
import {DEFAULT_SYSTEM_PROMPT} from '../../common/prompts.js';
import {EngineHost, type SpawnEngine} from '../engine/engine-host.js';
import type {CountTokensRequest} from '../engine/protocol.js';
import {dataPaths, ensureDataDirs, packageRoot, type DataPaths} from '../paths.js';
import {Store} from '../store/index.js';
import {BackupSchedule, backupsDirFor, damagedDirFor} from '../store/health.js';
import {logError} from '../log.js';
import {acquireDataLock, LOCK_FILE, type DataLock, type LockKind} from '../data-lock.js';
import {defaultThreads} from '../threads.js';
import {allowedFolder, readablePath, type PathPolicy} from '../path-policy.js';
import {readRegularTextFile} from '../files.js';

/** An export file the browser may download whole (it travels as one JSON string). */
const EXPORT_DOWNLOAD_MAX_BYTES = 64 * 1024 * 1024;
import {ConsultationService} from './consultation-service.js';
import {EventBus} from './event-bus.js';
import {ModelService} from './model-service.js';
import {DatasetService} from './dataset-service.js';
import {AnnotationService} from './annotation-service.js';
import {TrainingService} from './training-service.js';
import {StorageGuard} from './storage-guard.js';
import {RemoteService} from './remote-service.js';
import {EvaluationService} from './evaluation-service.js';
import {FileSecretStore, type SecretStore} from '../remote/secrets.js';

export const APP_VERSION: string = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as {version: string}).version;

export interface ServicesOptions {
  dataDir: string;
  spawnEngine: SpawnEngine;
  threads?: number;
  /** who holds the data-directory lock, for the message a second process gets (default 'cli') */
  lockKind?: LockKind;
  /** where remote endpoints' API keys are kept; default: 0600 files in <data>/secrets/ (no
   * keychain in plain Node). Electron passes one backed by safeStorage (the OS keychain). */
  secrets?: (secretsDir: string) => SecretStore;
  /** serve: typed paths are held to the data directory, the allowed folders of the settings and
   * these (`serve --allow-dir`); see path-policy.ts. The CLI and the desktop app are not confined. */
  confinePaths?: {extraFolders: string[]};
}

export class Services {
  readonly paths: DataPaths;
  readonly store: Store;
  readonly bus = new EventBus();
  /** holds writes that found the disk full and retries them (see storage-guard.ts) */
  readonly storage: StorageGuard;
  readonly engine: EngineHost;
  readonly models: ModelService;
  readonly consultations: ConsultationService;
  readonly datasets: DatasetService;
  readonly annotation: AnnotationService;
  readonly evaluation: EvaluationService;
  readonly training: TrainingService;
  readonly remotes: RemoteService;
  private readonly threads: number;
  private readonly lock: DataLock;
  /** daily online backups of the store into <data>/backups (see store/health.ts) */
  readonly backups: BackupSchedule;
  /** what every typed path of the API is held to (path-policy.ts) */
  readonly pathPolicy: PathPolicy;

  constructor(options: ServicesOptions) {
    this.paths = dataPaths(options.dataDir);
    ensureDataDirs(this.paths);
    // one writer per data directory, taken before the store is opened: the start-up cleanup
    // below (interrupted replies, unfinished imports) must never touch another process's work
    this.lock = acquireDataLock(this.paths.root, options.lockKind ?? 'cli');
    try {
      this.store = Store.open(this.paths.database);
    } catch (error) {
      this.lock.release();
      throw error;
    }
    this.backups = new BackupSchedule(this.store.db, backupsDirFor(this.paths.database), (error) => logError('daily backup', error));
    this.backups.start();
    this.threads = options.threads ?? defaultThreads();
    this.engine = new EngineHost(options.spawnEngine, {threads: this.threads, gpuMode: this.store.settings.get().gpuMode});
    this.engine.onStatus(() => this.bus.emit({type: 'engine.status', status: this.engineStatus()}));
    this.models = new ModelService(this.store, this.paths, this.bus);
    this.storage = new StorageGuard(this.bus, this.paths.root);
    const secretsDir = join(this.paths.root, 'secrets');
    this.remotes = new RemoteService(this.store, options.secrets?.(secretsDir) ?? new FileSecretStore(secretsDir), this.bus);
    this.consultations = new ConsultationService(this.store, this.engine, this.bus, this.storage, this.remotes);
    this.datasets = new DatasetService(this.store, this.paths, this.bus, this.storage);
    this.annotation = new AnnotationService(this.store, this.engine, this.datasets, this.paths, this.bus);
    this.evaluation = new EvaluationService(this.store, this.engine, this.datasets, this.remotes, this.bus);
    this.training = new TrainingService(this.store, this.paths, this.bus, this.datasets, this.models, this.annotation, this.threads, this.storage);
    const confine = options.confinePaths;
    const db = this.paths.database;
    // (logs/ too: an export over serve.log would wipe what explains a failure; tmp/ holds uploads being read)
    const own = [db, `${db}-wal`, `${db}-shm`, `${db}-journal`, join(this.paths.root, LOCK_FILE), secretsDir, backupsDirFor(db), damagedDirFor(db), this.paths.logs, join(this.paths.root, 'tmp')];
    this.pathPolicy = confine
      ? {confined: true, roots: () => [this.paths.root, ...confine.extraFolders, ...this.store.settings.get().allowedFolders], guarded: () => own}
      : {confined: false, roots: () => [], guarded: () => own};
  }

  appInfo(): AppInfo {
    return {
      version: APP_VERSION,
      dataDir: this.paths.root,
      modelsDir: this.paths.models,
      cpuCores: this.threads,
      defaultSystemPrompt: DEFAULT_SYSTEM_PROMPT,
      defaultSampling: DEFAULT_SAMPLING,
      maxMessageChars: MAX_MESSAGE_CHARS,
      remoteKeyStorage: this.remotes.secrets.kind,
      pathsConfined: this.pathPolicy.confined,
      allowedRoots: this.pathPolicy.roots(),
    };
  }

  engineStatus(): EngineStatus {
    return this.engine.status((path) => this.store.models.findByPath(path)?.id ?? null);
  }

  async updateSettings(input: MethodInput<'settings.update'>): Promise<Settings> {
    if (input.defaultModelId) this.models.get(input.defaultModelId);
    // each folder checked and stored resolved (real path), duplicates once
    const allowedFolders = input.allowedFolders ? [...new Set(await Promise.all(input.allowedFolders.map((f) => allowedFolder(f))))] : undefined;
    const settings = this.store.settings.update({...input, hfEndpoint: input.hfEndpoint?.replace(/\/+$/, ''), allowedFolders});
    this.engine.configure({threads: this.threads, gpuMode: settings.gpuMode});
    return settings;
  }

  /** A file of an export (datasets, annotation, handoff, evaluation) for the browser to download:
   * only under <data dir>/exports, whatever the path policy allows. */
  async readExport(path: string): Promise<{fileName: string; mimeType: string; content: string}> {
    const exportsDir = join(this.paths.root, 'exports');
    const file = await readablePath({confined: true, roots: () => [exportsDir]}, path, EXPORT_DOWNLOAD_MAX_BYTES);
    const content = await readRegularTextFile(file, EXPORT_DOWNLOAD_MAX_BYTES);
    const mimeType = file.endsWith('.json') ? 'application/json' : file.endsWith('.csv') ? 'text/csv' : file.endsWith('.html') ? 'text/html' : file.endsWith('.yaml') ? 'text/yaml' : 'application/x-ndjson';
    return {fileName: basename(file), mimeType, content};
  }

  /** Tokens of a dataset version as a model sees them; counted in the engine, in batches. */
  async countDatasetTokens(input: MethodInput<'datasets.countTokens'>): Promise<{tokens: number; rows: number; modelId: string}> {
    const model = this.models.get(input.modelId);
    const version = this.datasets.version(input.id, input.version);
    let tokens = 0;
    let rows = 0;
    let batch: CountTokensRequest['items'] = [];
    const flush = async () => {
      if (batch.length) tokens += (await this.engine.countTokens({modelPath: model.path, items: batch})).reduce((a, b) => a + b, 0);
      batch = [];
    };
    for (const row of this.store.datasets.iterateRows(version.id)) {
      rows++;
      if (row.kind === 'text') batch.push({text: row.text ?? ''});
      else {
        batch.push({turns: row.turns.filter((t) => t.role !== 'system').map((t) => ({role: t.role as 'user' | 'assistant', content: t.content})), systemPrompt: row.turns.find((t) => t.role === 'system')?.content});
        if (row.kind === 'preference') batch.push({text: `${row.chosen ?? ''}`});
      }
      if (batch.length >= 256) await flush();
    }
    await flush();
    this.store.datasets.setTokenCount(version.id, model.id, tokens);
    this.bus.emit({type: 'datasets.changed', id: input.id});
    return {tokens, rows, modelId: model.id};
  }

  async close(): Promise<void> {
    this.consultations.stopAll();
    this.annotation.stopAll();
    this.evaluation.stopAll();
    this.models.stopDownloads();
    await this.training.stopAll();
    await this.consultations.idle();
    await this.annotation.idle();
    await this.evaluation.idle();
    await this.models.downloadsIdle();
    await this.models.settle();
    this.engine.stop();
    await this.backups.stop();
    this.storage.stop();
    this.store.close();
    this.lock.release();
  }
}
