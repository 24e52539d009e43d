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

interface RunResult {
  tps: number;
  tokens: number;
  /** decode only, first token to last (what the engine reports per message) */
  decodeTps: number;
}

/** node-llama-cpp in this process, as an app without our layers would call it: the same model,
 * threads, template, prompt, greedy sampling, and a text callback (a chat UI needs text). */
async function directSide(modelPath: string) {
  const llama = await getLlama({gpu: false, build: 'never', maxThreads: threads, logLevel: LlamaLogLevel.error});
  const model = await llama.loadModel({modelPath});
  const context = await model.createContext({contextSize: {max: 8192}, threads, sequences: 1});
  const chat = new LlamaChat({contextSequence: context.getSequence(), chatWrapper: chatWrapperFor(model)});
  const history: ChatHistoryItem[] = [{type: 'system', text: SYSTEM}, {type: 'user', text: QUESTION}, {type: 'model', response: []}];
  return {
    async run(): Promise<RunResult> {
      let tokens = 0;
      let firstTokenAt = 0;
      let text = '';
      const start = performance.now();
      await chat.generateResponse(history, {
        maxTokens,
        temperature: 0,
        seed: 1,
        repeatPenalty: false,
        onToken: (t) => {
          if (tokens === 0) firstTokenAt = performance.now();
          tokens += t.length;
        },
        onTextChunk: (chunk) => (text += chunk),
      });
      const end = performance.now();
      // decode rate measured as the engine measures it: first token to last, prompt excluded
      return {tps: tokens / ((end - start) / 1000), tokens, decodeTps: (tokens - 1) / ((end - firstTokenAt) / 1000)};
    },
    async dispose() {
      await context.dispose();
      await model.dispose();
      await llama.dispose();
    },
  };
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

/** The product: HTTP request → main process → engine process → WebSocket events. */
async function apiSide(dataDir: string, modelPath: string) {
  const server = await startServe(dataDir, modelPath);
  const call = async (method: string, input: unknown) => {
    const r = await fetch(`${server.base}/api/${method}`, {method: 'POST', headers: {Authorization: `Bearer ${server.token}`}, body: JSON.stringify(input)});
    const body = (await r.json()) as {ok: boolean; result: any; error: any};
    if (!body.ok) throw new Error(JSON.stringify(body.error));
    return body.result;
  };
  const socket = new WebSocket(`${server.base.replace('http', 'ws')}/api/events?token=${server.token}`);
  await new Promise((r) => socket.once('open', r));
  return {
    async run(): Promise<RunResult> {
      // a fresh consultation each run: the same prompt as the direct side
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
      const tokens = finished.message.meta.completionTokens ?? 0;
      return {tps: tokens / ((performance.now() - start) / 1000), tokens, decodeTps: finished.message.meta.tokensPerSecond ?? 0};
    },
    dispose() {
      socket.close();
      server.stop();
    },
  };
}

const modelPath = values.model ?? join(mkdtempSync(join(tmpdir(), 'zj-bench-model-')), 'tiny.gguf');
if (!values.model) await makeTinyModel(modelPath);
console.log(`model ${modelPath}\nthreads ${threads}, max tokens ${maxTokens}, ${runs} runs each side (+1 warm-up), greedy, sides alternating\n`);

const dataDir = mkdtempSync(join(tmpdir(), 'zj-bench-'));
const startupMs: number[] = [];
for (let i = 0; i < 3; i++) {
  const s = await startServe(dataDir, modelPath);
  startupMs.push(s.firstAnswerMs);
  s.stop();
  await new Promise((r) => setTimeout(r, 300));
}
const directRunner = await directSide(modelPath);
const apiRunner = await apiSide(dataDir, modelPath);
// alternate the two sides so that drift (other load, CPU clocks) hits both alike
const directResults: RunResult[] = [];
const apiResults: RunResult[] = [];
for (let i = 0; i <= runs; i++) {
  const d = await directRunner.run();
  const a = await apiRunner.run();
  if (i > 0) (directResults.push(d), apiResults.push(a));
}
await directRunner.dispose();
apiRunner.dispose();
await new Promise((r) => setTimeout(r, 300));
rmSync(dataDir, {recursive: true, force: true});

const d = median(directResults.map((r) => r.tps));
const a = median(apiResults.map((r) => r.tps));
console.log('                          direct node-llama-cpp   through serve API');
console.log(`tokens per reply (median) ${String(median(directResults.map((r) => r.tokens))).padStart(22)}   ${String(median(apiResults.map((r) => r.tokens))).padStart(17)}`);
console.log(`tokens/s (median)         ${d.toFixed(1).padStart(22)}   ${a.toFixed(1).padStart(17)}`);
console.log(`ratio API / direct        ${(a / d).toFixed(3).padStart(42)}   (end to end: request sent → reply finished)`);
const dd = median(directResults.map((r) => r.decodeTps));
const ad = median(apiResults.map((r) => r.decodeTps));
console.log(`decode tokens/s (median)  ${dd.toFixed(1).padStart(22)}   ${ad.toFixed(1).padStart(17)}`);
console.log(`ratio, decode only        ${(ad / dd).toFixed(3).padStart(42)}   (first token → last, prompt excluded)`);
console.log(`\nserve start → first API answer: ${startupMs.map((ms) => `${ms.toFixed(0)} ms`).join(', ')} (median ${median(startupMs).toFixed(0)} ms)`);
