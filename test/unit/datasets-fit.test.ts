// What a version can give to an export format or a mix component, and why not, in both
// languages (main/common/dataset-fit.ts) — and the services refusing with those words instead of
// "已导出 0 行" with dataset_info.json = {} or a mix of "约 0 行", freezing nothing on the way.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {DatasetStats} from '../../main/common/datasets.js';
import {AppError} from '../../main/common/errors.js';
import {exportFit, mixComponentEmpty} from '../../main/common/dataset-fit.js';
import {exportRows} from '../../main/node/datasets/index.js';
import {startServices} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';

const HAN = /\p{Script=Han}/u;
/** zh is Chinese; en has no Chinese except the names a person gave (quoted as they are). */
function assertBilingual(text: {zh: string; en: string} | null, what: string, names: string[] = []): asserts text is {zh: string; en: string} {
  assert.ok(text, `${what}: a reason is given`);
  assert.match(text.zh, HAN, `${what}: zh is Chinese`);
  assert.doesNotMatch(names.reduce((en, name) => en.replaceAll(name, ''), text.en), HAN, `${what}: en has no Chinese`);
}

function stats(single: number, multi: number, extra: DatasetStats['byKind'] = {}): DatasetStats {
  const dialogues = single + multi;
  const rows = dialogues + Object.values(extra).reduce((n, c) => n + (c ?? 0), 0);
  return {
    rows,
    dialogues,
    turns: single + multi * 2,
    singleTurn: single,
    multiTurn: multi,
    byKind: {...(dialogues ? {dialogue: dialogues} : {}), ...extra},
    byDepartment: [],
    bySource: [],
    turnHistogram: [single, multi, 0, 0, 0, 0, 0, 0, 0, 0],
    characters: 0,
    split: {train: rows, validation: 0},
  };
}

test('export fit: rows per format, what is skipped, and why nothing when nothing', () => {
  const dialoguesOnly = exportFit({dialogue: 24}, 'pairs');
  assert.equal(dialoguesOnly.rows, 0);
  assertBilingual(dialoguesOnly.empty, 'pairs from dialogues');
  assert.match(dialoguesOnly.empty.zh, /没有偏好对数据/);
  assert.match(dialoguesOnly.empty.zh, /对话 24 行/, 'says what the version has instead');
  assert.match(dialoguesOnly.empty.en, /no preference rows/);
  assert.match(dialoguesOnly.empty.en, /24 dialogue rows/);

  const pairsOnly = exportFit({preference: 3}, 'sharegpt');
  assertBilingual(pairsOnly.empty, 'ShareGPT from preference rows');
  assert.match(pairsOnly.empty.zh, /偏好对 3 行/);
  assertBilingual(exportFit({}, 'llamafactory').empty, 'an empty version');

  const mixed = exportFit({dialogue: 10, safety: 2, preference: 3, text: 1}, 'alpaca');
  assert.deepEqual({rows: mixed.rows, skipped: mixed.skipped, empty: mixed.empty}, {rows: 12, skipped: {preference: 3, text: 1}, empty: null});
  assert.deepEqual(exportFit({dialogue: 10, preference: 3, text: 1}, 'llamafactory'), {rows: 14, skipped: {}, empty: null});
});

test('mix fit: a component with nothing under its filter says which one and why', () => {
  const singleOnly = stats(21, 0);
  assert.equal(mixComponentEmpty(singleOnly, 'single', {index: 0, name: '问答', version: 1}), null);
  const multi = mixComponentEmpty(singleOnly, 'multi', {index: 1, name: '问答', version: 1});
  assertBilingual(multi, '7:1 from single-turn rows only', ['问答']);
  assert.match(multi.zh, /第 2 项（「问答」v1，多轮）/);
  assert.match(multi.zh, /没有多轮对话/);
  assert.match(multi.zh, /单轮对话 21 行/);
  assert.match(multi.en, /Component 2 \("问答" v1, multi-turn\)/);
  assert.match(multi.en, /no multi-turn dialogues, only 21 single-turn dialogues, so this recipe selects no rows/);
  const pairs = mixComponentEmpty(stats(0, 0, {preference: 5}), 'single', {index: 0, name: 'p', version: 2});
  assertBilingual(pairs, 'single-turn from preference rows');
  assert.match(pairs.zh, /偏好对 5 行/);
  assertBilingual(mixComponentEmpty(stats(0, 0), 'any', {index: 0, name: 'e', version: 1}), 'an empty version');
});

test('exportRows writes nothing (no dataset_info.json either) when no row fits the format', async () => {
  const dir = tempDir();
  try {
    const preference = {kind: 'preference' as const, turns: [{role: 'user' as const, content: '失眠怎么办？'}], chosen: '规律作息。', rejected: '喝酒。'};
    await assert.rejects(exportRows([preference], {format: 'sharegpt', dir: dir.path, name: 'p'}), (error: unknown) => error instanceof AppError && error.code === 'validation' && HAN.test(error.localised.zh));
    assert.equal(existsSync(join(dir.path, 'dataset_info.json')), false, 'no empty dataset_info.json');
    assert.equal(existsSync(join(dir.path, 'p.sharegpt.jsonl')), false);
  } finally {
    dir.cleanup();
  }
});

test('the services refuse an empty export and an empty mix with the reason, and freeze nothing', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const file = join(s.dataDir, 'single.jsonl');
  writeFileSync(file, Array.from({length: 7}, (_, i) => JSON.stringify({conversation: [{role: 'user', content: `头痛${i + 1}天`}, {role: 'assistant', content: '有没有发热？'}]})).join('\n'));
  const {datasetId} = await s.services.datasets.importNow({path: file, name: '单轮问答', deidentify: false});

  const outDir = join(s.dataDir, 'out');
  const exported = await s.callRaw('datasets.export', {id: datasetId, format: 'pairs', outDir});
  assert.ok(!exported.ok, 'a preference-pair export of dialogues is refused');
  assert.equal(exported.error.code, 'validation');
  assert.match(exported.error.message.zh, /没有偏好对数据/);
  assert.match(exported.error.message.en, /no preference rows/);
  assert.equal(existsSync(join(outDir, 'dataset_info.json')), false, 'no dataset_info.json = {}');

  const mixed = await s.callRaw('datasets.mix', {name: '七比一', components: [{datasetId, ratio: 7, filter: 'single'}, {datasetId, ratio: 1, filter: 'multi'}]});
  assert.ok(!mixed.ok, 'a 7:1 mix of a single-turn-only dataset is refused');
  assert.match(mixed.error.message.zh, /第 2 项（「单轮问答」v1，多轮）没有可用的行/);
  assert.match(mixed.error.message.en, /Component 2 \("单轮问答" v1, multi-turn\) has nothing to draw from/);
  assertBilingual(mixed.error.message, 'the refused mix', ['单轮问答']);

  const detail = await s.call('datasets.get', {id: datasetId});
  assert.equal(detail.version.state, 'open', 'a refused export or mix does not freeze the version');
  const ok = await s.call('datasets.export', {id: datasetId, format: 'sharegpt', outDir});
  assert.equal(ok.rows, 7);
});
