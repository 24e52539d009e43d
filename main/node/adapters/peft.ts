// PEFT LoRA adapters, both ways: a Hugging Face PEFT adapter directory (adapter_config.json +
// adapter_model.safetensors, as LLaMA-Factory, TRL and transformers save it) ⇄ a LoRA GGUF that
// llama.cpp (node-llama-cpp) loads and our trainer writes.
//
// Tensor names (llama and qwen2 share them in transformers):
//   base_model.model.model.layers.N.self_attn.{q,k,v,o}_proj.lora_{A,B}.weight
//   base_model.model.model.layers.N.mlp.{gate,up,down}_proj.lora_{A,B}.weight
// ⇄ blk.N.{attn_q,attn_k,attn_v,attn_output,ffn_gate,ffn_up,ffn_down}.weight.lora_{a,b}
//
// Shapes. PyTorch lists a tensor's dimensions slowest first, ggml lists them fastest first
// (ne[0]). PEFT's lora_A is [r, in] and lora_B is [out, r]; our GGUF lora_a has ne = [in, r] and
// lora_b ne = [r, out]. The memory order is therefore the same (r rows of `in` values; `out` rows
// of r values): only the dimension lists are reversed, no values move.
//
// Scale. PEFT scales B·A by lora_alpha / r (lora_alpha / √r with use_rslora); llama.cpp by
// adapter.lora.alpha / r. An rsLoRA adapter is written with alpha' = lora_alpha · √r.

import {existsSync} from 'node:fs';
import {mkdir, open, readFile, writeFile} from 'node:fs/promises';
import {join, resolve} from 'node:path';
import {GgmlType, readGgufFileInfo} from 'node-llama-cpp';
import type {ModelInfo} from '../../common/contract.js';
import {AppError, type LocalisedText} from '../../common/errors.js';
import {sha256File} from '../hash.js';
import {newId, nowIso} from '../ids.js';
import type {DataPaths} from '../paths.js';
import type {ModelService} from '../services/model-service.js';
import {inspectGguf} from '../models/gguf-inspect.js';
import {gguf, writeGguf, type GgufTensor, type GgufValue} from '../models/gguf-writer.js';
import {f16BitsToF32, readSafetensors, writeSafetensors} from './safetensors.js';

/** The architectures whose transformers and llama.cpp tensor names this module maps. */
export const PEFT_ARCHITECTURES = ['llama', 'qwen2'] as const;

/** One LoRA site: our short name, the transformers module, the GGUF tensor stem. */
export const LORA_SITES = [
  {target: 'q', module: 'self_attn.q_proj', gguf: 'attn_q'},
  {target: 'k', module: 'self_attn.k_proj', gguf: 'attn_k'},
  {target: 'v', module: 'self_attn.v_proj', gguf: 'attn_v'},
  {target: 'o', module: 'self_attn.o_proj', gguf: 'attn_output'},
  {target: 'gate', module: 'mlp.gate_proj', gguf: 'ffn_gate'},
  {target: 'up', module: 'mlp.up_proj', gguf: 'ffn_up'},
  {target: 'down', module: 'mlp.down_proj', gguf: 'ffn_down'},
] as const;
export type LoraSite = (typeof LORA_SITES)[number];

export const PEFT_CONFIG_FILE = 'adapter_config.json';
export const PEFT_WEIGHTS_FILE = 'adapter_model.safetensors';
/** LLaMA-Factory's file for a reward model's value head, beside the adapter. */
export const VALUE_HEAD_FILE = 'value_head.safetensors';

const PEFT_NAME = /^(?:base_model\.model\.)?model\.layers\.(\d+)\.(self_attn\.[qkvo]_proj|mlp\.(?:gate|up|down)_proj)\.lora_(A|B)(?:\.[A-Za-z0-9_-]+)?\.weight$/;
const GGUF_NAME = /^blk\.(\d+)\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)\.weight\.lora_(a|b)$/;
const HEAD_NAME = 'zhongjing.score.weight';

function refuse(text: LocalisedText, code: 'validation' | 'model_invalid' = 'validation'): AppError {
  return new AppError(code, text);
}

// ───────────── GGUF tensors (read) ─────────────

export interface GgufTensorData {
  dims: number[];
  data: Float32Array;
}

export interface GgufContents {
  metadata: Record<string, unknown>;
  tensors: Map<string, GgufTensorData>;
}

/** Tensor shapes of a GGUF file (no data), after the app's own layout checks. */
export async function readGgufShapes(path: string): Promise<{architecture: string; metadata: Record<string, unknown>; shapes: Map<string, {dims: number[]; type: number; fileOffset: number}>}> {
  const summary = await inspectGguf(path);
  const info = await readGgufFileInfo(resolve(path), {readTensorInfo: true, logWarnings: false, sourceType: 'filesystem'});
  const shapes = new Map<string, {dims: number[]; type: number; fileOffset: number}>();
  for (const t of info.fullTensorInfo ?? info.tensorInfo ?? []) {
    shapes.set(t.name, {dims: t.dimensions.map(Number), type: t.ggmlType, fileOffset: Number(t.fileOffset)});
  }
  return {architecture: summary.architecture, metadata: info.metadata as unknown as Record<string, unknown>, shapes};
}

/** Every tensor of a (small) GGUF file as F32; only F32 and F16 tensors (what LoRA files hold). */
export async function readGgufTensors(path: string): Promise<GgufContents & {architecture: string}> {
  const {architecture, metadata, shapes} = await readGgufShapes(path);
  const tensors = new Map<string, GgufTensorData>();
  const handle = await open(resolve(path), 'r');
  try {
    for (const [name, {dims, type, fileOffset}] of shapes) {
      if (type !== GgmlType.F32 && type !== GgmlType.F16) {
        throw refuse({zh: `张量 ${name} 是量化类型（${GgmlType[type] ?? type}），LoRA 导出只支持 F32/F16。`, en: `Tensor ${name} is quantised (${GgmlType[type] ?? type}); LoRA export supports F32/F16 only.`});
      }
      const count = dims.reduce((a, b) => a * b, 1);
      const bytes = Buffer.alloc(count * (type === GgmlType.F32 ? 4 : 2));
      const {bytesRead} = await handle.read(bytes, 0, bytes.length, fileOffset);
      if (bytesRead !== bytes.length) throw refuse({zh: `张量 ${name} 的数据不完整：${path}`, en: `Tensor ${name} is truncated: ${path}`}, 'model_invalid');
      const data = new Float32Array(count);
      if (type === GgmlType.F32) for (let i = 0; i < count; i++) data[i] = bytes.readFloatLE(i * 4);
      else for (let i = 0; i < count; i++) data[i] = f16BitsToF32(bytes.readUInt16LE(i * 2));
      tensors.set(name, {dims, data});
    }
  } finally {
    await handle.close();
  }
  return {architecture, metadata, tensors};
}

/** A nested metadata value ('adapter.lora.alpha') from node-llama-cpp's parsed metadata. */
export function metadataValue(metadata: Record<string, unknown>, key: string): unknown {
  let node: unknown = metadata;
  for (const part of key.split('.')) {
    if (typeof node !== 'object' || node === null) return undefined;
    node = (node as Record<string, unknown>)[part];
  }
  return node;
}

// ───────────── PEFT → GGUF ─────────────

export interface PeftAdapterConfig {
  peft_type?: string;
  task_type?: string | null;
  r?: number;
  lora_alpha?: number;
  lora_dropout?: number;
  target_modules?: string[] | string | null;
  base_model_name_or_path?: string | null;
  use_rslora?: boolean;
  use_dora?: boolean;
  fan_in_fan_out?: boolean;
  bias?: string;
  rank_pattern?: Record<string, number>;
  alpha_pattern?: Record<string, number>;
  modules_to_save?: string[] | null;
}

export interface PeftConversion {
  out: string;
  sha256: string;
  architecture: string;
  rank: number;
  /** lora_alpha of the PEFT config; the GGUF's adapter.lora.alpha differs only for rsLoRA. */
  alpha: number;
  ggufAlpha: number;
  layers: number;
  targets: string[];
  tensors: number;
  baseModelNameOrPath: string | null;
  sourceSha256: string;
}

/** Reads and checks a PEFT adapter's config. */
export async function readPeftConfig(dir: string): Promise<PeftAdapterConfig> {
  const configPath = join(dir, PEFT_CONFIG_FILE);
  if (!existsSync(configPath)) {
    throw refuse({zh: `${dir} 不是 PEFT 适配器目录：缺少 ${PEFT_CONFIG_FILE}。`, en: `${dir} is not a PEFT adapter directory: ${PEFT_CONFIG_FILE} is missing.`});
  }
  let config: PeftAdapterConfig;
  try {
    config = JSON.parse(await readFile(configPath, 'utf8')) as PeftAdapterConfig;
  } catch {
    throw refuse({zh: `${configPath} 不是有效的 JSON。`, en: `${configPath} is not valid JSON.`});
  }
  if (config.peft_type !== 'LORA') {
    throw refuse({zh: `只支持 LoRA 适配器，此适配器的 peft_type 是 ${String(config.peft_type)}。`, en: `Only LoRA adapters are supported; this adapter's peft_type is ${String(config.peft_type)}.`});
  }
  if (config.use_dora) throw refuse({zh: 'DoRA 适配器（use_dora）无法转换为 llama.cpp 的 LoRA。', en: 'A DoRA adapter (use_dora) cannot be converted to a llama.cpp LoRA.'});
  if (config.fan_in_fan_out) {
    throw refuse({zh: '此适配器是为 Conv1D 结构（如 GPT-2）训练的（fan_in_fan_out），不是 LLaMA/Qwen2 结构。', en: 'This adapter was trained for a Conv1D model such as GPT-2 (fan_in_fan_out), not a LLaMA/Qwen2 model.'});
  }
  if (config.bias && config.bias !== 'none') throw refuse({zh: `适配器训练了偏置（bias=${config.bias}），llama.cpp 的 LoRA 无法表示。`, en: `The adapter trains biases (bias=${config.bias}); a llama.cpp LoRA cannot hold them.`});
  if (Object.keys(config.rank_pattern ?? {}).length || Object.keys(config.alpha_pattern ?? {}).length) {
    throw refuse({zh: '适配器按模块设置了不同的秩或 alpha（rank_pattern / alpha_pattern），暂不支持。', en: 'The adapter sets a rank or alpha per module (rank_pattern / alpha_pattern), which is not supported.'});
  }
  if (!Number.isInteger(config.r) || config.r! < 1) throw refuse({zh: `adapter_config.json 的 r 无效：${String(config.r)}`, en: `adapter_config.json has an invalid r: ${String(config.r)}`});
  const alpha = config.lora_alpha ?? 8; // PEFT's LoraConfig default
  if (!(typeof alpha === 'number' && alpha > 0)) throw refuse({zh: `adapter_config.json 的 lora_alpha 无效：${String(alpha)}`, en: `adapter_config.json has an invalid lora_alpha: ${String(alpha)}`});
  return {...config, lora_alpha: alpha};
}

/**
 * Converts a PEFT LoRA adapter directory into a LoRA GGUF for `basePath`, checking every tensor
 * against the base: an adapter for another architecture or other shapes is refused (zh/en).
 * `extraMetadata` (provenance) is written as string keys.
 */
export async function convertPeftToGguf(options: {dir: string; basePath: string; out: string; extraMetadata?: Record<string, string>}): Promise<PeftConversion> {
  const dir = resolve(options.dir);
  const config = await readPeftConfig(dir);
  const weightsPath = join(dir, PEFT_WEIGHTS_FILE);
  if (!existsSync(weightsPath)) {
    const pickled = existsSync(join(dir, 'adapter_model.bin'));
    throw refuse({
      zh: pickled ? `只读取 ${PEFT_WEIGHTS_FILE}；adapter_model.bin（pickle）不安全，请用 safe_serialization=True 重新保存。` : `${dir} 中缺少 ${PEFT_WEIGHTS_FILE}。`,
      en: pickled ? `Only ${PEFT_WEIGHTS_FILE} is read; adapter_model.bin (pickle) is unsafe, save it again with safe_serialization=True.` : `${PEFT_WEIGHTS_FILE} is missing in ${dir}.`,
    });
  }
  const rank = config.r!;
  const alpha = config.lora_alpha!;
  const ggufAlpha = config.use_rslora ? alpha * Math.sqrt(rank) : alpha;

  const base = await readGgufShapes(options.basePath);
  if (!(PEFT_ARCHITECTURES as readonly string[]).includes(base.architecture)) {
    throw refuse({
      zh: `基座模型的结构是 ${base.architecture}；PEFT 转换只支持 ${PEFT_ARCHITECTURES.join('、')}。`,
      en: `The base model's architecture is ${base.architecture}; PEFT conversion supports ${PEFT_ARCHITECTURES.join(', ')} only.`,
    });
  }
  if (metadataValue(base.metadata, 'general.type') === 'adapter') {
    throw refuse({zh: '所选的基座是一个适配器，请选择基座模型。', en: 'The chosen base is an adapter; choose a base model.'});
  }

  const {tensors, sourceSha256} = await readSafetensorsWithHash(weightsPath);
  const pairs = new Map<string, {layer: number; site: LoraSite; a?: Float32Array; b?: Float32Array; aShape?: number[]; bShape?: number[]}>();
  const foreign: string[] = [];
  for (const tensor of tensors.values()) {
    const match = PEFT_NAME.exec(tensor.name);
    if (!match) {
      foreign.push(tensor.name);
      continue;
    }
    const layer = Number(match[1]);
    const site = LORA_SITES.find((s) => s.module === match[2])!;
    const key = `${layer}.${site.target}`;
    const pair = pairs.get(key) ?? {layer, site};
    if (match[3] === 'A') [pair.a, pair.aShape] = [tensor.data, tensor.shape];
    else [pair.b, pair.bShape] = [tensor.data, tensor.shape];
    pairs.set(key, pair);
  }
  if (foreign.length) {
    const lora = foreign.filter((n) => /lora_/.test(n));
    const shown = foreign.slice(0, 3).join(', ');
    throw refuse(
      lora.length === foreign.length && lora.some((n) => /embed|lm_head/.test(n))
        ? {zh: `适配器训练了词嵌入或输出层（${shown}），只支持注意力与 MLP 投影层。`, en: `The adapter trains the embeddings or the output layer (${shown}); only attention and MLP projections are supported.`}
        : lora.length === foreign.length
          ? {zh: `此适配器不是为 LLaMA/Qwen2 结构训练的（张量 ${shown}）。`, en: `This adapter was not trained for a LLaMA/Qwen2 architecture (tensors ${shown}).`}
          : {zh: `适配器含有 LoRA 以外的权重（${shown}，如 modules_to_save），llama.cpp 的 LoRA 无法表示。`, en: `The adapter holds weights other than LoRA pairs (${shown}, e.g. modules_to_save), which a llama.cpp LoRA cannot hold.`},
    );
  }
  if (!pairs.size) throw refuse({zh: `${PEFT_WEIGHTS_FILE} 中没有 LoRA 张量。`, en: `${PEFT_WEIGHTS_FILE} holds no LoRA tensors.`});

  const out: GgufTensor[] = [];
  const sorted = [...pairs.values()].sort((x, y) => x.layer - y.layer || LORA_SITES.indexOf(x.site) - LORA_SITES.indexOf(y.site));
  for (const pair of sorted) {
    const where = `layers.${pair.layer}.${pair.site.module}`;
    if (!pair.a || !pair.b) {
      throw refuse({zh: `${where} 只有 lora_${pair.a ? 'A' : 'B'}，缺少另一半。`, en: `${where} has lora_${pair.a ? 'A' : 'B'} only; the other half is missing.`}, 'model_invalid');
    }
    const baseTensor = base.shapes.get(`blk.${pair.layer}.${pair.site.gguf}.weight`);
    if (!baseTensor) {
      throw refuse({
        zh: `适配器作用于第 ${pair.layer} 层的 ${pair.site.module}，而所选基座模型没有这一层（层数不同：不是同一个基座）。`,
        en: `The adapter targets ${pair.site.module} of layer ${pair.layer}, which the chosen base model does not have (a different layer count: not the same base).`,
      });
    }
    const [nIn, nOut] = baseTensor.dims as [number, number];
    const aShape = pair.aShape!;
    const bShape = pair.bShape!;
    if (aShape.length !== 2 || bShape.length !== 2 || aShape[0] !== rank || bShape[1] !== rank || aShape[1] !== nIn || bShape[0] !== nOut) {
      throw refuse({
        zh: `形状与所选基座不符：${where} 的 lora_A 为 [${aShape.join(', ')}]、lora_B 为 [${bShape.join(', ')}]，而基座需要 lora_A [${rank}, ${nIn}]、lora_B [${nOut}, ${rank}]（r=${rank}）。此适配器不是为这个基座训练的。`,
        en: `Shapes do not match the chosen base: ${where} has lora_A [${aShape.join(', ')}] and lora_B [${bShape.join(', ')}], the base needs lora_A [${rank}, ${nIn}] and lora_B [${nOut}, ${rank}] (r=${rank}). This adapter was not trained for this base.`,
      });
    }
    const stem = `blk.${pair.layer}.${pair.site.gguf}.weight`;
    const a = pair.a;
    const b = pair.b;
    out.push({name: `${stem}.lora_a`, dims: [nIn, rank], type: 'f32', data: () => [a]});
    out.push({name: `${stem}.lora_b`, dims: [rank, nOut], type: 'f32', data: () => [b]});
  }

  const metadata: Array<[string, GgufValue]> = [
    ['general.type', gguf.string('adapter')],
    ['general.architecture', gguf.string(base.architecture)],
    ['adapter.type', gguf.string('lora')],
    ['adapter.lora.alpha', gguf.f32(ggufAlpha)],
    ['adapter.lora.rank', gguf.u32(rank)],
    ['zhongjing.kind', gguf.string('peft')],
    ['zhongjing.peft.lora_alpha', gguf.f32(alpha)],
    ['zhongjing.peft.source.sha256', gguf.string(sourceSha256)],
  ];
  if (config.base_model_name_or_path) metadata.push(['zhongjing.peft.base_model', gguf.string(config.base_model_name_or_path)]);
  if (config.use_rslora) metadata.push(['zhongjing.peft.use_rslora', gguf.bool(true)]);
  for (const [key, value] of Object.entries(options.extraMetadata ?? {})) metadata.push([key, gguf.string(value)]);
  const written = await writeGguf(options.out, {metadata, tensors: out});
  const targets = LORA_SITES.filter((s) => sorted.some((p) => p.site === s)).map((s) => s.target);
  return {
    out: written.path,
    sha256: written.sha256,
    architecture: base.architecture,
    rank,
    alpha,
    ggufAlpha,
    layers: new Set(sorted.map((p) => p.layer)).size,
    targets,
    tensors: out.length,
    baseModelNameOrPath: config.base_model_name_or_path ?? null,
    sourceSha256,
  };
}

async function readSafetensorsWithHash(path: string) {
  const {createHash} = await import('node:crypto');
  const sourceSha256 = createHash('sha256').update(await readFile(path)).digest('hex');
  const {tensors} = await readSafetensors(path);
  return {tensors, sourceSha256};
}

// ───────────── GGUF → PEFT ─────────────

export interface PeftExport {
  dir: string;
  rank: number;
  alpha: number;
  targets: string[];
  tensors: number;
  baseModelNameOrPath: string | null;
  /** A reward model's scalar head, written as LLaMA-Factory's value head beside the adapter. */
  valueHead: boolean;
}

/**
 * Writes a LoRA GGUF (ours, or any llama.cpp LoRA for llama/qwen2 in F32/F16) as a PEFT adapter
 * directory: adapter_model.safetensors (F32, our own writer) and adapter_config.json.
 */
export async function exportGgufAsPeft(options: {adapterPath: string; outDir: string; baseModelId?: string | null; loraDropout?: number}): Promise<PeftExport> {
  const {architecture, metadata, tensors} = await readGgufTensors(options.adapterPath);
  if (metadataValue(metadata, 'general.type') !== 'adapter' || metadataValue(metadata, 'adapter.type') !== 'lora') {
    throw refuse({zh: `${options.adapterPath} 不是 LoRA 适配器（general.type=adapter、adapter.type=lora）。`, en: `${options.adapterPath} is not a LoRA adapter (general.type=adapter, adapter.type=lora).`});
  }
  if (!(PEFT_ARCHITECTURES as readonly string[]).includes(architecture)) {
    throw refuse({zh: `适配器的结构是 ${architecture}；PEFT 导出只支持 ${PEFT_ARCHITECTURES.join('、')}。`, en: `The adapter's architecture is ${architecture}; PEFT export supports ${PEFT_ARCHITECTURES.join(', ')} only.`});
  }
  const entries: Array<{layer: number; site: LoraSite; half: 'A' | 'B'; dims: number[]; data: Float32Array}> = [];
  let head: GgufTensorData | null = null;
  let rank = 0;
  for (const [name, tensor] of tensors) {
    if (name === HEAD_NAME) {
      head = tensor;
      continue;
    }
    const match = GGUF_NAME.exec(name);
    if (!match) throw refuse({zh: `适配器中的张量 ${name} 没有对应的 PEFT 名称。`, en: `Adapter tensor ${name} has no PEFT equivalent.`});
    const site = LORA_SITES.find((s) => s.gguf === match[2])!;
    const half = match[3] === 'a' ? 'A' : 'B';
    if (tensor.dims.length !== 2) throw refuse({zh: `张量 ${name} 不是二维的。`, en: `Tensor ${name} is not two-dimensional.`}, 'model_invalid');
    const r = half === 'A' ? tensor.dims[1]! : tensor.dims[0]!;
    if (rank && r !== rank) throw refuse({zh: '适配器各层的秩不同，PEFT 配置无法表示。', en: 'The adapter has different ranks per layer, which a PEFT config cannot express.'});
    rank = r;
    entries.push({layer: Number(match[1]), site, half, dims: tensor.dims, data: tensor.data});
  }
  if (!entries.length) throw refuse({zh: '适配器中没有 LoRA 张量。', en: 'The adapter holds no LoRA tensors.'});
  entries.sort((x, y) => x.layer - y.layer || LORA_SITES.indexOf(x.site) - LORA_SITES.indexOf(y.site) || x.half.localeCompare(y.half));
  const alphaValue = metadataValue(metadata, 'adapter.lora.alpha');
  const alpha = typeof alphaValue === 'number' && alphaValue > 0 ? alphaValue : rank;
  const knownBase = metadataValue(metadata, 'zhongjing.peft.base_model');
  const baseModelNameOrPath = options.baseModelId ?? (typeof knownBase === 'string' ? knownBase : null);
  const targets = LORA_SITES.filter((s) => entries.some((e) => e.site === s));

  await mkdir(options.outDir, {recursive: true});
  await writeSafetensors(
    join(options.outDir, PEFT_WEIGHTS_FILE),
    entries.map((e) => ({
      name: `base_model.model.model.layers.${e.layer}.${e.site.module}.lora_${e.half}.weight`,
      shape: [...e.dims].reverse(), // ggml ne → PyTorch shape; same memory order
      data: e.data,
    })),
    {format: 'pt'},
  );
  const config = {
    peft_type: 'LORA',
    task_type: 'CAUSAL_LM',
    base_model_name_or_path: baseModelNameOrPath,
    r: rank,
    lora_alpha: alpha,
    lora_dropout: options.loraDropout ?? 0,
    target_modules: targets.map((s) => s.module.split('.')[1]!),
    bias: 'none',
    fan_in_fan_out: false,
    inference_mode: true,
    init_lora_weights: true,
    modules_to_save: null,
    use_rslora: false,
    use_dora: false,
    rank_pattern: {},
    alpha_pattern: {},
    layers_to_transform: null,
    revision: null,
  };
  await writeFile(join(options.outDir, PEFT_CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  if (head) {
    // LLaMA-Factory (TRL's value head) keeps a reward model's head beside the adapter as
    // v_head.summary.{weight,bias}; ours has no bias (it cancels in every pair), so it is 0.
    await writeSafetensors(join(options.outDir, VALUE_HEAD_FILE), [
      {name: 'v_head.summary.weight', shape: [1, head.dims[0]!], data: head.data},
      {name: 'v_head.summary.bias', shape: [1], data: new Float32Array(1)},
    ]);
  }
  return {
    dir: resolve(options.outDir),
    rank,
    alpha,
    targets: targets.map((s) => s.target),
    tensors: entries.length,
    baseModelNameOrPath,
    valueHead: head !== null,
  };
}

// ───────────── import into the store ─────────────

export interface PeftImport {
  model: ModelInfo & {alreadyRegistered: boolean};
  conversion: PeftConversion;
  provenancePath: string;
}

/**
 * Converts a PEFT adapter for the registered base model `modelId` into
 * `<data>/models/adapters/<id>.gguf`, writes its provenance beside it (and into the GGUF's
 * zhongjing.* keys) and registers it, ready for a consultation or an evaluation.
 */
export async function importPeftAdapter(
  services: {models: ModelService; paths: DataPaths},
  input: {dir: string; modelId: string; name?: string},
): Promise<PeftImport> {
  const base = services.models.get(input.modelId);
  if (base.kind !== 'base') throw refuse({zh: `“${base.name}”是适配器，请选择基座模型。`, en: `"${base.name}" is an adapter; choose a base model.`});
  if (base.missing) throw new AppError('model_missing', {zh: `基座模型文件缺失：${base.path}`, en: `The base model file is missing: ${base.path}`});
  const dir = resolve(input.dir);
  const config = await readPeftConfig(dir);
  const baseSha256 = base.sha256 ?? (await sha256File(base.path));
  const id = newId();
  const folder = join(services.paths.models, 'adapters');
  await mkdir(folder, {recursive: true});
  const out = join(folder, `peft-${id}.gguf`);
  const importedAt = nowIso();
  const conversion = await convertPeftToGguf({
    dir,
    basePath: base.path,
    out,
    extraMetadata: {'zhongjing.base_model.sha256': baseSha256, 'zhongjing.peft.imported_from': dir, 'zhongjing.peft.imported_at': importedAt},
  });
  const provenance = {
    kind: 'peft-import',
    importedAt,
    source: {dir, adapterConfig: config, adapterModelSha256: conversion.sourceSha256, baseModelNameOrPath: conversion.baseModelNameOrPath},
    baseModel: {id: base.id, name: base.name, path: base.path, sha256: baseSha256, architecture: conversion.architecture},
    adapter: {path: out, sha256: conversion.sha256, rank: conversion.rank, loraAlpha: conversion.alpha, ggufAlpha: conversion.ggufAlpha, targets: conversion.targets, layers: conversion.layers},
  };
  const provenancePath = out.replace(/\.gguf$/, '.provenance.json');
  await writeFile(provenancePath, `${JSON.stringify(provenance, null, 2)}\n`);
  const name = input.name ?? `${conversion.baseModelNameOrPath ? conversion.baseModelNameOrPath.split('/').pop() : base.name} (PEFT LoRA)`;
  const model = await services.models.add({path: out, name}, conversion.sha256);
  return {model, conversion, provenancePath};
}
