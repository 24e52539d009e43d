// Entry of the engine process (child_process.fork under Node, utilityProcess under Electron).
// Model inference lives here so that a native abort, an out-of-memory or a hung evaluation
// takes down only this process; the host marks the reply failed and starts a new engine on
// next use.

import {existsSync} from 'node:fs';
import {toAppError} from '../../common/errors.js';
import {ModelRunner} from './model-runner.js';
import type {EngineOptions, EngineToHost, HostToEngine} from './protocol.js';

/** Text deltas are batched for this long: a tiny model produces thousands of tokens per second,
 * and one IPC message + one WebSocket frame per token would cost more than the decoding. */
const DELTA_FLUSH_MS = 50;

interface ParentChannel {
  send(message: EngineToHost): void;
  onMessage(listener: (message: HostToEngine) => void): void;
}

function parentChannel(): ParentChannel {
  // Electron's utilityProcess exposes process.parentPort; Node's fork exposes process.send.
  const parentPort = (process as unknown as {parentPort?: {postMessage(m: unknown): void; on(e: 'message', l: (e: {data: unknown}) => void): void}}).parentPort;
  if (parentPort) {
    return {
      send: (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data as HostToEngine)),
    };
  }
  if (!process.send) throw new Error('engine-process must be started as a child process with an IPC channel');
  return {
    send: (message) => process.send!(message),
    onMessage: (listener) => process.on('message', (message) => listener(message as HostToEngine)),
  };
}

/** Tests only (with ZHONGJING_TEST=1): while the file named by ZHONGJING_TEST_HOLD_FILE exists,
 * a reply pauses its decoding as soon as it has produced visible text, until the file is removed or the
 * reply is stopped. However fast the model, a test can then see a reply streaming and click its
 * stop button before it could end by itself. */
const HOLD_FILE = process.env.ZHONGJING_TEST === '1' ? process.env.ZHONGJING_TEST_HOLD_FILE || null : null;
const HOLD_POLL_MS = 20;

/** Resolves once the hold file is gone or the reply is stopped. */
function released(file: string, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearInterval(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setInterval(() => existsSync(file) || done(), HOLD_POLL_MS);
    signal.addEventListener('abort', done, {once: true});
  });
}

const options = JSON.parse(process.env.ZHONGJING_ENGINE_OPTIONS ?? '{}') as EngineOptions;
const channel = parentChannel();
const runner = new ModelRunner(options, {pausable: HOLD_FILE !== null});
const running = new Map<number, AbortController>();

channel.onMessage((message) => {
  if (message.type === 'cancel') {
    running.get(message.id)?.abort();
    return;
  }
  if (message.type === 'choiceScores') {
    runner.choiceScores(message.request).then(
      (logProbs) => channel.send({type: 'scored', id: message.id, logProbs}),
      (error: unknown) => channel.send({type: 'failed', id: message.id, error: toAppError(error).toPayload()}),
    );
    return;
  }
  if (message.type === 'countTokens') {
    runner.countTokens(message.request).then(
      (tokens) => channel.send({type: 'counted', id: message.id, tokens}),
      (error: unknown) => channel.send({type: 'failed', id: message.id, error: toAppError(error).toPayload()}),
    );
    return;
  }
  const {id, request} = message;
  const controller = new AbortController();
  running.set(id, controller);
  let pending = '';
  let produced = false;
  let timer: NodeJS.Timeout | null = null;
  const flush = () => {
    timer = null;
    if (pending) channel.send({type: 'delta', id, text: pending});
    pending = '';
  };
  runner
    .generate(request, {
      signal: controller.signal,
      onText: (text) => {
        pending += text;
        produced ||= /\S/.test(text);
        timer ??= setTimeout(flush, DELTA_FLUSH_MS);
      },
      hold: HOLD_FILE
        ? () => (produced && !controller.signal.aborted && existsSync(HOLD_FILE) ? released(HOLD_FILE, controller.signal) : null)
        : undefined,
    })
    .then(
      (result) => {
        if (timer) clearTimeout(timer);
        flush();
        channel.send({type: 'done', id, result});
      },
      (error: unknown) => {
        if (timer) clearTimeout(timer);
        flush();
        channel.send({type: 'failed', id, error: toAppError(error).toPayload()});
      },
    )
    .finally(() => running.delete(id));
});

Promise.all([runner.gpuName(), runner.vramBytes()]).then(
  ([gpu, vramBytes]) => channel.send({type: 'ready', info: {pid: process.pid, threads: options.threads, gpu, vramBytes}}),
  (error: unknown) => {
    process.stderr.write(`engine: cannot initialise llama.cpp: ${(error as Error).message}\n`);
    process.exit(3);
  },
);
