import {test} from 'node:test';
import assert from 'node:assert/strict';
import type {AnswerMarks, ItemAnnotation, Ranking} from '../../main/common/annotation.js';
import {
  ABILITIES,
  ANNOTATION_GUIDELINE,
  abilitiesNeeded,
  marksStillNeeded,
  rankingFromMarksIn,
  DIMENSIONS,
  alphaUnitsFromRankings,
  consensus,
  disagreement,
  isStrictRanking,
  kendallTauB,
  krippendorffAlphaOrdinal,
  meanRanks,
  midRanks,
  missingMarks,
  preferencePairs,
  rankingFromMarks,
  rankingFromOrder,
  rankingProblem,
  resolveFinal,
  withCorrection,
} from '../../main/common/annotation.js';

const close = (actual: number | null, expected: number, eps = 1e-9): void =>
  assert.ok(actual !== null && Math.abs(actual - expected) < eps, `${actual} ≉ ${expected}`);

test('rubric: 3 dimensions × 3 abilities, Safety first, every ability in exactly one dimension', () => {
  assert.deepEqual(DIMENSIONS.map((d) => d.id), ['safety', 'professionalism', 'fluency']);
  assert.deepEqual(DIMENSIONS.flatMap((d) => d.abilities).sort(), ABILITIES.map((a) => a.id).sort());
  for (const a of ABILITIES) assert.ok(DIMENSIONS.find((d) => d.id === a.dimension)!.abilities.includes(a.id));
  for (const lang of ['zh-CN', 'en'] as const) for (const text of Object.values(ANNOTATION_GUIDELINE[lang])) assert.ok(text.length > 4);
  assert.match(ANNOTATION_GUIDELINE['zh-CN'].allWrong, /抱歉，我不知道……/);
  assert.match(ANNOTATION_GUIDELINE.en.abilities, /Warm tone/);
});

test('rankingProblem and midRanks', () => {
  assert.equal(rankingProblem([[1], [0, 2]], 3), null);
  assert.match(rankingProblem([[1], [1, 2]], 3)!.en, /twice/);
  assert.match(rankingProblem([[1], [1, 2]], 3)!.zh, /出现了两次/);
  assert.match(rankingProblem([[1], [2]], 3)!.en, /2 of 3/);
  assert.match(rankingProblem([[1], [2]], 3)!.zh, /3 个候选中的 2 个/);
  assert.match(rankingProblem([[0], []], 1)!.en, /empty/);
  assert.match(rankingProblem([[0, 3]], 2)!.en, /out of range/);
  // positions 2 and 3 are shared by candidates 0 and 2 → 2.5 each
  assert.deepEqual(midRanks([[1], [0, 2]]), [2.5, 1, 2.5]);
  assert.throws(() => midRanks([[0], [0]]), /twice/);
});

test('preferencePairs: C(K,2) ordered pairs for a strict ranking, none inside a tie', () => {
  for (let k = 1; k <= 7; k++) {
    const strict = rankingFromOrder(Array.from({length: k}, (_, i) => (i + 2) % k)); // a rotation
    const pairs = preferencePairs(strict);
    assert.equal(pairs.length, (k * (k - 1)) / 2);
    const pos = midRanks(strict);
    for (const {better, worse} of pairs) assert.ok(pos[better]! < pos[worse]!);
  }
  assert.deepEqual(preferencePairs([[2], [0, 3], [1]]), [
    {better: 2, worse: 0}, {better: 2, worse: 3}, {better: 2, worse: 1},
    {better: 0, worse: 1}, {better: 3, worse: 1},
  ]); // 6 − 1 tied pair (0,3) = 5
  assert.deepEqual(preferencePairs([[0, 1, 2, 3]]), []);
});

test('Kendall τ-b: known values, with and without ties', () => {
  const strict = rankingFromOrder([0, 1, 2, 3]);
  assert.equal(kendallTauB(strict, strict), 1);
  assert.equal(kendallTauB(strict, rankingFromOrder([3, 2, 1, 0])), -1);
  // one adjacent swap: 5 concordant, 1 discordant of n0 = 6 → 4/6
  close(kendallTauB(strict, rankingFromOrder([1, 0, 2, 3])), 2 / 3);
  // b ties 0 and 1: n_c = 5, n_d = 0, n0 = 6, n1 = 0, n2 = 1 → 5/√(6·5) = 0.912871 (scipy: 0.9128709)
  close(kendallTauB(strict, [[0, 1], [2], [3]]), 5 / Math.sqrt(30));
  // a ties {0,1}, b ties {1,2}: pairs 02,03,13,23 concordant, 01 and 12 tied → 4/√(5·5) = 0.8
  close(kendallTauB([[0, 1], [2], [3]], [[0], [1, 2], [3]]), 0.8);
  // symmetric
  close(kendallTauB([[0], [1, 2], [3]], [[0, 1], [2], [3]]), 0.8);
  // defined where τ-b is 0/0: both all-tied → 1, one all-tied → 0
  assert.equal(kendallTauB([[0, 1, 2]], [[2, 1, 0]]), 1);
  assert.equal(kendallTauB([[0, 1, 2]], rankingFromOrder([0, 1, 2])), 0);
  assert.equal(kendallTauB(rankingFromOrder([0, 1, 2]), [[0, 1, 2]]), 0);
  assert.equal(kendallTauB([[0]], [[0]]), 1);
});

test("Krippendorff's α (ordinal): his worked example, 4 coders × 12 units with missing values", () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", reliability data:
  const _ = null;
  const A = [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _];
  const B = [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3];
  const C = [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _];
  const D = [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _];
  const units = A.map((_, u) => [A[u], B[u], C[u], D[u]]);
  // By hand: unit 12 has one value (not pairable); m_u = 3,4,4,4,4,4,4,4,4,3,2 for the rest.
  // Coincidence matrix o (each ordered pair within a unit weighs 1/(m_u − 1)):
  //        1     2     3     4    5
  //   1 [  7,  4/3,  1/3,  1/3,  0]   n_1 = 9
  //   2 [4/3,   10,  4/3,  1/3,  0]   n_2 = 13
  //   3 [1/3,  4/3,    8,  1/3,  0]   n_3 = 10
  //   4 [1/3,  1/3,  1/3,    4,  0]   n_4 = 5
  //   5 [  0,    0,    0,    0,  3]   n_5 = 3          n = 40
  // Ordinal δ²_ck = (Σ_{g=c..k} n_g − (n_c+n_k)/2)²: δ²12 = (22−11)² = 121, δ²13 = 22.5² = 506.25,
  // δ²14 = 30² = 900, δ²15 = 34² = 1156, δ²23 = 11.5² = 132.25, δ²24 = 19² = 361, δ²25 = 23² = 529,
  // δ²34 = 7.5² = 56.25, δ²35 = 11.5² = 132.25, δ²45 = 4² = 16.
  // Σ o δ² = 2·(4/3·121 + 1/3·506.25 + 1/3·900 + 4/3·132.25 + 1/3·361 + 1/3·56.25) = 2·945.5 = 1891
  // Σ n_c n_k δ² = 2·(14157 + 45562.5 + 40500 + 31212 + 17192.5 + 23465 + 20631 + 2812.5
  //                  + 3967.5 + 240) = 2·199740 = 399480
  // α = 1 − (n−1)·1891/399480 = 1 − 39·1891/399480 = 1 − 73749/399480 = 0.81539 (published: 0.815)
  close(krippendorffAlphaOrdinal(units), 1 - 73749 / 399480);
  close(krippendorffAlphaOrdinal(units), 0.815, 5e-4);
  // coder order and unit order do not matter
  close(krippendorffAlphaOrdinal(units.map((u) => [...u].reverse()).reverse()), 1 - 73749 / 399480);
  // ordinal: only the order of values counts, not their spacing
  close(krippendorffAlphaOrdinal(units.map((u) => u.map((v) => (v == null ? null : v ** 3)))), 1 - 73749 / 399480);
});

test("Krippendorff's α: small hand example, perfect agreement, undefined cases", () => {
  // 2 coders, units (1,1), (1,2), (2,2): o11 = 2, o12 = o21 = 1, o22 = 2; n1 = n2 = 3, n = 6.
  // δ²12 = (3 + 3 − 3)² = 9; Σ o δ² = 2·9 = 18; Σ n n δ² = 2·3·3·9 = 162; α = 1 − 5·18/162 = 4/9
  close(krippendorffAlphaOrdinal([[1, 1], [1, 2], [2, 2]]), 4 / 9);
  assert.equal(krippendorffAlphaOrdinal([[1, 1], [2, 2], [3, 3, 3]]), 1);
  assert.equal(krippendorffAlphaOrdinal([[1, 1], [1, 1]]), null, 'no variation: undefined');
  assert.equal(krippendorffAlphaOrdinal([[1, null], [2]]), null, 'nothing pairable');
  // from rankings: identical rankings by two annotators on two items → 1; a third item ranked
  // by one annotator only adds unpairable units
  const r1: Ranking = [[0], [1], [2]];
  const r2: Ranking = [[2], [0, 1]];
  const units = alphaUnitsFromRankings([[r1, r1], [r2, r2], [r1, null]]);
  assert.equal(units.length, 9);
  assert.deepEqual(units[3], [2.5, 2.5]);
  assert.equal(krippendorffAlphaOrdinal(units), 1);
});

const marks = (s: number[], p: number[], f: number[]): AnswerMarks => ({
  accuracy: s[0], safety: s[1], ethics: s[2], comprehension: p[0], clarity: p[1], initiative: p[2],
  coherence: f[0], consistency: f[1], warmth: f[2],
}) as AnswerMarks;

test('rankingFromMarks: Safety beats any Professionalism/Fluency difference; ties when all equal', () => {
  const safe = marks([3, 3, 3], [1, 1, 1], [1, 1, 1]); // safety 9, everything else minimal
  const fluent = marks([3, 3, 2], [3, 3, 3], [3, 3, 3]); // one Safety point less, everything else maximal
  assert.deepEqual(rankingFromMarks([fluent, safe], 2), [[1], [0]]);
  // Safety equal → Professionalism decides even against a Fluency gap
  const pro = marks([2, 2, 2], [3, 3, 3], [1, 1, 1]);
  const warm = marks([2, 2, 2], [3, 3, 2], [3, 3, 3]);
  assert.deepEqual(rankingFromMarks([warm, pro], 2), [[1], [0]]);
  // within a dimension the sum counts: (3,1,2) equals (2,2,2)
  const a = marks([3, 1, 2], [2, 2, 2], [2, 2, 2]);
  const b = marks([2, 2, 2], [2, 2, 2], [2, 2, 2]);
  const c = marks([2, 2, 2], [2, 2, 2], [2, 2, 3]);
  assert.deepEqual(rankingFromMarks([a, b, c, safe], 4), [[3], [2], [0, 1]]);
  assert.throws(() => rankingFromMarks([a], 2), /expected 2/);
  assert.throws(() => rankingFromMarks([{accuracy: 3}, a], 2), /answer 0 has no mark for safety/);
  assert.deepEqual(missingMarks([{accuracy: 3}, a])[1], []);
  assert.equal(missingMarks([{accuracy: 3}])[0]!.length, 8);
});

test('disagreement: best differs, low τ, both, neither; configurable', () => {
  const base = rankingFromOrder([0, 1, 2, 3]);
  assert.deepEqual(disagreement(base, base), {disagree: false, reasons: [], tau: 1});
  // 1 and 0 swapped: τ = 2/3 ≥ 0.5 but the best differs
  assert.deepEqual(disagreement(base, rankingFromOrder([1, 0, 2, 3])).reasons, ['best-differs']);
  // same best, tail reversed: τ = (3 − 3)/6 = 0
  const tail = disagreement(base, rankingFromOrder([0, 3, 2, 1]));
  assert.deepEqual(tail.reasons, ['low-tau']);
  assert.equal(tail.tau, 0);
  assert.deepEqual(disagreement(base, rankingFromOrder([3, 2, 1, 0])).reasons, ['best-differs', 'low-tau']);
  // overlapping top tiers are not "best differs"
  assert.deepEqual(disagreement(base, [[0, 1], [2], [3]]).reasons, []);
  // one annotator ties everything: τ defined as 0 → adjudicate
  assert.deepEqual(disagreement(base, [[0, 1, 2, 3]]).reasons, ['low-tau']);
  assert.equal(disagreement(base, rankingFromOrder([1, 0, 2, 3]), {bestDiffers: false, minTau: 0.5}).disagree, false);
  assert.equal(disagreement(base, rankingFromOrder([0, 3, 2, 1]), {bestDiffers: true, minTau: -1}).disagree, false);
});

test('consensus: mean mid-rank (Borda), ties kept', () => {
  const a = rankingFromOrder([0, 1, 2, 3]);
  const b = rankingFromOrder([0, 2, 1, 3]);
  assert.deepEqual(meanRanks([a, b]), [1, 2.5, 2.5, 4]);
  assert.deepEqual(consensus([a, b]), [[0], [1, 2], [3]]);
  assert.deepEqual(consensus([a, a, b]), [[0], [1], [2], [3]]);
  assert.deepEqual(consensus([[[0, 1], [2]], [[0, 1], [2]]]), [[0, 1], [2]]);
  assert.ok(isStrictRanking(consensus([a])));
  assert.throws(() => consensus([]), /no rankings/);
});

const ann = (annotatorId: string, ranking: Ranking, at: string, extra: Partial<ItemAnnotation> = {}): ItemAnnotation =>
  ({annotatorId, role: 'annotator', ranking, allWrong: false, annotatedAt: `2026-11-0${at}T00:00:00.000Z`, ...extra});

test('resolveFinal: single, consensus, conflicts, adjudication, all-wrong', () => {
  const a = rankingFromOrder([0, 1, 2, 3]);
  const b = rankingFromOrder([0, 2, 1, 3]);
  assert.deepEqual(resolveFinal([]), {status: 'unannotated'});
  assert.equal((resolveFinal([ann('x', a, '1')]) as {method: string}).method, 'single');
  const agreed = resolveFinal([ann('x', a, '1'), ann('y', b, '2')]);
  assert.deepEqual(agreed, {status: 'final', method: 'consensus', ranking: [[0], [1, 2], [3]], allWrong: false, correction: null});
  // x re-ranked later (newest counts) to something that conflicts with y
  const split = resolveFinal([ann('x', a, '1'), ann('y', b, '2'), ann('x', rankingFromOrder([3, 2, 1, 0]), '3')]);
  assert.equal(split.status, 'needs-adjudication');
  assert.deepEqual(split.status === 'needs-adjudication' && split.conflicts[0]!.reasons, ['best-differs', 'low-tau']);
  const wrongSplit = resolveFinal([ann('x', a, '1', {allWrong: true}), ann('y', a, '2')]);
  assert.deepEqual(wrongSplit.status === 'needs-adjudication' && wrongSplit.conflicts[0]!.reasons, ['all-wrong-differs']);
  const settled = resolveFinal([ann('x', a, '1'), ann('y', rankingFromOrder([3, 2, 1, 0]), '2'),
    ann('z', b, '3', {role: 'adjudicator', allWrong: true, correction: '抱歉，我不知道。建议尽快就医。'})]);
  assert.deepEqual(settled, {status: 'final', method: 'adjudicated', ranking: b, allWrong: true, correction: '抱歉，我不知道。建议尽快就医。'});
  const bothWrong = resolveFinal([ann('x', a, '1', {allWrong: true}), ann('y', a, '2', {allWrong: true, correction: '抱歉，我不知道……'})]);
  assert.deepEqual(bothWrong.status === 'final' && [bothWrong.allWrong, bothWrong.correction], [true, '抱歉，我不知道……']);
});

test('withCorrection puts the correction above every candidate', () => {
  const {candidates, ranking} = withCorrection(['a', 'b'], [[1], [0]], '抱歉，我不知道……');
  assert.deepEqual(candidates, ['a', 'b', '抱歉，我不知道……']);
  assert.deepEqual(ranking, [[2], [1], [0]]);
  assert.equal(preferencePairs(ranking).length, 3);
});

test('marking only what decides: Safety for all, later dimensions only for answers still tied', () => {
  const all = (safety: 1 | 2 | 3, pro: 1 | 2 | 3, flu: 1 | 2 | 3): AnswerMarks =>
    Object.fromEntries(DIMENSIONS.flatMap((d, i) => d.abilities.map((a) => [a, [safety, pro, flu][i]!]))) as AnswerMarks;
  const safetyOnly = (m: AnswerMarks): AnswerMarks => Object.fromEntries(Object.entries(m).filter(([a]) => DIMENSIONS[0]!.abilities.includes(a as never)));
  const full = [all(3, 1, 1), all(2, 3, 3), all(3, 2, 1), all(1, 3, 3)];
  const SAFETY = DIMENSIONS[0]!.abilities;

  // nothing marked: 'deciding' and 'safety' ask for Safety only (12 marks, not 36)
  assert.deepEqual(abilitiesNeeded([{}, {}, {}, {}], 4, 'deciding'), [SAFETY, SAFETY, SAFETY, SAFETY]);
  assert.equal(marksStillNeeded([{}, {}, {}, {}], 4, 'deciding'), 12);
  assert.equal(marksStillNeeded([{}, {}, {}, {}], 4, 'safety'), 12);
  assert.equal(marksStillNeeded([{}, {}, {}, {}], 4, 'all'), 36);

  // Safety marked: 0 and 2 tie on Safety, so only they need Professionalism
  const safetyMarked = full.map(safetyOnly);
  assert.equal(rankingFromMarksIn(safetyMarked, 4, 'deciding'), null, 'the tie is not settled yet');
  assert.deepEqual(abilitiesNeeded(safetyMarked, 4, 'deciding').map((ids) => ids.length), [6, 3, 6, 3]);
  assert.equal(marksStillNeeded(safetyMarked, 4, 'deciding'), 6);
  // 'safety' stops here: the tie stays a tie, to be ordered by hand
  assert.deepEqual(rankingFromMarksIn(safetyMarked, 4, 'safety'), [[0, 2], [1], [3]]);

  // Professionalism for the two tied answers settles it; Fluency is never asked for
  const decided = [full[0]!, safetyMarked[1]!, full[2]!, safetyMarked[3]!].map((m, i) =>
    i === 0 || i === 2 ? Object.fromEntries(Object.entries(m).filter(([a]) => !DIMENSIONS[2]!.abilities.includes(a as never))) : m,
  );
  assert.equal(marksStillNeeded(decided, 4, 'deciding'), 0);
  assert.deepEqual(rankingFromMarksIn(decided, 4, 'deciding'), [[2], [0], [1], [3]]);
  // the same order the full rubric gives, with 18 marks instead of 36
  assert.deepEqual(rankingFromMarksIn(full, 4, 'all'), rankingFromMarks(full, 4));
  assert.deepEqual(rankingFromMarksIn(full, 4, 'deciding'), rankingFromMarks(full, 4));
  assert.equal(rankingFromMarksIn(decided, 4, 'all'), null, "'all' still needs every mark");
  // answers equal on every dimension stay tied
  assert.deepEqual(rankingFromMarksIn([all(2, 2, 2), all(2, 2, 2)], 2, 'deciding'), [[0, 1]]);
});
