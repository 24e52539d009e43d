// The Models screen's first-use paths through the API: adding the same GGUF twice (by the same
// path, another spelling, a symlink) registers it once and says it was already there; a failed
// download keeps its reason and can be taken off the list with its partial file.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer, type ServerResponse} from 'node:http';
import {copyFileSync, existsSync, symlinkSync} from 'node:fs';
import {join} from 'node:path';
import type {AddressInfo} from 'node:net';
import {startServices, waitFor} from '../helpers/services.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

test('the same GGUF added twice is registered once and answered as already registered', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const path = join(s.dataDir, 'tiny.gguf');
  copyFileSync(await tinyModelPath(), path);
  const first = await s.call('models.add', {path, name: '小模型'});
  assert.equal(first.alreadyRegistered, false);
  const again = await s.call('models.add', {path});
  assert.equal(again.alreadyRegistered, true, 'the second add says so');
  assert.equal(again.id, first.id);
  assert.equal(again.name, '小模型', 'nothing about it changed');
  const spelled = await s.call('models.add', {path: join(s.dataDir, '.', 'x', '..', 'tiny.gguf')});
  assert.equal(spelled.alreadyRegistered, true, 'another spelling of the path');
  const link = join(s.dataDir, 'link.gguf');
  symlinkSync(path, link);
  const linked = await s.call('models.add', {path: link});
  assert.equal(linked.alreadyRegistered, true, 'a symlink to the registered file');
  assert.equal(linked.id, first.id);
  assert.equal((await s.call('models.list', {})).length, 1, 'registered once');
  await s.services.models.settle();
});

test('a failed download keeps its reason and can be dismissed with its partial file; a running one cannot', async (t) => {
  const hanging: ServerResponse[] = [];
  const server = createServer((req, res) => {
    if (req.url === '/hang.gguf') {
      // trickles 1 KB every 50 ms: running for as long as the test needs
      res.writeHead(200, {'Content-Length': 10_000_000});
      hanging.push(res);
      const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write(Buffer.alloc(1024))), 50);
      return;
    }
    if (req.url === '/junk.gguf') return res.writeHead(200, {'Content-Length': 12}).end('not a model!');
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => {
    for (const res of hanging) res.destroy();
    server.close();
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const s = startServices();
  t.after(() => s.close());

  const failed = await s.call('models.download', {source: `${base}/missing.gguf`});
  await s.services.models.downloadsIdle();
  const listed = (await s.call('models.downloads', {})).find((d) => d.id === failed.id);
  assert.equal(listed?.state, 'failed');
  assert.match(listed?.error?.zh ?? '', /^下载失败：.*404/, 'the reason, in Chinese');
  assert.match(listed?.error?.en ?? '', /^Download failed: .*404/, 'and in English');
  // a file that arrives but is no GGUF fails as a download too, with the reason
  const junk = await s.call('models.download', {source: `${base}/junk.gguf`});
  await s.services.models.downloadsIdle();
  const notModel = (await s.call('models.downloads', {})).find((d) => d.id === junk.id);
  assert.equal(notModel?.state, 'failed');
  assert.match(notModel?.error?.zh ?? '', /^下载失败：/, 'says that the download failed');
  await s.call('models.dismissDownload', {id: junk.id});
  assert.deepEqual(await s.call('models.dismissDownload', {id: failed.id}), {dismissed: true});
  assert.equal((await s.call('models.downloads', {})).some((d) => d.id === failed.id), false, 'gone from the list');

  const running = await s.call('models.download', {source: `${base}/hang.gguf`});
  await waitFor(() => s.events.some((e) => e.type === 'download.progress' && e.download.id === running.id && e.download.receivedBytes > 0), 10_000, 'first bytes');
  const refused = await s.callRaw('models.dismissDownload', {id: running.id});
  assert.equal(!refused.ok && refused.error.code, 'validation', 'a running download is cancelled first');
  await s.call('models.cancelDownload', {id: running.id});
  await s.services.models.downloadsIdle();
  const part = join(s.dataDir, 'models', 'hang.gguf.part');
  assert.ok(existsSync(part), 'a paused download keeps its part');
  await s.call('models.dismissDownload', {id: running.id});
  assert.equal(existsSync(part), false, 'dismissing deletes the part');
  assert.equal(existsSync(`${part}.json`), false, 'and its sidecar');
  assert.equal((await s.call('models.downloads', {})).length, 0);
  const unknown = await s.callRaw('models.dismissDownload', {id: running.id});
  assert.equal(!unknown.ok && unknown.error.code, 'not_found');
});
