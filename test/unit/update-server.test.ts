// Updates from the hospital's own server: the setting (default none = updates off; https, or http on
// a private address with a warning; everything else refused) and the feed electron-updater's generic
// provider reads (each file's sha512 and size must match the artifact).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {appendFileSync, readFileSync, statSync, writeFileSync} from 'node:fs';
import {createRequire} from 'node:module';
import {join} from 'node:path';
import {methods} from '../../main/common/contract.js';
import {checkUpdateServerUrl, isPrivateHost, updateFeed} from '../../main/common/update-server.js';
import {AppError} from '../../main/common/errors.js';
import {parseInput} from '../../main/node/api/validate.js';
import {Store} from '../../main/node/store/index.js';
import {tempDir} from '../helpers/tmp.js';

const require = createRequire(import.meta.url);
const feeds = require('../../scripts/update-feed.cjs') as {
  writeFeed(artifact: string, options: {version: string; feed?: string; releaseDate?: string}): Promise<string>;
  verifyFeed(feed: string): Promise<string[]>;
};
const provider = require('electron-updater/out/providers/Provider.js') as {
  parseUpdateInfo(raw: string, channelFile: string, url: URL): {version: string; files: {url: string; sha512: string; size: number}[]};
  resolveFiles(info: unknown, baseUrl: URL): {url: URL; info: {sha512: string; size: number}}[];
};

test('accepted: https anywhere; http only on a private address, with a warning', () => {
  for (const url of ['https://updates.example.org/zhongjing/cpu', 'https://10.0.0.5/zhongjing/', 'https://updates.hospital.local:8443/zj']) {
    const checked = checkUpdateServerUrl(url);
    assert.ok(checked.ok && checked.warning === null, `${url} is accepted without a warning`);
    assert.ok(checked.ok && checked.url.endsWith('/'), 'normalised to a base URL ending in /');
  }
  for (const url of ['http://10.1.2.3/zj/', 'http://172.20.0.1', 'http://192.168.1.10:8080/updates', 'http://127.0.0.1:8000/', 'http://updates/zj',
    'http://updates.hospital.local/zj', 'http://it.intranet/zj', 'http://[fd12:3456::1]/zj', 'http://[::1]:8080/']) {
    const checked = checkUpdateServerUrl(url);
    assert.ok(checked.ok, `${url} is a private address`);
    assert.match(checked.ok ? checked.warning?.en ?? '' : '', /unencrypted http/, `${url} comes with the warning`);
    assert.ok(checked.ok && checked.warning?.zh.includes('http://'), 'in Chinese too');
  }
});

test('refused: other schemes, public http, credentials, queries, non-URLs', () => {
  const bad = {
    'ftp://10.0.0.1/zj': /only https/, 'file:///srv/updates': /only https/, 'javascript:alert(1)': /only https/,
    'http://updates.example.org/zj': /private address/, 'http://8.8.8.8/': /private address/, 'http://172.32.0.1/': /private address/,
    'http://11.0.0.1/': /private address/, 'http://[2001:db8::1]/': /private address/, 'http://192.169.1.1/': /private address/,
    'https://user:pw@updates.example.org/': /user name or password/, 'https://updates.example.org/?x=1': /\? or #/,
    'https://updates.example.org/#a': /\? or #/, 'updates.example.org': /not a URL/, '': /empty/, [`https://a.org/${'x'.repeat(600)}`]: /longer/,
  };
  for (const [url, reason] of Object.entries(bad)) {
    const checked = checkUpdateServerUrl(url);
    assert.equal(checked.ok, false, `${url} is refused`);
    assert.match(checked.ok ? '' : checked.reason.en, reason, `${url}: the reason says why`);
    assert.ok(!checked.ok && checked.reason.zh.startsWith('更新服务器地址无效'), 'in Chinese too');
  }
  assert.equal(isPrivateHost('localhost'), true, 'a one-label name is an intranet name');
  assert.equal(isPrivateHost('10.0.0.1.example.org'), false, 'a public name that starts like a private address');
  assert.equal(isPrivateHost('3232235777'), false, 'a bare number (an IPv4 in disguise) is not accepted');
});

test('the setting: none by default (updates off), validated and normalised by the contract, null turns it off again', () => {
  const tmp = tempDir();
  const store = Store.open(join(tmp.path, 'z.sqlite'));
  try {
    assert.equal(store.settings.get().updateServerUrl, null, 'no update server by default');
    const feed = updateFeed(store.settings.get().updateServerUrl);
    assert.ok(!feed.ok && /updates are off/.test(feed.reason.en), 'and then Check for updates says updates are off');

    const schema = methods['settings.update'].input;
    assert.throws(() => parseInput(schema, {updateServerUrl: 'http://updates.example.org/zj'}), (error: unknown) => {
      assert.ok(error instanceof AppError && error.code === 'validation', 'a validation error');
      assert.match(error.message, /private address/, `the localised reason reaches the caller (${error.message})`);
      return true;
    });
    assert.throws(() => parseInput(schema, {updateServerUrl: 'ftp://10.0.0.1/'}), /only https/, 'another scheme');
    const input = parseInput(schema, {updateServerUrl: 'http://192.168.1.10/zhongjing/cpu'});
    assert.equal(input.updateServerUrl, 'http://192.168.1.10/zhongjing/cpu/', 'stored normalised');
    assert.equal(store.settings.update(input).updateServerUrl, 'http://192.168.1.10/zhongjing/cpu/', 'saved');
    const on = updateFeed(store.settings.get().updateServerUrl);
    assert.ok(on.ok && on.provider === 'generic' && on.url === 'http://192.168.1.10/zhongjing/cpu/', "electron-updater's generic provider on it");
    assert.ok(on.ok && on.warning, 'with the http warning');
    assert.equal(store.settings.update(parseInput(schema, {updateServerUrl: null})).updateServerUrl, null, 'null turns updates off');
  } finally {
    store.close();
    tmp.cleanup();
  }
});

test("the feed: electron-updater reads it, and its sha512 and size are the artifact's; a changed artifact is caught", async () => {
  const tmp = tempDir();
  try {
    const artifact = join(tmp.path, 'Zhongjing-0.2.0-cpu-x86_64.AppImage');
    writeFileSync(artifact, Buffer.from(Array.from({length: 300_000}, (_, i) => (i * 7919) % 251)));
    const feedPath = await feeds.writeFeed(artifact, {version: '0.2.0', feed: 'latest-linux.yml', releaseDate: '2026-12-06T00:00:00.000Z'});
    assert.equal(feedPath, join(tmp.path, 'latest-linux.yml'), 'latest-linux.yml beside the artifact');
    const base = new URL('https://10.0.0.5/zhongjing/cpu/');
    const info = provider.parseUpdateInfo(readFileSync(feedPath, 'utf8'), 'latest-linux.yml', new URL('latest-linux.yml', base));
    assert.equal(info.version, '0.2.0', 'version');
    const [file] = provider.resolveFiles(info, base);
    assert.equal(file!.url.href, 'https://10.0.0.5/zhongjing/cpu/Zhongjing-0.2.0-cpu-x86_64.AppImage', 'the installer is found below the server URL');
    assert.equal(file!.info.sha512, createHash('sha512').update(readFileSync(artifact)).digest('base64'), 'sha512 (base64) of the artifact');
    assert.equal(file!.info.size, statSync(artifact).size, 'size of the artifact');
    assert.deepEqual(await feeds.verifyFeed(feedPath), [], 'verify agrees');

    appendFileSync(artifact, 'x');
    const problems = await feeds.verifyFeed(feedPath);
    assert.ok(problems.some((p) => /size/.test(p)) && problems.some((p) => /sha512/.test(p)), `a changed installer is caught (${problems.join('; ')})`);
  } finally {
    tmp.cleanup();
  }
});
