// Benchmark: expert annotation on the real services — K=4 candidate generation with the tiny
// model in the engine process (tokens/s), and the time to save a ranking durably (p50/p99 over
// many saves, WAL + synchronous=FULL), as the ranking screen does.
//
//   node --import tsx bench/annotation.ts [--items 8] [--max-tokens 128] [--saves 1000] [--threads 1]

import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import {createDispatch, createHandlers} from '../main/node/api/handlers.js';
import {forkEngine} from '../main/node/engine/fork-engine.js';
import {makeTinyModel} from '../main/node/models/tiny-model.js';
import {Services} from '../main/node/services/index.js';
import type {ApiEvent, MethodInput, MethodName, MethodOutput} from '../main/common/contract.js';

const {values} = parseArgs({
  options: {items: {type: 'string', default: '8'}, 'max-tokens': {type: 'string', default: '128'}, saves: {type: 'string', default: '1000'}, threads: {type: 'string', default: '1'}},
});
const dir = mkdtempSync(join(tmpdir(), 'zj-annotation-bench-'));
const services = new Services({dataDir: dir, spawnEngine: forkEngine, threads: Number(values.threads)});
const dispatch = createDispatch(createHandlers(services));
async function call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
  const envelope = await dispatch(method, input);
  if (!envelope.ok) throw new Error(envelope.error.message.en);
  return envelope.result as MethodOutput<M>;
}
const events: ApiEvent[] = [];
services.bus.subscribe((e) => events.push(e));

try {
  const modelPath = join(dir, 'tiny.gguf');
  await makeTinyModel(modelPath);
  const file = join(dir, 'dialogues.jsonl');
  writeFileSync(file, Array.from({length: Number(values.items)}, (_, i) => JSON.stringify({conversation: [{role: 'user', content: `我头痛${i + 1}天了，还发热`}, {role: 'assistant', content: '请问体温多少？'}]})).join('\n'));
  const {datasetId} = await services.datasets.importNow({path: file, deidentify: false});
  const model = await call('models.add', {path: modelPath});
  const project = await call('annotation.createProject', {name: 'bench', datasetId, maxItems: Number(values.items), generation: {modelId: model.id, maxTokens: Number(values['max-tokens'])}});
  const started = performance.now();
  await call('annotation.generate', {projectId: project.id});
  while (!events.some((e) => e.type === 'annotation.progress' && e.finished)) await new Promise((r) => setTimeout(r, 20));
  const end = events.find((e) => e.type === 'annotation.progress' && e.finished);
  const seconds = (performance.now() - started) / 1000;
  if (end?.type === 'annotation.progress')
    console.log(`candidates      ${end.total} (K=4 × ${values.items} items, ≤${values['max-tokens']} tokens each) in ${seconds.toFixed(1)} s: ${end.tokensPerSecond.toFixed(0)} tokens/s (engine process, ${values.threads} thread, includes prompt evaluation of the default system prompt)`);

  const annotator = await call('annotators.create', {name: 'bench', role: 'annotator'});
  const items = services.store.annotation.items(project.id);
  const times: number[] = [];
  for (let n = 0; n < Number(values.saves); n++) {
    const item = items[n % items.length]!;
    const t0 = performance.now();
    await call('annotation.save', {itemId: item.id, annotatorId: annotator.id, ranking: n % 2 ? [[0], [1], [2], [3]] : [[1], [0], [3, 2]], marks: [], comment: `#${n}`, allWrong: false, correction: null});
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => times[Math.min(times.length - 1, Math.floor(times.length * q))]!.toFixed(2);
  console.log(`save ranking    ${times.length} saves through the API dispatch: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, max ${times.at(-1)!.toFixed(2)} ms (WAL, synchronous=FULL)`);
} finally {
  await services.close();
  rmSync(dir, {recursive: true, force: true});
}
