// What the training charts say about their numbers (renderer/src/lib/chart.ts, training.ts): a
// smoothed line is named smoothed and reads out the raw value (the comparison once passed 6.5588
// off as the measured 6.5548), the legend's sample shows the whole stroke pattern beside its
// marker (B's dash-dot held-out line read as solid), PPO's KL chart names its estimator, a token
// count reads without four decimals, and a finished run is not said to lack validation data
// while its result is still on its way.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {compareStyle, dashArray, dashPeriod, readoutAt, swatchLayout} from '../../renderer/src/lib/chart.js';
import {formatCount, OBJECTIVE_CHARTS, objectiveTitle, resultLine, SMOOTH_FROM, smoothedLine} from '../../renderer/src/lib/training.js';
import type {TrainingMetric} from '../../main/common/training.js';

test('a smoothed line carries the raw values, and the read-out gives those under the raw label', () => {
  const raw = Array.from({length: 12}, (_, i) => ({x: i + 1, y: i % 2 ? 6.5548 : 6.6}));
  assert.equal(smoothedLine(raw.slice(0, SMOOTH_FROM - 1)), null, 'too few points: drawn raw');
  const smoothed = smoothedLine(raw)!;
  assert.deepEqual(
    smoothed.map((p) => p.x),
    raw.map((p) => p.x),
  );
  assert.notEqual(smoothed[11]!.y, raw[11]!.y, 'the smoothed value differs from the measured one');
  const series = {label: 'A 训练损失（平滑）', points: smoothed, readout: {label: 'A 训练损失', points: raw}};
  assert.deepEqual(readoutAt(series, 12), {label: 'A 训练损失', value: 6.5548});
  assert.equal(readoutAt(series, 99), null, 'no point at that step');
  // a series without a read-out of its own reads out what it draws
  assert.deepEqual(readoutAt({label: 'B 验证损失', points: [{x: 4, y: 1.5}]}, 4), {label: 'B 验证损失', value: 1.5});
});

test("the legend's sample shows a whole period of each pattern clear of the marker", () => {
  for (const run of [0, 1] as const) {
    for (const nth of [0, 1]) {
      for (const sparse of [false, true]) {
        const style = compareStyle(run, nth, sparse);
        const sample = swatchLayout(style);
        assert.ok(sample.x2 <= sample.width && sample.x1 >= 0);
        assert.equal(sample.marker !== null, sparse, 'a marker only where the series has them');
        // the line up to the marker's left edge holds every dash and dot of the first period
        const clearTo = sample.marker ? sample.marker.x - sample.marker.r : sample.x2;
        assert.ok(clearTo - sample.x1 >= dashPeriod(style), `${JSON.stringify(style)}: ${clearTo - sample.x1} px clear`);
        if (sample.marker) assert.ok(sample.marker.x + sample.marker.r <= sample.width, 'the marker fits the sample');
      }
    }
  }
  // the dash-dot's dot (the third number of its pattern) lies before the marker, not under it
  const b = compareStyle(1, 1, true);
  assert.equal(dashArray(b), '9 3.5 1.5 3.5');
  const sample = swatchLayout(b);
  assert.ok(sample.x1 + 9 + 3.5 + 1.5 < sample.marker!.x - sample.marker!.r);
  assert.equal(dashPeriod({tone: 'main'}), 0, 'solid');
});

test("PPO's KL chart names its estimator; the other charts keep their title", () => {
  const kl = OBJECTIVE_CHARTS.ppo!.find((chart) => chart.title === 'trChartKl')!;
  assert.equal(objectiveTitle(kl, [{klEstimator: 1}]), 'trChartKlK1');
  assert.equal(objectiveTitle(kl, [{klEstimator: 3}, {klEstimator: 3}]), 'trChartKlK3');
  assert.equal(objectiveTitle(kl, [{klEstimator: 1}, {klEstimator: 3}]), 'trChartKlMixed');
  // a run recorded before the setting existed ran with the default, k1
  assert.equal(objectiveTitle(kl, [{} as {klEstimator: number}]), 'trChartKlK1');
  const reward = OBJECTIVE_CHARTS.ppo!.find((chart) => chart.title === 'trChartReward')!;
  assert.equal(objectiveTitle(reward, [{klEstimator: 1}]), 'trChartReward');
});

test('a token count reads with one decimal at most', () => {
  assert.equal(formatCount(24), '24');
  assert.equal(formatCount(24.0000001), '24');
  assert.equal(formatCount(23.75), '23.8');
  assert.equal(formatCount(-0.01), '0');
  assert.equal(formatCount(null), '—');
  assert.equal(formatCount(Number.NaN), '—');
  assert.ok(OBJECTIVE_CHARTS.ppo!.find((chart) => chart.title === 'trChartLength')!.count, 'the length chart is a count');
});

test('结果取自 waits for the result rather than claiming no validation data', () => {
  const metric = (step: number, evalLoss: number | null, values: Record<string, number> = {}): TrainingMetric =>
    ({step, loss: 1, evalLoss, values}) as unknown as TrainingMetric;
  const validated = [metric(1, null), metric(2, 0.9)];
  const base = {state: 'completed' as const, step: 2, best: null, result: {step: 'best' as const, lastAvailable: false}, adapterPath: null, metrics: validated};
  assert.equal(resultLine({...base, state: 'running'}), null, 'not finished: no row');
  assert.equal(resultLine(base), null, 'completed, result not read back yet: not "no validation data"');
  const best = {step: 2, metric: 'eval/loss', value: 0.9};
  assert.equal(resultLine({...base, best, adapterPath: '/x'})!.key, 'trBestLine');
  assert.deepEqual(resultLine({...base, best, adapterPath: '/x', result: {step: 'last', lastAvailable: true}}), {key: 'trLastChosen', vars: {step: 2}});
  // PPO's held-out reward counts as validation too
  assert.equal(resultLine({...base, metrics: [metric(0, null, {'eval/reward': 0.1})]}), null);
  // truly without validation metrics, or read back without a best checkpoint: the last step
  assert.deepEqual(resultLine({...base, metrics: [metric(1, null), metric(2, null)]}), {key: 'trLastLine'});
  assert.deepEqual(resultLine({...base, adapterPath: '/x'}), {key: 'trLastLine'});
});
