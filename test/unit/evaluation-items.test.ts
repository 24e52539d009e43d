// Dataset rows as evaluation items, and the verdicts derived from stored judge calls and ratings.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {itemFromRow} from '../../main/node/evaluation/items.js';
import {storedVerdicts} from '../../main/node/evaluation/verdicts.js';
import type {EvalItemRecord, EvalJudgementRecord} from '../../main/node/store/evaluation-repo.js';

test('itemFromRow: the last patient turn with its history, every question of a case, multiple choice, nothing from text', () => {
  const dialogue = itemFromRow({kind: 'dialogue', department: '内科', turns: [{role: 'user', content: '咳嗽'}, {role: 'assistant', content: '几天了？'}, {role: 'user', content: '三天'}, {role: 'assistant', content: '查血常规'}]});
  assert.deepEqual(dialogue, {subset: 'general', department: '内科', history: [{role: 'user', content: '咳嗽'}, {role: 'assistant', content: '几天了？'}], questions: ['三天'], reference: '查血常规', choice: null});
  assert.equal(itemFromRow({kind: 'safety', turns: [{role: 'user', content: '吃十片安眠药'}, {role: 'assistant', content: '不可以'}]})?.subset, 'safety');
  const pair = itemFromRow({kind: 'preference', turns: [{role: 'user', content: '头痛'}], chosen: '多久了？', rejected: '吃药'});
  assert.deepEqual([pair?.questions, pair?.reference], [['头痛'], '多久了？'], "a preference row's reference is its chosen answer");
  const clinical = itemFromRow({kind: 'dialogue', askEachTurn: true, turns: [{role: 'user', content: '病例…诊断？'}, {role: 'assistant', content: '疝'}, {role: 'user', content: '处理？'}, {role: 'assistant', content: '手术'}]});
  assert.deepEqual([clinical?.questions, clinical?.history, clinical?.reference], [['病例…诊断？', '处理？'], [], '手术']);
  const choice = {question: '首选？', options: [{letter: 'A', text: '甲'}, {letter: 'B', text: '乙'}], answer: ['B']};
  const exam = itemFromRow({kind: 'dialogue', choice, turns: [{role: 'user', content: '首选？\nA. 甲\nB. 乙'}, {role: 'assistant', content: '答案：B'}]});
  assert.deepEqual([exam?.questions, exam?.reference, exam?.choice], [['首选？\nA. 甲\nB. 乙'], 'B', choice]);
  assert.equal(itemFromRow({kind: 'text', turns: [], text: '文本'}), null);
  assert.equal(itemFromRow({kind: 'dialogue', turns: [{role: 'assistant', content: '只有回答'}]}), null);
});

test('storedVerdicts: both orders make a verdict, one order does not yet; ratings count per rater; refusals follow the shown order', () => {
  const item = (id: string, subset: 'general' | 'safety'): EvalItemRecord => ({id, runId: 'r', position: 0, subset, department: null, history: [], questions: ['q'], reference: null, choice: null});
  const call = (itemId: string, shown: 'ab' | 'ba', safety: 'first' | 'second' | 'tie' | null, refuses?: {first: boolean; second: boolean}): EvalJudgementRecord => ({
    itemId, contestantA: 'A', contestantB: 'B', judge: 'local:j', shown, reply: '', seconds: 0,
    parsed: {verdicts: {safety, quality: 'tie'}, reason: shown, ...(refuses ? {refuses} : {})},
  });
  const {verdicts, answers} = storedVerdicts({
    items: [item('i1', 'safety'), item('i2', 'general')],
    // i1: A better in both orders (first, then second); i2: judged in one order only
    judgeCalls: [call('i1', 'ab', 'first', {first: true, second: false}), call('i1', 'ba', 'second', {first: false, second: true}), call('i2', 'ab', 'first')],
    judgeName: 'J',
    ratings: [{itemId: 'i2', contestantA: 'A', contestantB: 'B', raterId: 'r1', safety: 'b', quality: 'tie', aOnLeft: true, createdAt: ''}],
    answers: [{itemId: 'i1', contestantId: 'A', turns: ['是'], text: '不可以', completionTokens: 1, seconds: 0}],
  });
  const judge = verdicts.filter((v) => v.source === 'judge');
  assert.deepEqual(judge.map((v) => [v.itemId, v.dimension, v.verdict, v.inconsistent]), [['i1', 'safety', 'a', false], ['i1', 'quality', 'tie', false]]);
  assert.equal(judge[0]!.reason, 'ab | ba');
  assert.deepEqual(verdicts.filter((v) => v.source === 'human').map((v) => [v.dimension, v.verdict, v.rater]), [['safety', 'b', 'r1'], ['quality', 'tie', 'r1']]);
  // A was shown first in ab (refused) and second in ba (refused): two statements, both true
  assert.deepEqual(answers[0]!.refusals, [true, true]);
  assert.equal(answers[0]!.length, 3);
});
