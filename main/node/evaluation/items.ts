// What an evaluation run is made of, apart from the store: a dataset row as an item, the pairs of
// contestants, the blind side order a rater sees, and the key a judge's calls are stored under.

import {createHash} from 'node:crypto';
import type {DatasetRow, Turn} from '../../common/datasets.js';
import type {JudgeRef} from '../../common/evaluation-views.js';
import type {EvalAnswerRecord, EvalContestantRecord, EvalItemRecord} from '../store/evaluation-repo.js';

export interface Pair {
  index: number;
  a: EvalContestantRecord;
  b: EvalContestantRecord;
}

/** Every pair (a before b in the run's order), numbered. */
export function pairsOf(contestants: readonly EvalContestantRecord[]): Pair[] {
  const pairs: Pair[] = [];
  for (let i = 0; i < contestants.length; i++) for (let j = i + 1; j < contestants.length; j++) pairs.push({index: pairs.length, a: contestants[i]!, b: contestants[j]!});
  return pairs;
}

export const answerKey = (itemId: string, contestantId: string) => `${itemId}|${contestantId}`;
export const answerIndex = (answers: readonly EvalAnswerRecord[]) => new Map(answers.map((a) => [answerKey(a.itemId, a.contestantId), a]));

export const judgeKeyOf = (judge: JudgeRef): string => (judge.kind === 'remote' ? `remote:${judge.endpointId}` : `local:${judge.modelId}`);

/** Which side the first contestant of a pair is shown on, fixed per (rater, item, pair): stable
 * across visits, balanced over many items, and unguessable from the position alone. */
export function aIsLeft(raterId: string, itemId: string, pairIndex: number): boolean {
  return (createHash('sha256').update(`${raterId}|${itemId}|${pairIndex}`).digest()[0]! & 1) === 0;
}

/** A dataset row as an evaluation item, or null when it has nothing to ask:
 * - a multiple-choice row (CMExam): its question, scored by letters, not judged;
 * - an `askEachTurn` row (CMB-Clin): every patient turn, asked in order;
 * - any other dialogue, safety or preference row: the last patient turn, with what came before it
 *   as the history, as given; the reference is the answer after it (a preference row's chosen). */
export function itemFromRow(row: DatasetRow): Omit<EvalItemRecord, 'id' | 'runId' | 'position'> | null {
  if (row.kind === 'text') return null;
  const subset = row.kind === 'safety' ? 'safety' : 'general';
  const department = row.department ?? null;
  const turns = row.turns;
  if (row.choice) {
    const question = turns.find((t) => t.role === 'user')?.content;
    return question ? {subset, department, history: [], questions: [question], reference: row.choice.answer.join(''), choice: row.choice} : null;
  }
  if (row.askEachTurn) {
    const questions = turns.filter((t) => t.role === 'user').map((t) => t.content);
    const reference = turns.findLast((t) => t.role === 'assistant')?.content ?? null;
    return questions.length ? {subset, department, history: turns.filter((t) => t.role === 'system'), questions, reference, choice: null} : null;
  }
  const ask = turns.findLastIndex((t) => t.role === 'user');
  if (ask < 0) return null;
  const history: Turn[] = turns.slice(0, ask);
  const reference = row.chosen ?? turns.slice(ask + 1).find((t) => t.role === 'assistant')?.content ?? null;
  return {subset, department, history, questions: [turns[ask]!.content], reference, choice: null};
}
