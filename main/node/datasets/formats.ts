// Dataset formats: recognising one from a record, and mapping a record to a DatasetRow.
// Every mapper checks types and says exactly what is wrong; structural rules shared by all
// formats (alternation, sizes, empty turns) are in validate.ts.
//
//   cmtmedqa  {id, cate1, cate2, instruction, input, output, history: [[patient, doctor], …]}
//             safety items {instruct, output} → kind 'safety'
//   alpaca    {instruction, input, output, system?, history?}   (same mapper as cmtmedqa)
//   single    {query, response} (ChatMed; the "<s>问：\n…\n答：\n" prompt wrapper is removed)
//             {instruction: [q], output: [a]} (huatuo26M one-element lists) or plain strings
//   disc      {_id, source, conversation: [{role: user|assistant|patient|doctor, content}]}
//   sharegpt  {conversations: [{from: human|gpt|system|user|assistant, value}], system?}
//             also OpenAI-style {messages: [{role, content}]}
//   pairs     {question, response_chosen, response_rejected} (MedicalGPT reward)
//             {prompt, chosen, rejected} (TRL, strings or message lists, + our history/system)
//             {conversations, chosen: {from, value}, rejected: {…}} (LLaMA-Factory sharegpt ranking)
//             {instruction, input, chosen, rejected, history?} (LLaMA-Factory alpaca ranking)
//   text      {text} lines, or paragraphs of a .txt file

import type {DatasetFormat, DatasetRow, Turn} from '../../common/datasets.js';
import {AppError, type LocalisedText} from '../../common/errors.js';
import {reasons, typeName} from './reasons.js';

export type Mapped = {row: DatasetRow} | {error: LocalisedText};
type Obj = Record<string, unknown>;

class Reject extends Error {
  constructor(readonly reason: LocalisedText) {
    super(reason.en);
  }
}

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (o: Obj, k: string) => o[k] !== undefined;

/** The format a record looks like, or null. Throws for files that are not training data at all. */
export function detectFormat(value: unknown): DatasetFormat | null {
  if (typeof value === 'string') return 'text';
  if (!isObj(value)) return null;
  if (has(value, 'query') && has(value, 'response_0') && !has(value, 'response')) throw rlhfAnnotationFile();
  if (Array.isArray(value.conversation)) return 'disc';
  if (has(value, 'chosen') || has(value, 'response_chosen')) return 'pairs';
  if (Array.isArray(value.conversations) || Array.isArray(value.messages)) return 'sharegpt';
  if (has(value, 'instruct') || has(value, 'cate1') || has(value, 'cate2')) return 'cmtmedqa';
  if (has(value, 'instruction') && has(value, 'output'))
    return Array.isArray(value.instruction) || Array.isArray(value.output) ? 'single' : 'alpaca';
  if (has(value, 'query') && has(value, 'response')) return 'single';
  if (typeof value.text === 'string') return 'text';
  return null;
}

/** RLHF-Label-Tool's input_file.json holds K unranked model samples per query, waiting for an
 * annotator. Importing response_0 as if it were a reference answer would train on unvetted model
 * output, and a 4-way ranking does not fit a chosen/rejected pair, so we refuse and say why. */
export function rlhfAnnotationFile(): AppError {
  return new AppError('validation', {
    zh: '这是 RLHF-Label-Tool 的待标注输入文件（每条含 query、history 和 K 个未排序的模型回复 response_0…），不是训练数据：直接导入会把未经审核的模型回复当作标准答案。请先在排序标注中为回复排序，再导入排序结果（chosen/rejected）。',
    en: 'This is an RLHF-Label-Tool annotation input (query, history and K unranked model responses response_0…), not training data: importing it would treat unvetted model output as reference answers. Rank the responses in the annotation view first, then import the result as chosen/rejected pairs.',
  });
}

export function mapRecord(format: DatasetFormat, value: unknown, key?: string): Mapped {
  try {
    if (format === 'text') return {row: mapText(value)};
    if (!isObj(value)) return {error: reasons.notAnObject(typeName(value))};
    const row = MAPPERS[format](value);
    if (row.sourceId === undefined && key !== undefined) row.sourceId = key;
    return {row};
  } catch (error) {
    if (error instanceof Reject) return {error: error.reason};
    if (error instanceof AppError) return {error: error.localised};
    throw error;
  }
}

const MAPPERS: Record<Exclude<DatasetFormat, 'text'>, (o: Obj) => DatasetRow> = {
  cmtmedqa: (o) => mapInstruction(o, 'cmtmedqa'),
  alpaca: (o) => mapInstruction(o, 'alpaca'),
  single: mapSingle,
  disc: mapDisc,
  sharegpt: mapShareGpt,
  pairs: mapPairs,
};

// ───── field helpers ─────

function str(o: Obj, field: string, opts: {optional?: boolean; unwrapList?: boolean} = {}): string | undefined {
  let v = o[field];
  if (opts.unwrapList && Array.isArray(v)) {
    if (v.length !== 1) throw new Reject(reasons.notOneElementList(field, v.length));
    v = v[0];
  }
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new Reject(reasons.missingField(field));
  }
  if (typeof v !== 'string') throw new Reject(reasons.wrongType(field, 'string', typeName(v)));
  return v;
}

/** An id may be a string or a number in the wild; anything else is ignored rather than rejected. */
function idOf(o: Obj, ...fields: string[]): string | undefined {
  for (const f of fields) {
    const v = o[f];
    if (typeof v === 'string' && v !== '') return v;
    if (typeof v === 'number' && Number.isFinite(v)) return String(v);
  }
  return undefined;
}

function optionalText(o: Obj, field: string): string | undefined {
  const v = o[field];
  return typeof v === 'string' && v.trim() !== '' ? v : undefined;
}

/** Common metadata: department (cate1 / department / dataset_info.department), source, tags, kind. */
function meta(o: Obj, row: DatasetRow): DatasetRow {
  const info = isObj(o.dataset_info) ? o.dataset_info : {};
  const department = optionalText(o, 'cate1') ?? optionalText(o, 'department') ?? optionalText(info, 'department');
  const subDepartment = optionalText(o, 'cate2');
  const source = optionalText(o, 'source');
  if (department !== undefined) row.department = department;
  if (subDepartment !== undefined && subDepartment !== department) row.subDepartment = subDepartment;
  if (source !== undefined) row.source = source;
  const tags = Array.isArray(o.tags) ? o.tags.filter((x): x is string => typeof x === 'string') : [];
  if (typeof o.model === 'string' && o.model) tags.push(`model:${o.model}`);
  if (tags.length) row.tags = tags;
  const id = idOf(o, 'id', '_id', 'sample_id');
  if (id !== undefined) row.sourceId = id;
  // our own exports write kind:"safety" so a round trip keeps CMtMedQA's safety items apart
  if (o.kind === 'safety' && row.kind === 'dialogue') row.kind = 'safety';
  return row;
}

/** LLaMA-Factory / CMtMedQA history: [[user, assistant], …] */
function historyTurns(o: Obj): Turn[] {
  const h = o.history;
  if (h === undefined || h === null) return [];
  if (!Array.isArray(h)) throw new Reject(reasons.wrongType('history', 'array', typeName(h)));
  const turns: Turn[] = [];
  h.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') throw new Reject(reasons.badHistoryPair(i));
    turns.push({role: 'user', content: pair[0]}, {role: 'assistant', content: pair[1]});
  });
  return turns;
}

function systemTurn(o: Obj): Turn[] {
  const system = str(o, 'system', {optional: true});
  return system !== undefined && system.trim() !== '' ? [{role: 'system', content: system}] : [];
}

/** instruction + "\n" + input, as LLaMA-Factory joins them */
const joinPrompt = (instruction: string, input: string | undefined) => (input && input.trim() !== '' ? `${instruction}\n${input}` : instruction);

// ───── mappers ─────

function mapInstruction(o: Obj, format: 'cmtmedqa' | 'alpaca'): DatasetRow {
  if (!has(o, 'instruction') && has(o, 'instruct')) {
    const row: DatasetRow = {kind: 'safety', turns: [{role: 'user', content: str(o, 'instruct')!}, {role: 'assistant', content: str(o, 'output')!}]};
    return meta(o, row);
  }
  if (!has(o, 'instruction') && !has(o, 'output')) throw new Reject(reasons.wrongFormat(format, guess(o)));
  const user = joinPrompt(str(o, 'instruction')!, str(o, 'input', {optional: true}));
  const turns = [...systemTurn(o), ...historyTurns(o), {role: 'user' as const, content: user}, {role: 'assistant' as const, content: str(o, 'output')!}];
  return meta(o, {kind: 'dialogue', turns});
}

// "<s>问：\n{question}\n答：\n" — ChatMed-Consult's prompt wrapper kept in its test file
const CHATMED_WRAPPER = /^\s*(?:<s>)?\s*问[：:]\s*\n?([\s\S]*?)\n?\s*答[：:]\s*$/;

export function stripPromptWrapper(query: string): string {
  const m = CHATMED_WRAPPER.exec(query);
  return m ? m[1]!.trim() : query;
}

function mapSingle(o: Obj): DatasetRow {
  if (has(o, 'query') || has(o, 'response')) {
    const turns = [
      ...systemTurn(o),
      ...historyTurns(o),
      {role: 'user' as const, content: stripPromptWrapper(str(o, 'query')!)},
      {role: 'assistant' as const, content: str(o, 'response')!},
    ];
    return meta(o, {kind: 'dialogue', turns});
  }
  if (!has(o, 'instruction') && !has(o, 'output')) throw new Reject(reasons.wrongFormat('single', guess(o)));
  const user = joinPrompt(str(o, 'instruction', {unwrapList: true})!, str(o, 'input', {optional: true, unwrapList: true}));
  const turns = [...systemTurn(o), ...historyTurns(o), {role: 'user' as const, content: user}, {role: 'assistant' as const, content: str(o, 'output', {unwrapList: true})!}];
  return meta(o, {kind: 'dialogue', turns});
}

const ROLE_MAP: Record<string, Turn['role']> = {
  user: 'user',
  human: 'user',
  patient: 'user',
  assistant: 'assistant',
  gpt: 'assistant',
  doctor: 'assistant',
  bot: 'assistant',
  system: 'system',
};

function messages(list: unknown, field: string, roleKey: string, contentKey: string): Turn[] {
  if (!Array.isArray(list)) throw new Reject(reasons.wrongType(field, 'array', typeName(list)));
  return list.map((m, i) => {
    if (!isObj(m)) throw new Reject(reasons.wrongType(`${field}[${i}]`, 'object', typeName(m)));
    const rk = m[roleKey] !== undefined ? roleKey : 'role';
    const ck = m[contentKey] !== undefined ? contentKey : 'content';
    const roleName = m[rk];
    if (typeof roleName !== 'string') throw new Reject(reasons.wrongType(`${field}[${i}].${rk}`, 'string', typeName(roleName)));
    const role = ROLE_MAP[roleName.toLowerCase()];
    if (!role) throw new Reject(reasons.unknownRole(roleName));
    const content = m[ck];
    if (typeof content !== 'string') throw new Reject(reasons.wrongType(`${field}[${i}].${ck}`, 'string', typeName(content)));
    return {role, content};
  });
}

function mapDisc(o: Obj): DatasetRow {
  if (!has(o, 'conversation')) throw new Reject(reasons.wrongFormat('disc', guess(o)));
  return meta(o, {kind: 'dialogue', turns: [...systemTurn(o), ...messages(o.conversation, 'conversation', 'role', 'content')]});
}

function mapShareGpt(o: Obj): DatasetRow {
  const field = has(o, 'conversations') ? 'conversations' : has(o, 'messages') ? 'messages' : null;
  if (!field) throw new Reject(reasons.wrongFormat('sharegpt', guess(o)));
  const turns = messages(o[field], field, field === 'conversations' ? 'from' : 'role', field === 'conversations' ? 'value' : 'content');
  return meta(o, {kind: 'dialogue', turns: turns[0]?.role === 'system' ? turns : [...systemTurn(o), ...turns]});
}

/** chosen / rejected as a string, a message object {from|role, value|content}, or a TRL message list */
function answer(o: Obj, field: string): string {
  const v = o[field];
  if (typeof v === 'string') return v;
  if (v === undefined || v === null) throw new Reject(reasons.missingField(field));
  const list = Array.isArray(v) ? v : [v];
  const turns = messages(list, field, 'from', 'value');
  const last = turns[turns.length - 1];
  if (!last || last.role !== 'assistant') throw new Reject(reasons.wrongType(field, 'an assistant answer', typeName(v)));
  return last.content;
}

function mapPairs(o: Obj): DatasetRow {
  let prompt: Turn[];
  let chosen: string;
  let rejected: string;
  if (has(o, 'response_chosen') || has(o, 'response_rejected')) {
    prompt = [...systemTurn(o), ...historyTurns(o), {role: 'user', content: str(o, 'question')!}];
    chosen = str(o, 'response_chosen')!;
    rejected = str(o, 'response_rejected')!;
  } else if (has(o, 'chosen') || has(o, 'rejected')) {
    if (has(o, 'conversations')) prompt = messages(o.conversations, 'conversations', 'from', 'value');
    else if (Array.isArray(o.prompt)) prompt = messages(o.prompt, 'prompt', 'role', 'content');
    else if (has(o, 'prompt')) prompt = [...historyTurns(o), {role: 'user', content: str(o, 'prompt')!}];
    else if (has(o, 'instruction')) prompt = [...historyTurns(o), {role: 'user', content: joinPrompt(str(o, 'instruction')!, str(o, 'input', {optional: true}))}];
    else if (has(o, 'question')) prompt = [...historyTurns(o), {role: 'user', content: str(o, 'question')!}];
    else throw new Reject(reasons.missingField('prompt'));
    if (prompt[0]?.role !== 'system') prompt = [...systemTurn(o), ...prompt];
    chosen = answer(o, 'chosen');
    rejected = answer(o, 'rejected');
  } else throw new Reject(reasons.wrongFormat('pairs', guess(o)));
  return meta(o, {kind: 'preference', turns: prompt, chosen, rejected});
}

function mapText(value: unknown): DatasetRow {
  if (typeof value === 'string') return {kind: 'text', turns: [], text: value};
  if (!isObj(value)) throw new Reject(reasons.notAnObject(typeName(value)));
  const text = str(value, 'text');
  return meta(value, {kind: 'text', turns: [], text});
}

function guess(o: Obj): string | null {
  try {
    return detectFormat(o);
  } catch {
    return 'RLHF-Label-Tool';
  }
}
