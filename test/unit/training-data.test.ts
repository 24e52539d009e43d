// Training data without a model: row formats, canonical turns, the batch feeder (padding,
// packing, targets, cursor purity for exact resume), the validation split and the LR schedule.
import {describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {canonicalTurns, normaliseRow, readDatasetFile} from '../../main/node/training/data.js';
import {assemble, BatchFeeder, learningRate, permutation, splitIndices, START, type Cursor} from '../../main/node/training/feeder.js';
import type {TokenizedExample} from '../../main/node/training/render.js';

describe('row formats', () => {
  test('ShareGPT, role/content (DISC), messages, query/response, instruction/history, text', () => {
    const rows: unknown[] = [
      {conversations: [{from: 'system', value: 'S'}, {from: 'human', value: 'q'}, {from: 'gpt', value: 'a'}]},
      {conversation: [{role: 'user', content: 'q1'}, {role: 'assistant', content: 'a1'}, {role: 'user', content: 'q2'}, {role: 'assistant', content: 'a2'}]},
      {conversation: [{role: 'patient', content: 'q'}, {role: 'doctor', content: 'a'}]},
      {messages: [{role: 'user', content: 'q'}, {role: 'assistant', content: 'a'}]},
      {query: 'q', response: 'a'},
      {instruction: 'q2', input: 'ctx', output: 'a2', history: [['q1', 'a1']]},
      {text: '中医认为……'},
      // LLaMA-Factory / our datasets export: the system prompt as a column
      {conversations: [{from: 'human', value: 'q'}, {from: 'gpt', value: 'a'}], system: '你是医生'},
    ];
    const out = rows.map((r) => normaliseRow(r));
    for (const o of out) assert.ok(!('error' in o), JSON.stringify(o));
    const turns = (i: number) => (out[i] as {example: {turns: unknown}}).example.turns;
    assert.deepEqual(turns(0), [{role: 'system', content: 'S'}, {role: 'user', content: 'q'}, {role: 'assistant', content: 'a'}]);
    assert.equal((turns(1) as unknown[]).length, 4);
    assert.deepEqual(turns(5), [
      {role: 'user', content: 'q1'}, {role: 'assistant', content: 'a1'},
      {role: 'user', content: 'q2\nctx'}, {role: 'assistant', content: 'a2'},
    ]);
    assert.deepEqual((out[6] as {example: unknown}).example, {kind: 'text', text: '中医认为……'});
    assert.deepEqual(turns(7), [{role: 'system', content: '你是医生'}, {role: 'user', content: 'q'}, {role: 'assistant', content: 'a'}]);
  });

  test('canonical turns: merged repeats, dropped leading assistant and trailing user, errors', () => {
    assert.deepEqual(
      canonicalTurns([
        {role: 'assistant', content: 'hello'},
        {role: 'user', content: 'a'},
        {role: 'user', content: 'b'},
        {role: 'assistant', content: 'c'},
        {role: 'user', content: 'unanswered'},
      ]),
      [{role: 'user', content: 'a\nb'}, {role: 'assistant', content: 'c'}],
    );
    assert.ok('error' in (canonicalTurns([{role: 'user', content: 'q'}]) as object), 'no reply');
    assert.ok('error' in (canonicalTurns([{role: 'user', content: 'q'}, {role: 'system', content: 's'}, {role: 'assistant', content: 'a'}]) as object), 'late system');
    assert.ok('error' in normaliseRow({foo: 1}), 'unknown format');
    assert.ok('error' in normaliseRow({conversations: [{from: 'alien', value: 'x'}]}), 'unknown role');
  });

  test('files: JSONL with a bad line, a JSON array; sha256 and skipped rows are reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zj-train-data-'));
    try {
      const jsonl = join(dir, 'a.jsonl');
      writeFileSync(jsonl, `${JSON.stringify({query: 'q', response: 'a'})}\n{not json\n\n${JSON.stringify({text: 't'})}\n`);
      const a = readDatasetFile(jsonl);
      assert.equal(a.rows, 3);
      assert.equal(a.examples.length, 2);
      assert.deepEqual(a.skipped.map((s) => s.row), [2]);
      assert.match(a.sha256, /^[0-9a-f]{64}$/);
      assert.deepEqual(a.examples[1]!.source, {file: 'a.jsonl', row: 4});
      const json = join(dir, 'b.json');
      writeFileSync(json, JSON.stringify([{query: 'q', response: 'a'}, {query: 'q2', response: 'a2'}], null, 2));
      assert.equal(readDatasetFile(json).examples.length, 2);
    } finally {
      rmSync(dir, {recursive: true, force: true});
    }
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
