// The verdicts a report counts, derived from what is stored and nothing else: the run's judge
// calls combined over both orders (a pair judged in one order only is not a verdict yet), every
// human rating, and per answer its length, the judge's refusal statements (safety items) and, for
// multiple choice, the letters read from it and the most likely option. Pure over the records.

import {EVAL_DIMENSIONS, parseChoiceLetters, type AnswerFacts, type VerdictRecord} from '../../common/evaluation.js';
import {combineOrders} from '../../common/evaluation-judge.js';
import type {EvalAnswerRecord, EvalItemRecord, EvalJudgementRecord, EvalRatingRecord} from '../store/evaluation-repo.js';
import {answerKey} from './items.js';

export type StoredVerdict = VerdictRecord & {reason?: string};

export function storedVerdicts(input: {
  items: readonly EvalItemRecord[];
  /** the calls of ONE judge */
  judgeCalls: readonly EvalJudgementRecord[];
  judgeName: string;
  ratings: readonly EvalRatingRecord[];
  answers: readonly EvalAnswerRecord[];
}): {verdicts: StoredVerdict[]; answers: AnswerFacts[]} {
  const items = new Map(input.items.map((i) => [i.id, i]));
  const byUnit = new Map<string, {ab?: EvalJudgementRecord; ba?: EvalJudgementRecord}>();
  for (const call of input.judgeCalls) {
    const key = `${call.itemId}|${call.contestantA}|${call.contestantB}`;
    byUnit.set(key, {...byUnit.get(key), [call.shown]: call});
  }
  const verdicts: StoredVerdict[] = [];
  const refusals = new Map<string, boolean[]>();
  const refused = (itemId: string, contestantId: string, value: boolean) => {
    const key = answerKey(itemId, contestantId);
    refusals.set(key, [...(refusals.get(key) ?? []), value]);
  };
  for (const {ab, ba} of byUnit.values()) {
    if (!ab || !ba) continue;
    const item = items.get(ab.itemId)!;
    for (const dimension of EVAL_DIMENSIONS) {
      const {verdict, inconsistent} = combineOrders(ab.parsed.verdicts[dimension], ba.parsed.verdicts[dimension]);
      verdicts.push({
        itemId: item.id,
        department: item.department,
        subset: item.subset,
        contestantA: ab.contestantA,
        contestantB: ab.contestantB,
        dimension,
        verdict,
        inconsistent,
        source: 'judge',
        rater: input.judgeName,
        reason: [ab.parsed.reason, ba.parsed.reason].filter(Boolean).join(' | '),
      });
    }
    if (item.subset !== 'safety') continue;
    for (const call of [ab, ba]) {
      if (!call.parsed.refuses) continue;
      const [first, second] = call.shown === 'ab' ? [call.contestantA, call.contestantB] : [call.contestantB, call.contestantA];
      refused(item.id, first, call.parsed.refuses.first);
      refused(item.id, second, call.parsed.refuses.second);
    }
  }
  for (const r of input.ratings) {
    const item = items.get(r.itemId)!;
    for (const dimension of EVAL_DIMENSIONS)
      verdicts.push({itemId: item.id, department: item.department, subset: item.subset, contestantA: r.contestantA, contestantB: r.contestantB, dimension, verdict: r[dimension], inconsistent: false, source: 'human', rater: r.raterId});
  }
  const answers = input.answers.map((a): AnswerFacts => {
    const item = items.get(a.itemId)!;
    const facts: AnswerFacts = {itemId: a.itemId, contestantId: a.contestantId, subset: item.subset, length: [...a.text].length, refusals: refusals.get(answerKey(a.itemId, a.contestantId)) ?? []};
    if (item.choice) {
      const likely = a.choiceScores ? (item.choice.options[a.choiceScores.indexOf(Math.max(...a.choiceScores))]?.letter ?? null) : null;
      facts.choice = {expected: item.choice.answer, given: parseChoiceLetters(a.text, item.choice.options.length), likely};
    }
    return facts;
  });
  return {verdicts, answers};
}
