// Annotators, annotation projects, items with their K candidates, and rankings.

import type {AnswerMarks, ItemAnnotation, Ranking} from '../../common/annotation.js';
import type {AnnotationProjectSummary, Annotator, Candidate, GenerationSettings} from '../../common/annotation-views.js';
import type {Turn} from '../../common/datasets.js';
import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';

export interface ItemRecord {
  id: string;
  projectId: string;
  position: number;
  history: Turn[];
  question: string;
  department: string | null;
  /** the answer the source dataset had for this turn (kept for reference, not ranked) */
  reference: string | null;
}

export interface RankingRecord {
  itemId: string;
  annotatorId: string;
  kind: 'ranking' | 'adjudication';
  ranking: Ranking;
  marks: AnswerMarks[];
  comment: string;
  allWrong: boolean;
  correction: string | null;
  savedAt: string;
  previous: string | null;
}

/** What a draft holds: the ranking screen's state, not yet a judgement. */
export interface RankingDraftRecord {
  ranking: Ranking;
  marks: AnswerMarks[];
  comment: string;
  allWrong: boolean;
  correction: string | null;
}

interface ProjectRow {
  id: string;
  name: string;
  k: number;
  min_annotators: number;
  source: string;
  generation: string | null;
  created_at: string;
}

interface ItemRow {
  id: string;
  project_id: string;
  position: number;
  history: string;
  question: string;
  department: string | null;
  reference: string | null;
}

const toItem = (r: ItemRow): ItemRecord => ({
  id: r.id,
  projectId: r.project_id,
  position: r.position,
  history: JSON.parse(r.history) as Turn[],
  question: r.question,
  department: r.department,
  reference: r.reference,
});

type RankingRow = {
  item_id: string;
  annotator_id: string;
  kind: 'ranking' | 'adjudication';
  ranking: string;
  marks: string;
  comment: string;
  all_wrong: number;
  correction: string | null;
  saved_at: string;
  previous: string | null;
};

function toRanking(r: RankingRow): RankingRecord {
  return {
    itemId: r.item_id,
    annotatorId: r.annotator_id,
    kind: r.kind,
    ranking: JSON.parse(r.ranking) as Ranking,
    marks: JSON.parse(r.marks) as AnswerMarks[],
    comment: r.comment,
    allWrong: r.all_wrong === 1,
    correction: r.correction,
    savedAt: r.saved_at,
    previous: r.previous,
  };
}

export class AnnotationRepo {
  constructor(private readonly db: Db) {}

  // ───── annotators ─────

  annotators(): Annotator[] {
    return (this.db.prepare('SELECT id, name, role, created_at AS createdAt FROM annotators ORDER BY created_at').all() as Annotator[]);
  }

  annotator(id: string): Annotator | null {
    return (this.db.prepare('SELECT id, name, role, created_at AS createdAt FROM annotators WHERE id = ?').get(id) as Annotator | undefined) ?? null;
  }

  createAnnotator(name: string, role: Annotator['role']): Annotator {
    const id = newId();
    this.db.prepare('INSERT INTO annotators (id, name, role, created_at) VALUES (?, ?, ?, ?)').run(id, name, role, nowIso());
    return this.annotator(id)!;
  }

  annotatorByName(name: string): Annotator | null {
    return (this.db.prepare('SELECT id, name, role, created_at AS createdAt FROM annotators WHERE name = ?').get(name) as Annotator | undefined) ?? null;
  }

  // ───── projects ─────

  projectNameTaken(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM annotation_projects WHERE name = ?').get(name) !== undefined;
  }

  createProject(fields: {name: string; k: number; minAnnotators: number; source: AnnotationProjectSummary['source']; generation: GenerationSettings | null}): string {
    const id = newId();
    this.db
      .prepare('INSERT INTO annotation_projects (id, name, k, min_annotators, source, generation, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(id, fields.name, fields.k, fields.minAnnotators, JSON.stringify(fields.source), fields.generation ? JSON.stringify(fields.generation) : null, nowIso());
    return id;
  }

  deleteProject(id: string): boolean {
    return this.db.prepare('DELETE FROM annotation_projects WHERE id = ?').run(id).changes > 0;
  }

  project(id: string): Omit<AnnotationProjectSummary, 'items' | 'ready' | 'final' | 'disagreements' | 'rankings'> | null {
    const row = this.db.prepare('SELECT * FROM annotation_projects WHERE id = ?').get(id) as ProjectRow | undefined;
    if (!row) return null;
    return {
      id: row.id,
      name: row.name,
      k: row.k,
      minAnnotators: row.min_annotators,
      source: JSON.parse(row.source) as AnnotationProjectSummary['source'],
      generation: row.generation ? (JSON.parse(row.generation) as GenerationSettings) : null,
      createdAt: row.created_at,
    };
  }

  projectIds(): string[] {
    return (this.db.prepare('SELECT id FROM annotation_projects ORDER BY created_at DESC').all() as {id: string}[]).map((r) => r.id);
  }

  // ───── items and candidates ─────

  /** Inserts items in one transaction and returns their new ids, in order. */
  insertItems(projectId: string, items: Omit<ItemRecord, 'id' | 'projectId'>[]): string[] {
    const insert = this.db.prepare(
      'INSERT INTO annotation_items (id, project_id, position, history, question, department, reference) VALUES (?, ?, ?, ?, ?, ?, ?)',
    );
    return this.db.transaction(() =>
      items.map((item) => {
        const id = newId();
        insert.run(id, projectId, item.position, JSON.stringify(item.history), item.question, item.department, item.reference);
        return id;
      }),
    )();
  }

  items(projectId: string): ItemRecord[] {
    return (this.db.prepare('SELECT * FROM annotation_items WHERE project_id = ? ORDER BY position').all(projectId) as ItemRow[]).map(toItem);
  }

  /** One item by id (the save path: no reading of the whole project). */
  item(id: string): ItemRecord | null {
    const row = this.db.prepare('SELECT * FROM annotation_items WHERE id = ?').get(id) as ItemRow | undefined;
    return row ? toItem(row) : null;
  }

  candidates(itemId: string): Candidate[] {
    return (
      this.db.prepare('SELECT idx, text, origin, near_duplicate_of FROM annotation_candidates WHERE item_id = ? ORDER BY idx').all(itemId) as {
        idx: number;
        text: string;
        origin: string;
        near_duplicate_of: number | null;
      }[]
    ).map((r) => ({index: r.idx, text: r.text, origin: JSON.parse(r.origin) as Candidate['origin'], nearDuplicateOf: r.near_duplicate_of}));
  }

  candidateCounts(projectId: string): Map<string, number> {
    const rows = this.db
      .prepare('SELECT i.id, count(c.idx) AS n FROM annotation_items i LEFT JOIN annotation_candidates c ON c.item_id = i.id WHERE i.project_id = ? GROUP BY i.id')
      .all(projectId) as {id: string; n: number}[];
    return new Map(rows.map((r) => [r.id, r.n]));
  }

  addCandidate(itemId: string, candidate: Candidate): void {
    this.db
      .prepare('INSERT OR REPLACE INTO annotation_candidates (item_id, idx, text, origin, near_duplicate_of) VALUES (?, ?, ?, ?, ?)')
      .run(itemId, candidate.index, candidate.text, JSON.stringify(candidate.origin), candidate.nearDuplicateOf);
  }

  // ───── rankings ─────

  rankings(itemId: string): RankingRecord[] {
    return (this.db.prepare('SELECT * FROM annotation_rankings WHERE item_id = ? ORDER BY saved_at').all(itemId) as RankingRow[]).map(toRanking);
  }

  projectRankings(projectId: string): RankingRecord[] {
    return (
      this.db
        .prepare('SELECT r.* FROM annotation_rankings r JOIN annotation_items i ON i.id = r.item_id WHERE i.project_id = ? ORDER BY i.position, r.saved_at')
        .all(projectId) as RankingRow[]
    ).map(toRanking);
  }

  ranking(itemId: string, annotatorId: string, kind: 'ranking' | 'adjudication'): RankingRecord | null {
    const row = this.db.prepare('SELECT * FROM annotation_rankings WHERE item_id = ? AND annotator_id = ? AND kind = ?').get(itemId, annotatorId, kind) as RankingRow | undefined;
    return row ? toRanking(row) : null;
  }

  /** Upserts, keeping the replaced state in `previous` for one step of undo. One transaction
   * under synchronous=FULL: on disk when this returns. */
  saveRanking(record: Omit<RankingRecord, 'savedAt' | 'previous'>): string {
    const savedAt = nowIso();
    this.db.transaction(() => {
      // the real save supersedes the draft of the same item and annotator
      if (record.kind === 'ranking') this.db.prepare('DELETE FROM annotation_drafts WHERE item_id = ? AND annotator_id = ?').run(record.itemId, record.annotatorId);
      const old = this.ranking(record.itemId, record.annotatorId, record.kind);
      const previous = old ? JSON.stringify({...old, previous: null}) : null;
      this.db
        .prepare(
          `INSERT INTO annotation_rankings (item_id, annotator_id, kind, ranking, marks, comment, all_wrong, correction, saved_at, previous)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (item_id, annotator_id, kind) DO UPDATE SET ranking = excluded.ranking, marks = excluded.marks, comment = excluded.comment,
             all_wrong = excluded.all_wrong, correction = excluded.correction, saved_at = excluded.saved_at, previous = ?`,
        )
        .run(record.itemId, record.annotatorId, record.kind, JSON.stringify(record.ranking), JSON.stringify(record.marks), record.comment, record.allWrong ? 1 : 0, record.correction, savedAt, previous, previous);
    })();
    return savedAt;
  }

  /** Merges a ranking from elsewhere (an import, another workstation): kept only if newer than
   * what this store has for the same item, annotator and kind. */
  mergeRanking(record: Omit<RankingRecord, 'previous'>): boolean {
    const existing = this.ranking(record.itemId, record.annotatorId, record.kind);
    if (existing && existing.savedAt >= record.savedAt) return false;
    this.db
      .prepare(
        `INSERT INTO annotation_rankings (item_id, annotator_id, kind, ranking, marks, comment, all_wrong, correction, saved_at, previous)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL)
         ON CONFLICT (item_id, annotator_id, kind) DO UPDATE SET ranking = excluded.ranking, marks = excluded.marks, comment = excluded.comment,
           all_wrong = excluded.all_wrong, correction = excluded.correction, saved_at = excluded.saved_at, previous = NULL`,
      )
      .run(record.itemId, record.annotatorId, record.kind, JSON.stringify(record.ranking), JSON.stringify(record.marks), record.comment, record.allWrong ? 1 : 0, record.correction, record.savedAt);
    return true;
  }

  /** Unsaved work on an item (durable, like everything a person typed). */
  saveDraft(itemId: string, annotatorId: string, draft: RankingDraftRecord): string {
    const savedAt = nowIso();
    this.db
      .prepare(
        `INSERT INTO annotation_drafts (item_id, annotator_id, draft, saved_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (item_id, annotator_id) DO UPDATE SET draft = excluded.draft, saved_at = excluded.saved_at`,
      )
      .run(itemId, annotatorId, JSON.stringify(draft), savedAt);
    return savedAt;
  }

  draft(itemId: string, annotatorId: string): (RankingDraftRecord & {savedAt: string}) | null {
    const row = this.db.prepare('SELECT draft, saved_at FROM annotation_drafts WHERE item_id = ? AND annotator_id = ?').get(itemId, annotatorId) as {draft: string; saved_at: string} | undefined;
    return row ? {...(JSON.parse(row.draft) as RankingDraftRecord), savedAt: row.saved_at} : null;
  }

  discardDraft(itemId: string, annotatorId: string): boolean {
    return this.db.prepare('DELETE FROM annotation_drafts WHERE item_id = ? AND annotator_id = ?').run(itemId, annotatorId).changes > 0;
  }

  /** Restores the state before the last save (or removes a first save). */
  undo(itemId: string, annotatorId: string): boolean {
    return this.db.transaction(() => {
      const current = this.ranking(itemId, annotatorId, 'ranking');
      if (!current) return false;
      this.db.prepare(`DELETE FROM annotation_rankings WHERE item_id = ? AND annotator_id = ? AND kind = 'ranking'`).run(itemId, annotatorId);
      if (current.previous) {
        const prior = JSON.parse(current.previous) as RankingRecord;
        this.db
          .prepare(
            `INSERT INTO annotation_rankings (item_id, annotator_id, kind, ranking, marks, comment, all_wrong, correction, saved_at, previous) VALUES (?, ?, 'ranking', ?, ?, ?, ?, ?, ?, NULL)`,
          )
          .run(itemId, annotatorId, JSON.stringify(prior.ranking), JSON.stringify(prior.marks), prior.comment, prior.allWrong ? 1 : 0, prior.correction, prior.savedAt);
      }
      return true;
    })();
  }
}

export function asItemAnnotation(r: RankingRecord): ItemAnnotation {
  return {
    annotatorId: r.annotatorId,
    role: r.kind === 'adjudication' ? 'adjudicator' : 'annotator',
    ranking: r.ranking,
    // marks are optional: an absent list means "ranked without marks", never a partial one
    ...(r.marks.length ? {marks: r.marks} : {}),
    allWrong: r.allWrong,
    correction: r.correction,
    annotatedAt: r.savedAt,
  };
}
