// Unwrapping a CallEnvelope: `ok` gives the result, anything else becomes a thrown AppError with
// the service's code and both language texts intact.
import type {CallEnvelope} from '../../../../main/common/wire';
import {AppError, isErrorPayload} from '../../../../main/common/errors';
import {bothLanguages} from '../i18n';

export function unwrapEnvelope<T>(envelope: unknown, status?: number): T {
  const env = envelope as Partial<CallEnvelope<T>> | null;
  if (env && typeof env === 'object') {
    if (env.ok === true && 'result' in env) return env.result as T;
    if (env.ok === false && isErrorPayload(env.error)) throw AppError.fromPayload(env.error);
  }
  throw new AppError('internal', bothLanguages('errBadResponse', {status: status ?? '—'}));
}
