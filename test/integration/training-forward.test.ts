// The training graph's forward pass against llama.cpp's own (through node-llama-cpp), on the
// same GGUF: llama and qwen2, every frozen weight type, with and without a LoRA exported by the
// trainer, and packed/padded batches against the same sequences evaluated alone.
//
// Tolerances (max |Δ| over every logit of every position; logits are O(1) here):
//  - F32 weights, llama.cpp with an F32 KV cache and no flash attention: 1e-5 (measured ~1e-7:
//    same ops, same order, same CPU kernels).
//  - llama.cpp defaults (F16 KV cache, flash attention auto): 2e-3 (measured ~3e-4).
//  - quantised weights: 2e-2 (measured ~5e-3: llama.cpp repacks Q4_0/Q8_0 for its CPU kernels, so
//    the activations are quantised differently).
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtempSync, rmSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {LlamaModel} from 'node-llama-cpp';
import type {NativeTrainingSession, TrainingBatch} from '../../main/node/training/native.js';
import {THREADS, llamaCppLogits, maxAbsDiff, randomFloats, singleRow, tinyModel, trainerEnv, wideModel, type TrainerEnv} from './training-support.js';

const TEXT = '患者头痛三天，发热，咳嗽。医生建议休息并多喝水。';
let env: TrainerEnv;
let dir: string;

before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-train-fwd-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

async function withModel<T>(path: string, fn: (model: LlamaModel, session: NativeTrainingSession) => Promise<T>): Promise<T> {
  const model = await env.llama.loadModel({modelPath: path});
  const session = await env.addon!.createSession({modelPath: path, threads: THREADS, seed: 3, lora: {rank: 4, alpha: 8}});
  try {
    return await fn(model, session);
  } finally {
    session.dispose();
    await model.dispose();
  }
}

for (const arch of ['llama', 'qwen2'] as const) {
  describe(`forward pass matches llama.cpp: ${arch}`, () => {
    test('F32 weights: exact configuration and llama.cpp defaults', async (t) => {
      if (env.skip) return t.skip(env.skip);
      const path = await tinyModel(env.addon!, arch);
      await withModel(path, async (model, session) => {
        const tokens = model.tokenize(TEXT);
        const nVocab = session.info().nVocab;
        const ours = await session.logits(singleRow(tokens), false);
        const exact = maxAbsDiff(await llamaCppLogits(model, tokens, nVocab, {exact: true}), ours, nVocab);
        const defaults = maxAbsDiff(await llamaCppLogits(model, tokens, nVocab, {exact: false}), ours, nVocab);
        t.diagnostic(`${arch} f32, ${tokens.length} tokens: max|Δ| ${exact.toExponential(2)} (F32 KV, no FA), ${defaults.toExponential(2)} (defaults)`);
        assert.ok(exact <= 1e-5, `exact max|Δ| ${exact}`);
        assert.ok(defaults <= 2e-3, `default max|Δ| ${defaults}`);
      });
    });

    for (const type of ['f16', 'q8_0', 'q4_0', 'q4_K']) {
      test(`frozen base in ${type}`, async (t) => {
        if (env.skip) return t.skip(env.skip);
        // Q4_K blocks hold 256 values: the tiny model's 64-wide rows cannot use it
        const path = type === 'q4_K' ? await wideModel(env.addon!, arch, type) : await tinyModel(env.addon!, arch, type);
        await withModel(path, async (model, session) => {
          assert.equal(session.info().weightType, type);
          const tokens = model.tokenize(TEXT);
          const nVocab = session.info().nVocab;
          const ours = await session.logits(singleRow(tokens), false);
          const diff = maxAbsDiff(await llamaCppLogits(model, tokens, nVocab, {exact: true}), ours, nVocab);
          t.diagnostic(`${arch} ${type}: max|Δ| ${diff.toExponential(2)}`);
          assert.ok(diff <= (type === 'f16' ? 1e-4 : 2e-2), `max|Δ| ${diff}`);
        });
      });
    }

    test('with a LoRA exported by the trainer and loaded by node-llama-cpp', async (t) => {
      if (env.skip) return t.skip(env.skip);
      const path = await tinyModel(env.addon!, arch);
      await withModel(path, async (model, session) => {
        // B starts at zero (the LoRA is a no-op then): give every B values so the test means something
        for (const [i, name] of session.tensorNames().entries()) {
          if (name.endsWith('lora_b')) session.setTensor(name, randomFloats(session.getTensor(name).length, 100 + i, 0.05));
        }
        const adapter = join(dir, `${arch}-lora.gguf`);
        await session.exportAdapter(adapter, {'zhongjing.test': 'forward'});
        const tokens = model.tokenize(TEXT);
        const nVocab = session.info().nVocab;
        const withLora = await session.logits(singleRow(tokens), true);
        const without = await session.logits(singleRow(tokens), false);
        const reference = await llamaCppLogits(model, tokens, nVocab, {exact: true, lora: {filePath: adapter}});
        const diff = maxAbsDiff(reference, withLora, nVocab);
        const effect = maxAbsDiff(reference, without, nVocab);
        t.diagnostic(`${arch} + LoRA: max|Δ| ${diff.toExponential(2)} (the LoRA itself moves logits by up to ${effect.toFixed(3)})`);
        assert.ok(effect > 0.05, 'the LoRA should change the logits');
        assert.ok(diff <= 1e-5, `max|Δ| ${diff}`);
      });
    });

    test('packed and padded rows: each sequence as if alone', async (t) => {
      if (env.skip) return t.skip(env.skip);
      const path = await tinyModel(env.addon!, arch);
      await withModel(path, async (model, session) => {
        const a = model.tokenize('我头痛三天了。');
        const b = model.tokenize('医生建议多喝水，注意休息。');
        const c = model.tokenize('血压高吗？');
        const T = 32;
        // row 0: a then b packed; row 1: c then padding
        const batch: TrainingBatch = {
          nRows: 2, nCtx: T,
          tokens: new Int32Array(2 * T), positions: new Int32Array(2 * T),
          segments: new Int32Array(2 * T).fill(-1), targets: new Int32Array(2 * T).fill(-1),
        };
        const place = (row: number, at: number, seq: number[], segment: number) =>
          seq.forEach((tok, i) => {
            batch.tokens[row * T + at + i] = tok;
            batch.positions[row * T + at + i] = i;
            batch.segments[row * T + at + i] = segment;
          });
        assert.ok(a.length + b.length <= T && c.length <= T, 'the sequences fit the rows');
        place(0, 0, a, 0);
        place(0, a.length, b, 1);
        place(1, 0, c, 0);
        const nVocab = session.info().nVocab;
        const packed = await session.logits(batch, false);
        let worst = 0;
        for (const [seq, row, at] of [[a, 0, 0], [b, 0, a.length], [c, 1, 0]] as const) {
          const alone = await session.logits(singleRow(seq), false);
          for (let i = 0; i < seq.length; i++) {
            for (let v = 0; v < nVocab; v++) {
              worst = Math.max(worst, Math.abs(alone[i * nVocab + v]! - packed[(row * T + at + i) * nVocab + v]!));
            }
          }
        }
        t.diagnostic(`${arch} packed/padded vs alone: max|Δ| ${worst.toExponential(2)}`);
        assert.ok(worst <= 1e-5, `max|Δ| ${worst}`);
      });
    });
  });
}
