// End to end, as a clinician would: the built `zhongjing serve` hosting the real services and
// the tiny model, driven in Debian's Chromium through Playwright.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {createServer, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {join} from 'node:path';
import type {Browser, Locator, Page} from 'playwright-core';
import {openApp} from '../helpers/app.js';
import type {ServeProcess} from '../helpers/cli.js';
import {replyHold, type ReplyHold} from '../helpers/hold.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS; // a folder, to look at the UI by eye

async function shot(page: Page, name: string): Promise<void> {
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, `${name}.png`), fullPage: true});
}

async function setUp(
  t: test.TestContext,
  options: {expectUnauthorized?: boolean; viewport?: {width: number; height: number}} = {},
): Promise<{serve: ServeProcess; browser: Browser; page: Page; dir: string; hold: ReplyHold}> {
  const dir = tempDir();
  const hold = replyHold(dir.path);
  const {serve, browser, page, errors} = await openApp(t, dir.path, {
    serveArgs: ['--model', await tinyModelPath()],
    env: hold.env,
    ...(options.viewport ? {viewport: options.viewport} : {}),
    acceptDownloads: true,
    consoleErrors: true,
  });
  t.after(() => dir.cleanup());
  const expected = (e: string) => options.expectUnauthorized === true && /status of 401|HTTP Authentication failed/.test(e);
  t.after(() => assert.deepEqual(errors.filter((e) => !expected(e)), [], 'no errors in the page console'));
  return {serve, browser, page, dir: dir.path, hold};
}

/** 新建问诊 with short, greedy replies; its message form. */
async function newConsultation(page: Page, maxTokens: number): Promise<Locator> {
  await page.getByRole('button', {name: '新建问诊'}).click();
  await lowerMaxTokens(page, maxTokens);
  return page.getByRole('form', {name: '消息输入'});
}

async function lowerMaxTokens(page: Page, maxTokens: number): Promise<void> {
  await page.getByRole('button', {name: '对话设置'}).click();
  await page.getByLabel('最大生成长度 (max tokens)').fill(String(maxTokens));
  await page.getByLabel('温度 (temperature)').fill('0');
  await page.getByRole('button', {name: '保存设置'}).click();
  await page.getByText('已保存').waitFor();
  await page.getByRole('button', {name: '关闭对话设置'}).click();
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
  const newest = async (than: string[]): Promise<string> => {
    for (;;) {
      // the service replaces in the same call that makes the new one: listed means replaced
      const [top] = await serve.call('consultations.list', {});
      if (top && !than.includes(top.id)) return top.id;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
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

/** Waits until keyboard focus is on `locator`'s element; fails naming where focus is instead. */
async function focusedOn(locator: Locator, what: string): Promise<void> {
  const element = await locator.elementHandle();
  try {
    await locator.page().waitForFunction((target) => document.activeElement === target, element, {timeout: 5000});
  } catch {
    const actual = await locator.page().evaluate(() => {
      const active = document.activeElement;
      return active ? `<${active.tagName.toLowerCase()}> ${active.getAttribute('aria-label') ?? active.textContent?.trim().slice(0, 40) ?? ''}` : 'nothing';
    });
    assert.fail(`keyboard focus should be on ${what}, but it is on ${actual}`);
  }
}

test('keyboard: focus goes on to where the work continues after 新建问诊, the drawer, a rename and a delete; titles are bidi isolates', async (t) => {
  const {serve, page} = await setUp(t);
  await page.goto(serve.url);
  const newButton = page.getByRole('button', {name: '新建问诊'});
  await newButton.waitFor();

  // Tab to 新建问诊, Enter, type, Enter: the question is sent
  for (let i = 0; i < 40 && !(await newButton.evaluate((el) => el === document.activeElement)); i++) await page.keyboard.press('Tab');
  await focusedOn(newButton, '新建问诊 (reached with Tab)');
  await page.keyboard.press('Enter');
  const composer = page.getByRole('form', {name: '消息输入'});
  const input = composer.getByLabel('输入消息');
  await focusedOn(input, 'the message box of the new consultation');
  await page.keyboard.type('我咳嗽一周了');
  await page.keyboard.press('Enter');
  await page.getByRole('article', {name: '用户消息'}).filter({hasText: '我咳嗽一周了'}).waitFor();

  // the settings drawer closed with Esc gives focus back to the button that opened it
  const openDrawer = page.getByRole('button', {name: /^对话设置/});
  await openDrawer.focus();
  await page.keyboard.press('Enter');
  const drawer = page.getByRole('complementary', {name: '对话设置'});
  await focusedOn(drawer.getByLabel('系统提示词'), 'the system prompt in the drawer');
  await page.keyboard.press('Escape');
  await drawer.waitFor({state: 'detached'});
  await focusedOn(openDrawer, '对话设置');

  // rename: Enter and Esc in the box give focus back to the consultation's 重命名 button; a
  // title with a right-to-left override (U+202E) is isolated where it is shown
  const list = page.getByRole('complementary', {name: '问诊记录'});
  const title = '王女士 \u202e复诊 abc';
  await list.getByRole('button', {name: /^重命名：/}).first().focus();
  await page.keyboard.press('Enter');
  await focusedOn(list.getByLabel('问诊标题'), 'the title box');
  await page.keyboard.type(title); // the old title is selected: typing replaces it
  await page.keyboard.press('Enter');
  const renameButton = list.getByRole('button', {name: `重命名：${title}`, exact: true});
  await focusedOn(renameButton, 'the 重命名 button after Enter');
  await page.keyboard.press('Enter');
  await page.keyboard.type('不要这个');
  await page.keyboard.press('Escape');
  await focusedOn(renameButton, 'the 重命名 button after Esc');
  assert.equal(await list.locator('bdi.title').filter({hasText: 'abc'}).textContent(), title, 'the list shows the title in a <bdi>');
  assert.equal(await page.locator('h1 > bdi').textContent(), title, 'the header shows the title in a <bdi>');

  // delete: focus goes to the consultation now in its place, then (none left) to 新建问诊
  await newButton.click();
  await focusedOn(input, 'the message box after a click on 新建问诊');
  const deleteButtons = list.getByRole('button', {name: /^删除：/});
  await deleteButtons.nth(1).waitFor();
  await deleteButtons.first().focus(); // the new one, listed first
  await page.keyboard.press('Enter');
  await deleteButtons.nth(1).waitFor({state: 'detached'});
  await focusedOn(list.getByRole('button', {name: title, exact: true}), 'the remaining consultation');
  await list.getByRole('button', {name: `删除：${title}`}).focus();
  await page.keyboard.press('Enter');
  await deleteButtons.first().waitFor({state: 'detached'});
  await focusedOn(newButton, '新建问诊 (no consultation left)');
});

test('settings drawer: Esc right after 保存设置 waits for the save instead of asking to save it', async (t) => {
  const {serve, page} = await setUp(t);
  await page.goto(serve.url);
  await page.getByRole('button', {name: '新建问诊'}).click();
  const openDrawer = page.getByRole('button', {name: /^对话设置/});
  const drawer = page.getByRole('complementary', {name: '对话设置'});
  const temperature = drawer.getByLabel('温度 (temperature)');
  const ask = drawer.getByRole('group', {name: /未保存的修改/});

  // the save's request is held until Esc has been pressed: the race the user hit, every time
  const holdSave = async (answer?: object) => {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    let seen!: () => void;
    const requested = new Promise<void>((resolve) => (seen = resolve));
    await page.route('**/api/consultations.update', async (route) => {
      seen();
      await released;
      if (answer) await route.fulfill({status: 200, contentType: 'application/json', body: JSON.stringify(answer)});
      else await route.continue();
    });
    return {requested, release};
  };

  for (const value of ['0.3', '0.45']) {
    await openDrawer.click();
    await temperature.fill(value);
    const save = await holdSave();
    await drawer.getByRole('button', {name: '保存设置'}).click();
    await save.requested;
    await page.keyboard.press('Escape');
    assert.equal(await ask.count(), 0, 'not asked to save what is being saved');
    await drawer.getByRole('status').filter({hasText: '正在保存'}).waitFor();
    save.release();
    await drawer.waitFor({state: 'detached'});
    await page.unroute('**/api/consultations.update');
    await focusedOn(openDrawer, '对话设置 after the drawer closed');
    const [top] = await serve.call('consultations.list', {});
    const stored = await serve.call('consultations.get', {id: top!.id});
    assert.equal(stored.sampling.temperature, Number(value), 'the save went through');
  }

  // a save that fails: its error shows, and the question is asked (the edit is not saved)
  await openDrawer.click();
  await temperature.fill('0.9');
  const failing = await holdSave({ok: false, error: {code: 'internal', message: {zh: '测试：保存失败', en: 'test: save failed'}}});
  await drawer.getByRole('button', {name: '保存设置'}).click();
  await failing.requested;
  await page.keyboard.press('Escape');
  failing.release();
  await ask.waitFor();
  await drawer.getByRole('alert').filter({hasText: '测试：保存失败'}).waitFor();
  await page.unroute('**/api/consultations.update');
  await ask.getByRole('button', {name: '放弃修改'}).click();
  await drawer.waitFor({state: 'detached'});
});

test('double-clicking 重新生成 makes one branch and no "busy" error; message buttons are named with their message', async (t) => {
  const {serve, page, hold} = await setUp(t);
  await page.goto(serve.url);
  const composer = await newConsultation(page, 16);
  await composer.getByLabel('输入消息').fill('我咳嗽一周了');
  await composer.getByLabel('输入消息').press('Enter');
  const regenerate = page.getByRole('button', {name: '重新生成：第 2 条消息', exact: true});
  await regenerate.waitFor();
  await page.locator('article[aria-busy="true"]').waitFor({state: 'detached'});
  // each button's name says which message it acts on, starting with the visible word
  await page.getByRole('button', {name: '编辑：第 1 条消息', exact: true}).waitFor();
  await page.getByRole('button', {name: '复制：第 2 条消息', exact: true}).waitFor();
  assert.equal(await regenerate.innerText(), '重新生成');

  let regenerateCalls = 0;
  page.on('request', (request) => {
    if (request.url().endsWith('/api/chat.regenerate')) regenerateCalls += 1;
  });
  // held: the new reply is certainly still streaming when the second click comes and is checked
  hold.hold();
  await regenerate.dblclick();
  await page.getByRole('group', {name: /分支 2 \/ 2/}).waitFor();
  await page.locator('article[aria-busy="true"] .content').filter({hasText: /\S/}).waitFor();
  assert.equal(regenerateCalls, 1, 'the second click of the double click sent nothing');
  hold.release();
  await page.locator('article[aria-busy="true"]').waitFor({state: 'detached'});
  assert.equal(await page.getByText('此问诊正在生成回答').count(), 0, 'no "busy" error');
  const [top] = await serve.call('consultations.list', {});
  const stored = await serve.call('consultations.get', {id: top!.id});
  assert.equal(stored.messages.filter((m) => m.role === 'assistant').length, 2, 'one reply and one regenerated, not two');
});

/** An OpenAI-compatible endpoint whose streamed reply the test writes piece by piece. */
async function scriptedEndpoint(t: test.TestContext): Promise<{baseUrl: string; reply: Promise<{say(text: string): void; end(): void}>}> {
  let opened!: (stream: {say(text: string): void; end(): void}) => void;
  const reply = new Promise<{say(text: string): void; end(): void}>((resolve) => (opened = resolve));
  const chunk = (delta: object, finish: string | null) => `data: ${JSON.stringify({choices: [{index: 0, delta, finish_reason: finish}]})}\n\n`;
  const server = createServer((request, response: ServerResponse) => {
    request.resume();
    response.writeHead(200, {'content-type': 'text/event-stream', 'cache-control': 'no-cache'});
    opened({
      say: (text) => response.write(chunk({content: text}, null)),
      end: () => response.end(chunk({}, 'stop') + 'data: [DONE]\n\n'),
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.closeAllConnections());
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, reply};
}

/** Records every text the page shows for the last reply from now on (what a person saw). */
async function recordReply(page: Page): Promise<() => Promise<string[]>> {
  // as source text: the test runner's transform would name the inner functions with a helper
  // that does not exist in the page
  await page.evaluate(`(() => {
    const seen = [];
    window.replyTexts = seen;
    const read = () => {
      const text = [...document.querySelectorAll('article[aria-label="仲景的回复"]')].at(-1)?.querySelector('.content')?.textContent ?? '';
      if (seen.at(-1) !== text) seen.push(text);
    };
    read();
    new MutationObserver(read).observe(document.body, {subtree: true, childList: true, characterData: true});
  })()`);
  return () => page.evaluate<string[]>('window.replyTexts');
}

/** Each text shown is the beginning of the final reply, and none is shorter than the one before. */
function assertGrowingPrefixes(shown: string[], final: string, what: string): void {
  for (const [i, text] of shown.entries()) {
    assert.ok(final.startsWith(text), `${what}: shown text ${i} is not the beginning of the reply:\n  shown: ${JSON.stringify(text)}\n  final: ${JSON.stringify(final)}`);
    if (i > 0) assert.ok(text.length >= shown[i - 1]!.length, `${what}: the shown text went backwards at ${i}`);
  }
}

test('a reply streaming through a reload: what was saved shows at once, and the text only grows to the whole reply', async (t) => {
  const {serve, page, hold} = await setUp(t);
  await page.goto(serve.url);
  const composer = await newConsultation(page, 400);
  const reply = page.getByRole('article', {name: '仲景的回复'}).last();
  const stop = composer.getByRole('button', {name: '停止'});

  // 1. the tiny model, held just after its first text; reloaded while held
  hold.hold();
  await composer.getByLabel('输入消息').fill('医生您好，我头痛三天了。');
  await composer.getByRole('button', {name: '发送', exact: true}).click();
  await reply.locator('.content').filter({hasText: /\S/}).waitFor({timeout: 30_000});
  await page.reload();
  await stop.waitFor();
  assert.equal(await reply.getAttribute('aria-busy'), 'true', 'still streaming after the reload');
  let shown = await recordReply(page);
  hold.release();
  await stop.waitFor({state: 'detached', timeout: 60_000});
  let [top] = await serve.call('consultations.list', {});
  const held = (await serve.call('consultations.get', {id: top!.id})).messages.find((m) => m.role === 'assistant')!;
  assert.equal(held.status, 'complete');
  // Markdown shows a reply's Han characters in order (it may drop or add markup around them)
  const han = (text: string) => [...text].filter((c) => /\p{Script=Han}/u.test(c)).join('');
  const heldShown = (await shown()).map(han);
  assertGrowingPrefixes(heldShown, han(held.content), 'held reply');
  assert.equal(heldShown.at(-1), han(held.content), 'the whole reply in the end');

  // 2. a scripted endpoint, so that a partial save certainly exists before the reload
  const endpoint = await scriptedEndpoint(t);
  const remote = await serve.call('remotes.add', {name: '脚本', baseUrl: endpoint.baseUrl, model: 'scripted'});
  const first = top!.id;
  await page.getByRole('button', {name: '新建问诊'}).click();
  while (top!.id === first) {
    await new Promise((resolve) => setTimeout(resolve, 50)); // made once it is listed first
    [top] = await serve.call('consultations.list', {});
  }
  await serve.call('consultations.update', {id: top!.id, remoteEndpointId: remote.id});
  await composer.getByLabel('输入消息').fill('请问要注意什么？');
  await composer.getByRole('button', {name: '发送', exact: true}).click();
  const stream = await endpoint.reply;
  const pieces = '一二三四五六七八九十甲乙丙丁戊己庚辛壬癸'.split('');
  let said = '';
  const say = (text: string) => {
    stream.say(text);
    said += text;
  };
  say('首先，');
  await reply.locator('.content').filter({hasText: '首先，'}).waitFor();
  for (const piece of pieces.slice(0, 3)) say(piece);
  await reply.locator('.content').filter({hasText: said}).waitFor();
  // the store has the reply only as of its last 2-s partial save; a read gives it as it is now
  const storedText = async () => (await serve.call('consultations.get', {id: top!.id})).messages.find((m) => m.role === 'assistant')?.content ?? '';
  const saved = await storedText();
  assert.equal(saved, said, 'a read mid-reply gives the text so far, not the last partial save');
  await page.reload();
  await reply.locator('.content').filter({hasText: saved}).waitFor();
  assert.equal((await reply.locator('.content').textContent())?.trim(), saved, 'after the reload, all that was shown before, at once');
  shown = await recordReply(page);
  // more text comes while it streams, after the text saved before the reload
  for (let i = 0; (await reply.locator('.content').textContent())!.trim().length <= saved.length; i++) {
    assert.ok(i < 100, 'the reply grows on screen within 20 s');
    say(pieces[(i + 3) % pieces.length]!);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  say('。');
  stream.end();
  await stop.waitFor({state: 'detached'});
  assert.equal(await storedText(), said);
  const afterReload = (await shown()).map((text) => text.trim());
  assertGrowingPrefixes(afterReload, said, 'scripted reply');
  assert.equal(afterReload[0], saved);
  assert.equal(afterReload.at(-1), said);
  assert.ok(afterReload.some((text) => text.length > saved.length && text.length < said.length), 'the reply grew on screen while it streamed');
});

test('settings saved from another window show in an open drawer, and a save here sends only what was edited here', async (t) => {
  const {serve, page} = await setUp(t);
  await page.goto(serve.url);
  await page.getByRole('button', {name: '新建问诊'}).click();
  await page.getByRole('form', {name: '消息输入'}).waitFor();
  const {id} = (await serve.call('consultations.list', {}))[0]!;
  await page.getByRole('button', {name: /^对话设置/}).click();
  const drawer = page.getByRole('complementary', {name: '对话设置'});
  const temperature = drawer.getByLabel('温度 (temperature)');
  await temperature.waitFor();
  // another window (the same call its drawer makes) changes the prompt while this drawer is open
  await serve.call('consultations.update', {id, systemPrompt: '另一个窗口写的提示词'});
  await expectValue(drawer.getByLabel('系统提示词'), '另一个窗口写的提示词');
  await temperature.fill('0.3');
  await drawer.getByRole('button', {name: '保存设置'}).click();
  await drawer.getByRole('status').filter({hasText: '已保存'}).waitFor();
  const stored = await serve.call('consultations.get', {id});
  assert.equal(stored.systemPrompt, '另一个窗口写的提示词', "the other window's prompt stays");
  assert.equal(stored.sampling.temperature, 0.3);
});

async function expectValue(field: Locator, value: string): Promise<void> {
  for (const started = Date.now(); (await field.inputValue()) !== value; ) {
    if (Date.now() - started > 30_000) assert.fail(`the field still says ${JSON.stringify(await field.inputValue())}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
