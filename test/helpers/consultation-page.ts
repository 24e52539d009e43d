// The consultation screen as its e2e tests open it: the built serve with the tiny model and a
// reply hold, a zh-CN page whose console must stay free of errors, and short greedy replies.
import type {TestContext} from 'node:test';
import assert from 'node:assert/strict';
import type {Browser, Locator, Page} from 'playwright-core';
import {openApp} from './app.js';
import type {ServeProcess} from './cli.js';
import {replyHold, type ReplyHold} from './hold.js';
import {tempDir} from './tmp.js';
import {tinyModelPath} from './tiny-model.js';

export async function setUp(
  t: TestContext,
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
export async function newConsultation(page: Page, maxTokens: number): Promise<Locator> {
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
