// The Models screen in Chromium against the built `zhongjing serve`: the same GGUF added twice is
// said to be registered already (one row in the table), and a failed download says that it failed
// and why — no bar for bytes that never came — and can be taken off the list.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer} from 'node:http';
import {join} from 'node:path';
import type {AddressInfo} from 'node:net';
import {launchChromium} from '../helpers/browser.js';
import {startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

test('in the browser: adding a model twice, and a failed download that can be dismissed', async (t) => {
  const dir = tempDir();
  const mirror = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const serve = await startServe(['--data-dir', dir.path], {built: true});
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await serve.stop();
    mirror.close();
    dir.cleanup();
  });
  const page = await (await browser.newContext({viewport: {width: 1280, height: 900}, locale: 'zh-CN'})).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(serve.url);
  await page.getByRole('link', {name: '模型'}).click();

  const model = await tinyModelPath();
  await page.getByLabel('模型文件路径').fill(model);
  await page.getByRole('button', {name: '添加模型'}).click();
  await page.getByText(/^已添加「tiny-llama-v1」$/).waitFor();
  await page.getByLabel('模型文件路径').fill(model);
  await page.getByRole('button', {name: '添加模型'}).click();
  await page.getByRole('status').filter({hasText: '「tiny-llama-v1」已经登记过了，没有重复添加'}).waitFor();
  assert.equal(await page.getByRole('row', {name: /tiny-llama-v1/}).count(), 1, 'one row in the model table');

  const source = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}/zhongjing-7b.gguf`;
  await page.getByLabel('下载来源').fill(source);
  await page.getByRole('button', {name: '下载', exact: true}).click();
  const item = page.getByRole('listitem').filter({hasText: 'zhongjing-7b.gguf'});
  await item.getByRole('alert').filter({hasText: /^下载失败：/}).waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'models-failed-download.png'), fullPage: true});
  assert.equal(await item.getByRole('progressbar').count(), 0, 'no bar for a download that received nothing');
  assert.doesNotMatch(await item.innerText(), /0 B|大小未知/, 'no "0 B / 大小未知" beside a failure');
  await item.getByRole('button', {name: '从列表中移除：zhongjing-7b.gguf'}).click();
  await page.getByText('没有进行中的下载。').waitFor();
  assert.deepEqual(errors, [], 'no errors in the page');
});
