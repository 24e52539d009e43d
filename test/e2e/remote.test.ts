// A remote endpoint in the browser against the built `zhongjing serve` (a workstation with no
// local model): added on the Models screen (the key's storage said), its connection tested, chosen
// in a consultation's model picker, and a reply from it marked 远程. A second serve with the tiny
// model plays the remote (its /v1 face, its token as the key).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {openApp} from '../helpers/app.js';
import {startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

test('in the browser: add a remote endpoint, test it, and chat with it from a consultation', async (t) => {
  const dir = tempDir();
  const remote = await startServe(['--data-dir', join(dir.path, 'remote'), '--model', await tinyModelPath()]);
  const {serve, page, errors} = await openApp(t, join(dir.path, 'local'), {viewport: {width: 1280, height: 900}});
  t.after(async () => {
    await remote.stop();
    dir.cleanup();
  });
  await page.goto(serve.url);
  await page.getByRole('link', {name: '模型'}).click();

  const panel = page.getByRole('region', {name: '远程服务（OpenAI 兼容接口）'});
  await panel.getByText(/此环境没有系统钥匙串.*0600/).waitFor();
  await panel.getByLabel('名称').fill('院内 llama-server');
  await panel.getByLabel('基础地址').fill('ftp://10.0.0.5/v1');
  await panel.getByLabel('模型名').fill('default');
  await panel.getByLabel('API 密钥（可选）').fill(remote.token);
  await panel.getByRole('button', {name: '添加远程服务'}).click();
  await panel.getByRole('alert').filter({hasText: 'http:// 或 https://'}).waitFor();
  await panel.getByLabel('基础地址').fill(`${remote.base}/v1`);
  await panel.getByRole('button', {name: '添加远程服务'}).click();
  await page.getByText('已添加远程服务：院内 llama-server').waitFor();
  assert.equal(await panel.getByLabel('API 密钥（可选）').inputValue(), '', 'the key field is cleared');
  await panel.getByRole('button', {name: '测试连接：院内 llama-server'}).click();
  await panel.getByRole('status').filter({hasText: /连接成功（\d+ 毫秒），服务提供 1 个模型/}).waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'remote-endpoint.png'), fullPage: true});

  await page.getByRole('link', {name: '问诊'}).click();
  await page.getByRole('button', {name: '新建问诊'}).click();
  const picker = page.getByLabel('模型', {exact: true});
  await picker.selectOption({label: '院内 llama-server（远程：default）'});
  await page.getByRole('button', {name: '对话设置'}).click();
  await page.getByLabel('最大生成长度 (max tokens)').fill('24');
  await page.getByLabel('温度 (temperature)').fill('0');
  await page.getByRole('button', {name: '保存设置'}).click();
  await page.getByText('已保存').waitFor();
  await page.getByRole('button', {name: '关闭对话设置'}).click();
  const composer = page.getByRole('form', {name: '消息输入'});
  await composer.getByLabel('输入消息').fill('医生您好，我头痛三天了。');
  await composer.getByRole('button', {name: '发送', exact: true}).click();
  const reply = page.getByRole('article', {name: '仲景的回复'}).first();
  await reply.getByRole('note', {name: '远程回答：院内 llama-server，模型 default'}).waitFor({timeout: 60_000});
  await composer.getByRole('button', {name: '停止'}).waitFor({state: 'detached', timeout: 60_000});
  assert.ok((await reply.locator('.content').innerText()).trim().length > 0, 'the remote reply has text');
  assert.deepEqual(errors, [], 'no errors in the page');
});
