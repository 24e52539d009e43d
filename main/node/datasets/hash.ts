// Row identity. `rowHash` is sha256 over a canonical JSON (keys sorted at every level, undefined
// dropped), so the same row always hashes the same whatever order its fields were built in; the
// store must use this function (not JSON.stringify of whatever object it holds) or edits would
// change hashes of unchanged rows. `versionContentHash` is sha256 over the row hashes in order,
// concatenated: they are fixed-length hex, so no separator is needed to keep it unambiguous.
//
// `nearDuplicateKey` is what near-duplicate detection compares: the row's text only (roles kept
// as separators, metadata ignored), NFKC-normalised (full-width letters/digits → half-width),
// lower-cased, with whitespace, punctuation and symbols removed.

import {createHash} from 'node:crypto';
import type {DatasetRow} from '../../common/datasets.js';

export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function rowHash(row: DatasetRow): string {
  return createHash('sha256').update(canonicalJson(row)).digest('hex');
}

export function versionContentHash(rowHashes: Iterable<string>): string {
  const hash = createHash('sha256');
  for (const h of rowHashes) hash.update(h);
  return hash.digest('hex');
}

// \p{P} punctuation, \p{S} symbols (℃, ＋, ～ …), \s whitespace incl. the ideographic space
const NOISE = /[\s\p{P}\p{S}]+/gu;

// after removing punctuation, text that is only ASCII and CJK ideographs is already NFKC-stable;
// skipping normalize() for it (most rows) saves ~10% of an import
const MAY_CHANGE_UNDER_NFKC = /[^\u0000-\u007f\u4e00-\u9fff]/;

export function normaliseForDuplicates(text: string): string {
  let s = text.replace(NOISE, '');
  if (MAY_CHANGE_UNDER_NFKC.test(s)) s = s.normalize('NFKC').replace(NOISE, '');
  return s.toLowerCase();
}

/** A compact key (96 bits of sha256, base64) so a 500k-row import keeps its duplicate index small. */
export function nearDuplicateKey(row: DatasetRow): string {
  const hash = createHash('sha256').update(row.kind);
  for (const turn of row.turns) hash.update(`\u0001${turn.role}\u0002`).update(normaliseForDuplicates(turn.content));
  if (row.chosen !== undefined) hash.update('\u0001chosen\u0002').update(normaliseForDuplicates(row.chosen));
  if (row.rejected !== undefined) hash.update('\u0001rejected\u0002').update(normaliseForDuplicates(row.rejected));
  if (row.text !== undefined) hash.update('\u0001text\u0002').update(normaliseForDuplicates(row.text));
  return hash.digest('base64').slice(0, 16);
}

/** The same 96-bit shortening for exact-duplicate lookups by row hash. */
export const shortKey = (hexHash: string): string => Buffer.from(hexHash.slice(0, 24), 'hex').toString('base64');
