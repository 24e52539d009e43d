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
  const where = issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ');
  throw new AppError('validation', {zh: `输入无效 —— ${where}`, en: `Invalid input — ${where}`}, {issues: issues.map((i) => ({path: i.path, code: i.code}))});
}

function isLocalisedText(value: unknown): value is LocalisedText {
  const text = value as Partial<LocalisedText> | undefined;
  return typeof text?.zh === 'string' && typeof text.en === 'string';
}
