// Training maths on the tiny models: LoRA gradients against finite differences (llama, qwen2),
// quantised frozen bases against their F32 twins, gradient accumulation equal to one big batch, accumulators
// zeroed between steps (ggml-opt's bug in this version would fail these), AdamW and clipping
// against a reference written here, and seeded determinism with dropout.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {NativeTrainingSession, SessionOptions, TrainingBatch} from '../../main/node/training/native.js';
import {THREADS, randomFloats, tinyModel, trainerEnv, wideModel, type TrainerEnv} from './training-support.js';

let env: TrainerEnv;
let dir: string;
before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-train-grad-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

/** Two rows: row 0 packs two sequences, row 1 is one sequence plus padding; some positions have
 * no target (as user turns in SFT). Token ids are ordinary vocabulary pieces of the tiny model. */
function twoRowBatch(offset = 0): TrainingBatch {
  const T = 12;
  const tokens = Int32Array.from({length: 2 * T}, (_, i) => 300 + ((i * 7 + offset * 13) % 200));
  const segments = Int32Array.from({length: 2 * T}, (_, i) => (i < T ? (i < 5 ? 0 : 1) : i - T < 9 ? 0 : -1));
  const positions = Int32Array.from({length: 2 * T}, (_, i) => (i < T ? (i < 5 ? i : i - 5) : i - T < 9 ? i - T : 0));
  const targets = new Int32Array(2 * T).fill(-1);
  for (let i = 0; i < 2 * T - 1; i++) {
    const sameSequence = segments[i]! >= 0 && segments[i + 1] === segments[i] && (i + 1) % T !== 0;
    if (sameSequence && i % 4 !== 1) targets[i] = tokens[i + 1]!;
  }
  return {nRows: 2, nCtx: T, tokens, positions, segments, targets};
}

function oneRow(batch: TrainingBatch, row: number): TrainingBatch {
  const T = batch.nCtx;
  const slice = (a: Int32Array) => a.slice(row * T, (row + 1) * T);
  return {nRows: 1, nCtx: T, tokens: slice(batch.tokens), positions: slice(batch.positions), segments: slice(batch.segments), targets: slice(batch.targets)};
}

async function session(modelPath: string, extra: Partial<SessionOptions> = {}): Promise<NativeTrainingSession> {
  return env.addon!.createSession({modelPath, threads: THREADS, seed: 11, lora: {rank: 4, alpha: 8}, ...extra});
}

/** B is zero at initialisation, which makes every A gradient zero: perturb B first. */
function randomiseB(s: NativeTrainingSession, scale = 0.05): void {
  for (const [i, name] of s.tensorNames().entries()) {
    if (name.endsWith('lora_b')) s.setTensor(name, randomFloats(s.getTensor(name).length, 1000 + i, scale));
  }
}

async function meanLoss(s: NativeTrainingSession, batch: TrainingBatch): Promise<number> {
  const r = await s.evaluate(batch);
  return r.lossSum / r.nItems;
}

function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

function maxAbs(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** ‖g − g_ref‖ / ‖g_ref‖ over every LoRA tensor of two sessions (NaN when the reference gradient is zero). */
function gradientDifference(s: NativeTrainingSession, reference: NativeTrainingSession): number {
  let num = 0;
  let den = 0;
  for (const name of reference.tensorNames()) {
    const g = s.getGradient(name);
    const ref = reference.getGradient(name);
    for (let i = 0; i < g.length; i++) {
      num += (g[i]! - ref[i]!) ** 2;
      den += ref[i]! ** 2;
    }
  }
  return Math.sqrt(num / den);
}

/** Central difference of the mean loss along the gradient's own direction: the largest signal
 * there is, well above the F32 rounding of the loss (~5e-7), for tensors whose gradient is small. */
async function directionalCheck(s: NativeTrainingSession, batch: TrainingBatch, names: readonly string[], eps: number) {
  await s.accumulate([batch]);
  const out: {name: string; rel: number}[] = [];
  for (const name of names) {
    const theta = s.getTensor(name);
    const grad = s.getGradient(name);
    const norm = Math.sqrt(dot(grad, grad));
    s.setTensor(name, theta.map((x, i) => x + (eps * grad[i]!) / norm));
    const plus = await meanLoss(s, batch);
    s.setTensor(name, theta.map((x, i) => x - (eps * grad[i]!) / norm));
    const minus = await meanLoss(s, batch);
    s.setTensor(name, theta);
    out.push({name, rel: Math.abs((plus - minus) / (2 * eps) - norm) / norm});
  }
  return out;
}

for (const arch of ['llama', 'qwen2'] as const) {
  test(`gradients equal finite differences: ${arch}`, async (t) => {
    if (env.skip) return t.skip(env.skip);
    const s = await session(await tinyModel(env.addon!, arch));
    try {
      randomiseB(s);
      const names = s.tensorNames(); // every LoRA tensor: q k v o gate up down, A and B, both layers
      const checks = await directionalCheck(s, twoRowBatch(), names, 1e-2);
      const worst = Math.max(...checks.map((c) => c.rel));
      const median = checks.map((c) => c.rel).sort((a, b) => a - b)[checks.length >> 1]!;
      t.diagnostic(`${arch}: ${checks.length} tensors, relative error median ${median.toExponential(2)}, worst ${worst.toExponential(2)} (${checks.find((c) => c.rel === worst)!.name})`);
      assert.ok(worst < 1e-2, `worst relative error ${worst}`);
    } finally {
      s.dispose();
    }
  });
}

// With a quantised frozen base the loss is not smooth in the LoRA weights (llama.cpp's CPU matmul
// quantises activations to the weight's dot-product type), so finite differences are noise. The
// check is instead: the gradient equals, within that quantisation noise, the gradient of the SAME
// weights stored in F32 (the quantised file dequantised), on which finite differences hold.
for (const [arch, type] of [['llama', 'q4_0'], ['qwen2', 'q8_0'], ['llama', 'f16'], ['qwen2', 'q4_K']] as const) {
  test(`gradients on a ${type} base equal those of its F32 twin: ${arch}`, async (t) => {
    if (env.skip) return t.skip(env.skip);
    const quantised = type === 'q4_K' ? await wideModel(env.addon!, arch, type) : await tinyModel(env.addon!, arch, type);
    const twin = join(dir, `${arch}-${type}-as-f32.gguf`);
    await env.addon!.makeModel({out: twin, type: 'f32', weightsFrom: quantised});
    const q = await session(quantised);
    const f = await session(twin);
    try {
      assert.equal(q.info().weightType, type);
      randomiseB(q);
      randomiseB(f);
      const batch = twoRowBatch(4);
      await q.accumulate([batch]);
      await f.accumulate([batch]);
      const rel = gradientDifference(q, f);
      t.diagnostic(`${arch} ${type}: ‖g_${type} − g_f32‖ / ‖g_f32‖ = ${rel.toExponential(2)}`);
      assert.ok(rel < (type === 'f16' ? 1e-3 : 5e-2), `relative gradient difference ${rel}`);
    } finally {
      q.dispose();
      f.dispose();
    }
  });
}

describe('gradient accumulation', () => {
  test('micro-batches accumulate to the gradient of one big batch; accumulators are zeroed', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const s = await session(await tinyModel(env.addon!, 'llama'));
    try {
      randomiseB(s);
      const both = twoRowBatch();
      const [r0, r1] = [oneRow(both, 0), oneRow(both, 1)];
      const names = s.tensorNames();
      const read = () => names.map((n) => s.getGradient(n));

      const whole = await s.accumulate([both]);
      const gWhole = read();
      const split = await s.accumulate([r0, r1]);
      const gSplit = read();
      assert.equal(split.nItems, whole.nItems);
      assert.ok(Math.abs(split.lossSum - whole.lossSum) < 1e-4, `loss ${split.lossSum} vs ${whole.lossSum}`);
      const again = await s.accumulate([r0, r1]);
      const gAgain = read();
      assert.equal(again.lossSum, split.lossSum);

      let worstSplit = 0;
      let worstAgain = 0;
      let scale = 0;
      for (let i = 0; i < names.length; i++) {
        worstSplit = Math.max(worstSplit, maxAbs(gWhole[i]!, gSplit[i]!));
        worstAgain = Math.max(worstAgain, maxAbs(gSplit[i]!, gAgain[i]!));
        scale = Math.max(scale, ...gWhole[i]!.map(Math.abs));
      }
      t.diagnostic(`max |g(one batch) - g(2 micro-batches)| ${worstSplit.toExponential(2)} (max |g| ${scale.toExponential(2)}); repeat ${worstAgain}`);
      assert.ok(worstSplit <= 1e-6 * Math.max(1, scale * 100), `accumulated gradient differs by ${worstSplit}`);
      // a second accumulation must not add onto the first (ggml-opt's never-zeroed accumulators)
      assert.equal(worstAgain, 0);
    } finally {
      s.dispose();
    }
  });

  test('after several optimizer steps the gradient is that of a fresh session at the same weights', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const path = await tinyModel(env.addon!, 'qwen2');
    const a = await session(path);
    const b = await session(path);
    try {
      const batch = twoRowBatch(3);
      const norms: number[] = [];
      for (let step = 0; step < 4; step++) norms.push((await a.trainStep([batch, twoRowBatch(5)], 5e-3)).gradNorm);
      for (const name of a.tensorNames()) b.setTensor(name, a.getTensor(name));
      await a.accumulate([batch]);
      await b.accumulate([batch]);
      let worst = 0;
      for (const name of a.tensorNames()) worst = Math.max(worst, maxAbs(a.getGradient(name), b.getGradient(name)));
      t.diagnostic(`grad norms over 4 steps ${norms.map((n) => n.toFixed(4)).join(' ')}; max |Δg| vs fresh session ${worst}`);
      assert.equal(worst, 0);
      // stale gradients would make the norm grow step after step; here it stays of one order
      assert.ok(norms[3]! < 3 * norms[0]!, `gradient norm grew: ${norms.join(', ')}`);
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  test('a step on 2 accumulated micro-batches equals a step on the same rows as one batch', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const path = await tinyModel(env.addon!, 'llama');
    const a = await session(path);
    const b = await session(path);
    try {
      const both = twoRowBatch(1);
      for (let step = 0; step < 3; step++) {
        const ra = await a.trainStep([oneRow(both, 0), oneRow(both, 1)], 1e-2);
        const rb = await b.trainStep([both], 1e-2);
        assert.ok(Math.abs(ra.loss - rb.loss) < 1e-5, `step ${step}: loss ${ra.loss} vs ${rb.loss}`);
      }
      let worst = 0;
      for (const name of a.tensorNames()) worst = Math.max(worst, maxAbs(a.getTensor(name), b.getTensor(name)));
      t.diagnostic(`max |Δθ| after 3 steps: ${worst.toExponential(2)}`);
      assert.ok(worst < 1e-5, `max |Δθ| ${worst}`);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

test('AdamW with clipping and weight decay matches a reference implementation', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const hp = {beta1: 0.9, beta2: 0.99, eps: 1e-6, weightDecay: 0.1, gradClip: 0.05};
  const s = await session(await tinyModel(env.addon!, 'llama'), {adamw: hp});
  try {
    randomiseB(s);
    const batch = twoRowBatch(2);
    const names = s.tensorNames();
    const m = names.map((n) => new Float64Array(s.getTensor(n).length));
    const v = names.map((n) => new Float64Array(s.getTensor(n).length));
    let worst = 0;
    for (let step = 1; step <= 3; step++) {
      const lr = 1e-2 * step;
      await s.accumulate([batch]);
      const grads = names.map((n) => s.getGradient(n));
      const before = names.map((n) => s.getTensor(n));
      let sq = 0;
      for (const g of grads) sq += dot(g, g);
      const clip = Math.min(1, hp.gradClip / Math.sqrt(sq));
      const r = await s.trainStep([batch], lr);
      assert.ok(Math.abs(r.gradNorm - Math.sqrt(sq)) < 1e-4 * Math.sqrt(sq), `grad norm ${r.gradNorm} vs ${Math.sqrt(sq)}`);
      assert.ok(Math.abs(r.gradScale - clip) < 1e-5, `clip ${r.gradScale} vs ${clip}`);
      names.forEach((name, k) => {
        const after = s.getTensor(name);
        for (let i = 0; i < after.length; i++) {
          const g = grads[k]![i]! * clip;
          m[k]![i] = hp.beta1 * m[k]![i]! + (1 - hp.beta1) * g;
          v[k]![i] = hp.beta2 * v[k]![i]! + (1 - hp.beta2) * g * g;
          const mh = m[k]![i]! / (1 - hp.beta1 ** step);
          const vh = Math.sqrt(v[k]![i]! / (1 - hp.beta2 ** step)) + hp.eps;
          const expected = before[k]![i]! * (1 - lr * hp.weightDecay) - (lr * mh) / vh;
          worst = Math.max(worst, Math.abs(expected - after[i]!));
        }
      });
    }
    t.diagnostic(`max |θ - θ_ref| after 3 AdamW steps (clipped): ${worst.toExponential(2)}`);
    assert.ok(worst < 2e-5, `max deviation ${worst}`);
  } finally {
    s.dispose();
  }
});

test('seeded and deterministic on CPU, dropout included', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const path = await tinyModel(env.addon!, 'qwen2');
  const opts = {lora: {rank: 4, alpha: 8, dropout: 0.1}} as const;
  const runs: number[][] = [];
  const finals: Float32Array[] = [];
  for (const seed of [5, 5, 6]) {
    const s = await session(path, {seed, ...opts});
    try {
      const losses: number[] = [];
      for (let step = 0; step < 4; step++) losses.push((await s.trainStep([twoRowBatch(step)], 1e-2)).loss);
      runs.push(losses);
      finals.push(s.getTensor(s.tensorNames()[0]!));
    } finally {
      s.dispose();
    }
  }
  t.diagnostic(`losses seed 5: ${runs[0]!.map((l) => l.toFixed(6)).join(' ')}; seed 6: ${runs[2]!.map((l) => l.toFixed(6)).join(' ')}`);
  assert.deepEqual(runs[0], runs[1]);
  assert.equal(maxAbs(finals[0]!, finals[1]!), 0);
  assert.notDeepEqual(runs[0], runs[2]);
});

// The backward multiplies by each frozen weight's transposed copy; a large one (the LM head) is
// made and multiplied in slices of rows, dx = Σ W_sᵀ·dy_s. Slices of ~1024 values here, so every
// weight of the tiny model goes through many (directly for F32, dequantised by rows for Q8_0).
for (const [arch, type] of [['llama', 'f32'], ['qwen2', 'q8_0']] as const) {
  test(`the backward's transposed weights in slices give the same gradients: ${arch} ${type}`, async (t) => {
    if (env.skip) return t.skip(env.skip);
    const path = await tinyModel(env.addon!, arch, type === 'f32' ? undefined : type);
    const whole = await session(path);
    const sliced = await session(path, {backwardSliceValues: 1024});
    try {
      randomiseB(whole);
      randomiseB(sliced);
      await whole.accumulate([twoRowBatch(1)]);
      await sliced.accumulate([twoRowBatch(1)]);
      const rel = gradientDifference(sliced, whole);
      t.diagnostic(`‖g_sliced − g‖/‖g‖ = ${rel.toExponential(2)}`);
      assert.ok(rel < 1e-5, `relative gradient difference ${rel}`);
    } finally {
      whole.dispose();
      sliced.dispose();
    }
  });
}

// Gradient checkpointing recomputes each layer from its kept input for the backward: the same
// nodes, the same dropout masks, so the same gradients up to summation order — for every loss
// head (the language model's and the scalar head's), a quantised base, and several micro-batches.
// The LM loss may also run over slices of its target tokens (lossChunkTargets; 3 here, so several).
for (const [arch, type, lossHead, slice] of [['llama', 'f32', 'lm', 0], ['qwen2', 'q8_0', 'lm', 0], ['llama', 'q4_0', 'reward', 0], ['qwen2', 'f32', 'lm', 3]] as const) {
  test(`gradient checkpointing trains exactly as the whole graph does: ${arch} ${type} ${lossHead}${slice ? `, loss over slices of ${slice} targets` : ''}`, async (t) => {
    if (env.skip) return t.skip(env.skip);
    const path = await tinyModel(env.addon!, arch, type === 'f32' ? undefined : type);
    // three sequences (row 0 packs two): 0 is preferred to 1, 2 to 1
    const batch = (offset: number): TrainingBatch => ({...twoRowBatch(offset), ...(lossHead === 'reward'
      ? {pairs: Int32Array.from([0, 1, 2, 1]), pairWeights: Float32Array.from([0.5, 0.5]), pairOffsets: new Float32Array(2)} : {})});
    const options: Partial<SessionOptions> = lossHead === 'reward'
      ? {lossHead, adapters: [{name: 'rm', trainable: true, head: true, lora: {rank: 4, alpha: 8, dropout: 0.1}}]}
      : {lora: {rank: 4, alpha: 8, dropout: 0.1}};
    const whole = await session(path, options);
    const pieces = await session(path, {...options, gradientCheckpointing: true, ...(slice ? {lossChunkTargets: slice} : {})});
    try {
      randomiseB(whole);
      randomiseB(pieces);
      // micro-batches of two sizes, the smaller first: the checkpoint memory grows once
      const batches = lossHead === 'lm' ? [oneRow(batch(2), 0), batch(1)] : [batch(1), batch(2)];
      await whole.accumulate(batches);
      await pieces.accumulate(batches);
      const rel = gradientDifference(pieces, whole);
      const losses: [number, number][] = [];
      for (let step = 0; step < 3; step++) {
        const a = await whole.trainStep([batch(step), batch(step + 3)], 1e-2);
        const b = await pieces.trainStep([batch(step), batch(step + 3)], 1e-2);
        losses.push([a.loss, b.loss]);
      }
      const weights = maxAbs(whole.getTensor(whole.tensorNames()[0]!), pieces.getTensor(pieces.tensorNames()[0]!));
      t.diagnostic(`‖g_ckpt − g‖/‖g‖ = ${rel.toExponential(2)}; losses with dropout ${losses.map(([a, b]) => `${a.toFixed(6)}/${b.toFixed(6)}`).join(' ')}; weights after 3 steps differ by ${weights.toExponential(2)}`);
      assert.ok(rel < 1e-5, `relative gradient difference ${rel}`);
      for (const [a, b] of losses) assert.ok(Math.abs(a - b) <= 1e-5 * Math.abs(a), `loss ${a} vs ${b}`);
      assert.ok(weights < 1e-5, `weights differ by ${weights}`);
    } finally {
      whole.dispose();
      pieces.dispose();
    }
  });
}
