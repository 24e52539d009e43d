// A small safetensors reader and writer, written from the format's description (huggingface/
// safetensors README), for PEFT adapters: no Python, no dependency.
//
// File layout: u64 little-endian N | N bytes of UTF-8 JSON header | data.
// The header maps each tensor name to {dtype, shape, data_offsets: [begin, end]} (byte offsets
// relative to the start of the data section, row-major, little-endian); an optional
// "__metadata__" entry maps strings to strings. Writers may pad the header with spaces.

import {readFile, rename, rm, writeFile} from 'node:fs/promises';
import {AppError} from '../../common/errors.js';

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

export interface SafetensorsTensor {
  name: string;
  /** PyTorch order: the last dimension varies fastest. */
  shape: number[];
  dtype: SafetensorsDtype;
  /** The values as F32 (F16 and BF16 widen exactly). */
  data: Float32Array;
}

export interface SafetensorsFile {
  tensors: Map<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

const BYTES: Record<SafetensorsDtype, number> = {F32: 4, F16: 2, BF16: 2};
/** A header above this is not a LoRA adapter's (and stops a corrupt length from allocating gigabytes). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

function bad(path: string, why: {zh: string; en: string}): AppError {
  return new AppError('model_invalid', {zh: `safetensors 文件无效（${path}）：${why.zh}`, en: `Invalid safetensors file (${path}): ${why.en}`});
}

/** Reads every tensor of a safetensors file (F32, F16 or BF16) into F32 arrays, checking every offset. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  if (bytes.length < 8) throw bad(path, {zh: '文件过短', en: 'file too short'});
  const headerBytes = Number(bytes.readBigUInt64LE(0));
  if (headerBytes < 2 || headerBytes > MAX_HEADER_BYTES || 8 + headerBytes > bytes.length) {
    throw bad(path, {zh: `头部长度 ${headerBytes} 不合理`, en: `header length ${headerBytes} does not fit the file`});
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(bytes.subarray(8, 8 + headerBytes).toString('utf8')) as Record<string, unknown>;
  } catch {
    throw bad(path, {zh: '头部不是 JSON', en: 'header is not JSON'});
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw bad(path, {zh: '头部不是对象', en: 'header is not an object'});
  const dataStart = 8 + headerBytes;
  const dataBytes = bytes.length - dataStart;
  const metadata: Record<string, string> = {};
  const tensors = new Map<string, SafetensorsTensor>();
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      for (const [k, v] of Object.entries((entry ?? {}) as Record<string, unknown>)) if (typeof v === 'string') metadata[k] = v;
      continue;
    }
    const {dtype, shape, data_offsets: offsets} = (entry ?? {}) as {dtype?: unknown; shape?: unknown; data_offsets?: unknown};
    if (dtype !== 'F32' && dtype !== 'F16' && dtype !== 'BF16') {
      throw bad(path, {zh: `张量 ${name} 的类型 ${String(dtype)} 不受支持（只支持 F32、F16、BF16）`, en: `tensor ${name} has dtype ${String(dtype)}; only F32, F16 and BF16 are supported`});
    }
    if (!Array.isArray(shape) || !shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw bad(path, {zh: `张量 ${name} 的形状无效`, en: `tensor ${name} has an invalid shape`});
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((n) => Number.isSafeInteger(n) && n >= 0)) {
      throw bad(path, {zh: `张量 ${name} 的偏移无效`, en: `tensor ${name} has invalid data_offsets`});
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end > dataBytes || end - begin !== count * BYTES[dtype]) {
      throw bad(path, {zh: `张量 ${name} 的数据超出文件或与形状不符`, en: `tensor ${name}: data outside the file or not matching its shape`});
    }
    tensors.set(name, {name, shape: shape as number[], dtype, data: decode(bytes, dataStart + begin, count, dtype)});
  }
  return {tensors, metadata};
}

function decode(bytes: Buffer, at: number, count: number, dtype: SafetensorsDtype): Float32Array {
  const out = new Float32Array(count);
  if (dtype === 'F32') for (let i = 0; i < count; i++) out[i] = bytes.readFloatLE(at + i * 4);
  else if (dtype === 'F16') for (let i = 0; i < count; i++) out[i] = f16BitsToF32(bytes.readUInt16LE(at + i * 2));
  else {
    const word = new Uint32Array(1);
    const asFloat = new Float32Array(word.buffer);
    for (let i = 0; i < count; i++) {
      word[0] = bytes.readUInt16LE(at + i * 2) << 16;
      out[i] = asFloat[0]!;
    }
  }
  return out;
}

/** IEEE binary16 bits → number (exact). */
export function f16BitsToF32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const mantissa = bits & 0x3ff;
  if (exponent === 0) return sign * mantissa * 2 ** -24;
  if (exponent === 0x1f) return mantissa ? NaN : sign * Infinity;
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
}

/** Writes F32 tensors (in the order given) to `path`; the file appears only once complete. */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyArray<{name: string; shape: readonly number[]; data: Float32Array}>,
  metadata: Record<string, string> = {},
): Promise<void> {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) throw new Error(`tensor ${t.name}: shape [${t.shape.join(', ')}] needs ${count} values, got ${t.data.length}`);
    if (t.name in header) throw new Error(`duplicate tensor ${t.name}`);
    header[t.name] = {dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + count * 4]};
    offset += count * 4;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const padded = Math.ceil(json.length / 8) * 8; // the data section starts 8-byte aligned
  json = Buffer.concat([json, Buffer.alloc(padded - json.length, 0x20)]);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(json.length));
  const chunks: Buffer[] = [prefix, json];
  for (const t of tensors) {
    const chunk = Buffer.alloc(t.data.length * 4);
    for (let i = 0; i < t.data.length; i++) chunk.writeFloatLE(t.data[i]!, i * 4);
    chunks.push(chunk);
  }
  const temp = `${path}.partial-${process.pid}`;
  try {
    await writeFile(temp, Buffer.concat(chunks));
  } catch (error) {
    await rm(temp, {force: true});
    throw error;
  }
  await rename(temp, path);
}
