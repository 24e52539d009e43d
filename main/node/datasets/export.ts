// Export writers: JSON Lines that LLaMA-Factory reads as they are, with the dataset_info.json
// entries that describe them, and preference pairs that TRL reads too. Rows are streamed to a
// `.part` file and renamed into place at the end, so a crash never leaves a half file that looks
// finished.
//
//   ShareGPT  {"conversations":[{"from":"human"|"gpt","value"}…],"system":""}      formatting sharegpt
//   Alpaca    {"instruction","input":"","output","system":"","history":[[q,a]…]}   formatting alpaca
//   pairs     {"prompt","chosen","rejected","system":"","history":[[q,a]…]}        ranking: true
//             = TRL's standard preference format (explicit prompt; TRL ignores the other
//             columns, so for multi-turn pairs TRL sees only the last question) and LLaMA-Factory
//             alpaca ranking with prompt/chosen/rejected/system/history mapped
//   text      {"text"}                                                            columns prompt → text
//
// Every row carries every column (empty string / empty list when absent): the Hugging Face JSON
// loader infers one schema per block of rows, and a column that appears only in later blocks
// fails to load. Extra columns (id, source, cate1, cate2, kind, choice, ask_each_turn) are dropped
// by LLaMA-Factory's converter and let our importer read an export back as the same rows. Tags
// are not exported.
//
// `choice` (a multiple-choice item's question, options and gold letters) is written as a JSON
// string, "" when the row has none: the loader infers each column's type per block of rows, and a
// string column has one type whether or not a block holds a benchmark row, where an object column
// would be null in one block and a struct in the next. `ask_each_turn` is a boolean on every row.

import {open, readFile, rename, writeFile, mkdir} from 'node:fs/promises';
import {join} from 'node:path';
import type {DatasetRow, Turn} from '../../common/datasets.js';
import {AppError} from '../../common/errors.js';

export type ExportFormat = 'sharegpt' | 'alpaca' | 'pairs' | 'llamafactory';
export type FileKind = 'sharegpt' | 'alpaca' | 'pairs' | 'text';
export type ExportableRow = DatasetRow & {split?: 'train' | 'validation' | null};

const meta = (row: DatasetRow) => ({
  id: row.sourceId ?? '',
  source: row.source ?? '',
  cate1: row.department ?? '',
  cate2: row.subDepartment ?? '',
  kind: row.kind,
  choice: row.choice ? JSON.stringify(row.choice) : '',
  ask_each_turn: row.askEachTurn === true,
});

function split(turns: Turn[]): {system: string; pairs: [string, string][]; last: string | null} {
  const system = turns[0]?.role === 'system' ? turns[0].content : '';
  const rest = system ? turns.slice(1) : turns;
  const pairs: [string, string][] = [];
  for (let i = 0; i + 1 < rest.length; i += 2) pairs.push([rest[i]!.content, rest[i + 1]!.content]);
  return {system, pairs, last: rest.length % 2 === 1 ? rest[rest.length - 1]!.content : null};
}

export function toShareGpt(row: DatasetRow): object | null {
  if (row.kind !== 'dialogue' && row.kind !== 'safety') return null;
  const {system, pairs} = split(row.turns);
  const conversations = pairs.flatMap(([q, a]) => [
    {from: 'human', value: q},
    {from: 'gpt', value: a},
  ]);
  return {conversations, system, ...meta(row)};
}

export function toAlpaca(row: DatasetRow): object | null {
  if (row.kind !== 'dialogue' && row.kind !== 'safety') return null;
  const {system, pairs} = split(row.turns);
  const final = pairs.pop();
  if (!final) return null;
  return {instruction: final[0], input: '', output: final[1], system, history: pairs, ...meta(row)};
}

export function toPair(row: DatasetRow): object | null {
  if (row.kind !== 'preference' || row.chosen === undefined || row.rejected === undefined) return null;
  const {system, pairs, last} = split(row.turns);
  if (last === null) return null;
  return {prompt: last, chosen: row.chosen, rejected: row.rejected, system, history: pairs, ...meta(row)};
}

export function toText(row: DatasetRow): object | null {
  return row.kind === 'text' && row.text !== undefined ? {text: row.text, id: row.sourceId ?? '', source: row.source ?? ''} : null;
}

const CONVERT: Record<FileKind, (row: DatasetRow) => object | null> = {sharegpt: toShareGpt, alpaca: toAlpaca, pairs: toPair, text: toText};

/** The dataset_info.json entry LLaMA-Factory needs to read a file we wrote. */
export function datasetInfoEntry(kind: FileKind, fileName: string): Record<string, unknown> {
  switch (kind) {
    case 'sharegpt':
      return {
        file_name: fileName,
        formatting: 'sharegpt',
        columns: {messages: 'conversations', system: 'system'},
        // with "tags" present every unnamed tag becomes None, so all the ones we use are named
        tags: {role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system'},
      };
    case 'alpaca':
      // with "columns" present every unnamed column becomes None, so name them all
      return {file_name: fileName, columns: {prompt: 'instruction', query: 'input', response: 'output', system: 'system', history: 'history'}};
    case 'pairs':
      return {file_name: fileName, ranking: true, columns: {prompt: 'prompt', chosen: 'chosen', rejected: 'rejected', system: 'system', history: 'history'}};
    case 'text':
      return {file_name: fileName, columns: {prompt: 'text'}};
  }
}

/** Buffered line writer onto `<path>.part`, renamed to `<path>` by `close()`. */
class JsonlWriter {
  private chunks: string[] = [];
  private size = 0;
  rows = 0;
  private constructor(
    readonly path: string,
    private readonly handle: Awaited<ReturnType<typeof open>>,
  ) {}

  static async create(path: string): Promise<JsonlWriter> {
    return new JsonlWriter(path, await open(`${path}.part`, 'w'));
  }

  async write(record: object): Promise<void> {
    const line = `${JSON.stringify(record)}\n`;
    this.chunks.push(line);
    this.size += line.length;
    this.rows++;
    if (this.size >= 1 << 20) await this.flush();
  }

  private async flush(): Promise<void> {
    if (this.chunks.length === 0) return;
    await this.handle.write(this.chunks.join(''));
    this.chunks = [];
    this.size = 0;
  }

  async close(): Promise<void> {
    await this.flush();
    await this.handle.sync();
    await this.handle.close();
    await rename(`${this.path}.part`, this.path);
  }

  async abort(): Promise<void> {
    await this.handle.close().catch(() => undefined);
  }
}

export interface ExportResult {
  /** absolute paths of the files written, dataset_info.json last */
  files: string[];
  /** each data file with what it holds and which split (the manifest a training run reads) */
  parts: {path: string; kind: FileKind; split: 'train' | 'validation'}[];
  rows: number;
  /** rows that the chosen format cannot hold (e.g. preference rows in a ShareGPT export) */
  skipped: number;
  /** the dataset_info.json entries written (merged into an existing file in `dir`) */
  datasetInfo: Record<string, unknown>;
}

const KINDS_OF: Record<ExportFormat, FileKind[]> = {
  sharegpt: ['sharegpt'],
  alpaca: ['alpaca'],
  pairs: ['pairs'],
  llamafactory: ['sharegpt', 'pairs', 'text'],
};

/**
 * Writes rows into `dir` as `<name>.<kind>.jsonl` (+ `<name>.<kind>.validation.jsonl` for rows
 * whose split is validation) and merges the matching entries into `dir/dataset_info.json`.
 * Entry names are `<name>_<kind>` and `<name>_<kind>_validation`.
 */
export async function exportRows(rows: Iterable<ExportableRow> | AsyncIterable<ExportableRow>, options: {format: ExportFormat; dir: string; name: string}): Promise<ExportResult> {
  await mkdir(options.dir, {recursive: true});
  const kinds = KINDS_OF[options.format];
  const writers = new Map<string, {writer: JsonlWriter; kind: FileKind; entry: string; validation: boolean}>();
  const writerFor = async (kind: FileKind, validation: boolean) => {
    const key = `${kind}${validation ? '.validation' : ''}`;
    let w = writers.get(key);
    if (!w) {
      const file = `${options.name}.${key}.jsonl`;
      w = {writer: await JsonlWriter.create(join(options.dir, file)), kind, validation, entry: `${options.name}_${kind}${validation ? '_validation' : ''}`};
      writers.set(key, w);
    }
    return w.writer;
  };
  let written = 0;
  let skipped = 0;
  try {
    for await (const row of rows) {
      let record: object | null = null;
      let kind: FileKind | undefined;
      for (const k of kinds) {
        record = CONVERT[k](row);
        if (record) {
          kind = k;
          break;
        }
      }
      if (!record || !kind) {
        skipped++;
        continue;
      }
      await (await writerFor(kind, row.split === 'validation')).write(record);
      written++;
    }
    for (const {writer} of writers.values()) await writer.close();
  } catch (error) {
    for (const {writer} of writers.values()) await writer.abort();
    throw error;
  }
  // nothing the format can hold: no files were opened, and dataset_info.json is left as it was
  if (written === 0)
    throw new AppError(
      'validation',
      skipped
        ? {zh: `${skipped} 行都不适用 ${options.format} 格式，没有可导出的行；未写入任何文件。`, en: `None of the ${skipped} rows fits the ${options.format} format: nothing to export, no file written.`}
        : {zh: '没有数据行可导出；未写入任何文件。', en: 'There are no rows to export; no file written.'},
    );
  const datasetInfo: Record<string, unknown> = {};
  for (const [key, {kind, entry}] of writers) datasetInfo[entry] = datasetInfoEntry(kind, `${options.name}.${key}.jsonl`);
  const infoPath = join(options.dir, 'dataset_info.json');
  let existing: Record<string, unknown> = {};
  try {
    existing = JSON.parse(await readFile(infoPath, 'utf8')) as Record<string, unknown>;
  } catch {
    // none yet (or unreadable: replaced)
  }
  await writeFile(infoPath, `${JSON.stringify({...existing, ...datasetInfo}, null, 2)}\n`);
  const parts = [...writers.values()].map((w) => ({path: w.writer.path, kind: w.kind, split: w.validation ? ('validation' as const) : ('train' as const)}));
  return {files: [...parts.map((p) => p.path), infoPath], parts, rows: written, skipped, datasetInfo};
}
