// One person's unsaved judgement of one item: the order with its ties, the per-ability marks,
// the comment and the "all answers are wrong" correction. The ranking workspace and the
// adjudication view each hold one; nothing here talks to the services.
import {ALL_WRONG_CORRECTION, missingMarks, rankingFromMarks, type AbilityId, type AbilityMark, type AnswerMarks, type Ranking} from '../../../../main/common/annotation';
import type {MyRanking} from '../../../../main/common/annotation-views';
import {draftFromRanking, initialDraft, moveBy, moveTo, placeRanks, rankingFromDraft, toggleTie, type OrderDraft} from '../annotation';
import {pick} from '../lang.svelte';

export class RankingDraft {
  readonly k: number;
  order = $state<OrderDraft>({order: [], tied: []});
  marks = $state<AnswerMarks[]>([]);
  comment = $state('');
  allWrong = $state(false);
  correction = $state('');
  /**
   * Whether the person has expressed a ranking: moved, tied, derived, confirmed — or it is a saved
   * one. An untouched draft is only the display order A > B > C…, and saving that by a stray
   * Enter would put a judgement nobody made into the reward model's training data.
   */
  touched = $state(false);

  ranking = $derived<Ranking>(rankingFromDraft(this.order));
  ranks = $derived(placeRanks(this.order));
  /** abilities still unmarked, summed over the answers */
  missing = $derived(missingMarks(this.marks).reduce((n, ids) => n + ids.length, 0));
  anyMarks = $derived(this.marks.some((m) => Object.keys(m).length > 0));

  constructor(k: number, saved?: Pick<MyRanking, 'ranking' | 'comment' | 'allWrong' | 'correction'> & {marks?: AnswerMarks[]}, shown?: readonly number[]) {
    this.k = k;
    this.marks = Array.from({length: k}, (_, i) => ({...(saved?.marks?.[i] ?? {})}));
    if (saved) {
      this.order = draftFromRanking(saved.ranking);
      this.comment = saved.comment;
      this.allWrong = saved.allWrong;
      this.correction = saved.correction ?? '';
      this.touched = true;
    } else {
      this.order = initialDraft(k, shown);
    }
  }

  moveTo(candidate: number, place: number): void {
    this.order = moveTo(this.order, candidate, place);
    this.touched = true;
  }

  moveBy(candidate: number, delta: number): void {
    this.order = moveBy(this.order, candidate, delta);
    this.touched = true;
  }

  toggleTie(candidate: number): void {
    this.order = toggleTie(this.order, candidate);
    this.touched = true;
  }

  /** Takes a whole ranking (from the marks, or from one annotator's in adjudication). */
  setRanking(ranking: Ranking): void {
    this.order = draftFromRanking(ranking);
    this.touched = true;
  }

  /** Adjudication's 以此为起点: takes over everything one annotator decided — the order with its
   * ties, the ability marks, "all answers are wrong" and the correction — to be edited from there.
   * The expert's own comment stays theirs. */
  startFrom(theirs: Pick<MyRanking, 'ranking' | 'marks' | 'allWrong' | 'correction'>): void {
    this.setRanking(theirs.ranking);
    this.marks = Array.from({length: this.k}, (_, i) => ({...(theirs.marks[i] ?? {})}));
    this.allWrong = theirs.allWrong;
    this.correction = theirs.allWrong ? (theirs.correction ?? pick(ALL_WRONG_CORRECTION)) : '';
  }

  confirmOrder(): void {
    this.touched = true;
  }

  setMark(candidate: number, ability: AbilityId, mark: AbilityMark): void {
    this.marks[candidate] = {...this.marks[candidate], [ability]: mark};
  }

  /** The paper's priority rule (Safety > Professionalism > Fluency); needs every mark. */
  deriveFromMarks(): void {
    if (this.missing === 0) this.setRanking(rankingFromMarks(this.marks, this.k));
  }

  /** Ticking "all wrong" offers the guideline's honest answer to edit, in the UI language. */
  setAllWrong(on: boolean): void {
    this.allWrong = on;
    if (on && this.correction.trim() === '') this.correction = pick(ALL_WRONG_CORRECTION);
  }

  /** What `annotation.save` / `annotation.adjudicate` take. Marks go only when some were given:
   * a ranking without marks is a complete annotation (the guideline makes marking optional). */
  payload(): {ranking: Ranking; marks: AnswerMarks[]; comment: string; allWrong: boolean; correction: string | null} {
    return {
      ranking: this.ranking,
      marks: this.anyMarks ? this.marks.map((m) => ({...m})) : [],
      comment: this.comment.trim(),
      allWrong: this.allWrong,
      correction: this.allWrong && this.correction.trim() ? this.correction.trim() : null,
    };
  }
}
