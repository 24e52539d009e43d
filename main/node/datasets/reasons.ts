// Why a row was rejected, in both UI languages, plus the size limits the reasons refer to.
// Kept in one place so the wording is consistent across importers, and the limits are the
// contract's (main/common/contract.ts) or stricter, so every imported row can later be edited
// through `datasets.updateRow` without tripping its schema.

import {DATASET_FORMAT_LABELS, type DatasetFormat} from '../../common/datasets.js';
import type {LocalisedText} from '../../common/errors.js';

export const LIMITS = {
  /** one turn (and chosen / rejected); the contract allows 200k, a longer turn is almost always a broken record */
  turnChars: 100_000,
  /** a whole row: all turns + chosen + rejected + text ("1 MB" read as one million characters, the contract's text limit) */
  rowChars: 1_000_000,
  /** turns per row (the contract's maximum) */
  turns: 200,
  /** raw bytes of one record (a JSONL line or an array element) kept in memory to parse it; larger ones are skipped unparsed */
  recordBytes: 8 * 1024 * 1024,
  department: 100,
  source: 200,
  sourceId: 200,
  tag: 50,
  tags: 20,
} as const;

const t = (zh: string, en: string): LocalisedText => ({zh, en});


/** The fields a record of each format needs, for "does not match the format" reasons. */
const FORMAT_FIELDS: Record<DatasetFormat, LocalisedText> = {
  cmtmedqa: t('instruction 和 output（安全性条目为 instruct 和 output）', 'instruction and output (instruct and output for safety items)'),
  single: t(
    'query 和 response（或 question 和 answer / raw_anwser，input 和 target，instruction 和 output）',
    'query and response (or question and answer / raw_anwser, input and target, instruction and output)',
  ),
  disc: t('conversation（[{role, content}…]）', 'conversation ([{role, content}…])'),
  sharegpt: t('conversations（[{from, value}…]）或 messages（[{role, content}…]）', 'conversations ([{from, value}…]) or messages ([{role, content}…])'),
  alpaca: t('instruction 和 output', 'instruction and output'),
  pairs: t('question、response_chosen 和 response_rejected（或 prompt、chosen 和 rejected）', 'question, response_chosen and response_rejected (or prompt, chosen and rejected)'),
  text: t('text', 'text'),
  cmexam: t('Question、Options 和 Answer', 'Question, Options and Answer'),
  cmbclin: t('QA_pairs（[{question, answer}…]）', 'QA_pairs ([{question, answer}…])'),
};

/** Where in a record a JSON parse error is: the engine's "at position N", as a 1-based
 * character (and line, for a record that spans lines). */
function jsonErrorPlace(detail: string, text?: string): LocalisedText | null {
  const m = /at position (\d+)/.exec(detail);
  if (!m) return null;
  const offset = Number(m[1]);
  if (text === undefined || !text.slice(0, offset).includes('\n')) return t(`第 ${offset + 1} 个字符处`, `character ${offset + 1}`);
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  const column = offset - before.lastIndexOf('\n');
  return t(`记录内第 ${line} 行第 ${column} 个字符处`, `line ${line}, character ${column} of the record`);
}

/** What V8's JSON.parse message says, in Chinese (the English text stays in the en reason). */
function jsonErrorWhat(detail: string): string | null {
  let m: RegExpExecArray | null;
  if ((m = /^Unexpected token '(.+?)'/.exec(detail))) return `意外的字符 “${m[1]}”`;
  if (/^Unexpected non-whitespace character after JSON/.test(detail)) return 'JSON 结束后还有多余内容';
  if (/^Expected property name or '\}'/.test(detail)) return '此处应为属性名（带双引号）或 “}”';
  if (/^Expected double-quoted property name/.test(detail)) return '此处应为带双引号的属性名（多余的逗号？）';
  if (/^Expected ',' or '\}' after property value/.test(detail)) return '属性值后应为 “,” 或 “}”';
  if (/^Expected ',' or '\]' after array element/.test(detail)) return '数组元素后应为 “,” 或 “]”';
  if (/^Expected ':' after property name/.test(detail)) return '属性名后应为 “:”';
  if (/^Bad control character in string literal/.test(detail)) return '字符串中有未转义的控制字符（如换行或制表符）';
  if (/^Bad escaped character/.test(detail)) return '字符串中有无效的转义序列';
  if (/^Bad Unicode escape/.test(detail)) return '字符串中有无效的 \\u 转义';
  if (/^Unexpected string/.test(detail)) return '意外的字符串（缺少 “:” 或 “,”？）';
  if (/^Unexpected number/.test(detail)) return '意外的数字（缺少 “:” 或 “,”？）';
  if (/^(No number after minus sign|Exponent part is missing|Unterminated fractional number)/.test(detail)) return '数字格式无效';
  return null;
}

export const reasons = {
  invalidUtf8: () => t('不是有效的 UTF-8 编码（含非法字节序列）', 'not valid UTF-8 (invalid byte sequence)'),
  loneSurrogate: (field: string) => t(`${field} 含无效的 Unicode 代理字符`, `${field} contains an invalid Unicode surrogate`),
  turnLoneSurrogate: (i: number) => t(`第 ${i + 1} 轮含无效的 Unicode 代理字符`, `turn ${i + 1} contains an invalid Unicode surrogate`),
  /** `detail` is the engine's English message (kept in en only); `text`, the record, places it */
  truncatedJson: (detail: string, text?: string) => {
    const place = jsonErrorPlace(detail, text);
    return t(`JSON 不完整（可能被截断）${place ? `：在${place.zh}结束` : ''}`, `incomplete JSON (truncated?): ${detail}`);
  },
  /** zh says where and what in Chinese; the engine's English message stays in en. `field`: the
   * field whose value is the JSON text (a nested JSON string), when it is not the record. */
  invalidJson: (detail: string, text?: string, field?: string) => {
    const place = jsonErrorPlace(detail, text);
    const where = [field && `字段 ${field}`, place?.zh].filter(Boolean).join('，');
    const what = jsonErrorWhat(detail);
    return t(`JSON 格式错误${where ? `（${where}）` : ''}：${what ? `${what}，` : ''}不是合法的 JSON`, `invalid JSON${field ? ` in ${field}` : ''}: ${detail}`);
  },
  notJsonDocument: () => t('文件不是 JSON 数组或对象', 'invalid JSON: not a JSON array or object'),
  endOfFileInRecord: () => t('JSON 不完整（可能被截断）：文件在这条记录中间结束', 'incomplete JSON (truncated?): end of file inside this element'),
  recordTooLarge: (bytes: number, limit: number = LIMITS.recordBytes) =>
    t(`记录过大（${bytes} 字节，上限 ${limit} 字节），未解析`, `record too large (${bytes} bytes, limit ${limit}); not parsed`),
  notAnObject: (got: string) => t(`应为 JSON 对象，实际为 ${got}`, `expected a JSON object, got ${got}`),
  fileNotClosed: () => t('文件在 JSON 数组/对象结束前终止（文件被截断？）', 'the file ends before the JSON array/object is closed (truncated file?)'),
  trailingData: () => t('JSON 文档结束后还有多余内容', 'unexpected data after the end of the JSON document'),
  emptyElement: () => t('空元素（多余的逗号？）', 'empty element (stray comma?)'),
  missingField: (field: string) => t(`缺少字段 ${field}`, `missing field ${field}`),
  wrongType: (field: string, expected: string, got: string) =>
    t(`字段 ${field} 类型错误：应为 ${expected}，实际为 ${got}`, `field ${field} has the wrong type: expected ${expected}, got ${got}`),
  notOneElementList: (field: string, n: number) =>
    t(`字段 ${field} 应为单元素列表，实际有 ${n} 个元素`, `field ${field} should be a one-element list, it has ${n}`),
  badHistoryPair: (i: number) =>
    t(`history 第 ${i + 1} 项应为 [患者, 医生] 两个字符串`, `history item ${i + 1} should be a [user, assistant] pair of strings`),
  unknownRole: (role: string) => t(`未知角色 “${role}”`, `unknown role "${role}"`),
  /** `looksLike`: the format the record seems to be, or a description of it (RLHF-Label-Tool) */
  wrongFormat: (format: DatasetFormat, looksLike: DatasetFormat | LocalisedText | null) => {
    const like = typeof looksLike === 'string' ? DATASET_FORMAT_LABELS[looksLike] : looksLike;
    return t(
      `记录不符合「${DATASET_FORMAT_LABELS[format].zh}」格式，该格式需要字段：${FORMAT_FIELDS[format].zh}${like ? `；这条记录看起来像「${like.zh}」` : ''}`,
      `record does not match the ${DATASET_FORMAT_LABELS[format].en} format, which needs the fields ${FORMAT_FIELDS[format].en}${like ? `; this record looks like ${like.en}` : ''}`,
    );
  },
  missingAnswer: (fields: string[]) =>
    t(`缺少回答：需要 ${fields.join(' / ')} 字段之一`, `missing the answer: expected one of the fields ${fields.join(' / ')}`),
  emptyDialogue: () => t('对话为空', 'empty dialogue'),
  emptyTurn: (i: number, role?: string) =>
    role === 'assistant'
      ? t(`回答为空（第 ${i + 1} 轮，assistant）`, `the answer is empty (turn ${i + 1}, assistant)`)
      : role === 'user'
        ? t(`问题为空（第 ${i + 1} 轮，user）`, `the question is empty (turn ${i + 1}, user)`)
        : t(`第 ${i + 1} 轮内容为空`, `turn ${i + 1} is empty`),
  emptyField: (field: string) => t(`${field} 为空`, `${field} is empty`),
  turnTooLong: (i: number, chars: number) =>
    t(`第 ${i + 1} 轮过长（${chars} 字符，上限 ${LIMITS.turnChars}）`, `turn ${i + 1} is too long (${chars} characters, limit ${LIMITS.turnChars})`),
  fieldTooLong: (field: string, chars: number, limit: number) =>
    t(`${field} 过长（${chars} 字符，上限 ${limit}）`, `${field} is too long (${chars} characters, limit ${limit})`),
  rowTooLarge: (chars: number) =>
    t(`整行过大（${chars} 字符，上限 ${LIMITS.rowChars}）`, `row too large (${chars} characters, limit ${LIMITS.rowChars})`),
  tooManyTurns: (n: number) => t(`轮数过多（${n}，上限 ${LIMITS.turns}）`, `too many turns (${n}, limit ${LIMITS.turns})`),
  systemNotFirst: (i: number) => t(`第 ${i + 1} 轮：system 只能出现在开头`, `turn ${i + 1}: a system turn may only come first`),
  rolesNotAlternating: (i: number, expected: string, got: string) =>
    t(`第 ${i + 1} 轮角色应为 ${expected}，实际为 ${got}（角色须交替）`, `turn ${i + 1} should be ${expected}, got ${got} (roles must alternate)`),
  mustEndWithAssistant: () => t('对话须以 assistant（医生）回复结尾', 'a dialogue must end with an assistant turn'),
  promptMustEndWithUser: () => t('偏好数据的提示须以 user 提问结尾', 'the prompt of a preference pair must end with a user turn'),
  unexpectedField: (field: string, kind: string) => t(`${kind} 类型的数据行不应有 ${field}`, `a ${kind} row must not have ${field}`),
  // CSV
  csvFieldCount: (expected: number, got: number) =>
    t(`CSV 记录有 ${got} 个字段，表头有 ${expected} 个（未加引号的逗号或换行？）`, `the CSV record has ${got} fields, the header has ${expected} (an unquoted comma or line break?)`),
  csvUnclosedQuote: () =>
    t('CSV 引号内的字段直到文件末尾都没有结束（缺少右引号，或文件被截断）', 'a quoted CSV field is still open at the end of the file (missing closing quote, or a truncated file)'),
  csvBadHeader: (detail: LocalisedText) => t(`CSV 表头无效：${detail.zh}`, `invalid CSV header: ${detail.en}`),
  csvHeaderEmptyName: (column: number) => t(`第 ${column} 列没有列名`, `column ${column} has no name`),
  csvHeaderDuplicate: (name: string) => t(`列名 “${name}” 出现了不止一次`, `the column name "${name}" appears more than once`),
  csvHeaderUnreadable: () => t('表头不完整或过大', 'the header is incomplete or too large'),
  // multiple choice (CMExam)
  noOptions: () => t('选择题没有选项', 'the multiple-choice item has no options'),
  tooManyOptions: (n: number) => t(`选项过多（${n} 个，上限 26 个）`, `too many options (${n}, at most 26)`),
  optionWithoutLetter: (i: number, text: string) =>
    t(`第 ${i + 1} 个选项 “${text.slice(0, 20)}” 没有选项字母（其他选项有）`, `option ${i + 1} "${text.slice(0, 20)}" has no letter (the others do)`),
  badOptionLetter: (letter: string) => t(`选项字母 “${letter}” 无效（应为一个大写字母 A–Z）`, `invalid option letter "${letter}" (one uppercase letter A–Z expected)`),
  duplicateOptionLetter: (letter: string) => t(`选项字母 ${letter} 出现了不止一次`, `option letter ${letter} appears more than once`),
  emptyOption: (letter: string) => t(`选项 ${letter} 的内容为空`, `option ${letter} is empty`),
  answerNotLetters: (answer: string) => t(`答案 “${answer.slice(0, 20)}” 不是选项字母`, `the answer "${answer.slice(0, 20)}" is not option letters`),
  answerNotInOptions: (missing: string[], options: string[]) =>
    t(`答案 ${missing.join('')} 不在选项 ${options.join('')} 之中`, `answer ${missing.join('')} is not among the options ${options.join('')}`),
  answerNotNormalised: () => t('答案字母须为大写、不重复且按字母顺序排列', 'answer letters must be uppercase, unique and in alphabetical order'),
};

/** What a JSON value is, for "expected X, got Y" messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
