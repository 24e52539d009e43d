// The sampling fields of the settings drawer, with the ranges of `samplingSchema` in
// main/common/contract.ts. They are repeated here because the renderer must not bundle zod;
// the service validates again, so a drift shows up as a clear error, never as bad data.
import type {Sampling} from '../../../main/common/contract';
import type {MessageKey} from './i18n';

export type SamplingKey = keyof Sampling;

export interface SamplingField {
  key: SamplingKey;
  label: MessageKey;
  min: number;
  max: number;
  step: number;
  integer: boolean;
  /** topP must be above 0, not equal to it */
  exclusiveMin?: boolean;
}

export const SAMPLING_FIELDS: readonly SamplingField[] = [
  {key: 'temperature', label: 'temperature', min: 0, max: 2, step: 0.05, integer: false},
  {key: 'topP', label: 'topP', min: 0, max: 1, step: 0.01, integer: false, exclusiveMin: true},
  {key: 'topK', label: 'topK', min: 0, max: 1000, step: 1, integer: true},
  {key: 'minP', label: 'minP', min: 0, max: 1, step: 0.01, integer: false},
  {key: 'repeatPenalty', label: 'repeatPenalty', min: 1, max: 2, step: 0.01, integer: false},
  {key: 'maxTokens', label: 'maxTokens', min: 1, max: 32_768, step: 1, integer: true},
  {key: 'seed', label: 'seed', min: 0, max: 2 ** 31 - 1, step: 1, integer: true},
];

/** The drawer edits text, so half-typed numbers ("0.") are not fought over while typing. */
export type SamplingDraft = Record<SamplingKey, string>;

export function draftFromSampling(sampling: Sampling): SamplingDraft {
  const draft = {} as SamplingDraft;
  for (const field of SAMPLING_FIELDS) {
    const value = sampling[field.key];
    draft[field.key] = value === null ? '' : String(value);
  }
  return draft;
}

/** Checks one field; the answer is the message key of the problem, or null when it is fine. */
export function fieldProblem(field: SamplingField, text: string): MessageKey | null {
  const trimmed = text.trim();
  if (field.key === 'seed' && trimmed === '') return null; // empty seed = random each time
  const value = Number(trimmed);
  const inRange =
    trimmed !== '' &&
    Number.isFinite(value) &&
    (field.exclusiveMin ? value > field.min : value >= field.min) &&
    value <= field.max &&
    (!field.integer || Number.isInteger(value));
  if (inRange) return null;
  return field.integer ? 'invalidInteger' : 'invalidNumber';
}

/** The draft as a Sampling, or null while any field is invalid. */
export function samplingFromDraft(draft: SamplingDraft): Sampling | null {
  if (SAMPLING_FIELDS.some((field) => fieldProblem(field, draft[field.key]) !== null)) return null;
  const number = (key: SamplingKey) => Number(draft[key].trim());
  return {
    temperature: number('temperature'),
    topP: number('topP'),
    topK: number('topK'),
    minP: number('minP'),
    repeatPenalty: number('repeatPenalty'),
    maxTokens: number('maxTokens'),
    seed: draft.seed.trim() === '' ? null : number('seed'),
  };
}
