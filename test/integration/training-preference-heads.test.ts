// The preference heads of the native trainer on the tiny model: the reward model's K-wise ranking
// loss equals a value computed by hand from its scores (K = 4 with a tie), the reward head's and
// DPO's gradients equal finite differences, and several named adapters share one base (a frozen
// reference loaded from a file scores exactly like the policy started from the same file).
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {NativeTrainingSession, SessionOptions, TrainingBatch} from '../../main/node/training/native.js';
import {THREADS, randomFloats, tinyModel, trainerEnv, type TrainerEnv} from './training-support.js';

let env: TrainerEnv;
let dir: string;
before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-pref-heads-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

/** Four answers to one prompt, one per row (padded), prompt tokens without targets, answer tokens
 * with targets: the shape the RM and DPO feeders build. */
function fourAnswers(): TrainingBatch {
  const prompt = [310, 322, 345, 351];
  const answers = [[400, 401, 402], [410, 411, 412, 413, 414], [420, 421], [430, 431, 432, 433]];
  const T = Math.max(...answers.map((a) => prompt.length + a.length));
  const n = answers.length * T;
  const b: TrainingBatch = {nRows: answers.length, nCtx: T, tokens: new Int32Array(n), positions: new Int32Array(n), segments: new Int32Array(n).fill(-1), targets: new Int32Array(n).fill(-1)};
  answers.forEach((answer, r) => {
    const seq = [...prompt, ...answer];
    seq.forEach((tok, i) => {
      b.tokens[r * T + i] = tok;
      b.positions[r * T + i] = i;
      b.segments[r * T + i] = 0;
      if (i + 1 < seq.length && i + 1 >= prompt.length) b.targets[r * T + i] = seq[i + 1]!;
    });
  });
  return b;
}

/** Tiers [[0], [1, 2], [3]]: answer 0 best, 1 and 2 tied, 3 worst → 5 ordered pairs (the tie gives
 * none), each weighing 1/5 so the ranking counts once. */
const TIERS = [[0], [1, 2], [3]];
function rankingPairs(tiers: number[][]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < tiers.length; i++) for (let j = i + 1; j < tiers.length; j++) for (const h of tiers[i]!) for (const l of tiers[j]!) pairs.push([h, l]);
  return pairs;
}

function withPairs(b: TrainingBatch, pairs: [number, number][], offsets?: number[]): TrainingBatch {
  return {
    ...b,
    pairs: Int32Array.from(pairs.flat()),
    pairWeights: new Float32Array(pairs.length).fill(1 / pairs.length),
    pairOffsets: Float32Array.from(offsets ?? pairs.map(() => 0)),
  };
}

const softplus = (x: number) => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

async function session(model: string, extra: Partial<SessionOptions>): Promise<NativeTrainingSession> {
  return env.addon!.createSession({modelPath: model, threads: THREADS, seed: 3, lora: {rank: 4, alpha: 8}, ...extra});
}

function randomiseB(s: NativeTrainingSession): void {
  for (const [i, name] of s.tensorNames().entries()) if (name.endsWith('lora_b')) s.setTensor(name, randomFloats(s.getTensor(name).length, 500 + i, 0.05));
}

async function meanLoss(s: NativeTrainingSession, b: TrainingBatch): Promise<number> {
  const r = await s.evaluate(b);
  return r.lossSum / r.nItems;
}

/** Central difference along the gradient's direction (see training-gradients.test.ts). */
async function directionalError(s: NativeTrainingSession, b: TrainingBatch, name: string, eps: number): Promise<number> {
  await s.accumulate([b]);
  const theta = s.getTensor(name);
  const grad = s.getGradient(name);
  const norm = Math.sqrt(grad.reduce((a, g) => a + g * g, 0));
  assert.ok(norm > 0, `${name}: zero gradient`);
  s.setTensor(name, theta.map((x, i) => x + (eps * grad[i]!) / norm));
  const plus = await meanLoss(s, b);
  s.setTensor(name, theta.map((x, i) => x - (eps * grad[i]!) / norm));
  const minus = await meanLoss(s, b);
  s.setTensor(name, theta);
  return Math.abs((plus - minus) / (2 * eps) - norm) / norm;
}

test('reward head: the K-wise loss of a K=4 ranking with a tie equals the hand-computed value', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const s = await session(await tinyModel(env.addon!, 'llama'), {lossHead: 'reward', adapters: [{name: 'rm', trainable: true, head: true, lora: {rank: 4, alpha: 8}}]});
  try {
    randomiseB(s);
    const pairs = rankingPairs(TIERS);
    assert.equal(pairs.length, 5, 'a tie gives no pair');
    const batch = withPairs(fourAnswers(), pairs);
    const r = [...(await s.scores(batch, 'reward'))];
    assert.equal(r.length, 4, 'one reward per answer');
    const expected = pairs.reduce((sum, [h, l]) => sum + softplus(-(r[h]! - r[l]!)), 0) / pairs.length;
    const e = await s.evaluate(batch);
    t.diagnostic(`rewards ${r.map((x) => x.toFixed(4)).join(' ')}; loss ${(e.lossSum / e.nItems).toFixed(6)} vs hand ${expected.toFixed(6)}`);
    assert.ok(Math.abs(e.nItems - 1) < 1e-6, `one ranking counts once (nItems ${e.nItems})`);
    assert.ok(Math.abs(e.lossSum / e.nItems - expected) < 1e-5, `loss ${e.lossSum / e.nItems} vs ${expected}`);
    assert.deepEqual([...e.scores].map((x) => x.toFixed(5)), r.map((x) => x.toFixed(5)), 'the loss pass reports the same scores');
    // a margin shifts every pair: softplus(m - d)
    const margin = withPairs(fourAnswers(), pairs, pairs.map(() => 0.5));
    const withMargin = pairs.reduce((sum, [h, l]) => sum + softplus(0.5 - (r[h]! - r[l]!)), 0) / pairs.length;
    assert.ok(Math.abs((await meanLoss(s, margin)) - withMargin) < 1e-5, 'margin');
  } finally {
    s.dispose();
  }
});

test('reward head and DPO: gradients equal finite differences', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const model = await tinyModel(env.addon!, 'llama');
  const rm = await session(model, {lossHead: 'reward', loss: {centerRewards: 0.01}, adapters: [{name: 'rm', trainable: true, head: true, lora: {rank: 4, alpha: 8}}]});
  try {
    randomiseB(rm);
    const batch = {...withPairs(fourAnswers(), rankingPairs(TIERS)), sequenceWeights: new Float32Array(4).fill(0.25)};
    const names = ['zhongjing.score.weight', 'blk.0.attn_q.weight.lora_a', 'blk.1.ffn_down.weight.lora_b'];
    for (const name of names) {
      const rel = await directionalError(rm, batch, name, 1e-2);
      t.diagnostic(`reward ${name}: relative error ${rel.toExponential(2)}`);
      assert.ok(rel < 1e-2, `${name}: ${rel}`);
    }
  } finally {
    rm.dispose();
  }
  const dpo = await session(model, {lossHead: 'dpo', loss: {beta: 0.5, labelSmoothing: 0.1}});
  try {
    randomiseB(dpo);
    // chosen 0 over 1 and 2 over 3, with reference log-ratios as offsets
    const batch = withPairs(fourAnswers(), [[0, 1], [2, 3]], [0.3, -0.2]);
    const logp = [...(await dpo.scores(batch, 'logp'))];
    const beta = 0.5, eps = 0.1;
    const z = [beta * (logp[0]! - logp[1]! - 0.3), beta * (logp[2]! - logp[3]! + 0.2)];
    const expected = z.reduce((s, x) => s + (1 - eps) * softplus(-x) + eps * softplus(x), 0) / 2;
    assert.ok(Math.abs((await meanLoss(dpo, batch)) - expected) < 1e-5, 'sigmoid DPO with label smoothing');
    for (const name of ['blk.0.attn_v.weight.lora_a', 'blk.1.ffn_up.weight.lora_b']) {
      const rel = await directionalError(dpo, batch, name, 1e-2);
      t.diagnostic(`dpo ${name}: relative error ${rel.toExponential(2)}`);
      assert.ok(rel < 1e-2, `${name}: ${rel}`);
    }
  } finally {
    dpo.dispose();
  }
});

test('several adapters on one base: a frozen reference from a file scores like the policy started from it', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const model = await tinyModel(env.addon!, 'llama');
  const sft = join(dir, 'sft.gguf');
  const first = await session(model, {});
  randomiseB(first);
  await first.exportAdapter(sft);
  first.dispose();
  const s = await session(model, {
    lossHead: 'dpo',
    adapters: [
      {name: 'policy', trainable: true, initFrom: sft},
      {name: 'reference', trainable: false, initFrom: sft},
    ],
  });
  try {
    const info = s.info();
    assert.deepEqual(info.adapters.map((a) => [a.name, a.trainable]), [['policy', true], ['reference', false]]);
    assert.equal(info.trainableParams, info.adapters[0]!.params, 'only the policy is trainable');
    const batch = withPairs(fourAnswers(), [[0, 1]]);
    const policy = await s.scores(batch, 'logp', ['policy']);
    const reference = await s.scores(batch, 'logp', ['reference']);
    const base = await s.scores(batch, 'logp', false);
    assert.deepEqual([...policy], [...reference], 'same file, same log-probs');
    assert.notDeepEqual([...policy], [...base], 'the adapter changes the log-probs');
    // one step moves the policy only
    await s.trainStep([batch], 0.05);
    const after1 = await s.scores(batch, 'logp', ['policy']);
    assert.deepEqual([...(await s.scores(batch, 'logp', ['reference']))], [...reference], 'the reference is frozen');
    assert.notDeepEqual([...after1], [...policy], 'the policy moved');
    // a reward file needs a head; an adapter for another architecture is refused
    await assert.rejects(env.addon!.createSession({modelPath: model, threads: THREADS, lossHead: 'reward', adapters: [{name: 'rm', trainable: false, head: true, initFrom: sft}]}), /no scalar head/);
    const qwen = await tinyModel(env.addon!, 'qwen2');
    await assert.rejects(env.addon!.createSession({modelPath: qwen, threads: THREADS, adapters: [{name: 'p', trainable: true, initFrom: sft}]}), /llama model; the base model is qwen2/);
  } finally {
    s.dispose();
  }
});

test('a step whose gradient norm passes the bound is scaled down to it', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const model = await tinyModel(env.addon!, 'llama');
  const batch = withPairs(fourAnswers(), [[0, 1]]);
  const name = 'blk.0.attn_q.weight.lora_b';
  const moved = async (maxGradNorm?: number) => {
    const s = await session(model, {lossHead: 'dpo', adamw: {gradClip: 0}});
    try {
      randomiseB(s);
      const before = s.getTensor(name);
      // SGD-like first AdamW step moves every weight by about lr regardless of scale: compare the
      // second step, where the moments remember the scaled gradient
      const r = await s.trainStep([batch], 0.01, undefined, maxGradNorm ? {maxGradNorm} : undefined);
      const after = s.getTensor(name);
      return {r, delta: Math.sqrt(after.reduce((sum, x, i) => sum + (x - before[i]!) ** 2, 0))};
    } finally {
      s.dispose();
    }
  };
  const plain = await moved();
  const tamed = await moved(plain.r.gradNorm / 100);
  assert.equal(plain.r.downscaled, false);
  assert.equal(tamed.r.downscaled, true, 'reported');
  assert.ok(Math.abs(tamed.r.gradScale - 0.01) < 1e-4, `scale ${tamed.r.gradScale}`);
  assert.equal(tamed.r.step, 1, 'the step counts');
  assert.ok(tamed.delta > 0, 'the step still moves the weights');
});

/** Two prompt + response rows; response tokens are the targets (as the PPO feeder builds them). */
function rollouts(): TrainingBatch {
  const prompt = [310, 322, 345];
  const responses = [[400, 401, 402, 403], [410, 411]];
  const T = prompt.length + Math.max(...responses.map((r) => r.length));
  const n = responses.length * T;
  const b: TrainingBatch = {nRows: responses.length, nCtx: T, tokens: new Int32Array(n), positions: new Int32Array(n), segments: new Int32Array(n).fill(-1), targets: new Int32Array(n).fill(-1)};
  responses.forEach((response, r) => {
    const seq = [...prompt, ...response];
    seq.forEach((tok, i) => {
      b.tokens[r * T + i] = tok;
      b.positions[r * T + i] = i;
      b.segments[r * T + i] = 0;
      if (i + 1 < seq.length && i + 1 >= prompt.length) b.targets[r * T + i] = seq[i + 1]!;
    });
  });
  return b;
}

test('PPO head: ratio 1 and no clipping on a fresh rollout, losses equal a hand computation, gradients equal finite differences', async (t) => {
  if (env.skip) return t.skip(env.skip);
  const hp = {clipRange: 0.2, clipRangeValue: 0.2, vfCoef: 0.1};
  const s = await session(await tinyModel(env.addon!, 'llama'), {lossHead: 'ppo', loss: hp, adapters: [{name: 'policy', trainable: true, head: true, lora: {rank: 4, alpha: 8}}]});
  try {
    randomiseB(s);
    const batch = rollouts();
    const policy = await s.scores(batch, 'policy', ['policy']);
    const M = policy.length / 3;
    assert.equal(M, 6, 'one value per response token');
    const logp = [...policy.subarray(0, M)];
    const value = [...policy.subarray(M, 2 * M)];
    const entropy = [...policy.subarray(2 * M)];
    assert.ok(entropy.every((e) => e > 0 && e <= Math.log(env.addon ? s.info().nVocab : 1) + 1e-4), 'entropies are in (0, log V]');
    // a fresh rollout: logp_old = logp, so the ratio is exactly 1, nothing is clipped, and the
    // policy loss is -mean(A)
    const adv = [0.5, -1, 2, 0.3, -0.7, 1.1];
    const ret = value.map((v, i) => v + adv[i]! * 0.5);
    const fresh = {...batch, targetValues: Float32Array.from([...logp, ...adv, ...ret, ...value])};
    const e = await s.evaluate(fresh);
    const hand = adv.reduce((sum, a, i) => sum - a + hp.vfCoef * 0.5 * (value[i]! - ret[i]!) ** 2, 0) / M;
    t.diagnostic(`fresh rollout: loss ${(e.lossSum / e.nItems).toFixed(6)} vs hand ${hand.toFixed(6)}; ratio ${[...e.scores.subarray(0, M)].map((x, i) => Math.exp(x - logp[i]!).toFixed(6)).join(' ')}`);
    assert.ok(Math.abs(e.lossSum / e.nItems - hand) < 1e-5, `loss ${e.lossSum / e.nItems} vs ${hand}`);
    for (let i = 0; i < M; i++) assert.equal(e.scores[i], logp[i], 'the same forward gives the same log-probs: ratio exactly 1');

    // an old policy far from this one: clipping and the value clip take over (hand computed)
    const old = logp.map((x, i) => x + [0.5, -0.5, 0.05, -0.3, 0.4, 0][i]!);
    const vOld = value.map((v, i) => v + [0.5, -0.1, 0, 0.3, -0.4, 0.05][i]!);
    const moved = {...batch, targetValues: Float32Array.from([...old, ...adv, ...ret, ...vOld])};
    const clip = (x: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, x));
    const expected = adv.reduce((sum, a, i) => {
      const r = Math.exp(logp[i]! - old[i]!);
      const pg = Math.max(-a * r, -a * clip(r, 1 - hp.clipRange, 1 + hp.clipRange));
      const vc = vOld[i]! + clip(value[i]! - vOld[i]!, -hp.clipRangeValue, hp.clipRangeValue);
      const vf = 0.5 * Math.max((value[i]! - ret[i]!) ** 2, (vc - ret[i]!) ** 2);
      return sum + pg + hp.vfCoef * vf;
    }, 0) / M;
    const got = await meanLoss(s, moved);
    t.diagnostic(`off-policy: loss ${got.toFixed(6)} vs hand ${expected.toFixed(6)}`);
    assert.ok(Math.abs(got - expected) < 1e-5, `loss ${got} vs ${expected}`);
    for (const name of ['zhongjing.score.weight', 'blk.0.attn_q.weight.lora_a', 'blk.1.ffn_down.weight.lora_b']) {
      const rel = await directionalError(s, moved, name, 1e-2);
      t.diagnostic(`ppo ${name}: relative error ${rel.toExponential(2)}`);
      assert.ok(rel < 2e-2, `${name}: ${rel}`);
    }
  } finally {
    s.dispose();
  }
});
