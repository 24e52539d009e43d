// Adjudication through the API, without generating candidates (the items come from an imported
// preference-pair file): the expert starts from one annotator's judgement and keeps everything
// that annotator decided — order, ability marks, "all answers are wrong" and the correction —
// and the SFT-corrections export then holds the (edited) correction.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {startServices} from '../helpers/services.js';

test('adjudication keeps everything the annotator it starts from decided; corrections are exported', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const file = join(s.dataDir, 'pairs.jsonl');
  writeFileSync(file, JSON.stringify({question: '孩子发热39度能用阿司匹林吗？', response_chosen: '可以，按成人剂量减半。', response_rejected: '可以，多喝水。'}) + '\n');
  const imported = await s.call('annotation.import', {paths: [file]});
  const projectId = imported.projectIds[0]!;
  const [item] = s.services.store.annotation.items(projectId);
  assert.ok(item, 'the pair became an item');

  const alice = await s.call('annotators.create', {name: '李医生', role: 'annotator'});
  const bob = await s.call('annotators.create', {name: '王医生', role: 'annotator'});
  const expert = await s.call('annotators.create', {name: '张主任', role: 'expert'});
  await s.call('annotation.save', {itemId: item.id, annotatorId: alice.id, ranking: [[0], [1]], marks: [{accuracy: 3}, {accuracy: 2}]});
  const bobsMarks = [{accuracy: 1 as const, safety: 1 as const}, {accuracy: 1 as const, safety: 2 as const}];
  const bobsCorrection = '儿童发热不应使用阿司匹林（有瑞氏综合征风险），可用对乙酰氨基酚或布洛芬，并及时就医。';
  await s.call('annotation.save', {itemId: item.id, annotatorId: bob.id, ranking: [[1], [0]], marks: bobsMarks, allWrong: true, correction: bobsCorrection});

  const [view] = await s.call('annotation.disagreements', {projectId});
  assert.ok(view, 'the split on "all wrong" is a disagreement');
  const theirs = view.rankings.find((r) => r.annotatorId === bob.id);
  assert.ok(theirs, "Bob's judgement is in the queue");
  assert.deepEqual(theirs.ranking, [[1], [0]]);
  assert.deepEqual(theirs.marks, bobsMarks, 'the queue carries the ability marks, so they can be copied');
  assert.equal(theirs.allWrong, true);
  assert.equal(theirs.correction, bobsCorrection);

  // 以此为起点：王医生 → the expert edits the correction → 提交裁定
  const edited = `${theirs.correction}如持续高热超过三天请到儿科就诊。`;
  await s.call('annotation.adjudicate', {itemId: item.id, expertId: expert.id, ranking: theirs.ranking, marks: theirs.marks, allWrong: theirs.allWrong, correction: edited});
  assert.equal((await s.call('annotation.disagreements', {projectId})).length, 0, 'settled');
  const stored = s.services.store.annotation.ranking(item.id, expert.id, 'adjudication');
  assert.deepEqual(stored?.marks, bobsMarks, 'the marks the expert stood by are stored with the adjudication');
  assert.equal(stored?.allWrong, true);

  const out = join(s.dataDir, 'corrections.jsonl');
  const exported = await s.call('annotation.export', {projectId, format: 'corrections', outPath: out});
  assert.equal(exported.records, 1, 'the adjudicated all-wrong item is an SFT correction');
  const [record] = readFileSync(out, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as {conversations: {from: string; value: string}[]});
  assert.equal(record!.conversations.at(-1)!.value, edited, "the expert's edited correction is the answer");
  assert.equal(record!.conversations.at(-2)!.value, '孩子发热39度能用阿司匹林吗？');

  // marks for more answers than the item has are refused, as for an annotator's save
  const tooMany = await s.callRaw('annotation.adjudicate', {itemId: item.id, expertId: expert.id, ranking: [[0], [1]], marks: [{}, {}, {}]});
  assert.equal(!tooMany.ok && tooMany.error.code, 'validation', 'too many marks are refused');
});
