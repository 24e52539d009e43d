import {test} from 'node:test';
import assert from 'node:assert/strict';
import {join} from 'node:path';
import {acceptInvoke, isTrustedSenderUrl, rendererFilePath, secureWebPreferences} from '../../main/electron/security.js';
import {CONTENT_SECURITY_POLICY, META_CONTENT_SECURITY_POLICY} from '../../main/common/csp.js';
import {defaultDataDir, dataPaths} from '../../main/node/paths.js';
import {defaultThreads} from '../../main/node/threads.js';
import {readFileSync} from 'node:fs';

test('IPC accepts only our app:// page and contract methods', () => {
  assert.equal(isTrustedSenderUrl('app://zhongjing/index.html'), true);
  for (const url of ['https://zhongjing/index.html', 'file:///index.html', 'app://evil/index.html', 'http://127.0.0.1:8765/', '', null, undefined, 'not a url'])
    assert.equal(isTrustedSenderUrl(url), false, String(url));
  assert.equal(acceptInvoke('app://zhongjing/index.html', 'chat.send'), true);
  assert.equal(acceptInvoke('app://zhongjing/index.html', 'constructor'), false);
  assert.equal(acceptInvoke('app://zhongjing/index.html', '__proto__'), false);
  assert.equal(acceptInvoke('https://example.com/', 'chat.send'), false);
});

test('windows are isolated and sandboxed, without Node', () => {
  const prefs = secureWebPreferences('/p.cjs');
  assert.equal(prefs.contextIsolation, true);
  assert.equal(prefs.sandbox, true);
  assert.equal(prefs.nodeIntegration, false);
  assert.equal(prefs.webviewTag, false);
});

test('renderer files cannot escape the build directory', () => {
  const root = '/opt/zj/renderer';
  assert.equal(rendererFilePath(root, 'app://zhongjing/index.html'), join(root, 'index.html'));
  assert.equal(rendererFilePath(root, 'app://zhongjing/'), join(root, 'index.html'));
  assert.equal(rendererFilePath(root, 'app://zhongjing/assets/a.js'), join(root, 'assets/a.js'));
  // traversal is normalised away: whatever the request, the file stays under the root
  for (const evil of ['app://zhongjing/..%2F..%2Fetc/passwd', 'app://zhongjing/%2e%2e/%2e%2e/etc/passwd', 'app://zhongjing/a/../../../x'])
    assert.ok(rendererFilePath(root, evil)?.startsWith(root + '/'), evil);
  assert.equal(rendererFilePath(root, 'app://other/index.html'), null);
});

test('the CSP allows no remote content, and index.html carries the same policy', () => {
  assert.match(CONTENT_SECURITY_POLICY, /default-src 'self'/);
  assert.match(CONTENT_SECURITY_POLICY, /script-src 'self'(;|$)/);
  assert.match(CONTENT_SECURITY_POLICY, /object-src 'none'/);
  assert.doesNotMatch(CONTENT_SECURITY_POLICY, /https:|\*\.|unsafe-eval/);
  const html = readFileSync(new URL('../../renderer/index.html', import.meta.url), 'utf8');
  const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
  assert.ok(meta, 'index.html has a CSP meta tag');
  assert.equal(meta, META_CONTENT_SECURITY_POLICY);
});

test('data directory: env override, XDG, platform defaults', () => {
  assert.equal(defaultDataDir({ZHONGJING_DATA_DIR: '/data/zj'}, 'linux'), '/data/zj');
  assert.equal(defaultDataDir({XDG_DATA_HOME: '/x'}, 'linux'), '/x/zhongjing');
  assert.match(defaultDataDir({}, 'linux'), /\.local\/share\/zhongjing$/);
  assert.equal(defaultDataDir({APPDATA: 'C:\\Users\\a\\AppData\\Roaming'}, 'win32'), join('C:\\Users\\a\\AppData\\Roaming', 'Zhongjing'));
  assert.equal(dataPaths('/d').database, '/d/zhongjing.sqlite');
});

test('threads come from the real core count unless forced', () => {
  assert.equal(defaultThreads({ZHONGJING_THREADS: '3'}), 3);
  assert.ok(defaultThreads({}) >= 1);
  assert.equal(defaultThreads({ZHONGJING_THREADS: 'lots'}), defaultThreads({}));
});
