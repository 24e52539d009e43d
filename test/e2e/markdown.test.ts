// Replies are Markdown, and a reply is whatever a model (or an imported file) says: in the
// consultation and on the ranking cards, bold and lists must render as elements while script
// tags, event-handler attributes, javascript: links and remote images stay inert, and a huge
// table must not widen the page. The hostile texts are written into the store (a consultation)
// and imported through the CLI (a preference pair), then read in Chromium under the app's CSP.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Page} from 'playwright-core';
import {DEFAULT_SAMPLING} from '../../main/common/contract.js';
import {Store} from '../../main/node/store/index.js';
import {openApp, type OpenApp} from '../helpers/app.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS; // a folder, to look at the UI by eye

const TABLE = [
  `| ${Array.from({length: 12}, (_, i) => `检查项目${i + 1}`).join(' | ')} |`,
  `|${' --- |'.repeat(12)}`,
  ...Array.from({length: 300}, (_, r) => `| ${Array.from({length: 12}, (_, c) => `结果${r}-${c}（参考范围很长很长的一段文字）`).join(' | ')} |`),
].join('\n');

const HOSTILE = [
  '**建议**如下：',
  '',
  '- 多喝水',
  '- 注意休息',
  '',
  '<script>window.__pwned = "script"</script>',
  '',
  '<img src="x" onerror="window.__pwned = \'img\'">',
  '',
  '<a href="javascript:window.__pwned=\'html-link\'">原始链接</a> [点我](javascript:window.__pwned=\'md-link\') [指南](https://example.org/guide) ![图片说明](https://example.org/pixel.png)',
  '',
  '<iframe src="https://example.org"></iframe><style>body{display:none}</style>',
  '',
  TABLE,
].join('\n');

async function checkInert(page: Page, scope: string): Promise<void> {
  const facts = await page.evaluate((selector) => {
    const root = document.querySelector(selector)!;
    return {
      pwned: (window as unknown as {__pwned?: string}).__pwned ?? null,
      dangerous: root.querySelectorAll('script, img, iframe, style, object, embed, input, [onerror], [onclick]').length,
      hrefs: [...root.querySelectorAll('a')].map((a) => a.getAttribute('href')),
      rels: [...root.querySelectorAll('a')].map((a) => `${a.getAttribute('target')} ${a.getAttribute('rel')}`),
      strong: [...root.querySelectorAll('strong')].map((s) => s.textContent),
      items: [...root.querySelectorAll('li')].map((li) => li.textContent),
      cells: root.querySelectorAll('td').length,
      text: root.textContent ?? '',
      pageOverflow: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      mainOverflow: (() => {
        const main = document.querySelector('main')!;
        return main.scrollWidth - main.clientWidth;
      })(),
    };
  }, scope);
  assert.equal(facts.pwned, null, 'nothing in the reply ran');
  assert.equal(facts.dangerous, 0, 'no script, image, frame, style or handler element');
  assert.deepEqual(facts.hrefs, ['https://example.org/guide'], 'only the web link is a link');
  assert.deepEqual(facts.rels, ['_blank noopener noreferrer'], 'and it opens outside the app, without an opener');
  assert.deepEqual(facts.strong, ['建议'], '**bold** is an element');
  assert.deepEqual(facts.items, ['多喝水', '注意休息'], 'the list is a list');
  assert.equal(facts.cells, 300 * 12, 'the huge table is a table');
  assert.match(facts.text, /<script>window.__pwned = "script"<\/script>/, 'raw HTML is shown as text');
  assert.match(facts.text, /点我/, "a javascript: link keeps only its text");
  assert.match(facts.text, /图片说明/, 'an image keeps only its alt text');
  assert.ok(facts.pageOverflow <= 0 && facts.mainOverflow <= 0, `the table scrolls inside, the page does not widen (${facts.pageOverflow}, ${facts.mainOverflow})`);
}

async function open(t: test.TestContext, dir: string): Promise<OpenApp> {
  // a CSP refusal or a failed image load shows as a console error: nothing may even be attempted
  const app = await openApp(t, dir, {consoleErrors: true});
  app.page.on('request', (request) => {
    if (!request.url().startsWith(app.serve.base)) app.errors.push(`request left the app: ${request.url()}`);
  });
  return app;
}

test('a hostile Markdown reply renders its Markdown and nothing else, in the consultation', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const store = Store.open(join(dir.path, 'zhongjing.sqlite'));
  const id = store.consultations.create({title: '恶意回复', modelId: null, systemPrompt: '你是仲景。', sampling: DEFAULT_SAMPLING});
  const question = store.consultations.addMessage(id, {parentId: null, role: 'user', content: '**不是加粗**，我头痛', status: 'complete'});
  store.consultations.addMessage(id, {parentId: question.id, role: 'assistant', content: HOSTILE, status: 'complete'});
  store.close();

  const {serve, page, errors} = await open(t, dir.path);
  await page.goto(serve.url);
  await page.getByRole('button', {name: '恶意回复', exact: true}).click();
  const reply = page.getByRole('article', {name: '仲景的回复'});
  await reply.locator('strong').waitFor();
  await reply.evaluate((element) => element.setAttribute('data-hostile', ''));
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'md-consultation.png')});
  await checkInert(page, 'article[data-hostile] .content');
  // the patient's question is shown as typed, not as Markdown
  assert.equal(await page.getByRole('article', {name: '用户消息'}).locator('strong').count(), 0);
  assert.match(await page.getByRole('article', {name: '用户消息'}).innerText(), /\*\*不是加粗\*\*/);
  // clicking the javascript: link's text does nothing
  await reply.getByText('点我').click();
  assert.equal(await page.evaluate(() => (window as unknown as {__pwned?: string}).__pwned ?? null), null);
  assert.deepEqual(errors, [], 'no errors, refusals or requests outside the app');
});

test('a hostile Markdown answer renders inert on the ranking card', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'pairs.jsonl');
  writeFileSync(file, `${JSON.stringify({question: '头痛怎么办？', response_chosen: HOSTILE, response_rejected: '多喝热水。'})}\n`);
  assert.equal(runCli(['annotate', 'import', file, '--data-dir', dir.path]).status, 0, 'the pair is imported');

  const {serve, page, errors} = await open(t, dir.path);
  await serve.call('annotators.create', {name: '李医生', role: 'annotator'});
  const [project] = await serve.call('annotation.projects', {});
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  const who = page.getByLabel('当前标注员');
  await who.selectOption((await who.locator('option', {hasText: '李医生'}).getAttribute('value'))!);
  await page.evaluate((id) => (window.location.hash = `#/annotation/project/${id}/rank`), project!.id);
  const card = page.locator('section.candidate').filter({has: page.locator('strong')});
  await card.waitFor();
  await card.evaluate((element) => element.setAttribute('data-hostile', ''));
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'md-ranking.png')});
  await checkInert(page, 'section.candidate[data-hostile] .text');
  // the ranking's one-line excerpt reads the answer as shown, without the Markdown marks
  const excerpts = await page.locator('.ranking .excerpt').allInnerTexts();
  assert.ok(excerpts.some((e) => e.startsWith('建议如下： 多喝水 注意休息')), `excerpts: ${JSON.stringify(excerpts.map((e) => e.slice(0, 30)))}`);
  assert.deepEqual(errors, [], 'no errors, refusals or requests outside the app');
});
