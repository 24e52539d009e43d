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
