// Model downloads against a real HTTP server on 127.0.0.1 that serves a 3 MB file with Range
// support and an ETag, and can misbehave on request: cut the connection, hang, ignore Range,
// redirect, trickle bytes. Only the tests that need an interruption slow the server down.

import {after, afterEach, before, beforeEach, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {createHash} from 'node:crypto';
import {existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync} from 'node:fs';
import {createServer, type IncomingMessage, type Server, type ServerResponse} from 'node:http';
import type {AddressInfo} from 'node:net';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {setTimeout as delay} from 'node:timers/promises';
import {AppError} from '../../main/common/errors.js';
import {downloadFile, resolveDownloadSource, type DownloadProgress} from '../../main/node/models/download.js';

const SIZE = 3 * 1024 * 1024;
const MB = 1024 * 1024;

/** Deterministic bytes (xorshift32), so every run serves the same file. */
function makeData(size: number): Buffer {
  const words = new Uint32Array(size / 4);
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer);
}

const DATA = makeData(SIZE);
const SHA = createHash('sha256').update(DATA).digest('hex');

interface Behaviour {
  /** destroy the socket once this absolute offset has been sent */
  cutAt?: number;
  /** send up to this offset, then stop sending without closing */
  hangAt?: number;
  /** answer every request with 200 and the whole file */
  ignoreRange?: boolean;
  /** trickle the body: `chunk` bytes every `intervalMs` */
  throttle?: {chunk: number; intervalMs: number};
  /** value of x-linked-etag on the hf-style 302 */
  linkedEtag?: string;
}

interface Logged {
  path: string;
  range?: string;
  ifRange?: string;
  authorization?: string;
}

class TestServer {
  server!: Server;
  port = 0;
  behaviour: Behaviour = {};
  etag = '"v1"';
  requests: Logged[] = [];
  /** resolves when a hanging response has sent its bytes */
  hung: Promise<void> = Promise.resolve();
  private markHung: () => void = () => {};
  /** other server's port, for the cross-origin redirect */
  otherPort = 0;

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  reset(): void {
    this.behaviour = {};
    this.etag = '"v1"';
    this.requests = [];
    this.hung = new Promise((resolve) => (this.markHung = resolve));
  }

  async start(): Promise<void> {
    this.reset();
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  connections(): Promise<number> {
    return new Promise((resolve, reject) => this.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = req.url ?? '/';
    this.requests.push({path, range: req.headers.range, ifRange: req.headers['if-range'] as string | undefined, authorization: req.headers.authorization});
    const redirect = (location: string, extra: Record<string, string> = {}) => void res.writeHead(302, {location, ...extra}).end();
    if (path === '/files/model.gguf' || path === '/cdn/tiny.gguf') return this.serveFile(req, res);
    if (path === '/redirect/a') return redirect('/redirect/b');
    if (path === '/redirect/b') return redirect(`${this.base}/files/model.gguf`);
    if (path === '/loop') return redirect('/loop');
    if (path === '/cross') return redirect(`http://127.0.0.1:${this.otherPort}/files/model.gguf`);
    // what Hugging Face does: 302 to the CDN, the file's sha256 in x-linked-etag
    if (path === '/owner/repo/resolve/main/tiny.gguf') return redirect('/cdn/tiny.gguf', {'x-linked-etag': this.behaviour.linkedEtag ?? `"${SHA}"`});
    if (path === '/silent.gguf') return; // accepts the request, never answers
    if (path === '/gated.gguf') return void res.writeHead(403).end('gated');
    if (path === '/broken.gguf') return void res.writeHead(503).end('down');
    res.writeHead(404).end('no such file');
  }

  private serveFile(req: IncomingMessage, res: ServerResponse): void {
    const b = this.behaviour;
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const ifRange = req.headers['if-range'];
    let start = 0;
    if (range && !b.ignoreRange && (!ifRange || ifRange === this.etag)) {
      start = Number(range[1]);
      if (start >= SIZE) return void res.writeHead(416, {'content-range': `bytes */${SIZE}`}).end();
      res.writeHead(206, {'content-range': `bytes ${start}-${SIZE - 1}/${SIZE}`, 'content-length': SIZE - start, etag: this.etag, 'accept-ranges': 'bytes'});
    } else {
      res.writeHead(200, {'content-length': SIZE, etag: this.etag, 'accept-ranges': 'bytes'});
    }
    const stopAt = Math.min(b.cutAt ?? SIZE, b.hangAt ?? SIZE);
    if (stopAt < SIZE && start < stopAt) {
      res.write(DATA.subarray(start, stopAt), () => {
        if (b.hangAt !== undefined) return this.markHung(); // keep the socket open, send nothing
        setTimeout(() => res.socket?.destroy(), 50); // let the bytes reach the client first
      });
      return;
    }
    if (!b.throttle) return void res.end(DATA.subarray(start));
    const {chunk, intervalMs} = b.throttle;
    let offset = start;
    const timer = setInterval(() => {
      if (res.destroyed) return clearInterval(timer);
      res.write(DATA.subarray(offset, Math.min(SIZE, offset + chunk)));
      offset += chunk;
      if (offset >= SIZE) {
        clearInterval(timer);
        res.end();
      }
    }, intervalMs);
  }
}

const server = new TestServer();
const other = new TestServer();
let dir = '';
let dest = '';

function fail(code: string, pattern?: RegExp) {
  return (error: unknown) => {
    assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.ok(error.localised.zh.length > 0 && error.localised.en.length > 0);
    if (pattern) assert.match(error.localised.en, pattern);
    return true;
  };
}

before(async () => {
  await server.start();
  await other.start();
  server.otherPort = other.port;
});
after(async () => {
  await server.stop();
  await other.stop();
});
beforeEach(() => {
  server.reset();
  other.reset();
  dir = mkdtempSync(join(tmpdir(), 'zj-download-'));
  dest = join(dir, 'models', 'model.gguf');
});
afterEach(() => rmSync(dir, {recursive: true, force: true}));

describe('resolveDownloadSource', () => {
  const mirror = 'https://hf-mirror.com/';
  test('hf: specs, with and without revision', () => {
    assert.deepEqual(resolveDownloadSource('hf:owner/repo/sub/dir/m-Q4_K_M.gguf', mirror), {
      url: 'https://hf-mirror.com/owner/repo/resolve/main/sub/dir/m-Q4_K_M.gguf',
      fileName: 'm-Q4_K_M.gguf',
    });
    assert.equal(resolveDownloadSource('hf:owner/repo/m.gguf@v1.0', '').url, 'https://huggingface.co/owner/repo/resolve/v1.0/m.gguf');
    assert.equal(resolveDownloadSource('hf:o/r/m.gguf@refs/pr/1', mirror).url, 'https://hf-mirror.com/o/r/resolve/refs%2Fpr%2F1/m.gguf');
  });
  test('huggingface.co links go to the mirror, blob becomes resolve', () => {
    const expected = {url: 'https://hf-mirror.com/o/r/resolve/main/m.gguf', fileName: 'm.gguf'};
    assert.deepEqual(resolveDownloadSource('https://huggingface.co/o/r/resolve/main/m.gguf?download=true', mirror), expected);
    assert.deepEqual(resolveDownloadSource('https://huggingface.co/o/r/blob/main/m.gguf', mirror), expected);
    assert.equal(resolveDownloadSource('https://huggingface.co/o/r/blob/main/m.gguf', 'https://huggingface.co').url, 'https://huggingface.co/o/r/resolve/main/m.gguf');
    assert.equal(resolveDownloadSource('https://huggingface.co/o/r/resolve/main/m.gguf', 'http://127.0.0.1:9/hf').url, 'http://127.0.0.1:9/hf/o/r/resolve/main/m.gguf');
  });
  test('other URLs are used as they are', () => {
    assert.deepEqual(resolveDownloadSource('https://example.org/a/%E4%BB%B2%E6%99%AF.gguf', mirror), {
      url: 'https://example.org/a/%E4%BB%B2%E6%99%AF.gguf',
      fileName: '仲景.gguf',
    });
  });
  test('rejects what is not a GGUF over http(s)', () => {
    for (const bad of [
      'file:///etc/passwd.gguf',
      'javascript:alert(1)//x.gguf',
      'ftp://example.org/m.gguf',
      'https://example.org/',
      'https://example.org/model.bin',
      'https://example.org/a/..%2F..%2Fevil.gguf',
      'https://example.org/a/%2E%2E',
      'hf:owner/repo',
      'hf:owner/repo/../x.gguf',
      'hf:owner/repo/m.gguf@../x',
      'hf:../repo/m.gguf',
      'not a url',
    ]) {
      assert.throws(() => resolveDownloadSource(bad, mirror), fail('validation'), bad);
    }
    assert.throws(() => resolveDownloadSource('hf:o/r/m.gguf', 'file:///tmp'), fail('validation'));
  });
});

describe('downloadFile', () => {
  test('downloads the whole file with the right sha256', async () => {
    const result = await downloadFile({url: `${server.base}/files/model.gguf`, destPath: dest, expectedSha256: SHA.toUpperCase()});
    assert.deepEqual(result, {path: dest, sha256: SHA, bytes: SIZE, resumedFrom: 0});
    assert.ok(readFileSync(dest).equals(DATA));
    assert.ok(!existsSync(`${dest}.part`) && !existsSync(`${dest}.part.json`));
  });

  test('a dropped connection keeps the part and the next call resumes', async () => {
    server.behaviour = {cutAt: MB};
    const url = `${server.base}/files/model.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest}), fail('download_failed', /partial file is kept/));
    assert.equal(statSync(`${dest}.part`).size, MB);
    assert.ok(!existsSync(dest));

    server.behaviour = {};
    const result = await downloadFile({url, destPath: dest, expectedSha256: SHA});
    assert.equal(result.resumedFrom, MB);
    assert.equal(result.sha256, SHA);
    assert.deepEqual(server.requests.at(-1), {path: '/files/model.gguf', range: `bytes=${MB}-`, ifRange: '"v1"', authorization: undefined});
    assert.ok(readFileSync(dest).equals(DATA));
  });

  test('a server that ignores Range makes it start over cleanly', async () => {
    server.behaviour = {cutAt: MB};
    const url = `${server.base}/files/model.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest}), fail('download_failed'));
    server.behaviour = {ignoreRange: true};
    const result = await downloadFile({url, destPath: dest});
    assert.equal(server.requests.at(-1)?.range, `bytes=${MB}-`);
    assert.equal(result.resumedFrom, 0);
    assert.equal(result.sha256, SHA);
    assert.equal(statSync(dest).size, SIZE);
  });

  test('a changed file (If-Range fails) starts over', async () => {
    server.behaviour = {cutAt: MB};
    const url = `${server.base}/files/model.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest}), fail('download_failed'));
    server.behaviour = {};
    server.etag = '"v2"';
    const result = await downloadFile({url, destPath: dest});
    assert.equal(result.resumedFrom, 0);
    assert.equal(result.sha256, SHA);
  });

  test('416 on a complete part finishes without downloading again', async () => {
    server.behaviour = {cutAt: MB};
    const url = `${server.base}/files/model.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest}), fail('download_failed'));
    writeFileSync(`${dest}.part`, DATA); // as if the last bytes had landed just before the cut
    server.behaviour = {};
    const result = await downloadFile({url, destPath: dest, expectedSha256: SHA});
    assert.equal(server.requests.at(-1)?.range, `bytes=${SIZE}-`);
    assert.deepEqual(result, {path: dest, sha256: SHA, bytes: SIZE, resumedFrom: SIZE});
  });

  test('a part left by another URL is not continued', async () => {
    server.behaviour = {cutAt: MB};
    await assert.rejects(downloadFile({url: `${server.base}/files/model.gguf`, destPath: dest}), fail('download_failed'));
    server.behaviour = {};
    const result = await downloadFile({url: `${server.base}/cdn/tiny.gguf`, destPath: dest});
    assert.equal(result.resumedFrom, 0);
    assert.equal(server.requests.at(-1)?.range, undefined);
  });

  test('a wrong expected sha256 deletes the download', async () => {
    const wrong = 'a'.repeat(64);
    await assert.rejects(downloadFile({url: `${server.base}/files/model.gguf`, destPath: dest, expectedSha256: wrong}), fail('checksum_mismatch'));
    assert.ok(!existsSync(dest) && !existsSync(`${dest}.part`) && !existsSync(`${dest}.part.json`));
  });

  test('HTTP errors say what went wrong', async () => {
    await assert.rejects(downloadFile({url: `${server.base}/missing.gguf`, destPath: dest}), fail('download_failed', /not found on the server \(404\)/));
    await assert.rejects(downloadFile({url: `${server.base}/gated.gguf`, destPath: dest}), fail('download_failed', /access token/));
    await assert.rejects(downloadFile({url: `${server.base}/broken.gguf`, destPath: dest}), fail('download_failed', /server error \(HTTP 503\).*mirror/));
    await assert.rejects(downloadFile({url: `${server.base}/loop`, destPath: dest}), fail('download_failed', /redirects/));
    assert.ok(!existsSync(dest));
  });

  test('abort keeps the part, and the next call resumes', async () => {
    server.behaviour = {hangAt: MB};
    const url = `${server.base}/files/model.gguf`;
    const controller = new AbortController();
    const pending = downloadFile({url, destPath: dest, signal: controller.signal});
    await server.hung;
    await delay(100);
    controller.abort();
    await assert.rejects(pending, (error: unknown) => {
      assert.ok(error instanceof AppError && error.code === 'download_failed');
      assert.match(error.localised.en, /cancelled/);
      assert.match(error.localised.zh, /取消/);
      return true;
    });
    assert.equal(statSync(`${dest}.part`).size, MB);
    // the aborted request must not leave its socket open
    for (let i = 0; i < 50 && (await server.connections()) > 0; i++) await delay(20);
    assert.equal(await server.connections(), 0);

    server.behaviour = {};
    const result = await downloadFile({url, destPath: dest, expectedSha256: SHA});
    assert.equal(result.resumedFrom, MB);
    assert.ok(readFileSync(dest).equals(DATA));
  });

  test('a stall fails after stallTimeoutMs and keeps the part', async () => {
    server.behaviour = {hangAt: MB};
    const url = `${server.base}/files/model.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest, stallTimeoutMs: 300}), fail('download_failed', /no data for 0.3 s/));
    assert.equal(statSync(`${dest}.part`).size, MB);
    server.behaviour = {};
    assert.equal((await downloadFile({url, destPath: dest})).resumedFrom, MB);
  });

  test('a server that never answers is a stall too, and abort works before the headers', async () => {
    const url = `${server.base}/silent.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest, stallTimeoutMs: 200}), fail('download_failed', /stalled/));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(downloadFile({url, destPath: dest, signal: controller.signal}), fail('download_failed', /cancelled/));
    for (let i = 0; i < 50 && (await server.connections()) > 0; i++) await delay(20);
    assert.equal(await server.connections(), 0);
  });

  test('follows a redirect chain', async () => {
    const result = await downloadFile({url: `${server.base}/redirect/a`, destPath: dest});
    assert.equal(result.sha256, SHA);
    assert.deepEqual(server.requests.map((r) => r.path), ['/redirect/a', '/redirect/b', '/files/model.gguf']);
  });

  test('does not send credentials to another origin', async () => {
    const headers = {Authorization: 'Bearer hf_secret'};
    await downloadFile({url: `${server.base}/cross`, destPath: dest, headers});
    assert.equal(server.requests[0]?.authorization, 'Bearer hf_secret');
    assert.equal(other.requests[0]?.authorization, undefined);
  });

  test('hf: spec through a mirror, verified against x-linked-etag', async () => {
    const {url, fileName} = resolveDownloadSource('hf:owner/repo/tiny.gguf', server.base);
    assert.equal(url, `${server.base}/owner/repo/resolve/main/tiny.gguf`);
    const result = await downloadFile({url, destPath: join(dir, fileName)});
    assert.equal(result.sha256, SHA);
    assert.deepEqual(server.requests.map((r) => r.path), ['/owner/repo/resolve/main/tiny.gguf', '/cdn/tiny.gguf']);
  });

  test('a wrong x-linked-etag is a checksum mismatch', async () => {
    server.behaviour = {linkedEtag: `"${'0'.repeat(64)}"`};
    const url = `${server.base}/owner/repo/resolve/main/tiny.gguf`;
    await assert.rejects(downloadFile({url, destPath: dest}), fail('checksum_mismatch'));
    assert.ok(!existsSync(dest) && !existsSync(`${dest}.part`));
  });

  test('progress rises to the full size', async () => {
    server.behaviour = {throttle: {chunk: 128 * 1024, intervalMs: 30}}; // ≈ 0.7 s in all
    const seen: DownloadProgress[] = [];
    await downloadFile({url: `${server.base}/files/model.gguf`, destPath: dest, onProgress: (p) => seen.push(p)});
    assert.ok(seen.length >= 3, `only ${seen.length} progress reports`);
    assert.ok(seen.length < 20, `progress not throttled: ${seen.length} reports`);
    for (let i = 1; i < seen.length; i++) assert.ok(seen[i]!.receivedBytes >= seen[i - 1]!.receivedBytes);
    assert.ok(seen.some((p) => p.receivedBytes > 0 && p.receivedBytes < SIZE && p.bytesPerSecond > 0 && p.etaSeconds !== null));
    assert.deepEqual({...seen.at(-1)!, bytesPerSecond: 0, etaSeconds: 0}, {receivedBytes: SIZE, totalBytes: SIZE, bytesPerSecond: 0, etaSeconds: 0});
  });
});
