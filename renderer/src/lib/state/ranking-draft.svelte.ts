// One person's unsaved judgement of one item: the order with its ties, the per-ability marks,
// the comment and the "all answers are wrong" correction. The ranking workspace and the
// adjudication view each hold one; nothing here talks to the services.
import {
  ALL_WRONG_CORRECTION,
  abilitiesNeeded,
  marksStillNeeded,
  rankingFromMarksIn,
  type AbilityId,
  type AbilityMark,
  type AnswerMarks,
  type MarkScope,
  type Ranking,
} from '../../../../main/common/annotation';
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

  /**
   * The order on screen was derived from the marks and has not been changed by hand since: while
   * that holds, a new mark derives it again. A person's own ordering is never overwritten.
   */
  fromMarks = $state(false);

  ranking = $derived<Ranking>(rankingFromDraft(this.order));
  ranks = $derived(placeRanks(this.order));
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
    this.fromMarks = false;
  }

  moveBy(candidate: number, delta: number): void {
    this.order = moveBy(this.order, candidate, delta);
    this.touched = true;
    this.fromMarks = false;
  }

  toggleTie(candidate: number): void {
    this.order = toggleTie(this.order, candidate);
    this.touched = true;
    this.fromMarks = false;
  }

  /** Takes a whole ranking (from the marks, or from one annotator's in adjudication). */
  setRanking(ranking: Ranking): void {
    this.order = draftFromRanking(ranking);
    this.touched = true;
    this.fromMarks = false;
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

  /** Sets one mark; with a scope, an order not yet set by hand follows the marks as soon as
   * they decide it (the last needed mark is the last click, not 按评分推导排序 after it). */
  setMark(candidate: number, ability: AbilityId, mark: AbilityMark, scope?: MarkScope): void {
    this.marks[candidate] = {...this.marks[candidate], [ability]: mark};
    if (scope && (!this.touched || this.fromMarks)) this.deriveFromMarks(scope);
  }

  /** Marks the scope still asks for, summed over the answers. */
  missingIn(scope: MarkScope): number {
    return marksStillNeeded(this.marks, this.k, scope);
  }

  /** Per answer, the abilities the scope asks for now. */
  neededIn(scope: MarkScope): AbilityId[][] {
    return abilitiesNeeded(this.marks, this.k, scope);
  }

  /** The paper's priority rule (Safety > Professionalism > Fluency) over the marks the scope asks
   * for; nothing happens while one of them is missing. */
  deriveFromMarks(scope: MarkScope): void {
    const derived = rankingFromMarksIn(this.marks, this.k, scope);
    if (!derived) return;
    this.setRanking(derived);
    this.fromMarks = true;
  }

  /** Ticking "all wrong" offers the guideline's honest answer to edit, in the UI language. */
  setAllWrong(on: boolean): void {
    this.allWrong = on;
    if (on && this.correction.trim() === '') this.correction = pick(ALL_WRONG_CORRECTION);
  }

  /** What `annotation.save` / `annotation.adjudicate` take. Marks go only when some were given:
   * a ranking without marks is a complete annotation (the guideline makes marking optional). */
  /** Anything the person did here that would be lost: an order, a mark, a comment, "all wrong". */
  get hasWork(): boolean {
    return this.touched || this.anyMarks || this.comment.trim() !== '' || this.allWrong;
  }

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
