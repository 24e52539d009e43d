import {test} from 'node:test';
import assert from 'node:assert/strict';
import type {Consultation, Message} from '../../main/common/contract.js';
import {DEFAULT_SAMPLING} from '../../main/common/contract.js';
import {newestLeafUnder, siblingsOf, threadTo} from '../../main/common/thread.js';
import {titleFromFirstMessage} from '../../main/common/titles.js';
import {consultationToJson, consultationToMarkdown, exportFileBase} from '../../main/node/services/export.js';

let clock = 0;
function msg(id: string, parentId: string | null, role: Message['role'], content: string, status: Message['status'] = 'complete'): Message {
  return {id, parentId, role, content, status, createdAt: new Date(Date.UTC(2026, 0, 1, 0, 0, clock++)).toISOString(), meta: {}};
}

// u1 → a1 → u2 → a2        (original)
//           └→ u2b → a2b  (edited, newer)
const messages = [
  msg('u1', null, 'user', '我头痛三天了'),
  msg('a1', 'u1', 'assistant', '请问是哪个部位？'),
  msg('u2', 'a1', 'user', '前额'),
  msg('a2', 'u2', 'assistant', '有没有发热？', 'stopped'),
  msg('u2b', 'a1', 'user', '太阳穴'),
  msg('a2b', 'u2b', 'assistant', '是否伴随恶心？'),
];

test('thread, newest leaf and siblings over a branched tree', () => {
  assert.deepEqual(threadTo(messages, 'a2').map((m) => m.id), ['u1', 'a1', 'u2', 'a2']);
  assert.deepEqual(threadTo(messages, null), []);
  assert.equal(newestLeafUnder(messages, 'a1'), 'a2b');
  assert.equal(newestLeafUnder(messages, 'u2'), 'a2');
  assert.deepEqual(siblingsOf(messages, messages[2]!).map((m) => m.id), ['u2', 'u2b']);
  // a cycle (only possible in a corrupt store) does not hang
  const cyclic = [msg('x', 'y', 'user', ''), msg('y', 'x', 'assistant', '')];
  assert.ok(threadTo(cyclic, 'x').length <= 3);
});

const consultation: Consultation = {
  id: 'c1',
  title: '头痛/发热: 复诊?',
  modelId: null,
  remoteEndpointId: null,
  compare: null,
  preferences: [],
  createdAt: '2026-11-22T01:02:03.000Z',
  updatedAt: '2026-11-22T01:02:03.000Z',
  messageCount: messages.length,
  preview: '',
  systemPrompt: '你是仲景。',
  adapterIds: [],
  sampling: DEFAULT_SAMPLING,
  messages,
  currentLeafId: 'a2',
};

test('Markdown export shows the visible branch with its status, notice and system prompt', () => {
  const zh = consultationToMarkdown(consultation, {model: null, adapters: []}, 'zh-CN');
  assert.match(zh, /^# 头痛\/发热: 复诊\?/);
  assert.match(zh, /### 患者\n\n我头痛三天了/);
  assert.match(zh, /### 仲景 （已停止）\n\n有没有发热？/);
  assert.doesNotMatch(zh, /太阳穴/, 'only the visible branch');
  assert.match(zh, /不能替代医生/);
  assert.match(zh, /你是仲景。/);
  const en = consultationToMarkdown(consultation, {model: null, adapters: []}, 'en');
  assert.match(en, /### Patient/);
  assert.match(en, /do not replace/);
});

test('Markdown export marks a remote reply with its endpoint and model', () => {
  const remote: Consultation = {
    ...consultation,
    messages: consultation.messages.map((m) => (m.id === 'a2' ? {...m, meta: {...m.meta, remote: {endpointId: 'r1', name: '院内 vLLM', model: 'huatuo-13b'}}} : m)),
  };
  assert.match(consultationToMarkdown(remote, {model: null, adapters: []}, 'zh-CN'), /### 仲景 · 远程: 院内 vLLM \(huatuo-13b\) （已停止）/);
  assert.match(consultationToMarkdown(remote, {model: null, adapters: []}, 'en'), /### Zhongjing · remote: 院内 vLLM \(huatuo-13b\) \(stopped\)/);
});

test('JSON export keeps every branch and names a safe file', () => {
  const parsed = JSON.parse(consultationToJson(consultation, {model: null, adapters: []}));
  assert.equal(parsed.format, 'zhongjing.consultation');
  assert.deepEqual(parsed.thread.map((m: Message) => m.id), ['u1', 'a1', 'u2', 'a2']);
  assert.equal(parsed.messages.length, 6);
  assert.equal(exportFileBase(consultation), '头痛_发热_ 复诊-2026-11-22', 'the trailing "?" is dropped, not turned into "_"');
  assert.equal(exportFileBase({...consultation, title: '我头痛三天了，'}), '我头痛三天了-2026-11-22', 'no dangling "，"');
  assert.equal(exportFileBase({...consultation, title: '头痛（复诊）'}), '头痛（复诊）-2026-11-22', 'a closing bracket stays');
  assert.equal(exportFileBase({...consultation, title: '？？'}), 'consultation-2026-11-22');
});

test('an untitled consultation is named after its first question, without dangling punctuation', () => {
  assert.equal(titleFromFirstMessage('我头痛三天了，'), '我头痛三天了');
  assert.equal(titleFromFirstMessage('  \n我头痛三天了。\n还有点发热'), '我头痛三天了', 'the first line with words');
  assert.equal(titleFromFirstMessage('感冒能洗澡吗？'), '感冒能洗澡吗？', 'a question keeps its question mark');
  // cut at 24 characters right after a comma: the comma goes, the ellipsis says it was cut
  const long = `我从上周开始反复头痛，主要在太阳穴和后脑${'疼'.repeat(3)}，晚上更严重，请问需要做什么检查`;
  assert.equal([...long][23], '，', 'the cut falls on a comma');
  assert.equal(titleFromFirstMessage(long), '我从上周开始反复头痛，主要在太阳穴和后脑疼疼疼…');
  assert.equal(titleFromFirstMessage('……'), null, 'nothing to name it by');
  assert.equal(titleFromFirstMessage('head ache, '), 'head ache');
});
