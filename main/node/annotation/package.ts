// The annotation package: how rankings travel between annotators' machines (USB stick, mail)
// and back to the workstation that trains on them. One versioned JSON document holding the items
// (with a content hash each), the annotators, and every ranking with its time.
//
// Identity rules, which make merging safe to repeat:
//  - an item IS its content: sha256 over (history, question, candidate texts in order). The same
//    turn exported twice, or by two people, is one item; candidate order is part of the identity
//    because rankings refer to candidates by index. Texts are hashed exactly as stored — no
//    trimming or normalising, since two answers differing in one character were ranked as such.
//  - a ranking IS (item, annotator): a later ranking by the same person replaces the earlier.
// mergePackages is therefore a union keeping the newest ranking per key; merge(merge(a,b),b) and
// merge(a,a) change nothing.

import {createHash} from 'node:crypto';
import {rename, writeFile} from 'node:fs/promises';
import {z} from 'zod';
import type {ItemAnnotation, RankItem} from '../../common/annotation.js';
import {ABILITIES, rankingProblem} from '../../common/annotation.js';
import {AppError} from '../../common/errors.js';

/** A package that is not what it claims, said in both languages (it reaches the import screen). */
const fileProblem = (zh: string, en: string): AppError => new AppError('validation', {zh, en});

export const ANNOTATION_PACKAGE_FORMAT = 'zhongjing.annotation-package';
export const ANNOTATION_PACKAGE_VERSION = 1;

export interface PackageAnnotator {
  id: string;
  name?: string;
}
export interface PackageItem extends RankItem {
  hash: string;
}
export interface PackageRanking extends ItemAnnotation {
  itemHash: string;
}
export interface AnnotationPackage {
  format: typeof ANNOTATION_PACKAGE_FORMAT;
  version: typeof ANNOTATION_PACKAGE_VERSION;
  createdAt: string;
  annotators: PackageAnnotator[];
  items: PackageItem[];
  rankings: PackageRanking[];
}

/** Content hash of an item: sha256 (hex) of the JSON of [[role, content]…, question, candidates]. */
export function itemContentHash(item: Pick<RankItem, 'history' | 'question' | 'candidates'>): string {
  const canonical = JSON.stringify([item.history.map((t) => [t.role, t.content]), item.question, item.candidates]);
  return createHash('sha256').update(canonical).digest('hex');
}

export function createPackage(
  entries: readonly {item: RankItem; annotations: readonly ItemAnnotation[]}[],
  annotators: readonly PackageAnnotator[] = [],
  createdAt = new Date().toISOString(),
): AnnotationPackage {
  const known = new Map(annotators.map((a) => [a.id, {...a}]));
  const empty: AnnotationPackage = {format: ANNOTATION_PACKAGE_FORMAT, version: ANNOTATION_PACKAGE_VERSION, createdAt, annotators: [], items: [], rankings: []};
  const pkg: AnnotationPackage = {...empty, annotators: [...known.values()]};
  for (const {item, annotations} of entries) {
    const hash = itemContentHash(item);
    pkg.items.push({...item, hash});
    for (const a of annotations) {
      pkg.rankings.push({...a, itemHash: hash});
      if (!known.has(a.annotatorId)) {
        known.set(a.annotatorId, {id: a.annotatorId});
        pkg.annotators.push({id: a.annotatorId});
      }
    }
  }
  // one pass through merge dedups items given twice and keeps the newest ranking per key
  return mergePackages(empty, pkg);
}

const time = (iso: string): number => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? -Infinity : t;
};

/** Newest wins; equal times fall back to comparing the records' JSON so the choice is the same
 * whichever package came first (merging is then commutative as well as idempotent). */
function newer(p: PackageRanking, q: PackageRanking): PackageRanking {
  const dt = time(p.annotatedAt) - time(q.annotatedAt);
  if (dt !== 0) return dt > 0 ? p : q;
  return JSON.stringify(p) >= JSON.stringify(q) ? p : q;
}

/**
 * Union of two packages. Items by content hash (the first package's metadata kept), annotators
 * by id (a missing name filled in), rankings by (item, annotator) keeping the newest. Order: a's
 * entries, then b's new ones. Pure; neither input is modified.
 */
export function mergePackages(a: AnnotationPackage, b: AnnotationPackage): AnnotationPackage {
  const items = new Map<string, PackageItem>();
  for (const item of [...a.items, ...b.items]) if (!items.has(item.hash)) items.set(item.hash, item);
  const annotators = new Map<string, PackageAnnotator>();
  for (const who of [...a.annotators, ...b.annotators]) {
    const seen = annotators.get(who.id);
    annotators.set(who.id, seen ? (seen.name === undefined && who.name !== undefined ? {...seen, name: who.name} : seen) : who);
  }
  const rankings = new Map<string, PackageRanking>();
  for (const r of [...a.rankings, ...b.rankings]) {
    const key = `${r.itemHash}\u0000${r.annotatorId}`;
    const seen = rankings.get(key);
    rankings.set(key, seen ? newer(seen, r) : r);
  }
  return {
    format: ANNOTATION_PACKAGE_FORMAT,
    version: ANNOTATION_PACKAGE_VERSION,
    createdAt: a.createdAt >= b.createdAt ? a.createdAt : b.createdAt,
    annotators: [...annotators.values()],
    items: [...items.values()],
    rankings: [...rankings.values()],
  };
}

/** The annotations of one item, in package order. */
export const rankingsOf = (pkg: AnnotationPackage, itemHash: string): ItemAnnotation[] =>
  pkg.rankings.filter((r) => r.itemHash === itemHash).map(({itemHash: _, ...annotation}) => annotation);

// ── Reading and writing ────────────────────────────────────────────────────────────────────────

const text = z.string();
const turn = z.strictObject({role: z.enum(['system', 'user', 'assistant']), content: text});
const mark = z.union([z.literal(1), z.literal(2), z.literal(3)]);
const abilityIds = ABILITIES.map((a) => a.id) as [string, ...string[]];
const packageSchema = z.strictObject({
  format: z.literal(ANNOTATION_PACKAGE_FORMAT),
  version: z.literal(ANNOTATION_PACKAGE_VERSION),
  createdAt: text,
  annotators: z.array(z.strictObject({id: text.min(1), name: text.optional()})),
  items: z.array(z.strictObject({
    hash: text.regex(/^[0-9a-f]{64}$/),
    history: z.array(turn),
    question: text,
    candidates: z.array(text).min(2),
    source: text.optional(),
    sourceId: text.optional(),
  })),
  rankings: z.array(z.strictObject({
    itemHash: text,
    annotatorId: text.min(1),
    role: z.enum(['annotator', 'adjudicator']),
    ranking: z.array(z.array(z.number().int())),
    marks: z.array(z.partialRecord(z.enum(abilityIds), mark)).optional(),
    allWrong: z.boolean(),
    correction: text.nullable().optional(),
    annotatedAt: text.refine((s) => !Number.isNaN(Date.parse(s)), 'not an ISO date'),
  })),
});

/**
 * Parses and checks a package: a newer version is refused rather than half-read, every item's
 * hash must match its content (so a hand-edited item cannot pose as another), and every ranking
 * must rank exactly the candidates of an item in the package.
 */
export function parsePackage(json: string): AnnotationPackage {
  const raw = JSON.parse(json) as {format?: unknown; version?: unknown};
  if (raw?.format !== ANNOTATION_PACKAGE_FORMAT) throw fileProblem('不是仲景标注包', 'not a Zhongjing annotation package');
  if (typeof raw.version === 'number' && raw.version > ANNOTATION_PACKAGE_VERSION)
    throw fileProblem(
      `标注包版本 ${raw.version} 由更新的仲景写出（本版本只能读取 ${ANNOTATION_PACKAGE_VERSION}），请先升级`,
      `annotation package version ${raw.version} was written by a newer Zhongjing (this one reads ${ANNOTATION_PACKAGE_VERSION})`,
    );
  const parsed = packageSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 3).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ');
    throw fileProblem(`标注包格式无效：${issues}`, `invalid annotation package: ${issues}`);
  }
  const pkg = parsed.data as AnnotationPackage;
  const sizes = new Map<string, number>();
  for (const item of pkg.items) {
    if (itemContentHash(item) !== item.hash) throw fileProblem(`条目 ${item.hash.slice(0, 12)}…：内容与其哈希不符`, `item ${item.hash.slice(0, 12)}…: content does not match its hash`);
    sizes.set(item.hash, item.candidates.length);
  }
  for (const r of pkg.rankings) {
    const k = sizes.get(r.itemHash);
    if (k === undefined) throw fileProblem(`${r.annotatorId} 的排序指向不存在的条目 ${r.itemHash.slice(0, 12)}…`, `ranking by ${r.annotatorId} refers to unknown item ${r.itemHash.slice(0, 12)}…`);
    const problem =
      rankingProblem(r.ranking, k) ?? (r.marks && r.marks.length !== k ? {zh: `只有 ${k} 个回答中 ${r.marks.length} 个的评分`, en: `marks for ${r.marks.length} of ${k} answers`} : null);
    if (problem) throw fileProblem(`${r.annotatorId} 对条目 ${r.itemHash.slice(0, 12)}… 的排序：${problem.zh}`, `ranking by ${r.annotatorId} of item ${r.itemHash.slice(0, 12)}…: ${problem.en}`);
  }
  return pkg;
}

/** Writes a package atomically (temp file + rename): a package is what people typed. */
export async function writePackage(path: string, pkg: AnnotationPackage): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, JSON.stringify(pkg, null, 1) + '\n', {encoding: 'utf8', flush: true});
  await rename(partial, path);
}
