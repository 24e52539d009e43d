// serve stops under an open page and comes back: the page says the connection is lost (a screen
// opened meanwhile says serve cannot be reached, not that one feature is unavailable), and once
// serve is back on the same port with the same data directory (the token is kept there) the page
// recovers by itself, with no new URL to open.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer} from 'node:net';
import {launchChromium} from '../helpers/browser.js';
import {startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const port = (server.address() as {port: number}).port;
  await new Promise((done) => server.close(done));
  return port;
}

test('in the browser: serve killed → "connection lost" shown; serve back → the page recovers without a new URL', async (t) => {
  const dir = tempDir();
  const port = String(await freePort());
  let serve = await startServe(['--data-dir', dir.path, '--port', port], {built: true});
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await serve.stop();
    dir.cleanup();
  });
  const page = await (await browser.newContext({locale: 'zh-CN'})).newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(serve.url);
  await page.getByRole('button', {name: '新建问诊'}).first().waitFor();
  const lost = page.getByRole('alert').filter({hasText: '与仲景服务的连接已断开'});
  assert.equal(await lost.count(), 0);

  serve.child.kill('SIGKILL');
  await new Promise((done) => serve.child.once('exit', done));
  await lost.waitFor({timeout: 30_000});
  await page.getByRole('link', {name: '训练', exact: true}).click();
  await page.getByRole('alert').filter({hasText: '无法连接到仲景服务'}).first().waitFor();
  assert.equal(await page.getByText('训练不可用').count(), 0, 'not "training is unavailable"');

  // back on the same port and data directory: the same token, so the open page reconnects
  serve = await startServe(['--data-dir', dir.path, '--port', port], {built: true});
  await lost.waitFor({state: 'detached', timeout: 30_000});
  await page.getByRole('link', {name: '模型', exact: true}).click();
  await page.getByRole('link', {name: '训练', exact: true}).click();
  await page.getByText(/^训练后端：/).waitFor();
  assert.equal(await page.getByText('令牌无效或缺失').count(), 0, 'the tab kept a token that still works');
  assert.deepEqual(errors, [], 'no errors in the page');
});
