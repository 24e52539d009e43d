// Reads a dataset file as a stream of records, whatever its container: JSON Lines, one big JSON
// array, an object keyed "0","1",… (RLHF-Label-Tool), a single pretty-printed JSON object, a
// plain .txt split into paragraphs, or a .csv with a header line (CMExam). Nothing is read whole:
// JSONL is split into lines at the byte level, JSON documents go through the element scanner
// (json-stream.ts), CSV goes through a byte-level RFC 4180 state machine, and every record is
// decoded on its own with a fatal UTF-8 decoder so a bad byte rejects that record only.
//
// Positions: 1-based line number for JSONL, .txt (the paragraph's first line) and CSV (the
// record's first line: a quoted field may span lines), 0-based element index for JSON arrays and
// keyed objects. This module does not know dataset formats: a CSV record is an object keyed by
// the header's names, all values strings, and formats.ts recognises it like any JSON object.
// A tab-separated file (a first line of tab-separated names) is refused before any record is
// read, with formats.ts's explanation (RLHF-Label-Tool's ranking output belongs to annotation).

import {createReadStream, statSync} from 'node:fs';
import {extname} from 'node:path';
import type {LocalisedText} from '../../common/errors.js';
import {AppError} from '../../common/errors.js';
import {tsvFile} from './formats.js';
import {JsonElementScanner, type ScannedElement} from './json-stream.js';
import {LIMITS, reasons} from './reasons.js';

export type DatasetSource = {path: string} | {content: string; fileName: string};
export type Container = 'jsonl' | 'array' | 'object' | 'document' | 'txt' | 'csv';

export type SourceRecord =
  | {ok: true; position: number; value: unknown; /** the member name in a keyed object */ key?: string}
  | {ok: false; position: number; error: LocalisedText; excerpt: string};

export interface RecordStream {
  container: Container;
  totalBytes: number;
  bytesRead(): number;
  records: AsyncGenerator<SourceRecord>;
}

const CHUNK = 1 << 20;
const decoder = new TextDecoder('utf-8', {fatal: true});

export function sourceName(source: DatasetSource): string {
  return 'path' in source ? source.path : source.fileName;
}

async function* chunksOf(source: DatasetSource, signal?: AbortSignal): AsyncGenerator<Buffer> {
  if ('content' in source) {
    const all = Buffer.from(source.content, 'utf8');
    for (let i = 0; i < all.length; i += CHUNK) yield all.subarray(i, i + CHUNK);
    return;
  }
  const stream = createReadStream(source.path, {highWaterMark: CHUNK, signal});
  for await (const chunk of stream) yield chunk as Buffer;
}

function totalBytesOf(source: DatasetSource): number {
  if ('content' in source) return Buffer.byteLength(source.content, 'utf8');
  try {
    return statSync(source.path).size;
  } catch {
    throw new AppError('not_found', {zh: `找不到文件：${source.path}`, en: `No such file: ${source.path}`});
  }
}

/** Lenient text for error excerpts only (never for data). */
export const excerptOf = (bytes: Buffer | string): string =>
  (typeof bytes === 'string' ? bytes : bytes.subarray(0, 800).toString('utf8')).replace(/\s+/g, ' ').trim().slice(0, 200);

/** Decodes strictly and parses one record; the failure becomes a rejection, never an exception. */
export function parseRecord(position: number, bytes: Buffer, wrap?: 'member'): SourceRecord {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    return {ok: false, position, error: reasons.invalidUtf8(), excerpt: excerptOf(bytes)};
  }
  try {
    if (wrap === 'member') {
      const obj = JSON.parse(`{${text}}`) as Record<string, unknown>;
      const key = Object.keys(obj)[0]!;
      return {ok: true, position, value: obj[key], key};
    }
    return {ok: true, position, value: JSON.parse(text)};
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error);
    const truncated = /end of (JSON )?input|Unterminated string|Unexpected end/i.test(detail);
    return {ok: false, position, error: truncated ? reasons.truncatedJson(detail, text) : reasons.invalidJson(detail, text), excerpt: excerptOf(text)};
  }
}

/** Chooses the container from the first bytes, the file name and whether text was asked for. */
export function sniffContainer(head: Buffer, fileName: string, wantText: boolean): Container {
  const ext = extname(fileName).toLowerCase();
  if (ext === '.txt' || ext === '.md') return 'txt';
  // CSV has no first byte of its own (a header line is just text), so only the name can say so
  if (ext === '.csv') return 'csv';
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const first = text.trimStart()[0];
  if (first === '[') return 'array';
  if (first !== '{') return wantText && ext !== '.json' && ext !== '.jsonl' ? 'txt' : 'jsonl';
  // {"0": {…}, "1": …} — a collection keyed by index
  if (/^\s*\{\s*"\d+"\s*:\s*\{/.test(text)) return 'object';
  // one record per line, or one pretty-printed object: a pretty-printed object opens with a line
  // holding only "{"; anything else is JSON Lines (whose broken first line is then reported as
  // a rejected row, instead of the whole file being misread as one document)
  const body = text.trimStart();
  const newline = body.indexOf('\n');
  const firstLine = newline >= 0 ? body.slice(0, newline) : body;
  return firstLine.trim() === '{' && ext !== '.jsonl' ? 'document' : 'jsonl';
}

/** The names of a tab-separated header line, or null. Cheap: only the first line is looked at.
 * It must not be JSON, must hold a tab, and must split into at least two short names with none
 * of JSON's brackets or quotes — a JSON Lines record never looks like that. */
export function tsvHeader(head: Buffer): string[] | null {
  const text = head.toString('utf8').replace(/^\uFEFF/, '');
  const newline = text.indexOf('\n');
  const line = (newline >= 0 ? text.slice(0, newline) : text).replace(/\r$/, '');
  if (!line.includes('\t')) return null;
  const names = line.split('\t').map((name) => name.trim());
  if (names.length < 2 || names.length > 200) return null;
  if (names.some((name) => name === '' || name.length > 100 || /["{}[\]]/.test(name))) return null;
  return names;
}

export async function openRecords(source: DatasetSource, options: {signal?: AbortSignal; wantText?: boolean} = {}): Promise<RecordStream> {
  const totalBytes = totalBytesOf(source);
  const chunks = chunksOf(source, options.signal);
  // peek far enough to see the first line (or 64 KB of it) before choosing the container
  const head: Buffer[] = [];
  let headSize = 0;
  while (headSize < 64 * 1024) {
    const next = await chunks.next();
    if (next.done) break;
    head.push(next.value);
    headSize += next.value.length;
    if (next.value.includes(0x0a)) break;
  }
  const headBytes = Buffer.concat(head).subarray(0, 64 * 1024);
  const container = sniffContainer(headBytes, sourceName(source), options.wantText ?? false);
  // what would be read as JSON Lines (or, asked for text, a .tsv) but is a tab-separated table
  if (container === 'jsonl' || (container === 'txt' && extname(sourceName(source)).toLowerCase() === '.tsv')) {
    const header = tsvHeader(headBytes);
    if (header !== null) {
      await chunks.return(undefined);
      throw tsvFile(header);
    }
  }
  let read = 0;
  async function* replay(): AsyncGenerator<Buffer> {
    for (const c of head) yield c;
    yield* chunks;
  }
  async function* counted(): AsyncGenerator<Buffer> {
    let first = true;
    for await (const c of replay()) {
      read += c.length;
      // a UTF-8 byte order mark is not data (Windows editors add one)
      yield first && c[0] === 0xef && c[1] === 0xbb && c[2] === 0xbf ? c.subarray(3) : c;
      first = false;
    }
  }
  const reader =
    container === 'jsonl' ? jsonlRecords : container === 'txt' ? paragraphRecords : container === 'csv' ? csvRecords : (c: AsyncIterable<Buffer>) => documentRecords(c, container);
  return {container, totalBytes, bytesRead: () => read, records: reader(counted())};
}

/** Splits at LF bytes; a line longer than the record limit is skipped up to its end and reported. */
async function* byteLines(chunks: AsyncIterable<Buffer>): AsyncGenerator<{line: number; bytes: Buffer | null; size: number; head: Buffer}> {
  let parts: Buffer[] = [];
  let size = 0;
  let line = 1;
  for await (const chunk of chunks) {
    let from = 0;
    for (let nl = chunk.indexOf(0x0a); nl >= 0; nl = chunk.indexOf(0x0a, from)) {
      const piece = chunk.subarray(from, nl);
      size += piece.length;
      const bytes = size > LIMITS.recordBytes ? null : parts.length === 0 ? piece : Buffer.concat([...parts, piece]);
      yield {line, bytes: bytes && stripCr(bytes), size, head: parts[0] ?? piece};
      parts = [];
      size = 0;
      line++;
      from = nl + 1;
    }
    const rest = chunk.subarray(from);
    if (rest.length > 0) {
      size += rest.length;
      if (size <= LIMITS.recordBytes) parts.push(Buffer.from(rest));
      else if (parts.length > 1) parts = [parts[0]!];
    }
  }
  if (size > 0) yield {line, bytes: size > LIMITS.recordBytes ? null : stripCr(Buffer.concat(parts)), size, head: parts[0] ?? Buffer.alloc(0)};
}

const stripCr = (b: Buffer) => (b.length > 0 && b[b.length - 1] === 0x0d ? b.subarray(0, b.length - 1) : b);
const isBlank = (b: Buffer) => b.every((x) => x === 0x20 || x === 0x09 || x === 0x0d);

async function* jsonlRecords(chunks: AsyncIterable<Buffer>): AsyncGenerator<SourceRecord> {
  for await (const {line, bytes, size, head} of byteLines(chunks)) {
    if (bytes === null) {
      yield {ok: false, position: line, error: reasons.recordTooLarge(size), excerpt: excerptOf(head)};
      continue;
    }
    if (isBlank(bytes)) continue;
    yield parseRecord(line, bytes);
  }
}

async function* documentRecords(chunks: AsyncIterable<Buffer>, container: Container): AsyncGenerator<SourceRecord> {
  const scanner = new JsonElementScanner();
  const wrap = container === 'object' ? 'member' : undefined;
  const convert = (e: ScannedElement): SourceRecord =>
    'bytes' in e ? parseRecord(e.position, e.bytes, wrap) : {ok: false, position: e.position, error: e.error, excerpt: excerptOf(e.excerpt)};
  // a single pretty-printed object is read as the one element of a virtual array
  if (container === 'document') for (const e of scanner.push(Buffer.from('['))) yield convert(e);
  for await (const chunk of chunks) for (const e of scanner.push(chunk)) yield convert(e);
  if (container === 'document') for (const e of scanner.push(Buffer.from(']'))) yield convert(e);
  for (const e of scanner.end()) yield convert(e);
}

/** Plain text: paragraphs separated by blank lines; each paragraph is one string record. */
async function* paragraphRecords(chunks: AsyncIterable<Buffer>): AsyncGenerator<SourceRecord> {
  let lines: string[] = [];
  let start = 0;
  let bad: SourceRecord | null = null;
  let size = 0;
  const flush = (): SourceRecord | null => {
    const record: SourceRecord | null = bad ?? (lines.length ? {ok: true, position: start, value: lines.join('\n')} : null);
    lines = [];
    bad = null;
    size = 0;
    return record;
  };
  for await (const {line, bytes, size: lineSize, head} of byteLines(chunks)) {
    if (bytes !== null && isBlank(bytes)) {
      const record = flush();
      if (record) yield record;
      continue;
    }
    if (lines.length === 0 && bad === null) start = line;
    size += lineSize;
    if (bad) continue;
    if (bytes === null || size > LIMITS.recordBytes) bad = {ok: false, position: start, error: reasons.recordTooLarge(size), excerpt: excerptOf(head)};
    else
      try {
        lines.push(decoder.decode(bytes));
      } catch {
        bad = {ok: false, position: start, error: reasons.invalidUtf8(), excerpt: excerptOf(bytes)};
      }
  }
  const record = flush();
  if (record) yield record;
}

// ───── CSV ─────
//
// RFC 4180 as Excel and Python's csv module write it: fields separated by commas, records by LF
// or CRLF, a field in double quotes may hold commas, line breaks and "" for a quote. Scanned at
// the byte level: the delimiters are ASCII, and UTF-8 never uses bytes below 0x80 inside a
// multi-byte character, so no character can be split into a false delimiter. Lenient where
// writers are sloppy, as Python's reader is: a quote inside an unquoted field is an ordinary
// character, and text after a closing quote is appended to the field.

const QUOTE = 0x22;
const COMMA = 0x2c;
const LF = 0x0a;
const CR = 0x0d;

interface RawCsvRecord {
  /** 1-based line of the record's first byte */
  line: number;
  /** the raw fields; null when the record is over the size limit (then not kept) */
  fields: Buffer[] | null;
  size: number;
  /** the first bytes, for an excerpt */
  head: Buffer;
  /** a quoted field was still open at the end of the file */
  unclosed: boolean;
  /** an empty line: no bytes and no quotes */
  blank: boolean;
}

async function* csvRawRecords(chunks: AsyncIterable<Buffer>): AsyncGenerator<RawCsvRecord> {
  type Mode = 'fieldStart' | 'unquoted' | 'quoted' | 'quoteSeen';
  let mode = 'fieldStart' as Mode;
  let line = 1;
  let start = 1;
  let fields: Buffer[] = [];
  let parts: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  let head: Buffer | null = null;
  let quotedRecord = false;
  let lastQuoted = false;
  let done: RawCsvRecord[] = [];

  const piece = (chunk: Buffer, from: number, to: number) => {
    if (to <= from) return;
    size += to - from;
    if (head === null) head = chunk.subarray(from, Math.min(to, from + 800));
    if (tooLarge) return;
    if (size > LIMITS.recordBytes) {
      // keep scanning to the record's end, but stop holding its bytes
      tooLarge = true;
      parts = [];
      fields = [];
      return;
    }
    parts.push(chunk.subarray(from, to));
  };
  const endField = (quoted: boolean) => {
    if (!tooLarge) fields.push(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    parts = [];
    lastQuoted = quoted;
  };
  const endRecord = () => {
    // the CR of a CRLF ending belongs to the line break, not to an unquoted last field
    const last = fields[fields.length - 1];
    if (!tooLarge && !lastQuoted && last && last[last.length - 1] === CR) fields[fields.length - 1] = last.subarray(0, last.length - 1);
    const blank = !quotedRecord && !tooLarge && fields.length === 1 && fields[0]!.length === 0;
    done.push({line: start, fields: tooLarge ? null : fields, size, head: head ?? Buffer.alloc(0), unclosed: false, blank});
    fields = [];
    parts = [];
    size = 0;
    tooLarge = false;
    head = null;
    quotedRecord = false;
  };

  for await (const chunk of chunks) {
    // where the current piece of field text began in this chunk
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const b = chunk[i]!;
      switch (mode) {
        case 'fieldStart':
          if (b === QUOTE) {
            mode = 'quoted';
            quotedRecord = true;
            from = i + 1;
          } else if (b === COMMA) endField(false);
          else if (b === LF) {
            endField(false);
            endRecord();
            start = ++line;
          } else {
            mode = 'unquoted';
            from = i;
          }
          break;
        case 'unquoted':
          if (b === COMMA || b === LF) {
            piece(chunk, from, i);
            endField(false);
            mode = 'fieldStart';
            if (b === LF) {
              endRecord();
              start = ++line;
            }
          }
          break;
        case 'quoted':
          if (b === QUOTE) {
            piece(chunk, from, i);
            mode = 'quoteSeen';
          } else if (b === LF) line++;
          break;
        case 'quoteSeen':
          if (b === QUOTE) {
            // "" inside quotes: one quote, which starts the next piece
            mode = 'quoted';
            from = i;
          } else if (b === COMMA || b === LF) {
            endField(true);
            mode = 'fieldStart';
            if (b === LF) {
              endRecord();
              start = ++line;
            }
          } else if (b !== CR) {
            mode = 'unquoted';
            from = i;
          }
          break;
      }
    }
    if (mode === 'unquoted' || mode === 'quoted') piece(chunk, from, chunk.length);
    if (done.length) {
      yield* done;
      done = [];
    }
  }
  if (mode === 'quoted') {
    yield {line: start, fields: null, size, head: head ?? Buffer.alloc(0), unclosed: true, blank: false};
    return;
  }
  // the last record has no line break after it
  if (mode !== 'fieldStart' || fields.length > 0 || tooLarge) {
    endField(mode === 'quoteSeen');
    endRecord();
    yield* done;
  }
}

/** Header names: trimmed, none empty, none twice (a record is an object keyed by them). */
function csvHeader(raw: RawCsvRecord): string[] {
  const bad = (detail: LocalisedText) => new AppError('validation', reasons.csvBadHeader(detail));
  if (raw.fields === null || raw.unclosed) throw bad(reasons.csvHeaderUnreadable());
  let names: string[];
  try {
    names = raw.fields.map((f) => decoder.decode(f).trim());
  } catch {
    throw bad(reasons.invalidUtf8());
  }
  names.forEach((name, i) => {
    if (name === '') throw bad(reasons.csvHeaderEmptyName(i + 1));
    if (names.indexOf(name) !== i) throw bad(reasons.csvHeaderDuplicate(name));
  });
  return names;
}

/** Records after the header line, each an object of strings keyed by the header's names. A
 * record with another number of fields than the header is a rejected row: its fields cannot be
 * told apart, and guessing would put text into the wrong column. */
async function* csvRecords(chunks: AsyncIterable<Buffer>): AsyncGenerator<SourceRecord> {
  let header: string[] | null = null;
  for await (const raw of csvRawRecords(chunks)) {
    if (raw.blank) continue;
    const excerpt = () => excerptOf(raw.fields ? Buffer.concat(raw.fields.flatMap((f, i) => (i ? [Buffer.from(','), f] : [f]))) : raw.head);
    if (header === null) {
      header = csvHeader(raw);
      continue;
    }
    if (raw.unclosed) {
      yield {ok: false, position: raw.line, error: reasons.csvUnclosedQuote(), excerpt: excerpt()};
      continue;
    }
    if (raw.fields === null) {
      yield {ok: false, position: raw.line, error: reasons.recordTooLarge(raw.size), excerpt: excerpt()};
      continue;
    }
    if (raw.fields.length !== header.length) {
      yield {ok: false, position: raw.line, error: reasons.csvFieldCount(header.length, raw.fields.length), excerpt: excerpt()};
      continue;
    }
    const value: Record<string, string> = {};
    try {
      header.forEach((name, i) => {
        value[name] = decoder.decode(raw.fields![i]!);
      });
    } catch {
      yield {ok: false, position: raw.line, error: reasons.invalidUtf8(), excerpt: excerpt()};
      continue;
    }
    yield {ok: true, position: raw.line, value};
  }
}
