// PEFT adapters both ways on the tiny models: an adapter trained here → PEFT directory (our own
// safetensors writer) → converted back → the same logits in node-llama-cpp as the original; a
// hand-written PEFT fixture (bytes laid out as the safetensors README describes, F16 and BF16)
// converts with the right shapes and loads in llama.cpp; other architectures and shapes refused.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import type {LlamaModel} from 'node-llama-cpp';
import {AppError} from '../../main/common/errors.js';
import {convertPeftToGguf, exportGgufAsPeft, readGgufTensors, PEFT_CONFIG_FILE, PEFT_WEIGHTS_FILE} from '../../main/node/adapters/peft.js';
import {readSafetensors} from '../../main/node/adapters/safetensors.js';
import {f32ToF16Bits} from '../../main/node/models/gguf-writer.js';
import {datasetInputs} from '../../main/node/training/inputs.js';
import {defaultJobConfig} from '../../main/node/training/job.js';
import {runTraining} from '../../main/node/training/run.js';
import {tinyModelPath} from '../helpers/tiny-model.js';
import {llamaCppLogits, THREADS, trainerEnv, type TrainerEnv} from './training-support.js';

let env: TrainerEnv;
let dir: string;
before(async () => {
  env = await trainerEnv();
  dir = mkdtempSync(join(tmpdir(), 'zhongjing-peft-'));
});
after(() => rmSync(dir, {recursive: true, force: true}));

/** A safetensors file written byte by byte as the format's README describes (not with our writer). */
function handWrittenSafetensors(path: string, tensors: {name: string; dtype: 'F16' | 'BF16' | 'F32'; shape: number[]; values: number[]}[]): void {
  const header: Record<string, unknown> = {__metadata__: {format: 'pt'}};
  const blobs: Buffer[] = [];
  let offset = 0;
  for (const t of tensors) {
    const size = t.dtype === 'F32' ? 4 : 2;
    const blob = Buffer.alloc(t.values.length * size);
    t.values.forEach((v, i) => {
      if (t.dtype === 'F32') blob.writeFloatLE(v, i * 4);
      else if (t.dtype === 'F16') blob.writeUInt16LE(f32ToF16Bits(v), i * 2);
      else {
        const f = Buffer.alloc(4);
        f.writeFloatLE(v);
        blob.writeUInt16LE(f.readUInt32LE() >>> 16, i * 2); // BF16 = the top half of the F32 (exact for these values)
      }
    });
    header[t.name] = {dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + blob.length]};
    offset += blob.length;
    blobs.push(blob);
  }
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(path, Buffer.concat([length, json, ...blobs]));
}

/** Tiny model shapes: n_embd 64, 4 query heads and 2 KV heads of 16, n_ff 128, 2 layers. */
const OUT = {q_proj: 64, k_proj: 32, v_proj: 32, o_proj: 64, gate_proj: 128, up_proj: 128, down_proj: 64} as const;
const IN = {q_proj: 64, k_proj: 64, v_proj: 64, o_proj: 64, gate_proj: 64, up_proj: 64, down_proj: 128} as const;
type Module = keyof typeof OUT;
const ATTN = new Set(['q_proj', 'k_proj', 'v_proj', 'o_proj']);

function fixture(name: string, options: {r?: number; modules?: Module[]; layers?: number[]; config?: Record<string, unknown>; tensorName?: (layer: number, m: Module, half: 'A' | 'B') => string; inOverride?: number} = {}): string {
  const r = options.r ?? 4;
  const modules = options.modules ?? (['q_proj', 'v_proj', 'down_proj'] as Module[]);
  const folder = join(dir, name);
  mkdirSync(folder, {recursive: true});
  writeFileSync(join(folder, PEFT_CONFIG_FILE), JSON.stringify({
    peft_type: 'LORA', task_type: 'CAUSAL_LM', base_model_name_or_path: 'zhongjing/tiny-llama', r, lora_alpha: 8, lora_dropout: 0.05,
    target_modules: modules, bias: 'none', fan_in_fan_out: false, inference_mode: true, ...options.config,
  }));
  const tensors = [];
  for (const layer of options.layers ?? [0, 1]) {
    for (const m of modules) {
      const prefix = `base_model.model.model.layers.${layer}.${ATTN.has(m) ? 'self_attn' : 'mlp'}.${m}`;
      const nIn = options.inOverride ?? IN[m];
      // values exact in F16 and BF16: multiples of 1/64 below 2
      tensors.push({name: options.tensorName?.(layer, m, 'A') ?? `${prefix}.lora_A.weight`, dtype: 'F16' as const, shape: [r, nIn], values: Array.from({length: r * nIn}, (_, i) => ((i % 17) - 8) / 64)});
      tensors.push({name: options.tensorName?.(layer, m, 'B') ?? `${prefix}.lora_B.weight`, dtype: 'BF16' as const, shape: [OUT[m], r], values: Array.from({length: OUT[m] * r}, (_, i) => ((i % 11) - 5) / 64)});
    }
  }
  handWrittenSafetensors(join(folder, PEFT_WEIGHTS_FILE), tensors);
  return folder;
}

async function refusal(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof AppError, `an AppError, got ${String(error)}`);
    return error;
  }
  assert.fail('the conversion was expected to be refused');
}

describe('hand-written PEFT fixture', () => {
  test('converts with the right GGUF names, shapes and values, and llama.cpp loads it', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const base = await tinyModelPath('llama');
    const out = join(dir, 'fixture.gguf');
    const result = await convertPeftToGguf({dir: fixture('fixture'), basePath: base, out});
    assert.deepEqual({rank: result.rank, alpha: result.alpha, layers: result.layers, targets: result.targets, tensors: result.tensors}, {rank: 4, alpha: 8, layers: 2, targets: ['q', 'v', 'down'], tensors: 12}, 'summary');
    const {tensors, metadata} = await readGgufTensors(out);
    assert.deepEqual(tensors.get('blk.0.attn_q.weight.lora_a')!.dims, [64, 4], 'lora_a ne = [n_in, r]');
    assert.deepEqual(tensors.get('blk.0.attn_q.weight.lora_b')!.dims, [4, 64], 'lora_b ne = [r, n_out]');
    assert.deepEqual(tensors.get('blk.1.attn_v.weight.lora_b')!.dims, [4, 32], 'GQA: v_proj out = 2 KV heads × 16');
    assert.deepEqual(tensors.get('blk.1.ffn_down.weight.lora_a')!.dims, [128, 4], 'down_proj in = n_ff');
    // PyTorch row-major [r, in] is ggml ne [in, r]: element (row i, column j) stays at i·in + j
    assert.equal(tensors.get('blk.1.ffn_down.weight.lora_a')!.data[2 * 128 + 5], (((2 * 128 + 5) % 17) - 8) / 64, 'F16 value in place');
    assert.equal(tensors.get('blk.0.attn_q.weight.lora_b')!.data[63 * 4 + 3], (((63 * 4 + 3) % 11) - 5) / 64, 'BF16 value in place');
    assert.equal((metadata as {adapter: {lora: {alpha: number}}}).adapter.lora.alpha, 8, 'alpha from the config');
    assert.equal((metadata as {general: {type: string}}).general.type, 'adapter');

    const model = await env.llama.loadModel({modelPath: base, gpuLayers: 0});
    try {
      const tokens = [1, 40, 41, 42, 43];
      const plain = await llamaCppLogits(model, tokens, 786, {exact: true});
      const adapted = await llamaCppLogits(model, tokens, 786, {exact: true, lora: {filePath: out}});
      const moved = Math.max(...plain.flatMap((row, i) => [...row].map((v, j) => Math.abs(v - adapted[i]![j]!))));
      t.diagnostic(`max |Δlogit| with the fixture: ${moved}`);
      assert.ok(moved > 1e-4, `the converted adapter changes the logits (${moved})`);
    } finally {
      await model.dispose();
    }
  });

  test('rsLoRA keeps PEFT\'s scale: alpha·√r in the GGUF', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const result = await convertPeftToGguf({dir: fixture('rslora', {config: {use_rslora: true}}), basePath: await tinyModelPath('llama'), out: join(dir, 'rslora.gguf')});
    assert.equal(result.ggufAlpha, 8 * 2, 'alpha 8, r 4 → 16 (16 / 4 = 8 / √4)');
  });

  test('another architecture, other shapes, another layer count and other adapter kinds are refused (zh/en)', async (t) => {
    if (env.skip) return t.skip(env.skip);
    const base = await tinyModelPath('qwen2');
    const convert = (folder: string) => convertPeftToGguf({dir: folder, basePath: base, out: join(dir, 'refused.gguf')});

    const chatglm = await refusal(convert(fixture('chatglm', {tensorName: (l, _m, h) => `base_model.model.transformer.encoder.layers.${l}.self_attention.query_key_value.lora_${h}.weight`, modules: ['q_proj']})));
    assert.match(chatglm.localised.en, /not trained for a LLaMA\/Qwen2 architecture/);
    assert.match(chatglm.localised.zh, /不是为 LLaMA\/Qwen2 结构训练的/);

    const gpt2 = await refusal(convert(fixture('gpt2', {config: {fan_in_fan_out: true}})));
    assert.match(gpt2.localised.en, /Conv1D/);

    const wide = await refusal(convert(fixture('wide', {inOverride: 128, modules: ['q_proj']})));
    assert.match(wide.localised.en, /Shapes do not match the chosen base: layers\.0\.self_attn\.q_proj has lora_A \[4, 128\]/);
    assert.match(wide.localised.zh, /形状与所选基座不符/);

    const deeper = await refusal(convert(fixture('deeper', {layers: [0, 1, 2], modules: ['q_proj']})));
    assert.match(deeper.localised.en, /layer 2, which the chosen base model does not have/);

    const prefix = await refusal(convert(fixture('prefix', {config: {peft_type: 'PREFIX_TUNING'}})));
    assert.match(prefix.localised.en, /Only LoRA adapters/);

    assert.equal((await refusal(convert(fixture('dora', {config: {use_dora: true}})))).code, 'validation');
    assert.match((await refusal(convertPeftToGguf({dir: fixture('onbaichuan'), basePath: join(dir, 'missing.gguf'), out: join(dir, 'x.gguf')}))).code, /model_missing|model_invalid/);
  });
});

test('round trip: a trained SFT adapter → PEFT → GGUF gives identical logits in node-llama-cpp (llama and qwen2)', async (t) => {
  if (env.skip) return t.skip(env.skip);
  for (const arch of ['llama', 'qwen2'] as const) {
    const base = await tinyModelPath(arch);
    const data = join(dir, `sft-${arch}.jsonl`);
    writeFileSync(data, JSON.stringify({conversation: [{role: 'user', content: '我头痛三天了。'}, {role: 'assistant', content: '建议多休息，多喝水。'}]}) + '\n');
    const trained = join(dir, `trained-${arch}.gguf`);
    const config = {
      ...defaultJobConfig({kind: 'sft', model: base, inputs: datasetInputs([data]), out: trained, threads: THREADS}),
      steps: 4, lr: 2e-2, warmupSteps: 1, nCtx: 64, rows: 1, accum: 1, valFraction: 0, checkpointEvery: 0,
      lora: {rank: 4, alpha: 8, dropout: 0, targets: ['q', 'k', 'v', 'o', 'gate', 'up', 'down'] as ('q' | 'k' | 'v' | 'o' | 'gate' | 'up' | 'down')[]},
    };
    const record = await runTraining({runDir: join(dir, `run-${arch}`), runId: `peft-${arch}`, config});
    assert.equal(record.status, 'completed', `${arch}: training completed`);

    const peftDir = join(dir, `peft-${arch}`);
    const exported = await exportGgufAsPeft({adapterPath: trained, outDir: peftDir, baseModelId: `zhongjing/tiny-${arch}`});
    assert.deepEqual({rank: exported.rank, alpha: exported.alpha, tensors: exported.tensors}, {rank: 4, alpha: 8, tensors: 2 * 7 * 2});
    const peftConfig = JSON.parse(readFileSync(join(peftDir, PEFT_CONFIG_FILE), 'utf8'));
    assert.deepEqual({r: peftConfig.r, lora_alpha: peftConfig.lora_alpha, target_modules: peftConfig.target_modules, base: peftConfig.base_model_name_or_path, peft_type: peftConfig.peft_type},
      {r: 4, lora_alpha: 8, target_modules: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'], base: `zhongjing/tiny-${arch}`, peft_type: 'LORA'});
    const {tensors: peftTensors} = await readSafetensors(join(peftDir, PEFT_WEIGHTS_FILE));
    assert.deepEqual(peftTensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_A.weight')!.shape, [4, 64], 'PEFT lora_A is [r, in]');
    assert.deepEqual(peftTensors.get('base_model.model.model.layers.1.self_attn.k_proj.lora_B.weight')!.shape, [32, 4], 'PEFT lora_B is [out, r]');
    assert.deepEqual(peftTensors.get('base_model.model.model.layers.0.mlp.down_proj.lora_A.weight')!.shape, [4, 128]);

    const back = join(dir, `back-${arch}.gguf`);
    await convertPeftToGguf({dir: peftDir, basePath: base, out: back});
    const original = await readGgufTensors(trained);
    const reimported = await readGgufTensors(back);
    for (const [name, tensor] of original.tensors) {
      assert.deepEqual(reimported.tensors.get(name)?.dims, tensor.dims, `${arch}: ${name} shape`);
      assert.deepEqual(reimported.tensors.get(name)!.data, tensor.data, `${arch}: ${name} values`);
    }

    const model: LlamaModel = await env.llama.loadModel({modelPath: base, gpuLayers: 0});
    try {
      const tokens = [...model.tokenize('我头痛三天了，建议多休息。')];
      const nVocab = 786;
      const plain = await llamaCppLogits(model, tokens, nVocab, {exact: true});
      const a = await llamaCppLogits(model, tokens, nVocab, {exact: true, lora: {filePath: trained}});
      const b = await llamaCppLogits(model, tokens, nVocab, {exact: true, lora: {filePath: back}});
      let moved = 0;
      a.forEach((row, i) => {
        assert.deepEqual(b[i], row, `${arch}: logits at position ${i} identical with the re-imported adapter`);
        row.forEach((v, j) => (moved = Math.max(moved, Math.abs(v - plain[i]![j]!))));
      });
      t.diagnostic(`${arch}: ${tokens.length} positions identical; the trained adapter moves logits by up to ${moved.toExponential(2)}`);
      assert.ok(moved > 1e-5, `${arch}: the trained adapter is not a no-op (${moved})`);
    } finally {
      await model.dispose();
    }
  }
});
