// Mix planning: the paper's 7:1 single:multi mix, token ratios, determinism, the default size,
// repeats only when asked for, and a validation split that never shares a row with training.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {mixSize, planMix, type MixComponentInput, type RowShape} from '../../main/node/datasets/index.js';

function rows(n: number, userTurns: (i: number) => number, chars: (i: number) => number = () => 100): RowShape[] {
  return Array.from({length: n}, (_, i) => ({position: i, kind: 'dialogue', userTurns: userTurns(i), chars: chars(i)}));
}

// one dataset holding both shapes: 10,000 single-turn and 1,500 multi-turn dialogues
const mixed = rows(11_500, (i) => (i < 10_000 ? 1 : 2 + (i % 4)), (i) => (i < 10_000 ? 300 : 1200));
const paper: MixComponentInput[] = [
  {datasetId: 'a', rows: mixed, ratio: 7, filter: 'single'},
  {datasetId: 'a', rows: mixed, ratio: 1, filter: 'multi'},
];

test("the paper's 7:1 single:multi mix, as large as the scarcer part allows", () => {
  const plan = planMix(paper, {unit: 'examples', seed: 42, validationFraction: 0.05});
  // single is scarcer (10,000 / 7 = 1,428 whole units of 7+1); whole-number ratios give an exact
  // multiple of their sum: 1,428 × 8 = 11,424 rows, exactly 9,996 : 1,428
  assert.equal(plan.picks.length, 1_428 * 8);
  const [single, multi] = plan.achieved;
  assert.equal(single!.examples, 9_996);
  assert.equal(multi!.examples, 1_428);
  assert.ok(single!.examples <= 10_000 && multi!.examples <= 1_500);
  // the filters hold
  for (const p of plan.picks) assert.equal(mixed[p.position]!.userTurns === 1, p.componentIndex === 0);
  // no row twice without a total that asks for it
  const keys = new Set(plan.picks.map((p) => `${p.componentIndex}:${p.position}`));
  assert.equal(keys.size, plan.picks.length);
});

test('seeded: the same seed gives the same plan, another seed another order', () => {
  const a = planMix(paper, {unit: 'examples', seed: 7, validationFraction: 0.1});
  const b = planMix(paper, {unit: 'examples', seed: 7, validationFraction: 0.1});
  const c = planMix(paper, {unit: 'examples', seed: 8, validationFraction: 0.1});
  assert.deepEqual(a, b);
  assert.notDeepEqual(a.picks, c.picks);
  // the output order is shuffled: the two components are interleaved, not in blocks
  const firstHundred = a.picks.slice(0, 100).map((p) => p.componentIndex);
  assert.ok(firstHundred.includes(0) && firstHundred.includes(1));
});

test('validation split: the fraction per component, and a row is never in both splits', () => {
  const plan = planMix(paper, {unit: 'examples', seed: 1, validationFraction: 0.1, total: 20_000});
  for (const component of [0, 1]) {
    const picks = plan.picks.filter((p) => p.componentIndex === component);
    const validation = new Set(picks.filter((p) => p.split === 'validation').map((p) => p.position));
    const train = new Set(picks.filter((p) => p.split === 'train').map((p) => p.position));
    for (const position of validation) assert.ok(!train.has(position), 'a repeated row stays in one split');
    const share = picks.filter((p) => p.split === 'validation').length / picks.length;
    assert.ok(share >= 0.09 && share <= 0.16, `component ${component}: ${share}`);
  }
  // a total above what the rows allow repeats rows (each pass reshuffled)
  assert.equal(plan.picks.length, 20_000);
  assert.equal(plan.achieved[1]!.examples, 2_500);
});

test('ratios by approximate tokens (characters as the proxy)', () => {
  const plan = planMix(paper, {unit: 'tokens', seed: 3, validationFraction: 0});
  const [single, multi] = plan.achieved;
  assert.ok(Math.abs(single!.tokens / multi!.tokens - 7) < 0.05, `${single!.tokens}:${multi!.tokens}`);
  // multi has 1,500 × 1,200 = 1.8M characters; single has 3M: single is the scarcer by tokens
  assert.ok(single!.tokens <= 3_000_000 && single!.tokens > 2_990_000);
  assert.ok(plan.picks.every((p) => p.split === 'train'));
});

test('an explicit total is split exactly by the ratios; an empty component gives an empty plan', () => {
  const plan = planMix(paper, {unit: 'examples', seed: 5, validationFraction: 0.05, total: 801});
  assert.deepEqual(plan.achieved.map((a) => a.examples), [701, 100]);
  const none = planMix([{datasetId: 'x', rows: rows(10, () => 1), ratio: 1, filter: 'multi'}], {unit: 'examples', seed: 1, validationFraction: 0});
  assert.deepEqual(none.picks, []);
});

test('mixSize counts the rows a plan would have without making it', () => {
  const single = [{datasetId: 'a', rows: rows(12, () => 1), ratio: 1}];
  // the total that used to run for minutes and then out of memory: counted, not planned
  const started = performance.now();
  const huge = mixSize(single, {unit: 'examples', total: 10_000_000, seed: 42, validationFraction: 0.05});
  assert.equal(huge.rows, 10_000_000);
  assert.deepEqual(huge.mostRepeated, {componentIndex: 0, available: 12, times: 833_334});
  assert.ok(performance.now() - started < 1_000, 'no row list was built');
  // the same count as the plan: by examples exactly, by tokens within one row per component and pass
  for (const recipe of [
    {unit: 'examples' as const, seed: 42, validationFraction: 0.05},
    {unit: 'examples' as const, total: 30_000, seed: 42, validationFraction: 0.05},
    {unit: 'tokens' as const, seed: 42, validationFraction: 0.05},
    {unit: 'tokens' as const, total: 9_000_000, seed: 42, validationFraction: 0.05},
  ]) {
    const size = mixSize(paper, recipe);
    const plan = planMix(paper, recipe);
    assert.ok(Math.abs(size.rows - plan.picks.length) <= (recipe.unit === 'examples' ? 0 : 2 * size.mostRepeated!.times), `${JSON.stringify(recipe)}: ${size.rows} vs ${plan.picks.length}`);
  }
  assert.equal(mixSize([{datasetId: 'a', rows: [], ratio: 1}], {unit: 'examples', seed: 1, validationFraction: 0}).rows, 0);
});
