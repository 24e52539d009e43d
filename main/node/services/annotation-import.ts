// Bringing rankings in: RLHF-Label-Tool files (input_file.json + its ranked TSV), pairwise files
// (question/response_chosen/response_rejected), and annotation packages from another
// workstation. Items are matched by content hash, so importing the same thing twice adds nothing
// and a package's rankings merge into the items they belong to (newest per annotator wins).

import {basename} from 'node:path';
import type {ItemAnnotation, RankItem} from '../../common/annotation.js';
import {AppError, type LocalisedText} from '../../common/errors.js';
import {parsePreferencePairsJsonl, reasonOf} from '../annotation/formats.js';
import {ANNOTATION_PACKAGE_FORMAT, itemContentHash, parsePackage} from '../annotation/package.js';
import {importRlhfLabelTool} from '../annotation/rlhf-label-tool.js';
import type {Store} from '../store/index.js';
import {nowIso} from '../ids.js';
import {checkRegularFile, readRegularTextFile} from '../files.js';

/** Annotation files are read whole (JSON documents); 256 MB holds far more than any project. */
export const MAX_ANNOTATION_FILE_BYTES = 256 * 1024 * 1024;

interface Entry {
  item: RankItem;
  annotations: ItemAnnotation[];
}

export interface AnnotationImportResult {
  projectIds: string[];
  itemsAdded: number;
  itemsMatched: number;
  rankingsMerged: number;
  /** what was left out or is uncertain, in both languages (the import screen shows the UI's one) */
  warnings: LocalisedText[];
  /** the same warnings in English only, for logs and the CLI's current output */
  problems: string[];
}

/** Why a file could not be read, in both languages. */
function unreadable(error: unknown): LocalisedText {
  const code = (error as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT') return {zh: '找不到这个文件', en: 'no such file'};
  if (code === 'EACCES' || code === 'EPERM') return {zh: '没有读取权限', en: 'permission denied'};
  if (code === 'EISDIR') return {zh: '这是一个目录，不是文件', en: 'a directory, not a file'};
  return reasonOf(error);
}

/** "<file> #<id>: reason" in each language. */
const at = (where: string, reason: LocalisedText): LocalisedText => ({zh: `${where}：${reason.zh}`, en: `${where}: ${reason.en}`});

/** The error, prefixed with the file's path. */
const naming = (path: string, error: unknown): AppError =>
  error instanceof AppError ? new AppError(error.code, at(path, error.localised)) : new AppError('io', at(path, unreadable(error)));

/** The file's text, or an error naming it: only regular files up to the limit are read, only
 * UTF-8 (GBK is refused, not read as U+FFFD); a byte order mark (Windows editors add one) is not
 * data. */
async function readAnnotationFile(path: string): Promise<string> {
  try {
    return (await readRegularTextFile(path, MAX_ANNOTATION_FILE_BYTES)).replace(/^\uFEFF/, '');
  } catch (error) {
    throw naming(path, error);
  }
}

async function readEntries(paths: string[]): Promise<{entries: Entry[]; annotators: Map<string, string>; warnings: LocalisedText[]}> {
  const entries: Entry[] = [];
  const annotators = new Map<string, string>();
  const warnings: LocalisedText[] = [];
  const tsv = paths.find((p) => p.toLowerCase().endsWith('.tsv'));
  // every named file is checked before any is read: a device, FIFO or huge file is refused at once
  for (const path of paths) {
    try {
      await checkRegularFile(path, MAX_ANNOTATION_FILE_BYTES);
    } catch (error) {
      throw naming(path, error);
    }
  }
  for (const path of paths) {
    if (path === tsv) continue;
    const name = basename(path);
    const text = await readAnnotationFile(path);
    let json: unknown = undefined;
    try {
      json = JSON.parse(text);
    } catch {
      // not one JSON document: JSON Lines
    }
    const record = json as Record<string, unknown> | undefined;
    const kind =
      record && record.format === ANNOTATION_PACKAGE_FORMAT
        ? 'package'
        : record && typeof record === 'object' && !Array.isArray(record) && typeof (record['0'] as Record<string, unknown> | undefined)?.response_0 === 'string'
          ? 'rlhf-label-tool'
          : text.includes('"response_chosen"')
            ? 'pairs'
            : null;
    if (!kind)
      throw new AppError('validation', {
        zh: `无法识别的标注文件：${name}（支持 RLHF-Label-Tool 的 input_file.json + 排序 TSV、偏好对 JSONL、仲景标注包）`,
        en: `Unrecognised annotation file: ${name} (RLHF-Label-Tool input_file.json + ranked TSV, preference-pair JSONL, and Zhongjing annotation packages are supported)`,
      });
    // a file that cannot be read as its kind is refused whole, naming the file and why
    try {
      if (kind === 'package') {
        const pkg = parsePackage(text);
        for (const a of pkg.annotators) annotators.set(a.id, a.name ?? a.id);
        for (const item of pkg.items) entries.push({item, annotations: pkg.rankings.filter((r) => r.itemHash === item.hash)});
      } else if (kind === 'rlhf-label-tool') {
        const annotatorId = 'rlhf-label-tool';
        annotators.set(annotatorId, '导入：RLHF-Label-Tool');
        const result = importRlhfLabelTool(text, tsv ? await readAnnotationFile(tsv) : null, {annotatorId, annotatedAt: nowIso(), source: name});
        for (const [id, item] of result.items) entries.push({item, annotations: result.annotations.has(id) ? [result.annotations.get(id)!] : []});
        warnings.push(...result.problems.map((p) => at(`${name} #${p.id}`, p.reason)));
        if (result.ambiguous.length)
          warnings.push(
            at(name, {
              zh: `条目 ${result.ambiguous.join('、')} 中有完全相同的候选回答，TSV 无法区分它们，哪一份得到哪个名次只能推测`,
              en: `items ${result.ambiguous.join(', ')} have identical candidate texts, which the TSV cannot tell apart: which copy got which rank is a guess`,
            }),
          );
      } else {
        const annotatorId = `pairs:${name}`.slice(0, 64).replace(/[^A-Za-z0-9_-]/g, '_');
        annotators.set(annotatorId, `导入：${name}`);
        const result = parsePreferencePairsJsonl(text, {annotatorId, source: name});
        entries.push(...result.entries);
        warnings.push(...result.problems.map((p) => at(`${name}:${p.line}`, p.reason)));
      }
    } catch (error) {
      throw new AppError(error instanceof AppError && error.code !== 'validation' ? error.code : 'validation', at(name, reasonOf(error)));
    }
  }
  return {entries, annotators, warnings};
}

export async function importAnnotationFiles(store: Store, paths: string[]): Promise<AnnotationImportResult> {
  const {entries, annotators, warnings} = await readEntries(paths);
  const result: AnnotationImportResult = {projectIds: [], itemsAdded: 0, itemsMatched: 0, rankingsMerged: 0, warnings, problems: warnings.map((w) => w.en)};
  store.db.transaction(() => {
    // annotators keep their ids across workstations; a clashing name gets the id appended
    for (const [id, name] of annotators) {
      if (store.annotation.annotator(id)) continue;
      const free = store.annotation.annotatorByName(name) ? `${name} (${id.slice(-6)})` : name;
      store.db.prepare(`INSERT INTO annotators (id, name, role, created_at) VALUES (?, ?, 'annotator', ?)`).run(id, free, nowIso());
    }
    const known = new Map<string, string>();
    for (const projectId of store.annotation.projectIds())
      for (const item of store.annotation.items(projectId))
        known.set(itemContentHash({history: item.history, question: item.question, candidates: store.annotation.candidates(item.id).map((c) => c.text)}), item.id);
    const projectsByK = new Map<number, {id: string; nextPosition: number}>();
    for (const entry of entries) {
      const hash = itemContentHash(entry.item);
      let itemId = known.get(hash);
      if (itemId) result.itemsMatched++;
      else {
        const k = entry.item.candidates.length;
        let project = projectsByK.get(k);
        if (!project) {
          const stamp = nowIso().slice(0, 19).replace('T', ' ');
          const base = `导入 ${paths.map((p) => basename(p)).join(', ').slice(0, 60)} ${stamp}${projectsByK.size ? ` K=${k}` : ''}`;
          const id = store.annotation.createProject({name: base, k: Math.min(8, Math.max(2, k)), minAnnotators: 1, source: {type: 'import', files: paths.map((p) => basename(p))}, generation: null});
          project = {id, nextPosition: 0};
          projectsByK.set(k, project);
          result.projectIds.push(id);
        }
        const position = project.nextPosition++;
        itemId = store.annotation.insertItems(project.id, [{position, history: entry.item.history, question: entry.item.question, department: null, reference: null}])[0]!;
        entry.item.candidates.forEach((text, index) => store.annotation.addCandidate(itemId!, {index, text, origin: {type: 'imported'}, nearDuplicateOf: null}));
        known.set(hash, itemId);
        result.itemsAdded++;
      }
      for (const a of entry.annotations) {
        if (!store.annotation.annotator(a.annotatorId)) continue;
        if (store.annotation.mergeRanking({itemId, annotatorId: a.annotatorId, kind: a.role === 'adjudicator' ? 'adjudication' : 'ranking', ranking: a.ranking, marks: a.marks ?? [], comment: '', allWrong: a.allWrong, correction: a.correction ?? null, savedAt: a.annotatedAt}))
          result.rankingsMerged++;
      }
    }
  })();
  return result;
}
