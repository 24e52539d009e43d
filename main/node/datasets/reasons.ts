// Why a row was rejected, in both UI languages, plus the size limits the reasons refer to.
// Kept in one place so the wording is consistent across importers, and the limits are the
// contract's (main/common/contract.ts) or stricter, so every imported row can later be edited
// through `datasets.updateRow` without tripping its schema.

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

export const reasons = {
  invalidUtf8: () => t('不是有效的 UTF-8 编码（含非法字节序列）', 'not valid UTF-8 (invalid byte sequence)'),
  loneSurrogate: (field: string) => t(`${field} 含无效的 Unicode 代理字符`, `${field} contains an invalid Unicode surrogate`),
  truncatedJson: (detail: string) => t(`JSON 不完整（可能被截断）：${detail}`, `incomplete JSON (truncated?): ${detail}`),
  invalidJson: (detail: string) => t(`JSON 格式错误：${detail}`, `invalid JSON: ${detail}`),
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
  wrongFormat: (format: string, looksLike: string | null) =>
    t(
      `记录不符合 ${format} 格式${looksLike ? `（看起来像 ${looksLike}）` : ''}`,
      `record does not match the ${format} format${looksLike ? ` (looks like ${looksLike})` : ''}`,
    ),
  emptyDialogue: () => t('对话为空', 'empty dialogue'),
  emptyTurn: (i: number) => t(`第 ${i + 1} 轮内容为空`, `turn ${i + 1} is empty`),
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
};

/** What a JSON value is, for "expected X, got Y" messages. */
export function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}
