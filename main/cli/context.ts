// What every CLI command shares: the user's language, the data directory, one-line errors.

import {AppError, pickMessage, toAppError, type LocalisedText} from '../common/errors.js';
import {defaultDataDir} from '../node/paths.js';

export type Language = 'zh-CN' | 'en';

export function cliLanguage(env: NodeJS.ProcessEnv = process.env): Language {
  const chosen = env.ZHONGJING_LANG ?? env.LC_ALL ?? env.LC_MESSAGES ?? env.LANG ?? '';
  return /^zh/i.test(chosen) ? 'zh-CN' : 'en';
}

export function say(text: LocalisedText): string {
  return pickMessage(text, cliLanguage());
}

export function usageError(text: LocalisedText): AppError {
  return new AppError('validation', text);
}

export function resolveDataDir(flag: string | undefined): string {
  return flag ?? defaultDataDir();
}

/** One clear line on stderr and a non-zero exit; never a stack trace (ZHONGJING_DEBUG=1 adds it). */
export function fail(error: unknown): never {
  const code = (error as {code?: unknown}).code;
  const appError =
    typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS')
      ? new AppError('validation', {zh: `参数错误：${(error as Error).message}`, en: `Bad arguments: ${(error as Error).message}`})
      : toAppError(error);
  process.stderr.write(`zhongjing: ${say(appError.localised)}\n`);
  if (process.env.ZHONGJING_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(appError.code === 'validation' ? 2 : 1);
}
