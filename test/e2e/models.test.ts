// The Models screen in Chromium against the built `zhongjing serve`: the same GGUF added twice is
// said to be registered already (one row in the table), and a failed download says that it failed
// and why — no bar for bytes that never came — and can be taken off the list.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer} from 'node:http';
import {dirname, join} from 'node:path';
import type {AddressInfo} from 'node:net';
import {openApp} from '../helpers/app.js';
import {tempDir} from '../helpers/tmp.js';
import {waitFor} from '../helpers/wait.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

test('in the browser: adding a model twice, and a failed download that can be dismissed', async (t) => {
  const dir = tempDir();
  const mirror = createServer((_req, res) => res.writeHead(404).end());
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const {serve, page, errors} = await openApp(t, dir.path, {serveArgs: ['--allow-dir', dirname(await tinyModelPath())], viewport: {width: 1280, height: 900}});
  t.after(async () => {
    mirror.close();
    dir.cleanup();
  });
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
  // The 404 ends the download at once, so its final event can arrive before the reply to
  // models.download (two channels). Hold that reply back until the event has come, so this order —
  // which once left the item showing "running" for ever — is the one tested, every time.
  await page.route('**/api/models.download', async (route) => {
    const response = await route.fetch();
    await page.waitForFunction(() => document.body.innerText.includes('下载失败：'), undefined, {timeout: 10_000}).catch(() => {});
    await route.fulfill({response});
  });
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

test('in the browser: the curated list with fit hints, a search of the mirror, and unloading the loaded model', async (t) => {
  const dir = tempDir();
  const asked: string[] = [];
  // a loopback stand-in for the Hugging Face API (the mirror endpoint set in settings)
  const mirror = createServer((req, res) => {
    asked.push(req.url ?? '');
    if (!(req.url ?? '').startsWith('/api/models?')) return void res.writeHead(404).end();
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(JSON.stringify([{id: 'someone/Med-Chat-GGUF', downloads: 5, likes: 1, siblings: [{rfilename: 'med-chat.Q4_K_M.gguf'}]}]));
  });
  await new Promise<void>((r) => mirror.listen(0, '127.0.0.1', r));
  const {serve, page, errors} = await openApp(t, dir.path, {serveArgs: ['--model', await tinyModelPath()], viewport: {width: 1024, height: 700}});
  t.after(() => {
    mirror.close();
    dir.cleanup();
  });
  const call = serve.call;
  await call('settings.update', {hfEndpoint: `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`});
  // a reply loads the model into the engine
  const consultation = await call('consultations.create', {});
  await call('consultations.update', {id: consultation.id, sampling: {maxTokens: 4, temperature: 0, seed: 1}});
  const sent = await call('chat.send', {consultationId: consultation.id, text: '头痛'});
  const replyId = sent.assistantMessage.id;
  await waitFor(async () => (await call('consultations.get', {id: consultation.id})).messages.find((m) => m.id === replyId)?.status !== 'streaming', 60_000, 'the reply to end');

  await page.goto(serve.url);
  await page.getByRole('link', {name: '模型'}).click();

  // the curated list: every entry has its size, quantisation and a fit hint for this machine
  const rows = page.getByTestId('catalog-entry');
  await rows.first().waitFor();
  const count = await rows.count();
  assert.ok(count >= 5, `${count} curated entries`);
  for (let i = 0; i < count; i++) {
    const text = await rows.nth(i).innerText();
    assert.match(text, /(Q\d|IQ\d)_/, `a quantisation in ${text}`);
    assert.match(text, /\d(\.\d)? (MiB|GiB)/, `a size in ${text}`);
    assert.match(text, /可全部放入显存|内存足够|内存紧张|超出本机内存/, `a fit hint in ${text}`);
  }
  await page.getByTestId('machine-memory').filter({hasText: /本机内存 \d/}).waitFor();
  await page.getByRole('row', {name: /HuatuoGPT2 7B/}).getByRole('cell', {name: '医学', exact: true}).waitFor();
  await page.getByRole('button', {name: '下载：Qwen2.5 0.5B Instruct Q4_K_M'}).waitFor();
  assert.equal(asked.length, 0, 'the list asked nothing of the network');

  // search: one request to the configured endpoint, only on 搜索
  await page.getByLabel('搜索关键词').fill('medical');
  await page.getByRole('button', {name: '搜索', exact: true}).click();
  const results = page.getByTestId('search-results');
  await results.getByText('someone/Med-Chat-GGUF').waitFor();
  await results.getByRole('button', {name: '下载：someone/Med-Chat-GGUF/med-chat.Q4_K_M.gguf'}).waitFor();
  assert.equal(asked.length, 1, 'one search request');
  assert.match(asked[0]!, /search=medical/);

  // the loaded model, and unloading it
  const loaded = page.getByTestId('loaded-model');
  await loaded.getByText('已加载：tiny-llama-v1').waitFor();
  await loaded.getByRole('button', {name: /^卸载模型：tiny-llama-v1/}).click();
  await loaded.getByText('当前没有加载模型').waitFor();
  const status = await call('engine.status', {});
  assert.equal(status.loadedModelId, null, 'the engine holds no model');
  assert.equal(status.pid, null, 'the engine process ended');
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'models-catalog.png'), fullPage: true});
  assert.deepEqual(errors, [], 'no errors in the page');
});
