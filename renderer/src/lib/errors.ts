// Turning anything thrown into something a person can read, in the current language.
// AppError comes from the shared errors module: it is plain TypeScript without imports, so using
// its class at runtime pulls nothing else into the bundle.
import {AppError} from '../../../main/common/errors';
import {bothLanguages} from './i18n';
import {pick} from './lang.svelte';

export {AppError};

/** The details of the error a call gets when serve cannot be reached at all (not an answer). */
export const UNREACHABLE = 'unreachable';
export const isUnreachable = (error: unknown): boolean => error instanceof AppError && error.details === UNREACHABLE;

export function asAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const detail = error instanceof Error ? error.message : String(error);
  return new AppError('internal', bothLanguages('errGeneric', {detail}));
}

/** The error's text in the current UI language (reactive when called from a template). */
export function errorText(error: unknown): string {
  return pick(asAppError(error).localised);
}
