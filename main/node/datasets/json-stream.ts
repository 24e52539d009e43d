// A small streaming tokenizer for one big JSON document: it finds the boundaries of the
// elements of a top-level array (`[ {...}, {...} ]`) or the members of a top-level object
// (`{"0": {...}, "1": {...}}`, RLHF-Label-Tool style) in a stream of byte chunks, and hands each
// element's bytes over on its own. Only one element is ever held in memory, so a 150 MB
// CMtMedQA.json costs about one record, not 150 MB of string.
//
// Why bytes and not text: JSON's structural characters are ASCII and every byte of a UTF-8
// multi-byte sequence is ≥ 0x80, so boundaries can be found without decoding; each element is
// then decoded with a fatal decoder by the caller, which is how invalid UTF-8 gets reported per
// record instead of being silently repaired.
//
// The scanner tracks only string/escape state and bracket depth; it does not validate. A
// malformed element is caught when the caller parses it. An element whose brackets do not
// balance swallows the rest of the file and is reported as truncated at the end: a JSON array
// has no line structure to resynchronise on (JSONL does, which is why it is the robust format).

import type {LocalisedText} from '../../common/errors.js';
import {LIMITS, reasons} from './reasons.js';

export type ScannedElement =
  | {position: number; bytes: Buffer}
  | {position: number; error: LocalisedText; excerpt: Buffer};

const enum B {
  Quote = 0x22,
  Backslash = 0x5c,
  Comma = 0x2c,
  OpenBrace = 0x7b,
  CloseBrace = 0x7d,
  OpenBracket = 0x5b,
  CloseBracket = 0x5d,
  Space = 0x20,
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
}

const isSpace = (b: number) => b === B.Space || b === B.Lf || b === B.Cr || b === B.Tab;

export class JsonElementScanner {
  private phase: 'start' | 'inside' | 'done' = 'start';
  private depth = 0;
  private inString = false;
  private escape = false;
  private index = 0;
  /** the current element: its byte slices so far, their total size, whether it has content */
  private parts: Buffer[] = [];
  private size = 0;
  private started = false;
  private oversized = false;
  private trailingReported = false;

  /** `maxBytes`: elements larger than this are reported, their bytes dropped while scanning on. */
  constructor(private readonly maxBytes: number = LIMITS.recordBytes) {}

  /** Feeds one chunk; returns the elements completed inside it, in order. */
  push(chunk: Buffer): ScannedElement[] {
    const out: ScannedElement[] = [];
    let i = 0;
    let segStart = i; // where the current element's bytes begin inside this chunk
    const n = chunk.length;
    for (; i < n; i++) {
      const b = chunk[i]!;
      if (this.phase === 'inside') {
        if (this.inString) {
          if (this.escape) this.escape = false;
          else if (b === B.Backslash) this.escape = true;
          else if (b === B.Quote) this.inString = false;
          continue;
        }
        if (b === B.Quote) {
          this.inString = true;
          this.started = true;
        } else if (b === B.OpenBrace || b === B.OpenBracket) {
          this.depth++;
          this.started = true;
        } else if (b === B.CloseBrace || b === B.CloseBracket) {
          if (this.depth === 1) {
            this.keep(chunk, segStart, i);
            if (this.started || this.parts.length > 0) this.finish(out, false);
            this.phase = 'done';
            this.depth = 0;
          } else this.depth--;
        } else if (b === B.Comma && this.depth === 1) {
          this.keep(chunk, segStart, i);
          this.finish(out, true);
          segStart = i + 1;
        } else if (!isSpace(b)) this.started = true;
      } else if (this.phase === 'start') {
        if (isSpace(b)) continue;
        if (b === B.OpenBracket || b === B.OpenBrace) {
          this.phase = 'inside';
          this.depth = 1;
          segStart = i + 1;
        } else {
          out.push({position: 0, error: reasons.notJsonDocument(), excerpt: chunk.subarray(i, i + 600)});
          this.phase = 'done';
          this.trailingReported = true;
        }
      } else if (!isSpace(b) && !this.trailingReported) {
        this.trailingReported = true;
        out.push({position: this.index, error: reasons.trailingData(), excerpt: chunk.subarray(i, i + 600)});
      }
    }
    if (this.phase === 'inside') this.keep(chunk, segStart, n);
    return out;
  }

  /** Call at end of input: reports an unclosed document (a truncated file). */
  end(): ScannedElement[] {
    if (this.phase !== 'inside') return [];
    const out: ScannedElement[] = [];
    const excerpt = Buffer.concat(this.parts).subarray(0, 600);
    out.push({position: this.index, error: this.started ? reasons.endOfFileInRecord() : reasons.fileNotClosed(), excerpt});
    this.phase = 'done';
    this.parts = [];
    return out;
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    if (to <= from) return;
    this.size += to - from;
    if (this.oversized) return;
    if (this.size > this.maxBytes) {
      this.oversized = true;
      // keep a little for the excerpt, drop the rest
      const head = Buffer.concat([...this.parts, chunk.subarray(from, to)]).subarray(0, 600);
      this.parts = [Buffer.from(head)];
      return;
    }
    // copy: the caller may reuse chunk buffers, and a slice would pin the whole chunk in memory
    this.parts.push(Buffer.from(chunk.subarray(from, to)));
  }

  private finish(out: ScannedElement[], byComma: boolean): void {
    const position = this.index++;
    if (this.oversized) out.push({position, error: reasons.recordTooLarge(this.size, this.maxBytes), excerpt: this.parts[0] ?? Buffer.alloc(0)});
    else if (!this.started) {
      if (byComma || this.index > 1) out.push({position, error: reasons.emptyElement(), excerpt: Buffer.alloc(0)});
      else this.index--; // `[]`: an empty array has no element 0
    } else out.push({position, bytes: this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts)});
    this.parts = [];
    this.size = 0;
    this.started = false;
    this.oversized = false;
  }
}
