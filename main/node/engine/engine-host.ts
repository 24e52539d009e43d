// The host side of the engine process: starts it on first use, routes requests and streamed
// deltas, and survives its death. When the engine dies, every pending request fails with
// 'engine_crashed', the status says so, and the next request starts a fresh engine.

import {AppError} from '../../common/errors.js';
import type {EngineStatus} from '../../common/contract.js';
import type {ChoiceScoresRequest, CountTokensRequest, EngineInfo, EngineOptions, EngineToHost, GenerateRequest, GenerateResult, HostToEngine} from './protocol.js';

export interface EngineChild {
  readonly pid: number | null;
  send(message: HostToEngine): void;
  onMessage(listener: (message: EngineToHost) => void): void;
  onExit(listener: (code: number | null, signal: string | null) => void): void;
  kill(): void;
}

export type SpawnEngine = (options: EngineOptions) => EngineChild;

interface PendingRequest {
  resolve(result: unknown): void;
  reject(error: AppError): void;
  onText?: (text: string) => void;
}

const START_TIMEOUT_MS = 120_000;

export class EngineHost {
  private child: EngineChild | null = null;
  private ready: Promise<EngineInfo> | null = null;
  private info: EngineInfo | null = null;
  private state: EngineStatus['state'] = 'stopped';
  private restarts = 0;
  private readonly stoppedOnPurpose = new Set<EngineChild>();
  private lastError: EngineStatus['lastError'] = null;
  private loadedModelPath: string | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly statusListeners = new Set<(status: EngineStatus) => void>();

  constructor(
    private readonly spawn: SpawnEngine,
    private options: EngineOptions,
  ) {}

  status(modelIdForPath: (path: string) => string | null = () => null): EngineStatus {
    return {
      state: this.state,
      pid: this.state === 'ready' || this.state === 'starting' ? (this.child?.pid ?? null) : null,
      threads: this.options.threads,
      gpu: this.info?.gpu ?? null,
      loadedModelId: this.loadedModelPath ? modelIdForPath(this.loadedModelPath) : null,
      vramBytes: this.info?.vramBytes ?? null,
      restarts: this.restarts,
      lastError: this.lastError,
    };
  }

  onStatus(listener: (status: EngineStatus) => void): () => void {
    this.statusListeners.add(listener);
    return () => this.statusListeners.delete(listener);
  }

  /** New options (e.g. GPU mode changed in settings) apply from the next engine start. */
  configure(options: EngineOptions): void {
    if (JSON.stringify(options) === JSON.stringify(this.options)) return;
    this.options = options;
    if (this.child && this.pending.size === 0) this.stop();
  }

  async generate(
    request: GenerateRequest,
    hooks: {onText?: (text: string) => void; signal?: AbortSignal} = {},
  ): Promise<GenerateResult> {
    await this.start();
    const id = this.nextId++;
    const result = new Promise<GenerateResult>((resolve, reject) => {
      this.pending.set(id, {resolve: resolve as (r: unknown) => void, reject, onText: hooks.onText});
    });
    const onAbort = () => this.child?.send({type: 'cancel', id});
    hooks.signal?.addEventListener('abort', onAbort, {once: true});
    this.child!.send({type: 'generate', id, request});
    this.loadedModelPath = request.modelPath;
    try {
      return await result;
    } finally {
      hooks.signal?.removeEventListener('abort', onAbort);
    }
  }

  /** Tokens per item as the model counts them (dataset statistics, training budgets). */
  countTokens(request: CountTokensRequest): Promise<number[]> {
    return this.ask<number[]>((id) => ({type: 'countTokens', id, request}));
  }

  /** Log-probabilities of candidate answers (multiple-choice option letters) in the engine. */
  async choiceScores(request: ChoiceScoresRequest): Promise<number[]> {
    const scores = this.ask<number[]>((id) => ({type: 'choiceScores', id, request}));
    this.loadedModelPath = request.modelPath;
    return scores;
  }

  /** One request that answers once (no streamed text): sent when the engine is up. */
  private async ask<T>(message: (id: number) => HostToEngine): Promise<T> {
    await this.start();
    const id = this.nextId++;
    const result = new Promise<T>((resolve, reject) => this.pending.set(id, {resolve: resolve as (r: unknown) => void, reject}));
    this.child!.send(message(id));
    return result;
  }

  /** Kills the engine (tests use this to simulate a crash; quitting uses it too). */
  stop(): void {
    const child = this.child;
    if (!child) return;
    this.stoppedOnPurpose.add(child);
    this.child = null;
    this.ready = null;
    child.kill();
  }

  /** Ends the engine and with it the loaded model, and resolves once the process has exited
   * (its memory is back). Refused while a reply or a token count is running. */
  async unload(): Promise<void> {
    if (this.pending.size)
      throw new AppError('busy', {
        zh: '推理引擎正在生成回复或计数，请在完成或停止后再卸载模型。',
        en: 'The engine is busy with a reply or a count: unload the model when it has finished or been stopped.',
      });
    const child = this.child;
    if (!child) {
      this.loadedModelPath = null;
      return;
    }
    const exited = new Promise<void>((resolve) => child.onExit(() => resolve()));
    this.stop();
    await exited;
  }

  private start(): Promise<EngineInfo> {
    if (this.ready) return this.ready;
    if (this.state === 'crashed') this.restarts++;
    this.setState('starting');
    const child = this.spawn(this.options);
    this.child = child;
    this.ready = new Promise<EngineInfo>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new AppError('engine_crashed', {zh: '推理进程启动超时。', en: 'The inference process did not start in time.'}));
        child.kill();
      }, START_TIMEOUT_MS);
      child.onMessage((message) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          this.info = message.info;
          this.lastError = null;
          this.setState('ready');
          resolve(message.info);
        } else this.route(message);
      });
      child.onExit((code, signal) => {
        clearTimeout(timer);
        this.handleExit(child, code, signal);
        reject(this.crashError(code, signal));
      });
    });
    // a rejected start is reported through the pending generate; avoid an unhandled rejection
    this.ready.catch(() => undefined);
    return this.ready;
  }

  private route(message: EngineToHost): void {
    if (message.type === 'ready') return;
    const request = this.pending.get(message.id);
    if (!request) return;
    if (message.type === 'delta') request.onText?.(message.text);
    else if (message.type === 'done' || message.type === 'counted' || message.type === 'scored') {
      this.pending.delete(message.id);
      request.resolve(message.type === 'done' ? message.result : message.type === 'counted' ? message.tokens : message.logProbs);
    } else if (message.type === 'failed') {
      this.pending.delete(message.id);
      request.reject(AppError.fromPayload(message.error));
    }
  }

  private handleExit(child: EngineChild, code: number | null, signal: string | null): void {
    const onPurpose = this.stoppedOnPurpose.delete(child);
    if (this.child === child) {
      this.child = null;
      this.ready = null;
    }
    const error = this.crashError(code, signal);
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
    this.loadedModelPath = null;
    if (this.child) return; // an old engine exited after a new one was started
    if (onPurpose) {
      this.setState('stopped');
    } else {
      this.lastError = error.localised;
      this.setState('crashed');
    }
  }

  private crashError(code: number | null, signal: string | null): AppError {
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    return new AppError('engine_crashed', {
      zh: `推理进程意外退出（${how}）。应用仍在运行，下次使用时会自动重启推理进程。`,
      en: `The inference process stopped unexpectedly (${how}). The app is still running and restarts it on next use.`,
    });
  }

  private setState(state: EngineStatus['state']): void {
    this.state = state;
    for (const listener of this.statusListeners) listener(this.status());
  }
}
