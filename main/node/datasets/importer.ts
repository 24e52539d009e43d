// importDataset: file → records → rows → validation → de-identification → hash → duplicate
// report → sink, one record at a time. The sink is awaited when it returns a promise, so a slow
// store holds the reader back (backpressure) instead of rows piling up in memory.
//
// Memory stays at about one record plus the duplicate indexes (two 16-character keys per row).
//
// The one repair the importer makes: a dialogue that ends with the patient's turn(s) and no reply
// (a closing "谢谢医生" in MedDialog-derived data) loses those trailing user turns, when at least
// one user → assistant exchange is left, and the report counts such rows (trailingTurnsDropped).
// Anything else a row lacks is a rejection with a reason (validate.ts).

import type {DatasetFormat, DatasetRow, ImportReport, PhiType, RejectedRow} from '../../common/datasets.js';
import {AppError, type LocalisedText} from '../../common/errors.js';
import {deidentifyTexts} from './deid.js';
import {detectFormat, mapRecord} from './formats.js';
import {nearDuplicateKey, rowHash, shortKey} from './hash.js';
import {openRecords, type DatasetSource, type SourceRecord} from './records.js';
import {validateRow} from './validate.js';

export interface FoundReplacement {
  /** index into row.turns for field 'content'; -1 for chosen / rejected / text */
  turnIndex: number;
  field: 'content' | 'chosen' | 'rejected' | 'text';
  /** span of the placeholder in the de-identified text */
  start: number;
  end: number;
  type: PhiType;
  original: string;
}

export interface ImportedRow {
  position: number;
  row: DatasetRow;
  /** rowHash(row), of the row as stored (after de-identification) */
  hash: string;
  replacements: FoundReplacement[];
}

export interface ImportProgressInfo {
  bytesRead: number;
  totalBytes: number;
  rowsRead: number;
}

export interface ImportOptions {
  format: DatasetFormat | 'auto';
  /** on by default in the product; the caller passes it explicitly */
  deidentify: boolean;
  /** leave out a row identical to an earlier one (after de-identification); near duplicates are
   * only reported: they may differ where it matters */
  dropExactDuplicates?: boolean;
  signal?: AbortSignal;
  /** called at most every 200 ms, and once at the end */
  onProgress?: (p: ImportProgressInfo) => void;
  /** how many rejected rows are listed in the report (all are counted); default 100 */
  maxRejectedListed?: number;
  /** how many duplicate pairs are listed; default 20 */
  maxDuplicateExamples?: number;
}

export type RowSink = (row: ImportedRow) => void | Promise<void>;

/** How many records auto-detection may look at before giving up on an unknown shape. */
const DETECT_WINDOW = 1000;

export function deidentifyRow(row: DatasetRow): {row: DatasetRow; replacements: FoundReplacement[]} {
  // All texts of the row are de-identified together (`deidentifyTexts`): a name found in one of
  // them (我叫张三 in the question) is replaced in every other (张三您好 in the answer), and each
  // occurrence is listed for review like any other finding.
  const fields: [FoundReplacement['field'], number][] = row.turns.map((_, i) => ['content', i]);
  const texts = row.turns.map((t) => t.content);
  for (const field of ['chosen', 'rejected', 'text'] as const) {
    const value = row[field];
    if (value === undefined) continue;
    fields.push([field, -1]);
    texts.push(value);
  }
  const listed = texts.length;
  // A multiple-choice item repeats its question and options in `choice`; what is removed from the
  // turns must not survive there. Its spans are not listed: the review shows (and undoes) them in
  // the turn they also appear in, and an undo there leaves `choice` with the placeholder, which
  // keeps nothing identifying and does not change the gold letters.
  if (row.choice !== undefined) texts.push(row.choice.question, ...row.choice.options.map((o) => o.text));
  const results = deidentifyTexts(texts);
  const replacements: FoundReplacement[] = [];
  for (let i = 0; i < listed; i++) for (const s of results[i]!.spans) replacements.push({turnIndex: fields[i]![1], field: fields[i]![0], ...s});
  const out: DatasetRow = {...row, turns: row.turns.map((t, i) => ({role: t.role, content: results[i]!.text}))};
  for (let i = row.turns.length; i < listed; i++) out[fields[i]![0] as 'chosen' | 'rejected' | 'text'] = results[i]!.text;
  if (row.choice !== undefined)
    out.choice = {
      question: results[listed]!.text,
      options: row.choice.options.map((o, j) => ({letter: o.letter, text: results[listed + 1 + j]!.text})),
      answer: [...row.choice.answer],
    };
  return {row: out, replacements};
}

const cancelled = () => new AppError('validation', {zh: '导入已取消。', en: 'Import cancelled.'});

export async function importDataset(source: DatasetSource, options: ImportOptions, sink: RowSink): Promise<ImportReport> {
  const started = performance.now();
  const {signal} = options;
  if (signal?.aborted) throw cancelled();
  const maxRejected = options.maxRejectedListed ?? 100;
  const maxDupExamples = options.maxDuplicateExamples ?? 20;
  const stream = await openRecords(source, {signal, wantText: options.format === 'text'});
  const records = stream.records;

  try {
    // ── the format: given, or recognised from the first records that have a known shape
    const pending: SourceRecord[] = [];
    let format: DatasetFormat | null = options.format === 'auto' ? (stream.container === 'txt' ? 'text' : null) : options.format;
    let unknownKeys: string[] | null = null;
    while (format === null && pending.length < DETECT_WINDOW) {
      const next = await records.next();
      if (next.done) break;
      pending.push(next.value);
      if (next.value.ok) {
        format = detectFormat(next.value.value);
        if (format === null && unknownKeys === null) unknownKeys = describe(next.value.value);
      }
    }
    if (format === null) {
      if (unknownKeys !== null)
        throw new AppError('validation', {
          zh: `无法识别数据格式（首条记录的字段：${unknownKeys.join(', ')}）。请手动指定格式。`,
          en: `Could not recognise the dataset format (fields of the first record: ${unknownKeys.join(', ')}). Choose the format explicitly.`,
        });
      if (pending.length === 0) throw new AppError('validation', {zh: '文件中没有任何数据记录。', en: 'The file holds no records.'});
      format = 'single'; // every record is broken: nothing to recognise, the report lists why
    }

    // ── the rows
    // a new report always has every count (trailingTurnsDropped is optional only for old ones)
    const report: ImportReport & Required<Pick<ImportReport, 'trailingTurnsDropped' | 'duplicatesDropped'>> = {
      format,
      rowsRead: 0,
      rowsImported: 0,
      dialogues: 0,
      turns: 0,
      rejected: 0,
      rejectedRows: [],
      trailingTurnsDropped: 0,
      duplicatesDropped: 0,
      exactDuplicates: 0,
      nearDuplicates: 0,
      duplicateExamples: [],
      replacements: {},
      deidentified: options.deidentify,
      seconds: 0,
    };
    const exact = new Map<string, number>();
    const near = new Map<string, number>();
    let lastProgress = 0;
    let lastYield = performance.now();
    const progress = (force: boolean) => {
      const now = performance.now();
      if (!options.onProgress || (!force && now - lastProgress < 200)) return;
      lastProgress = now;
      options.onProgress({bytesRead: stream.bytesRead(), totalBytes: stream.totalBytes, rowsRead: report.rowsRead});
    };
    const reject = (position: number, reason: LocalisedText, excerpt: string) => {
      report.rejected++;
      if (report.rejectedRows.length < maxRejected) report.rejectedRows.push({position, reason, excerpt} satisfies RejectedRow);
    };

    const handle = async (record: SourceRecord): Promise<void> => {
      report.rowsRead++;
      if (!record.ok) return reject(record.position, record.error, record.excerpt);
      const mapped = mapRecord(format, record.value, record.key);
      if ('error' in mapped) return reject(record.position, mapped.error, excerptOfValue(record.value));
      const trimmed = withoutTrailingUserTurns(mapped.row);
      const problem = validateRow(trimmed ?? mapped.row);
      if (problem) return reject(record.position, problem, excerptOfValue(record.value));
      if (trimmed) {
        mapped.row = trimmed;
        report.trailingTurnsDropped++;
      }
      const {row, replacements} = options.deidentify ? deidentifyRow(mapped.row) : {row: mapped.row, replacements: []};
      for (const r of replacements) report.replacements[r.type] = (report.replacements[r.type] ?? 0) + 1;
      const hash = rowHash(row);
      const exactKey = shortKey(hash);
      const nearKey = nearDuplicateKey(row);
      const firstExact = exact.get(exactKey);
      const firstNear = near.get(nearKey);
      if (firstExact !== undefined || firstNear !== undefined) {
        const isNear = firstExact === undefined;
        if (isNear) report.nearDuplicates++;
        else report.exactDuplicates++;
        if (report.duplicateExamples.length < maxDupExamples)
          report.duplicateExamples.push({position: record.position, duplicateOf: (firstExact ?? firstNear)!, near: isNear});
      }
      if (firstExact !== undefined && options.dropExactDuplicates) {
        report.duplicatesDropped++;
        return;
      }
      if (firstExact === undefined) exact.set(exactKey, record.position);
      if (firstNear === undefined) near.set(nearKey, record.position);
      report.rowsImported++;
      if (row.kind === 'dialogue' || row.kind === 'safety') report.dialogues++;
      for (const t of row.turns) if (t.role === 'user') report.turns++;
      const done = sink({position: record.position, row, hash, replacements});
      if (done && typeof (done as Promise<void>).then === 'function') await done;
    };

    const step = async (record: SourceRecord) => {
      if (signal?.aborted) throw cancelled();
      await handle(record);
      progress(false);
      // let timers and I/O run (progress events, a cancel request) during a long import
      if (performance.now() - lastYield > 50) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
    };
    for (const record of pending) await step(record);
    for await (const record of records) await step(record);
    progress(true);
    report.seconds = Math.round((performance.now() - started) / 10) / 100;
    return report;
  } catch (error) {
    if (signal?.aborted) throw cancelled();
    throw error;
  } finally {
    await records.return(undefined);
  }
}

/** A dialogue ending with user turn(s) without the trailing user turns, or null when there is
 * nothing to drop or no assistant turn would be left (then validation rejects it as it is). */
export function withoutTrailingUserTurns(row: DatasetRow): DatasetRow | null {
  if (row.kind !== 'dialogue' && row.kind !== 'safety') return null;
  let end = row.turns.length;
  while (end > 0 && row.turns[end - 1]!.role === 'user') end--;
  if (end === row.turns.length || end === 0 || row.turns[end - 1]!.role !== 'assistant') return null;
  return {...row, turns: row.turns.slice(0, end)};
}

function describe(value: unknown): string[] {
  if (value === null || typeof value !== 'object') return [typeof value];
  return Object.keys(value).slice(0, 12);
}

function excerptOfValue(value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return (text ?? '').replace(/\s+/g, ' ').slice(0, 200);
}
