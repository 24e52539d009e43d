// Micro-batches from tokenised examples, as a pure function of a cursor: the same (examples,
// options, cursor) always gives the same batch and next cursor, so a checkpoint stores the cursor
// and a resumed run feeds exactly the batches the uninterrupted run would have.
//
// Each epoch visits the training examples in a seeded permutation. Rows are either padded (one
// example per row, the micro-batch as wide as its longest row) or packed (consecutive examples
// share a row; attention is confined to each example by the segment ids and positions restart,
// so packing changes nothing but speed). Targets are the next token where that token is a
// training token, else -1.

import type {TrainingBatch} from './native.js';
import type {TokenizedExample} from './render.js';
import {mulberry32, shuffleInPlace} from '../../common/random.js';

export interface FeedOptions {
  /** Longest row, in tokens. */
  nCtx: number;
  /** Rows per micro-batch. */
  rows: number;
  pack: boolean;
  seed: number;
}

export interface Cursor {
  epoch: number;
  /** Position in this epoch's permutation. */
  index: number;
}

export const START: Cursor = {epoch: 0, index: 0};

/** Fisher–Yates permutation of 0..n-1 from a seed. */
export function permutation(n: number, seed: number): Uint32Array {
  return shuffleInPlace(Uint32Array.from({length: n}, (_, i) => i), mulberry32(seed));
}

/** Splits example indices into train and validation, deterministically from the seed. At least
 * one validation example when the fraction is > 0 and there are two or more examples. */
export function splitIndices(n: number, valFraction: number, seed: number): {train: number[]; val: number[]} {
  if (!(valFraction >= 0 && valFraction < 1)) throw new Error(`validation fraction must be in [0, 1), got ${valFraction}`);
  const order = permutation(n, seed ^ 0x5eed);
  const nVal = valFraction > 0 && n >= 2 ? Math.max(1, Math.round(n * valFraction)) : 0;
  const val = [...order.slice(0, nVal)].sort((a, b) => a - b);
  const train = [...order.slice(nVal)].sort((a, b) => a - b);
  return {train, val};
}

export class BatchFeeder {
  private readonly permutations = new Map<number, Uint32Array>();

  constructor(private readonly examples: readonly TokenizedExample[], private readonly options: FeedOptions) {
    if (!examples.length) throw new Error('no training examples');
    if (options.nCtx < 2 || options.rows < 1) throw new Error('nCtx must be >= 2 and rows >= 1');
  }

  get size(): number {
    return this.examples.length;
  }

  private order(epoch: number): Uint32Array {
    let p = this.permutations.get(epoch);
    if (!p) {
      p = permutation(this.examples.length, (this.options.seed * 1000003 + epoch) >>> 0);
      this.permutations.clear(); // only the current epoch is ever needed again
      this.permutations.set(epoch, p);
    }
    return p;
  }

  /** The micro-batch at `cursor` and the cursor after it. Rows never straddle an epoch boundary. */
  next(cursor: Cursor): {batch: TrainingBatch; cursor: Cursor; examples: number} {
    let {epoch, index} = cursor;
    if (index >= this.examples.length) {
      epoch++;
      index = 0;
    }
    const order = this.order(epoch);
    const rows: TokenizedExample[][] = [];
    let used = 0;
    const {nCtx, pack} = this.options;
    while (rows.length < this.options.rows && index < order.length) {
      const row: TokenizedExample[] = [];
      let length = 0;
      while (index < order.length) {
        const example = clip(this.examples[order[index]!]!, nCtx);
        if (row.length && (!pack || length + example.tokens.length > nCtx)) break;
        row.push(example);
        length += example.tokens.length;
        index++;
        used++;
      }
      rows.push(row);
    }
    const width = pack ? nCtx : Math.max(...rows.map((r) => r.reduce((n, e) => n + e.tokens.length, 0)));
    return {batch: assemble(rows, width), cursor: {epoch, index}, examples: used};
  }
}

function clip(example: TokenizedExample, nCtx: number): TokenizedExample {
  return example.tokens.length <= nCtx ? example : {tokens: example.tokens.subarray(0, nCtx), train: example.train.subarray(0, nCtx)};
}

/** Rows of examples → one padded/packed batch of `width` columns. */
export function assemble(rows: readonly (readonly TokenizedExample[])[], width: number): TrainingBatch {
  const n = rows.length * width;
  const batch: TrainingBatch = {
    nRows: rows.length,
    nCtx: width,
    tokens: new Int32Array(n),
    positions: new Int32Array(n),
    segments: new Int32Array(n).fill(-1),
    targets: new Int32Array(n).fill(-1),
  };
  rows.forEach((row, r) => {
    let at = r * width;
    row.forEach((example, segment) => {
      const {tokens, train} = example;
      for (let i = 0; i < tokens.length; i++) {
        batch.tokens[at + i] = tokens[i]!;
        batch.positions[at + i] = i;
        batch.segments[at + i] = segment;
        if (i + 1 < tokens.length && train[i + 1]) batch.targets[at + i] = tokens[i + 1]!;
      }
      at += tokens.length;
    });
  });
  return batch;
}

/** Validation batches: every example once, in order, padded rows. */
export function evalBatches(examples: readonly TokenizedExample[], nCtx: number, rows: number): TrainingBatch[] {
  const out: TrainingBatch[] = [];
  for (let i = 0; i < examples.length; i += rows) {
    const group = examples.slice(i, i + rows).map((e) => [clip(e, nCtx)]);
    out.push(assemble(group, Math.max(...group.map((g) => g[0]!.tokens.length))));
  }
  return out;
}

/** Linear warmup to `lr`, then cosine decay to lr * minRatio at totalSteps (steps are 0-based). */
export function learningRate(step: number, o: {lr: number; warmupSteps: number; totalSteps: number; minRatio: number}): number {
  if (step < o.warmupSteps) return (o.lr * (step + 1)) / o.warmupSteps;
  const span = Math.max(1, o.totalSteps - o.warmupSteps);
  const progress = Math.min(1, (step - o.warmupSteps) / span);
  return o.lr * (o.minRatio + (1 - o.minRatio) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
