// A small GGUF v3 writer, written from the spec (ggml/docs/gguf.md) so that tests and tools can
// produce model files without Python or the native gguf_* API.
//
// File layout (all little-endian):
//   "GGUF" | u32 version=3 | u64 tensor_count | u64 kv_count
//   kv_count × (string key | u32 value_type | value)
//   tensor_count × (string name | u32 n_dims | u64 ne[n_dims] | u32 ggml_type | u64 offset)
//   padding to `general.alignment`, then the tensor data, each tensor padded to the alignment.
// A string is u64 byte length + UTF-8 bytes (no terminator).
//
// Everything streams through a 1 MiB buffer to a temporary file that is renamed into place at
// the end, so a crash never leaves a half-written model under the final name, and tensor data
// may be produced chunk by chunk (random-weight models with real shapes are hundreds of MB).

import {createHash} from 'node:crypto';
import {open, rename, rm, type FileHandle} from 'node:fs/promises';

/** GGUF metadata value types (gguf.md, `gguf_metadata_value_type`). */
const VALUE_TYPE = {u8: 0, i32: 5, u32: 4, f32: 6, bool: 7, string: 8, array: 9} as const;
/** ggml tensor types this writer can produce. */
const GGML_TYPE = {f32: 0, f16: 1} as const;
const BYTES_PER_ELEMENT = {f32: 4, f16: 2} as const;
/** GGML_MAX_DIMS and GGML_MAX_NAME (64 bytes including the NUL) in ggml.h. */
const MAX_DIMS = 4;
const MAX_TENSOR_NAME_BYTES = 63;
/** Makes temporary names unique when one process writes the same path twice at once. */
let writesStarted = 0;

export type GgufScalar =
  | {type: 'u8' | 'i32' | 'u32' | 'f32'; value: number}
  | {type: 'bool'; value: boolean}
  | {type: 'string'; value: string};
export type GgufArray =
  | {type: 'array'; itemType: 'string'; value: readonly string[]}
  | {type: 'array'; itemType: 'f32' | 'i32' | 'u32'; value: ArrayLike<number>};
export type GgufValue = GgufScalar | GgufArray;

/** Short constructors, so metadata lists read like `['llama.block_count', gguf.u32(2)]`. */
export const gguf = {
  u8: (value: number): GgufValue => ({type: 'u8', value}),
  i32: (value: number): GgufValue => ({type: 'i32', value}),
  u32: (value: number): GgufValue => ({type: 'u32', value}),
  f32: (value: number): GgufValue => ({type: 'f32', value}),
  bool: (value: boolean): GgufValue => ({type: 'bool', value}),
  string: (value: string): GgufValue => ({type: 'string', value}),
  strings: (value: readonly string[]): GgufValue => ({type: 'array', itemType: 'string', value}),
  f32s: (value: ArrayLike<number>): GgufValue => ({type: 'array', itemType: 'f32', value}),
  i32s: (value: ArrayLike<number>): GgufValue => ({type: 'array', itemType: 'i32', value}),
  u32s: (value: ArrayLike<number>): GgufValue => ({type: 'array', itemType: 'u32', value}),
};

export interface GgufTensor {
  name: string;
  /** ggml order: ne[0] is the fastest-varying dimension (a [rows=n_out] × [cols=n_in] matrix is [n_in, n_out]). */
  dims: readonly number[];
  type: 'f32' | 'f16';
  /** Produces the values in memory order, in one or more chunks; called once, while writing. */
  data: () => Iterable<Float32Array>;
}

export interface GgufWriteInput {
  /** Written in this order. `general.alignment` is added by the writer; do not pass it. */
  metadata: ReadonlyArray<readonly [string, GgufValue]>;
  tensors: readonly GgufTensor[];
  /** Data alignment in bytes; a power of two, multiple of 8. Default 32 (the GGUF default). */
  alignment?: number;
}

export interface GgufWriteResult {
  path: string;
  bytes: number;
  sha256: string;
}

/** Writes a GGUF v3 file. The file appears at `outPath` only once it is complete. */
export async function writeGguf(outPath: string, input: GgufWriteInput): Promise<GgufWriteResult> {
  const alignment = input.alignment ?? 32;
  if (!Number.isInteger(alignment) || alignment < 8 || (alignment & (alignment - 1)) !== 0) {
    throw new Error(`GGUF alignment must be a power of two ≥ 8, got ${alignment}`);
  }
  const metadata = checkMetadata(input.metadata);
  metadata.push(['general.alignment', gguf.u32(alignment)]);
  const layout = planTensors(input.tensors, alignment);

  const tempPath = `${outPath}.partial-${process.pid}-${++writesStarted}`;
  const handle = await open(tempPath, 'w');
  const out = new StreamWriter(handle);
  try {
    out.bytes(Buffer.from('GGUF', 'latin1'));
    out.u32(3);
    out.u64(input.tensors.length);
    out.u64(metadata.length);
    for (const [key, value] of metadata) {
      out.string(key);
      writeValue(out, value);
    }
    for (const {tensor, offset} of layout) {
      out.string(tensor.name);
      out.u32(tensor.dims.length);
      for (const n of tensor.dims) out.u64(n);
      out.u32(GGML_TYPE[tensor.type]);
      out.u64(offset);
    }
    out.padTo(alignment);
    for (const {tensor, elements} of layout) {
      let written = 0;
      for (const chunk of tensor.data()) {
        written += chunk.length;
        if (written > elements) break;
        if (tensor.type === 'f32') out.f32Array(chunk);
        else out.f16Array(chunk);
        await out.flushIfFull();
      }
      if (written !== elements) {
        throw new Error(`tensor ${tensor.name}: data gave ${written > elements ? 'more than' : written} values, shape needs ${elements}`);
      }
      out.padTo(alignment);
    }
    await out.flush();
    await handle.close();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(tempPath, {force: true});
    throw error;
  }
  await rename(tempPath, outPath);
  return {path: outPath, bytes: out.position, sha256: out.digest()};
}

function checkMetadata(entries: GgufWriteInput['metadata']): Array<[string, GgufValue]> {
  const seen = new Set<string>();
  for (const [key] of entries) {
    if (key === 'general.alignment') throw new Error('general.alignment is set through the alignment option');
    if (seen.has(key)) throw new Error(`duplicate GGUF metadata key ${key}`);
    seen.add(key);
  }
  return entries.map(([key, value]) => [key, value]);
}

interface PlannedTensor {
  tensor: GgufTensor;
  elements: number;
  offset: number;
}

/** Checks names and shapes and assigns each tensor its aligned offset inside the data section. */
function planTensors(tensors: readonly GgufTensor[], alignment: number): PlannedTensor[] {
  const names = new Set<string>();
  let offset = 0;
  return tensors.map((tensor) => {
    const nameBytes = Buffer.byteLength(tensor.name, 'utf8');
    if (nameBytes === 0 || nameBytes > MAX_TENSOR_NAME_BYTES) throw new Error(`bad tensor name "${tensor.name}"`);
    if (names.has(tensor.name)) throw new Error(`duplicate tensor ${tensor.name}`);
    names.add(tensor.name);
    if (tensor.dims.length < 1 || tensor.dims.length > MAX_DIMS) throw new Error(`tensor ${tensor.name}: 1 to 4 dims`);
    let elements = 1;
    for (const n of tensor.dims) {
      if (!Number.isSafeInteger(n) || n < 1) throw new Error(`tensor ${tensor.name}: bad dimension ${n}`);
      elements *= n;
    }
    const planned = {tensor, elements, offset};
    offset = alignUp(offset + elements * BYTES_PER_ELEMENT[tensor.type], alignment);
    return planned;
  });
}

function writeValue(out: StreamWriter, value: GgufValue): void {
  out.u32(VALUE_TYPE[value.type]);
  switch (value.type) {
    case 'u8':
      return out.u8(value.value);
    case 'i32':
      return out.i32(value.value);
    case 'u32':
      return out.u32(value.value);
    case 'f32':
      return out.f32(value.value);
    case 'bool':
      return out.u8(value.value ? 1 : 0);
    case 'string':
      return out.string(value.value);
    case 'array':
      out.u32(VALUE_TYPE[value.itemType]);
      out.u64(value.value.length);
      if (value.itemType === 'string') for (const item of value.value) out.string(item);
      else for (let i = 0; i < value.value.length; i++) writeNumber(out, value.itemType, value.value[i]!);
  }
}

function writeNumber(out: StreamWriter, type: 'f32' | 'i32' | 'u32', n: number): void {
  if (type === 'f32') out.f32(n);
  else if (type === 'i32') out.i32(n);
  else out.u32(n);
}

export function alignUp(n: number, alignment: number): number {
  return Math.ceil(n / alignment) * alignment;
}

// ───────────── F16 ─────────────

const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

/** IEEE 754 binary32 → binary16 bits, round to nearest even (what ggml_fp32_to_fp16 does). */
export function f32ToF16Bits(value: number): number {
  f32Scratch[0] = value;
  const bits = u32Scratch[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa ? 0x200 : 0); // Inf / NaN
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00; // too large: Inf
  if (halfExponent <= 0) {
    // Subnormal half (or zero): value = m × 2^-24, so shift the 24-bit significand right.
    if (halfExponent < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - halfExponent;
    return sign | roundShift(significand, shift);
  }
  // Normal: rounding may carry into the exponent, which is exactly right (up to Inf).
  return sign | ((halfExponent << 10) + roundShift(mantissa, 13));
}

/** value >> shift, rounded to nearest, ties to even. */
function roundShift(value: number, shift: number): number {
  const kept = value >>> shift;
  const rest = value & ((1 << shift) - 1);
  const half = 1 << (shift - 1);
  return rest > half || (rest === half && (kept & 1) === 1) ? kept + 1 : kept;
}

// ───────────── buffered output ─────────────

const BUFFER_BYTES = 1 << 20;

/** Little-endian encoder over a fixed buffer; the caller awaits flushIfFull() between big chunks. */
class StreamWriter {
  position = 0;
  private buffer = Buffer.allocUnsafe(BUFFER_BYTES);
  private used = 0;
  private readonly hash = createHash('sha256');
  private pending: Buffer[] = [];

  constructor(private readonly handle: FileHandle) {}

  private room(n: number): Buffer {
    if (this.used + n > this.buffer.length) this.rotate(Math.max(BUFFER_BYTES, n));
    const view = this.buffer;
    this.position += n;
    return view;
  }

  /** Moves the filled part of the buffer to the pending list; header writes are synchronous. */
  private rotate(minBytes: number): void {
    if (this.used > 0) this.pending.push(this.buffer.subarray(0, this.used));
    this.buffer = Buffer.allocUnsafe(minBytes);
    this.used = 0;
  }

  u8(n: number): void {
    this.room(1).writeUInt8(n, this.used);
    this.used += 1;
  }
  u32(n: number): void {
    this.room(4).writeUInt32LE(n, this.used);
    this.used += 4;
  }
  i32(n: number): void {
    this.room(4).writeInt32LE(n, this.used);
    this.used += 4;
  }
  u64(n: number): void {
    this.room(8).writeBigUInt64LE(BigInt(n), this.used);
    this.used += 8;
  }
  f32(n: number): void {
    this.room(4).writeFloatLE(n, this.used);
    this.used += 4;
  }
  string(text: string): void {
    const bytes = Buffer.from(text, 'utf8');
    this.u64(bytes.length);
    this.bytes(bytes);
  }
  bytes(data: Uint8Array): void {
    this.room(data.length).set(data, this.used);
    this.used += data.length;
  }
  f32Array(values: Float32Array): void {
    // Copy element by element: writeFloatLE is little-endian even on a big-endian host.
    const target = this.room(values.length * 4);
    for (let i = 0; i < values.length; i++) target.writeFloatLE(values[i]!, this.used + i * 4);
    this.used += values.length * 4;
  }
  f16Array(values: Float32Array): void {
    const target = this.room(values.length * 2);
    for (let i = 0; i < values.length; i++) target.writeUInt16LE(f32ToF16Bits(values[i]!), this.used + i * 2);
    this.used += values.length * 2;
  }
  padTo(alignment: number): void {
    const padding = alignUp(this.position, alignment) - this.position;
    if (padding > 0) this.bytes(new Uint8Array(padding));
  }

  async flushIfFull(): Promise<void> {
    if (this.pending.length > 0 || this.used >= BUFFER_BYTES / 2) await this.flush();
  }

  async flush(): Promise<void> {
    this.rotate(BUFFER_BYTES);
    for (const chunk of this.pending) {
      this.hash.update(chunk);
      // FileHandle.write may write less than asked; loop until the chunk is out.
      for (let done = 0; done < chunk.length; ) done += (await this.handle.write(chunk, done)).bytesWritten;
    }
    this.pending = [];
  }

  digest(): string {
    return this.hash.digest('hex');
  }
}
