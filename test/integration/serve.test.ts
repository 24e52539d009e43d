// `zhongjing serve` as a real process: token on every route and the event socket, 127.0.0.1
// only, and a consultation driven over HTTP + WebSocket exactly as the browser UI does.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {request} from 'node:http';
import WebSocket from 'ws';
import {methodNames, type ApiEvent} from '../../main/common/contract.js';
import {startServe} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

async function post(base: string, method: string, body: unknown, token: string | null, headers: Record<string, string> = {}) {
  const response = await fetch(`${base}/api/${method}`, {
    method: 'POST',
    headers: {'Content-Type': 'application/json', ...(token === null ? {} : {Authorization: `Bearer ${token}`}), ...headers},
    body: JSON.stringify(body),
  });
  return {status: response.status, body: (await response.json()) as {ok: boolean; result?: any; error?: any}};
}

function openEvents(base: string, token: string): Promise<{socket: WebSocket; events: ApiEvent[]}> {
  const socket = new WebSocket(`${base.replace('http', 'ws')}/api/events?token=${token}`);
  const events: ApiEvent[] = [];
  socket.on('message', (data) => events.push(JSON.parse(String(data)) as ApiEvent));
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve({socket, events}));
    socket.once('unexpected-response', (_req, res) => reject(Object.assign(new Error('refused'), {status: res.statusCode})));
    socket.once('error', reject);
  });
}

test('serve: 401 without the right token on every route and the event socket; 127.0.0.1 only', async (t) => {
  const dir = tempDir();
  const serve = await startServe(['--data-dir', dir.path]);
  t.after(async () => {
    await serve.stop();
    dir.cleanup();
  });
  const first = performance.now();
  const info = await post(serve.base, 'app.info', {}, serve.token);
  t.diagnostic(`serve start → URL printed: ${serve.startedInMs.toFixed(0)} ms; first API answer after ${(serve.startedInMs + performance.now() - first).toFixed(0)} ms`);
  assert.equal(info.status, 200);
  assert.equal(info.body.ok, true);

  for (const method of methodNames) {
    for (const token of [null, 'wrong', `${serve.token}x`, serve.token.slice(0, -1)]) {
      const answer = await post(serve.base, method, {}, token);
      assert.equal(answer.status, 401, `${method} with token ${token}`);
      assert.equal(answer.body.error.code, 'unauthorized');
    }
  }
  // the token in the query string is for the event socket only
  const viaQuery = await fetch(`${serve.base}/api/app.info?token=${serve.token}`, {method: 'POST', body: '{}'});
  assert.equal(viaQuery.status, 401);

  for (const token of ['', 'wrong']) {
    await assert.rejects(openEvents(serve.base, token), (error: {status?: number}) => error.status === 401);
  }
  const {socket} = await openEvents(serve.base, serve.token);
  socket.close();

  // a page on another origin cannot use the API even with the token (it cannot read it anyway)
  const crossOrigin = await post(serve.base, 'app.info', {}, serve.token, {Origin: 'http://evil.example'});
  assert.equal(crossOrigin.status, 401);
  // DNS rebinding: a foreign Host header is refused
  const rebinding = await new Promise<number>((resolve) => {
    const req = request(`${serve.base}/api/app.info`, {method: 'POST', headers: {Host: 'evil.example', Authorization: `Bearer ${serve.token}`}}, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.end('{}');
  });
  assert.equal(rebinding, 403);

  // listens on loopback only
  const port = Number(new URL(serve.base).port);
  const {networkInterfaces} = await import('node:os');
  const external = Object.values(networkInterfaces()).flat().find((a) => a && a.family === 'IPv4' && !a.internal);
  if (external) {
    await assert.rejects(fetch(`http://${external.address}:${port}/`, {signal: AbortSignal.timeout(3000)}));
  } else t.diagnostic('no external IPv4 interface here; loopback-only binding checked by address only');

  const unknown = await post(serve.base, 'no.such', {}, serve.token);
  assert.equal(unknown.status, 404);
  const badJson = await fetch(`${serve.base}/api/app.info`, {method: 'POST', headers: {Authorization: `Bearer ${serve.token}`}, body: '{oops'});
  assert.equal(badJson.status, 400);
  const page = await fetch(`${serve.base}/`);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
});

test('serve: a consultation over HTTP with the reply streamed on the WebSocket', async (t) => {
  const dir = tempDir();
  const serve = await startServe(['--data-dir', dir.path, '--model', await tinyModelPath()]);
  t.after(async () => {
    await serve.stop();
    dir.cleanup();
  });
  const {socket, events} = await openEvents(serve.base, serve.token);
  t.after(() => socket.close());
  const created = await post(serve.base, 'consultations.create', {title: '发热'}, serve.token);
  assert.equal(created.body.ok, true);
  const id = created.body.result.id as string;
  assert.ok(created.body.result.modelId, '--model became the default model');
  await post(serve.base, 'consultations.update', {id, sampling: {maxTokens: 32, temperature: 0}}, serve.token);
  const sent = await post(serve.base, 'chat.send', {consultationId: id, text: '孩子发烧39度怎么办？'}, serve.token);
  assert.equal(sent.body.ok, true, JSON.stringify(sent.body));
  const assistantId = sent.body.result.assistantMessage.id as string;
  const deadline = Date.now() + 60_000;
  while (!events.some((e) => e.type === 'chat.finished' && e.message.id === assistantId) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 20));
  const finished = events.find((e) => e.type === 'chat.finished' && e.message.id === assistantId);
  assert.ok(finished && finished.type === 'chat.finished');
  const streamed = events.filter((e) => e.type === 'chat.delta' && e.messageId === assistantId).map((e) => (e.type === 'chat.delta' ? e.delta : '')).join('');
  assert.equal(streamed, finished.message.content);
  assert.equal(finished.message.status, 'complete');

  const tooBig = await post(serve.base, 'chat.send', {consultationId: id, text: '痛'.repeat(350_000)}, serve.token);
  assert.equal(tooBig.body.error.code, 'message_too_long');

  const exported = await post(serve.base, 'consultations.export', {id, format: 'markdown'}, serve.token);
  assert.match(exported.body.result.content, /孩子发烧39度怎么办？/);
});
