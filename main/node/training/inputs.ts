// What a training job reads. The run's configuration lists its input files with their ROLE (train
// or validation) and CONTENT (dataset rows or preference rankings): the manifest, so nothing is
// inferred from file names. Every file goes through the dataset engine's own reader:
//   dataset      any file the dataset engine imports (ShareGPT, Alpaca/CMtMedQA, ChatMed, DISC,
//                preference pairs, plain text…; format detected), read by importDataset without
//                de-identification (the store's datasets are de-identified when imported; a file
//                named on the command line is the user's own training data, used as it is)
//   preferences  JSON Lines of PreferenceRecord (common/training.ts): K-wise rankings with ties,
//                read by the same record reader (openRecords) and checked here
// Rows keep the dataset engine's row types (DatasetRow), so preference pairs and rankings reach the
// objectives unchanged.

import {statSync} from 'node:fs';
import {basename, resolve} from 'node:path';
import type {DatasetRow} from '../../common/datasets.js';
import type {PreferenceRecord} from '../../common/training.js';
import {importDataset} from '../datasets/importer.js';
import {openRecords} from '../datasets/records.js';
import {sha256File} from '../hash.js';

export interface TrainingInputFile {
  path: string;
  role: 'train' | 'validation';
  content: 'dataset' | 'preferences';
}

export interface InputSet {
  rows: DatasetRow[];
  preferences: PreferenceRecord[];
}

export interface InputProvenance {
  path: string;
  name: string;
  role: TrainingInputFile['role'];
  content: TrainingInputFile['content'];
  sha256: string;
  bytes: number;
  rows: number;
  /** rows the reader rejected (with reasons in the dataset engine's report) */
  rejected: number;
  /** where this file's rows and preference records sit in its role's InputSet: [from, to) */
  rowRange: [number, number];
  preferenceRange: [number, number];
}

export interface ReadInputs {
  train: InputSet;
  validation: InputSet;
  files: InputProvenance[];
}

/** Converts each file's rows and records with `convert` (null = not usable by this objective) and
 * counts, per file, what became an item and what was skipped (including rows the reader rejected). */
export function convertInputs<T>(inputs: ReadInputs, convert: (item: {row?: DatasetRow; preference?: PreferenceRecord}) => T[] | T | null): {
  train: T[];
  validation: T[];
  perFile: {examples: number; skipped: number}[];
} {
  const out = {train: [] as T[], validation: [] as T[], perFile: [] as {examples: number; skipped: number}[]};
  for (const f of inputs.files) {
    const set = f.role === 'train' ? inputs.train : inputs.validation;
    const target = f.role === 'train' ? out.train : out.validation;
    let examples = 0;
    let skipped = f.rejected;
    const take = (result: T[] | T | null) => {
      const list = result === null ? [] : Array.isArray(result) ? result : [result];
      if (list.length) {
        examples += list.length;
        target.push(...list);
      } else skipped++;
    };
    for (let i = f.rowRange[0]; i < f.rowRange[1]; i++) take(convert({row: set.rows[i]!}));
    for (let i = f.preferenceRange[0]; i < f.preferenceRange[1]; i++) take(convert({preference: set.preferences[i]!}));
    out.perFile.push({examples, skipped});
  }
  return out;
}

/** Train files given as paths (the common case for tests, the benchmark and the CLI). */
export function datasetInputs(train: readonly string[], validation: readonly string[] = []): TrainingInputFile[] {
  return [
    ...train.map((path) => ({path: resolve(path), role: 'train' as const, content: 'dataset' as const})),
    ...validation.map((path) => ({path: resolve(path), role: 'validation' as const, content: 'dataset' as const})),
  ];
}

/** Why a preference record cannot be learned from, or null. */
export function preferenceProblem(value: unknown): string | null {
  if (!value || typeof value !== 'object') return 'not an object';
  const r = value as Partial<PreferenceRecord>;
  if (!Array.isArray(r.turns) || !r.turns.length || r.turns.some((t) => !t || typeof t.content !== 'string' || !['system', 'user', 'assistant'].includes(t.role)))
    return 'turns must be [{role, content}, …]';
  if (r.turns[r.turns.length - 1]!.role !== 'user') return 'the prompt must end with a user turn';
  if (!Array.isArray(r.candidates) || r.candidates.some((c) => typeof c !== 'string')) return 'candidates must be strings';
  if (!Array.isArray(r.tiers) || r.tiers.length < 2) return 'a ranking needs at least two tiers';
  const seen = new Set<number>();
  for (const tier of r.tiers) {
    if (!Array.isArray(tier) || !tier.length) return 'every tier needs a candidate';
    for (const i of tier) {
      if (!Number.isInteger(i) || i < 0 || i >= r.candidates.length || r.candidates[i] === undefined) return `tier names candidate ${String(i)}, which does not exist`;
      if (seen.has(i)) return `candidate ${i} is ranked twice`;
      seen.add(i);
    }
  }
  return null;
}

/** A chosen/rejected row as a ranking of two. */
export function preferenceFromRow(row: DatasetRow): PreferenceRecord | null {
  if (row.kind !== 'preference' || row.chosen === undefined || row.rejected === undefined) return null;
  return {turns: row.turns.map((t) => ({...t})), candidates: [row.chosen, row.rejected], tiers: [[0], [1]], ...(row.source ? {source: row.source} : {})};
}

export async function readInputs(files: readonly TrainingInputFile[]): Promise<ReadInputs> {
  const out: ReadInputs = {train: {rows: [], preferences: []}, validation: {rows: [], preferences: []}, files: []};
  for (const file of files) {
    const target = file.role === 'train' ? out.train : out.validation;
    let rows = 0;
    let rejected = 0;
    const rowsFrom = target.rows.length;
    const prefsFrom = target.preferences.length;
    if (file.content === 'dataset') {
      const report = await importDataset({path: file.path}, {format: 'auto', deidentify: false, maxRejectedListed: 0, maxDuplicateExamples: 0}, (imported) => {
        target.rows.push(imported.row);
      });
      rows = report.rowsRead;
      rejected = report.rejected;
    } else {
      const stream = await openRecords({path: file.path});
      for await (const record of stream.records) {
        rows++;
        if (!record.ok || preferenceProblem(record.value) !== null) {
          rejected++;
          continue;
        }
        target.preferences.push(record.value as PreferenceRecord);
      }
    }
    out.files.push({path: resolve(file.path), name: basename(file.path), role: file.role, content: file.content, sha256: await sha256File(file.path), bytes: statSync(file.path).size, rows, rejected,
      rowRange: [rowsFrom, target.rows.length], preferenceRange: [prefsFrom, target.preferences.length]});
  }
  return out;
}
