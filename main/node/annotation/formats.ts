// Files in and out of annotation: pairwise preference import (MedicalGPT reward format), and the
// exports trainers read unchanged — preference pairs for LLaMA-Factory (sharegpt and alpaca
// "ranking" datasets) and TRL (conversational preference), the K-wise rankings themselves, and
// the SFT corrections of all-wrong items (ShareGPT). Every export streams to a `.partial` file
// and renames it when complete, so a crash never leaves a truncated file under the real name.
//
// Format facts (from the projects' dataset docs): LLaMA-Factory's sharegpt preference rows are
// {conversations: [{from: human|gpt, value}…] ending with a human turn, chosen: {from: gpt,
// value}, rejected: {…}} with `ranking: true` in dataset_info.json; its alpaca preference rows are
// {instruction, input, chosen, rejected} plus optional `history` [[q, a]…] and `system` columns.
// It loads .jsonl through HF `datasets` json. TRL's conversational preference rows are
// {prompt: [{role, content}…], chosen: [{role: 'assistant', content}], rejected: […]}.

import {once} from 'node:events';
import {createWriteStream} from 'node:fs';
import {rename, rm} from 'node:fs/promises';
import {finished} from 'node:stream/promises';
import type {Turn} from '../../common/datasets.js';
import {AppError, type LocalisedText} from '../../common/errors.js';
import type {ItemAnnotation, RankItem, Ranking, FinalDecision} from '../../common/annotation.js';
import {ALL_WRONG_CORRECTION, preferencePairs, rankingProblem, withCorrection} from '../../common/annotation.js';
import {historyToTurns} from './rlhf-label-tool.js';
import {itemContentHash} from './package.js';

// ── Streaming JSONL ────────────────────────────────────────────────────────────────────────────

/** Writes one JSON value per line, honouring back-pressure; returns the number of lines. */
export async function writeJsonl(path: string, records: Iterable<unknown> | AsyncIterable<unknown>): Promise<number> {
  const partial = `${path}.partial`;
  const out = createWriteStream(partial, {encoding: 'utf8'});
  // a listener from the start: an open/write error while the loop is busy must not go unhandled
  let streamError: Error | null = null;
  out.on('error', (error) => (streamError = error));
  let count = 0;
  try {
    for await (const record of records) {
      if (streamError) throw streamError;
      if (!out.write(JSON.stringify(record) + '\n')) await once(out, 'drain');
      count++;
    }
    out.end();
    await finished(out);
    await rename(partial, path);
    return count;
  } catch (error) {
    // wait for the close: the file may be opened only now, after the failure, and rm must follow it
    out.destroy();
    if (!out.closed) await once(out, 'close').catch(() => undefined);
    await rm(partial, {force: true});
    throw error;
  }
}

export function parseJsonl(text: string): {line: number; value: unknown}[] {
  return text.split(/\r?\n/).flatMap((raw, i) => (raw.trim() ? [{line: i + 1, value: JSON.parse(raw) as unknown}] : []));
}

// ── Pairwise import ────────────────────────────────────────────────────────────────────────────

export interface PairImport {
  entries: {item: RankItem; annotations: ItemAnnotation[]}[];
  /** rows left out, each with why in both languages (shown as they are in either UI language) */
  problems: {line: number; reason: LocalisedText}[];
}

/** A file that is not what its format says, in both languages: it is shown to whoever imported it. */
export const fileProblem = (zh: string, en: string): AppError => new AppError('validation', {zh, en});

/** The reason a thrown error gives, in both languages (an unexpected one keeps its own words). */
export const reasonOf = (error: unknown): LocalisedText =>
  error instanceof AppError ? error.localised : {zh: `无法读取：${(error as Error)?.message ?? String(error)}`, en: `Unreadable: ${(error as Error)?.message ?? String(error)}`};

/**
 * MedicalGPT reward JSONL {question, response_chosen, response_rejected} (optional `history`
 * [[q, a]…] and `system`, as its later versions write) → K = 2 items ranked [[0], [1]]: the
 * chosen answer is candidate 0. Pairs whose two answers are identical say nothing and are refused.
 */
export function parsePreferencePairsJsonl(text: string, options: {annotatorId?: string; annotatedAt?: string; source?: string} = {}): PairImport {
  const result: PairImport = {entries: [], problems: []};
  for (const {line, value} of parseJsonl(text)) {
    const row = value as Record<string, unknown>;
    const {question, response_chosen: chosen, response_rejected: rejected} = row;
    if (typeof question !== 'string' || typeof chosen !== 'string' || typeof rejected !== 'string') {
      result.problems.push({line, reason: {zh: '需要文本字段 question、response_chosen 和 response_rejected', en: 'needs string question, response_chosen, response_rejected'}});
      continue;
    }
    if (chosen === rejected) {
      result.problems.push({line, reason: {zh: '较好与较差的回答完全相同', en: 'chosen and rejected answers are identical'}});
      continue;
    }
    let history: Turn[];
    try {
      history = historyToTurns(Array.isArray(row.history) ? (row.history as string[][]) : []);
    } catch (error) {
      result.problems.push({line, reason: reasonOf(error)});
      continue;
    }
    if (typeof row.system === 'string' && row.system) history.unshift({role: 'system', content: row.system});
    const item: RankItem = {history, question, candidates: [chosen, rejected], source: options.source ?? 'pairs', sourceId: String(line)};
    const annotation: ItemAnnotation = {
      annotatorId: options.annotatorId ?? item.source!,
      role: 'annotator',
      ranking: [[0], [1]],
      allWrong: false,
      annotatedAt: options.annotatedAt ?? new Date(0).toISOString(),
    };
    result.entries.push({item, annotations: [annotation]});
  }
  return result;
}

// ── Preference pairs ───────────────────────────────────────────────────────────────────────────

/** An item with its final ranking (see resolveFinal). */
export interface ResolvedItem {
  item: RankItem;
  ranking: Ranking;
  allWrong?: boolean;
  correction?: string | null;
}

export interface PairExportOptions {
  /** all-wrong items: the correction ranks above every candidate (default), or is ignored, or the
   * item is left out */
  allWrong?: 'correction-first' | 'ranking-only' | 'skip';
  /** the correction when the annotator ticked "all wrong" but wrote none */
  defaultCorrection?: string;
}

export interface PreferenceRecord {
  system: string;
  /** prior turns without the system prompt */
  history: Turn[];
  question: string;
  chosen: string;
  rejected: string;
}

const correctionOf = (r: ResolvedItem, options: {defaultCorrection?: string}): string =>
  r.correction?.trim() ? r.correction : (options.defaultCorrection ?? ALL_WRONG_CORRECTION.zh);

function splitSystem(history: readonly Turn[]): {system: string; turns: Turn[]} {
  const system = history.filter((t) => t.role === 'system').map((t) => t.content).join('\n');
  return {system, turns: history.filter((t) => t.role !== 'system')};
}

/** Every (chosen, rejected) pair of every item; pairs of identical texts are dropped (no signal). */
export function* preferenceRecords(resolved: Iterable<ResolvedItem>, options: PairExportOptions = {}): Generator<PreferenceRecord> {
  for (const r of resolved) {
    let {candidates} = r.item;
    let ranking = r.ranking;
    const problem = rankingProblem(ranking, candidates.length);
    if (problem) {
      const which = r.item.sourceId ?? r.item.question.slice(0, 20);
      throw fileProblem(`条目 ${which}：${problem.zh}`, `item ${which}: ${problem.en}`);
    }
    if (r.allWrong) {
      const policy = options.allWrong ?? 'correction-first';
      if (policy === 'skip') continue;
      if (policy === 'correction-first') ({candidates, ranking} = withCorrection(candidates, ranking, correctionOf(r, options)));
    }
    const {system, turns} = splitSystem(r.item.history);
    for (const {better, worse} of preferencePairs(ranking)) {
      if (candidates[better] === candidates[worse]) continue;
      yield {system, history: turns, question: r.item.question, chosen: candidates[better]!, rejected: candidates[worse]!};
    }
  }
}

/** [[q, a]…] pairs for alpaca's `history`; the turns must alternate user → assistant. */
export function turnsToPairs(turns: readonly Turn[]): [string, string][] {
  if (turns.length % 2 !== 0 || turns.some((t, i) => t.role !== (i % 2 === 0 ? 'user' : 'assistant')))
    throw fileProblem('历史对话必须由用户开始，用户与助手交替', 'history must alternate user/assistant turns, starting with the user');
  const pairs: [string, string][] = [];
  for (let i = 0; i < turns.length; i += 2) pairs.push([turns[i]!.content, turns[i + 1]!.content]);
  return pairs;
}

const sharegptTurns = (turns: readonly Turn[]): {from: 'human' | 'gpt'; value: string}[] => {
  turnsToPairs(turns); // same alternation rule; LLaMA-Factory rejects anything else
  return turns.map((t) => ({from: t.role === 'user' ? 'human' : 'gpt', value: t.content}));
};

export type PairFormat = 'llamafactory-sharegpt' | 'llamafactory-alpaca' | 'trl';

/** One record in the requested format. `system` is always written (empty = the template's default)
 * so the column exists in every row, as HF datasets needs for a column it is told to read. */
export function formatPair(r: PreferenceRecord, format: PairFormat): Record<string, unknown> {
  switch (format) {
    case 'llamafactory-sharegpt':
      return {
        conversations: [...sharegptTurns(r.history), {from: 'human', value: r.question}],
        chosen: {from: 'gpt', value: r.chosen},
        rejected: {from: 'gpt', value: r.rejected},
        system: r.system,
      };
    case 'llamafactory-alpaca':
      return {instruction: r.question, input: '', chosen: r.chosen, rejected: r.rejected, history: turnsToPairs(r.history), system: r.system};
    case 'trl': {
      turnsToPairs(r.history);
      const prompt = [...(r.system ? [{role: 'system', content: r.system}] : []), ...r.history.map((t) => ({role: t.role, content: t.content})), {role: 'user', content: r.question}];
      return {prompt, chosen: [{role: 'assistant', content: r.chosen}], rejected: [{role: 'assistant', content: r.rejected}]};
    }
  }
}

export async function exportPreferencePairs(path: string, resolved: Iterable<ResolvedItem>, format: PairFormat, options: PairExportOptions = {}): Promise<number> {
  return writeJsonl(path, (function* () {
    for (const record of preferenceRecords(resolved, options)) yield formatPair(record, format);
  })());
}

/** The dataset_info.json entry LLaMA-Factory needs for a file written above (or by exportSftCorrections). */
export function llamaFactoryDatasetInfo(fileName: string, kind: 'llamafactory-sharegpt' | 'llamafactory-alpaca' | 'sft-sharegpt'): Record<string, unknown> {
  if (kind === 'llamafactory-alpaca')
    return {file_name: fileName, ranking: true, columns: {prompt: 'instruction', query: 'input', chosen: 'chosen', rejected: 'rejected', history: 'history', system: 'system'}};
  const columns = kind === 'sft-sharegpt' ? {messages: 'conversations', system: 'system'} : {messages: 'conversations', chosen: 'chosen', rejected: 'rejected', system: 'system'};
  return {file_name: fileName, formatting: 'sharegpt', ...(kind === 'sft-sharegpt' ? {} : {ranking: true}), columns};
}

// ── SFT corrections ────────────────────────────────────────────────────────────────────────────

/** ShareGPT rows {conversations, system} for every all-wrong item: history, question, correction. */
export function* sftCorrectionRecords(resolved: Iterable<ResolvedItem>, options: {defaultCorrection?: string} = {}): Generator<Record<string, unknown>> {
  for (const r of resolved) {
    if (!r.allWrong) continue;
    const {system, turns} = splitSystem(r.item.history);
    yield {conversations: [...sharegptTurns(turns), {from: 'human', value: r.item.question}, {from: 'gpt', value: correctionOf(r, options)}], system};
  }
}

export const exportSftCorrections = (path: string, resolved: Iterable<ResolvedItem>, options: {defaultCorrection?: string} = {}): Promise<number> =>
  writeJsonl(path, sftCorrectionRecords(resolved, options));

// ── K-wise rankings ────────────────────────────────────────────────────────────────────────────

export interface RankingRecord {
  /** the item's content hash (as in annotation packages) */
  id: string;
  history: Turn[];
  question: string;
  candidates: string[];
  /** the final ranking, best tier first; null until the item is settled */
  tiers: Ranking | null;
  annotators: {id: string; role: ItemAnnotation['role']; tiers: Ranking; allWrong: boolean; correction: string | null; annotatedAt: string}[];
  /** how the final ranking came about; null while unannotated or awaiting adjudication */
  final: {method: 'adjudicated' | 'consensus' | 'single'; allWrong: boolean; correction: string | null} | null;
  source?: string;
  sourceId?: string;
}

export function rankingRecord(item: RankItem, annotations: readonly ItemAnnotation[], decision: FinalDecision): RankingRecord {
  const settled = decision.status === 'final' ? decision : null;
  return {
    id: itemContentHash(item),
    history: item.history,
    question: item.question,
    candidates: item.candidates,
    tiers: settled ? settled.ranking : null,
    annotators: annotations.map((a) => ({id: a.annotatorId, role: a.role, tiers: a.ranking, allWrong: a.allWrong, correction: a.correction ?? null, annotatedAt: a.annotatedAt})),
    final: settled ? {method: settled.method, allWrong: settled.allWrong, correction: settled.correction} : null,
    ...(item.source !== undefined ? {source: item.source} : {}),
    ...(item.sourceId !== undefined ? {sourceId: item.sourceId} : {}),
  };
}

export const exportRankings = (path: string, records: Iterable<RankingRecord> | AsyncIterable<RankingRecord>): Promise<number> => writeJsonl(path, records);

/** Reads a K-wise ranking JSONL back: items with their annotations, and the settled ones resolved. */
export function parseRankingJsonl(text: string): {item: RankItem; annotations: ItemAnnotation[]; resolved: ResolvedItem | null}[] {
  return parseJsonl(text).map(({line, value}) => {
    const r = value as RankingRecord;
    if (!Array.isArray(r.history) || typeof r.question !== 'string' || !Array.isArray(r.candidates) || !Array.isArray(r.annotators))
      throw fileProblem(`第 ${line} 行：不是排序记录`, `line ${line}: not a ranking record`);
    const item: RankItem = {history: r.history, question: r.question, candidates: r.candidates, ...(r.source !== undefined ? {source: r.source} : {}), ...(r.sourceId !== undefined ? {sourceId: r.sourceId} : {})};
    if (itemContentHash(item) !== r.id) throw fileProblem(`第 ${line} 行：内容与其 id 不符`, `line ${line}: content does not match its id`);
    for (const tiers of [r.tiers, ...r.annotators.map((a) => a.tiers)]) {
      const problem = tiers && rankingProblem(tiers, item.candidates.length);
      if (problem) throw fileProblem(`第 ${line} 行：${problem.zh}`, `line ${line}: ${problem.en}`);
    }
    const annotations: ItemAnnotation[] = r.annotators.map((a) => ({annotatorId: a.id, role: a.role, ranking: a.tiers, allWrong: a.allWrong, correction: a.correction, annotatedAt: a.annotatedAt}));
    const resolved = r.tiers && r.final ? {item, ranking: r.tiers, allWrong: r.final.allWrong, correction: r.final.correction} : null;
    return {item, annotations, resolved};
  });
}
