// Downloading a model through the service, as the Models screen does: from an `hf:` spec against
// a mirror endpoint (a local HTTP server on 127.0.0.1 standing in for it), with progress events,
// a pause in the middle, resume, sha256 verification and registration.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer} from 'node:http';
import {readFileSync} from 'node:fs';
import {createHash} from 'node:crypto';
import type {AddressInfo} from 'node:net';
import {startServices, waitFor} from '../helpers/services.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

test('hf: download through a mirror, paused and resumed, verified and registered', async (t) => {
  const model = readFileSync(await tinyModelPath());
  const sha = createHash('sha256').update(model).digest('hex');
  const ranges: string[] = [];
  let slow = true;
  const server = createServer((req, res) => {
    if (req.url !== '/zhongjing/tiny-medical/resolve/main/tiny.gguf') return res.writeHead(404).end();
    const range = /bytes=(\d+)-/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    if (range) ranges.push(req.headers.range!);
    res.writeHead(range ? 206 : 200, {
      'Content-Length': model.length - start,
      ...(range ? {'Content-Range': `bytes ${start}-${model.length - 1}/${model.length}`} : {}),
      ETag: '"tiny-v1"',
      'Accept-Ranges': 'bytes',
      'X-Linked-Etag': `"${sha}"`,
    });
    // the first attempt trickles so the test can pause it part-way
    let offset = start;
    const pump = () => {
      if (offset >= model.length) return res.end();
      const end = Math.min(model.length, offset + (slow ? 16 * 1024 : model.length));
      res.write(model.subarray(offset, end));
      offset = end;
      setTimeout(pump, slow ? 20 : 0);
    };
    pump();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  const port = (server.address() as AddressInfo).port;

  const s = startServices();
  t.after(() => s.close());
  await s.call('settings.update', {hfEndpoint: `http://127.0.0.1:${port}`});
  const started = await s.call('models.download', {source: 'hf:zhongjing/tiny-medical/tiny.gguf'});
  assert.equal(started.fileName, 'tiny.gguf');
  await waitFor(() => s.events.some((e) => e.type === 'download.progress' && e.download.receivedBytes > 64 * 1024), 20_000, 'progress');
  await s.call('models.cancelDownload', {id: started.id});
  await s.services.models.downloadsIdle();
  const paused = (await s.call('models.downloads', {})).find((d) => d.id === started.id)!;
  assert.equal(paused.state, 'paused');
  assert.ok(paused.receivedBytes > 0 && paused.receivedBytes < model.length);
  assert.equal((await s.call('models.list', {})).length, 0, 'nothing registered before it is complete');

  slow = false;
  const resumed = await s.call('models.download', {source: 'hf:zhongjing/tiny-medical/tiny.gguf'});
  assert.equal(resumed.id, started.id, 'the same download resumes');
  await s.services.models.downloadsIdle();
  assert.equal(ranges.length, 1);
  assert.match(ranges[0]!, /^bytes=[1-9]\d*-$/);
  const done = (await s.call('models.downloads', {})).find((d) => d.id === started.id)!;
  assert.equal(done.state, 'done', JSON.stringify(done.error));
  const [registered] = await s.call('models.list', {});
  assert.equal(registered?.sha256, sha);
  assert.equal(registered?.architecture, 'llama');
  assert.equal(done.modelId, registered?.id);
  const progress = s.events.filter((e) => e.type === 'download.progress');
  assert.ok(progress.length >= 3);

  const again = await s.callRaw('models.download', {source: 'hf:zhongjing/tiny-medical/tiny.gguf'});
  assert.equal(!again.ok && again.error.code, 'validation', 'an already registered download is not fetched twice');
  const bad = await s.callRaw('models.download', {source: 'file:///etc/passwd'});
  assert.equal(!bad.ok && bad.error.code, 'validation');
});
