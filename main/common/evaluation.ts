// Evaluation studio (the paper's §5): contestants answer a benchmark, every pair of contestants
// is compared blind per dimension — by a judge model (both orders) or by human raters — and the
// report counts win / tie / loss with 95 % intervals, per department and with the safety subset
// apart. Pure: no Node, no DOM — the renderer, the service, the CLI and the HTML export all use it.
//
// Conventions: a pair is always (a, b) with a the contestant that comes first in the run's list;
// a verdict is from a's side ('a' = a is better). A judge sees the two answers as "first" and
// "second"; `combineOrders` (evaluation-judge.ts, with everything else about judge calls) maps
// both orders back to (a, b). Here: the types, intervals, multiple-choice letters, the report,
// rater agreement and the chart.

import type {LocalisedText} from './errors.js';

/** A run holds at most this many items: each is answered by every contestant and judged per pair. */
export const EVAL_MAX_ITEMS = 5000;

/** Safety is judged on its own; professionalism and fluency are judged together, as in the paper. */
export type EvalDimension = 'safety' | 'quality';
export const EVAL_DIMENSIONS: readonly EvalDimension[] = ['safety', 'quality'];
export const EVAL_DIMENSION_LABELS: Readonly<Record<EvalDimension, LocalisedText>> = {
  safety: {zh: '安全性', en: 'Safety'},
  quality: {zh: '专业性与流畅性', en: 'Professionalism & fluency'},
};

export type PairVerdict = 'a' | 'b' | 'tie';
/** what one judge call said, in the order it was shown */
export type ShownVerdict = 'first' | 'second' | 'tie';
export type ItemSubset = 'general' | 'safety';

/** One judge call's parsed reply; a dimension it did not answer clearly is null (never guessed). */
export interface JudgeReply {
  verdicts: Record<EvalDimension, ShownVerdict | null>;
  reason: string;
  /** safety items only: did each shown answer refuse or correct the unsafe request? */
  refuses?: {first: boolean; second: boolean};
}

/** One stored verdict: what the report counts. */
export interface VerdictRecord {
  itemId: string;
  /** cate1 when the benchmark has one */
  department: string | null;
  subset: ItemSubset;
  contestantA: string;
  contestantB: string;
  dimension: EvalDimension;
  /** null = unparsed: recorded, shown, never counted as a win, tie or loss */
  verdict: PairVerdict | null;
  /** the judge's two orders disagreed (counted as a tie) */
  inconsistent: boolean;
  source: 'judge' | 'human';
  /** the judge's name or the human rater's id */
  rater: string;
}

export interface Interval {
  value: number;
  low: number;
  high: number;
}

export interface PairTally {
  contestantA: string;
  contestantB: string;
  dimension: EvalDimension;
  source: 'judge' | 'human';
  win: number;
  tie: number;
  loss: number;
  /** verdicts that could not be parsed (not in n) */
  unparsed: number;
  /** ties that come from order-inconsistent judge verdicts (included in tie) */
  inconsistent: number;
  n: number;
  winRate: Interval;
  tieRate: Interval;
  lossRate: Interval;
  /** (win + tie/2) / n with Wilson's 95 % interval on that score (tieAwareWinRate below) */
  tieAwareWinRate: Interval;
}

export interface ContestantStats {
  contestantId: string;
  label: string;
  answers: number;
  /** mean answer length in characters */
  meanLength: number;
  /** safety subset: share of answers the judge/raters said refuse or correct the request (null: no data) */
  refusalRate: Interval | null;
  /** multiple choice: exact-set accuracy from the letters generated (null: no choice items) */
  choiceAccuracy: {
    all: Interval;
    single: Interval | null;
    multi: Interval | null;
    unparsed: number;
    /** single-answer items a local model scored by option likelihood: the most likely letter right */
    byLikelihood: Interval | null;
  } | null;
}

export interface EvalReport {
  contestants: ContestantStats[];
  /** every pair × dimension × source, over all items */
  overall: PairTally[];
  /** the same per department (cate1); items without one are under '' */
  byDepartment: {department: string; tallies: PairTally[]}[];
  /** the safety subset apart (CMtMedQA's adversarial items) */
  safetySubset: PairTally[];
  /** human raters' agreement where ≥ 2 rated the same item, pair and dimension */
  agreement: {units: number; percentAgreement: number | null; fleissKappa: number | null};
  /** share of judge verdicts whose two orders disagreed */
  orderInconsistency: {inconsistent: number; judged: number};
}

export interface AnswerFacts {
  itemId: string;
  contestantId: string;
  subset: ItemSubset;
  length: number;
  /** refusal statements about this answer (from judge calls or raters), true = refused/corrected */
  refusals: boolean[];
  /** multiple-choice items only */
  /** `likely`: the option letter with the highest log-probability after "答案：" (local models) */
  choice?: {expected: string[]; given: string[] | null; likely?: string | null};
}

// ── Intervals ──────────────────────────────────────────────────────────────────────────────────

/** Wilson score interval for k successes in n (z = 1.96). n = 0 → {value: 0, low: 0, high: 1}. */
export function wilson(k: number, n: number, z = 1.96): Interval {
  if (!(n > 0)) return {value: 0, low: 0, high: 1};
  const p = k / n;
  const z2 = z * z;
  const denominator = 1 + z2 / n;
  const centre = (p + z2 / (2 * n)) / denominator;
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n));
  return {value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half)};
}

/** (win + tie/2) / n with the Wilson interval of win + tie/2 successes in n. Conservative: a
 * score in [0, 1] with mean m varies at most m(1 − m), as a win/loss coin does; and unlike a
 * normal approximation from the sample variance it never shrinks to a point (4 verdicts that all
 * tie gave 50 % [50 %, 50 %]). */
export function tieAwareWinRate(win: number, tie: number, n: number, z = 1.96): Interval {
  return wilson(win + 0.5 * tie, n, z);
}

// ── Multiple choice ────────────────────────────────────────────────────────────────────────────

const OPENERS = /^[\s*"'“”‘’`「『（(【\[<《]*(?:选项|option\s*)?[\s*"'“”‘’`「『（(【\[<《]*/i;
const SEPARATOR = /^(?:\s*(?:[、,，/&＆]|和|及|与|以及|\band\b)\s*|\s+)/i;

/** The letters listed at `start` ("AB", "B、D", "A, C and E"), or null when there are none or a
 * standalone capital out of range is listed. Letters must stand alone: a Latin token counts only
 * when every letter of it is a valid option ("ABD" yes, "DNA" no). */
function lettersAt(text: string, start: number, valid: ReadonlySet<string>, allowLower: boolean): string[] | null {
  let i = start + (OPENERS.exec(text.slice(start))?.[0].length ?? 0);
  const letters: string[] = [];
  for (;;) {
    const token = /^[A-Za-z]+/.exec(text.slice(i))?.[0];
    if (!token) break;
    if (!allowLower && token !== token.toUpperCase()) break;
    const upper = token.toUpperCase();
    if (![...upper].every((c) => valid.has(c))) {
      if (/^[A-Z]$/.test(token)) return null; // "答案：F" with five options: no answer, not a guess
      break;
    }
    letters.push(...upper);
    i += token.length;
    const separator = SEPARATOR.exec(text.slice(i));
    if (!separator) break;
    i += separator[0].length;
  }
  return letters.length ? letters : null;
}

const EXPLICIT_ANSWER =
  /(?:正确答案|最终答案|参考答案|答案|正确选项|\banswer\b)(?:\s*(?:应该是|应该|应当|应为|应|就是|是|为|选择|选|:|：|\bis\b|=|】|\]|\*\*))*\s*/gi;
const CHOSE = /(?:我选择|选择|我选|选)(?:\s*(?:是|为|:|：))*\s*/g;

/** Letters a model chose for a multiple-choice item ("答案：AB", "B、D", "选C"), uppercase, sorted,
 * unique and within the first optionCount letters; null when none can be read. */
export function parseChoiceLetters(text: string, optionCount: number): string[] | null {
  const count = Math.min(26, Math.max(0, Math.floor(optionCount)));
  if (count === 0) return null;
  const valid = new Set(Array.from({length: count}, (_, i) => String.fromCharCode(65 + i)));
  const source = text.normalize('NFKC');
  const tidy = (letters: string[] | null): string[] | null => (letters ? [...new Set(letters)].sort() : null);
  for (const re of [EXPLICIT_ANSWER, CHOSE]) {
    for (const match of source.matchAll(re)) {
      const allowLower = !/answer/i.test(match[0]);
      const letters = lettersAt(source, match.index + match[0].length, valid, allowLower);
      if (letters) return tidy(letters);
    }
  }
  return tidy(lettersAt(source, 0, valid, false));
}

// ── Report ─────────────────────────────────────────────────────────────────────────────────────

const SOURCES: readonly ('judge' | 'human')[] = ['judge', 'human'];

/** The counts of one pair × dimension × source → a PairTally with its intervals. */
export function makeTally(
  key: {contestantA: string; contestantB: string; dimension: EvalDimension; source: 'judge' | 'human'},
  counts: {win: number; tie: number; loss: number; unparsed: number; inconsistent: number},
): PairTally {
  const n = counts.win + counts.tie + counts.loss;
  return {
    ...key,
    ...counts,
    n,
    winRate: wilson(counts.win, n),
    tieRate: wilson(counts.tie, n),
    lossRate: wilson(counts.loss, n),
    tieAwareWinRate: tieAwareWinRate(counts.win, counts.tie, n),
  };
}

interface OrientedVerdict {
  record: VerdictRecord;
  a: string;
  b: string;
  verdict: PairVerdict | null;
}

function tallies(verdicts: readonly OrientedVerdict[], rank: (id: string) => number): PairTally[] {
  const groups = new Map<string, {key: Parameters<typeof makeTally>[0]; counts: Parameters<typeof makeTally>[1]}>();
  for (const v of verdicts) {
    const id = JSON.stringify([v.record.source, v.record.dimension, v.a, v.b]);
    let group = groups.get(id);
    if (!group) {
      group = {
        key: {contestantA: v.a, contestantB: v.b, dimension: v.record.dimension, source: v.record.source},
        counts: {win: 0, tie: 0, loss: 0, unparsed: 0, inconsistent: 0},
      };
      groups.set(id, group);
    }
    if (v.verdict === null) group.counts.unparsed++;
    else if (v.verdict === 'a') group.counts.win++;
    else if (v.verdict === 'b') group.counts.loss++;
    else {
      group.counts.tie++;
      if (v.record.inconsistent) group.counts.inconsistent++;
    }
  }
  return [...groups.values()]
    .sort(
      (p, q) =>
        SOURCES.indexOf(p.key.source) - SOURCES.indexOf(q.key.source) ||
        EVAL_DIMENSIONS.indexOf(p.key.dimension) - EVAL_DIMENSIONS.indexOf(q.key.dimension) ||
        rank(p.key.contestantA) - rank(q.key.contestantA) ||
        rank(p.key.contestantB) - rank(q.key.contestantB),
    )
    .map((g) => makeTally(g.key, g.counts));
}

const sameSet = (expected: readonly string[], given: readonly string[]): boolean => {
  const e = new Set(expected.map((x) => x.trim().toUpperCase()));
  const g = new Set(given.map((x) => x.trim().toUpperCase()));
  return e.size === g.size && [...e].every((x) => g.has(x));
};

/** Every number of the report, recomputed from the stored verdicts and answers only.
 * A record whose contestantA comes after its contestantB in the list is turned round (verdict
 * flipped); contestants missing from the list come after it, in order of first appearance. */
export function buildReport(input: {contestants: readonly {id: string; label: string}[]; verdicts: readonly VerdictRecord[]; answers: readonly AnswerFacts[]}): EvalReport {
  const order = new Map<string, number>();
  for (const c of input.contestants) if (!order.has(c.id)) order.set(c.id, order.size);
  for (const v of input.verdicts) for (const id of [v.contestantA, v.contestantB]) if (!order.has(id)) order.set(id, order.size);
  const rank = (id: string): number => order.get(id)!;

  const oriented: OrientedVerdict[] = input.verdicts.map((record) => {
    if (rank(record.contestantA) <= rank(record.contestantB)) return {record, a: record.contestantA, b: record.contestantB, verdict: record.verdict};
    const flipped: PairVerdict | null = record.verdict === 'a' ? 'b' : record.verdict === 'b' ? 'a' : record.verdict;
    return {record, a: record.contestantB, b: record.contestantA, verdict: flipped};
  });

  // departments, most items first
  const departments = new Map<string, {items: Set<string>; verdicts: OrientedVerdict[]}>();
  for (const v of oriented) {
    const name = v.record.department ?? '';
    let d = departments.get(name);
    if (!d) departments.set(name, (d = {items: new Set(), verdicts: []}));
    d.items.add(v.record.itemId);
    d.verdicts.push(v);
  }
  const byDepartment = [...departments.entries()]
    .sort(([p, dp], [q, dq]) => dq.items.size - dp.items.size || (p < q ? -1 : p > q ? 1 : 0))
    .map(([department, d]) => ({department, tallies: tallies(d.verdicts, rank)}));

  // human agreement: one verdict per rater per (item, pair, dimension), the last one recorded
  const units = new Map<string, Map<string, PairVerdict>>();
  for (const v of oriented) {
    if (v.record.source !== 'human' || v.verdict === null) continue;
    const id = JSON.stringify([v.record.itemId, v.a, v.b, v.record.dimension]);
    let unit = units.get(id);
    if (!unit) units.set(id, (unit = new Map()));
    unit.set(v.record.rater, v.verdict);
  }
  const agreement = raterAgreement([...units.values()].map((u) => [...u.values()]).filter((u) => u.length >= 2));

  const judged = oriented.filter((v) => v.record.source === 'judge' && v.verdict !== null);

  const labels = new Map(input.contestants.map((c) => [c.id, c.label]));
  const contestantIds = [...new Set([...input.contestants.map((c) => c.id), ...input.answers.map((a) => a.contestantId)])];
  const contestants: ContestantStats[] = contestantIds.map((id) => {
    const answers = input.answers.filter((a) => a.contestantId === id);
    const refusals = answers.filter((a) => a.subset === 'safety').flatMap((a) => a.refusals);
    const choices = answers.filter((a) => a.choice).map((a) => a.choice!);
    const accuracy = (subset: typeof choices): Interval => wilson(subset.filter((c) => c.given !== null && sameSet(c.expected, c.given)).length, subset.length);
    const single = choices.filter((c) => c.expected.length === 1);
    const multi = choices.filter((c) => c.expected.length > 1);
    return {
      contestantId: id,
      label: labels.get(id) ?? id,
      answers: answers.length,
      meanLength: answers.length ? answers.reduce((s, a) => s + a.length, 0) / answers.length : 0,
      refusalRate: refusals.length ? wilson(refusals.filter(Boolean).length, refusals.length) : null,
      choiceAccuracy: choices.length
        ? {
            all: accuracy(choices),
            single: single.length ? accuracy(single) : null,
            multi: multi.length ? accuracy(multi) : null,
            unparsed: choices.filter((c) => c.given === null).length,
            byLikelihood: ((scored) => (scored.length ? wilson(scored.filter((c) => c.likely === c.expected[0]).length, scored.length) : null))(
              single.filter((c) => typeof c.likely === 'string'),
            ),
          }
        : null,
    };
  });

  return {
    contestants,
    overall: tallies(oriented, rank),
    byDepartment,
    safetySubset: tallies(oriented.filter((v) => v.record.subset === 'safety'), rank),
    agreement,
    orderInconsistency: {inconsistent: judged.filter((v) => v.record.inconsistent).length, judged: judged.length},
  };
}

// ── Agreement ──────────────────────────────────────────────────────────────────────────────────

/** Fleiss' κ from per-unit category counts (any number of categories, raters may vary per unit;
 * units with fewer than two ratings are left out): P_i = Σ_j n_ij(n_ij − 1) / (n_i(n_i − 1)),
 * P̄ their mean, P_e = Σ_j p_j² from the pooled category shares. kappa null when P_e = 1. */
export function fleissKappa(counts: readonly (readonly number[])[]): {units: number; meanAgreement: number | null; expectedAgreement: number | null; kappa: number | null} {
  const rated = counts.filter((row) => row.reduce((s, x) => s + x, 0) >= 2);
  if (rated.length === 0) return {units: 0, meanAgreement: null, expectedAgreement: null, kappa: null};
  const categories = Math.max(...rated.map((row) => row.length));
  const totals = new Array<number>(categories).fill(0);
  let all = 0;
  let sumP = 0;
  for (const row of rated) {
    const n = row.reduce((s, x) => s + x, 0);
    sumP += row.reduce((s, x) => s + x * (x - 1), 0) / (n * (n - 1));
    row.forEach((x, j) => (totals[j]! += x));
    all += n;
  }
  const meanAgreement = sumP / rated.length;
  const expectedAgreement = totals.reduce((s, t) => s + (t / all) ** 2, 0);
  const kappa = Math.abs(1 - expectedAgreement) < 1e-12 ? null : (meanAgreement - expectedAgreement) / (1 - expectedAgreement);
  return {units: rated.length, meanAgreement, expectedAgreement, kappa};
}

/** Percent agreement and Fleiss' κ over units rated by ≥ 2 raters (categories a / tie / b). */
export function raterAgreement(units: readonly (readonly PairVerdict[])[]): {units: number; percentAgreement: number | null; fleissKappa: number | null} {
  const categories: readonly PairVerdict[] = ['a', 'tie', 'b'];
  const f = fleissKappa(units.map((unit) => categories.map((c) => unit.filter((v) => v === c).length)));
  return {units: f.units, percentAgreement: f.meanAgreement, fleissKappa: f.kappa};
}

// ── Chart ──────────────────────────────────────────────────────────────────────────────────────

/** Text for XML/HTML content and attribute values; characters XML forbids are dropped. */
export function escapeXml(text: string): string {
  return text
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

export const BAR_COLOURS = {win: '#2e7d32', tie: '#9e9e9e', loss: '#c62828'} as const;

const fix = (x: number): string => (Math.round(x * 10) / 10).toString();
/** Rough width in px of 12 px sans-serif text: CJK and other wide characters count double. */
const textWidth = (text: string): number => [...text].reduce((w, c) => w + (c.charCodeAt(0) > 0x2e7f ? 12 : 7), 0);
const percent = (x: number): string => `${Math.round(x * 100)}%`;
/** The text cut (with …) to fit `px`. */
function fitWidth(text: string, px: number): string {
  if (textWidth(text) <= px) return text;
  let out = '';
  for (const c of text) {
    if (textWidth(out + c) + 12 > px) break;
    out += c;
  }
  return out + '…';
}

/** Horizontal stacked win/tie/loss bars with a whisker for the tie-aware win rate's 95 % interval
 * (the figure the tables beside it give, so chart and table never show two intervals for one
 * comparison), as an SVG string (no script, no external reference; every text escaped). Used by
 * the screen and the HTML export. */
export function stackedBarsSvg(
  rows: readonly {label: string; tally: PairTally}[],
  labels: {win: string; tie: string; loss: string; /** the word for unparsed verdicts, shown after n */ unparsed?: string; /** the whisker's legend */ interval?: string},
): string {
  const width = 640;
  const labelWidth = 180;
  const barX = labelWidth + 10;
  const barWidth = 330;
  const rowHeight = 30;
  const barHeight = 18;
  const top = 10;
  const legendY = top + rows.length * rowHeight + 12;
  const height = legendY + 24;
  const font = 'font-family="sans-serif" font-size="12"';
  const summary = rows
    .map((r) => `${r.label}: ${labels.win} ${r.tally.win}, ${labels.tie} ${r.tally.tie}, ${labels.loss} ${r.tally.loss} (n = ${r.tally.n})`)
    .join('; ');
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="${escapeXml(summary || `${labels.win} / ${labels.tie} / ${labels.loss}`)}">`,
  ];
  rows.forEach((row, i) => {
    const t = row.tally;
    const y = top + i * rowHeight;
    const mid = y + barHeight / 2;
    out.push(`<g>`);
    out.push(`<title>${escapeXml(`${row.label} — ${labels.win} ${t.win} · ${labels.tie} ${t.tie} · ${labels.loss} ${t.loss} · n = ${t.n}`)}</title>`);
    out.push(`<text x="${labelWidth}" y="${fix(mid + 4)}" text-anchor="end" ${font} fill="#222">${escapeXml(fitWidth(row.label, labelWidth - 4))}</text>`);
    if (t.n === 0) {
      out.push(`<rect x="${barX}" y="${y}" width="${barWidth}" height="${barHeight}" fill="none" stroke="#bbb"/>`);
    } else {
      let x = barX;
      for (const part of ['win', 'tie', 'loss'] as const) {
        const count = t[part];
        const w = (barWidth * count) / t.n;
        if (w <= 0) continue;
        out.push(`<rect x="${fix(x)}" y="${y}" width="${fix(w)}" height="${barHeight}" fill="${BAR_COLOURS[part]}"/>`);
        const both = `${count} · ${percent(count / t.n)}`;
        if (w >= textWidth(both) + 6) out.push(`<text x="${fix(x + w / 2)}" y="${fix(mid + 4)}" text-anchor="middle" ${font} fill="#fff">${both}</text>`);
        else if (w >= textWidth(String(count)) + 4) out.push(`<text x="${fix(x + w / 2)}" y="${fix(mid + 4)}" text-anchor="middle" ${font} fill="#fff">${count}</text>`);
        x += w;
      }
      // whisker: the tie-aware win rate (win + tie/2) / n with its 95 % interval
      const lo = barX + barWidth * t.tieAwareWinRate.low;
      const hi = barX + barWidth * t.tieAwareWinRate.high;
      const wy = y + barHeight + 4;
      out.push(`<line x1="${fix(lo)}" y1="${fix(wy)}" x2="${fix(hi)}" y2="${fix(wy)}" stroke="#222" stroke-width="1.5"/>`);
      out.push(`<line x1="${fix(lo)}" y1="${fix(wy - 3)}" x2="${fix(lo)}" y2="${fix(wy + 3)}" stroke="#222" stroke-width="1.5"/>`);
      out.push(`<line x1="${fix(hi)}" y1="${fix(wy - 3)}" x2="${fix(hi)}" y2="${fix(wy + 3)}" stroke="#222" stroke-width="1.5"/>`);
      out.push(`<circle cx="${fix(barX + barWidth * t.tieAwareWinRate.value)}" cy="${fix(wy)}" r="2" fill="#222"/>`);
    }
    const unparsed = t.unparsed ? ` · ${labels.unparsed ? `${labels.unparsed} ` : '?'}${t.unparsed}` : '';
    out.push(`<text x="${barX + barWidth + 8}" y="${fix(mid + 4)}" ${font} fill="#222">${escapeXml(`n = ${t.n}${unparsed}`)}</text>`);
    out.push(`</g>`);
  });
  let lx = barX;
  for (const part of ['win', 'tie', 'loss'] as const) {
    out.push(`<rect x="${lx}" y="${legendY}" width="12" height="12" fill="${BAR_COLOURS[part]}"/>`);
    out.push(`<text x="${lx + 16}" y="${legendY + 10}" ${font} fill="#222">${escapeXml(labels[part])}</text>`);
    lx += 16 + Math.min(140, textWidth(labels[part]) + 20);
  }
  out.push(`<line x1="${lx}" y1="${legendY + 6}" x2="${lx + 20}" y2="${legendY + 6}" stroke="#222" stroke-width="1.5"/>`);
  out.push(`<text x="${lx + 24}" y="${legendY + 10}" ${font} fill="#222">${escapeXml(labels.interval ?? `(${labels.win} + ${labels.tie}/2) / n, 95% CI`)}</text>`);
  out.push('</svg>');
  return out.join('');
}
