// `zhongjing serve`: the API contract over HTTP + WebSocket, for a browser on this machine, for a
// remote GPU box reached through an SSH tunnel, and for the UI tests. Listens on 127.0.0.1 only;
// every API route and the event socket require the random token printed at start (as Jupyter).

import {randomBytes, timingSafeEqual} from 'node:crypto';
import {createReadStream, existsSync, statSync} from 'node:fs';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {extname, join, normalize, sep} from 'node:path';
import {WebSocketServer, type WebSocket} from 'ws';
import {AppError} from '../common/errors.js';
import {HTTP_API_PREFIX, HTTP_EVENTS_PATH, type CallEnvelope} from '../common/wire.js';
import type {Dispatch} from '../node/api/handlers.js';
import type {EventBus} from '../node/services/event-bus.js';
import {finishReason, OpenAiError, type OpenAiCompat} from '../node/services/openai-compat.js';
import {CONTENT_SECURITY_POLICY} from '../common/csp.js';

/** Large enough for a 1 MB pasted message to reach validation and get a clear answer. */
const MAX_BODY_BYTES = 8 * 1024 * 1024;
/** A body over the limit is still read to its end, up to this much more, and thrown away before
 * the 413 is sent: a socket closed with unread bytes makes the kernel answer with a reset, and
 * the client may lose the 413. Past this, the connection is cut. */
const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;
const HOST = '127.0.0.1';

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};

export interface ServeOptions {
  dispatch: Dispatch;
  bus: EventBus;
  /** built renderer (dist/renderer); null serves the API only */
  staticDir: string | null;
  port: number;
  token?: string;
  /** the OpenAI-compatible /v1 routes (absent: none) */
  openai?: OpenAiCompat;
}

export interface RunningServer {
  url: string;
  port: number;
  token: string;
  server: Server;
  close(): Promise<void>;
}

export function newToken(): string {
  return randomBytes(24).toString('hex');
}

/** A token given by the user (ZHONGJING_TOKEN) must carry at least 128 bits of randomness. We
 * cannot measure randomness, so the rule is on its shape: only URL-safe characters (A–Z a–z 0–9
 * - _, it goes into the URL), at least 32 characters if they are all hexadecimal (4 bits each),
 * at least 22 otherwise (base64url, 6 bits each), and at least 8 different characters. */
export function checkToken(token: string): void {
  const hex = /^[0-9a-fA-F]*$/.test(token);
  const minimum = hex ? 32 : 22;
  if (/^[A-Za-z0-9_-]*$/.test(token) && token.length >= minimum && new Set(token).size >= 8) return;
  throw new AppError('validation', {
    zh:
      `ZHONGJING_TOKEN 太弱或含有不允许的字符（长度 ${token.length}）：令牌至少要有 128 位随机性——32 个以上的十六进制字符，` +
      '或 22 个以上的 base64url 字符（A–Z a–z 0–9 - _），且至少 8 种不同字符。可用 `openssl rand -hex 16` 生成；不设置它则由 serve 随机生成。',
    en:
      `ZHONGJING_TOKEN is too weak or has characters that are not allowed (length ${token.length}): a token needs at least 128 bits of randomness — ` +
      'at least 32 hexadecimal characters, or at least 22 base64url characters (A–Z a–z 0–9 - _), with at least 8 different characters. ' +
      'Make one with `openssl rand -hex 16`, or leave it unset and serve picks a random one.',
  });
}

function tokensMatch(given: string | null | undefined, expected: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const UNAUTHORIZED = new AppError('unauthorized', {
  zh: '令牌缺失或错误：请打开 zhongjing serve 启动时打印的网址。',
  en: 'Missing or wrong token: open the URL printed by zhongjing serve.',
});

// a page of another site calling in with a stolen or right token: say that, not "wrong token"
const FOREIGN_ORIGIN = new AppError('unauthorized', {
  zh: '拒绝来自其他网站（Origin）的请求：只有 zhongjing serve 自己的页面可以调用此接口。',
  en: 'Refused a request from another site (Origin): only zhongjing serve’s own page may call this interface.',
});

function sendJson(res: ServerResponse, status: number, body: CallEnvelope | object, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(data),
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    ...headers,
  });
  res.end(data);
}

/** A page on another site must not reach us through DNS rebinding: only our own host names. */
function hostAllowed(req: IncomingMessage, port: number): boolean {
  const host = req.headers.host;
  return host === `${HOST}:${port}` || host === `localhost:${port}`;
}

function originAllowed(req: IncomingMessage, port: number): boolean {
  const origin = req.headers.origin;
  return origin === undefined || origin === `http://${HOST}:${port}` || origin === `http://localhost:${port}`;
}

function bearer(req: IncomingMessage): string | null {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7) : null;
}

const TOO_LARGE = new AppError('message_too_long', {zh: '请求体过大（上限 8 MB）。', en: 'Request body too large (limit 8 MB).'});

type Body = {text: string} | {tooLarge: true; drained: boolean};

/** The body as text; a body over MAX_BODY_BYTES is read on and thrown away (see
 * DRAIN_LIMIT_BYTES) and reported as too large. Rejects when the client goes away. */
function readBody(req: IncomingMessage): Promise<Body> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = Number(req.headers['content-length']) > MAX_BODY_BYTES;
    const stop = (body: Body) => {
      req.off('end', onEnd);
      resolve(body);
    };
    const onEnd = () => stop(tooLarge ? {tooLarge: true, drained: true} : {text: Buffer.concat(chunks).toString('utf8')});
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      if (!tooLarge) chunks.push(chunk);
      else if (size > MAX_BODY_BYTES + DRAIN_LIMIT_BYTES) stop({tooLarge: true, drained: false});
    });
    req.on('end', onEnd);
    req.on('error', reject);
    req.on('aborted', () => reject(new Error('request aborted')));
  });
}

function serveStatic(res: ServerResponse, staticDir: string | null, urlPath: string): void {
  const headers = {
    'Content-Security-Policy': CONTENT_SECURITY_POLICY,
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    'Cross-Origin-Opener-Policy': 'same-origin',
  };
  if (!staticDir || !existsSync(join(staticDir, 'index.html'))) {
    res.writeHead(503, {...headers, 'Content-Type': 'text/plain; charset=utf-8'});
    res.end('界面尚未构建：请先运行 npm run build。\nThe UI is not built yet: run npm run build first.\n');
    return;
  }
  let relative: string;
  try {
    relative = normalize(decodeURIComponent(urlPath)).replace(/^([/\\])+/, '');
  } catch {
    relative = '';
  }
  let file = join(staticDir, relative || 'index.html');
  if (!file.startsWith(staticDir + sep) || !existsSync(file) || statSync(file).isDirectory()) {
    // unknown paths get the app shell (client-side screens), never a file outside staticDir
    file = join(staticDir, 'index.html');
  }
  const type = MIME[extname(file)] ?? 'application/octet-stream';
  res.writeHead(200, {...headers, 'Content-Type': type, 'Cache-Control': type.startsWith('text/html') ? 'no-store' : 'max-age=3600'});
  createReadStream(file).pipe(res);
}

/** The OpenAI-compatible routes: the same token (as the API key), loopback and Host rules as the
 * API; errors in OpenAI's shape so any OpenAI client reports them properly. */
async function serveOpenAi(req: IncomingMessage, res: ServerResponse, path: string, openai: OpenAiCompat | undefined, token: string, port: number): Promise<void> {
  const fail = (error: OpenAiError) => sendJson(res, error.status, error.body());
  if (!openai) return fail(new OpenAiError(404, 'No OpenAI-compatible routes on this server.', 'invalid_request_error'));
  if (!tokensMatch(bearer(req), token) || !originAllowed(req, port))
    return fail(new OpenAiError(401, 'Missing or wrong API key: use the token printed by zhongjing serve.', 'invalid_request_error', 'invalid_api_key'));
  if (path === '/v1/models' && req.method === 'GET') return sendJson(res, 200, openai.models());
  if (path !== '/v1/chat/completions') return fail(new OpenAiError(404, `Unknown route ${path}.`, 'invalid_request_error'));
  if (req.method !== 'POST') return fail(new OpenAiError(405, 'Only POST is accepted.', 'invalid_request_error'));
  let body: Body;
  try {
    body = await readBody(req);
  } catch {
    return void req.socket.destroy();
  }
  if ('tooLarge' in body) {
    sendJson(res, 413, new OpenAiError(413, 'Request body too large (limit 8 MB).', 'invalid_request_error').body(), {Connection: 'close'});
    if (!body.drained) res.once('finish', () => req.socket.destroy());
    return;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(body.text);
  } catch {
    return fail(new OpenAiError(400, 'The request is not valid JSON.', 'invalid_request_error'));
  }
  const id = `chatcmpl-${randomBytes(12).toString('hex')}`;
  const created = Math.floor(Date.now() / 1000);
  const abort = new AbortController();
  res.on('close', () => abort.abort()); // the client went away: stop generating
  const streaming = (raw as {stream?: unknown} | null)?.stream === true;
  let started = false;
  const chunk = (model: string, delta: object, finish: string | null) =>
    `data: ${JSON.stringify({id, object: 'chat.completion.chunk', created, model, choices: [{index: 0, delta, finish_reason: finish}]})}\n\n`;
  try {
    let model = '';
    const answer = await openai.complete(raw, {
      signal: abort.signal,
      onModel: (name) => (model = name), // every chunk names the model, the first ones too
      onDelta: streaming
        ? (text) => {
            if (!started) {
              started = true;
              res.writeHead(200, {'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Connection: 'keep-alive'});
              res.write(chunk(model, {role: 'assistant', content: ''}, null));
            }
            res.write(chunk(model, {content: text}, null));
          }
        : undefined,
    });
    model = answer.modelName;
    const finish = finishReason(answer.result.stopReason);
    const usage = {prompt_tokens: answer.result.promptTokens, completion_tokens: answer.result.completionTokens, total_tokens: answer.result.promptTokens + answer.result.completionTokens};
    if (streaming) {
      if (!started) {
        res.writeHead(200, {'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff'});
        res.write(chunk(model, {role: 'assistant', content: ''}, null));
      }
      res.write(chunk(model, {}, finish));
      // as OpenAI: with stream_options.include_usage, a last chunk with no choices carries the usage
      if ((raw as {stream_options?: {include_usage?: unknown}}).stream_options?.include_usage === true)
        res.write(`data: ${JSON.stringify({id, object: 'chat.completion.chunk', created, model, choices: [], usage})}\n\n`);
      res.end('data: [DONE]\n\n');
      return;
    }
    sendJson(res, 200, {id, object: 'chat.completion', created, model, choices: [{index: 0, message: {role: 'assistant', content: answer.result.text}, finish_reason: finish}], usage});
  } catch (error) {
    const e = error instanceof OpenAiError ? error : new OpenAiError(500, (error as Error).message, 'server_error');
    if (started) {
      res.end(`data: ${JSON.stringify(e.body())}\n\n`);
      return;
    }
    fail(e);
  }
}

export function startServer(options: ServeOptions): Promise<RunningServer> {
  if (options.token !== undefined) checkToken(options.token);
  const token = options.token ?? newToken();
  let port = options.port;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({noServer: true, maxPayload: 64 * 1024});
  const unsubscribe = options.bus.subscribe((event) => {
    const frame = JSON.stringify(event);
    for (const socket of sockets) if (socket.readyState === socket.OPEN) socket.send(frame);
  });

  const server = createServer(async (req, res) => {
    if (!hostAllowed(req, port)) return sendJson(res, 403, {ok: false, error: {code: 'unauthorized', message: {zh: '不允许的主机名。', en: 'Host not allowed.'}}});
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    if (url.pathname.startsWith('/v1/')) return serveOpenAi(req, res, url.pathname, options.openai, token, port);
    if (!url.pathname.startsWith(HTTP_API_PREFIX)) {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, {error: 'method not allowed'});
      return serveStatic(res, options.staticDir, url.pathname);
    }
    if (!tokensMatch(bearer(req), token)) return sendJson(res, 401, {ok: false, error: UNAUTHORIZED.toPayload()});
    if (!originAllowed(req, port)) return sendJson(res, 401, {ok: false, error: FOREIGN_ORIGIN.toPayload()});
    if (req.method !== 'POST') return sendJson(res, 405, {ok: false, error: {code: 'validation', message: {zh: '只接受 POST。', en: 'Only POST is accepted.'}}});
    const method = url.pathname.slice(HTTP_API_PREFIX.length);
    let body: Body;
    try {
      body = await readBody(req);
    } catch {
      return req.socket.destroy(); // the client went away mid-body: nobody to answer
    }
    if ('tooLarge' in body) {
      // the connection is not reused: close it after the answer (its remaining bytes, if any,
      // were drained; past the drain limit it is cut)
      sendJson(res, 413, {ok: false, error: TOO_LARGE.toPayload()}, {Connection: 'close'});
      if (!body.drained) res.once('finish', () => req.socket.destroy());
      return;
    }
    let input: unknown;
    try {
      input = body.text ? JSON.parse(body.text) : {};
    } catch {
      return sendJson(res, 400, {ok: false, error: {code: 'validation', message: {zh: '请求不是有效的 JSON。', en: 'The request is not valid JSON.'}}});
    }
    const envelope = await options.dispatch(method, input);
    const status = !envelope.ok && envelope.error.code === 'not_found' && envelope.error.message.en.startsWith('Unknown API method') ? 404 : 200;
    sendJson(res, status, envelope);
  });

  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', `http://${HOST}:${port}`);
    const authorised =
      url.pathname === HTTP_EVENTS_PATH && hostAllowed(req, port) && originAllowed(req, port) && tokensMatch(url.searchParams.get('token'), token);
    if (!authorised) {
      socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nX-Content-Type-Options: nosniff\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      ws.on('error', () => sockets.delete(ws));
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, HOST, () => {
      port = (server.address() as AddressInfo).port;
      resolve({
        url: `http://${HOST}:${port}/?token=${token}`,
        port,
        token,
        server,
        close: () =>
          new Promise<void>((done) => {
            unsubscribe();
            for (const socket of sockets) socket.terminate();
            wss.close();
            server.closeAllConnections();
            server.close(() => done());
          }),
      });
    });
  });
}
