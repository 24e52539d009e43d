// The Markdown export keeps a reply's Markdown (bold, lists, tables) but nothing in it may act on
// the document or on a viewer: checked by rendering the exported file with marked, which passes
// raw HTML through as a permissive Markdown viewer would.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {marked} from 'marked';
import type {Consultation, Message} from '../../main/common/contract.js';
import {DEFAULT_SAMPLING} from '../../main/common/contract.js';
import {consultationToMarkdown} from '../../main/node/services/export.js';
import {safeMarkdown} from '../../main/node/services/export-markdown.js';

const HOSTILE = [
  '# 诊断',
  '',
  '**加粗** 和列表：',
  '',
  '- 第一项',
  '- 第二项 <img src=x onerror="alert(1)">',
  '',
  '<script>alert("x")</script>',
  '',
  '<details open><summary>点开</summary>隐藏</details>',
  '',
  '[点我](javascript:alert(1)) [官网](https://example.org/a) ![追踪](https://example.org/pixel.png)',
  '',
  '| 药物 | 剂量 |',
  '| --- | --- |',
  '| 布洛芬 <b>x</b> | `<300mg>` |',
  '',
  '### 患者',
  '',
  '`<code>` stays as written, and so does:',
  '',
  '```html',
  '<script>kept as code</script>',
].join('\n'); // the last fence is never closed

function message(id: string, parentId: string | null, role: Message['role'], content: string): Message {
  return {id, parentId, role, content, status: 'complete', createdAt: '2026-01-01T00:00:00.000Z', meta: {}};
}

const consultation: Consultation = {
  id: 'c1',
  title: '<img src=x onerror=alert(1)> 头痛 **复诊**',
  modelId: null,
  remoteEndpointId: null,
  compare: null,
  preferences: [],
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  messageCount: 3,
  preview: '',
  systemPrompt: '你是仲景。</details><script>alert(2)</script>',
  adapterIds: [],
  sampling: DEFAULT_SAMPLING,
  messages: [message('u1', null, 'user', '我头痛'), message('a1', 'u1', 'assistant', HOSTILE), message('u2', 'a1', 'user', '谢谢医生')],
  currentLeafId: 'u2',
};

test('the Markdown export renders a hostile reply as inert text, keeping its Markdown', () => {
  const file = consultationToMarkdown(consultation, {model: null, adapters: []}, 'zh-CN');
  const html = marked.parse(file, {async: false, gfm: true});
  // (text such as "&lt;img onerror=…&gt;" is fine: it is shown, not run)
  assert.doesNotMatch(html, /<(?:script|img|b|details open)[\s>]|<[^>]*\son\w+=|href="(?!https:)/i, `no live HTML or script link in:\n${html}`);
  assert.equal(html.match(/<details>/g)?.length, 1, "only the export's own <details>");
  assert.match(html, /<strong>加粗<\/strong>/, 'bold is bold');
  assert.match(html, /<ul>\n<li>第一项<\/li>\n<li>第二项 /, 'the list is a list');
  assert.match(html, /<table>/, 'the table is a table');
  assert.match(html, /<a href="https:\/\/example\.org\/a">官网<\/a>/, 'a web link stays a link');
  assert.doesNotMatch(html, /pixel\.png"/, 'no image is fetched');
  assert.match(html, /追踪/, 'the image leaves its alt text');
  // the reply's headings sit below the turns': exactly the three turns are level-3 headings
  assert.deepEqual([...html.matchAll(/<h3>(.*?)<\/h3>/g)].map((m) => m[1]), ['患者', '仲景', '患者']);
  assert.match(html, /<h4>诊断<\/h4>/);
  // the unclosed code fence is closed: the next turn is a heading again, not code
  assert.match(html, /<h3>患者<\/h3>\s*<p>谢谢医生<\/p>/);
  assert.match(html, /&lt;script&gt;kept as code&lt;\/script&gt;/, 'code is shown as written');
  assert.match(html, /<code>&lt;code&gt;<\/code>/);
  assert.match(html, /<h1>&lt;img src=x onerror=alert\(1\)&gt; 头痛 \*\*复诊\*\*<\/h1>/, 'the title reads as itself');
  assert.match(html, /你是仲景。&lt;\/details&gt;&lt;script&gt;/, 'the system prompt cannot close its <details>');
});

test('safe Markdown leaves ordinary replies as they were', () => {
  const reply = '建议：\n\n1. 多喝水\n2. 休息，体温 < 38.5℃ 时无需退烧药\n\n**注意**：如有胸痛请及时就医。';
  assert.equal(safeMarkdown(reply), reply.replace('<', '\\<'));
  assert.equal(safeMarkdown('```\na < b\n```'), '```\na < b\n```', 'code untouched');
});
