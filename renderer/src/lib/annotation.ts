// Pure helpers of the Annotation screen: candidate letters, the editable form of a ranking and
// the moves the ranking widget makes on it, and labels for the shared enums. No state, no DOM —
// the components and stores call these, so the ranking rules can be read (and tried) in one place.
//
// A ranking is edited as an ORDER (candidate indices, best first) plus a TIE flag per place
// ("tied with the one above"), because that is what the person sees and moves: a list, some of
// whose neighbours are joined. `Ranking` (tiers) is what the API stores; the two convert exactly.
import type {ConflictReason, Ranking} from '../../../main/common/annotation';
import type {MessageKey} from './i18n';
import {displayOrder} from './state/display-order.svelte';
import {candidateLetter} from './letters';

export {LETTERS} from './letters';
/** The letter of a candidate: its screen position while the workspace shows a shuffled item
 * (A = shown first), else its stored index (K is at most 8 in a project). */
export const letter = (index: number): string => candidateLetter(index, displayOrder.order);

/** The candidate shown at a screen position. */
export const candidateAt = (position: number): number => displayOrder.order?.[position] ?? position;

export interface OrderDraft {
  /** candidate indices, best first */
  order: number[];
  /** tied[i]: order[i] shares a tier with order[i - 1]; tied[0] is always false */
  tied: boolean[];
}

export function draftFromRanking(ranking: Ranking): OrderDraft {
  const order: number[] = [];
  const tied: boolean[] = [];
  for (const tier of ranking)
    tier.forEach((candidate, i) => {
      order.push(candidate);
      tied.push(i > 0);
    });
  return {order, tied};
}

/** Candidates in display order A, B, C…, none tied: where an unranked item starts. */
/** The untouched order is the order on screen. */
export function initialDraft(k: number, shown?: readonly number[]): OrderDraft {
  return {order: shown && shown.length === k ? [...shown] : Array.from({length: k}, (_, i) => i), tied: new Array<boolean>(k).fill(false)};
}

export function rankingFromDraft(draft: OrderDraft): Ranking {
  const tiers: Ranking = [];
  draft.order.forEach((candidate, i) => {
    if (i > 0 && draft.tied[i]) tiers[tiers.length - 1]!.push(candidate);
    else tiers.push([candidate]);
  });
  return tiers;
}

/**
 * Moves `candidate` to place `to` (0-based). A candidate that moves leaves its tier and stands
 * alone where it lands: moving means "better/worse than those", which a tie would contradict.
 * Everyone else keeps their ties, except that no tie may reach across the moved candidate.
 */
export function moveTo(draft: OrderDraft, candidate: number, to: number): OrderDraft {
  const from = draft.order.indexOf(candidate);
  if (from < 0) return draft;
  const order = [...draft.order];
  const tied = [...draft.tied];
  // Taking it out: the one below stays joined to the one above only if both links existed.
  if (from + 1 < tied.length) tied[from + 1] = tied[from]! && tied[from + 1]!;
  order.splice(from, 1);
  tied.splice(from, 1);
  const at = Math.max(0, Math.min(order.length, to));
  order.splice(at, 0, candidate);
  tied.splice(at, 0, false);
  if (at + 1 < tied.length) tied[at + 1] = false;
  tied[0] = false;
  return {order, tied};
}

export function moveBy(draft: OrderDraft, candidate: number, delta: number): OrderDraft {
  const from = draft.order.indexOf(candidate);
  return from < 0 ? draft : moveTo(draft, candidate, from + delta);
}

/** Joins `candidate` to the tier of the one above it, or splits it off again. */
export function toggleTie(draft: OrderDraft, candidate: number): OrderDraft {
  const at = draft.order.indexOf(candidate);
  if (at <= 0) return draft;
  const tied = [...draft.tied];
  tied[at] = !tied[at];
  return {order: [...draft.order], tied};
}

/** Standard competition rank ("1224") of every place: tied places share the first one's number. */
export function placeRanks(draft: OrderDraft): number[] {
  const ranks: number[] = [];
  draft.order.forEach((_, i) => ranks.push(i > 0 && draft.tied[i] ? ranks[i - 1]! : i + 1));
  return ranks;
}

/** "B > A = D > C": how a ranking reads in one line, in the queue and the summaries. */
export function rankingText(ranking: Ranking): string {
  return ranking.map((tier) => tier.map(letter).join(' = ')).join(' > ');
}

/** Candidate texts indexed by candidate index (what a ranking refers to), whatever the order
 * the list arrived in. */
export function textsByIndex(candidates: readonly {index: number; text: string}[]): string[] {
  const texts: string[] = [];
  for (const candidate of candidates) texts[candidate.index] = candidate.text;
  return texts;
}

export const CONFLICT_LABEL: Record<ConflictReason, MessageKey> = {
  'best-differs': 'anConflictBest',
  'low-tau': 'anConflictTau',
  'all-wrong-differs': 'anConflictAllWrong',
};

/**
 * "0.7, 0.9, 1.0, 1.2" → [0.7, 0.9, 1, 1.2]; null when any entry is not a number in 0–2 or the
 * count is outside 1–8 (the contract's limits), so the form can say so before sending.
 */
export function parseTemperatures(text: string): number[] | null {
  const parts = text.split(/[,，\s]+/).filter((part) => part !== '');
  if (parts.length < 1 || parts.length > 8) return null;
  const values = parts.map(Number);
  return values.every((v) => Number.isFinite(v) && v >= 0 && v <= 2) ? values : null;
}

/** τ and α read best with two decimals; null (undefined statistics) shows as a dash. */
export function formatStat(value: number | null, none: string): string {
  return value === null || !Number.isFinite(value) ? none : value.toFixed(2);
}

export function formatPercent(value: number | null, none: string): string {
  return value === null || !Number.isFinite(value) ? none : `${Math.round(value * 1000) / 10}%`;
}
