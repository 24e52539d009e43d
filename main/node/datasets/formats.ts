// Dataset formats: recognising one from a record, and mapping a record to a DatasetRow.
// Every mapper checks types and says exactly what is wrong; structural rules shared by all
// formats (alternation, sizes, empty turns) are in validate.ts.
//
//   cmtmedqa  {id, cate1, cate2, instruction, input, output, history: [[patient, doctor], …]}
//             safety items {instruct, output} → kind 'safety'
//   alpaca    {instruction, input, output, system?, history?}   (same mapper as cmtmedqa)
//   single    {query, response} (ChatMed; the "<s>问：\n…\n答：\n" prompt wrapper is removed)
//             {instruction: [q], output: [a]} (huatuo26M one-element lists) or plain strings
//             {question, answer} and DISC's CMD samples {id, department, raw_case, question,
//             raw_anwser} (sic: the source's spelling; raw_case is a finer department → subDepartment)
//             {input, target, task_dataset, sample_id} (PromptCBLUE; task_dataset → source)
//   disc      {_id, source, conversation: [{role: user|assistant|patient|doctor, content}]}
//   sharegpt  {conversations: [{from: human|gpt|system|user|assistant, value}], system?}
//             also OpenAI-style {messages: [{role, content}]}
//   pairs     {question, response_chosen, response_rejected} (MedicalGPT reward)
//             {prompt, chosen, rejected} (TRL, strings or message lists, + our history/system)
//             {conversations, chosen: {from, value}, rejected: {…}} (LLaMA-Factory sharegpt ranking)
//             {instruction, input, chosen, rejected, history?} (LLaMA-Factory alpaca ranking)
//   text      {text} lines, or paragraphs of a .txt file
//   cmexam    {Question, Options, Answer, Explanation} (CMExam's CSV): Options is one string with a
//             literal backslash-n between "A …" lines, Answer the gold letter(s) "E" / "ABD"
//             → a dialogue: the question with its options, answered "答案：E" + explanation; the
//             parsed item is kept in `choice` so an evaluation scores letters, not text
//   cmbclin   {id, title, description, QA_pairs: [{question, answer}, …]} (CMB-Clin) → one dialogue
//             per case: description + first question, answer, next question …; `askEachTurn`
//
// Files that are not training data are refused whole, saying why and where they belong:
// RLHF-Label-Tool's input (rlhfAnnotationFile) and its ranking output TSV (records.ts calls
// tsvFile), and question-only files such as DISC's CMID samples (questionsOnlyFile).
//
// Every format also reads back what our own export adds (export.ts): kind "safety", `choice`
// (a JSON string) and `ask_each_turn`, so an export re-imports as the same rows.

import {choiceQuestionText, type ChoiceOption, type ChoiceQuestion, type DatasetFormat, type DatasetRow, type Turn} from '../../common/datasets.js';
import {AppError, type LocalisedText} from '../../common/errors.js';
import {LIMITS, reasons, typeName} from './reasons.js';

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
  const format = recognise(value);
  if (format === null && isObj(value)) {
    const refusal = notTrainingData(value);
    if (refusal) throw refusal.error;
  }
  return format;
}

function recognise(value: unknown): DatasetFormat | null {
  if (typeof value === 'string') return 'text';
  if (!isObj(value)) return null;
  if (isRlhfInput(value)) return null;
  // the benchmarks first: their field names are their own, and a CMB-Clin case has a `question`
  // inside QA_pairs only, so nothing below would claim either of them
  if (Array.isArray(value.QA_pairs)) return 'cmbclin';
  if (has(value, cmexamField(value, 'Question')) && has(value, cmexamField(value, 'Options')) && has(value, cmexamField(value, 'Answer'))) return 'cmexam';
  if (Array.isArray(value.conversation)) return 'disc';
  if (has(value, 'chosen') || has(value, 'response_chosen')) return 'pairs';
  if (Array.isArray(value.conversations) || Array.isArray(value.messages)) return 'sharegpt';
  if (has(value, 'instruct') || has(value, 'cate1') || has(value, 'cate2')) return 'cmtmedqa';
  if (has(value, 'instruction') && has(value, 'output'))
    return Array.isArray(value.instruction) || Array.isArray(value.output) ? 'single' : 'alpaca';
  if (has(value, 'query') && has(value, 'response')) return 'single';
  // after pairs (question + response_chosen) and the benchmarks (CMB-Clin's question is inside
  // QA_pairs, CMExam's lower-case question comes with options)
  if (has(value, 'question') && answerField(value) !== undefined) return 'single';
  // PromptCBLUE; alpaca's {instruction, input, output} was claimed above
  if (has(value, 'input') && has(value, 'target')) return 'single';
  if (typeof value.text === 'string') return 'text';
  return null;
}

const isRlhfInput = (o: Obj) => has(o, 'query') && has(o, 'response_0') && !has(o, 'response');

/** The answer field of a {question, …} record: DISC's CMD samples spell it raw_anwser. */
const ANSWER_FIELDS = ['answer', 'raw_anwser', 'raw_answer'] as const;
const answerField = (o: Obj) => ANSWER_FIELDS.find((f) => has(o, f));

// a field that may hold an answer under a name we do not read: then the file is not refused as
// "questions only", it is reported as an unknown format with its field names
const ANSWER_LIKE = /answer|anwser|response|reply|output|target|chosen|回答|答案|回复/i;

/** Why a record that no format claims is not training data at all, or null. */
function notTrainingData(o: Obj): {error: AppError; what: LocalisedText} | null {
  if (isRlhfInput(o)) return {error: rlhfAnnotationFile(), what: {zh: 'RLHF-Label-Tool 待标注文件', en: 'an RLHF-Label-Tool annotation input'}};
  if (typeof o.question === 'string' && !Object.keys(o).some((k) => ANSWER_LIKE.test(k)))
    return {error: questionsOnlyFile(), what: {zh: '只有问题、没有回答的记录', en: 'a question without an answer'}};
  return null;
}

/** DISC's CMID samples {id, source, dataset_info, cate, question}, and any file of questions
 * without answers: an evaluation prompt set, nothing a model could learn an answer from. */
export function questionsOnlyFile(): AppError {
  return new AppError('validation', {
    zh: '这些记录只有问题（question），没有回答，不能用作训练数据。请导入带回答的数据（如 {question, answer}、{query, response}）；只含问题的评测集（如 DISC 的 CMID 样例）无法作为数据集导入。',
    en: 'These records hold only a question (question) and no answer, so they cannot be used as training data. Import data with answers (such as {question, answer} or {query, response}); a question-only evaluation set (such as DISC’s CMID samples) cannot be imported as a dataset.',
  });
}

/** A tab-separated file (records.ts sees its first line): RLHF-Label-Tool's ranking output
 * (header `id query history rank1 … rankK`) belongs to the annotation import together with its
 * input_file.json; any other TSV is not a container the dataset import reads. */
export function tsvFile(header: string[]): AppError {
  if (header.includes('query') && header.filter((h) => /^rank\d+$/.test(h)).length >= 2)
    return new AppError('validation', {
      zh: '这是 RLHF-Label-Tool 的排序结果文件（制表符分隔，表头 id、query、history、rank1…），不是数据集：它只记录回答的排序，回答本身在对应的 input_file.json 中。请在「标注」→「导入标注文件」中把它与 input_file.json 一起导入，排序结果会成为标注项目，之后可导出为偏好对（chosen/rejected）。',
      en: 'This is an RLHF-Label-Tool ranking result (tab-separated, header id, query, history, rank1…), not a dataset: it only records how the responses were ranked, and the responses themselves are in the matching input_file.json. Import it together with input_file.json under Annotation → Import annotation files; the rankings become an annotation project that can be exported as preference pairs (chosen/rejected).',
    });
  const names = header.slice(0, 8).join(', ');
  return new AppError('validation', {
    zh: `这是制表符分隔的表格（TSV，表头：${names}），数据集导入不读取这种文件。请把它另存为 CSV（逗号分隔，带表头）或 JSON Lines 后再导入。`,
    en: `This is a tab-separated table (TSV, header: ${names}), which the dataset import does not read. Save it as CSV (comma-separated, with a header) or JSON Lines and import that.`,
  });
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
  cmexam: mapCmExam,
  cmbclin: mapCmbClin,
};

// ───── field helpers ─────

/** `label` names the field in a reason when it is nested (QA_pairs[2].answer). */
function str(o: Obj, field: string, opts: {optional?: boolean; unwrapList?: boolean; label?: string} = {}): string | undefined {
  const label = opts.label ?? field;
  let v = o[field];
  if (opts.unwrapList && Array.isArray(v)) {
    if (v.length !== 1) throw new Reject(reasons.notOneElementList(label, v.length));
    v = v[0];
  }
  if (v === undefined || v === null) {
    if (opts.optional) return undefined;
    throw new Reject(reasons.missingField(label));
  }
  if (typeof v !== 'string') throw new Reject(reasons.wrongType(label, 'string', typeName(v)));
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
  // PromptCBLUE names the CBLUE task a record comes from (CMeEE-V2, IMCS-V2-MRG …)
  const source = optionalText(o, 'source') ?? optionalText(o, 'task_dataset');
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
  // … and `choice` / `ask_each_turn`, so a benchmark row stays a benchmark row
  const choice = exportedChoice(o);
  if (choice) row.choice = choice;
  if (o.ask_each_turn === true || o.askEachTurn === true) row.askEachTurn = true;
  return row;
}

/** `choice` as our export writes it (a JSON string: see export.ts) or as an object. Only a value
 * of our shape counts: a foreign file's `choice` column with another meaning ("A") is ignored
 * rather than rejecting every row of it. Whether the item makes sense is validate.ts's business. */
function exportedChoice(o: Obj): ChoiceQuestion | undefined {
  let v = o.choice;
  if (typeof v === 'string') {
    if (!v.trimStart().startsWith('{')) return undefined;
    const json = v;
    try {
      v = JSON.parse(json);
    } catch (error) {
      throw new Reject(reasons.invalidJson(error instanceof Error ? error.message : String(error), json, 'choice'));
    }
  }
  if (!isObj(v) || !has(v, 'options')) return undefined;
  const {question, options, answer} = v;
  const isOption = (x: unknown): x is ChoiceOption => isObj(x) && typeof x.letter === 'string' && typeof x.text === 'string';
  if (typeof question !== 'string' || !Array.isArray(options) || !options.every(isOption) || !Array.isArray(answer) || !answer.every((x) => typeof x === 'string'))
    throw new Reject(reasons.wrongType('choice', '{question, options: [{letter, text}], answer: [letter]}', typeName(v)));
  return {question, options: options.map(({letter, text}) => ({letter, text})), answer: [...(answer as string[])]};
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
  if (has(o, 'question') && !has(o, 'query')) {
    const field = answerField(o);
    if (field === undefined) {
      // a preference pair ({question, response_chosen, …}) is another format, not a missing answer
      const like = recognise(o);
      throw new Reject(like !== null && like !== 'single' ? reasons.wrongFormat('single', like) : reasons.missingAnswer([...ANSWER_FIELDS]));
    }
    const turns = [...systemTurn(o), ...historyTurns(o), {role: 'user' as const, content: str(o, 'question')!}, {role: 'assistant' as const, content: str(o, field)!}];
    const row = meta(o, {kind: 'dialogue', turns});
    // DISC's CMD samples: raw_case is the finer department of the source (新生儿科 under 儿科)
    const finer = optionalText(o, 'raw_case')?.trim();
    if (row.subDepartment === undefined && finer !== undefined && finer.length <= LIMITS.department && finer !== row.department) row.subDepartment = finer;
    return row;
  }
  if (has(o, 'target') && !has(o, 'output') && !has(o, 'response')) {
    // PromptCBLUE: the prompt (with its options and 答：) is the question, target the answer
    const turns = [...systemTurn(o), {role: 'user' as const, content: str(o, 'input')!}, {role: 'assistant' as const, content: str(o, 'target')!}];
    return meta(o, {kind: 'dialogue', turns});
  }
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

// ───── benchmarks ─────

/** CMExam's own capitalised names; lower-case ones as a JSON conversion may write them. */
function cmexamField(o: Obj, name: string): string {
  return has(o, name) ? name : name.toLowerCase();
}

// "A 急性脑血管疾病", "B.癔病", "C、…", "D．…", "E急性…": a letter, then a separator or straight
// into non-Latin text. "Aspirin" is not option A "spirin": a Latin letter after it means a word.
const OPTION_LETTER = /^\s*([A-Za-z])(?:\s*[.．、:：)）]\s*|\s+|(?=[^\x00-\x7f])|$)/;

/** Options as CMExam writes them: one string, lines separated by a literal backslash-n (the CSV
 * keeps the two characters). A real line break separates them too, for a file that a tool has
 * unescaped. A list of strings is taken line by line. Without any letters the options are
 * lettered A, B, C … in order; with letters on some lines only, which is which cannot be told. */
function parseOptions(value: unknown, field: string): ChoiceOption[] {
  let lines: string[];
  if (typeof value === 'string') lines = value.split(/\\n|\r?\n/);
  else if (Array.isArray(value) && value.every((x) => typeof x === 'string')) lines = value as string[];
  else if (value === undefined || value === null) throw new Reject(reasons.missingField(field));
  else throw new Reject(reasons.wrongType(field, 'string', typeName(value)));
  lines = lines.filter((line) => line.trim() !== '');
  const matches = lines.map((line) => OPTION_LETTER.exec(line));
  if (matches.every((m) => m === null)) return lines.map((line, i) => ({letter: String.fromCharCode(65 + i), text: line.trim()}));
  return lines.map((line, i) => {
    const m = matches[i];
    if (!m) throw new Reject(reasons.optionWithoutLetter(i, line.trim()));
    return {letter: m[1]!.toUpperCase(), text: line.slice(m[0].length).trim()};
  });
}

/** "E", "ABD", "A,B", "a、c" → sorted unique upper-case letters. Which letters exist is checked
 * against the options in validate.ts (checkChoice), for rows from any source. */
function parseAnswer(raw: string): string[] {
  const letters = raw.replace(/[\s,，、;；/|]+/g, '').toUpperCase();
  if (!/^[A-Z]*$/.test(letters)) throw new Reject(reasons.answerNotLetters(raw.trim()));
  return [...new Set(letters)].sort();
}

function mapCmExam(o: Obj): DatasetRow {
  const q = cmexamField(o, 'Question');
  const opts = cmexamField(o, 'Options');
  if (!has(o, q) && !has(o, opts)) throw new Reject(reasons.wrongFormat('cmexam', guess(o)));
  const question = str(o, q)!;
  if (question.trim() === '') throw new Reject(reasons.emptyField(q));
  const options = parseOptions(o[opts], opts);
  if (options.length === 0) throw new Reject(reasons.noOptions());
  const answer = parseAnswer(str(o, cmexamField(o, 'Answer'))!);
  const explanation = str(o, cmexamField(o, 'Explanation'), {optional: true})?.trim() ?? '';
  const letters = answer.join('');
  return {
    kind: 'dialogue',
    turns: [
      {role: 'user', content: choiceQuestionText(question, options, answer.length > 1)},
      {role: 'assistant', content: explanation ? `答案：${letters}\n\n${explanation}` : `答案：${letters}`},
    ],
    choice: {question: question.trim(), options, answer},
  };
}

function mapCmbClin(o: Obj): DatasetRow {
  const pairs = o.QA_pairs;
  if (!Array.isArray(pairs)) throw new Reject(has(o, 'QA_pairs') ? reasons.wrongType('QA_pairs', 'array', typeName(pairs)) : reasons.wrongFormat('cmbclin', guess(o)));
  // the case description is what the first question is about, so it opens the first turn
  const description = str(o, 'description', {optional: true})?.trim() ?? '';
  const turns: Turn[] = [];
  pairs.forEach((pair, i) => {
    if (!isObj(pair)) throw new Reject(reasons.wrongType(`QA_pairs[${i}]`, 'object', typeName(pair)));
    const question = str(pair, 'question', {label: `QA_pairs[${i}].question`})!;
    const answer = str(pair, 'answer', {label: `QA_pairs[${i}].answer`})!;
    turns.push({role: 'user', content: i === 0 && description ? `${description}\n\n${question}` : question}, {role: 'assistant', content: answer});
  });
  const row = meta(o, {kind: 'dialogue', turns, askEachTurn: true});
  const title = optionalText(o, 'title')?.trim();
  // a tag may hold LIMITS.tag characters; a long title is shortened rather than the case rejected
  if (title) row.tags = [...(row.tags ?? []), `case:${title}`.slice(0, LIMITS.tag)];
  return row;
}

function mapText(value: unknown): DatasetRow {
  if (typeof value === 'string') return {kind: 'text', turns: [], text: value};
  if (!isObj(value)) throw new Reject(reasons.notAnObject(typeName(value)));
  const text = str(value, 'text');
  return meta(value, {kind: 'text', turns: [], text});
}

function guess(o: Obj): DatasetFormat | LocalisedText | null {
  return recognise(o) ?? notTrainingData(o)?.what ?? null;
}
