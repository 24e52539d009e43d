// Reading training data files into normalised examples. Accepted rows (JSON Lines, or a JSON
// array / {"data": [...]} of the same objects):
//   ShareGPT        {"conversations": [{"from": "human"|"gpt"|"system", "value": …}, …], "system"?: …}
//   role/content    {"conversation" | "messages": [{"role": "user"|"assistant"|"system", "content": …}, …]}
//                   (DISC-Med's patient/doctor roles are accepted too)
//   query/response  {"query": …, "response": …}                    (ChatMed)
//   Alpaca/CMtMedQA {"instruction": …, "input"?: …, "output": …, "history"?: [[q, a], …]}
//   plain text      {"text": …}                                     (continued pre-training)
// Dialogues become alternating user/assistant turns after an optional system prompt, exactly the
// shape inference renders (ModelRunner.toChatHistory): consecutive turns of one role are joined
// with a newline, a leading assistant turn and trailing user turns (no reply to learn) are dropped.
// Rows that cannot be used are counted with the reason, never silently.

import {createHash} from 'node:crypto';
import {readFileSync} from 'node:fs';
import {basename} from 'node:path';

export type TurnRole = 'system' | 'user' | 'assistant';
export interface Turn {
  role: TurnRole;
  content: string;
}

export type Example =
  | {kind: 'dialogue'; turns: Turn[]; source: ExampleSource}
  | {kind: 'text'; text: string; source: ExampleSource};

export interface ExampleSource {
  file: string;
  /** 1-based line (JSONL) or array index + 1 (JSON). */
  row: number;
}

export interface DatasetFile {
  path: string;
  name: string;
  /** sha256 of the file's bytes: the run record's provenance. */
  sha256: string;
  bytes: number;
  rows: number;
  examples: Example[];
  skipped: {row: number; reason: string}[];
}

const USER_ROLES = new Set(['user', 'human', 'patient', '患者', 'question']);
const ASSISTANT_ROLES = new Set(['assistant', 'gpt', 'model', 'bot', 'doctor', '医生', 'chatgpt', 'answer']);

/** Reads one file. Throws only for an unreadable file or invalid JSON as a whole. */
export function readDatasetFile(path: string): DatasetFile {
  const bytes = readFileSync(path);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const text = bytes.toString('utf8').replace(/^\uFEFF/, '');
  const rows: {row: number; value: unknown; error?: string}[] = [];
  const trimmed = text.trimStart();
  if (trimmed.startsWith('[') || (trimmed.startsWith('{') && !isJsonLines(trimmed))) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error(`${path}: not valid JSON (${(error as Error).message})`);
    }
    const items = Array.isArray(parsed) ? parsed : Array.isArray((parsed as {data?: unknown}).data) ? (parsed as {data: unknown[]}).data : [parsed];
    items.forEach((value, i) => rows.push({row: i + 1, value}));
  } else {
    text.split('\n').forEach((line, i) => {
      if (!line.trim()) return;
      try {
        rows.push({row: i + 1, value: JSON.parse(line)});
      } catch (error) {
        rows.push({row: i + 1, value: null, error: `invalid JSON: ${(error as Error).message}`});
      }
    });
  }
  const file: DatasetFile = {path, name: basename(path), sha256, bytes: bytes.length, rows: rows.length, examples: [], skipped: []};
  for (const {row, value, error} of rows) {
    const result = error ? {error} : normaliseRow(value);
    if ('error' in result) file.skipped.push({row, reason: result.error});
    else file.examples.push({...result.example, source: {file: file.name, row}} as Example);
  }
  return file;
}

/** A file whose first line parses on its own is JSON Lines (a pretty-printed JSON object does not). */
function isJsonLines(text: string): boolean {
  const firstLine = text.slice(0, text.indexOf('\n') >>> 0);
  try {
    JSON.parse(firstLine);
    return true;
  } catch {
    return false;
  }
}

type ExampleBody = {kind: 'dialogue'; turns: Turn[]} | {kind: 'text'; text: string};
type Normalised = {example: ExampleBody} | {error: string};

export function normaliseRow(value: unknown): Normalised {
  if (!value || typeof value !== 'object' || Array.isArray(value)) return {error: 'not a JSON object'};
  const row = value as Record<string, unknown>;
  if (typeof row.text === 'string' && !row.conversations && !row.conversation && !row.messages) {
    return row.text.trim() ? {example: {kind: 'text', text: row.text}} : {error: 'empty text'};
  }
  let turns: Turn[] | {error: string};
  if (Array.isArray(row.conversations)) turns = fromMessages(row.conversations, 'from', 'value');
  else if (Array.isArray(row.conversation)) turns = fromMessages(row.conversation, 'role', 'content');
  else if (Array.isArray(row.messages)) turns = fromMessages(row.messages, 'role', 'content');
  else if (typeof row.query === 'string' && typeof row.response === 'string') {
    turns = [{role: 'user', content: row.query}, {role: 'assistant', content: row.response}];
  } else if (typeof row.instruction === 'string' && typeof row.output === 'string') {
    turns = [];
    if (typeof row.system === 'string' && row.system.trim()) turns.push({role: 'system', content: row.system});
    if (Array.isArray(row.history)) {
      for (const pair of row.history) {
        if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') return {error: 'history must be [[question, answer], …]'};
        turns.push({role: 'user', content: pair[0]}, {role: 'assistant', content: pair[1]});
      }
    }
    const input = typeof row.input === 'string' && row.input.trim() ? `\n${row.input}` : '';
    turns.push({role: 'user', content: row.instruction + input}, {role: 'assistant', content: row.output});
  } else {
    return {error: 'unknown row format (expected conversations, conversation, messages, query/response, instruction/output or text)'};
  }
  if ('error' in turns) return turns;
  // LLaMA-Factory's ShareGPT (and our datasets export) carry the system prompt as a column
  if (typeof row.system === 'string' && row.system.trim() && !turns.some((t) => t.role === 'system') && !Array.isArray(row.history)) {
    turns.unshift({role: 'system', content: row.system});
  }
  const cleaned = canonicalTurns(turns);
  if ('error' in cleaned) return cleaned;
  return {example: {kind: 'dialogue', turns: cleaned}};
}

function fromMessages(messages: unknown[], roleKey: string, contentKey: string): Turn[] | {error: string} {
  const turns: Turn[] = [];
  for (const [i, m] of messages.entries()) {
    if (!m || typeof m !== 'object') return {error: `message ${i} is not an object`};
    const rawRole = String((m as Record<string, unknown>)[roleKey] ?? '').toLowerCase();
    const content = (m as Record<string, unknown>)[contentKey];
    if (typeof content !== 'string') return {error: `message ${i} has no ${contentKey} string`};
    const role: TurnRole | null = rawRole === 'system' ? 'system' : USER_ROLES.has(rawRole) ? 'user' : ASSISTANT_ROLES.has(rawRole) ? 'assistant' : null;
    if (!role) return {error: `message ${i}: unknown ${roleKey} "${rawRole}"`};
    turns.push({role, content});
  }
  return turns;
}

/** System first (at most one), then strictly alternating user/assistant, ending with assistant. */
export function canonicalTurns(input: readonly Turn[]): Turn[] | {error: string} {
  const turns: Turn[] = [];
  let system: string | null = null;
  for (const turn of input) {
    if (turn.role === 'system') {
      if (turns.length) return {error: 'a system message after the dialogue started'};
      system = system === null ? turn.content : `${system}\n${turn.content}`;
      continue;
    }
    const last = turns[turns.length - 1];
    if (last && last.role === turn.role) last.content = `${last.content}\n${turn.content}`;
    else turns.push({...turn});
  }
  while (turns.length && turns[0]!.role === 'assistant') turns.shift();
  while (turns.length && turns[turns.length - 1]!.role === 'user') turns.pop();
  if (!turns.some((t) => t.role === 'assistant')) return {error: 'no assistant reply to learn from'};
  if (turns.some((t) => t.role === 'assistant' && !t.content.trim())) return {error: 'an empty assistant reply'};
  return system !== null && system.trim() ? [{role: 'system', content: system}, ...turns] : turns;
}
