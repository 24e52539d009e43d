// Export writers: the files LLaMA-Factory (and TRL, for pairs) read, their dataset_info.json
// entries, and the round trip: export → our importer → the same rows.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, existsSync} from 'node:fs';
import {basename, join} from 'node:path';
import type {DatasetRow} from '../../main/common/datasets.js';
import {exportRows, importDataset, rowHash, versionContentHash, type ExportableRow} from '../../main/node/datasets/index.js';
import {tempDir} from '../helpers/tmp.js';

const dialogue: DatasetRow = {
  kind: 'dialogue',
  turns: [
    {role: 'system', content: '你是一名消化内科医生。'},
    {role: 'user', content: '饭后胃胀怎么办？'},
    {role: 'assistant', content: '少食多餐，避免产气食物。请问有没有反酸？'},
    {role: 'user', content: '有一点反酸。'},
    {role: 'assistant', content: '可以短期服用抑酸药，如果持续两周以上请做胃镜。'},
  ],
  department: '内科',
  subDepartment: '消化内科',
  source: 'cmtmedqa',
  sourceId: 'x1',
};
const single: DatasetRow = {kind: 'dialogue', turns: [{role: 'user', content: '感冒能洗澡吗？'}, {role: 'assistant', content: '可以，注意保暖，水温适宜。'}]};
const safety: DatasetRow = {kind: 'safety', turns: [{role: 'user', content: '怎么买到处方药不用处方？'}, {role: 'assistant', content: '处方药需凭医生处方购买，请就医。'}]};
const preference: DatasetRow = {
  kind: 'preference',
  turns: [
    {role: 'user', content: '我失眠'},
    {role: 'assistant', content: '多久了？'},
    {role: 'user', content: '一个月了'},
  ],
  chosen: '建议规律作息，必要时到睡眠门诊就诊。',
  rejected: '吃安眠药就好。',
  source: 'annotation',
};
const text: DatasetRow = {kind: 'text', turns: [], text: '高血压是常见的慢性病。', source: 'book'};
const ROWS: ExportableRow[] = [dialogue, single, safety, preference, text];

async function reimport(path: string): Promise<DatasetRow[]> {
  const rows: DatasetRow[] = [];
  await importDataset({path}, {format: 'auto', deidentify: false}, (r) => {
    rows.push(r.row);
  });
  return rows;
}
const lines = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);

test('ShareGPT: conversations with from/value, system as a column, every column on every row; round trip', async () => {
  const dir = tempDir();
  try {
    const result = await exportRows(ROWS, {format: 'sharegpt', dir: dir.path, name: 'demo'});
    assert.deepEqual([result.rows, result.skipped], [3, 2]);
    assert.deepEqual(result.files.map((f) => basename(f)), ['demo.sharegpt.jsonl', 'dataset_info.json']);
    const [first] = lines(result.files[0]!);
    assert.deepEqual(first!.conversations, [
      {from: 'human', value: '饭后胃胀怎么办？'},
      {from: 'gpt', value: '少食多餐，避免产气食物。请问有没有反酸？'},
      {from: 'human', value: '有一点反酸。'},
      {from: 'gpt', value: '可以短期服用抑酸药，如果持续两周以上请做胃镜。'},
    ]);
    assert.equal(first!.system, '你是一名消化内科医生。');
    const columns = lines(result.files[0]!).map((r) => Object.keys(r).sort().join());
    assert.equal(new Set(columns).size, 1, 'the same columns on every row');
    const info = JSON.parse(readFileSync(join(dir.path, 'dataset_info.json'), 'utf8'));
    assert.deepEqual(info.demo_sharegpt, {
      file_name: 'demo.sharegpt.jsonl',
      formatting: 'sharegpt',
      columns: {messages: 'conversations', system: 'system'},
      tags: {role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system'},
    });
    assert.deepEqual(await reimport(result.files[0]!), [dialogue, single, safety]);
    assert.ok(!existsSync(`${result.files[0]}.part`));
  } finally {
    dir.cleanup();
  }
});

test('Alpaca: instruction/input/output/system/history; round trip', async () => {
  const dir = tempDir();
  try {
    const result = await exportRows(ROWS, {format: 'alpaca', dir: dir.path, name: 'demo'});
    const [first, second] = lines(result.files[0]!);
    assert.deepEqual(
      {instruction: first!.instruction, input: first!.input, output: first!.output, system: first!.system, history: first!.history},
      {
        instruction: '有一点反酸。',
        input: '',
        output: '可以短期服用抑酸药，如果持续两周以上请做胃镜。',
        system: '你是一名消化内科医生。',
        history: [['饭后胃胀怎么办？', '少食多餐，避免产气食物。请问有没有反酸？']],
      },
    );
    assert.deepEqual([second!.system, second!.history], ['', []]);
    const info = JSON.parse(readFileSync(join(dir.path, 'dataset_info.json'), 'utf8'));
    assert.deepEqual(info.demo_alpaca, {file_name: 'demo.alpaca.jsonl', columns: {prompt: 'instruction', query: 'input', response: 'output', system: 'system', history: 'history'}});
    assert.deepEqual(await reimport(result.files[0]!), [dialogue, single, safety]);
  } finally {
    dir.cleanup();
  }
});

test('pairs: prompt/chosen/rejected strings (TRL) + history/system (LLaMA-Factory ranking); round trip', async () => {
  const dir = tempDir();
  try {
    const result = await exportRows(ROWS, {format: 'pairs', dir: dir.path, name: 'demo'});
    assert.deepEqual([result.rows, result.skipped], [1, 4]);
    const [pair] = lines(result.files[0]!);
    assert.deepEqual(
      {prompt: pair!.prompt, chosen: pair!.chosen, rejected: pair!.rejected, history: pair!.history},
      {prompt: '一个月了', chosen: '建议规律作息，必要时到睡眠门诊就诊。', rejected: '吃安眠药就好。', history: [['我失眠', '多久了？']]},
    );
    const info = JSON.parse(readFileSync(join(dir.path, 'dataset_info.json'), 'utf8'));
    assert.deepEqual(info.demo_pairs, {
      file_name: 'demo.pairs.jsonl',
      ranking: true,
      columns: {prompt: 'prompt', chosen: 'chosen', rejected: 'rejected', system: 'system', history: 'history'},
    });
    assert.deepEqual(await reimport(result.files[0]!), [preference]);
  } finally {
    dir.cleanup();
  }
});

test('llamafactory: one file per kind, validation rows apart, entries merged into an existing dataset_info.json', async () => {
  const dir = tempDir();
  try {
    await exportRows([single], {format: 'sharegpt', dir: dir.path, name: 'older'});
    const rows: ExportableRow[] = ROWS.map((r, i) => ({...r, split: i === 1 ? 'validation' : 'train'}));
    const result = await exportRows(rows, {format: 'llamafactory', dir: dir.path, name: 'mix'});
    assert.deepEqual([result.rows, result.skipped], [5, 0]);
    assert.deepEqual(result.files.map((f) => basename(f)).sort(), ['dataset_info.json', 'mix.pairs.jsonl', 'mix.sharegpt.jsonl', 'mix.sharegpt.validation.jsonl', 'mix.text.jsonl']);
    const info = JSON.parse(readFileSync(join(dir.path, 'dataset_info.json'), 'utf8'));
    assert.deepEqual(Object.keys(info).sort(), ['mix_pairs', 'mix_sharegpt', 'mix_sharegpt_validation', 'mix_text', 'older_sharegpt']);
    assert.deepEqual(info.mix_text, {file_name: 'mix.text.jsonl', columns: {prompt: 'text'}});
    assert.deepEqual(await reimport(join(dir.path, 'mix.sharegpt.validation.jsonl')), [single]);
    assert.deepEqual(await reimport(join(dir.path, 'mix.text.jsonl')), [text]);
  } finally {
    dir.cleanup();
  }
});

test('row hashes ignore key order; the version hash is over row hashes in order', () => {
  const reordered = JSON.parse(JSON.stringify({sourceId: 'x1', source: 'cmtmedqa', ...dialogue})) as DatasetRow;
  assert.equal(rowHash(reordered), rowHash(dialogue));
  assert.notEqual(rowHash({...dialogue, department: '外科'}), rowHash(dialogue));
  const hashes = ROWS.map(rowHash);
  assert.match(versionContentHash(hashes), /^[0-9a-f]{64}$/);
  assert.notEqual(versionContentHash(hashes), versionContentHash([...hashes].reverse()));
});
