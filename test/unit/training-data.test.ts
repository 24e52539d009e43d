// Training data without a model: inputs read through the dataset engine, preference rankings, the batch feeder (padding,
// packing, targets, cursor purity for exact resume), the validation split and the LR schedule.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {PreferenceRecord} from '../../main/common/training.js';
import {convertInputs, datasetInputs, preferenceFromRow, preferenceProblem, readInputs} from '../../main/node/training/inputs.js';
import {pairsOfTiers, wilsonInterval} from '../../main/node/training/objectives/preference.js';
import {assemble, BatchFeeder, learningRate, permutation, splitIndices, START, type Cursor} from '../../main/node/training/feeder.js';
import type {TokenizedExample} from '../../main/node/training/render.js';

describe('training inputs (the dataset engine\'s reader, roles from the manifest)', () => {
  test('dataset files through the engine, preference rankings checked, each file counted', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zj-train-data-'));
    try {
      const sharegpt = join(dir, 'a.jsonl');
      const conv = (q: string, a: string) => JSON.stringify({conversations: [{from: 'human', value: q}, {from: 'gpt', value: a}]});
      writeFileSync(sharegpt, `${conv('头痛怎么办？', '请问头痛多久了？')}\n{not json\n${conv('发热', '量过体温吗？')}\n`);
      const pairs = join(dir, 'held-out.jsonl');
      writeFileSync(pairs, `${JSON.stringify({question: '咳嗽', response_chosen: '咳嗽几天了？', response_rejected: '多喝水。'})}\n`);
      const rankings = join(dir, 'r.jsonl');
      const good: PreferenceRecord = {turns: [{role: 'user', content: '胃痛'}], candidates: ['a', 'b', 'c'], tiers: [[1], [0, 2]]};
      writeFileSync(rankings, [JSON.stringify(good), JSON.stringify({...good, tiers: [[0], [0]]}), JSON.stringify({...good, turns: [{role: 'assistant', content: 'x'}]})].join('\n') + '\n');
      const read = await readInputs([
        ...datasetInputs([sharegpt], [pairs]),
        {path: rankings, role: 'train', content: 'preferences'},
      ]);
      assert.equal(read.train.rows.length, 2, 'two dialogues, the bad line rejected');
      assert.equal(read.train.rows[0]!.kind, 'dialogue');
      assert.equal(read.validation.rows.length, 1, 'the validation role comes from the manifest, not the name');
      assert.equal(read.validation.rows[0]!.kind, 'preference');
      assert.equal(read.train.preferences.length, 1, 'a candidate ranked twice and a prompt ending with the assistant are refused');
      assert.deepEqual(read.files.map((f) => [f.rows, f.rejected]), [[3, 1], [1, 0], [3, 2]]);
      for (const f of read.files) assert.match(f.sha256, /^[0-9a-f]{64}$/);
      // a preference row is a ranking of two; counting per file sees what each objective used
      const converted = convertInputs(read, ({row, preference}) => preference ?? (row ? preferenceFromRow(row) : null));
      assert.equal(converted.train.length, 1);
      assert.deepEqual(converted.validation[0]!.candidates, ['咳嗽几天了？', '多喝水。']);
      assert.deepEqual(converted.perFile, [{examples: 0, skipped: 3}, {examples: 1, skipped: 0}, {examples: 1, skipped: 2}]);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
  });

  test('ranking pairs: ties give none; the interval of a proportion', () => {
    assert.deepEqual(pairsOfTiers([[0], [1, 2], [3]]), [[0, 1], [0, 2], [0, 3], [1, 3], [2, 3]]);
    assert.deepEqual(pairsOfTiers([[0, 1]]), []);
    assert.equal(preferenceProblem({turns: [{role: 'user', content: 'q'}], candidates: ['a'], tiers: [[0], [1]]}), 'tier names candidate 1, which does not exist');
    const [low, high] = wilsonInterval(80, 100);
    assert.ok(Math.abs(low - 0.711) < 0.002 && Math.abs(high - 0.866) < 0.002, `${low} ${high}`);
    assert.deepEqual(wilsonInterval(0, 0), [0, 1]);
  });
});

/** Example i: tokens 100+i*10 … of length len, training tokens after the first `prompt`. */
function example(i: number, len: number, prompt = 2): TokenizedExample {
  const tokens = Int32Array.from({length: len}, (_, k) => 100 + i * 10 + k);
  const train = Uint8Array.from({length: len}, (_, k) => (k >= prompt ? 1 : 0));
  return {tokens, train};
}

describe('batch feeder', () => {
  test('targets are the next token where that token is trained; padding has none', () => {
    const b = assemble([[example(0, 5)], [example(1, 3)]], 5);
    assert.equal(b.nRows, 2);
    assert.equal(b.nCtx, 5);
    // row 0: tokens 100..104, trained from index 2: targets at positions 1..3
    assert.deepEqual([...b.targets.slice(0, 5)], [-1, 102, 103, 104, -1]);
    assert.deepEqual([...b.segments.slice(5)], [0, 0, 0, -1, -1]);
    assert.deepEqual([...b.targets.slice(5)], [-1, 112, -1, -1, -1]);
  });

  test('packing restarts positions and numbers segments; nothing crosses a row', () => {
    const feeder = new BatchFeeder([example(0, 4), example(1, 3), example(2, 6)], {nCtx: 8, rows: 2, pack: true, seed: 1});
    const {batch, cursor} = feeder.next(START);
    assert.equal(batch.nCtx, 8);
    assert.deepEqual(cursor, {epoch: 0, index: 3});
    for (let r = 0; r < batch.nRows; r++) {
      const seg = [...batch.segments.slice(r * 8, r * 8 + 8)];
      const pos = [...batch.positions.slice(r * 8, r * 8 + 8)];
      for (let i = 0; i < 8; i++) if (seg[i]! >= 0 && i > 0 && seg[i] === seg[i - 1]) assert.equal(pos[i], pos[i - 1]! + 1);
      for (let i = 0; i < 8; i++) if (seg[i]! >= 0 && (i === 0 || seg[i] !== seg[i - 1])) assert.equal(pos[i], 0);
    }
    const realTokens = [...batch.segments].filter((s) => s >= 0).length;
    assert.equal(realTokens, 4 + 3 + 6);
  });

  test('the batch at a cursor is a pure function of it (exact resume), epochs reshuffle', () => {
    const examples = Array.from({length: 10}, (_, i) => example(i, 3 + (i % 4)));
    const run = (from: Cursor, n: number) => {
      const feeder = new BatchFeeder(examples, {nCtx: 16, rows: 2, pack: false, seed: 7});
      const out: {tokens: number[]; cursor: Cursor}[] = [];
      let c = from;
      for (let i = 0; i < n; i++) {
        const next = feeder.next(c);
        c = next.cursor;
        out.push({tokens: [...next.batch.tokens], cursor: c});
      }
      return out;
    };
    const straight = run(START, 12);
    const resumed = run(straight[6]!.cursor, 5);
    assert.deepEqual(resumed, straight.slice(7));
    assert.equal(straight[4]!.cursor.index, 10);
    assert.equal(straight[5]!.cursor.epoch, 1);
    // epoch 1 visits the examples in another order
    assert.notDeepEqual(straight.slice(5, 10).map((s) => s.tokens), straight.slice(0, 5).map((s) => s.tokens));
    assert.notDeepEqual([...permutation(10, 1)], [...permutation(10, 2)]);
  });

  test('long examples are clipped to nCtx; padded width is the longest row', () => {
    const feeder = new BatchFeeder([example(0, 20), example(1, 3)], {nCtx: 8, rows: 2, pack: false, seed: 3});
    const {batch} = feeder.next(START);
    assert.equal(batch.nCtx, 8);
  });
});

test('validation split: deterministic, disjoint, at least one example', () => {
  const a = splitIndices(20, 0.1, 5);
  assert.deepEqual(a, splitIndices(20, 0.1, 5));
  assert.equal(a.val.length, 2);
  assert.equal(new Set([...a.train, ...a.val]).size, 20);
  assert.equal(splitIndices(3, 0.01, 1).val.length, 1);
  assert.equal(splitIndices(5, 0, 1).val.length, 0);
});

test('learning rate: linear warmup then cosine to the floor', () => {
  const o = {lr: 1e-3, warmupSteps: 4, totalSteps: 14, minRatio: 0.1};
  assert.equal(learningRate(0, o), 2.5e-4);
  assert.equal(learningRate(3, o), 1e-3);
  assert.ok(Math.abs(learningRate(4, o) - 1e-3) < 1e-12, 'end of warmup');
  assert.ok(Math.abs(learningRate(9, o) - 0.55e-3) < 1e-12, 'half way');
  assert.ok(Math.abs(learningRate(14, o) - 1e-4) < 1e-12, 'floor');
  assert.ok(learningRate(20, o) >= 1e-4 - 1e-12, 'never below the floor');
});
