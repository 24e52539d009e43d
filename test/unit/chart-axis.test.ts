// The arithmetic of the training charts (renderer/src/lib/chart.ts): the y axis of a bounded
// quantity never runs past its bounds (an accuracy at 100 % ends at 1.0, not 1.5; a flat 0 % clip
// fraction gets 0–1, not −1–1), a quantity that can be negative keeps its negative range, and
// the four series of two compared runs are all drawn differently.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {compareStyle, dashArray, FRACTION, niceTicks, NON_NEGATIVE, percentTick, widestBounds, yAxis} from '../../renderer/src/lib/chart.js';
import {LOSS_BOUNDS, OBJECTIVE_CHARTS} from '../../renderer/src/lib/training.js';

test('an accuracy peaking at 1.0 gets an axis ending at 1.0, ticks included', () => {
  // the reward model of the user trial: 0, 0, 1, 1, 0.5, 0, 0, 0 (training), 0.125 (held-out)
  const axis = yAxis([0, 0, 1, 1, 0.5, 0, 0, 0, 0.125, 0.125], FRACTION);
  assert.deepEqual([axis.min, axis.max], [0, 1]);
  assert.deepEqual(axis.ticks, [0, 0.5, 1]);
  // without a declared bound a maximum on a round number is not pushed a whole step further either
  assert.equal(yAxis([0.2, 1]).max, 1);
  assert.equal(yAxis([6.51, 6.7]).max, 6.7);
});

test('a flat zero fraction gets 0–1, not −1–1; a flat full one ends at 1', () => {
  const zero = yAxis([0, 0, 0, 0, 0, 0], FRACTION);
  assert.deepEqual([zero.min, zero.max], [0, 1]);
  assert.ok(zero.ticks.every((tick) => tick >= 0 && tick <= 1), JSON.stringify(zero.ticks));
  const full = yAxis([1, 1, 1], FRACTION);
  assert.equal(full.max, 1);
  assert.ok(full.min < 1 && full.min >= 0, `${full.min}`);
  assert.ok(full.ticks.every((tick) => tick <= 1), JSON.stringify(full.ticks));
  // a series that never goes below 0 gets no negative axis, bound declared or not
  assert.equal(yAxis([0, 0]).min, 0);
  const flat = yAxis([3, 3], NON_NEGATIVE);
  assert.ok(flat.min >= 0 && flat.min < 3 && flat.max > 3, `${flat.min}–${flat.max}`);
});

test('small fractions keep their own scale inside [0, 1]', () => {
  const axis = yAxis([0, 0.02, 0.05, 0.11], FRACTION);
  assert.equal(axis.min, 0);
  assert.ok(axis.max >= 0.11 && axis.max <= 0.2, `${axis.max}`);
});

test('a reward or a margin that goes negative keeps its negative range', () => {
  const margin = yAxis([-0.07, -0.09, 0.083, 0.077, 0, -0.118, -0.095, -0.051, -0.1]);
  assert.ok(margin.min <= -0.118 && margin.min >= -0.2, `${margin.min}`);
  assert.ok(margin.max >= 0.083 && margin.max <= 0.1, `${margin.max}`);
  // a KL estimate below 0 (k1 on a sample) is drawn, not cut: its chart declares no bound
  const kl = OBJECTIVE_CHARTS.ppo!.find((chart) => chart.title === 'trChartKl')!;
  assert.equal(kl.bounds, undefined);
  assert.ok(yAxis([0, -0.00032, 0.00012], kl.bounds).min < -0.0003);
  // PPO's loss is not declared non-negative: its policy part is not
  assert.deepEqual(LOSS_BOUNDS.ppo, {});
  assert.equal(yAxis([-0.02, 0.01], LOSS_BOUNDS.ppo).min, -0.02);
});

test('a bound that is no multiple of the tick step still ends the axis', () => {
  const axis = yAxis([0.02, 0.29], {min: 0, max: 0.3}, 3);
  assert.ok(axis.max <= 0.3 + 1e-12, `${axis.max}`);
  assert.ok(axis.ticks.every((tick) => tick <= 0.3 + 1e-12), JSON.stringify(axis.ticks));
  // log-probabilities never exceed 0
  const logps = yAxis([-0.4, -0.01], {max: 0});
  assert.equal(logps.max, 0);
});

test('values beyond a declared bound (a wrong declaration) are shown rather than cut off', () => {
  const axis = yAxis([-0.5, 0.5], NON_NEGATIVE);
  assert.ok(axis.min <= -0.5, `${axis.min}`);
  const over = yAxis([0.5, 1.2], FRACTION);
  assert.ok(over.max >= 1.2, `${over.max}`);
});

test('no data: the bounded range, or 0–1', () => {
  assert.deepEqual([yAxis([], FRACTION).min, yAxis([], FRACTION).max], [0, 1]);
  assert.deepEqual([yAxis([Number.NaN]).min, yAxis([Number.NaN]).max], [0, 1]);
});

test('every rate and fraction among the objective charts is bounded to [0, 1] and read in per cent', () => {
  for (const [kind, charts] of Object.entries(OBJECTIVE_CHARTS)) {
    for (const chart of charts) {
      if (chart.percent) assert.deepEqual(chart.bounds, FRACTION, `${kind} ${chart.title}`);
    }
  }
  assert.deepEqual(LOSS_BOUNDS.sft, NON_NEGATIVE);
});

test('percent ticks carry the decimals the spacing needs', () => {
  const axis = yAxis([0, 1], FRACTION);
  assert.deepEqual(axis.ticks.map((tick) => percentTick(tick, axis.decimals)), ['0%', '50%', '100%']);
  const small = niceTicks(0, 0.01, 5);
  assert.deepEqual(small.ticks.map((tick) => percentTick(tick, small.decimals)), ['0.0%', '0.5%', '1.0%']);
});

test('two compared runs: four series, four different looks, the eval ones with markers', () => {
  const looks = [compareStyle(0, 0, false), compareStyle(0, 1, true), compareStyle(1, 0, false), compareStyle(1, 1, true)];
  const keys = looks.map((look) => `${look.tone} ${dashArray(look)} ${look.marker ?? '-'}`);
  assert.equal(new Set(keys).size, 4, keys.join(' | '));
  // and apart by pattern alone, for whoever cannot tell the colours apart
  assert.equal(new Set(looks.map((look) => dashArray(look))).size, 4);
  assert.deepEqual(looks.map((look) => look.marker), [undefined, 'circle', undefined, 'square']);
  // a run's own chart: the second tone is dashed unless told otherwise
  assert.equal(dashArray({tone: 'second'}), dashArray({tone: 'main', line: 'dashed'}));
  assert.equal(dashArray({tone: 'main'}), '');
});

test('bounds shared by two runs on one chart: the wider of each, none where either has none', () => {
  assert.deepEqual(widestBounds(NON_NEGATIVE, NON_NEGATIVE), {min: 0});
  assert.deepEqual(widestBounds(NON_NEGATIVE, {}), {});
  assert.deepEqual(widestBounds(FRACTION, {min: -1, max: 0.5}), {min: -1, max: 1});
});
