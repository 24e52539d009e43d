// Validation at the API boundary: every call's input is parsed with the contract's schema before
// a handler sees it, and a failure becomes a localised 'validation' (or more specific) error.

import type {z} from 'zod';
import {AppError, type LocalisedText} from '../../common/errors.js';
import {MAX_MESSAGE_CHARS} from '../../common/contract.js';

export function parseInput<S extends z.ZodType>(schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues;
  const text = issues.find((i) => i.path[0] === 'text');
  if (text?.code === 'too_big') {
    throw new AppError('message_too_long', {
      zh: `消息过长：最多 ${MAX_MESSAGE_CHARS.toLocaleString('zh-CN')} 个字符。请分段发送或精简内容。`,
      en: `The message is too long: at most ${MAX_MESSAGE_CHARS.toLocaleString('en')} characters. Split or shorten it.`,
    });
  }
  if (text?.code === 'too_small') {
    throw new AppError('validation', {zh: '消息不能为空。', en: 'The message is empty.'});
  }
  // a refinement that knows how to say what is wrong carries its own words (params.localised)
  const localised = issues.map((i) => (i.code === 'custom' ? (i.params as {localised?: unknown} | undefined)?.localised : undefined)).find(isLocalisedText);
  if (localised) throw new AppError('validation', localised, {issues: issues.map((i) => ({path: i.path, code: i.code}))});
  const said = issues.map(describeIssue);
  throw new AppError(
    'validation',
    {zh: `输入无效：${said.map((d) => d.zh).join('；')}`, en: `Invalid input: ${said.map((d) => d.en).join('; ')}`},
    {issues: issues.map((i) => ({path: i.path, code: i.code}))},
  );
}

/** One schema issue in both languages (zod's own text is English only): the field's path, then
 * what is wrong with it, for the kinds a person can cause from a form. */
function describeIssue(issue: z.core.$ZodIssue): LocalisedText {
  const field = issue.path.map(String).join('.');
  const at = (zh: string, en: string): LocalisedText => ({zh: field ? `${field}：${zh}` : zh, en: field ? `${field}: ${en}` : en});
  const bound = (issue as {maximum?: unknown; minimum?: unknown}).maximum ?? (issue as {minimum?: unknown}).minimum;
  const origin = (issue as {origin?: string}).origin;
  switch (issue.code) {
    case 'too_big':
      if (origin === 'string') return at(`最多 ${String(bound)} 个字符`, `at most ${String(bound)} characters`);
      if (origin === 'array' || origin === 'set') return at(`最多 ${String(bound)} 项`, `at most ${String(bound)} items`);
      return at(`不能大于 ${String(bound)}`, `must be at most ${String(bound)}`);
    case 'too_small':
      if (origin === 'string') return bound === 1 ? at('不能为空', 'must not be empty') : at(`至少 ${String(bound)} 个字符`, `at least ${String(bound)} characters`);
      if (origin === 'array' || origin === 'set') return at(`至少 ${String(bound)} 项`, `at least ${String(bound)} items`);
      return at(`不能小于 ${String(bound)}`, `must be at least ${String(bound)}`);
    case 'invalid_type':
      return at(`类型不对（应为 ${issue.expected}）`, `wrong type (expected ${issue.expected})`);
    case 'invalid_value':
      return at(`只能是 ${issue.values.map((v) => String(v)).join('、')} 之一`, `must be one of ${issue.values.map((v) => String(v)).join(', ')}`);
    case 'unrecognized_keys':
      return at(`不认识的字段 ${issue.keys.join('、')}`, `unknown field(s) ${issue.keys.join(', ')}`);
    default:
      return at(`不符合要求（${issue.message}）`, issue.message);
  }
}

function isLocalisedText(value: unknown): value is LocalisedText {
  const text = value as Partial<LocalisedText> | undefined;
  return typeof text?.zh === 'string' && typeof text.en === 'string';
}
