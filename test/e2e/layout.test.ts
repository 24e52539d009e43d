// The smallest window the app supports (1024×700): every main screen fits its width (nothing to
// scroll sideways, no control cut off at the right edge), and a notification never covers the
// control a person is about to press (发送 after deleting a consultation).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {join} from 'node:path';
import type {Page} from 'playwright-core';
import {openApp} from '../helpers/app.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

/** What sticks out to the right of the main content: its own sideways overflow, and every
 * visible control whose box ends beyond main's right edge or beyond a clipping ancestor's. */
async function overflow(page: Page): Promise<{page: number; main: number; cutOff: string[]}> {
  return page.evaluate(() => {
    const main = document.querySelector('main')!;
    const cutOff: string[] = [];
    for (const control of main.querySelectorAll<HTMLElement>('button, a[href], input, select, textarea, [role="tab"]')) {
      const box = control.getBoundingClientRect();
      if (box.width === 0 || box.height === 0 || getComputedStyle(control).visibility === 'hidden') continue;
      // the nearest ancestor that clips horizontally (a scroll container included): the control
      // must be inside what it shows, without scrolling sideways
      let clip: Element = main;
      for (let node = control.parentElement; node && node !== main; node = node.parentElement) {
        if (getComputedStyle(node).overflowX !== 'visible') {
          clip = node;
          break;
        }
      }
      const right = Math.min(clip.getBoundingClientRect().right, main.getBoundingClientRect().right);
      if (box.right > right + 1) cutOff.push(`${control.tagName.toLowerCase()} "${(control.getAttribute('aria-label') ?? control.textContent ?? '').trim().slice(0, 40)}" ends at ${Math.round(box.right)} > ${Math.round(right)}`);
    }
    return {
      page: document.documentElement.scrollWidth - document.documentElement.clientWidth,
      main: main.scrollWidth - main.clientWidth,
      cutOff,
    };
  });
}

test('at 1024×700 the main screens fit their width, and a toast does not cover 发送', async (t) => {
  const dir = tempDir();
  const {serve, page, errors} = await openApp(t, dir.path, {serveArgs: ['--model', await tinyModelPath()], viewport: {width: 1024, height: 700}, reducedMotion: true});
  t.after(() => dir.cleanup());
  await page.goto(serve.url);
  await page.getByRole('button', {name: '新建问诊'}).waitFor();

  const screens: {link: string; ready: (page: Page) => Promise<unknown>}[] = [
    {link: '问诊', ready: (p) => p.getByRole('button', {name: '新建问诊'}).waitFor()},
    {link: '数据集', ready: (p) => p.getByRole('button', {name: '导入数据集'}).waitFor()},
    {link: '标注', ready: (p) => p.getByRole('button', {name: '新建标注员'}).waitFor()},
    {link: '训练', ready: (p) => p.getByRole('heading', {level: 1}).first().waitFor()},
    {link: '模型', ready: (p) => p.getByRole('button', {name: /^移除/}).first().waitFor()},
  ];
  const problems: string[] = [];
  for (const screen of screens) {
    await page.getByRole('navigation').getByRole('link', {name: screen.link}).click();
    await screen.ready(page);
    if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, `layout-${screen.link}.png`)});
    const found = await overflow(page);
    if (found.page > 0 || found.main > 0) problems.push(`${screen.link}: scrolls sideways (page ${found.page}px, main ${found.main}px)`);
    for (const c of found.cutOff) problems.push(`${screen.link}: ${c}`);
  }
  // the models table's remove column, asked to confirm (its widest state), is still in view
  await page.getByRole('button', {name: /^移除/}).first().click();
  await page.getByRole('button', {name: /^确认移除/}).waitFor();
  for (const c of (await overflow(page)).cutOff) problems.push(`模型 (confirming removal): ${c}`);
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'layout-models-confirm.png')});
  await page.getByRole('button', {name: '取消'}).click();
  assert.deepEqual(problems, [], 'nothing is wider than the window');

  // delete a consultation: the undo toast appears, and 发送 is still what a click there reaches
  await page.getByRole('navigation').getByRole('link', {name: '问诊'}).click();
  await page.getByRole('button', {name: '新建问诊'}).click();
  await page.getByLabel('输入消息').fill('复诊'); // in use: the next 新建问诊 keeps it
  await page.getByRole('button', {name: '新建问诊'}).click();
  const list = page.getByRole('complementary', {name: '问诊记录'});
  await list.getByRole('button', {name: /^删除：/}).nth(1).waitFor();
  await page.getByLabel('输入消息').fill('我头痛三天了');
  await list.getByRole('button', {name: /^删除：/}).nth(1).click();
  const toast = page.getByRole('status').filter({has: page.getByRole('button', {name: '撤销'})});
  await toast.waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'layout-toast.png')});
  const send = page.getByRole('button', {name: '发送', exact: true});
  const reached = await send.evaluate((button) => {
    const box = button.getBoundingClientRect();
    const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
    return hit === button || button.contains(hit);
  });
  assert.equal(reached, true, 'the toast does not cover 发送');
  assert.deepEqual(errors, [], 'no errors in the page');
});
