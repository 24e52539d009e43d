import {test} from 'node:test';
import assert from 'node:assert/strict';
import {MODEL_CATALOG, fitHint, memoryNeeded} from '../../main/common/model-catalog.js';

const GB = 1e9;

test('fit hints: VRAM first, then memory with room to spare, tight, too large', () => {
  const size = 4.68 * GB; // needs ~6.1 GB
  assert.equal(memoryNeeded(size), Math.round(size * 1.2 + 0.5 * GB));
  assert.equal(fitHint(size, {totalMemoryBytes: 16 * GB, vramBytes: 8 * GB, gpu: 'cuda'}), 'gpu');
  assert.equal(fitHint(size, {totalMemoryBytes: 16 * GB, vramBytes: 4 * GB, gpu: 'cuda'}), 'memory');
  assert.equal(fitHint(size, {totalMemoryBytes: 16 * GB, vramBytes: null, gpu: null}), 'memory');
  assert.equal(fitHint(size, {totalMemoryBytes: 8 * GB, vramBytes: null, gpu: null}), 'tight');
  assert.equal(fitHint(size, {totalMemoryBytes: 4 * GB, vramBytes: null, gpu: null}), 'too-large');
});

test('the catalog: unique hf: sources of .gguf files, sizes and quantisations, Qwen2.5 sizes and medical models', () => {
  const sources = MODEL_CATALOG.map((e) => e.source);
  assert.equal(new Set(sources).size, sources.length, 'no duplicates');
  for (const e of MODEL_CATALOG) {
    assert.equal(e.source, `hf:${e.repo}/${e.file}`, e.source);
    assert.match(e.file, /\.gguf$/, e.file);
    assert.ok(e.sizeBytes > 1e8, `${e.file} size`);
    assert.ok(e.file.includes(e.quantization), `${e.file} names its quantisation`);
    assert.ok(e.note.zh && e.note.en, `${e.file} notes in both languages`);
  }
  for (const size of ['0.5B', '1.5B', '3B', '7B'])
    assert.ok(MODEL_CATALOG.some((e) => e.family === 'general' && e.parameters === size && e.name.startsWith('Qwen2.5')), `Qwen2.5 ${size}`);
  assert.ok(MODEL_CATALOG.some((e) => e.family === 'medical'), 'medical');
});
