// `zhongjing serve` as a real process: token on every route and the event socket, 127.0.0.1
// only, and a consultation driven over HTTP + WebSocket exactly as the browser UI does.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {statSync} from 'node:fs';
import {request} from 'node:http';
import {join} from 'node:path';
import {connect} from 'node:net';
import WebSocket from 'ws';
import {methodNames, type ApiEvent} from '../../main/common/contract.js';
import {runCli, startServe} from '../helpers/cli.js';
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
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff', 'static answers are not sniffed');
  // every API answer forbids MIME sniffing, whatever its status
  for (const [what, answer] of Object.entries({
    ok: await fetch(`${serve.base}/api/app.info`, {method: 'POST', headers: {Authorization: `Bearer ${serve.token}`}, body: '{}'}),
    unauthorized: await fetch(`${serve.base}/api/app.info`, {method: 'POST', body: '{}'}),
    badJson: await fetch(`${serve.base}/api/app.info`, {method: 'POST', headers: {Authorization: `Bearer ${serve.token}`}, body: '{oops'}),
    unknown: await fetch(`${serve.base}/api/no.such`, {method: 'POST', headers: {Authorization: `Bearer ${serve.token}`}, body: '{}'}),
    get: await fetch(`${serve.base}/api/app.info`, {headers: {Authorization: `Bearer ${serve.token}`}}),
  })) {
    assert.equal(answer.headers.get('x-content-type-options'), 'nosniff', what);
    await answer.body?.cancel();
  }
});

/** One raw HTTP/1.1 exchange on a fresh socket: what the server wrote, and how the socket ended. */
function rawExchange(port: number, head: string, body: Buffer | Buffer[]): Promise<{response: string; ending: string}> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let response = '';
    let ending = '';
    const timer = setTimeout(() => {
      ending ||= 'still open after 5 s';
      socket.destroy();
    }, 5_000);
    socket.on('data', (chunk) => (response += chunk.toString('latin1')));
    socket.on('end', () => (ending ||= 'end'));
    socket.on('error', (error: NodeJS.ErrnoException) => (ending ||= `error ${error.code}`));
    socket.on('close', () => {
      clearTimeout(timer);
      resolve({response, ending});
    });
    socket.write(head);
    for (const part of Array.isArray(body) ? body : [body]) socket.write(part);
  });
}

test('serve: a body over 8 MB gets a 413 and a cleanly closed connection, declared or chunked', async (t) => {
  const dir = tempDir();
  const serve = await startServe(['--data-dir', dir.path]);
  t.after(async () => {
    await serve.stop();
    dir.cleanup();
  });
  const port = Number(new URL(serve.base).port);
  const big = Buffer.alloc(9 * 1024 * 1024, 0x20);
  const headers = `Host: 127.0.0.1:${port}\r\nAuthorization: Bearer ${serve.token}\r\nContent-Type: application/json\r\n`;
  const declared = await rawExchange(port, `POST /api/app.info HTTP/1.1\r\n${headers}Content-Length: ${big.length}\r\n\r\n`, big);
  const chunks = [big.subarray(0, 5 << 20), big.subarray(5 << 20)].map((part) => Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]));
  const chunked = await rawExchange(port, `POST /api/app.info HTTP/1.1\r\n${headers}Transfer-Encoding: chunked\r\n\r\n`, [...chunks, Buffer.from('0\r\n\r\n')]);
  for (const [what, {response, ending}] of Object.entries({declared, chunked})) {
    assert.match(response, /^HTTP\/1\.1 413 /, `${what}: 413`);
    assert.match(response, /\r\nconnection: close\r\n/i, `${what}: the answer says the connection closes`);
    assert.doesNotMatch(response, /keep-alive/i, `${what}: no keep-alive promised`);
    assert.match(response, /\r\nx-content-type-options: nosniff\r\n/i, `${what}: nosniff`);
    assert.match(response, /"code":"message_too_long"/, `${what}: the error in the body`);
    assert.equal(ending, 'end', `${what}: the server closed the connection cleanly (no reset, not left open)`);
  }
  // and the server still answers
  assert.equal((await post(serve.base, 'app.info', {}, serve.token)).status, 200);
});

test('serve: ZHONGJING_TOKEN must carry at least 128 bits (32 hex or 22 base64url characters)', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  for (const weak of ['a', '', '0123456789abcdef0123456789abcde' /* 31 hex */, 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'Abc-_123Abc-_123Abc-_', 'abcdefghijklmnopqrstuvwxyz/+=']) {
    const refused = runCli(['serve', '--port', '0', '--data-dir', dir.path], {env: {ZHONGJING_TOKEN: weak, LANG: 'en_US.UTF-8', ZHONGJING_LANG: 'en'}});
    assert.equal(refused.status, 2, `token ${JSON.stringify(weak)} is refused: ${refused.stderr}`);
    assert.match(refused.stderr, /ZHONGJING_TOKEN is too weak.*128 bits.*32 hexadecimal.*22 base64url/, weak);
    assert.equal(refused.stdout, '', 'nothing was served');
  }
  const zh = runCli(['serve', '--port', '0', '--data-dir', dir.path], {env: {ZHONGJING_TOKEN: 'a', ZHONGJING_LANG: 'zh-CN'}});
  assert.match(zh.stderr, /ZHONGJING_TOKEN 太弱.*128 位随机性/);

  // 32 hex characters (128 bits) are enough, and that token is the one required
  const strong = '0123456789abcdef0fedcba987654321';
  const serve = await startServe(['--data-dir', dir.path], {env: {ZHONGJING_TOKEN: strong}});
  t.after(() => serve.stop());
  assert.equal(serve.token, strong);
  assert.equal((await post(serve.base, 'app.info', {}, strong)).status, 200);
  assert.equal((await post(serve.base, 'app.info', {}, strong.slice(0, -1))).status, 401);
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

test('serve: the token is kept in the data directory (0600), so a restart keeps the URL; --new-token replaces it', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const first = await startServe(['--data-dir', dir.path]);
  // killed, as a crash would: the next start is still the same address for every open tab
  first.child.kill('SIGKILL');
  await new Promise((done) => first.child.once('exit', done));
  const second = await startServe(['--data-dir', dir.path]);
  assert.equal(second.token, first.token);
  assert.equal((await post(second.base, 'app.info', {}, first.token)).status, 200);
  await second.stop();
  const file = join(dir.path, 'secrets', 'serve-token.key');
  if (process.platform !== 'win32') assert.equal(statSync(file).mode & 0o777, 0o600);
  const third = await startServe(['--data-dir', dir.path, '--new-token']);
  t.after(() => third.stop());
  assert.notEqual(third.token, first.token);
  assert.equal((await post(third.base, 'app.info', {}, first.token)).status, 401, 'the old URL stops working');
  assert.equal((await post(third.base, 'app.info', {}, third.token)).status, 200);
});
