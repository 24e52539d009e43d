// The consultation screen under the conditions that used to lose work or mislead: keyboard-only
// use (focus goes on to where the work continues), a save answered after Esc, a double press, a
// reload while a reply streams, and a second window changing the settings. Deterministic: replies
// are held (test/helpers/hold.ts) or scripted, never raced against a click or a timer.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Locator, Page} from 'playwright-core';
import {newConsultation, setUp} from '../helpers/consultation-page.js';
import {waitFor} from '../helpers/wait.js';

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
  // made once it is listed first
  top = await waitFor(async () => {
    const [listed] = await serve.call('consultations.list', {});
    return listed && listed.id !== first ? listed : null;
  }, 30_000, 'the new consultation listed');
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
  await waitFor(async () => (await field.inputValue()) === value, 30_000, `the field to say ${JSON.stringify(value)}`);
}
