// Mix planning: which rows of which datasets make up a training mix, in which order, and which
// are held out for validation. Pure and seeded: the same inputs and seed give the same plan.
//
// Ratios count examples, or approximate tokens. Token counts use characters as the proxy (a
// Chinese character is roughly one token for the tokenizers of Qwen/Baichuan/LLaMA-Chinese
// vocabularies; English is ~4 characters per token, so a mostly-English dataset is over-weighted
// by this proxy). Without a total, the mix is the largest that the scarcest component allows
// without repeating a row; with a larger total, rows are repeated (each pass reshuffled).
//
// The validation split is drawn per component (stratified), by row: a row that appears twice
// is in the same split both times, so repeats never leak validation rows into training.

import type {RowKind} from '../../common/datasets.js';
import {mulberry32, shuffleInPlace} from '../../common/random.js';

export interface RowShape {
  position: number;
  kind: RowKind;
  /** user turns (the prompt's turns for a preference row) */
  userTurns: number;
  chars: number;
}

export interface MixComponentInput {
  datasetId: string;
  rows: RowShape[];
  ratio: number;
  filter?: 'single' | 'multi' | 'any';
}

export interface MixPlanRecipe {
  unit: 'examples' | 'tokens';
  total?: number;
  seed: number;
  validationFraction: number;
}

export interface MixPick {
  componentIndex: number;
  position: number;
  split: 'train' | 'validation';
}

export interface MixPlan {
  picks: MixPick[];
  achieved: {componentIndex: number; examples: number; tokens: number}[];
}

function eligible(rows: RowShape[], filter: MixComponentInput['filter']): RowShape[] {
  if (!filter || filter === 'any') return rows;
  return rows.filter((r) => r.kind !== 'text' && (filter === 'single' ? r.userTurns === 1 : r.userTurns >= 2));
}

/** Splits `total` over the weights, rounding so that the parts add up exactly (largest remainder). */
function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => ({i, r: x - Math.floor(x)})).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k = (k + 1) % order.length, left--) parts[order[k]!.i]!++;
  return parts;
}

interface Prepared {
  pools: RowShape[][];
  targets: number[];
  size: (r: RowShape) => number;
}

/** The shuffled pools and each component's target (examples, or tokens); null when nothing can be drawn. */
function prepare(components: MixComponentInput[], recipe: MixPlanRecipe): Prepared | null {
  const seed = Math.trunc(recipe.seed);
  const pools = components.map((c, i) => shuffleInPlace([...eligible(c.rows, c.filter)], mulberry32(seed ^ ((i + 1) * 0x9e3779b1))));
  const weights = components.map((c) => Math.max(0, c.ratio));
  const weightSum = weights.reduce((a, b) => a + b, 0);
  if (components.length === 0 || weightSum === 0 || pools.some((p, i) => p.length === 0 && weights[i]! > 0)) return null;

  const size = (r: RowShape) => (recipe.unit === 'tokens' ? Math.max(1, r.chars) : 1);
  const available = pools.map((p) => p.reduce((n, r) => n + size(r), 0));
  // default: the largest total for which no component has to repeat a row; with whole-number
  // ratios counted in examples, a multiple of their sum, so 7:1 is exactly 7:1 and not 39:6
  const largest = Math.min(...weights.map((w, i) => (w > 0 ? (available[i]! * weightSum) / w : Infinity)).map((x) => Math.floor(x + 1e-9)));
  const wholeRatios = recipe.unit === 'examples' && weights.every((w) => Number.isInteger(w));
  const exactUnits = wholeRatios ? Math.min(...weights.map((w, i) => (w > 0 ? Math.floor(available[i]! / w) : Infinity))) : 0;
  const total = recipe.total ?? (exactUnits >= 1 ? exactUnits * weightSum : largest);
  const targets = recipe.unit === 'examples' ? apportion(total, weights) : weights.map((w) => (total * w) / weightSum);
  return {pools, targets, size};
}

export interface MixSize {
  /** rows the plan would have (tokens: estimated from each component's mean row size) */
  rows: number;
  /** the component whose rows would repeat most, and about how many times each */
  mostRepeated: {componentIndex: number; available: number; times: number} | null;
}

/** How many rows planMix would pick, without picking them: a total can ask for far more rows
 * than fit in memory (`total: 10000000` on a 12-row dataset), so the caller checks this first. */
export function mixSize(components: MixComponentInput[], recipe: MixPlanRecipe): MixSize {
  const prepared = prepare(components, recipe);
  if (!prepared) return {rows: 0, mostRepeated: null};
  let rows = 0;
  let mostRepeated: MixSize['mostRepeated'] = null;
  prepared.pools.forEach((pool, componentIndex) => {
    const target = prepared.targets[componentIndex]!;
    if (target <= 0) return;
    const available = pool.reduce((n, r) => n + prepared.size(r), 0);
    const picked = recipe.unit === 'examples' ? target : Math.ceil((target * pool.length) / available);
    rows += picked;
    const times = Math.ceil(picked / pool.length);
    if (!mostRepeated || times > mostRepeated.times) mostRepeated = {componentIndex, available: pool.length, times};
  });
  return {rows, mostRepeated};
}

export function planMix(components: MixComponentInput[], recipe: MixPlanRecipe): MixPlan {
  const seed = Math.trunc(recipe.seed);
  const prepared = prepare(components, recipe);
  if (!prepared) return {picks: [], achieved: components.map((_, componentIndex) => ({componentIndex, examples: 0, tokens: 0}))};
  const {pools, targets, size} = prepared;

  const picks: MixPick[] = [];
  const achieved = components.map((_, componentIndex) => ({componentIndex, examples: 0, tokens: 0}));
  pools.forEach((pool, componentIndex) => {
    const target = targets[componentIndex]!;
    if (target <= 0) return;
    const random = mulberry32(seed ^ ((componentIndex + 1) * 0x85ebca6b));
    let order = pool;
    let amount = 0;
    const chosen: RowShape[] = [];
    for (let k = 0; amount < target; k++) {
      if (k === order.length) {
        order = shuffleInPlace([...pool], random); // a further pass: only when the total asks for repeats
        k = 0;
      }
      const row = order[k]!;
      // tokens: stop at the row that gets closest to the target
      if (recipe.unit === 'tokens' && amount > 0 && amount + size(row) - target > target - amount) break;
      chosen.push(row);
      amount += size(row);
    }
    // validation: whole rows (all their repeats), in shuffled order, until the fraction of this
    // component's examples is reached
    const validation = new Set<number>();
    const wanted = Math.round(chosen.length * recipe.validationFraction);
    const times = new Map<RowShape, number>();
    for (const row of chosen) times.set(row, (times.get(row) ?? 0) + 1);
    let held = 0;
    for (const row of pool) {
      if (held >= wanted) break;
      const n = times.get(row);
      if (n === undefined || held + n > wanted + n / 2) continue;
      validation.add(row.position);
      held += n;
    }
    for (const row of chosen) {
      picks.push({componentIndex, position: row.position, split: validation.has(row.position) ? 'validation' : 'train'});
      achieved[componentIndex]!.examples++;
      achieved[componentIndex]!.tokens += Math.max(0, row.chars);
    }
  });
  return {picks: shuffleInPlace(picks, mulberry32(seed ^ 0x27d4eb2f)), achieved};
}
