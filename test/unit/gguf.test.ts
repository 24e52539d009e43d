// GGUF writer, inspector and tiny test model, without loading any model into llama.cpp.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, mkdir, readFile, rm, writeFile, readdir} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {readGgufFileInfo} from 'node-llama-cpp';
import {AppError} from '../../main/common/errors.js';
import {f32ToF16Bits, gguf, writeGguf} from '../../main/node/models/gguf-writer.js';
import {inspectGguf, quantizationName} from '../../main/node/models/gguf-inspect.js';
import {buildTinyVocabulary, makeTinyModel, TINY_MODEL_SHAPE} from '../../main/node/models/tiny-model.js';
import {mulberry32} from '../../main/common/random.js';
import {sha256File} from '../../main/node/hash.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zhongjing-gguf-'));
});
after(async () => {
  await rm(dir, {recursive: true, force: true});
});

/** Asserts that inspectGguf rejects with an AppError of this code, with text in both languages. */
async function assertInspectFails(path: string, code: string, enPattern?: RegExp): Promise<AppError> {
  let caught: unknown;
  try {
    await inspectGguf(path);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof AppError, `expected an AppError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  assert.ok(caught.localised.zh.length > 0 && caught.localised.en.length > 0);
  assert.match(caught.localised.zh, /[\u4e00-\u9fff]/, 'the zh text is Chinese');
  if (enPattern) assert.match(caught.localised.en, enPattern);
  return caught;
}

describe('gguf writer', () => {
  test('round-trips metadata of every type and F32/F16 tensors through readGgufFileInfo', async () => {
    const path = join(dir, 'roundtrip.gguf');
    const matrix = Float32Array.from({length: 3 * 5}, (_, i) => (i - 7) / 8); // exact in F16 too
    const result = await writeGguf(path, {
      metadata: [
        ['general.architecture', gguf.string('llama')],
        ['test.u8', gguf.u8(200)],
        ['test.i32', gguf.i32(-123456)],
        ['test.u32', gguf.u32(4_000_000_000)],
        ['test.f32', gguf.f32(0.25)],
        ['test.bool', gguf.bool(true)],
        ['test.string', gguf.string('头痛 ▁ <|im_end|>')],
        ['test.strings', gguf.strings(['a', '', '发热'])],
        ['test.f32s', gguf.f32s([1.5, -2])],
        ['test.i32s', gguf.i32s([-1, 6])],
        ['test.u32s', gguf.u32s([7, 8, 9])],
      ],
      tensors: [
        {name: 'a.weight', dims: [5, 3], type: 'f32', data: () => [matrix.subarray(0, 4), matrix.subarray(4)]},
        {name: 'b.weight', dims: [5, 3], type: 'f16', data: () => [matrix]},
        {name: 'c.bias', dims: [7], type: 'f32', data: () => [new Float32Array(7).fill(1)]},
      ],
    });
    const bytes = await readFile(path);
    assert.equal(result.bytes, bytes.length);
    assert.equal(result.sha256, await sha256File(path));
    assert.equal(bytes.length % 32, 0, 'every tensor is padded to the alignment');

    const info = await readGgufFileInfo(path, {logWarnings: false});
    assert.equal(info.version, 3);
    const m = info.metadata as unknown as Record<string, Record<string, unknown>>;
    assert.deepEqual(m.test, {
      u8: 200, i32: -123456, u32: 4_000_000_000, f32: 0.25, bool: true, string: '头痛 ▁ <|im_end|>',
      strings: ['a', '', '发热'], f32s: [1.5, -2], i32s: [-1, 6], u32s: [7, 8, 9],
    });
    assert.equal(m.general?.alignment, 32);
    const tensors = info.tensorInfo ?? [];
    assert.deepEqual(tensors.map((t) => [t.name, t.dimensions, t.ggmlType, t.offset]), [
      ['a.weight', [5, 3], 0, 0],
      ['b.weight', [5, 3], 1, 64], // 60 bytes of F32, padded to 64
      ['c.bias', [7], 0, 96], // 64 + 30 bytes of F16, padded to 96
    ]);
    const [a, b] = tensors.map((t) => Number(t.fileOffset));
    assert.equal(Number(a) % 32, 0);
    for (let i = 0; i < matrix.length; i++) {
      assert.equal(bytes.readFloatLE(a! + i * 4), matrix[i]);
      assert.equal(bytes.readUInt16LE(b! + i * 2), f32ToF16Bits(matrix[i]!));
    }
  });

  test('f32ToF16Bits rounds like IEEE 754 half precision', () => {
    const cases: Array<[number, number]> = [
      [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff],
      [65520, 0x7c00], [1e9, 0x7c00], [Infinity, 0x7c00], [2 ** -24, 0x0001], [2 ** -14, 0x0400],
      [2 ** -26, 0x0000], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02], [0.0200043, 0x251f],
    ];
    for (const [value, bits] of cases) assert.equal(f32ToF16Bits(value), bits, `f16(${value})`);
    assert.equal(f32ToF16Bits(NaN) & 0x7c00, 0x7c00);
    assert.notEqual(f32ToF16Bits(NaN) & 0x3ff, 0);
  });

  test('refuses bad input and leaves no file behind', async () => {
    const path = join(dir, 'bad.gguf');
    const base = {metadata: [['general.architecture', gguf.string('llama')]] as const};
    await assert.rejects(
      writeGguf(path, {...base, tensors: [{name: 't', dims: [4], type: 'f32', data: () => [new Float32Array(3)]}]}),
      /needs 4/,
    );
    await assert.rejects(writeGguf(path, {metadata: [['general.alignment', gguf.u32(64)]], tensors: []}), /alignment/);
    const t = {name: 't', dims: [1], type: 'f32' as const, data: () => [new Float32Array(1)]};
    await assert.rejects(writeGguf(path, {...base, tensors: [t, t]}), /duplicate/);
    assert.deepEqual((await readdir(dir)).filter((name) => name.startsWith('bad.gguf')), []);
  });
});

describe('tiny model', () => {
  test('is deterministic: same seed gives the same bytes, another seed does not', async () => {
    const a = await makeTinyModel(join(dir, 'a.gguf'), {seed: 7});
    const b = await makeTinyModel(join(dir, 'b.gguf'), {seed: 7});
    const c = await makeTinyModel(join(dir, 'c.gguf'), {seed: 8});
    assert.equal(a.sha256, b.sha256);
    assert.equal(a.sha256, await sha256File(a.path));
    assert.ok((await readFile(a.path)).equals(await readFile(b.path)));
    assert.notEqual(a.sha256, c.sha256);
    const q = await makeTinyModel(join(dir, 'q.gguf'), {seed: 7, architecture: 'qwen2'});
    assert.notEqual(a.sha256, q.sha256);
  });

  test('vocabulary: byte fallback, ChatML controls, Chinese medical words', () => {
    const vocab = buildTinyVocabulary();
    assert.equal(new Set(vocab.tokens).size, vocab.tokens.length, 'no duplicate pieces');
    assert.equal(vocab.tokens.filter((_, i) => vocab.types[i] === 6).length, 256);
    assert.equal(vocab.tokens[vocab.ids.eos], '<|im_end|>');
    assert.equal(vocab.tokens[vocab.ids.imStart], '<|im_start|>');
    for (const piece of ['▁', '头痛', '发热', '咳嗽', '医', '糖尿病', '，', '。', 'a', '<0x0A>']) {
      assert.ok(vocab.tokens.includes(piece), piece);
    }
    assert.ok(vocab.tokens.filter((t) => /^[\u4e00-\u9fff]$/.test(t)).length >= 300);
  });

  test('mulberry32 matches the reference implementation (seed 1)', () => {
    const next = mulberry32(1);
    assert.deepEqual([next(), next(), next()].map((x) => Math.round(x * 1e9)), [627073941, 2735721, 527447040]);
  });
});

describe('inspectGguf', () => {
  test('summarises the tiny llama model', async () => {
    const {path, vocabSize} = await makeTinyModel(join(dir, 'tiny.gguf'));
    const {embeddingLength: e, feedForwardLength: ff, blockCount, headCount, headCountKv} = TINY_MODEL_SHAPE;
    const kv = (e / headCount) * headCountKv;
    const perLayer = 2 * e + e * e * 2 + e * kv * 2 + 3 * e * ff;
    const summary = await inspectGguf(path);
    assert.deepEqual(summary, {
      path,
      kind: 'base',
      architecture: 'llama',
      parameterCount: 2 * vocabSize * e + e + blockCount * perLayer,
      quantization: 'F32',
      contextLength: 4096,
      fileSizeBytes: (await readFile(path)).length,
      hasChatTemplate: true,
    });
  });

  test('F16 qwen2 variant and a LoRA adapter', async () => {
    const q = await makeTinyModel(join(dir, 'qwen2-f16.gguf'), {architecture: 'qwen2', weightType: 'f16', contextLength: 2048});
    const summary = await inspectGguf(q.path);
    assert.equal(summary.architecture, 'qwen2');
    assert.equal(summary.quantization, 'F16');
    assert.equal(summary.contextLength, 2048);

    const adapterPath = join(dir, 'adapter.gguf');
    await writeGguf(adapterPath, {
      metadata: [
        ['general.architecture', gguf.string('llama')],
        ['general.type', gguf.string('adapter')],
        ['adapter.type', gguf.string('lora')],
        ['adapter.lora.alpha', gguf.f32(16)],
      ],
      tensors: [
        {name: 'blk.0.attn_q.weight.lora_a', dims: [64, 8], type: 'f32', data: () => [new Float32Array(512)]},
        {name: 'blk.0.attn_q.weight.lora_b', dims: [8, 64], type: 'f32', data: () => [new Float32Array(512)]},
      ],
    });
    const adapter = await inspectGguf(adapterPath);
    assert.equal(adapter.kind, 'adapter');
    assert.equal(adapter.contextLength, null);
    assert.equal(adapter.parameterCount, 1024);
    assert.equal(adapter.quantization, 'F32', 'no general.file_type: the most common tensor type');
    assert.equal(adapter.hasChatTemplate, false);
  });

  test('split models: every part is checked and counted', async () => {
    const part = (n: number) => join(dir, `split-0000${n}-of-00002.gguf`);
    const tensor = (name: string) => ({name, dims: [16], type: 'f32' as const, data: () => [new Float32Array(16)]});
    await writeGguf(part(1), {
      metadata: [['general.architecture', gguf.string('llama')], ['split.count', gguf.u32(2)], ['llama.context_length', gguf.u32(512)]],
      tensors: [tensor('a')],
    });
    await assertInspectFails(part(1), 'model_invalid', /part of the split model is missing/);
    await writeGguf(part(2), {metadata: [['split.count', gguf.u32(2)]], tensors: [tensor('b')]});
    const summary = await inspectGguf(part(1));
    assert.equal(summary.parameterCount, 32);
    assert.equal(summary.fileSizeBytes, (await readFile(part(1))).length + (await readFile(part(2))).length);
    assert.equal(summary.contextLength, 512);
  });

  test('quantization name falls back to the type holding the most weights', () => {
    assert.equal(quantizationName(15, []), 'Q4_K_M');
    assert.equal(quantizationName(7, []), 'Q8_0');
    const tensors = [
      {ggmlType: 0, dimensions: [64]},
      {ggmlType: 8, dimensions: [64, 64]},
      {ggmlType: 14, dimensions: [64, 32]},
    ];
    assert.equal(quantizationName(undefined, tensors), 'Q8_0');
    assert.equal(quantizationName(9999, []), 'unknown');
  });

  test('missing file → model_missing', async () => {
    await assertInspectFails(join(dir, 'no-such-model.gguf'), 'model_missing', /not found/);
    await assertInspectFails(join(dir, 'no-such-dir', 'model.gguf'), 'model_missing');
  });

  test('directory, empty file, text file and random bytes → model_invalid', async () => {
    const folder = join(dir, 'folder.gguf');
    await mkdir(folder, {recursive: true});
    await assertInspectFails(folder, 'model_invalid', /folder/);
    await writeFile(join(dir, 'empty.gguf'), '');
    await assertInspectFails(join(dir, 'empty.gguf'), 'model_invalid', /empty/);
    await writeFile(join(dir, 'notes.gguf'), '患者主诉头痛三天。\nThis is a text file.\n');
    await assertInspectFails(join(dir, 'notes.gguf'), 'model_invalid', /not start with "GGUF"/);
    const next = mulberry32(42);
    const noise = Buffer.from(Array.from({length: 4096}, () => Math.floor(next() * 256)));
    await writeFile(join(dir, 'noise.gguf'), noise);
    await assertInspectFails(join(dir, 'noise.gguf'), 'model_invalid');
    // The right magic followed by noise: absurd counts must be refused at once, not looped over.
    await writeFile(join(dir, 'magic-noise.gguf'), Buffer.concat([Buffer.from('GGUF'), Buffer.from([3, 0, 0, 0]), noise]));
    await assertInspectFails(join(dir, 'magic-noise.gguf'), 'model_invalid');
  });

  test('truncated tiny model at many cut points → model_invalid, quickly', async () => {
    const whole = await readFile((await makeTinyModel(join(dir, 'whole.gguf'))).path);
    const cut = join(dir, 'cut.gguf');
    for (const length of [1, 4, 6, 12, 20, 24, 100, 5000, 15000, whole.length >> 1, whole.length - 1]) {
      await writeFile(cut, whole.subarray(0, length));
      const started = Date.now();
      const error = await assertInspectFails(cut, 'model_invalid');
      assert.ok(Date.now() - started < 2000, `cut at ${length} took too long`);
      if (length >= 12) assert.match(error.localised.en, /incomplete/, `cut at ${length}: ${error.localised.en}`);
    }
  });

  test('a 61-byte file claiming a huge array is refused at once', async () => {
    // readGgufFileInfo alone reads zeros past the end of a file: on such a file with 50M items it
    // loops 50M times and grows to ~650 MB (measured: 6.8 s); a bigger count would hang the app.
    for (const [items, pattern] of [[50_000_000n, /corrupt/], [10_000_000n, /incomplete/]] as const) {
      const crafted = Buffer.alloc(61);
      crafted.write('GGUF', 0);
      crafted.writeUInt32LE(3, 4); // version
      crafted.writeBigUInt64LE(0n, 8); // tensors
      crafted.writeBigUInt64LE(1n, 16); // metadata entries
      crafted.writeBigUInt64LE(1n, 24); // key length
      crafted.write('k', 32);
      crafted.writeUInt32LE(9, 33); // array
      crafted.writeUInt32LE(0, 37); // of u8
      crafted.writeBigUInt64LE(items, 41);
      const path = join(dir, 'crafted.gguf');
      await writeFile(path, crafted);
      const started = Date.now();
      await assertInspectFails(path, 'model_invalid', pattern);
      assert.ok(Date.now() - started < 500);
    }
  });

  test('an impossible tensor count is a damaged header, not an interrupted download', async () => {
    const crafted = Buffer.alloc(64);
    crafted.write('GGUF', 0);
    crafted.writeUInt32LE(3, 4);
    crafted.writeBigUInt64LE(1n << 62n, 8); // tensors: what a flipped bit in the header reads as
    crafted.writeBigUInt64LE(0n, 16);
    const path = join(dir, 'garbled.gguf');
    await writeFile(path, crafted);
    await assertInspectFails(path, 'model_invalid', /corrupt/);
  });

  test('valid GGUF without general.architecture → model_invalid', async () => {
    const path = join(dir, 'no-arch.gguf');
    await writeGguf(path, {metadata: [['general.name', gguf.string('x')]], tensors: []});
    await assertInspectFails(path, 'model_invalid', /general\.architecture/);
  });

  test('tensor offsets that overlap or point past the data are refused', async () => {
    const path = join(dir, 'bad-offset.gguf');
    const t = (name: string) => ({name, dims: [8], type: 'f32' as const, data: () => [new Float32Array(8)]});
    await writeGguf(path, {metadata: [['general.architecture', gguf.string('llama')]], tensors: [t('a'), t('b')]});
    const bytes = await readFile(path);
    // The second tensor's offset (u64) is the last 8 bytes of its info, just before the padding.
    const offsetAt = bytes.lastIndexOf(Buffer.from([32, 0, 0, 0, 0, 0, 0, 0]), bytes.length - 64);
    assert.ok(offsetAt > 0);
    bytes.writeBigUInt64LE(1n << 40n, offsetAt);
    await writeFile(path, bytes);
    await assertInspectFails(path, 'model_invalid', /offset/);
  });
});
