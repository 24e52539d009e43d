// Reading files a person names: only regular files, within a size limit.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {AppError} from '../../main/common/errors.js';
import {checkRegularFile, readRegularTextFile} from '../../main/node/files.js';
import {tempDir} from '../helpers/tmp.js';

const refusedWith = (code: string, pattern: RegExp) => (error: unknown) =>
  error instanceof AppError && error.code === code && pattern.test(error.localised.en) && error.localised.zh.length > 0;

test('a regular file is read whole; one byte over the limit is refused before reading', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'a.jsonl');
  writeFileSync(file, '头痛\n'.repeat(1000)); // 7,000 bytes
  assert.equal(await readRegularTextFile(file, 7000), '头痛\n'.repeat(1000), 'exactly at the limit is fine');
  await assert.rejects(readRegularTextFile(file, 6999), refusedWith('validation', /too large/), 'over the limit');
  const empty = join(dir.path, 'empty.json');
  writeFileSync(empty, '');
  assert.equal(await readRegularTextFile(empty, 10), '');
});

test('devices, directories, /proc files and missing paths are refused with a reason', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  await assert.rejects(checkRegularFile('/dev/zero'), refusedWith('validation', /device/));
  await assert.rejects(readRegularTextFile('/dev/zero', 1024), refusedWith('validation', /device/));
  await assert.rejects(checkRegularFile(dir.path), refusedWith('validation', /directory/));
  await assert.rejects(checkRegularFile(join(dir.path, 'nope')), refusedWith('not_found', /no such file/));
  if (process.platform === 'linux') await assert.rejects(checkRegularFile('/proc/self/status'), refusedWith('validation', /\/proc/));
});

test('a file that is not UTF-8 (GBK from a Chinese Windows editor, random bytes) is refused, never read with U+FFFD', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const gbk = join(dir.path, 'gbk.json');
  // {"q": "你好"} with 你好 in GBK (C4E3 BAC3): Buffer.toString would give four U+FFFD
  writeFileSync(gbk, Buffer.concat([Buffer.from('{"q": "'), Buffer.from([0xc4, 0xe3, 0xba, 0xc3]), Buffer.from('"}')]));
  const notUtf8 = (error: unknown) =>
    error instanceof AppError && error.code === 'validation' && /not UTF-8 text \(it may be GBK\)/.test(error.localised.en) && /不是 UTF-8 编码（可能是 GBK）/.test(error.localised.zh);
  await assert.rejects(readRegularTextFile(gbk, 1024), notUtf8);
  const random = join(dir.path, 'random.bin');
  writeFileSync(random, Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x80, 0x81, 0xc0, 0xaf]));
  await assert.rejects(readRegularTextFile(random, 1024), notUtf8);
  // UTF-8, with or without a byte order mark, reads as before (the mark stays: callers decide)
  const bom = join(dir.path, 'bom.csv');
  writeFileSync(bom, '\uFEFF头痛,发热\n');
  assert.equal(await readRegularTextFile(bom, 1024), '\uFEFF头痛,发热\n');
});
