// End to end, as a clinician would: the built `zhongjing serve` hosting the real services and
// the tiny model, driven in Debian's Chromium through Playwright.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Page} from 'playwright-core';
import {newConsultation, setUp} from '../helpers/consultation-page.js';
import {waitFor} from '../helpers/wait.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS; // a folder, to look at the UI by eye

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, `${name}.png`), fullPage: true});
}

test('a consultation in Chinese: streamed, saved across reload, exported', async (t) => {
  const {serve, page, hold} = await setUp(t);
  await page.goto(serve.url);
  // the token leaves the address bar once it is stored
  await page.waitForFunction('!location.search.includes("token")');
  await page.getByRole('status').filter({hasText: '推理引擎'}).waitFor();
  await assert.doesNotReject(page.getByText(/不能替代医生/).first().waitFor());

  const composer = await newConsultation(page, 400);
  const input = composer.getByLabel('输入消息');
  const send = composer.getByRole('button', {name: '发送', exact: true});

  // an empty message cannot be sent
  await input.fill('   ');
  assert.equal(await send.isDisabled(), true);

  const question = '医生您好，我头痛三天了，还有点发热，体温38度。';
  await input.fill(question);
  // streaming: the reply is held part-way, so its first text and the stop button are certainly on
  // screen before it ends; released, it finishes and the stop button goes away
  hold.hold();
  await send.click();
  const reply = page.getByRole('article', {name: '仲景的回复'}).first();
  const stop = composer.getByRole('button', {name: '停止'});
  await stop.waitFor({timeout: 30_000});
  await reply.locator('.content').filter({hasText: /\S/}).waitFor({timeout: 30_000});
  assert.equal(await reply.getAttribute('aria-busy'), 'true', 'the reply is still streaming');
  hold.release();
  await stop.waitFor({state: 'detached', timeout: 60_000});
  assert.equal(await reply.getAttribute('aria-busy'), 'false', 'the reply has finished');
  await shot(page, '1-replied');
  const replyText = (await reply.innerText()).trim();
  assert.ok(replyText.length > 0, 'the reply has text');
  assert.equal(await page.getByRole('article', {name: '用户消息'}).first().innerText().then((s) => s.includes(question)), true);
  assert.equal(await input.inputValue(), '', 'the composer is cleared after a successful send');

  // reload: the consultation and both messages are still there, and so is a half-typed message
  const halfTyped = '草稿：患者女，32岁，孕12周，咳嗽';
  await input.fill(halfTyped);
  await page.reload();
  await page.getByRole('article', {name: '用户消息'}).first().waitFor();
  assert.equal(await input.inputValue(), halfTyped, 'the unsent draft survives a reload');
  await input.fill('');
  assert.match(await page.getByRole('article', {name: '用户消息'}).first().innerText(), /头痛三天了/);
  const stored = await page.getByRole('article', {name: '仲景的回复'}).last().innerText();
  assert.ok(stored.trim().length > 0);

  // export Markdown and JSON through the browser's download
  const [markdown] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', {name: '导出 Markdown'}).click()]);
  const markdownText = readFileSync((await markdown.path())!, 'utf8');
  assert.match(markdown.suggestedFilename(), /\.md$/);
  assert.match(markdownText, /### 患者\n\n医生您好，我头痛三天了/);
  assert.match(markdownText, /### 仲景/);
  const [json] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', {name: '导出 JSON'}).click()]);
  const exported = JSON.parse(readFileSync((await json.path())!, 'utf8'));
  assert.equal(exported.format, 'zhongjing.consultation');
  assert.deepEqual(exported.thread.map((m: {role: string}) => m.role), ['user', 'assistant']);
  assert.equal(exported.thread[0].content, question);
});

test('regenerate and edit make branches that can be switched; stop keeps the partial reply', async (t) => {
  const {serve, page, hold} = await setUp(t);
  await page.goto(serve.url);
  const composer = await newConsultation(page, 16);
  await composer.getByLabel('输入消息').fill('我咳嗽一周了');
  await composer.getByLabel('输入消息').press('Enter');
  await page.getByRole('button', {name: '重新生成'}).last().waitFor();
  await page.getByRole('button', {name: '重新生成'}).last().click();
  const branches = page.getByRole('group', {name: /分支 2 \/ 2/});
  await branches.waitFor();
  await branches.getByRole('button', {name: '上一个分支'}).click();
  await page.getByRole('group', {name: /分支 1 \/ 2/}).waitFor();

  // edit the question: a sibling question with its own reply
  await page.getByRole('article', {name: '用户消息'}).first().getByRole('button', {name: '编辑'}).click();
  const editor = page.getByRole('form', {name: '编辑消息'});
  await editor.getByLabel('修改后的消息').fill('我咳嗽两周了，有黄痰');
  await editor.getByRole('button', {name: '发送'}).click();
  await page.getByRole('article', {name: '用户消息'}).filter({hasText: '有黄痰'}).waitFor();
  await page.getByRole('article', {name: '用户消息'}).getByRole('group', {name: /分支 2 \/ 2/}).waitFor();
  await shot(page, '2-branches');

  // a reply stopped part-way: held once it has text, so it cannot end before 停止 is clicked
  await page.locator('article[aria-busy="true"]').waitFor({state: 'detached'}); // the edit's reply has ended
  hold.hold();
  const replies = page.getByRole('article', {name: '仲景的回复'});
  const reply = replies.nth(await replies.count()); // the new one, not the last one on screen now
  await composer.getByLabel('输入消息').fill('请详细说明');
  await composer.getByRole('button', {name: '发送', exact: true}).click();
  await reply.locator('.content').filter({hasText: /\S/}).waitFor();
  await composer.getByRole('button', {name: '停止'}).click();
  await composer.getByRole('button', {name: '停止'}).waitFor({state: 'detached'});
  await reply.getByText(/已停止/).waitFor();
  assert.equal(await reply.getAttribute('data-status'), 'stopped');
  assert.ok((await reply.locator('.content').innerText()).trim().length > 0, 'the partial reply is kept');
  hold.release();
});

test('consultation list: rename, search, delete with undo; language switch; models screen errors', async (t) => {
  const {serve, page, dir} = await setUp(t);
  await page.goto(serve.url);
  await page.getByRole('button', {name: '新建问诊'}).click();
  const list = page.getByRole('complementary', {name: '问诊记录'});
  await list.getByRole('button', {name: /^重命名：/}).first().click();
  await list.getByLabel('问诊标题').fill('王女士 胃痛复诊');
  await list.getByLabel('问诊标题').press('Enter');
  await list.getByRole('button', {name: '王女士 胃痛复诊', exact: true}).waitFor();

  await page.getByRole('button', {name: '新建问诊'}).click();
  const deleteButtons = list.getByRole('button', {name: /^删除：/});
  await deleteButtons.nth(1).waitFor(); // both consultations are listed
  await list.getByRole('searchbox', {name: '搜索问诊'}).fill('胃痛');
  // the search is debounced: wait for the list to narrow instead of guessing how long it takes
  await deleteButtons.nth(1).waitFor({state: 'detached'});
  assert.equal(await deleteButtons.count(), 1, 'only the matching consultation is listed');

  await list.getByRole('button', {name: '删除：王女士 胃痛复诊'}).click();
  await page.getByRole('button', {name: '撤销'}).click();
  await list.getByRole('button', {name: '王女士 胃痛复诊', exact: true}).waitFor();

  // 新建问诊 again and again leaves one empty consultation, not a pile: each unused one it made is
  // replaced (the one made above too); one with half-typed text is in use and stays
  // the service replaces in the same call that makes the new one: listed means replaced
  const newest = (than: string[]): Promise<string> =>
    waitFor(async () => {
      const [top] = await serve.call('consultations.list', {});
      return top && !than.includes(top.id) ? top.id : null;
    }, 30_000, 'the new consultation listed');
  const opened: string[] = [(await serve.call('consultations.list', {}))[0]!.id];
  for (let i = 0; i < 3; i++) {
    await page.getByRole('button', {name: '新建问诊'}).click();
    opened.push(await newest(opened));
  }
  let listed = await serve.call('consultations.list', {});
  assert.deepEqual(listed.map((c) => c.id), [opened[3]!, ...listed.filter((c) => c.title === '王女士 胃痛复诊').map((c) => c.id)], 'one empty consultation left, the one on screen');
  const input = page.getByRole('form', {name: '消息输入'}).getByLabel('输入消息');
  await input.fill('我头痛三天了');
  await page.getByRole('button', {name: '新建问诊'}).click();
  opened.push(await newest(opened));
  listed = await serve.call('consultations.list', {});
  assert.equal(listed.length, 3, 'the consultation with a half-typed message stays');
  assert.ok(listed.some((c) => c.id === opened[3]));

  // a file that is not a GGUF: a clear message, and nothing registered
  const junk = join(dir, 'notes.gguf');
  writeFileSync(junk, '这不是模型');
  await page.getByRole('link', {name: '模型'}).click();
  await page.getByLabel('模型文件路径').fill(junk);
  await page.getByRole('button', {name: '添加模型'}).click();
  await page.getByText(/GGUF/).first().waitFor();
  await shot(page, '3-models-error');

  // English, kept across a reload; the button's name starts with what it shows (label in name)
  await page.getByRole('button', {name: 'EN — 切换语言 / Switch language', exact: true}).click();
  await page.getByRole('button', {name: '中文 — 切换语言 / Switch language', exact: true}).waitFor();
  await page.getByRole('link', {name: 'Models'}).waitFor();
  await page.reload();
  await page.getByRole('link', {name: 'Models'}).waitFor();
});

test('settings drawer: an edit is never lost silently, the save bar stays in view, and saved defaults start new consultations', async (t) => {
  const {serve, page} = await setUp(t, {viewport: {width: 1440, height: 900}});
  await page.goto(serve.url);
  await page.getByRole('button', {name: '新建问诊'}).click();
  const openDrawer = page.getByRole('button', {name: /^对话设置/});
  const drawer = page.getByRole('complementary', {name: '对话设置'});
  const maxTokens = drawer.getByLabel('最大生成长度 (max tokens)');
  const ask = drawer.getByRole('group', {name: /未保存的修改/});
  await openDrawer.click();
  assert.equal(await maxTokens.inputValue(), '1024', 'the app default to start with');

  // the save button is on screen at 1440×900 and nothing covers it
  const save = drawer.getByRole('button', {name: '保存设置'});
  const inView = async (locator: typeof save) =>
    locator.evaluate((element) => {
      const box = element.getBoundingClientRect();
      const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
      return box.bottom <= window.innerHeight && box.top >= 0 && (hit === element || element.contains(hit));
    });
  assert.equal(await inView(save), true, '保存设置 is visible without scrolling');

  // change → Esc: asked, not dropped; Esc again goes back to editing with the edit intact
  await maxTokens.fill('777');
  await maxTokens.press('Escape');
  await ask.waitFor();
  await shot(page, '4-settings-ask');
  assert.equal(await inView(ask.getByRole('button', {name: '保存并关闭'})), true, 'the question is in view');
  await page.keyboard.press('Escape');
  await ask.waitFor({state: 'detached'});
  assert.equal(await maxTokens.inputValue(), '777', 'the edit is still there');

  // ✕ → discard, explicitly: reopened, the consultation's own value is back
  await drawer.getByRole('button', {name: '关闭对话设置'}).click();
  await ask.getByRole('button', {name: '放弃修改'}).click();
  await drawer.waitFor({state: 'detached'});
  await openDrawer.click();
  assert.equal(await maxTokens.inputValue(), '1024');

  // change → Esc → save and close: reopened, the edit was kept
  await maxTokens.fill('777');
  await maxTokens.press('Escape');
  await ask.getByRole('button', {name: '保存并关闭'}).click();
  await drawer.waitFor({state: 'detached'});
  await openDrawer.click();
  assert.equal(await maxTokens.inputValue(), '777', 'saved on close');

  // asked, 继续编辑 keeps the drawer and the edit
  await maxTokens.fill('778');
  await drawer.getByRole('button', {name: '关闭对话设置'}).click();
  await ask.getByRole('button', {name: '继续编辑'}).click();
  assert.equal(await maxTokens.inputValue(), '778');

  // save as the default for new consultations
  await maxTokens.fill('2048');
  await drawer.getByRole('button', {name: '设为新问诊默认'}).click();
  await drawer.getByRole('status').filter({hasText: '已保存，并设为新问诊的默认设置'}).waitFor();
  await drawer.getByText(/新建问诊将使用您保存的默认设置（最大生成长度 2048）/).waitFor();

  // an unsaved edit left behind by opening another consultation is kept for this one
  await drawer.getByLabel('温度 (temperature)').fill('0.3');
  await page.getByRole('button', {name: '新建问诊'}).click();
  await openDrawer.click();
  assert.equal(await maxTokens.inputValue(), '2048', 'a new consultation starts with the saved default');
  assert.equal(await drawer.getByLabel('温度 (temperature)').inputValue(), '0.7');
  await drawer.getByRole('button', {name: '关闭对话设置'}).click();
  await drawer.waitFor({state: 'detached'});
  const list = page.getByRole('complementary', {name: '问诊记录'});
  await list.getByRole('button', {name: '新问诊', exact: true}).last().click();
  await page.getByRole('button', {name: '对话设置（有未保存的修改）'}).click();
  assert.equal(await drawer.getByLabel('温度 (temperature)').inputValue(), '0.3', 'the unsaved edit came back');
  await drawer.getByRole('status').filter({hasText: '有未保存的修改'}).waitFor();

  // the default is stored with the settings: after a reload, still the start of a new consultation
  await page.reload();
  await page.getByRole('button', {name: '新建问诊'}).click();
  await openDrawer.click();
  assert.equal(await maxTokens.inputValue(), '2048');
  // and back to the app's own
  await drawer.getByRole('button', {name: '恢复内置默认'}).click();
  await drawer.getByText(/新建问诊将使用应用内置的默认设置（最大生成长度 1024）/).waitFor();
});

test('a wrong token shows a clear page and reaches no data', async (t) => {
  const {serve, page} = await setUp(t, {expectUnauthorized: true});
  await page.goto(`${serve.base}/?token=wrong`);
  await page.getByRole('heading', {name: /令牌无效或缺失/}).waitFor();
  assert.equal(await page.getByRole('button', {name: '新建问诊'}).count(), 0);
});
