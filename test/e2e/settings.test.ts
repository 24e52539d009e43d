// The Settings screen's cards in Chromium against the built `zhongjing serve`: a folder allowed at
// start (--allow-dir) is listed; a folder is allowed and taken back (the list comes from the stored
// settings), a refused folder says why, and the update server is saved and shown as saved. The
// language is each browser's own: another person switching to English leaves this page in Chinese.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {openApp} from '../helpers/app.js';
import {tempDir} from '../helpers/tmp.js';

test('in the browser: allowed folders added and removed, a refused one explained; the update server saved', async (t) => {
  const dir = tempDir();
  const folder = tempDir();
  const startFolder = tempDir();
  const {serve, browser, page, errors} = await openApp(t, dir.path, {serveArgs: ['--allow-dir', startFolder.path]});
  t.after(async () => {
    folder.cleanup();
    startFolder.cleanup();
    dir.cleanup();
  });
  await page.goto(`${serve.url.split('#')[0]}#/settings`);

  // a folder allowed at start (--allow-dir) is listed, and says how it came to be allowed
  await page.getByText(startFolder.path).waitFor();
  assert.match(await page.getByRole('listitem').filter({hasText: startFolder.path}).innerText(), /--allow-dir/);
  assert.equal(await page.getByRole('button', {name: `移除 ${startFolder.path}`}).count(), 0, 'not removable from the page');

  // someone else, in another browser on the same serve, switches to English
  const other = await (await browser.newContext({locale: 'zh-CN'})).newPage();
  await other.goto(serve.url);
  await other.getByRole('button', {name: /切换语言/}).click();
  await other.getByRole('link', {name: 'Models'}).waitFor();

  await page.getByLabel('添加文件夹').fill(folder.path);
  await page.getByRole('button', {name: '添加文件夹'}).click();
  const remove = page.getByRole('button', {name: `移除 ${folder.path}`});
  await remove.waitFor();
  // this page stays Chinese, and so does a browser opened after the switch
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'zh-CN');
  await page.getByRole('link', {name: '模型'}).waitFor();
  const later = await (await browser.newContext({locale: 'zh-CN'})).newPage();
  await later.goto(serve.url);
  await later.getByRole('link', {name: '模型'}).waitFor();
  assert.equal((await serve.call('settings.get', {})).language, 'zh-CN', "one person's switch is not everyone's default");
  const settings = () => serve.call('settings.get', {});
  const stored = async () => (await settings()).allowedFolders;
  assert.deepEqual(await stored(), [folder.path]);
  await remove.click();
  await remove.waitFor({state: 'detached'});
  assert.deepEqual(await stored(), []);

  await page.getByLabel('添加文件夹').fill('/');
  await page.getByRole('button', {name: '添加文件夹'}).click();
  await page.getByRole('alert').first().waitFor();
  assert.deepEqual(await stored(), [], 'the root folder is refused and nothing is stored');

  const updates = page.locator('form', {has: page.getByLabel('更新服务器')});
  await updates.getByLabel('更新服务器').fill('https://updates.hospital.example/zhongjing/');
  await updates.getByRole('button', {name: '保存'}).click();
  await updates.getByRole('status').filter({hasText: '已保存'}).waitFor();
  assert.match((await settings()).updateServerUrl ?? '', /^https:\/\/updates\.hospital\.example\/zhongjing\/?$/);
  assert.deepEqual(errors, [], 'no errors in the page');
});
