// Expert annotation: projects from dataset turns, K candidates generated in the engine process,
// rankings saved durably per annotator, disagreement detection, the third expert's adjudication,
// agreement statistics, and exports. The maths and file formats are in common/annotation.ts and
// node/annotation/.

import {createHash} from 'node:crypto';
import {basename, join} from 'node:path';
import {mkdir, rm, writeFile} from 'node:fs/promises';
import {newId} from '../ids.js';
import type {MethodInput, MethodOutput} from '../../common/contract.js';
import {
  ALL_WRONG_CORRECTION,
  DIMENSIONS,
  alphaUnitsFromRankings,
  kendallTauB,
  krippendorffAlphaOrdinal,
  rankingFromScores,
  rankingProblem,
  resolveFinal,
  type AnswerMarks,
  type FinalDecision,
  type Ranking,
} from '../../common/annotation.js';
import type {AgreementStats, AnnotationDashboard, AnnotationProjectSummary, Annotator, DisagreementView, ItemView} from '../../common/annotation-views.js';
import {AppError, notFound, toAppError} from '../../common/errors.js';
import {DEFAULT_SAMPLING} from '../../common/contract.js';
import {mulberry32, shuffleInPlace} from '../../common/random.js';
import {DEFAULT_SYSTEM_PROMPT} from '../../common/prompts.js';
import type {EngineHost} from '../engine/engine-host.js';
import {exportPreferencePairs, exportRankings, exportSftCorrections, rankingRecord, type ResolvedItem} from '../annotation/formats.js';
import {createPackage, writePackage} from '../annotation/package.js';
import type {DataPaths} from '../paths.js';
import type {PreferenceRecord, TrainingSource} from '../../common/training.js';
import type {Store} from '../store/index.js';
import {asItemAnnotation, type ItemRecord} from '../store/annotation-repo.js';
import type {DatasetService} from './dataset-service.js';
import {importAnnotationFiles} from './annotation-import.js';
import type {EventBus} from './event-bus.js';
import {readablePath, unconfined, writableFile, type PathPolicy} from '../path-policy.js';

const PROJECT = {zh: '标注项目', en: 'annotation project'};
const ITEM = {zh: '标注条目', en: 'annotation item'};
const ANNOTATOR = {zh: '标注员', en: 'annotator'};

/** Character-bigram Jaccard: two samples this similar add little to a ranking. */
function similarity(a: string, b: string): number {
  const grams = (s: string) => {
    const t = s.replace(/\s+/g, '');
    const set = new Set<string>();
    for (let i = 0; i < t.length - 1; i++) set.add(t.slice(i, i + 2));
    return set;
  };
  const [x, y] = [grams(a), grams(b)];
  if (x.size === 0 && y.size === 0) return a.trim() === b.trim() ? 1 : 0;
  let shared = 0;
  for (const g of x) if (y.has(g)) shared++;
  return shared / (x.size + y.size - shared);
}
const NEAR_DUPLICATE = 0.9;

/** A stable shuffle per (annotator, item): the same person sees the same order on every visit,
 * two people see different orders, and the first-shown answer is not always candidate 0. */
function shuffledFor<T>(items: readonly T[], key: string): T[] {
  const seed = createHash('sha256').update(key).digest().readUInt32BE(0);
  return shuffleInPlace([...items], mulberry32(seed));
}

export class AnnotationService {
  private readonly generating = new Map<string, AbortController>();

  constructor(
    private readonly store: Store,
    private readonly engine: EngineHost,
    private readonly datasets: DatasetService,
    private readonly paths: DataPaths,
    private readonly bus: EventBus,
  ) {}

  // ───── annotators ─────

  annotators(): Annotator[] {
    return this.store.annotation.annotators();
  }

  createAnnotator(input: MethodInput<'annotators.create'>): Annotator {
    if (this.store.annotation.annotatorByName(input.name))
      throw new AppError('validation', {zh: `已有名为“${input.name}”的标注员。`, en: `An annotator named "${input.name}" already exists.`});
    return this.store.annotation.createAnnotator(input.name, input.role);
  }

  private annotator(id: string): Annotator {
    const found = this.store.annotation.annotator(id);
    if (!found) throw notFound(ANNOTATOR, id);
    return found;
  }

  // ───── projects ─────

  projects(): AnnotationProjectSummary[] {
    return this.store.annotation.projectIds().map((id) => this.summary(id));
  }

  summary(id: string): AnnotationProjectSummary {
    const project = this.store.annotation.project(id);
    if (!project) throw notFound(PROJECT, id);
    const items = this.store.annotation.items(id);
    const counts = this.store.annotation.candidateCounts(id);
    const decisions = this.decisions(id, items);
    return {
      ...project,
      items: items.length,
      ready: items.filter((i) => (counts.get(i.id) ?? 0) >= project.k).length,
      final: [...decisions.values()].filter((d) => d.status === 'final').length,
      disagreements: [...decisions.values()].filter((d) => d.status === 'needs-adjudication').length,
      rankings: this.store.annotation.projectRankings(id).filter((r) => r.kind === 'ranking').length,
    };
  }

  createProject(input: MethodInput<'annotation.createProject'>): AnnotationProjectSummary {
    if (this.store.annotation.projectNameTaken(input.name))
      throw new AppError('validation', {zh: `已有名为“${input.name}”的标注项目。`, en: `A project named "${input.name}" already exists.`});
    const model = this.store.models.get(input.generation.modelId);
    if (!model || model.kind !== 'base') throw notFound({zh: '模型', en: 'model'}, input.generation.modelId);
    const {name} = this.datasets.resolve(input.datasetId);
    const version = this.datasets.freeze(input.datasetId, input.version);
    // every assistant turn of a dialogue is one item: the conversation before it + the patient turn
    const items: Omit<ItemRecord, 'id' | 'projectId'>[] = [];
    for (const row of this.store.datasets.iterateRows(version.id)) {
      if (row.kind !== 'dialogue' && row.kind !== 'safety') continue;
      const turns = row.turns.filter((t) => t.role !== 'system');
      for (let j = 1; j < turns.length && items.length < (input.maxItems ?? 200); j++) {
        if (turns[j]!.role !== 'assistant' || turns[j - 1]!.role !== 'user') continue;
        items.push({position: items.length, history: turns.slice(0, j - 1), question: turns[j - 1]!.content, department: row.department ?? null, reference: turns[j]!.content});
      }
      if (items.length >= (input.maxItems ?? 200)) break;
    }
    if (items.length === 0)
      throw new AppError('validation', {zh: `数据集“${name}”中没有可标注的对话轮次。`, en: `Dataset "${name}" has no dialogue turns to annotate.`});
    const id = this.store.db.transaction(() => {
      const projectId = this.store.annotation.createProject({
        name: input.name,
        k: input.k ?? 4,
        minAnnotators: input.minAnnotators ?? 2,
        source: {type: 'dataset', datasetId: input.datasetId, name, version: version.version, contentHash: version.contentHash},
        generation: {
          modelId: input.generation.modelId,
          adapterIds: input.generation.adapterIds ?? [],
          temperatures: input.generation.temperatures ?? [0.7, 0.9, 1.0, 1.2],
          maxTokens: input.generation.maxTokens ?? 256,
          seed: input.generation.seed ?? 1,
        },
      });
      this.store.annotation.insertItems(projectId, items);
      return projectId;
    })();
    this.bus.emit({type: 'annotation.changed', projectId: id});
    return this.summary(id);
  }

  deleteProject(projectId: string): {deleted: true} {
    this.generating.get(projectId)?.abort();
    if (!this.store.annotation.deleteProject(projectId)) throw notFound(PROJECT, projectId);
    this.bus.emit({type: 'annotation.changed', projectId});
    return {deleted: true};
  }

  // ───── candidate generation ─────

  generate(projectId: string): {started: boolean} {
    const project = this.summary(projectId);
    if (this.generating.has(projectId)) return {started: false};
    if (!project.generation) throw new AppError('validation', {zh: '此项目没有生成设置（候选答案为导入的）。', en: 'This project has no generation settings (its candidates were imported).'});
    const controller = new AbortController();
    this.generating.set(projectId, controller);
    void this.runGeneration(project, controller.signal).finally(() => this.generating.delete(projectId));
    return {started: true};
  }

  cancelGeneration(projectId: string): {cancelled: boolean} {
    const controller = this.generating.get(projectId);
    controller?.abort();
    return {cancelled: controller !== undefined};
  }

  /** Resolves when no generation is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.generating.size) await new Promise((r) => setTimeout(r, 20));
  }

  stopAll(): void {
    for (const controller of this.generating.values()) controller.abort();
  }

  private async runGeneration(project: AnnotationProjectSummary, signal: AbortSignal): Promise<void> {
    const settings = project.generation!;
    const emit = (done: number, total: number, tokensPerSecond: number, etaSeconds: number | null, finished: boolean, error: {zh: string; en: string} | null) =>
      this.bus.emit({type: 'annotation.progress', projectId: project.id, done, total, tokensPerSecond, etaSeconds, finished, error});
    const items = this.store.annotation.items(project.id);
    const todo = items.flatMap((item) => {
      const have = new Set(this.store.annotation.candidates(item.id).map((c) => c.index));
      return Array.from({length: project.k}, (_, index) => index).filter((i) => !have.has(i)).map((index) => ({item, index}));
    });
    let done = 0;
    let tokens = 0;
    const started = performance.now();
    let firstDone = started;
    try {
      const model = this.store.models.get(settings.modelId);
      if (!model || model.missing) throw new AppError('model_missing', {zh: '生成候选答案所用的模型不存在。', en: 'The model for generating candidates is gone.'});
      const adapters = settings.adapterIds.map((a) => this.store.models.get(a)).filter((m) => m !== null);
      emit(0, todo.length, 0, null, false, null);
      for (const {item, index} of todo) {
        if (signal.aborted) break;
        const temperature = settings.temperatures[index % settings.temperatures.length]!;
        const seed = (settings.seed + item.position * 101 + index * 7919) % 2 ** 31;
        const result = await this.engine.generate(
          {
            modelPath: model.path,
            gpuLayers: model.gpuLayers,
            adapters: adapters.map((a) => ({path: a.path, scale: 1})),
            systemPrompt: DEFAULT_SYSTEM_PROMPT.zh,
            turns: [...item.history.map((t) => ({role: t.role as 'user' | 'assistant', content: t.content})), {role: 'user', content: item.question}],
            sampling: {...DEFAULT_SAMPLING, temperature, seed, maxTokens: settings.maxTokens},
          },
          {signal},
        );
        if (signal.aborted) break;
        const earlier = this.store.annotation.candidates(item.id);
        const twin = earlier.find((c) => similarity(c.text, result.text) >= NEAR_DUPLICATE);
        this.store.annotation.addCandidate(item.id, {index, text: result.text, origin: {type: 'model', modelId: model.id, seed, temperature}, nearDuplicateOf: twin?.index ?? null});
        done++;
        tokens += result.completionTokens;
        const now = performance.now();
        const seconds = (now - started) / 1000;
        // time left from the candidates after the first: the first also loads the model, which
        // made the estimate swing from seconds to minutes; until a second one, none is given
        if (done === 1) firstDone = now;
        const eta = done >= 2 ? ((todo.length - done) * (now - firstDone) / 1000) / (done - 1) : null;
        emit(done, todo.length, seconds > 0 ? tokens / seconds : 0, eta, false, null);
      }
      emit(done, todo.length, tokens / Math.max(1e-9, (performance.now() - started) / 1000), 0, true, null);
    } catch (error) {
      emit(done, todo.length, 0, null, true, toAppError(error).localised);
    }
    this.bus.emit({type: 'annotation.changed', projectId: project.id});
  }

  // ───── ranking ─────

  item(input: MethodInput<'annotation.item'>): ItemView | null {
    const project = this.summary(input.projectId);
    this.annotator(input.annotatorId);
    const items = this.store.annotation.items(project.id);
    const counts = this.store.annotation.candidateCounts(project.id);
    const ready = items.filter((i) => (counts.get(i.id) ?? 0) >= project.k);
    const rankings = this.store.annotation.projectRankings(project.id).filter((r) => r.kind === 'ranking');
    const mineIds = new Set(rankings.filter((r) => r.annotatorId === input.annotatorId).map((r) => r.itemId));
    const rankedBy = (itemId: string) => rankings.filter((r) => r.itemId === itemId).length;
    let chosen: ItemRecord | undefined;
    if (input.direction === 'exact') {
      chosen = ready.find((i) => i.position === input.position);
      if (!chosen) throw notFound(ITEM, String(input.position));
    } else {
      const from = input.position ?? 0;
      const open = ready.filter((i) => i.position >= from && !mineIds.has(i.id));
      // items still short of their annotators first, so every item reaches the minimum
      chosen = open.find((i) => rankedBy(i.id) < project.minAnnotators) ?? open[0];
    }
    if (!chosen) return null;
    const mine = this.store.annotation.ranking(chosen.id, input.annotatorId, 'ranking');
    const draft = this.store.annotation.draft(chosen.id, input.annotatorId);
    return {
      id: chosen.id,
      projectId: project.id,
      position: chosen.position,
      history: chosen.history,
      question: chosen.question,
      department: chosen.department,
      candidates: shuffledFor(this.store.annotation.candidates(chosen.id), `${input.annotatorId}:${chosen.id}`),
      mine: mine ? {ranking: mine.ranking, marks: mine.marks, comment: mine.comment, allWrong: mine.allWrong, correction: mine.correction, savedAt: mine.savedAt, canUndo: true} : null,
      draft: draft && (!mine || draft.savedAt > mine.savedAt) ? draft : null,
      progress: {done: ready.filter((i) => mineIds.has(i.id)).length, total: ready.length},
    };
  }

  private checkRanking(itemId: string, ranking: Ranking, marks: AnswerMarks[]): {item: ItemRecord; k: number} {
    const item = this.store.annotation.item(itemId);
    if (!item) throw notFound(ITEM, itemId);
    const k = this.store.annotation.candidates(itemId).length;
    const problem = rankingProblem(ranking, k);
    if (problem) throw new AppError('validation', {zh: `排序无效：${problem.zh}`, en: `Invalid ranking: ${problem.en}`});
    if (marks.length > k) throw new AppError('validation', {zh: '评分多于候选答案数。', en: 'More marks than candidates.'});
    return {item, k};
  }

  save(input: MethodInput<'annotation.save'>): {savedAt: string} {
    this.annotator(input.annotatorId);
    const {item} = this.checkRanking(input.itemId, input.ranking, input.marks as AnswerMarks[]);
    if (input.basedOn !== undefined) {
      const stored = this.store.annotation.ranking(input.itemId, input.annotatorId, 'ranking')?.savedAt ?? null;
      if (stored !== input.basedOn) {
        const at = stored ? new Date(stored) : null;
        const time = at ? at.toLocaleTimeString('zh-CN', {hour12: false}) : '';
        throw new AppError('conflict', {
          zh: `第 ${item.position + 1} 条已在另一个窗口中保存过${time ? `（${time}）` : ''}，与此处开始时不同。此处的排序尚未保存；再按一次保存将以此处的排序替换它，或在另一个窗口中继续。`,
          en: `Item ${item.position + 1} was saved from another window${at ? ` (${at.toLocaleTimeString('en-GB')})` : ''} since this one opened it. The ranking here is not saved yet; save again to replace that one with this, or go on in the other window.`,
        }, {savedAt: stored});
      }
    }
    const savedAt = this.store.annotation.saveRanking({
      itemId: input.itemId,
      annotatorId: input.annotatorId,
      kind: 'ranking',
      ranking: input.ranking,
      marks: input.marks as AnswerMarks[],
      comment: input.comment ?? '',
      allWrong: input.allWrong ?? false,
      correction: input.allWrong ? (input.correction?.trim() || ALL_WRONG_CORRECTION.zh) : null,
    });
    this.bus.emit({type: 'annotation.changed', projectId: item.projectId});
    return {savedAt};
  }

  /** Keeps unsaved work on an item; checked like a ranking, but never part of any result. */
  saveDraft(input: MethodInput<'annotation.saveDraft'>): {savedAt: string} {
    this.annotator(input.annotatorId);
    this.checkRanking(input.itemId, input.ranking, input.marks as AnswerMarks[]);
    const savedAt = this.store.annotation.saveDraft(input.itemId, input.annotatorId, {
      ranking: input.ranking,
      marks: input.marks as AnswerMarks[],
      comment: input.comment ?? '',
      allWrong: input.allWrong ?? false,
      correction: input.correction ?? null,
    });
    return {savedAt};
  }

  discardDraft(itemId: string, annotatorId: string): {discarded: boolean} {
    return {discarded: this.store.annotation.discardDraft(itemId, annotatorId)};
  }

  undo(itemId: string, annotatorId: string): {restored: boolean} {
    const item = this.store.annotation.item(itemId);
    if (!item) throw notFound(ITEM, itemId);
    const restored = this.store.annotation.undo(itemId, annotatorId);
    this.bus.emit({type: 'annotation.changed', projectId: item.projectId});
    return {restored};
  }

  adjudicate(input: MethodInput<'annotation.adjudicate'>): {savedAt: string} {
    const expert = this.annotator(input.expertId);
    if (expert.role !== 'expert')
      throw new AppError('validation', {zh: '只有仲裁专家可以裁定分歧。', en: 'Only an adjudicating expert can settle a disagreement.'});
    const {item} = this.checkRanking(input.itemId, input.ranking, input.marks as AnswerMarks[]);
    const savedAt = this.store.annotation.saveRanking({
      itemId: input.itemId,
      annotatorId: input.expertId,
      kind: 'adjudication',
      ranking: input.ranking,
      marks: input.marks as AnswerMarks[],
      comment: input.comment ?? '',
      allWrong: input.allWrong ?? false,
      correction: input.allWrong ? (input.correction?.trim() || ALL_WRONG_CORRECTION.zh) : null,
    });
    this.bus.emit({type: 'annotation.changed', projectId: item.projectId});
    return {savedAt};
  }

  /** Final decisions per item. A single ranking is final only in a project that asks for one
   * annotator; otherwise the item waits for the others (the paper's cross-annotation). */
  private decisions(projectId: string, items = this.store.annotation.items(projectId)): Map<string, FinalDecision> {
    const all = this.store.annotation.projectRankings(projectId);
    const minAnnotators = this.store.annotation.project(projectId)?.minAnnotators ?? 1;
    return new Map(
      items.map((item) => {
        const decision = resolveFinal(all.filter((r) => r.itemId === item.id).map(asItemAnnotation));
        const waiting = decision.status === 'final' && decision.method === 'single' && minAnnotators > 1;
        return [item.id, waiting ? {status: 'unannotated'} : decision];
      }),
    );
  }

  /** The project's final rankings as the reward model and DPO learn them (no file in between):
   * one record per item with a final decision; an "all answers are wrong" item puts the expert's
   * correction first, above every candidate. `dimensions` holds, per candidate, the mean summed
   * marks of safety, professionalism and fluency over the annotators who marked that dimension. */
  finalPreferences(projectId: string): {records: PreferenceRecord[]; source: Extract<TrainingSource, {type: 'annotation'}>} {
    const project = this.summary(projectId);
    const items = this.store.annotation.items(project.id);
    const decisions = this.decisions(project.id, items);
    const names = new Map(this.store.annotation.annotators().map((a) => [a.id, a.name]));
    const people = new Set<string>();
    let adjudicated = 0;
    const records: PreferenceRecord[] = [];
    for (const item of items) {
      const d = decisions.get(item.id);
      if (d?.status !== 'final') continue;
      if (d.method === 'adjudicated') adjudicated++;
      const annotations = this.store.annotation.rankings(item.id);
      for (const a of annotations) people.add(names.get(a.annotatorId) ?? a.annotatorId);
      const candidates = this.store.annotation.candidates(item.id);
      const texts: string[] = [];
      for (const c of candidates) texts[c.index] = c.text;
      const dimensions = texts.map((_, index) => {
        const sums = DIMENSIONS.map((dim) => {
          const marked = annotations.flatMap((a) => {
            const m = a.marks?.[index];
            const values = m ? dim.abilities.map((ability) => m[ability]) : [];
            return values.length && values.every((v) => v !== undefined) ? [values.reduce((s: number, v) => s + v!, 0)] : [];
          });
          return marked.length ? marked.reduce((s, v) => s + v, 0) / marked.length : null;
        });
        return sums.every((s) => s !== null) ? (sums as number[]) : null;
      });
      let tiers = d.ranking.map((tier) => [...tier]);
      if (d.allWrong && d.correction?.trim()) {
        texts.push(d.correction);
        dimensions.push(null);
        tiers = [[texts.length - 1], ...tiers];
      }
      if (tiers.flat().length < 2 || tiers.length < 2) continue;
      records.push({
        turns: [...item.history.map((t) => ({role: t.role, content: t.content})), {role: 'user', content: item.question}],
        candidates: texts,
        tiers,
        ...(dimensions.some((x) => x !== null) ? {dimensions} : {}),
        source: `${project.name}#${item.position}`,
      });
    }
    return {records, source: {type: 'annotation', projectId: project.id, name: project.name, rankings: records.length, annotators: [...people].sort(), adjudicated}};
  }

  disagreements(projectId: string): DisagreementView[] {
    this.summary(projectId);
    const items = this.store.annotation.items(projectId);
    const names = new Map(this.store.annotation.annotators().map((a) => [a.id, a.name]));
    const views: DisagreementView[] = [];
    for (const [itemId, decision] of this.decisions(projectId, items)) {
      if (decision.status !== 'needs-adjudication') continue;
      const item = items.find((i) => i.id === itemId)!;
      const rankings = this.store.annotation.rankings(itemId).filter((r) => r.kind === 'ranking');
      views.push({
        item: {id: item.id, projectId, position: item.position, history: item.history, question: item.question, department: item.department, candidates: this.store.annotation.candidates(item.id)},
        rankings: rankings.map((r) => ({annotatorId: r.annotatorId, annotatorName: names.get(r.annotatorId) ?? r.annotatorId, ranking: r.ranking, marks: r.marks, allWrong: r.allWrong, correction: r.correction, comment: r.comment})),
        conflicts: decision.conflicts,
      });
    }
    return views;
  }

  // ───── dashboard ─────

  dashboard(projectId: string): AnnotationDashboard {
    this.summary(projectId);
    const items = this.store.annotation.items(projectId);
    const rankings = this.store.annotation.projectRankings(projectId).filter((r) => r.kind === 'ranking');
    const decisions = this.decisions(projectId, items);
    const annotatorIds = [...new Set(rankings.map((r) => r.annotatorId))];
    const stats = (subset: ItemRecord[], rankingOf: (r: (typeof rankings)[number]) => Ranking | null): AgreementStats => {
      const taus: number[] = [];
      const table: (Ranking | null)[][] = [];
      let multi = 0;
      let disagreeing = 0;
      for (const item of subset) {
        const perAnnotator = annotatorIds.map((a) => {
          const r = rankings.find((x) => x.itemId === item.id && x.annotatorId === a);
          return r ? rankingOf(r) : null;
        });
        const present = perAnnotator.filter((r): r is Ranking => r !== null);
        if (present.length >= 2) {
          multi++;
          for (let i = 0; i < present.length; i++) for (let j = i + 1; j < present.length; j++) taus.push(kendallTauB(present[i]!, present[j]!));
          const status = resolveFinal(rankings.filter((r) => r.itemId === item.id).map(asItemAnnotation)).status;
          if (status === 'needs-adjudication') disagreeing++;
        }
        table.push(perAnnotator);
      }
      return {
        items: subset.length,
        final: subset.filter((i) => decisions.get(i.id)?.status === 'final').length,
        rankedByTwoOrMore: multi,
        disagreementRate: multi ? disagreeing / multi : null,
        meanKendallTau: taus.length ? taus.reduce((a, b) => a + b, 0) / taus.length : null,
        krippendorffAlpha: krippendorffAlphaOrdinal(alphaUnitsFromRankings(table)),
      };
    };
    const counts = this.store.annotation.candidateCounts(projectId);
    const k = (itemId: string) => counts.get(itemId) ?? 0;
    const departments = [...new Set(items.map((i) => i.department ?? '—'))];
    return {
      overall: stats(items, (r) => r.ranking),
      byDimension: DIMENSIONS.map((dimension) => ({
        dimension: dimension.id,
        // the ranking that this dimension's marks alone imply
        ...stats(items, (r) => {
          // sums of this dimension's marks per answer; an answer not fully marked gives no ranking
          const scores = Array.from({length: k(r.itemId)}, (_, c) => dimension.abilities.map((a) => r.marks[c]?.[a]));
          if (scores.some((marks) => marks.some((m) => m === undefined))) return null;
          return rankingFromScores(scores.map((marks) => marks.reduce((sum: number, m) => sum + m!, 0)));
        }),
      })),
      byDepartment: departments.map((department) => ({department, ...stats(items.filter((i) => (i.department ?? '—') === department), (r) => r.ranking)})),
      perAnnotator: annotatorIds.map((id) => ({annotatorId: id, name: this.store.annotation.annotator(id)?.name ?? id, rankings: rankings.filter((r) => r.annotatorId === id).length})),
    };
  }

  /** Files a browser uploaded: written into a private folder under the data directory with their
   * base names (the reader tells RLHF-Label-Tool's TSV by its extension), read by the one
   * annotation reader, then removed. */
  async importUploads(files: {fileName: string; content: string}[]): Promise<MethodOutput<'annotation.import'>> {
    const dir = join(this.paths.root, 'tmp', `upload-${newId()}`);
    await mkdir(dir, {recursive: true, mode: 0o700});
    try {
      const paths: string[] = [];
      for (const [i, file] of files.entries()) {
        // only a plain base name (no folder, no NUL, nothing hidden), kept as it was: warnings and
        // the imported project are named after it; a second file of the same name gets a number
        const name = basename(file.fileName.replace(/\\/g, '/')).replace(/[\0<>:"|?*]/g, '_').replace(/^\.+/, '') || `upload-${i}`;
        const path = join(dir, paths.some((p) => basename(p) === name) ? `${i}-${name}` : name);
        await writeFile(path, file.content, {flag: 'wx'});
        paths.push(path);
      }
      return await this.importFiles(paths, unconfined); // our own temporary files
    } finally {
      await rm(dir, {recursive: true, force: true});
    }
  }

  async importFiles(paths: string[], policy: PathPolicy): Promise<MethodOutput<'annotation.import'>> {
    const checked = await Promise.all(paths.map((p) => readablePath(policy, p)));
    const result = await importAnnotationFiles(this.store, checked);
    for (const projectId of new Set([...result.projectIds, ...this.store.annotation.projectIds()])) this.bus.emit({type: 'annotation.changed', projectId});
    return result;
  }

  // ───── export ─────

  async export(input: MethodInput<'annotation.export'>, policy: PathPolicy): Promise<MethodOutput<'annotation.export'>> {
    const project = this.summary(input.projectId);
    const items = this.store.annotation.items(project.id);
    const decisions = this.decisions(project.id, items);
    const rankItem = (item: ItemRecord) => ({history: item.history, question: item.question, candidates: this.store.annotation.candidates(item.id).map((c) => c.text), source: project.name, sourceId: String(item.position)});
    const resolved: ResolvedItem[] = items.flatMap((item) => {
      const d = decisions.get(item.id);
      return d?.status === 'final' ? [{item: rankItem(item), ranking: d.ranking, allWrong: d.allWrong, correction: d.correction}] : [];
    });
    const extension = input.format === 'package' ? 'json' : 'jsonl';
    // a named file goes through the path policy; the default name carries the time, so an export
    // never replaces an earlier one (the rankings change between exports)
    const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
    const path = await writableFile(
      input.outPath !== undefined ? policy : unconfined,
      input.outPath ?? join(this.paths.root, 'exports', `${project.name.replace(/[\\/:*?"<>|\s]+/g, '_')}-${input.format}-${stamp}.${extension}`),
      {overwrite: input.overwrite ?? false},
    );
    const annotationsOf = (item: ItemRecord) => this.store.annotation.rankings(item.id).map(asItemAnnotation);
    let records: number;
    if (input.format === 'pairs-llamafactory') records = await exportPreferencePairs(path, resolved, 'llamafactory-sharegpt');
    else if (input.format === 'pairs-trl') records = await exportPreferencePairs(path, resolved, 'trl');
    else if (input.format === 'corrections') records = await exportSftCorrections(path, resolved);
    else if (input.format === 'ranking') records = await exportRankings(path, items.map((item) => rankingRecord(rankItem(item), annotationsOf(item), decisions.get(item.id)!)));
    else {
      const annotators = this.store.annotation.annotators().map((a) => ({id: a.id, name: a.name}));
      await writePackage(path, createPackage(items.map((item) => ({item: rankItem(item), annotations: annotationsOf(item)})), annotators));
      records = items.length;
    }
    return {path, records};
  }
}
