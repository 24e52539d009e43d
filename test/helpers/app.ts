// The app as the e2e tests use it: the built `zhongjing serve` and a Chromium page, zh-CN.
import type {TestContext} from 'node:test';
import type {Browser, Page} from 'playwright-core';
import {launchChromium} from './browser.js';
import {startServe, type ServeProcess} from './cli.js';

export interface AppOptions {
  /** more `serve` arguments than `--data-dir` (a model, --allow-dir, …) */
  serveArgs?: string[];
  env?: NodeJS.ProcessEnv;
  /** 1280 × 800 unless given */
  viewport?: {width: number; height: number};
  reducedMotion?: boolean;
  acceptDownloads?: boolean;
  /** also collect the console's errors (a CSP refusal, a failed load); favicon misses never count */
  consoleErrors?: boolean;
}

export interface OpenApp {
  serve: ServeProcess;
  browser: Browser;
  page: Page;
  /** uncaught exceptions of the page (and console errors when asked), for the test to check */
  errors: string[];
}

/** Starts serve on `dataDir` and opens a page (not yet navigated: `page.goto(serve.url)`); both are
 * closed after the test. */
export async function openApp(t: TestContext, dataDir: string, options: AppOptions = {}): Promise<OpenApp> {
  const serve = await startServe(['--data-dir', dataDir, ...(options.serveArgs ?? [])], {built: true, ...(options.env ? {env: options.env} : {})});
  const browser = await launchChromium();
  t.after(async () => {
    await browser.close();
    await serve.stop();
  });
  const context = await browser.newContext({
    viewport: options.viewport ?? {width: 1280, height: 800},
    locale: 'zh-CN',
    ...(options.reducedMotion ? {reducedMotion: 'reduce' as const} : {}),
    ...(options.acceptDownloads ? {acceptDownloads: true} : {}),
  });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  if (options.consoleErrors) {
    page.on('console', (message) => {
      if (message.type() === 'error' && !/favicon/.test(message.text())) errors.push(message.text());
    });
  }
  return {serve, browser, page, errors};
}
