// Reads what the app shows about a model file (architecture, size, quantisation, context length)
// and turns every way a file can be wrong into an AppError with text in both languages.
//
// node-llama-cpp's readGgufFileInfo trusts the file: it reads past the end as zeros, allocates
// whatever a length field claims and loops as often as a count field says. A truncated download
// or a random file renamed to .gguf could therefore hang it or make it allocate gigabytes. So we
// first walk the header ourselves with every length checked against the bytes that are really
// there (and the same structural checks ggml's gguf.cpp applies), confirm that the tensor data
// fits inside the file, and only then hand the file to readGgufFileInfo for the metadata.

import {open, stat, type FileHandle} from 'node:fs/promises';
import {basename, resolve} from 'node:path';
import {GgmlType, GgufFileType, readGgufFileInfo, type GgufFileInfo} from 'node-llama-cpp';
import type {GgufSummary} from '../../common/contract.js';
import {AppError} from '../../common/errors.js';

/** [elements per block, bytes per block] by ggml type id, printed from this build's libggml-base. */
const GGML_BLOCKS: Record<number, readonly [number, number]> = {
  0: [1, 4], 1: [1, 2], 2: [32, 18], 3: [32, 20], 6: [32, 22], 7: [32, 24], 8: [32, 34], 9: [32, 36],
  10: [256, 84], 11: [256, 110], 12: [256, 144], 13: [256, 176], 14: [256, 210], 15: [256, 292],
  16: [256, 66], 17: [256, 74], 18: [256, 98], 19: [256, 50], 20: [32, 18], 21: [256, 110],
  22: [256, 82], 23: [256, 136], 24: [1, 1], 25: [1, 2], 26: [1, 4], 27: [1, 8], 28: [1, 8],
  29: [256, 56], 30: [1, 2], 34: [256, 54], 35: [256, 66], 39: [32, 17], 40: [64, 36], 41: [128, 18],
  42: [64, 18],
};
/** Byte size of each fixed-size GGUF metadata value type (8 = string and 9 = array are variable). */
const VALUE_BYTES: Record<number, number> = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8};
const STRING_TYPE = 8;
const ARRAY_TYPE = 9;

// Limits far above any real model (a 256k-token vocabulary has a ~20 MB header) that stop a
// corrupt file from making readGgufFileInfo allocate or loop without bound.
const MAX_HEADER_BYTES = 256 * 1024 * 1024;
const MAX_ARRAY_ITEMS = 16 * 1024 * 1024;
const MAX_KEY_BYTES = 64 * 1024;
const MAX_TENSOR_NAME_BYTES = 63; // GGML_MAX_NAME - 1
const MAX_DIMS = 4;
const SPLIT_PART = /-(\d{5})-of-(\d{5})\.gguf$/;

/** Inspects a GGUF model or LoRA adapter. Throws AppError ('model_missing' | 'model_invalid' | 'io'). */
export async function inspectGguf(path: string): Promise<GgufSummary> {
  const fullPath = resolve(path);
  const parts = splitParts(fullPath);
  let fileSizeBytes = 0;
  for (const part of parts) fileSizeBytes += await checkLayout(part, part === fullPath || parts.length === 1);

  let info: GgufFileInfo;
  try {
    info = await readGgufFileInfo(fullPath, {readTensorInfo: true, logWarnings: false, sourceType: 'filesystem'});
  } catch (error) {
    throw corrupt(fullPath, error instanceof Error ? error.message : String(error));
  }

  const metadata = info.metadata as unknown as Record<string, Record<string, unknown> | undefined>;
  const general = metadata.general ?? {};
  const architecture = general.architecture;
  if (typeof architecture !== 'string' || architecture.length === 0) {
    throw invalid(fullPath, {
      zh: `模型文件缺少 general.architecture，无法识别模型结构：${fullPath}`,
      en: `The model file has no general.architecture, so its model type cannot be recognised: ${fullPath}`,
    });
  }
  const kind = general.type === 'adapter' ? 'adapter' : 'base';
  const contextLength = metadata[architecture]?.context_length;
  const chatTemplate = (metadata.tokenizer as {chat_template?: unknown} | undefined)?.chat_template;
  const tensors = info.fullTensorInfo ?? info.tensorInfo ?? [];

  return {
    path: fullPath,
    kind,
    architecture,
    parameterCount: tensors.reduce((sum, t) => sum + t.dimensions.reduce<number>((n, d) => n * Number(d), 1), 0),
    quantization: quantizationName(general.file_type, tensors),
    contextLength: kind === 'base' && typeof contextLength === 'number' ? contextLength : null,
    fileSizeBytes,
    hasChatTemplate: typeof chatTemplate === 'string' && chatTemplate.trim().length > 0,
  };
}

/** 'Q4_K_M' from general.file_type; without it, the type holding the most weights ('Q8_0'). */
export function quantizationName(fileType: unknown, tensors: ReadonlyArray<{ggmlType: number; dimensions: ReadonlyArray<number | bigint>}>): string {
  if (typeof fileType === 'number' && GgufFileType[fileType] !== undefined) {
    return GgufFileType[fileType].replace(/^(ALL|MOSTLY)_/, '');
  }
  const weightByType = new Map<number, number>();
  for (const t of tensors) {
    const n = t.dimensions.reduce<number>((acc, d) => acc * Number(d), 1);
    weightByType.set(t.ggmlType, (weightByType.get(t.ggmlType) ?? 0) + n);
  }
  const [top] = [...weightByType].sort((a, b) => b[1] - a[1]);
  return top === undefined ? 'unknown' : (GgmlType[top[0]] ?? `type ${top[0]}`);
}

// ───────────── structural check ─────────────

/** Paths of all parts of a split model ("name-00001-of-00003.gguf"), or just the path. */
function splitParts(path: string): string[] {
  const match = SPLIT_PART.exec(path);
  const count = Number(match?.[2]);
  if (!match || !(count > 1) || Number(match[1]) > count) return [path];
  const stem = path.slice(0, path.length - match[0].length);
  return Array.from({length: count}, (_, i) => `${stem}-${String(i + 1).padStart(5, '0')}-of-${match[2]}.gguf`);
}

/** Validates one file's header and returns its size. Never reads more than it has checked exists. */
async function checkLayout(path: string, isRequestedFile: boolean): Promise<number> {
  let size: number;
  try {
    const stats = await stat(path);
    if (stats.isDirectory()) {
      throw invalid(path, {zh: `这是一个文件夹，不是模型文件：${path}`, en: `This is a folder, not a model file: ${path}`});
    }
    if (!stats.isFile()) throw invalid(path, {zh: `不是普通文件：${path}`, en: `Not a regular file: ${path}`});
    size = stats.size;
  } catch (error) {
    if (error instanceof AppError) throw error;
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      if (!isRequestedFile) {
        throw invalid(path, {zh: `分卷模型缺少一部分：${basename(path)}`, en: `A part of the split model is missing: ${basename(path)}`});
      }
      throw new AppError('model_missing', {zh: `找不到模型文件：${path}`, en: `Model file not found: ${path}`}, {path});
    }
    throw ioError(path, error);
  }
  if (size === 0) throw invalid(path, {zh: `模型文件是空的：${path}`, en: `The model file is empty: ${path}`});

  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw ioError(path, error);
  }
  try {
    await new LayoutChecker(new BoundedReader(handle, size, path), path).run();
  } catch (error) {
    if (error instanceof AppError) throw error;
    throw ioError(path, error);
  } finally {
    await handle.close().catch(() => undefined);
  }
  return size;
}

class LayoutChecker {
  private alignment = 32;

  constructor(private readonly r: BoundedReader, private readonly path: string) {}

  async run(): Promise<void> {
    const {r, path} = this;
    if (r.size < 4 || (await r.bytes(4)).toString('latin1') !== 'GGUF') {
      throw invalid(path, {
        zh: `不是 GGUF 模型文件（文件开头不是 “GGUF”）：${path}`,
        en: `Not a GGUF model file (it does not start with "GGUF"): ${path}`,
      });
    }
    const version = await r.u32();
    if (version !== 2 && version !== 3) throw corrupt(path, `unsupported GGUF version ${version}`);
    const tensorCount = await r.count('tensor count', 24);
    const kvCount = await r.count('metadata count', 13);

    for (let i = 0; i < kvCount; i++) {
      const key = await r.string(MAX_KEY_BYTES, 'metadata key');
      const type = await r.u32();
      if (key === 'general.alignment') {
        if (type !== 4) throw corrupt(path, 'general.alignment is not a u32');
        this.alignment = await r.u32();
        if (this.alignment === 0 || (this.alignment & (this.alignment - 1)) !== 0) {
          throw corrupt(path, `alignment ${this.alignment} is not a power of two`);
        }
      } else {
        await this.skipValue(type, key);
      }
      this.checkHeaderSize();
    }

    // Tensor infos. gguf.cpp requires each tensor to start exactly where the previous one ends
    // (rounded up to the alignment); the data section has to hold the last one completely.
    let expectedOffset = 0n;
    let dataBytes = 0n;
    for (let i = 0; i < tensorCount; i++) {
      const name = await r.string(MAX_TENSOR_NAME_BYTES, 'tensor name');
      const nDims = await r.u32();
      if (nDims > MAX_DIMS) throw corrupt(path, `tensor ${name} has ${nDims} dimensions`);
      let elements = 1n;
      let rowLength = 1n;
      for (let d = 0; d < nDims; d++) {
        const n = await r.u64();
        if (n >= 1n << 62n) throw corrupt(path, `tensor ${name} has an impossible dimension`);
        if (d === 0) rowLength = n;
        elements *= n;
      }
      const typeId = await r.u32();
      const block = GGML_BLOCKS[typeId];
      if (!block) throw corrupt(path, `tensor ${name} has unknown type ${typeId}`);
      if (rowLength % BigInt(block[0]) !== 0n) throw corrupt(path, `tensor ${name}: row not a multiple of its block`);
      const bytes = (elements / BigInt(block[0])) * BigInt(block[1]);
      const offset = await r.u64();
      if (offset !== expectedOffset) throw corrupt(path, `tensor ${name} is at offset ${offset}, expected ${expectedOffset}`);
      dataBytes = offset + bytes;
      expectedOffset = alignUp(dataBytes, BigInt(this.alignment));
      if (dataBytes > BigInt(r.size)) throw this.truncated(dataBytes);
      this.checkHeaderSize();
    }

    const dataStart = tensorCount > 0 ? alignUp(BigInt(r.position), BigInt(this.alignment)) : BigInt(r.position);
    if (dataStart + dataBytes > BigInt(r.size)) throw this.truncated(dataStart + dataBytes);
  }

  private async skipValue(type: number, key: string): Promise<void> {
    const {r, path} = this;
    if (type === STRING_TYPE) return r.skip(await r.u64(), key);
    if (VALUE_BYTES[type] !== undefined) return r.skip(BigInt(VALUE_BYTES[type]), key);
    if (type !== ARRAY_TYPE) throw corrupt(path, `metadata ${key} has unknown type ${type}`);
    const itemType = await r.u32();
    const length = await r.u64();
    if (length > BigInt(MAX_ARRAY_ITEMS)) throw corrupt(path, `metadata ${key} claims ${length} items`);
    if (itemType === STRING_TYPE) {
      for (let i = 0n; i < length; i++) await r.skip(await r.u64(), key);
    } else if (VALUE_BYTES[itemType] !== undefined) {
      await r.skip(length * BigInt(VALUE_BYTES[itemType]), key);
    } else {
      throw corrupt(path, `metadata ${key} is an array of unsupported type ${itemType}`);
    }
  }

  private checkHeaderSize(): void {
    if (this.r.position > MAX_HEADER_BYTES) throw corrupt(this.path, 'metadata larger than 256 MB');
  }

  private truncated(needed: bigint): AppError {
    const {path, r} = this;
    return invalid(path, {
      zh: `模型文件不完整（可能下载中断）：至少应有 ${needed} 字节，实际只有 ${r.size} 字节：${path}`,
      en: `The model file is incomplete (perhaps an interrupted download): it needs at least ${needed} bytes but has ${r.size}: ${path}`,
    }, {reason: 'truncated', expectedBytes: Number(needed), actualBytes: r.size});
  }
}

/** Sequential little-endian reader over a window of the file; refuses to read past its end. */
class BoundedReader {
  position = 0;
  private window = Buffer.alloc(0);
  private windowStart = 0;

  constructor(private readonly handle: FileHandle, readonly size: number, private readonly path: string) {}

  /** Returns the next n bytes (n is small: numbers, keys, names), reading ahead in 1 MiB windows. */
  async bytes(n: number): Promise<Buffer> {
    if (this.position + n > this.size) throw this.truncated(this.position + n);
    const end = this.position + n;
    if (this.position < this.windowStart || end > this.windowStart + this.window.length) {
      const length = Math.min(Math.max(n, 1 << 20), this.size - this.position);
      const buffer = Buffer.alloc(length);
      const {bytesRead} = await this.handle.read(buffer, 0, length, this.position);
      // The file shrank while we read it: treat like a truncated file.
      if (bytesRead < n) throw this.truncated(end);
      this.window = buffer.subarray(0, bytesRead);
      this.windowStart = this.position;
    }
    const start = this.position - this.windowStart;
    this.position = end;
    return this.window.subarray(start, start + n);
  }

  async u32(): Promise<number> {
    return (await this.bytes(4)).readUInt32LE(0);
  }

  async u64(): Promise<bigint> {
    return (await this.bytes(8)).readBigUInt64LE(0);
  }

  /** A count of records that each take at least minBytes; more than the rest of the file can
   * hold means the file was cut short (or is garbage), and is refused before any loop runs. */
  async count(what: string, minBytes: number): Promise<number> {
    const n = await this.u64();
    // no real model has anywhere near this many tensors or keys: a garbled header, not a short file
    if (n > 10_000_000n) throw corrupt(this.path, `${what} = ${n}`);
    const needed = BigInt(this.position) + n * BigInt(minBytes);
    if (needed > BigInt(this.size)) throw this.truncated(needed, `${what} ${n}`);
    return Number(n);
  }

  async string(maxBytes: number, what: string): Promise<string> {
    const length = await this.u64();
    if (length > BigInt(maxBytes)) {
      if (BigInt(this.position) + length > BigInt(this.size)) throw this.truncated(BigInt(this.position) + length);
      throw corrupt(this.path, `${what} is ${length} bytes long`);
    }
    return (await this.bytes(Number(length))).toString('utf8');
  }

  /** Moves past n bytes without reading them. */
  async skip(n: bigint, what: string): Promise<void> {
    const end = BigInt(this.position) + n;
    if (end > BigInt(this.size)) throw this.truncated(end, what);
    this.position = Number(end);
  }

  private truncated(needed: number | bigint, what?: string): AppError {
    return invalid(this.path, {
      zh: `模型文件不完整（可能下载中断），文件头提前结束${what ? `（${what}）` : ''}：${this.path}`,
      en: `The model file is incomplete (perhaps an interrupted download): its header ends early${what ? ` in ${what}` : ''}: ${this.path}`,
    }, {reason: 'truncated', expectedBytes: Number(needed), actualBytes: this.size});
  }
}

function alignUp(n: bigint, alignment: bigint): bigint {
  return ((n + alignment - 1n) / alignment) * alignment;
}

function invalid(path: string, message: {zh: string; en: string}, details: Record<string, unknown> = {}): AppError {
  return new AppError('model_invalid', message, {path, ...details});
}

function corrupt(path: string, reason: string): AppError {
  return invalid(path, {zh: `模型文件已损坏（${reason}）：${path}`, en: `The model file is corrupt (${reason}): ${path}`}, {reason});
}

function ioError(path: string, error: unknown): AppError {
  const text = error instanceof Error ? error.message : String(error);
  return new AppError('io', {zh: `无法读取模型文件：${path}（${text}）`, en: `Cannot read the model file ${path} (${text})`}, {path});
}
