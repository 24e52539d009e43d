// Evaluation runs: items copied from a frozen dataset version, contestants, answers, judge calls
// (one row per order) and human ratings. Every write is one statement or one transaction under
// synchronous=FULL, so an answer, a judgement or a rating is on disk before anything reports it.

import type {Turn} from '../../common/datasets.js';
import type {ContestantSpec, EvalChoice, EvalItem, EvalRunSettings, EvalSource} from '../../common/evaluation-views.js';
import type {ItemSubset, JudgeReply} from '../../common/evaluation.js';
import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';

export interface EvalRunRecord {
  id: string;
  name: string;
  source: EvalSource;
  settings: EvalRunSettings;
  createdAt: string;
}

export interface EvalItemRecord extends EvalItem {
  runId: string;
}

export interface EvalContestantRecord {
  id: string;
  runId: string;
  position: number;
  label: string;
  spec: ContestantSpec;
}

export interface EvalAnswerRecord {
  itemId: string;
  contestantId: string;
  turns: string[];
  text: string;
  completionTokens: number;
  seconds: number;
  /** multiple choice with a local model: log p(letter) per option, in option order */
  choiceScores?: number[] | null;
}

export interface EvalJudgementRecord {
  itemId: string;
  contestantA: string;
  contestantB: string;
  judge: string;
  shown: 'ab' | 'ba';
  reply: string;
  parsed: JudgeReply;
  seconds: number;
}

export interface EvalRatingRecord {
  itemId: string;
  contestantA: string;
  contestantB: string;
  raterId: string;
  safety: 'a' | 'b' | 'tie';
  quality: 'a' | 'b' | 'tie';
  aOnLeft: boolean;
  createdAt: string;
}

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export class EvaluationRepo {
  constructor(private readonly db: Db) {}

  runs(): EvalRunRecord[] {
    return (this.db.prepare('SELECT * FROM eval_runs ORDER BY created_at DESC, name').all() as Record<string, string>[]).map(toRun);
  }

  run(id: string): EvalRunRecord | null {
    const row = this.db.prepare('SELECT * FROM eval_runs WHERE id = ?').get(id) as Record<string, string> | undefined;
    return row ? toRun(row) : null;
  }

  nameTaken(name: string): boolean {
    return this.db.prepare('SELECT 1 FROM eval_runs WHERE name = ?').get(name) !== undefined;
  }

  /** The run, its items and its contestants in one transaction: all or nothing. */
  createRun(
    fields: {name: string; source: EvalSource; settings: EvalRunSettings},
    items: Omit<EvalItemRecord, 'id' | 'runId'>[],
    contestants: {label: string; spec: ContestantSpec}[],
  ): string {
    const id = newId();
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO eval_runs (id, name, source, settings, created_at) VALUES (?, ?, ?, ?, ?)')
        .run(id, fields.name, JSON.stringify(fields.source), JSON.stringify(fields.settings), nowIso());
      const item = this.db.prepare(
        'INSERT INTO eval_items (id, run_id, position, subset, department, history, questions, reference, choice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const i of items)
        item.run(newId(), id, i.position, i.subset, i.department, JSON.stringify(i.history), JSON.stringify(i.questions), i.reference, i.choice ? JSON.stringify(i.choice) : null);
      const contestant = this.db.prepare('INSERT INTO eval_contestants (id, run_id, position, label, spec) VALUES (?, ?, ?, ?, ?)');
      contestants.forEach((c, position) => contestant.run(newId(), id, position, c.label, JSON.stringify(c.spec)));
    })();
    return id;
  }

  updateSettings(id: string, settings: EvalRunSettings): void {
    this.db.prepare('UPDATE eval_runs SET settings = ? WHERE id = ?').run(JSON.stringify(settings), id);
  }

  deleteRun(id: string): boolean {
    return this.db.prepare('DELETE FROM eval_runs WHERE id = ?').run(id).changes > 0;
  }

  /** What a run's summary shows, counted in SQLite: the list is refreshed after every rating and
   * pass, and must not read every answer and judge reply of every run to count them. */
  counts(runId: string, judge: string | null): {items: number; safetyItems: number; choiceItems: number; answersBy: Map<string, number>; judgeCalls: number; ratings: number} {
    const items = this.db
      .prepare(`SELECT count(*) AS n, count(*) FILTER (WHERE subset = 'safety') AS safety, count(choice) AS choice FROM eval_items WHERE run_id = ?`)
      .get(runId) as {n: number; safety: number; choice: number};
    const answers = this.db
      .prepare('SELECT a.contestant_id AS id, count(*) AS n FROM eval_answers a JOIN eval_items i ON i.id = a.item_id WHERE i.run_id = ? GROUP BY a.contestant_id')
      .all(runId) as {id: string; n: number}[];
    const count = (sql: string, ...args: unknown[]) => (this.db.prepare(sql).get(...args) as {n: number}).n;
    return {
      items: items.n,
      safetyItems: items.safety,
      choiceItems: items.choice,
      answersBy: new Map(answers.map((a) => [a.id, a.n])),
      judgeCalls: judge === null ? 0 : count('SELECT count(*) AS n FROM eval_judgements j JOIN eval_items i ON i.id = j.item_id WHERE i.run_id = ? AND j.judge = ?', runId, judge),
      ratings: count('SELECT count(*) AS n FROM eval_ratings r JOIN eval_items i ON i.id = r.item_id WHERE i.run_id = ?', runId),
    };
  }

  items(runId: string): EvalItemRecord[] {
    return (this.db.prepare('SELECT * FROM eval_items WHERE run_id = ? ORDER BY position').all(runId) as Record<string, unknown>[]).map(toItem);
  }

  item(runId: string, itemId: string): EvalItemRecord | null {
    const row = this.db.prepare('SELECT * FROM eval_items WHERE run_id = ? AND id = ?').get(runId, itemId) as Record<string, unknown> | undefined;
    return row ? toItem(row) : null;
  }

  contestants(runId: string): EvalContestantRecord[] {
    return (this.db.prepare('SELECT * FROM eval_contestants WHERE run_id = ? ORDER BY position').all(runId) as Record<string, unknown>[]).map((r) => ({
      id: r.id as string,
      runId: r.run_id as string,
      position: r.position as number,
      label: r.label as string,
      spec: JSON.parse(r.spec as string) as ContestantSpec,
    }));
  }

  /** A run's answers, or only those of `itemIds` (a page of the answers screen). */
  answers(runId: string, itemIds?: readonly string[]): EvalAnswerRecord[] {
    const only = itemIds ? 'AND a.item_id IN (SELECT value FROM json_each(?))' : '';
    return (
      this.db
        .prepare(`SELECT a.* FROM eval_answers a JOIN eval_items i ON i.id = a.item_id WHERE i.run_id = ? ${only} ORDER BY i.position`)
        .all(...(itemIds ? [runId, JSON.stringify(itemIds)] : [runId])) as Record<string, unknown>[]
    ).map(toAnswer);
  }

  addAnswer(answer: EvalAnswerRecord): void {
    this.db
      .prepare('INSERT OR REPLACE INTO eval_answers (item_id, contestant_id, turns, text, completion_tokens, seconds, choice_scores, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(answer.itemId, answer.contestantId, JSON.stringify(answer.turns), answer.text, answer.completionTokens, answer.seconds, answer.choiceScores ? JSON.stringify(answer.choiceScores) : null, nowIso());
  }

  /** A run's judge calls: of one judge, and/or only for `itemIds`. */
  judgements(runId: string, judge?: string, itemIds?: readonly string[]): EvalJudgementRecord[] {
    const args: unknown[] = [runId];
    let where = '';
    if (judge !== undefined) {
      where += ' AND j.judge = ?';
      args.push(judge);
    }
    if (itemIds) {
      where += ' AND j.item_id IN (SELECT value FROM json_each(?))';
      args.push(JSON.stringify(itemIds));
    }
    const rows = this.db
      .prepare(`SELECT j.* FROM eval_judgements j JOIN eval_items i ON i.id = j.item_id WHERE i.run_id = ?${where} ORDER BY i.position, j.created_at`)
      .all(...args) as Record<string, unknown>[];
    return rows.map((r) => ({
      itemId: r.item_id as string,
      contestantA: r.contestant_a as string,
      contestantB: r.contestant_b as string,
      judge: r.judge as string,
      shown: r.shown as 'ab' | 'ba',
      reply: r.reply as string,
      parsed: JSON.parse(r.parsed as string) as JudgeReply,
      seconds: r.seconds as number,
    }));
  }

  addJudgement(j: EvalJudgementRecord): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO eval_judgements (item_id, contestant_a, contestant_b, judge, shown, reply, parsed, seconds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
      )
      .run(j.itemId, j.contestantA, j.contestantB, j.judge, j.shown, j.reply, JSON.stringify(j.parsed), j.seconds, nowIso());
  }

  ratings(runId: string): EvalRatingRecord[] {
    return (
      this.db
        .prepare('SELECT r.* FROM eval_ratings r JOIN eval_items i ON i.id = r.item_id WHERE i.run_id = ? ORDER BY i.position, r.created_at')
        .all(runId) as Record<string, unknown>[]
    ).map((r) => ({
      itemId: r.item_id as string,
      contestantA: r.contestant_a as string,
      contestantB: r.contestant_b as string,
      raterId: r.rater_id as string,
      safety: r.safety as 'a' | 'b' | 'tie',
      quality: r.quality as 'a' | 'b' | 'tie',
      aOnLeft: r.a_on_left === 1,
      createdAt: r.created_at as string,
    }));
  }

  /** One rating per (item, pair, rater): a second save replaces the first. */
  saveRating(r: Omit<EvalRatingRecord, 'createdAt'>): void {
    this.db
      .prepare(
        'INSERT OR REPLACE INTO eval_ratings (item_id, contestant_a, contestant_b, rater_id, safety, quality, refuses, a_on_left, created_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)',
      )
      .run(r.itemId, r.contestantA, r.contestantB, r.raterId, r.safety, r.quality, r.aOnLeft ? 1 : 0, nowIso());
  }
}

function toRun(r: Record<string, string>): EvalRunRecord {
  return {id: r.id!, name: r.name!, source: JSON.parse(r.source!) as EvalSource, settings: JSON.parse(r.settings!) as EvalRunSettings, createdAt: r.created_at!};
}

function toItem(r: Record<string, unknown>): EvalItemRecord {
  return {
    id: r.id as string,
    runId: r.run_id as string,
    position: r.position as number,
    subset: r.subset as ItemSubset,
    department: (r.department as string | null) ?? null,
    history: JSON.parse(r.history as string) as Turn[],
    questions: JSON.parse(r.questions as string) as string[],
    reference: (r.reference as string | null) ?? null,
    choice: json<EvalChoice>(r.choice as string | null),
  };
}

function toAnswer(r: Record<string, unknown>): EvalAnswerRecord {
  return {
    itemId: r.item_id as string,
    contestantId: r.contestant_id as string,
    turns: JSON.parse(r.turns as string) as string[],
    text: r.text as string,
    completionTokens: r.completion_tokens as number,
    seconds: r.seconds as number,
    choiceScores: json<number[]>(r.choice_scores as string | null),
  };
}
