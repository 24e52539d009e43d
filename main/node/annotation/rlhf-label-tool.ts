// Import from RLHF-Label-Tool (github.com/SupritYoung/RLHF-Label-Tool), the Streamlit ranking
// tool the Zhongjing authors published (a copy lives in Zhongjing's src/rlhf_label/list_rank.py).
//
// What its code does (app.py at df855a7bb8116b7329e9cb3b2ac7bd1c0a47f56c; identical in every
// earlier commit and in Zhongjing's list_rank.py lines 78-113):
//  - lines 72-89: for response i = 0..K-1 the annotator picks a rank in {1..K} from a selectbox;
//    `rank_results[i]` is the rank GIVEN TO response i (1 = best). A rank already taken is not
//    appended (lines 81-89), so a conflicting form cannot be saved with K columns.
//  - lines 107-110: `rank_texts = [data[id][f"response_{rank - 1}"] for rank in rank_results]`,
//    written as columns rank1..rankK (line 111). So column j holds the TEXT of response
//    (rank_results[j] − 1): the text at position j is indexed by the rank of response j. That is
//    the inverse of "texts sorted best to worst", which its README claims; the two agree only
//    when the rank vector is an involution (e.g. the identity, as in both shipped example rows).
//    Decoding: find column j's text among the responses → index t_j; then response j has rank
//    t_j + 1, i.e. best-to-worst order = responses sorted by t.
//  - line 111: `history` is the Python list from the input JSON; pandas `to_csv` (line 119)
//    writes it with str(), i.e. Python repr (['问', '答'] with single quotes), NOT JSON — only
//    the empty list "[]" happens to be both. Rows re-read with dtype=str (line 103) keep it.
//  - lines 114-117: re-annotating an item deletes its row and appends a new one, so row order is
//    annotation order, not id order; `id` is the input JSON's key ("0".."N").
//  - line 119: pandas quotes a cell containing a tab, newline or '"' ("…" with "" inside).
// The tool records no annotator and no time; callers supply both.

import {readFile, stat} from 'node:fs/promises';
import type {Turn} from '../../common/datasets.js';
import type {ItemAnnotation, RankItem, Ranking} from '../../common/annotation.js';
import {rankingFromOrder} from '../../common/annotation.js';
import {AppError, type LocalisedText} from '../../common/errors.js';

/** A file that is not what the tool writes, said in both languages (it reaches the import screen). */
const fileProblem = (zh: string, en: string): AppError => new AppError('validation', {zh, en});

/** 'tool-code': what app.py actually writes (default); 'sorted': columns already best → worst. */
export type RlhfColumnSemantics = 'tool-code' | 'sorted';

export interface RlhfOutputRow {
  id: string;
  query: string;
  history: [string, string][];
  /** the rank1..rankK cells */
  texts: string[];
}

export interface RlhfImportResult {
  /** every input item, keyed by the tool's id */
  items: Map<string, RankItem>;
  /** one per decoded output row, keyed by the tool's id */
  annotations: Map<string, ItemAnnotation>;
  /** ids whose candidates contain identical texts, so which copy got which rank is a guess */
  ambiguous: string[];
  /** output rows left out, each with why in both languages */
  problems: {id: string; reason: LocalisedText}[];
}

/** [[q, a], …] → alternating user/assistant turns. */
export function historyToTurns(history: readonly (readonly string[])[]): Turn[] {
  return history.flatMap((pair) => {
    if (pair.length !== 2) throw fileProblem(`历史对话中的一项不是 [问题, 回答]：${JSON.stringify(pair)}`, `history entry is not a [question, answer] pair: ${JSON.stringify(pair)}`);
    return [{role: 'user' as const, content: pair[0]!}, {role: 'assistant' as const, content: pair[1]!}];
  });
}

function isPairList(value: unknown): value is [string, string][] {
  return Array.isArray(value) && value.every((p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === 'string'));
}

/** Parses input_file.json: {"0": {query, history, response_0..response_{K-1}}, …}. */
export function parseRlhfInput(json: string, source = 'rlhf-label-tool'): Map<string, RankItem> {
  const data = JSON.parse(json) as Record<string, Record<string, unknown>>;
  const items = new Map<string, RankItem>();
  for (const [id, entry] of Object.entries(data)) {
    const candidates: string[] = [];
    while (typeof entry[`response_${candidates.length}`] === 'string') candidates.push(entry[`response_${candidates.length}`] as string);
    if (typeof entry.query !== 'string' || !isPairList(entry.history ?? []) || candidates.length < 2)
      throw fileProblem(`输入条目 ${id}：需要 query、history [[问, 答], …] 以及 response_0、response_1、…`, `input item ${id}: needs query, history [[q, a], …] and response_0, response_1, …`);
    items.set(id, {history: historyToTurns((entry.history ?? []) as [string, string][]), question: entry.query, candidates, source, sourceId: id});
  }
  return items;
}

/**
 * Splits pandas-written TSV into rows of cells: tab-separated, '"'-quoted cells may hold tabs,
 * newlines and "" (an escaped quote); CRLF (pandas on Windows) is accepted.
 */
export function parseTsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  for (; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cell += ch;
    } else if (ch === '"' && cell === '') quoted = true;
    else if (ch === '\t') {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
    } else cell += ch;
  }
  if (cell !== '' || row.length) {
    row.push(cell);
    rows.push(row);
  }
  return rows;
}

/**
 * Parses a Python literal made of lists, tuples and str — what str(list) writes — or JSON.
 * Handles both quote styles and the escapes repr() emits (\\ \' \" \n \r \t \xhh \uhhhh \Uhhhhhhhh).
 */
export function parsePythonStringList(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    /* Python repr: parse below */
  }
  let i = 0;
  const fail = (what: LocalisedText): never => {
    throw fileProblem(`不是 Python 列表字面量（第 ${i} 个字符处${what.zh}）：${text.slice(0, 80)}`, `not a Python list literal (${what.en} at ${i}): ${text.slice(0, 80)}`);
  };
  const skip = (): void => {
    while (/[\s,]/.test(text[i] ?? '')) i++;
  };
  const value = (): unknown => {
    skip();
    const ch = text[i];
    if (ch === '[' || ch === '(') {
      const close = ch === '[' ? ']' : ')';
      i++;
      const out: unknown[] = [];
      for (skip(); text[i] !== close; skip()) {
        if (i >= text.length) fail({zh: '列表未闭合', en: 'unclosed list'});
        out.push(value());
      }
      i++;
      return out;
    }
    if (ch !== "'" && ch !== '"') return fail({zh: '出现意外的字符', en: 'unexpected character'});
    const quote = ch;
    let s = '';
    for (i++; text[i] !== quote; i++) {
      if (i >= text.length) fail({zh: '字符串未闭合', en: 'unclosed string'});
      if (text[i] !== '\\') {
        s += text[i];
        continue;
      }
      const e = text[++i];
      const simple: Record<string, string> = {'\\': '\\', "'": "'", '"': '"', n: '\n', r: '\r', t: '\t', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0'};
      const width = e === 'x' ? 2 : e === 'u' ? 4 : e === 'U' ? 8 : 0;
      if (width) {
        const hex = text.slice(i + 1, i + 1 + width);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== width) fail({zh: '转义无效', en: 'bad escape'});
        s += String.fromCodePoint(parseInt(hex, 16));
        i += width;
      } else if (e !== undefined && e in simple) s += simple[e];
      else s += '\\' + (e ?? ''); // Python keeps unknown escapes verbatim
    }
    i++;
    return s;
  };
  const result = value();
  skip();
  if (i < text.length) fail({zh: '末尾有多余的文本', en: 'trailing text'});
  return result;
}

/** Parses output_result.tsv (header `id query history rank1 … rankK`). */
export function parseRlhfOutput(tsv: string): RlhfOutputRow[] {
  const [header, ...rows] = parseTsv(tsv).filter((r) => r.length > 1 || r[0] !== '');
  const rankColumns = (header ?? []).map((h, c) => [h.replace(/\s+/g, ''), c] as const).filter(([h]) => /^rank\d+$/.test(h));
  const col = (name: string): number => (header ?? []).indexOf(name);
  if (!header || col('id') < 0 || col('query') < 0 || col('history') < 0 || rankColumns.length < 2)
    throw fileProblem('排序结果 TSV 需要表头：id、query、history、rank1、rank2、…', 'output TSV needs the header: id, query, history, rank1, rank2, …');
  rankColumns.sort((p, q) => Number(p[0].slice(4)) - Number(q[0].slice(4)));
  return rows.map((cells) => {
    const history = parsePythonStringList(cells[col('history')] ?? '[]');
    if (!isPairList(history)) throw fileProblem(`id 为 ${cells[col('id')]} 的行：history 不是 [[问, 答], …]`, `row ${cells[col('id')]}: history is not [[q, a], …]`);
    return {id: cells[col('id')]!, query: cells[col('query')] ?? '', history, texts: rankColumns.map(([, c]) => cells[c] ?? '')};
  });
}

/**
 * Maps one output row back to response indices. Identical candidate texts cannot be told apart
 * in the TSV; they are matched in index order and reported as ambiguous (exports drop the
 * resulting chosen = rejected pairs anyway).
 */
export function decodeRlhfRanking(item: RankItem, row: RlhfOutputRow, semantics: RlhfColumnSemantics = 'tool-code'): {ranking: Ranking; ambiguous: boolean} {
  const k = item.candidates.length;
  if (row.texts.length !== k) throw fileProblem(`id 为 ${row.id} 的行：${k} 个回答却有 ${row.texts.length} 个 rank 列`, `row ${row.id}: ${row.texts.length} rank columns for ${k} responses`);
  const used = new Set<number>();
  const t = row.texts.map((text, j) => {
    const index = item.candidates.findIndex((c, i) => c === text && !used.has(i));
    if (index < 0) throw fileProblem(`id 为 ${row.id} 的行：rank${j + 1} 列的文本与任何（未用过的）回答都不一致`, `row ${row.id}: rank${j + 1} text matches no (unused) response`);
    used.add(index);
    return index;
  });
  const ambiguous = new Set(item.candidates).size < k;
  if (semantics === 'sorted') return {ranking: rankingFromOrder(t), ambiguous};
  // tool-code: response j has rank t_j + 1, so the best-first order lists j by ascending t_j
  const order = t.map((_, j) => j).sort((p, q) => t[p]! - t[q]!);
  return {ranking: rankingFromOrder(order), ambiguous};
}

export interface RlhfImportOptions {
  annotatorId?: string;
  annotatedAt?: string;
  semantics?: RlhfColumnSemantics;
  source?: string;
}

/** Joins the tool's input and output: items, plus one annotation per decodable output row. */
export function importRlhfLabelTool(inputJson: string, outputTsv: string | null, options: RlhfImportOptions = {}): RlhfImportResult {
  const items = parseRlhfInput(inputJson, options.source);
  const result: RlhfImportResult = {items, annotations: new Map(), ambiguous: [], problems: []};
  for (const row of outputTsv ? parseRlhfOutput(outputTsv) : []) {
    const item = items.get(row.id);
    if (!item) {
      result.problems.push({id: row.id, reason: {zh: '输入文件中没有这个 id 的条目', en: 'no input item with this id'}});
      continue;
    }
    if (row.query !== item.question) {
      result.problems.push({id: row.id, reason: {zh: 'query 与输入条目不同（标注后输入文件被改过？）', en: 'query differs from the input item (input file changed after annotating?)'}});
      continue;
    }
    try {
      const {ranking, ambiguous} = decodeRlhfRanking(item, row, options.semantics);
      if (ambiguous) result.ambiguous.push(row.id);
      result.annotations.set(row.id, {
        annotatorId: options.annotatorId ?? 'rlhf-label-tool',
        role: 'annotator',
        ranking,
        allWrong: false,
        annotatedAt: options.annotatedAt ?? new Date(0).toISOString(),
      });
    } catch (error) {
      const message = (error as Error)?.message ?? String(error);
      result.problems.push({id: row.id, reason: error instanceof AppError ? error.localised : {zh: `无法解读：${message}`, en: `Cannot decode: ${message}`}});
    }
  }
  return result;
}

/** Reads the two files; the output file's mtime stands in for the annotation time it lacks. */
export async function importRlhfLabelToolFiles(inputPath: string, outputPath: string | null, options: RlhfImportOptions = {}): Promise<RlhfImportResult> {
  const input = await readFile(inputPath, 'utf8');
  const output = outputPath ? await readFile(outputPath, 'utf8') : null;
  const annotatedAt = options.annotatedAt ?? (outputPath ? (await stat(outputPath)).mtime.toISOString() : undefined);
  return importRlhfLabelTool(input, output, {...options, ...(annotatedAt ? {annotatedAt} : {})});
}
