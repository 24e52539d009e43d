// Errors that cross the API boundary. Every error a person can see carries its text in both UI
// languages, so the renderer and the CLI show it in the user's language without a lookup table
// on the far side of the transport.

export type ErrorCode =
  | 'validation' // input failed the contract's schema
  | 'unauthorized' // serve: missing or wrong token
  | 'not_found' // unknown id
  | 'model_invalid' // not a GGUF, truncated, corrupt
  | 'model_missing' // registered file is gone from disk
  | 'model_required' // a consultation needs a model before it can chat
  | 'message_too_long' // larger than the contract allows
  | 'context_overflow' // a single message does not fit the model's context
  | 'busy' // a reply is already being generated in this consultation; a training run is in progress
  | 'engine_crashed' // the inference process died; it restarts on next use
  | 'download_failed'
  | 'checksum_mismatch'
  | 'db_newer' // the database was written by a newer version of the app
  | 'training_unavailable' // the native trainer addon is not built or cannot load here
  | 'training_failed'
  | 'data_locked' // another Zhongjing process (serve, app window, CLI) is using this data directory
  | 'store_corrupt' // the store file failed its start-up check; a copy was kept, see `zhongjing store`
  | 'disk_full' // SQLITE_FULL / ENOSPC: nothing was written; retry once space is freed
  | 'remote_unreachable' // an OpenAI-compatible endpoint could not be reached (network, DNS, refused, timeout)
  | 'remote_error' // the endpoint answered with an error (wrong key, unknown model, server error)
  | 'path_denied' // serve: a path outside the data directory and the allowed folders
  | 'file_exists' // an export would replace an existing file; ask again with overwrite
  | 'conflict' // saved from another window since this one read it; ask again to replace it
  | 'io'
  | 'internal';

export interface LocalisedText {
  zh: string;
  en: string;
}

export interface ErrorPayload {
  code: ErrorCode;
  message: LocalisedText;
  details?: unknown;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly localised: LocalisedText;
  readonly details: unknown;

  constructor(code: ErrorCode, message: LocalisedText, details?: unknown) {
    super(message.en);
    this.name = 'AppError';
    this.code = code;
    this.localised = message;
    this.details = details;
  }

  toPayload(): ErrorPayload {
    return this.details === undefined
      ? {code: this.code, message: this.localised}
      : {code: this.code, message: this.localised, details: this.details};
  }

  static fromPayload(payload: ErrorPayload): AppError {
    return new AppError(payload.code, payload.message, payload.details);
  }
}

export function isErrorPayload(value: unknown): value is ErrorPayload {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const message = v.message as Record<string, unknown> | undefined;
  return typeof v.code === 'string' && typeof message?.zh === 'string' && typeof message?.en === 'string';
}

/** SQLite's "database or disk is full" and the file system's ENOSPC / EDQUOT: the disk (or the
 * user's quota) is full. Nothing was written by the failed statement or transaction. */
export function isDiskFull(error: unknown): boolean {
  const code = (error as {code?: unknown} | null)?.code;
  return code === 'SQLITE_FULL' || code === 'ENOSPC' || code === 'EDQUOT';
}

export function diskFullError(): AppError {
  return new AppError('disk_full', {
    zh: '磁盘已满：这次的内容没有写入。请在数据目录所在的磁盘上腾出空间；空间释放后会自动继续保存，无需重启。',
    en: 'The disk is full: this was not written. Free some space on the disk that holds the data directory; saving resumes by itself once there is room, no restart needed.',
  });
}

/** Wraps anything thrown into an AppError, without leaking stack traces to the user. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (isDiskFull(error)) return diskFullError();
  const text = error instanceof Error ? error.message : String(error);
  return new AppError('internal', {zh: `内部错误：${text}`, en: `Internal error: ${text}`});
}

export function pickMessage(text: LocalisedText, language: 'zh-CN' | 'en'): string {
  return language === 'en' ? text.en : text.zh;
}

export const notFound = (what: LocalisedText, id: string): AppError =>
  new AppError('not_found', {zh: `找不到${what.zh}：${id}`, en: `No such ${what.en}: ${id}`}, {id});
