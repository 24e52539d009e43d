import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readFileSync, readdirSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {ItemAnnotation, RankItem} from '../../main/common/annotation.js';
import {preferencePairs, rankingFromOrder, resolveFinal} from '../../main/common/annotation.js';
import type {ResolvedItem} from '../../main/node/annotation/formats.js';
import {
  exportPreferencePairs,
  exportRankings,
  exportSftCorrections,
  llamaFactoryDatasetInfo,
  parseJsonl,
  parsePreferencePairsJsonl,
  parseRankingJsonl,
  preferenceRecords,
  rankingRecord,
  turnsToPairs,
  writeJsonl,
} from '../../main/node/annotation/formats.js';
import {tempDir} from '../helpers/tmp.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sharedData = process.env.ZHONGJING_SHARED_DATA ?? resolve(repoRoot, '../shared/data');

const multiTurn: RankItem = {
  history: [
    {role: 'system', content: '你是仲景，一名中医全科医生。'},
    {role: 'user', content: '我最近总是失眠。'},
    {role: 'assistant', content: '失眠多久了？入睡困难还是早醒？'},
  ],
  question: '两个月了，主要是入睡困难。',
  candidates: ['建议规律作息，睡前避免咖啡因；如持续可就医评估。', '吃点安眠药就行。', '可以试试睡前泡脚，放松心情。', '多喝热水。'],
};
const singleTurn: RankItem = {history: [], question: '发烧39度怎么办？', candidates: ['先物理降温并及时就医。', '先物理降温并及时就医。', '不用管。']};
const allWrong: RankItem = {history: [], question: '这个罕见病用什么新药？', candidates: ['编造的药名A', '编造的药名B']};

const resolved: ResolvedItem[] = [
  {item: multiTurn, ranking: rankingFromOrder([0, 2, 3, 1])}, // strict: C(4,2) = 6 pairs
  {item: singleTurn, ranking: [[0], [1], [2]]}, // 3 pairs, but 0 and 1 are the same text → 2
  {item: allWrong, ranking: [[1], [0]], allWrong: true, correction: null}, // default correction on top → 3
];

test('preference records: C(K,2) per strict item, identical texts dropped, correction ranked first', () => {
  const records = [...preferenceRecords(resolved)];
  assert.equal(records.length, 6 + 2 + 3);
  assert.equal(records[0]!.system, '你是仲景，一名中医全科医生。');
  assert.deepEqual(records[0]!.history.map((t) => t.role), ['user', 'assistant']);
  assert.ok(records.every((r) => r.chosen !== r.rejected));
  const corrections = records.filter((r) => r.question === allWrong.question);
  assert.deepEqual(corrections.map((r) => [r.chosen, r.rejected]), [
    ['抱歉，我不知道……', '编造的药名B'], ['抱歉，我不知道……', '编造的药名A'], ['编造的药名B', '编造的药名A'],
  ]);
  assert.equal([...preferenceRecords(resolved, {allWrong: 'skip'})].length, 8);
  assert.equal([...preferenceRecords(resolved, {allWrong: 'ranking-only'})].length, 9);
  assert.throws(() => [...preferenceRecords([{item: allWrong, ranking: [[0]]}])], /1 of 2/);
});

test('LLaMA-Factory sharegpt/alpaca and TRL exports read back as the same pairs', async () => {
  const dir = tempDir();
  try {
    const expected = [...preferenceRecords(resolved)];
    const read = (name: string) => parseJsonl(readFileSync(join(dir.path, name), 'utf8')).map((l) => l.value as Record<string, any>);

    assert.equal(await exportPreferencePairs(join(dir.path, 'lf-sharegpt.jsonl'), resolved, 'llamafactory-sharegpt'), expected.length);
    read('lf-sharegpt.jsonl').forEach((row, i) => {
      const conv = row.conversations as {from: string; value: string}[];
      // LLaMA-Factory: human at odd positions (1-based), gpt at even, ending with the human prompt
      assert.equal(conv.length % 2, 1);
      conv.forEach((m, j) => assert.equal(m.from, j % 2 === 0 ? 'human' : 'gpt'));
      assert.deepEqual(Object.keys(row).sort(), ['chosen', 'conversations', 'rejected', 'system']);
      assert.deepEqual(row.chosen, {from: 'gpt', value: expected[i]!.chosen});
      assert.deepEqual(row.rejected, {from: 'gpt', value: expected[i]!.rejected});
      assert.equal(conv.at(-1)!.value, expected[i]!.question);
      assert.deepEqual(conv.slice(0, -1).map((m) => m.value), expected[i]!.history.map((t) => t.content));
      assert.equal(row.system, expected[i]!.system);
    });

    await exportPreferencePairs(join(dir.path, 'lf-alpaca.jsonl'), resolved, 'llamafactory-alpaca');
    read('lf-alpaca.jsonl').forEach((row, i) => {
      assert.deepEqual(row, {
        instruction: expected[i]!.question, input: '', chosen: expected[i]!.chosen, rejected: expected[i]!.rejected,
        history: turnsToPairs(expected[i]!.history), system: expected[i]!.system,
      });
    });
    assert.deepEqual(read('lf-alpaca.jsonl')[0]!.history, [['我最近总是失眠。', '失眠多久了？入睡困难还是早醒？']]);

    await exportPreferencePairs(join(dir.path, 'trl.jsonl'), resolved, 'trl');
    read('trl.jsonl').forEach((row, i) => {
      assert.deepEqual(Object.keys(row).sort(), ['chosen', 'prompt', 'rejected']);
      const prompt = row.prompt as {role: string; content: string}[];
      assert.deepEqual(prompt.at(-1), {role: 'user', content: expected[i]!.question});
      assert.deepEqual(row.chosen, [{role: 'assistant', content: expected[i]!.chosen}]);
      assert.deepEqual(row.rejected, [{role: 'assistant', content: expected[i]!.rejected}]);
      if (expected[i]!.system) assert.deepEqual(prompt[0], {role: 'system', content: expected[i]!.system});
      else assert.equal(prompt[0]!.role, 'user');
    });
    assert.deepEqual(readdirSync(dir.path).filter((f) => f.endsWith('.partial')), []);
  } finally {
    dir.cleanup();
  }
});

test('dataset_info entries for LLaMA-Factory', () => {
  assert.deepEqual(llamaFactoryDatasetInfo('p.jsonl', 'llamafactory-sharegpt'), {
    file_name: 'p.jsonl', formatting: 'sharegpt', ranking: true,
    columns: {messages: 'conversations', chosen: 'chosen', rejected: 'rejected', system: 'system'},
  });
  assert.equal(llamaFactoryDatasetInfo('a.jsonl', 'llamafactory-alpaca').ranking, true);
  assert.equal(llamaFactoryDatasetInfo('s.jsonl', 'sft-sharegpt').ranking, undefined);
});

test('history that does not alternate user/assistant is refused, not silently reshaped', async () => {
  const broken: ResolvedItem = {item: {history: [{role: 'user', content: 'a'}, {role: 'user', content: 'b'}], question: 'q', candidates: ['x', 'y']}, ranking: [[0], [1]]};
  const dir = tempDir();
  try {
    for (const format of ['llamafactory-sharegpt', 'llamafactory-alpaca', 'trl'] as const) {
      await assert.rejects(exportPreferencePairs(join(dir.path, `${format}.jsonl`), [broken], format), /alternate/);
    }
    assert.deepEqual(readdirSync(dir.path), [], 'no partial or final file left behind');
  } finally {
    dir.cleanup();
  }
});

const at = (d: number): string => `2026-11-${String(d).padStart(2, '0')}T08:00:00.000Z`;
const ann = (annotatorId: string, order: number[], d: number, extra: Partial<ItemAnnotation> = {}): ItemAnnotation =>
  ({annotatorId, role: 'annotator', ranking: rankingFromOrder(order), allWrong: false, annotatedAt: at(d), ...extra});

test('K-wise ranking JSONL round-trips items, every annotator and the final decision', async () => {
  const entries = [
    {item: {...multiTurn, source: 'test', sourceId: 'm1'}, annotations: [ann('doc-a', [0, 2, 3, 1], 1), ann('doc-b', [0, 3, 2, 1], 2)]},
    {item: singleTurn, annotations: [ann('doc-a', [0, 1, 2], 1), ann('doc-b', [2, 1, 0], 2)]}, // needs adjudication
    {item: allWrong, annotations: [ann('doc-c', [1, 0], 3, {role: 'adjudicator', allWrong: true, correction: '抱歉，我不知道这种新药。'})]},
  ];
  const records = entries.map((e) => rankingRecord(e.item, e.annotations, resolveFinal(e.annotations)));
  assert.deepEqual(records[0]!.tiers, [[0], [2, 3], [1]]);
  assert.deepEqual(records[0]!.final, {method: 'consensus', allWrong: false, correction: null});
  assert.equal(records[1]!.tiers, null);
  assert.equal(records[1]!.final, null);
  const dir = tempDir();
  try {
    const path = join(dir.path, 'rankings.jsonl');
    assert.equal(await exportRankings(path, records), 3);
    const back = parseRankingJsonl(readFileSync(path, 'utf8'));
    back.forEach((b, i) => {
      assert.deepEqual(b.item, entries[i]!.item);
      assert.deepEqual(b.annotations, entries[i]!.annotations.map((a) => ({...a, correction: a.correction ?? null})));
    });
    assert.equal(back[1]!.resolved, null);
    assert.deepEqual(back[2]!.resolved, {item: allWrong, ranking: [[1], [0]], allWrong: true, correction: '抱歉，我不知道这种新药。'});
    // a record whose content was edited no longer matches its id
    const tampered = readFileSync(path, 'utf8').replace('两个月了', '三个月了');
    assert.throws(() => parseRankingJsonl(tampered), /line 1: content does not match/);

    const settled = back.flatMap((b) => (b.resolved ? [b.resolved] : []));
    const sft = join(dir.path, 'sft.jsonl');
    assert.equal(await exportSftCorrections(sft, settled), 1);
    assert.deepEqual(parseJsonl(readFileSync(sft, 'utf8'))[0]!.value, {
      conversations: [{from: 'human', value: allWrong.question}, {from: 'gpt', value: '抱歉，我不知道这种新药。'}],
      system: '',
    });
  } finally {
    dir.cleanup();
  }
});

test('writeJsonl streams large async sources with back-pressure and cleans up on failure', async () => {
  const dir = tempDir();
  try {
    const big = join(dir.path, 'big.jsonl');
    const line = '很长的回答'.repeat(200);
    async function* rows() {
      for (let i = 0; i < 5000; i++) yield {i, line};
    }
    assert.equal(await writeJsonl(big, rows()), 5000);
    const parsed = parseJsonl(readFileSync(big, 'utf8'));
    assert.equal(parsed.length, 5000);
    assert.deepEqual(parsed[4999]!.value, {i: 4999, line});
    function* failing() {
      yield {ok: true};
      throw new Error('source broke');
    }
    await assert.rejects(writeJsonl(join(dir.path, 'fail.jsonl'), failing()), /source broke/);
    assert.deepEqual(readdirSync(dir.path).sort(), ['big.jsonl']);
    await assert.rejects(writeJsonl(join(dir.path, 'no-such-dir', 'x.jsonl'), rows()), /ENOENT/);
  } finally {
    dir.cleanup();
  }
});

test('pairwise JSONL (MedicalGPT reward format) imports as K = 2 items ranked chosen first', () => {
  const text = [
    JSON.stringify({question: '头痛怎么办？', response_chosen: '先休息，持续不缓解请就医。', response_rejected: '忍着。'}),
    '',
    JSON.stringify({system: '你是医生。', history: [['你好', '您好，请问哪里不舒服？']], question: '咳嗽', response_chosen: '咳嗽多久了？', response_rejected: '没事。'}),
    JSON.stringify({question: 'q', response_chosen: 'same', response_rejected: 'same'}),
    JSON.stringify({question: 'q', response_chosen: 'x'}),
  ].join('\n');
  const {entries, problems} = parsePreferencePairsJsonl(text, {source: 'medicalgpt'});
  assert.equal(entries.length, 2);
  assert.deepEqual(entries[0]!.item.candidates, ['先休息，持续不缓解请就医。', '忍着。']);
  assert.deepEqual(entries[0]!.annotations[0]!.ranking, [[0], [1]]);
  assert.deepEqual(entries[1]!.item.history.map((t) => t.role), ['system', 'user', 'assistant']);
  assert.equal(entries[1]!.item.sourceId, '3');
  assert.deepEqual(problems.map((p) => p.line), [4, 5]);
  // and straight back out as one pair each
  const out = [...preferenceRecords(entries.map((e) => ({item: e.item, ranking: e.annotations[0]!.ranking})))];
  assert.deepEqual(out.map((r) => [r.chosen, r.rejected, r.system]), [['先休息，持续不缓解请就医。', '忍着。', ''], ['咳嗽多久了？', '没事。', '你是医生。']]);
});

test('shared MedicalGPT reward_test.json imports completely', (t) => {
  const file = join(sharedData, 'medicalgpt', 'reward_test.json');
  if (!existsSync(file)) {
    console.log(`skipped: ${file} not found (set ZHONGJING_SHARED_DATA)`);
    t.skip('shared data absent');
    return;
  }
  const {entries, problems} = parsePreferencePairsJsonl(readFileSync(file, 'utf8'), {source: 'medicalgpt'});
  assert.equal(entries.length + problems.length, 100);
  assert.ok(entries.length >= 95, `${entries.length} imported, problems: ${JSON.stringify(problems.slice(0, 3))}`);
  for (const e of entries) assert.equal(preferencePairs(e.annotations[0]!.ranking).length, 1);
});
