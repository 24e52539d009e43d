// The contract at the boundary: every input is validated, and bad input gets a clear error in
// both languages, never an exception through the transport.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {writeFileSync, mkdirSync} from 'node:fs';
import {join} from 'node:path';
import {MAX_MESSAGE_CHARS, methodNames} from '../../main/common/contract.js';
import {startServices} from '../helpers/services.js';

test('unknown methods, wrong types and extra keys are refused with localised errors', async () => {
  const s = startServices();
  try {
    const unknown = await s.callRaw('consultations.explode', {});
    assert.equal(unknown.ok, false);
    assert.equal(!unknown.ok && unknown.error.code, 'not_found');

    const wrongType = await s.callRaw('consultations.create', {title: 42});
    assert.equal(!wrongType.ok && wrongType.error.code, 'validation');
    assert.match(!wrongType.ok ? wrongType.error.message.zh : '', /输入无效/);

    const extraKey = await s.callRaw('consultations.list', {query: 'x', sql: 'DROP TABLE messages'});
    assert.equal(!extraKey.ok && extraKey.error.code, 'validation');
    // said in Chinese, not in the schema library's English
    assert.equal(!extraKey.ok && extraKey.error.message.zh, '输入无效：不认识的字段 sql');
    const longTitle = await s.callRaw('consultations.create', {title: '头'.repeat(201)});
    assert.equal(!longTitle.ok && longTitle.error.message.zh, '输入无效：title：最多 200 个字符');
    // a title of zero-width spaces would be a blank, unclickable entry in the list
    const invisible = await s.callRaw('consultations.create', {title: '\u200b\u2060\ufeff'});
    assert.equal(!invisible.ok && invisible.error.message.zh, '名称不能只由空白或不可见字符组成。');
    assert.equal((await s.call('consultations.create', {title: '  '})).title, '新问诊', 'blank still means the default title');

    const badId = await s.callRaw('consultations.get', {id: '../../etc/passwd'});
    assert.equal(!badId.ok && badId.error.code, 'validation');

    const notUrl = await s.callRaw('settings.update', {hfEndpoint: 'javascript:alert(1)'});
    assert.equal(!notUrl.ok && notUrl.error.code, 'validation');

    const nonObject = await s.callRaw('app.info', 'hello');
    assert.equal(!nonObject.ok && nonObject.error.code, 'validation');
  } finally {
    await s.close();
  }
});

test('every method answers an envelope for garbage input (no throw escapes dispatch)', async () => {
  const s = startServices();
  try {
    for (const method of methodNames) {
      for (const garbage of [null, 42, 'x', [], {id: 7}, {id: 'no-such-id', messageId: 'x', consultationId: 'y', text: 'hi'}]) {
        const envelope = await s.callRaw(method, garbage);
        assert.equal(typeof envelope.ok, 'boolean', `${method} answered an envelope`);
        if (!envelope.ok) {
          assert.ok(envelope.error.message.zh.length > 0 && envelope.error.message.en.length > 0, `${method}: both languages`);
          assert.notEqual(envelope.error.code, 'internal', `${method}(${JSON.stringify(garbage)}) must not be an internal error: ${envelope.error.message.en}`);
        }
      }
    }
  } finally {
    await s.close();
  }
});

test('messages: empty, whitespace-only and over-long are refused; unknown consultation is not_found', async () => {
  const s = startServices();
  try {
    const c = await s.call('consultations.create', {title: '测试'});
    for (const text of ['', '   \n\t ']) {
      const envelope = await s.callRaw('chat.send', {consultationId: c.id, text});
      assert.equal(!envelope.ok && envelope.error.code, 'validation');
      assert.match(!envelope.ok ? envelope.error.message.zh : '', /不能为空/);
    }
    const oneMegabyte = '痛'.repeat(350_000); // 1.05 MB of UTF-8
    const tooLong = await s.callRaw('chat.send', {consultationId: c.id, text: oneMegabyte});
    assert.equal(!tooLong.ok && tooLong.error.code, 'message_too_long');
    assert.match(!tooLong.ok ? tooLong.error.message.zh : '', new RegExp(MAX_MESSAGE_CHARS.toLocaleString('zh-CN')));
    // nothing was stored for refused messages
    assert.equal((await s.call('consultations.get', {id: c.id})).messages.length, 0);

    const unknown = await s.callRaw('chat.send', {consultationId: 'nope123', text: '你好'});
    assert.equal(!unknown.ok && unknown.error.code, 'not_found');
    assert.match(!unknown.ok ? unknown.error.message.zh : '', /找不到问诊/);

    const noModel = await s.callRaw('chat.send', {consultationId: c.id, text: '你好'});
    assert.equal(!noModel.ok && noModel.error.code, 'model_required');
  } finally {
    await s.close();
  }
});

test('registering a file that is not a GGUF gives a clear error and registers nothing', async () => {
  const s = startServices();
  try {
    const dir = join(s.dataDir, 'junk');
    mkdirSync(dir);
    const cases: [string, string][] = [
      [join(dir, 'notes.gguf'), '这不是模型文件'],
      [join(dir, 'empty.gguf'), ''],
    ];
    for (const [path, content] of cases) writeFileSync(path, content);
    for (const [path] of cases) {
      const envelope = await s.callRaw('models.add', {path});
      assert.equal(!envelope.ok && envelope.error.code, 'model_invalid', path);
    }
    const missing = await s.callRaw('models.add', {path: join(dir, 'missing.gguf')});
    assert.equal(!missing.ok && missing.error.code, 'model_missing');
    const directory = await s.callRaw('models.add', {path: dir});
    assert.equal(!directory.ok && directory.error.code, 'model_invalid');
    assert.equal((await s.call('models.list', {})).length, 0);
  } finally {
    await s.close();
  }
});

test('defaults saved for new consultations are what consultations.create starts with, until reset', async () => {
  const s = startServices();
  try {
    const sampling = {temperature: 0.3, topP: 0.8, topK: 20, minP: 0.1, repeatPenalty: 1.2, maxTokens: 2048, seed: 7};
    const saved = await s.call('settings.update', {consultationDefaults: {systemPrompt: '你是儿科医生。', sampling}});
    assert.deepEqual(saved.consultationDefaults, {systemPrompt: '你是儿科医生。', sampling}, 'stored with the settings');
    const c = await s.call('consultations.create', {});
    assert.deepEqual(c.sampling, sampling, 'a new consultation starts with the saved sampling');
    assert.equal(c.systemPrompt, '你是儿科医生。');
    // a null prompt keeps the app's own, in the UI language
    await s.call('settings.update', {consultationDefaults: {systemPrompt: null, sampling}});
    assert.match((await s.call('consultations.create', {})).systemPrompt, /仲景/);
    const bad = await s.callRaw('settings.update', {consultationDefaults: {systemPrompt: null, sampling: {...sampling, maxTokens: 0}}});
    assert.equal(!bad.ok && bad.error.code, 'validation', 'out-of-range sampling is refused');
    await s.call('settings.update', {consultationDefaults: null});
    assert.equal((await s.call('consultations.create', {})).sampling.maxTokens, 1024, "back to the app's defaults");
  } finally {
    await s.close();
  }
});
