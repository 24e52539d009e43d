// The OpenAI-compatible client against a hand-made loopback server: server-sent events split across
// writes and with CRLF line ends, finish_reason length, usage, an error answer, an error in the
// middle of a stream, and stop; and the secret stores' files.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {createServer, type IncomingMessage, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {existsSync, readFileSync, statSync} from 'node:fs';
import {join} from 'node:path';
import {chatStream, listModels} from '../../main/node/remote/openai-client.js';
import {EncryptedSecretStore, FileSecretStore} from '../../main/node/remote/secrets.js';
import {DEFAULT_SAMPLING} from '../../main/common/contract.js';
import {AppError} from '../../main/common/errors.js';
import {tempDir} from '../helpers/tmp.js';

async function serve(handler: (req: IncomingMessage, res: ServerResponse, body: string) => void) {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => handler(req, res, body));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`, close: () => new Promise<void>((r) => server.close(() => r()))};
}

const request = {systemPrompt: '你是医生', turns: [{role: 'user' as const, content: '头痛'}], sampling: {...DEFAULT_SAMPLING, seed: 5}};
const chunk = (content: string | null, finish: string | null = null) => `data: ${JSON.stringify({choices: [{delta: content === null ? {} : {content}, finish_reason: finish}]})}`;

test('chatStream: split events, CRLF, finish_reason length, usage, and what was sent', async (t) => {
  let sent: Record<string, unknown> = {};
  let auth = '';
  const server = await serve(async (req, res, body) => {
    sent = JSON.parse(body) as Record<string, unknown>;
    auth = req.headers.authorization ?? '';
    res.writeHead(200, {'content-type': 'text/event-stream'});
    const whole = `: keep-alive\r\n\r\n${chunk('头')}\r\n\r\n${chunk('痛三')}\n\n${chunk('天', 'length')}\n\ndata: ${JSON.stringify({choices: [], usage: {prompt_tokens: 12, completion_tokens: 3}})}\n\ndata: [DONE]\n\n`;
    for (let i = 0; i < whole.length; i += 7) {
      res.write(whole.slice(i, i + 7));
      await new Promise((r) => setTimeout(r, 1));
    }
    res.end();
  });
  t.after(() => server.close());
  const deltas: string[] = [];
  const result = await chatStream({name: 'n', baseUrl: server.base, model: 'm1'}, 'sk-test', request, {onText: (d) => deltas.push(d), signal: new AbortController().signal});
  assert.deepEqual(deltas, ['头', '痛三', '天']);
  assert.equal(result.text, '头痛三天');
  assert.equal(result.stopReason, 'maxTokens');
  assert.equal(result.promptTokens, 12);
  assert.equal(result.completionTokens, 3);
  assert.equal(auth, 'Bearer sk-test');
  assert.equal(sent.model, 'm1');
  assert.equal(sent.stream, true);
  assert.equal(sent.seed, 5);
  assert.equal(sent.max_tokens, DEFAULT_SAMPLING.maxTokens);
  assert.deepEqual(sent.messages, [{role: 'system', content: '你是医生'}, {role: 'user', content: '头痛'}]);
});

test('chatStream and listModels: HTTP errors, an error mid-stream, an unreachable server, and stop', async (t) => {
  let mode = '';
  const server = await serve((_req, res) => {
    if (mode === '500') return void res.writeHead(500, {'content-type': 'application/json'}).end(JSON.stringify({error: {message: 'CUDA out of memory'}}));
    if (mode === '401') return void res.writeHead(401).end('Unauthorized');
    res.writeHead(200, {'content-type': 'text/event-stream'});
    res.write(`${chunk('部分')}\n\n`);
    if (mode === 'mid') return void res.end(`data: ${JSON.stringify({error: {message: 'worker died'}})}\n\n`);
    // 'stall': never ends until the client goes away
  });
  t.after(() => server.close());
  const endpoint = {name: '网关', baseUrl: server.base, model: 'm'};
  const signal = new AbortController().signal;
  const noop = () => undefined;

  mode = '500';
  await assert.rejects(chatStream(endpoint, null, request, {onText: noop, signal}), (e: AppError) => {
    assert.equal(e.code, 'remote_error');
    assert.match(e.localised.en, /HTTP 500.*CUDA out of memory/);
    assert.match(e.localised.zh, /网关.*HTTP 500/);
    return true;
  });
  mode = '401';
  await assert.rejects(listModels(endpoint, 'bad'), (e: AppError) => e.code === 'remote_error' && /refused the API key/.test(e.localised.en));
  mode = 'mid';
  await assert.rejects(chatStream(endpoint, null, request, {onText: noop, signal}), (e: AppError) => e.code === 'remote_error' && /worker died/.test(e.localised.en));
  mode = 'stall';
  const controller = new AbortController();
  const deltas: string[] = [];
  const pending = chatStream(endpoint, null, request, {onText: (d) => (deltas.push(d), controller.abort()), signal: controller.signal});
  const stopped = await pending;
  assert.equal(stopped.stopReason, 'abort');
  assert.equal(stopped.text, '部分');

  await assert.rejects(listModels({name: 'x', baseUrl: 'http://127.0.0.1:9/v1', model: 'm'}, null), (e: AppError) => e.code === 'remote_unreachable' && /Cannot reach/.test(e.localised.en));
});

test('secret stores: a 0600 file in a 0700 folder; the keychain store writes only ciphertext', () => {
  const dir = tempDir();
  try {
    const files = new FileSecretStore(join(dir.path, 'secrets'));
    assert.equal(files.kind, 'file');
    assert.equal(files.get('remote-a'), null);
    files.set('remote-a', 'sk-123');
    assert.equal(files.get('remote-a'), 'sk-123');
    if (process.platform !== 'win32') {
      assert.equal(statSync(join(dir.path, 'secrets')).mode & 0o777, 0o700);
      assert.equal(statSync(files.file('remote-a')).mode & 0o777, 0o600);
    }
    files.delete('remote-a');
    assert.equal(existsSync(files.file('remote-a')), false);
    assert.throws(() => files.set('../escape', 'x'), /invalid secret name/);

    const xor = (b: Buffer) => Buffer.from(b.map((x) => x ^ 0x5a));
    const keychain = new EncryptedSecretStore(join(dir.path, 'enc'), {encrypt: (text) => xor(Buffer.from(text)), decrypt: (data) => xor(data).toString()});
    assert.equal(keychain.kind, 'keychain');
    keychain.set('remote-b', 'sk-secret');
    assert.equal(keychain.get('remote-b'), 'sk-secret');
    assert.equal(readFileSync(join(dir.path, 'enc', 'remote-b.enc')).includes(Buffer.from('sk-secret')), false, 'only ciphertext on disk');
  } finally {
    dir.cleanup();
  }
});
