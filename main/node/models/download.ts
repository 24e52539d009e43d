// Downloads one GGUF model file over HTTP(S). Model files are several GB and links in mainland
// China are slow and flaky, so a download must survive being interrupted: bytes land in
// `<dest>.part` next to a small `<dest>.part.json` sidecar (source URL + validators), and the
// next call for the same URL resumes with `Range` + `If-Range`. The file only appears under its
// real name once every byte is there and its sha256 checks out.
//
// node:http/https rather than fetch: we need manual redirects (to see Hugging Face's
// `x-linked-etag` on the 302 before the CDN hop, and to drop credentials when the origin
// changes) and a handle on the socket so a stall or an abort really closes it.

import {createHash, type Hash} from 'node:crypto';
import {createReadStream, createWriteStream} from 'node:fs';
import {mkdir, readFile, rename, rm, stat, writeFile} from 'node:fs/promises';
import http, {type IncomingMessage, type OutgoingHttpHeaders} from 'node:http';
import https from 'node:https';
import {dirname} from 'node:path';
import {Transform} from 'node:stream';
import {pipeline} from 'node:stream/promises';
import {AppError} from '../../common/errors.js';

// ───────────── source resolution ─────────────

const HF_DEFAULT_ENDPOINT = 'https://huggingface.co';
const HF_HOSTS = new Set(['huggingface.co', 'www.huggingface.co', 'hf.co']);
const REPO_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,95}$/;
const REVISION = /^[A-Za-z0-9._/-]{1,200}$/;
/** characters no file name may carry: separators, Windows-reserved ones, control characters */
// eslint-disable-next-line no-control-regex
const BAD_NAME_CHARS = /[/\\<>:"|?*\u0000-\u001f]/;

function invalidSource(zh: string, en: string): AppError {
  return new AppError('validation', {zh: `下载来源无效：${zh}`, en: `Invalid download source: ${en}`});
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalidSource('网址编码错误', 'malformed percent-encoding in the URL');
  }
}

/** The file name becomes a local path later, so anything that could escape the models
 * directory or is not a GGUF is refused here, at the boundary. */
function checkFileName(name: string | undefined): string {
  if (!name) throw invalidSource('缺少文件名', 'no file name');
  if (name === '.' || name === '..' || BAD_NAME_CHARS.test(name) || name.length > 255) {
    throw invalidSource(`文件名不合法：${name}`, `illegal file name: ${name}`);
  }
  if (!/\.gguf$/i.test(name)) throw invalidSource(`只能下载 .gguf 文件：${name}`, `only .gguf files can be downloaded: ${name}`);
  return name;
}

export function endpointBase(hfEndpoint: string): string {
  let url: URL;
  try {
    url = new URL(hfEndpoint.trim() || HF_DEFAULT_ENDPOINT);
  } catch {
    throw invalidSource(`镜像地址无效：${hfEndpoint}`, `invalid mirror endpoint: ${hfEndpoint}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidSource('镜像地址必须以 http(s):// 开头', 'the mirror endpoint must be an http(s) URL');
  }
  // a mirror may live under a path prefix (https://example.cn/hf); keep it, minus trailing '/'
  return (url.origin + url.pathname).replace(/\/+$/, '');
}

function hfFileUrl(hfEndpoint: string, owner?: string, repo?: string, revision?: string, filePath: string[] = []) {
  if (!owner || !repo || !REPO_NAME.test(owner) || !REPO_NAME.test(repo)) {
    throw invalidSource('应为 hf:用户/仓库/文件.gguf', 'expected hf:owner/repo/file.gguf');
  }
  if (!revision || !REVISION.test(revision) || revision.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw invalidSource(`版本名不合法：${revision ?? ''}`, `illegal revision: ${revision ?? ''}`);
  }
  for (const segment of filePath) {
    if (segment === '' || segment === '.' || segment === '..' || BAD_NAME_CHARS.test(segment)) {
      throw invalidSource('文件路径不合法', 'illegal file path');
    }
  }
  const fileName = checkFileName(filePath.at(-1));
  const path = filePath.map(encodeURIComponent).join('/');
  const url = `${endpointBase(hfEndpoint)}/${owner}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
  return {url, fileName};
}

/**
 * Turns what a person typed into the URL to fetch and the local file name.
 * `hf:owner/repo/path/file.gguf[@revision]` and huggingface.co `resolve`/`blob` links go to
 * `hfEndpoint` (a mirror, or https://huggingface.co); other http(s) URLs are used as they are.
 */
export function resolveDownloadSource(source: string, hfEndpoint: string): {url: string; fileName: string} {
  const text = source.trim();
  if (/^hf:/i.test(text)) {
    const spec = text.slice(3).replace(/^\/+/, '');
    const at = spec.lastIndexOf('@');
    const path = at >= 0 ? spec.slice(0, at) : spec;
    const revision = at >= 0 ? spec.slice(at + 1) : 'main';
    const [owner, repo, ...filePath] = path.split('/');
    return hfFileUrl(hfEndpoint, owner, repo, revision, filePath);
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw invalidSource('应为 https:// 网址或 hf:用户/仓库/文件.gguf', 'expected an https:// URL or hf:owner/repo/file.gguf');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalidSource(`不支持的协议 ${url.protocol}`, `unsupported protocol ${url.protocol}`);
  }
  if (HF_HOSTS.has(url.hostname.toLowerCase())) {
    const m = /^\/([^/]+)\/([^/]+)\/(?:resolve|blob)\/([^/]+)\/(.+)$/.exec(url.pathname);
    if (m) return hfFileUrl(hfEndpoint, m[1], m[2], decodeSegment(m[3]!), m[4]!.split('/').map(decodeSegment));
  }
  return {url: url.href, fileName: checkFileName(decodeSegment(url.pathname.split('/').at(-1) ?? ''))};
}

// ───────────── download ─────────────

export interface DownloadProgress {
  receivedBytes: number;
  totalBytes: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

export interface DownloadOptions {
  url: string;
  destPath: string;
  expectedSha256?: string;
  signal?: AbortSignal;
  onProgress?: (progress: DownloadProgress) => void;
  /** no bytes for this long → fail (the .part is kept); default 30 s */
  stallTimeoutMs?: number;
  headers?: Record<string, string>;
}

export interface DownloadResult {
  path: string;
  sha256: string;
  bytes: number;
  /** bytes kept from an earlier, interrupted attempt (0 = downloaded from scratch) */
  resumedFrom: number;
}

/** What the sidecar remembers between attempts. */
interface PartMeta {
  url: string;
  etag: string | null;
  lastModified: string | null;
  totalBytes: number | null;
  /** sha256 the server announced (x-linked-etag), kept because a 416 reply carries none */
  serverSha256: string | null;
}

const MAX_REDIRECTS = 5;
const PROGRESS_INTERVAL_MS = 250;
const SPEED_WINDOW_MS = 5000;
const DEFAULT_STALL_MS = 30_000;
const USER_AGENT = 'zhongjing-workstation';
const DISK_ERRORS = new Set(['ENOSPC', 'EACCES', 'EPERM', 'EROFS', 'EISDIR', 'EDQUOT', 'EMFILE']);

const failed = (zh: string, en: string, details?: unknown) =>
  new AppError('download_failed', {zh: `下载失败：${zh}`, en: `Download failed: ${en}`}, details);
const cancelled = () => new AppError('download_failed', {zh: '下载已取消', en: 'Download cancelled'}, {cancelled: true});
const KEPT = {zh: '已下载的部分已保留，重试时会继续', en: 'the partial file is kept and the next attempt resumes'};

function httpError(status: number, url: string): AppError {
  const details = {status, url};
  if (status === 404) return failed('服务器上找不到该文件（404），请检查仓库、文件名和版本', 'file not found on the server (404); check the repository, file name and revision', details);
  if (status === 401 || status === 403) {
    return failed(`该模型需要访问令牌或授权（HTTP ${status}），请先在 Hugging Face 申请访问`, `this model needs an access token or approval (HTTP ${status}); request access on Hugging Face first`, details);
  }
  if (status >= 500) return failed(`服务器错误（HTTP ${status}），请稍后重试或更换镜像地址`, `server error (HTTP ${status}); try again later or change the mirror`, details);
  return failed(`服务器返回 HTTP ${status}`, `the server answered HTTP ${status}`, details);
}

/** Maps whatever a transfer threw onto the error a person sees. */
function toDownloadError(error: unknown, signal: AbortSignal | undefined): AppError {
  if (signal?.aborted) return cancelled();
  if (error instanceof AppError) return error;
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  const text = error instanceof Error ? error.message : String(error);
  if (DISK_ERRORS.has(code)) return new AppError('io', {zh: `写入模型文件失败：${text}`, en: `Could not write the model file: ${text}`});
  if (['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'].includes(code)) {
    return failed(`无法连接服务器（${code}），请检查网络或镜像地址`, `cannot reach the server (${code}); check the network or the mirror`);
  }
  return failed(`连接中断（${code || text}），${KEPT.zh}`, `connection dropped (${code || text}); ${KEPT.en}`);
}

/** A sha256 in an ETag-like header value (`"<64 hex>"`, maybe weak), or null. */
function shaFromHeader(value: string | string[] | undefined): string | null {
  const m = typeof value === 'string' ? /^(?:W\/)?"?([a-fA-F0-9]{64})"?$/.exec(value.trim()) : null;
  return m ? m[1]!.toLowerCase() : null;
}

function headerNumber(value: string | undefined): number | null {
  return value && /^\d+$/.test(value) ? Number(value) : null;
}

interface Open {
  res: IncomingMessage;
  /** resets the stall timer; called on every chunk */
  kick: () => void;
  /** stops timers, forgets the signal and destroys the socket (a no-op once it has ended) */
  dispose: () => void;
}

/** One GET. The stall timer runs from the moment the request goes out, so a server that never
 * answers is caught too; stall and abort destroy the socket so nothing is left hanging. */
function request(url: URL, headers: OutgoingHttpHeaders, signal: AbortSignal | undefined, stallMs: number): Promise<Open> {
  return new Promise((resolve, reject) => {
    // agent:false → a socket of our own, closed after the reply: no pooled socket outlives us
    const req = (url.protocol === 'https:' ? https : http).request(url, {method: 'GET', headers, agent: false});
    let res: IncomingMessage | undefined;
    let timer: NodeJS.Timeout | undefined;
    const kill = (error: Error) => {
      res?.destroy(error); // the body's pipeline rejects with this very error
      req.destroy(error);
    };
    const onAbort = () => kill(cancelled());
    const kick = () => {
      clearTimeout(timer);
      const seconds = Math.round(stallMs / 100) / 10;
      timer = setTimeout(() => kill(failed(`下载停滞，${seconds} 秒内没有收到数据，${KEPT.zh}`, `stalled, no data for ${seconds} s; ${KEPT.en}`, {stalled: true})), stallMs);
    };
    const dispose = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      res?.destroy();
      req.destroy();
    };
    req.on('error', (error) => {
      dispose();
      reject(error); // ignored once resolved; errors after that surface through `res`
    });
    req.on('response', (response) => {
      res = response;
      // a stall or abort can destroy `res` before pipeline() listens; pipeline still sees it
      response.on('error', () => {});
      kick();
      resolve({res: response, kick, dispose});
    });
    if (signal?.aborted) return kill(cancelled());
    signal?.addEventListener('abort', onAbort, {once: true});
    kick();
    req.end();
  });
}

/** GET with up to MAX_REDIRECTS hops. Hugging Face answers `resolve` URLs with a 302 to its CDN
 * and puts the file's sha256 in `x-linked-etag` on that 302, so it is collected along the way. */
async function openFollowingRedirects(startUrl: string, headers: OutgoingHttpHeaders, signal: AbortSignal | undefined, stallMs: number) {
  let url = new URL(startUrl);
  let linkedSha: string | null = null;
  for (let hop = 0; ; hop++) {
    // never hand a token or cookie to another origin (the CDN URL is pre-signed anyway)
    const sameOrigin = url.origin === new URL(startUrl).origin;
    const hopHeaders = sameOrigin ? headers : Object.fromEntries(Object.entries(headers).filter(([k]) => k !== 'authorization' && k !== 'cookie'));
    const open = await request(url, hopHeaders, signal, stallMs);
    linkedSha ??= shaFromHeader(open.res.headers['x-linked-etag']);
    const status = open.res.statusCode ?? 0;
    if (![301, 302, 303, 307, 308].includes(status)) return {...open, linkedSha};
    open.dispose();
    const location = open.res.headers.location;
    if (!location) throw failed(`服务器重定向（HTTP ${status}）但没有给出地址`, `the server redirected (HTTP ${status}) without a Location`);
    if (hop >= MAX_REDIRECTS) throw failed('重定向次数过多', `more than ${MAX_REDIRECTS} redirects`, {url: startUrl});
    url = new URL(location, url);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw failed('重定向到了不支持的地址', `redirected to an unsupported URL (${url.protocol})`);
  }
}

/** Throttled progress reports: at most one per PROGRESS_INTERVAL_MS plus forced ones (start,
 * end). Speed is measured over the last few seconds, so the ETA follows the current link. */
class ProgressMeter {
  private lastEmit = -Infinity;
  private readonly samples: Array<[time: number, bytes: number]> = [];

  constructor(
    private readonly onProgress: DownloadOptions['onProgress'],
    private readonly totalBytes: number | null,
  ) {}

  report(receivedBytes: number, force = false): void {
    const now = performance.now();
    if (!this.onProgress || (!force && now - this.lastEmit < PROGRESS_INTERVAL_MS)) return;
    this.lastEmit = now;
    this.samples.push([now, receivedBytes]);
    while (this.samples.length > 2 && now - this.samples[0]![0] > SPEED_WINDOW_MS) this.samples.shift();
    const [t0, b0] = this.samples[0]!;
    const bytesPerSecond = now > t0 ? Math.round(((receivedBytes - b0) * 1000) / (now - t0)) : 0;
    const etaSeconds = this.totalBytes !== null && bytesPerSecond > 0 ? Math.max(0, (this.totalBytes - receivedBytes) / bytesPerSecond) : null;
    try {
      this.onProgress({receivedBytes, totalBytes: this.totalBytes, bytesPerSecond, etaSeconds});
    } catch {
      // a faulty listener must not break (or be mistaken for) a failed transfer
    }
  }
}

async function readMeta(metaPath: string, url: string): Promise<PartMeta | null> {
  try {
    const meta = JSON.parse(await readFile(metaPath, 'utf8')) as Partial<PartMeta>;
    return meta && meta.url === url ? (meta as PartMeta) : null;
  } catch {
    return null;
  }
}

async function sizeOf(path: string): Promise<number> {
  return stat(path).then((s) => s.size, () => 0);
}

async function discardPart(partPath: string, metaPath: string): Promise<void> {
  await rm(partPath, {force: true});
  await rm(metaPath, {force: true});
}

/** Removes what an unfinished download of `destPath` left behind (its .part and sidecar). */
export async function discardPartial(destPath: string): Promise<void> {
  await discardPart(`${destPath}.part`, `${destPath}.part.json`);
}

/** Hash the bytes kept from an earlier attempt, streaming (a part may be many GB). */
async function hashExisting(path: string, length: number, hash: Hash, signal: AbortSignal | undefined): Promise<void> {
  for await (const chunk of createReadStream(path, {start: 0, end: length - 1, highWaterMark: 1 << 20})) {
    if (signal?.aborted) throw cancelled();
    hash.update(chunk as Buffer);
  }
}

/** Streams the body onto the end of the part, hashing as it goes; pipeline() gives backpressure. */
async function receiveBody(open: Open, partPath: string, startAt: number, hash: Hash, meter: ProgressMeter): Promise<number> {
  let received = startAt;
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      received += chunk.length;
      open.kick();
      meter.report(received);
      callback(null, chunk);
    },
  });
  const out = createWriteStream(partPath, {flags: 'a'});
  try {
    await pipeline(open.res, tap, out);
  } finally {
    // let the file close before anyone stats the part for a resume, so no late write lands after
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
  }
  return received;
}

async function finish(o: DownloadOptions, partPath: string, metaPath: string, hash: Hash, bytes: number, resumedFrom: number, serverSha: string | null): Promise<DownloadResult> {
  const sha256 = hash.digest('hex');
  const expected = o.expectedSha256?.toLowerCase() ?? serverSha;
  if (expected && expected !== sha256) {
    await discardPart(partPath, metaPath); // a wrong byte somewhere: resuming would keep it
    throw new AppError(
      'checksum_mismatch',
      {zh: `文件校验失败（sha256 不一致），已删除下载内容，请重新下载`, en: 'Checksum mismatch (sha256 differs); the download was deleted, please download again'},
      {expected, actual: sha256},
    );
  }
  await rename(partPath, o.destPath); // same directory → atomic
  await rm(metaPath, {force: true});
  return {path: o.destPath, sha256, bytes, resumedFrom};
}

/** One request/response round. 'restart' = the part cannot be continued; start from zero. */
async function attempt(o: DownloadOptions, partPath: string, metaPath: string, meta: PartMeta | null, existing: number): Promise<DownloadResult | 'restart'> {
  let hash = createHash('sha256');
  if (existing > 0) await hashExisting(partPath, existing, hash, o.signal);

  const headers: OutgoingHttpHeaders = {'user-agent': USER_AGENT, 'accept-encoding': 'identity'};
  for (const [key, value] of Object.entries(o.headers ?? {})) headers[key.toLowerCase()] = value;
  if (existing > 0) {
    headers.range = `bytes=${existing}-`;
    // If-Range: "send the rest if the file is unchanged, else all of it" (strong validators only)
    const validator = meta?.etag ?? meta?.lastModified;
    if (validator) headers['if-range'] = validator;
  }

  const open = await openFollowingRedirects(o.url, headers, o.signal, o.stallTimeoutMs ?? DEFAULT_STALL_MS);
  try {
    const {res} = open;
    const status = res.statusCode ?? 0;
    if (status === 416 && existing > 0) {
      // we asked for bytes past the end: fine when the part already holds the whole file
      const total = headerNumber(/^bytes \*\/(\d+)$/.exec(res.headers['content-range'] ?? '')?.[1]) ?? meta?.totalBytes ?? null;
      if (total !== existing) return 'restart';
      new ProgressMeter(o.onProgress, total).report(existing, true);
      return await finish(o, partPath, metaPath, hash, existing, existing, meta?.serverSha256 ?? null);
    }
    if (status !== 200 && status !== 206) throw httpError(status, o.url);

    let startAt = 0;
    let totalBytes: number | null;
    if (status === 206) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers['content-range'] ?? '');
      totalBytes = headerNumber(m?.[3]);
      const sameFile = meta?.totalBytes == null || totalBytes === null || totalBytes === meta.totalBytes;
      if (!m || Number(m[1]) !== existing || !sameFile) return 'restart';
      startAt = existing;
    } else {
      // 200: the server ignored the range or the file changed (If-Range failed): start over
      totalBytes = headerNumber(res.headers['content-length']);
      hash = createHash('sha256');
      await writeFile(partPath, ''); // truncate before the sidecar describes the new file
    }

    const etag = res.headers.etag && !res.headers.etag.startsWith('W/') ? res.headers.etag : null;
    const serverSha = open.linkedSha ?? shaFromHeader(res.headers.etag) ?? (startAt > 0 ? (meta?.serverSha256 ?? null) : null);
    const newMeta: PartMeta = {url: o.url, etag, lastModified: res.headers['last-modified'] ?? null, totalBytes, serverSha256: serverSha};
    await writeFile(metaPath, JSON.stringify(newMeta));

    const meter = new ProgressMeter(o.onProgress, totalBytes);
    meter.report(startAt, true);
    const received = await receiveBody(open, partPath, startAt, hash, meter);
    if (totalBytes !== null && received !== totalBytes) {
      throw failed(`只收到 ${received}/${totalBytes} 字节，${KEPT.zh}`, `got ${received} of ${totalBytes} bytes; ${KEPT.en}`);
    }
    meter.report(received, true);
    return await finish(o, partPath, metaPath, hash, received, startAt, serverSha);
  } finally {
    open.dispose();
  }
}

/**
 * Downloads `url` to `destPath`, resuming a `.part` left by an earlier attempt at the same URL.
 * Failures (stall, dropped connection, cancel) keep the part; a checksum mismatch deletes it.
 */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  if (options.expectedSha256 !== undefined && !/^[a-fA-F0-9]{64}$/.test(options.expectedSha256)) {
    throw new AppError('validation', {zh: 'sha256 应为 64 位十六进制', en: 'sha256 must be 64 hex digits'});
  }
  const partPath = `${options.destPath}.part`;
  const metaPath = `${partPath}.json`;
  try {
    if (options.signal?.aborted) throw cancelled();
    await mkdir(dirname(options.destPath), {recursive: true});
    let meta = await readMeta(metaPath, options.url);
    let existing = meta ? await sizeOf(partPath) : 0;
    if (!meta || existing === 0 || (meta.totalBytes !== null && existing > meta.totalBytes)) {
      await discardPart(partPath, metaPath); // a part from another URL, or nonsense: not ours to continue
      meta = null;
      existing = 0;
    }
    const first = await attempt(options, partPath, metaPath, meta, existing);
    if (first !== 'restart') return first;
    await discardPart(partPath, metaPath);
    const second = await attempt(options, partPath, metaPath, null, 0);
    if (second === 'restart') throw failed('服务器的断点续传回复不一致', 'the server answered the range request inconsistently');
    return second;
  } catch (error) {
    throw toDownloadError(error, options.signal);
  }
}
