// A consultation answered by an OpenAI-compatible endpoint instead of a local GGUF: `zhongjing
// serve` with the tiny model plays the remote (its /v1 face, its token as the API key), and a
// second workstation (Services on another data directory, no local model at all) adds it, tests
// the connection, chats, stops; the key is kept out of SQLite, in a 0600 file in a 0700 folder.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, readdirSync, statSync} from 'node:fs';
import {join} from 'node:path';
import type {Message} from '../../main/common/contract.js';
import {startServe} from '../helpers/cli.js';
import {replyHold} from '../helpers/hold.js';
import {startServices, waitFor} from '../helpers/services.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

test('a consultation answered by zhongjing serve /v1 as a remote endpoint; the key stays out of SQLite', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const hold = replyHold(dir.path);
  const serve = await startServe(['--data-dir', join(dir.path, 'remote'), '--model', await tinyModelPath()], {env: hold.env});
  t.after(() => serve.stop());
  const s = startServices();
  t.after(() => s.close());
  const finished = (messageId: string) =>
    waitFor(
      () => {
        const event = s.events.find((e) => e.type === 'chat.finished' && e.message.id === messageId);
        return event?.type === 'chat.finished' ? event.message : undefined;
      },
      60_000,
      `reply ${messageId}`,
    );

  // the connection test, with the right key and with a wrong one
  const endpoint = await s.call('remotes.add', {name: '院内 llama-server', baseUrl: `${serve.base}/v1/`, model: 'default', apiKey: serve.token});
  assert.equal(endpoint.baseUrl, `${serve.base}/v1`, 'stored without the trailing slash');
  assert.equal(endpoint.hasKey, true);
  assert.equal(endpoint.keyStorage, 'file', 'plain Node has no keychain');
  assert.equal((await s.call('app.info', {})).remoteKeyStorage, 'file');
  assert.equal(JSON.stringify(endpoint).includes(serve.token), false, 'the key never crosses the API');
  const ok = await s.call('remotes.test', {id: endpoint.id});
  assert.equal(ok.ok, true);
  assert.equal(ok.models.length, 1, 'the tiny model');
  assert.equal(ok.modelListed, true, 'another zhongjing serve answers to "default" (no warning that it is not listed)');
  assert.ok(ok.latencyMs >= 0);
  const wrong = await s.call('remotes.add', {name: 'wrong key', baseUrl: `${serve.base}/v1`, model: 'default', apiKey: 'x'.repeat(48)});
  const refused = await s.callRaw('remotes.test', {id: wrong.id});
  assert.equal(!refused.ok && refused.error.code, 'remote_error');
  assert.ok(!refused.ok && /401/.test(refused.error.message.en) && /unauthorised/.test(refused.error.message.en) && /密钥/.test(refused.error.message.zh), JSON.stringify(!refused.ok && refused.error));
  const nowhere = await s.call('remotes.add', {name: 'nowhere', baseUrl: 'http://127.0.0.1:9/v1', model: 'm'});
  assert.equal(nowhere.hasKey, false);
  const unreachable = await s.callRaw('remotes.test', {id: nowhere.id});
  assert.equal(!unreachable.ok && unreachable.error.code, 'remote_unreachable');
  const badUrl = await s.callRaw('remotes.add', {name: 'ftp', baseUrl: 'ftp://10.0.0.1/v1', model: 'm'});
  assert.equal(!badUrl.ok && badUrl.error.code, 'validation');
  const sameName = await s.callRaw('remotes.add', {name: 'nowhere', baseUrl: 'http://10.0.0.1/v1', model: 'm'});
  assert.equal(!sameName.ok && sameName.error.code, 'validation');

  // a consultation with no local model at all, answered remotely
  const c = await s.call('consultations.create', {modelId: null});
  const noModel = await s.callRaw('chat.send', {consultationId: c.id, text: '你好'});
  assert.equal(!noModel.ok && noModel.error.code, 'model_required');
  const updated = await s.call('consultations.update', {id: c.id, remoteEndpointId: endpoint.id, sampling: {maxTokens: 16, temperature: 0, seed: 3}});
  assert.equal(updated.remoteEndpointId, endpoint.id);
  assert.equal((await s.call('consultations.list', {})).find((x) => x.id === c.id)?.remoteEndpointId, endpoint.id);
  const {assistantMessage} = await s.call('chat.send', {consultationId: c.id, text: '我头痛三天了'});
  assert.deepEqual(assistantMessage.meta.remote, {endpointId: endpoint.id, name: '院内 llama-server', model: 'default'});
  const reply: Message = await finished(assistantMessage.id);
  t.diagnostic(`remote reply: ${JSON.stringify(reply.content)} ${JSON.stringify(reply.meta)}`);
  assert.equal(reply.status, 'complete');
  assert.ok(reply.content.length > 0);
  const deltas = s.events.filter((e) => e.type === 'chat.delta' && e.messageId === assistantMessage.id);
  assert.ok(deltas.length >= 1, 'streamed as chat.delta events');
  assert.equal(deltas.map((e) => (e.type === 'chat.delta' ? e.delta : '')).join(''), reply.content);
  assert.deepEqual(reply.meta.remote, {endpointId: endpoint.id, name: '院内 llama-server', model: 'default'});
  assert.ok(['maxTokens', 'eogToken'].includes(reply.meta.stopReason ?? ''));
  assert.ok((reply.meta.completionTokens ?? 0) > 0, 'usage from the stream');
  const stored = (await s.call('consultations.get', {id: c.id})).messages.find((m) => m.id === assistantMessage.id)!;
  assert.equal(stored.content, reply.content, 'stored like a local reply');
  assert.equal(stored.meta.modelId, undefined);

  // regenerate goes remote too
  const again = await s.call('chat.regenerate', {consultationId: c.id, messageId: assistantMessage.id});
  const second = await finished(again.assistantMessage.id);
  assert.equal(second.status, 'complete');
  assert.equal(second.content, reply.content, 'greedy with the same seed');

  // stop: the remote holds its reply once it has text; stopping keeps what came
  await s.call('consultations.update', {id: c.id, sampling: {maxTokens: 4000}});
  hold.hold();
  try {
    const long = await s.call('chat.send', {consultationId: c.id, parentId: second.id, text: '请详细介绍高血压的治疗'});
    await waitFor(() => s.events.some((e) => e.type === 'chat.delta' && e.messageId === long.assistantMessage.id), 30_000, 'first remote delta');
    assert.deepEqual(await s.call('chat.stop', {consultationId: c.id}), {stopped: true});
    const stopped = await finished(long.assistantMessage.id);
    assert.equal(stopped.status, 'stopped');
    assert.equal(stopped.meta.stopReason, 'abort');
    assert.ok(stopped.content.length > 0, 'the partial reply is kept');
  } finally {
    hold.release();
  }

  // the key: nowhere in the SQLite file (nor its WAL), in a 0600 file in a 0700 folder
  await s.services.store.db.pragma('wal_checkpoint(TRUNCATE)');
  for (const name of readdirSync(s.dataDir).filter((f) => f.startsWith('zhongjing.sqlite'))) {
    const bytes = readFileSync(join(s.dataDir, name));
    assert.equal(bytes.includes(Buffer.from(serve.token)), false, `the key is not in ${name}`);
    assert.equal(bytes.includes(Buffer.from('x'.repeat(48))), false, `the wrong key is not in ${name}`);
  }
  const secrets = join(s.dataDir, 'secrets');
  assert.equal(statSync(secrets).mode & 0o777, 0o700);
  const keyFile = join(secrets, `remote-${endpoint.id}.key`);
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  assert.equal(readFileSync(keyFile, 'utf8'), serve.token);

  // removing the endpoint removes its key; the consultation keeps its replies and goes local again
  await s.call('remotes.remove', {id: endpoint.id});
  assert.throws(() => statSync(keyFile), /ENOENT/);
  const after = await s.call('consultations.get', {id: c.id});
  assert.equal(after.remoteEndpointId, null);
  assert.ok(after.messages.some((m) => m.meta.remote?.endpointId === endpoint.id), 'old replies still say they were remote');
});
