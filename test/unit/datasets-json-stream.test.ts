// The streaming JSON element scanner: element boundaries must not depend on where the chunks
// are cut (inside a string, an escape, a multi-byte character), and brackets or commas inside
// strings must not count.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {JsonElementScanner, type ScannedElement} from '../../main/node/datasets/json-stream.js';
import {openRecords, parseRecord} from '../../main/node/datasets/records.js';

function scan(input: string | Buffer, chunkSize: number, maxBytes?: number): ScannedElement[] {
  const bytes = typeof input === 'string' ? Buffer.from(input) : input;
  const scanner = new JsonElementScanner(maxBytes);
  const out: ScannedElement[] = [];
  for (let i = 0; i < bytes.length; i += chunkSize) out.push(...scanner.push(bytes.subarray(i, i + chunkSize)));
  out.push(...scanner.end());
  return out;
}
const values = (elements: ScannedElement[]) => elements.map((e) => ('bytes' in e ? JSON.parse(e.bytes.toString('utf8')) : {error: e.error.en, at: e.position}));

const TRICKY = [
  {q: 'a "quoted" ], [ and } { inside', a: '逗号，和\\反斜杠\\', n: [1, [2, {x: ']'}]]},
  'a plain string element',
  42,
  null,
  {emoji: '😀中文', escaped: '\u0000\n\t"\\'},
  [],
  {},
];

test('elements are the same whatever the chunk size (1 byte … whole)', () => {
  const json = JSON.stringify(TRICKY, null, 2);
  for (const size of [1, 2, 3, 7, 64, json.length]) assert.deepEqual(values(scan(json, size)), TRICKY, `chunk size ${size}`);
});

test('members of a keyed object come out as "key": value and parse as such', () => {
  const json = JSON.stringify({0: {q: '一'}, 1: {q: '二, ]'}, 10: {q: '三'}});
  const out = scan(json, 5);
  assert.deepEqual(
    out.map((e) => ('bytes' in e ? parseRecord(e.position, e.bytes, 'member') : null)).map((r) => r?.ok && [r.position, r.key, r.value]),
    [
      [0, '0', {q: '一'}],
      [1, '1', {q: '二, ]'}],
      [2, '10', {q: '三'}],
    ],
  );
});

test('empty array, trailing comma, data after the end, not JSON', () => {
  assert.deepEqual(values(scan('  [ ]  ', 1)), []);
  assert.deepEqual(values(scan('[1, 2, ]', 3)), [1, 2, {error: 'empty element (stray comma?)', at: 2}]);
  assert.deepEqual(values(scan('[1] [2]', 2)), [1, {error: 'unexpected data after the end of the JSON document', at: 1}]);
  assert.equal(values(scan('hello', 2)).length, 1);
  assert.match(JSON.stringify(values(scan('[1, {"a": "b', 4))), /truncated/);
  assert.deepEqual(values(scan('[1, 2,', 4)), [1, 2, {error: 'the file ends before the JSON array/object is closed (truncated file?)', at: 2}]);
});

test('an element larger than the limit is reported without being kept, and scanning goes on', () => {
  const big = {q: 'x'.repeat(5000)};
  const out = values(scan(JSON.stringify([1, big, 3]), 100, 1000));
  assert.equal(out[0], 1);
  assert.match((out[1] as {error: string}).error, /record too large \(50\d\d bytes/);
  assert.equal(out[2], 3);
});

test('a multi-byte character split across chunks decodes; an invalid byte rejects only its element', () => {
  const good = Buffer.from('[{"q": "中文字符"}, ');
  const bad = Buffer.concat([Buffer.from('{"q": "'), Buffer.from([0xe4, 0xb8]), Buffer.from('"}, {"q": "好"}]')]);
  const elements = scan(Buffer.concat([good, bad]), 1);
  const records = elements.map((e) => ('bytes' in e ? parseRecord(e.position, e.bytes) : null));
  assert.deepEqual(records.map((r) => r?.ok), [true, false, true]);
  assert.equal(records[1]?.ok === false && records[1].error.en, 'not valid UTF-8 (invalid byte sequence)');
});

test('openRecords streams a JSON array from content without a newline in sight', async () => {
  const content = JSON.stringify(Array.from({length: 3000}, (_, i) => ({i, q: '问'.repeat(200)})));
  const stream = await openRecords({content, fileName: 'big.json'});
  assert.equal(stream.container, 'array');
  let n = 0;
  for await (const r of stream.records) {
    assert.ok(r.ok && (r.value as {i: number}).i === n);
    n++;
  }
  assert.equal(n, 3000);
  assert.equal(stream.bytesRead(), stream.totalBytes);
});
