// Benchmark: chat tokens/s through the product (HTTP API → main → engine process → WebSocket)
// against node-llama-cpp called directly in one process, same model, same threads, same prompt,
// same greedy sampling; plus the time from `zhongjing serve` start to its first API answer.
//
//   npm run build && npm run bench:chat -- [--model M.gguf] [--threads 1] [--tokens 256] [--runs 5]
//
// Prints medians side by side and their ratio (goal: API / direct ≥ 0.95).

import {spawn} from 'node:child_process';
import {parseArgs} from 'node:util';
import {fileURLToPath} from 'node:url';
import {tmpdir} from 'node:os';
import {mkdtempSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import WebSocket from 'ws';
import {getLlama, LlamaChat, LlamaLogLevel, type ChatHistoryItem} from 'node-llama-cpp';
import {chatWrapperFor} from '../main/node/engine/chat-template.js';
import {makeTinyModel} from '../main/node/models/tiny-model.js';
import type {ApiEvent} from '../main/common/contract.js';

const {values} = parseArgs({
  options: {
    model: {type: 'string'},
    threads: {type: 'string', default: '1'},
    tokens: {type: 'string', default: '256'},
    runs: {type: 'string', default: '5'},
  },
});
const threads = Number(values.threads);
const maxTokens = Number(values.tokens);
const runs = Number(values.runs);
const SYSTEM = '你是仲景，一名中文医学问诊助手。';
const QUESTION = '我最近三天一直头痛，还有点发热，该怎么办？';
const CLI = fileURLToPath(new URL('../bin/zhongjing.js', import.meta.url));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function direct(modelPath: string): Promise<{tps: number; tokens: number}[]> {
  const llama = await getLlama({gpu: false, build: 'never', maxThreads: threads, logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath});
  const context = await model.createContext({contextSize: {max: 8192}, threads, sequences: 1});
  const chat = new LlamaChat({contextSequence: context.getSequence(), chatWrapper: chatWrapperFor(model)});
  const history: ChatHistoryItem[] = [{type: 'system', text: SYSTEM}, {type: 'user', text: QUESTION}, {type: 'model', response: []}];
  const results = [];
  for (let i = 0; i <= runs; i++) {
    let tokens = 0;
    const start = performance.now();
    await chat.generateResponse(history, {maxTokens, temperature: 0, seed: 1, repeatPenalty: false, onToken: (t) => (tokens += t.length)});
    const seconds = (performance.now() - start) / 1000;
    if (i > 0) results.push({tps: tokens / seconds, tokens}); // run 0 warms up
  }
  await context.dispose();
  await model.dispose();
  await llama.dispose();
  return results;
}

function startServe(dataDir: string, modelPath: string) {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data-dir', dataDir, '--model', modelPath], {
    env: {...process.env, ZHONGJING_THREADS: String(threads)},
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise<{base: string; token: string; firstAnswerMs: number; stop(): void}>((resolve, reject) => {
    let out = '';
    child.stdout.on('data', async (chunk: Buffer) => {
      out += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+)/.exec(out);
      if (!match) return;
      child.stdout.removeAllListeners('data');
      const base = `http://127.0.0.1:${match[1]}`;
      const token = match[2]!;
      const response = await fetch(`${base}/api/app.info`, {method: 'POST', headers: {Authorization: `Bearer ${token}`}, body: '{}'});
      if (!response.ok) return reject(new Error('first API call failed'));
      resolve({base, token, firstAnswerMs: performance.now() - started, stop: () => child.kill('SIGTERM')});
    });
    child.once('exit', (code) => reject(new Error(`serve exited ${code}`)));
  });
}

async function viaApi(modelPath: string): Promise<{results: {tps: number; tokens: number}[]; startupMs: number[]}> {
  const dataDir = mkdtempSync(join(tmpdir(), 'zj-bench-'));
  const startupMs: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const s = await startServe(dataDir, modelPath);
      startupMs.push(s.firstAnswerMs);
      s.stop();
      await new Promise((r) => setTimeout(r, 300));
    }
    const server = await startServe(dataDir, modelPath);
    const call = async (method: string, input: unknown) => {
      const r = await fetch(`${server.base}/api/${method}`, {method: 'POST', headers: {Authorization: `Bearer ${server.token}`}, body: JSON.stringify(input)});
      const body = (await r.json()) as {ok: boolean; result: any; error: any};
      if (!body.ok) throw new Error(JSON.stringify(body.error));
      return body.result;
    };
    const socket = new WebSocket(`${server.base.replace('http', 'ws')}/api/events?token=${server.token}`);
    await new Promise((r) => socket.once('open', r));
    const results = [];
    for (let i = 0; i <= runs; i++) {
      // a fresh consultation each run: same prompt as the direct side, nothing cached in between
      const c = await call('consultations.create', {systemPrompt: SYSTEM});
      await call('consultations.update', {id: c.id, sampling: {maxTokens, temperature: 0, seed: 1, repeatPenalty: 1}});
      const start = performance.now();
      const done = new Promise<ApiEvent & {type: 'chat.finished'}>((resolve) => {
        const onMessage = (data: WebSocket.RawData) => {
          const event = JSON.parse(String(data)) as ApiEvent;
          if (event.type === 'chat.finished' && event.consultationId === c.id) {
            socket.off('message', onMessage);
            resolve(event);
          }
        };
        socket.on('message', onMessage);
      });
      await call('chat.send', {consultationId: c.id, text: QUESTION});
      const finished = await done;
      const seconds = (performance.now() - start) / 1000;
      const tokens = finished.message.meta.completionTokens ?? 0;
      if (i > 0) results.push({tps: tokens / seconds, tokens});
    }
    socket.close();
    server.stop();
    return {results, startupMs};
  } finally {
    await new Promise((r) => setTimeout(r, 300));
    rmSync(dataDir, {recursive: true, force: true});
  }
}

const modelPath = values.model ?? join(mkdtempSync(join(tmpdir(), 'zj-bench-model-')), 'tiny.gguf');
if (!values.model) await makeTinyModel(modelPath);
console.log(`model ${modelPath}\nthreads ${threads}, max tokens ${maxTokens}, ${runs} runs (+1 warm-up) each side, greedy\n`);
const directResults = await direct(modelPath);
const api = await viaApi(modelPath);
const d = median(directResults.map((r) => r.tps));
const a = median(api.results.map((r) => r.tps));
console.log('                          direct node-llama-cpp   through serve API');
console.log(`tokens per reply (median) ${String(median(directResults.map((r) => r.tokens))).padStart(22)}   ${String(median(api.results.map((r) => r.tokens))).padStart(17)}`);
console.log(`tokens/s (median)         ${d.toFixed(1).padStart(22)}   ${a.toFixed(1).padStart(17)}`);
console.log(`ratio API / direct        ${(a / d).toFixed(3).padStart(42)}`);
console.log(`\nserve start → first API answer: ${api.startupMs.map((ms) => `${ms.toFixed(0)} ms`).join(', ')} (median ${median(api.startupMs).toFixed(0)} ms)`);
