// Our safetensors reader/writer (PEFT adapters): exact F32 round trip, F16/BF16 widening, and
// corrupt files refused with model_invalid before anything is allocated from their lengths.
import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {AppError} from '../../main/common/errors.js';
import {f16BitsToF32, readSafetensors, writeSafetensors} from '../../main/node/adapters/safetensors.js';
import {f32ToF16Bits} from '../../main/node/models/gguf-writer.js';
import {tempDir} from '../helpers/tmp.js';

const tmp = tempDir();
after(() => tmp.cleanup());

test('F32 tensors round-trip exactly, metadata kept, data section 8-byte aligned', async () => {
  const path = join(tmp.path, 'a.safetensors');
  const a = Float32Array.from([1.5, -2.25, 3.1415927, 1e-30, -0, 65504]);
  await writeSafetensors(path, [{name: 'x.lora_A.weight', shape: [2, 3], data: a}, {name: 'y', shape: [1], data: Float32Array.of(7)}], {format: 'pt'});
  const bytes = readFileSync(path);
  assert.equal(Number(bytes.readBigUInt64LE(0)) % 8, 0, 'header padded to 8 bytes');
  const file = await readSafetensors(path);
  assert.deepEqual(file.metadata, {format: 'pt'});
  assert.deepEqual(file.tensors.get('x.lora_A.weight')!.shape, [2, 3]);
  assert.deepEqual(file.tensors.get('x.lora_A.weight')!.data, a);
  assert.equal(file.tensors.get('y')!.data[0], 7);
});

test('F16 bits widen exactly (every finite half value survives f32 → f16 → f32)', () => {
  for (let bits = 0; bits < 0x10000; bits++) {
    if ((bits & 0x7c00) === 0x7c00) continue; // Inf / NaN
    const value = f16BitsToF32(bits);
    assert.equal(f32ToF16Bits(value), bits, `half bits ${bits.toString(16)}`);
  }
});

test('BF16 reads as the top half of an F32', async () => {
  const path = join(tmp.path, 'bf16.safetensors');
  const header = Buffer.from(JSON.stringify({t: {dtype: 'BF16', shape: [2], data_offsets: [0, 4]}}));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(header.length));
  const data = Buffer.alloc(4);
  data.writeUInt16LE(0x3fc0, 0); // 1.5
  data.writeUInt16LE(0xc040, 2); // -3
  writeFileSync(path, Buffer.concat([len, header, data]));
  assert.deepEqual([...(await readSafetensors(path)).tensors.get('t')!.data], [1.5, -3]);
});

test('corrupt files are refused with model_invalid', async () => {
  const cases: [string, Buffer][] = [];
  const header = (h: object) => {
    const json = Buffer.from(JSON.stringify(h));
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    return Buffer.concat([len, json]);
  };
  const huge = Buffer.alloc(8);
  huge.writeBigUInt64LE(2n ** 40n);
  cases.push(['header length past the end', huge]);
  cases.push(['data past the end', Buffer.concat([header({t: {dtype: 'F32', shape: [4], data_offsets: [0, 16]}}), Buffer.alloc(8)])]);
  cases.push(['shape not matching the bytes', Buffer.concat([header({t: {dtype: 'F32', shape: [3], data_offsets: [0, 16]}}), Buffer.alloc(16)])]);
  cases.push(['unsupported dtype', Buffer.concat([header({t: {dtype: 'I8', shape: [4], data_offsets: [0, 4]}}), Buffer.alloc(4)])]);
  cases.push(['too short', Buffer.alloc(3)]);
  for (const [what, bytes] of cases) {
    const path = join(tmp.path, `bad-${what.replace(/\s/g, '-')}.safetensors`);
    writeFileSync(path, bytes);
    await assert.rejects(readSafetensors(path), (e: unknown) => e instanceof AppError && e.code === 'model_invalid', what);
  }
});
