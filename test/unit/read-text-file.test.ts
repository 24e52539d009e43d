import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readUtf8File} from '../../renderer/src/lib/read-text-file.js';
import {AppError} from '../../main/common/errors.js';

const line = (text: string) => Buffer.from(`${JSON.stringify({question: text, answer: '多喝水'})}\n`);
const gbkHello = Buffer.from([0xc4, 0xe3, 0xba, 0xc3]);

test('a browser upload that is not UTF-8: damaged lines are named; a GBK file is named as such', async () => {
  const good = Array.from({length: 19}, (_, i) => line(`头痛第${i}天`));
  // one damaged byte on line 6 of an otherwise UTF-8 file
  const damaged = Buffer.concat([...good.slice(0, 5), Buffer.from('{"question": "\xff头痛"}\n', 'latin1'), ...good.slice(5)]);
  await assert.rejects(readUtf8File(new File([damaged], 'rows.jsonl')), (error: unknown) => {
    assert.ok(error instanceof AppError && error.code === 'validation');
    assert.match(error.localised.zh, /第 6 行含有不是 UTF-8 的字节（共 1 行/);
    return true;
  });
  // every line GBK: the encoding, not the lines
  const gbk = Buffer.concat(Array.from({length: 20}, () => Buffer.concat([Buffer.from('{"q": "'), gbkHello, Buffer.from('"}\n')])));
  await assert.rejects(readUtf8File(new File([gbk], 'gbk.jsonl')), (error: unknown) => error instanceof AppError && /可能是 GBK/.test(error.localised.zh));
  assert.equal(await readUtf8File(new File([Buffer.concat(good)], 'ok.jsonl')), Buffer.concat(good).toString('utf8'));
});
