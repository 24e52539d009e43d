// The model manager's engine and network sides: unloading the loaded model ends the engine
// process (and the next reply starts it again); searching the configured Hugging Face endpoint
// goes to that endpoint only (here a loopback server standing in for the HF API), and an
// endpoint that does not answer says so in both languages.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer, type Server} from 'node:http';
import type {AddressInfo} from 'node:net';
import type {Message} from '../../main/common/contract.js';
import {replyHold} from '../helpers/hold.js';
import {startServices, waitFor} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

// a reply that must still be running when unload is asked is held once it has text
const holdDir = tempDir();
const hold = replyHold(holdDir.path);
Object.assign(process.env, hold.env);
test.after(() => holdDir.cleanup());

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test('engine.unload ends the engine and its model; the next reply loads it again', async () => {
  const s = startServices();
  try {
    const model = await s.call('models.add', {path: await tinyModelPath()});
    const c = await s.call('consultations.create', {modelId: model.id});
    await s.call('consultations.update', {id: c.id, sampling: {maxTokens: 8, temperature: 0, seed: 1}});
    const finished = (id: string) =>
      waitFor(() => {
        const e = s.events.find((x) => x.type === 'chat.finished' && x.message.id === id);
        return e?.type === 'chat.finished' ? e.message : undefined;
      }, 60_000, 'reply') as Promise<Message>;
    const first = await s.call('chat.send', {consultationId: c.id, text: '头痛'});
    await finished(first.assistantMessage.id);
    const loaded = await s.call('engine.status', {});
    assert.equal(loaded.state, 'ready', 'engine running');
    assert.equal(loaded.loadedModelId, model.id, 'the model is loaded');
    const pid = loaded.pid;
    assert.ok(pid && pidAlive(pid), 'engine process alive');

    const after = await s.call('engine.unload', {});
    assert.equal(after.loadedModelId, null, 'no model loaded');
    assert.equal(after.state, 'stopped', 'engine stopped');
    assert.equal(after.pid, null, 'no engine pid');
    assert.equal(pidAlive(pid), false, 'the engine process has exited');
    // unloading again is harmless
    assert.equal((await s.call('engine.unload', {})).loadedModelId, null, 'second unload');

    const second = await s.call('chat.send', {consultationId: c.id, text: '还发烧'});
    const reply = await finished(second.assistantMessage.id);
    assert.equal(reply.status, 'complete', 'a reply after unloading works');
    assert.equal((await s.call('engine.status', {})).loadedModelId, model.id, 'loaded again');
  } finally {
    await s.close();
  }
});

test('engine.unload is refused while a reply runs, in both languages, and the reply is not harmed', async () => {
  const s = startServices();
  hold.hold();
  try {
    const model = await s.call('models.add', {path: await tinyModelPath()});
    const c = await s.call('consultations.create', {modelId: model.id});
    await s.call('consultations.update', {id: c.id, sampling: {maxTokens: 16, temperature: 0, seed: 1}});
    const {assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '头痛三天'});
    await waitFor(() => s.events.some((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id), 30_000, 'first delta');
    const refused = await s.callRaw('engine.unload', {});
    assert.equal(refused.ok, false, 'refused while replying');
    if (!refused.ok) {
      assert.equal(refused.error.code, 'busy');
      assert.match(refused.error.message.zh, /正在生成回复/, refused.error.message.zh);
      assert.match(refused.error.message.en, /busy with a reply/, refused.error.message.en);
    }
    hold.release();
    const reply = await waitFor(() => {
      const e = s.events.find((x) => x.type === 'chat.finished' && x.message.id === assistantMessage.id);
      return e?.type === 'chat.finished' ? e.message : undefined;
    }, 60_000, 'reply');
    assert.equal(reply.status, 'complete', 'the reply finished');
    assert.equal((await s.call('engine.unload', {})).loadedModelId, null, 'unloads once idle');
  } finally {
    hold.release();
    await s.close();
  }
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

test('models.search asks the configured endpoint (a loopback stand-in for the HF API)', async () => {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/mirror/api/models') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {'content-type': 'application/json'});
    res.end(
      JSON.stringify([
        {
          id: 'someone/Med-Chat-GGUF',
          downloads: 12,
          likes: 3,
          siblings: [{rfilename: 'README.md'}, {rfilename: 'med-chat.Q4_K_M.gguf'}, {rfilename: 'med-chat.Q8_0.gguf'}],
        },
        {id: 'not a repo id'},
        {modelId: 'other/NoFiles-GGUF'},
      ]),
    );
  });
  const base = await listen(server);
  const s = startServices();
  try {
    await s.call('settings.update', {hfEndpoint: `${base}/mirror/`});
    assert.equal(requests.length, 0, 'nothing is asked before the person searches');
    const result = await s.call('models.search', {query: '医学 med'});
    assert.equal(result.endpoint, `${base}/mirror`);
    assert.equal(requests.length, 1, 'one request');
    const asked = new URL(requests[0]!, 'http://x');
    assert.equal(asked.searchParams.get('search'), '医学 med', 'the query is passed on');
    assert.equal(asked.searchParams.get('filter'), 'gguf', 'GGUF repositories only');
    assert.deepEqual(result.repos, [
      {repo: 'someone/Med-Chat-GGUF', downloads: 12, likes: 3, files: ['med-chat.Q4_K_M.gguf', 'med-chat.Q8_0.gguf']},
      {repo: 'other/NoFiles-GGUF', downloads: null, likes: null, files: []},
    ]);

    // an HTTP error and an endpoint that is not there both say so, in both languages
    await s.call('settings.update', {hfEndpoint: `${base}/elsewhere`});
    const notFound = await s.callRaw('models.search', {query: 'qwen'});
    assert.equal(notFound.ok, false, 'HTTP 404 fails');
    if (!notFound.ok) {
      assert.match(notFound.error.message.zh, /无法搜索.*HTTP 404/, notFound.error.message.zh);
      assert.match(notFound.error.message.en, /Could not search.*HTTP 404/, notFound.error.message.en);
    }
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const down = await s.callRaw('models.search', {query: 'qwen'});
    assert.equal(down.ok, false, 'closed endpoint fails');
    if (!down.ok) {
      assert.equal(down.error.code, 'io');
      assert.match(down.error.message.zh, /无法搜索.*连接失败/, down.error.message.zh);
      assert.match(down.error.message.en, /Could not search.*connection failed/, down.error.message.en);
    }
  } finally {
    server.close();
    await s.close();
  }
});

test('models.catalog lists the curated GGUFs with this machine memory, without the network', async () => {
  const s = startServices();
  try {
    const catalog = await s.call('models.catalog', {});
    assert.ok(catalog.entries.length >= 5, 'entries');
    assert.ok(catalog.entries.every((e) => e.source.startsWith('hf:') && e.source.endsWith('.gguf')), 'hf: sources');
    assert.ok(catalog.entries.some((e) => e.family === 'medical'), 'a medical model');
    assert.ok(catalog.machine.totalMemoryBytes > 0, 'memory known');
  } finally {
    await s.close();
  }
});
