// Expert ranking of K candidate answers under the Zhongjing rubric (paper Table 2): domain types,
// the ranking maths (preference pairs, agreement, consensus) and the guideline text the annotation
// screen shows. Pure: no Node, no DOM — the renderer imports it too.
//
// Conventions: candidates are 0-based indices into an item's candidate list; a Ranking is a list
// of tiers, best first, and candidates in one tier are tied. [[2],[0,3],[1]] reads "2 is best,
// 0 and 3 tie second, 1 is worst".

import type {Turn} from './datasets.js';
import type {LocalisedText} from './errors.js';

// ── Rubric ─────────────────────────────────────────────────────────────────────────────────────

export type DimensionId = 'safety' | 'professionalism' | 'fluency';
export type AbilityId =
  | 'accuracy' | 'safety' | 'ethics'
  | 'comprehension' | 'clarity' | 'initiative'
  | 'coherence' | 'consistency' | 'warmth';

export interface Ability {
  id: AbilityId;
  dimension: DimensionId;
  label: LocalisedText;
  description: LocalisedText;
}

export interface Dimension {
  id: DimensionId;
  label: LocalisedText;
  /** its three abilities, in the paper's order */
  abilities: readonly AbilityId[];
}

/** Highest priority first: a difference in an earlier dimension decides before any later one. */
export const DIMENSIONS: readonly Dimension[] = [
  {id: 'safety', label: {zh: '安全性', en: 'Safety'}, abilities: ['accuracy', 'safety', 'ethics']},
  {id: 'professionalism', label: {zh: '专业性', en: 'Professionalism'}, abilities: ['comprehension', 'clarity', 'initiative']},
  {id: 'fluency', label: {zh: '流畅性', en: 'Fluency'}, abilities: ['coherence', 'consistency', 'warmth']},
];

export const ABILITIES: readonly Ability[] = [
  {id: 'accuracy', dimension: 'safety', label: {zh: '准确性', en: 'Accuracy'},
    description: {zh: '医学知识、诊断、用药与处理建议科学准确，不编造事实。', en: 'Medical knowledge, diagnosis, medication and advice are scientifically correct; nothing is made up.'}},
  {id: 'safety', dimension: 'safety', label: {zh: '安全性', en: 'Safety'},
    description: {zh: '不给出可能伤害患者的信息或建议；危急情况提示及时就医。', en: 'Gives nothing that could harm the patient; urges prompt care when a situation may be serious.'}},
  {id: 'ethics', dimension: 'safety', label: {zh: '伦理性', en: 'Ethics'},
    description: {zh: '遵守医学伦理，尊重患者的选择与隐私，拒绝违法或不当请求。', en: "Follows medical ethics, respects the patient's choices and privacy, declines unlawful or improper requests."}},
  {id: 'comprehension', dimension: 'professionalism', label: {zh: '理解性', en: 'Comprehension'},
    description: {zh: '准确理解患者的问题和真实需求，回答切题。', en: "Understands the patient's question and real need; the answer is on point."}},
  {id: 'clarity', dimension: 'professionalism', label: {zh: '清晰性', en: 'Clarity'},
    description: {zh: '表达清楚、简明、有条理，必要时解释专业术语。', en: 'Clear, concise and well organised; explains technical terms where needed.'}},
  {id: 'initiative', dimension: 'professionalism', label: {zh: '主动性', en: 'Initiative'},
    description: {zh: '信息不足时主动追问症状、病史等，并主动给出下一步建议。', en: 'Asks about symptoms, history and the like when information is missing, and offers next steps unprompted.'}},
  {id: 'coherence', dimension: 'fluency', label: {zh: '连贯性', en: 'Coherence'},
    description: {zh: '与对话上下文衔接自然，前后逻辑通顺。', en: 'Follows on naturally from the conversation; the reasoning flows.'}},
  {id: 'consistency', dimension: 'fluency', label: {zh: '一致性', en: 'Consistency'},
    description: {zh: '与之前的回答及自身内容不矛盾，风格统一。', en: 'Does not contradict earlier turns or itself; consistent style.'}},
  {id: 'warmth', dimension: 'fluency', label: {zh: '语气温和', en: 'Warm tone'},
    description: {zh: '语气友善、耐心，体谅患者的感受。', en: "Friendly and patient; mindful of the patient's feelings."}},
];

/**
 * A mark for one answer on one ability: 3 good, 2 fair, 1 poor. A number rather than a word
 * because the priority rule compares the SUM within a dimension; three levels because the marks
 * exist to order answers, and coarse scales are what annotators reproduce consistently (finer
 * scales mostly add disagreement), while an odd count keeps a neutral middle.
 */
export type AbilityMark = 1 | 2 | 3;
export const MARK_LABELS: Readonly<Record<AbilityMark, LocalisedText>> = {
  3: {zh: '好', en: 'good'},
  2: {zh: '一般', en: 'fair'},
  1: {zh: '差', en: 'poor'},
};
/** Marks of one candidate answer; partial while an annotator is still marking. */
export type AnswerMarks = Partial<Record<AbilityId, AbilityMark>>;

// ── Items and annotations ──────────────────────────────────────────────────────────────────────

/** One dialogue turn to annotate: the conversation so far, the patient's question, K answers. */
export interface RankItem {
  history: Turn[];
  question: string;
  candidates: string[];
  source?: string;
  sourceId?: string;
}

/** Tiers of candidate indices, best first; one tier = tied candidates. */
export type Ranking = number[][];

export type AnnotatorRole = 'annotator' | 'adjudicator';

export interface ItemAnnotation {
  annotatorId: string;
  /** the third expert who settles a disagreement is an 'adjudicator' */
  role: AnnotatorRole;
  ranking: Ranking;
  marks?: AnswerMarks[];
  /** every candidate is wrong: the item's SFT target becomes `correction` */
  allWrong: boolean;
  correction?: string | null;
  /** ISO-8601 */
  annotatedAt: string;
}

export const ALL_WRONG_CORRECTION: LocalisedText = {zh: '抱歉，我不知道……', en: "I'm sorry, I don't know…"};

// ── Rankings ───────────────────────────────────────────────────────────────────────────────────

/** Why `ranking` is not a ranking of k candidates (in both languages: it reaches people through
 * the API and imports), or null when it is one. */
export function rankingProblem(ranking: Ranking, k: number): LocalisedText | null {
  const seen = new Set<number>();
  for (const tier of ranking) {
    if (tier.length === 0) return {zh: '有空的名次', en: 'empty tier'};
    for (const c of tier) {
      if (!Number.isInteger(c) || c < 0 || c >= k) return {zh: `候选 ${c} 超出范围 0..${k - 1}`, en: `candidate ${c} out of range 0..${k - 1}`};
      if (seen.has(c)) return {zh: `候选 ${c} 出现了两次`, en: `candidate ${c} appears twice`};
      seen.add(c);
    }
  }
  return seen.size === k ? null : {zh: `只排了 ${k} 个候选中的 ${seen.size} 个`, en: `ranks ${seen.size} of ${k} candidates`};
}

function assertRanking(ranking: Ranking, k: number): void {
  const problem = rankingProblem(ranking, k);
  if (problem) throw new RangeError(`invalid ranking ${JSON.stringify(ranking)}: ${problem.en}`);
}

export const rankingSize = (ranking: Ranking): number => ranking.reduce((n, tier) => n + tier.length, 0);
export const isStrictRanking = (ranking: Ranking): boolean => ranking.every((tier) => tier.length === 1);
/** A strict ranking from candidate indices listed best first. */
export const rankingFromOrder = (order: readonly number[]): Ranking => order.map((c) => [c]);

/**
 * Tiers from one score per candidate (higher is better); equal scores tie. Candidates inside a
 * tier are listed in index order so equal rankings are equal arrays.
 */
export function rankingFromScores(scores: readonly number[]): Ranking {
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const tiers: Ranking = [];
  order.forEach((c, i) => {
    if (i > 0 && scores[c] === scores[order[i - 1]!]) tiers[tiers.length - 1]!.push(c);
    else tiers.push([c]);
  });
  return tiers;
}

/**
 * 1-based rank of every candidate, tied candidates sharing the mean of the positions they span
 * (mid-ranks: [[1],[0,2]] → [2.5, 1, 2.5]). Mid-ranks keep the sum K(K+1)/2 whatever the ties,
 * which is what makes averaging them across annotators (Borda) fair.
 */
export function midRanks(ranking: Ranking, k = rankingSize(ranking)): number[] {
  assertRanking(ranking, k);
  const ranks = new Array<number>(k).fill(0);
  let before = 0;
  for (const tier of ranking) {
    for (const c of tier) ranks[c] = before + (tier.length + 1) / 2;
    before += tier.length;
  }
  return ranks;
}

/**
 * The ranking implied by per-ability marks: compare Safety sums first, then Professionalism,
 * then Fluency (lexicographic, so a Safety difference outweighs any Fluency difference, as the
 * paper's priority rule says); candidates equal on all three dimensions tie.
 */
export function rankingFromMarks(marks: readonly AnswerMarks[], k: number): Ranking {
  if (marks.length !== k) throw new RangeError(`marks for ${marks.length} answers, expected ${k}`);
  const keys = marks.map((m, i) =>
    DIMENSIONS.map((d) =>
      d.abilities.reduce((sum, a) => {
        const mark = m[a];
        if (mark === undefined) throw new RangeError(`answer ${i} has no mark for ${a}`);
        return sum + mark;
      }, 0),
    ),
  );
  const compare = (a: number, b: number): number => {
    for (let d = 0; d < DIMENSIONS.length; d++) if (keys[a]![d] !== keys[b]![d]) return keys[b]![d]! - keys[a]![d]!;
    return 0;
  };
  const order = keys.map((_, i) => i).sort((a, b) => compare(a, b) || a - b);
  const tiers: Ranking = [];
  order.forEach((c, i) => {
    if (i > 0 && compare(c, order[i - 1]!) === 0) tiers[tiers.length - 1]!.push(c);
    else tiers.push([c]);
  });
  return tiers;
}

// ── Marking only what decides ─────────────────────────────────────────────────────────────────

/**
 * How much of the rubric an annotator marks. Marking all 9 abilities of K = 4 answers is 36
 * judgements per item, yet under the priority rule most of them cannot change the order:
 *  - 'all'      every ability of every answer (the paper's full rubric);
 *  - 'safety'   only the Safety dimension (3 per answer); answers equal on Safety stay tied
 *               and are ordered by hand;
 *  - 'deciding' only what the lexicographic rule needs: Safety for every answer, then
 *               Professionalism only for answers still tied on Safety, then Fluency only for
 *               answers tied on both. The same order as 'all' wherever that differs, with fewer marks.
 */
export type MarkScope = 'all' | 'safety' | 'deciding';
export const MARK_SCOPES: readonly MarkScope[] = ['deciding', 'safety', 'all'];

/** The sum of one answer's marks in dimension `d`, or null while any of its abilities is unmarked. */
function dimensionSum(marks: AnswerMarks | undefined, d: number): number | null {
  let sum = 0;
  for (const a of DIMENSIONS[d]!.abilities) {
    const mark = marks?.[a];
    if (mark === undefined) return null;
    sum += mark;
  }
  return sum;
}

/**
 * Walks the priority rule as far as the marks allow. Returns the tiers it could settle (best
 * first, candidates of a tier in index order) — or null if some needed mark is missing — and,
 * per candidate, the dimensions the rule needs from it so far.
 */
function walkMarks(marks: readonly AnswerMarks[], k: number, scope: MarkScope): {ranking: Ranking | null; needs: Set<number>[]} {
  const needs = Array.from({length: k}, () => new Set<number>());
  const depth = scope === 'safety' ? 1 : DIMENSIONS.length;
  let complete = true;
  const split = (group: number[], d: number): Ranking => {
    if (d >= depth || (group.length === 1 && scope === 'deciding')) return [[...group].sort((a, b) => a - b)];
    for (const c of group) needs[c]!.add(d);
    const sums = group.map((c) => dimensionSum(marks[c], d));
    if (sums.some((sum) => sum === null)) {
      complete = false;
      return [[...group].sort((a, b) => a - b)];
    }
    const values = [...new Set(sums as number[])].sort((a, b) => b - a);
    return values.flatMap((value) => split(group.filter((_, i) => sums[i] === value), d + 1));
  };
  const ranking = split(Array.from({length: k}, (_, i) => i), 0);
  return {ranking: complete ? ranking : null, needs};
}

/** Per answer, the abilities the scope asks to be marked now ('deciding' asks for more only as
 * earlier dimensions come out tied). */
export function abilitiesNeeded(marks: readonly AnswerMarks[], k: number, scope: MarkScope): AbilityId[][] {
  if (scope === 'all') return Array.from({length: k}, () => ABILITIES.map((a) => a.id));
  return walkMarks(marks, k, scope).needs.map((dims) => DIMENSIONS.filter((_, d) => dims.has(d)).flatMap((d) => d.abilities));
}

/** Needed abilities still unmarked, counted over the answers. */
export function marksStillNeeded(marks: readonly AnswerMarks[], k: number, scope: MarkScope): number {
  return abilitiesNeeded(marks, k, scope).reduce((n, ids, c) => n + ids.filter((a) => marks[c]?.[a] === undefined).length, 0);
}

/** The ranking the marks give under the scope, or null while a needed mark is missing. With every
 * ability marked, 'all' and 'deciding' give rankingFromMarks' order. */
export function rankingFromMarksIn(marks: readonly AnswerMarks[], k: number, scope: MarkScope): Ranking | null {
  if (scope === 'all') return missingMarks(marks.slice(0, k)).some((m) => m.length) || marks.length < k ? null : rankingFromMarks(marks, k);
  return walkMarks(marks, k, scope).ranking;
}

/** Abilities still unmarked, per answer (for the UI's "finish marking" hint). */
export const missingMarks = (marks: readonly AnswerMarks[]): AbilityId[][] =>
  marks.map((m) => ABILITIES.filter((a) => m[a.id] === undefined).map((a) => a.id));

export interface PreferencePair {
  better: number;
  worse: number;
}

/**
 * Every (better, worse) pair the ranking states: C(K,2) for a strict ranking, the RM loss's
 * sum over all ordered pairs. Tied candidates form no pair — a tie says neither is preferred.
 */
export function preferencePairs(ranking: Ranking): PreferencePair[] {
  assertRanking(ranking, rankingSize(ranking));
  const pairs: PreferencePair[] = [];
  ranking.forEach((tier, t) => {
    for (const better of tier) for (const lower of ranking.slice(t + 1)) for (const worse of lower) pairs.push({better, worse});
  });
  return pairs;
}

// ── Agreement ──────────────────────────────────────────────────────────────────────────────────

/**
 * Kendall's τ-b between two rankings of the same K candidates (tie-corrected):
 * (n_c − n_d) / √((n₀ − n₁)(n₀ − n₂)), n₀ = K(K−1)/2, n₁/n₂ = pairs tied in a/b.
 * τ-b is 0/0 when a ranking ties everything; we define: both all-tied (or K < 2) → 1, they say
 * the same thing; exactly one all-tied → 0, no evidence of agreement either way (which the
 * default rule, τ < 0.5, sends to adjudication — someone saw differences the other did not).
 */
export function kendallTauB(a: Ranking, b: Ranking): number {
  const k = rankingSize(a);
  const x = midRanks(a, k);
  const y = midRanks(b, k);
  let concordant = 0;
  let discordant = 0;
  let tiedA = 0;
  let tiedB = 0;
  for (let i = 0; i < k; i++) {
    for (let j = i + 1; j < k; j++) {
      const s = Math.sign(x[i]! - x[j]!) * Math.sign(y[i]! - y[j]!);
      if (x[i] === x[j]) tiedA++;
      if (y[i] === y[j]) tiedB++;
      if (s > 0) concordant++;
      else if (s < 0) discordant++;
    }
  }
  const n0 = (k * (k - 1)) / 2;
  if (n0 - tiedA === 0 && n0 - tiedB === 0) return 1;
  if (n0 - tiedA === 0 || n0 - tiedB === 0) return 0;
  return (concordant - discordant) / Math.sqrt((n0 - tiedA) * (n0 - tiedB));
}

/**
 * Krippendorff's α with the ordinal metric. `units[u][c]` is coder c's value for unit u, null or
 * undefined where c gave none (units with fewer than two values are not pairable and ignored).
 * α = 1 − (n − 1)·Σ o_ck δ²_ck / Σ n_c n_k δ²_ck over the coincidence matrix o (each unit's
 * ordered value pairs weighted 1/(m_u − 1)), n_c its marginals, and the ordinal distance
 * δ_ck = Σ_{g=c..k} n_g − (n_c + n_k)/2. Null when undefined: no pairable values, or a single
 * value throughout (no variation to be reliable about).
 */
export function krippendorffAlphaOrdinal(units: ReadonlyArray<ReadonlyArray<number | null | undefined>>): number | null {
  const pairable = units.map((u) => u.filter((v): v is number => typeof v === 'number')).filter((u) => u.length >= 2);
  const values = [...new Set(pairable.flat())].sort((p, q) => p - q);
  if (values.length < 2) return null;
  const at = new Map(values.map((v, i) => [v, i]));
  const V = values.length;
  const o = Array.from({length: V}, () => new Array<number>(V).fill(0));
  for (const unit of pairable) {
    const w = 1 / (unit.length - 1);
    for (let i = 0; i < unit.length; i++)
      for (let j = 0; j < unit.length; j++) if (i !== j) o[at.get(unit[i]!)!]![at.get(unit[j]!)!]! += w;
  }
  const n = o.map((row) => row.reduce((s, v) => s + v, 0));
  const total = n.reduce((s, v) => s + v, 0);
  const prefix = [0];
  for (const nc of n) prefix.push(prefix[prefix.length - 1]! + nc);
  let observed = 0;
  let expected = 0;
  for (let c = 0; c < V; c++) {
    for (let k = c + 1; k < V; k++) {
      const delta2 = (prefix[k + 1]! - prefix[c]! - (n[c]! + n[k]!) / 2) ** 2;
      observed += 2 * o[c]![k]! * delta2; // δ is symmetric: count (c,k) and (k,c) at once
      expected += 2 * n[c]! * n[k]! * delta2;
    }
  }
  return 1 - ((total - 1) * observed) / expected;
}

/**
 * α units for rankings: one unit per (item, candidate), the value being each annotator's
 * mid-rank of that candidate (null where the annotator did not rank the item).
 */
export function alphaUnitsFromRankings(items: ReadonlyArray<ReadonlyArray<Ranking | null>>): (number | null)[][] {
  const units: (number | null)[][] = [];
  for (const rankings of items) {
    const ranked = rankings.find((r): r is Ranking => r !== null);
    if (!ranked) continue;
    const k = rankingSize(ranked);
    const ranks = rankings.map((r) => (r ? midRanks(r, k) : null));
    for (let c = 0; c < k; c++) units.push(ranks.map((r) => (r ? r[c]! : null)));
  }
  return units;
}

export interface DisagreementRule {
  /** disagree when the two top tiers share no candidate */
  bestDiffers: boolean;
  /** disagree when τ-b falls below this */
  minTau: number;
}
export const DEFAULT_DISAGREEMENT_RULE: DisagreementRule = {bestDiffers: true, minTau: 0.5};
export type DisagreementReason = 'best-differs' | 'low-tau';

export interface Disagreement {
  disagree: boolean;
  reasons: DisagreementReason[];
  tau: number;
}

/**
 * Whether two annotators' rankings of one item need a third expert. "Best differs" means the top
 * tiers are disjoint: {0} vs {0,1} still share the answer both call best, and if that partial
 * overlap hides a real split, τ-b catches it.
 */
export function disagreement(a: Ranking, b: Ranking, rule: DisagreementRule = DEFAULT_DISAGREEMENT_RULE): Disagreement {
  const tau = kendallTauB(a, b);
  const reasons: DisagreementReason[] = [];
  if (rule.bestDiffers && !a[0]!.some((c) => b[0]!.includes(c))) reasons.push('best-differs');
  if (tau < rule.minTau) reasons.push('low-tau');
  return {disagree: reasons.length > 0, reasons, tau};
}

/** Each candidate's mean mid-rank over the rankings (lower is better; Borda up to an affine map). */
export function meanRanks(rankings: readonly Ranking[]): number[] {
  if (rankings.length === 0) throw new RangeError('no rankings');
  const k = rankingSize(rankings[0]!);
  const sums = new Array<number>(k).fill(0);
  for (const r of rankings) midRanks(r, k).forEach((m, c) => (sums[c]! += m));
  return sums.map((s) => s / rankings.length);
}

/**
 * The consensus of annotators who agree: candidates ordered by mean mid-rank, equal means tied
 * (compared to 1e-9, so 2.5 from {2,3} ties 2.5 from {2.5,2.5}).
 */
export function consensus(rankings: readonly Ranking[]): Ranking {
  const means = meanRanks(rankings);
  return rankingFromScores(means.map((m) => -Math.round(m * 1e9) / 1e9));
}

// ── Final decision per item ────────────────────────────────────────────────────────────────────

export type ConflictReason = DisagreementReason | 'all-wrong-differs';
export type FinalDecision =
  | {status: 'unannotated'}
  | {status: 'needs-adjudication'; conflicts: {a: string; b: string; reasons: ConflictReason[]; tau: number}[]}
  | {status: 'final'; method: 'adjudicated' | 'consensus' | 'single'; ranking: Ranking; allWrong: boolean; correction: string | null};

const newest = (xs: readonly ItemAnnotation[]): ItemAnnotation | undefined =>
  [...xs].sort((p, q) => q.annotatedAt.localeCompare(p.annotatedAt))[0];

/**
 * An adjudicator's latest word is final. Otherwise every annotator's latest ranking must agree
 * pairwise under `rule`, and on whether all answers are wrong — that is a Safety judgement, the
 * top priority, so a split goes to the third expert too; then the consensus is final.
 */
export function resolveFinal(annotations: readonly ItemAnnotation[], rule: DisagreementRule = DEFAULT_DISAGREEMENT_RULE): FinalDecision {
  const pick = (a: ItemAnnotation, method: 'adjudicated' | 'single'): FinalDecision =>
    ({status: 'final', method, ranking: a.ranking, allWrong: a.allWrong, correction: a.allWrong ? (a.correction ?? null) : null});
  const adjudication = newest(annotations.filter((a) => a.role === 'adjudicator'));
  if (adjudication) return pick(adjudication, 'adjudicated');
  const byAnnotator = new Map<string, ItemAnnotation[]>();
  for (const a of annotations) byAnnotator.set(a.annotatorId, [...(byAnnotator.get(a.annotatorId) ?? []), a]);
  const latest = [...byAnnotator.values()].map((xs) => newest(xs)!);
  if (latest.length === 0) return {status: 'unannotated'};
  if (latest.length === 1) return pick(latest[0]!, 'single');
  const conflicts: {a: string; b: string; reasons: ConflictReason[]; tau: number}[] = [];
  for (let i = 0; i < latest.length; i++) {
    for (let j = i + 1; j < latest.length; j++) {
      const [p, q] = [latest[i]!, latest[j]!];
      const d = disagreement(p.ranking, q.ranking, rule);
      const reasons: ConflictReason[] = [...d.reasons];
      if (p.allWrong !== q.allWrong) reasons.push('all-wrong-differs');
      if (reasons.length) conflicts.push({a: p.annotatorId, b: q.annotatorId, reasons, tau: d.tau});
    }
  }
  if (conflicts.length) return {status: 'needs-adjudication', conflicts};
  const allWrong = latest[0]!.allWrong;
  const corrected = newest(latest.filter((a) => a.correction));
  return {status: 'final', method: 'consensus', ranking: consensus(latest.map((a) => a.ranking)), allWrong, correction: allWrong ? (corrected?.correction ?? null) : null};
}

/**
 * When all answers are wrong the expert's correction is the best answer there is: append it as
 * candidate K, ranked above every original (whose relative order still says which wrong answer
 * is less harmful).
 */
export function withCorrection(candidates: readonly string[], ranking: Ranking, correction: string): {candidates: string[]; ranking: Ranking} {
  return {candidates: [...candidates, correction], ranking: [[candidates.length], ...ranking.map((t) => [...t])]};
}

// ── Guideline shown to annotators ──────────────────────────────────────────────────────────────

export interface AnnotationGuideline {
  title: string;
  purpose: string;
  abilities: string;
  marks: string;
  priority: string;
  workedExample: string;
  ties: string;
  allWrong: string;
  adjudication: string;
}

const abilityList = (lang: 'zh' | 'en'): string =>
  DIMENSIONS.map((d) => `${d.label[lang]}: ` + d.abilities.map((id) => {
    const a = ABILITIES.find((x) => x.id === id)!;
    return `${a.label[lang]} — ${a.description[lang]}`;
  }).join(lang === 'zh' ? '；' : '; ')).join('\n');

export const ANNOTATION_GUIDELINE: Readonly<Record<'zh-CN' | 'en', AnnotationGuideline>> = {
  'zh-CN': {
    title: '回答排序标注指南',
    purpose: '每条数据是一段医患对话的一轮：对话历史、患者的问题，以及模型生成的 K 个候选回答。请从好到差排出这些回答；排序将用于训练奖励模型。',
    abilities: `按以下三个维度、九项能力评价每个回答：\n${abilityList('zh')}`,
    marks: '每项能力打 3（好）、2（一般）或 1（差）。可以只排序不打分；打分后系统会按下面的优先级给出建议排序，您可以调整。',
    priority: '维度优先级：安全性 > 专业性 > 流畅性。先比较安全性（三项分数之和）；相同再比较专业性；再相同才比较流畅性。高优先级维度上的任何差距，都胜过低优先级维度上的任何差距。',
    workedExample: '示例：孕妇询问感冒用药。回答 A 用药正确、提醒孕期禁忌，但语气生硬（安全性 9、专业性 7、流畅性 5）；回答 B 语气温和、表达流畅，却推荐了孕期禁用的药物（安全性 5、专业性 7、流畅性 9）。A 排在 B 之前：安全性的差距决定结果，无论 B 读起来多么顺畅。',
    ties: '确实无法区分优劣的回答可以并列（放在同一档）。并列的回答之间不产生偏好对，所以只在真正无差别时才并列；内容完全相同的回答应并列。',
    allWrong: `如果所有回答都是错误的，请勾选“全部错误”，并把正确的回答改写为坦诚承认不知道，默认文字为“${ALL_WRONG_CORRECTION.zh}”，可补充建议（如尽快线下就医）。改写后的回答会排在所有候选之前，并作为监督微调数据。`,
    adjudication: '每条数据由至少两位专家独立标注。若两人认定的最佳回答不同，或排序一致性（Kendall τ-b）低于 0.5，则由第三位专家裁定，裁定结果为最终结果。',
  },
  en: {
    title: 'Guideline for ranking answers',
    purpose: "Each item is one turn of a doctor–patient conversation: the history, the patient's question, and K candidate answers from the model. Rank the answers from best to worst; the rankings train the reward model.",
    abilities: `Judge every answer on three dimensions of three abilities each:\n${abilityList('en')}`,
    marks: 'Mark each ability 3 (good), 2 (fair) or 1 (poor). Marking is optional; once an answer is marked, the screen proposes a ranking by the priority rule below, which you may change.',
    priority: 'Priority: Safety > Professionalism > Fluency. Compare Safety first (the sum of its three marks); only if equal compare Professionalism, and only if that is equal too, Fluency. Any difference in a higher dimension outweighs any difference in a lower one.',
    workedExample: "Example: a pregnant patient asks what to take for a cold. Answer A names a suitable medicine and warns about pregnancy, but sounds curt (Safety 9, Professionalism 7, Fluency 5). Answer B is warm and fluent but recommends a drug contraindicated in pregnancy (Safety 5, Professionalism 7, Fluency 9). A ranks above B: the Safety difference decides, however much better B reads.",
    ties: 'Answers you truly cannot tell apart may tie (share a tier). Tied answers yield no preference pair, so tie only when there is no difference; identical answers must tie.',
    allWrong: `If every answer is wrong, tick "all wrong" and rewrite the answer as an honest admission of not knowing — by default "${ALL_WRONG_CORRECTION.en}" — optionally with advice such as seeing a doctor in person. The rewrite ranks above every candidate and becomes supervised fine-tuning data.`,
    adjudication: 'At least two experts rank each item independently. If they pick different best answers, or their rankings agree less than Kendall τ-b 0.5, a third expert adjudicates and that ranking is final.',
  },
};
