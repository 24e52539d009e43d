// The arithmetic of the hand-drawn line charts (training curves): round axis ticks and thinning
// long series. No chart library: the app is offline and its CSP allows nothing remote, and the
// little that is needed fits here.

export interface Point {
  x: number;
  y: number;
}

/** How a line is stroked. Colour alone cannot tell series apart (colour-blind readers, a
 * grey-scale print), so each series of a chart has its own pattern, drawn alike in the legend. */
export type LineStyle = 'solid' | 'dashed' | 'dotted' | 'dashdot';
/** The mark on each point of a series measured only now and then (an evaluation every few steps). */
export type MarkerShape = 'circle' | 'square';

export interface ChartSeries {
  label: string;
  points: readonly Point[];
  /** the colour: main; faint, the raw line under a smoothed one; second, the other colour */
  tone: 'main' | 'faint' | 'second';
  /** the stroke; without it, the tone's own (second: dashed, the others solid) */
  line?: LineStyle;
  marker?: MarkerShape;
  /** left out of the read-out (the smoothed line repeats the raw one) */
  quiet?: boolean;
  /** what the read-out gives instead of the drawn points: a smoothed line alone on a chart (the
   * comparison has no room for a faint raw line under each run's) reads out the raw values under
   * its raw label, as a run's own chart does, never a smoothed number passed off as measured */
  readout?: {label: string; points: readonly Point[]};
}

/** What the plotted quantity can be at all: an accuracy or a fraction lies in [0, 1], a loss or a
 * length is never below 0. The axis stops there, so it never offers room the value cannot take. */
export interface ChartBounds {
  min?: number;
  max?: number;
}

export const FRACTION: ChartBounds = {min: 0, max: 1};
export const NON_NEGATIVE: ChartBounds = {min: 0};

/** The series' stroke pattern: its own, or its tone's (second: dashed, the others solid). */
export function lineStyle(series: Pick<ChartSeries, 'tone' | 'line'>): LineStyle {
  return series.line ?? (series.tone === 'second' ? 'dashed' : 'solid');
}

/** The series' stroke as SVG's stroke-dasharray (empty for solid), for the plot and the legend
 * alike. The dotted one's near-zero dashes are drawn with round caps: dots. */
export function dashArray(series: Pick<ChartSeries, 'tone' | 'line'>): string {
  return {solid: '', dashed: '6 4', dotted: '0.1 4.5', dashdot: '9 3.5 1.5 3.5'}[lineStyle(series)];
}

/** The length of one repeat of the series' stroke pattern in px (0 for solid). */
export function dashPeriod(series: Pick<ChartSeries, 'tone' | 'line'>): number {
  return dashArray(series)
    .split(' ')
    .filter(Boolean)
    .reduce((sum, part) => sum + Number(part), 0);
}

export interface Swatch {
  width: number;
  x1: number;
  x2: number;
  /** where a marker goes, and its radius */
  marker: {x: number; r: number} | null;
}

const SWATCH_WIDTH = 40;
const MARKER_R = 3;

/** The legend's sample of a series: its stroke and, for a sparse series, its marker. The marker
 * sits at the end of the sample, not on its middle: there it covered the dot of the dash-dot
 * pattern, and B's held-out line read as solid. Before it, the line shows at least one whole
 * period of every pattern. */
export function swatchLayout(series: Pick<ChartSeries, 'marker'>): Swatch {
  const marker = series.marker ? {x: SWATCH_WIDTH - 1 - MARKER_R, r: MARKER_R} : null;
  return {width: SWATCH_WIDTH, x1: 1, x2: SWATCH_WIDTH - 1, marker};
}

/** The read-out of one series at step `x`: its label and value there (for a smoothed line, the
 * raw ones it carries for the purpose), or null where it has no point at that step. */
export function readoutAt(series: Pick<ChartSeries, 'label' | 'points' | 'readout'>, x: number): {label: string; value: number} | null {
  const label = series.readout?.label ?? series.label;
  const point = (series.readout?.points ?? series.points).find((p) => p.x === x);
  return point ? {label, value: point.y} : null;
}

/** The look of series `nth` (0, 1 …) of run `run` (0 = A, 1 = B) when two runs share a chart:
 * the run is the colour and, for whoever cannot tell colours apart, solid lines against dashed
 * ones; the series within a run differs by its pattern too (A: solid/dotted, B: dashed/dash-dot),
 * and a series measured only now and then gets markers of the run's own shape. No two of the four
 * lines look alike, in the plot or in the legend. */
export function compareStyle(run: 0 | 1, nth: number, sparse: boolean): Pick<ChartSeries, 'tone' | 'line' | 'marker'> {
  const lines: LineStyle[][] = [
    ['solid', 'dotted'],
    ['dashed', 'dashdot'],
  ];
  return {
    tone: run === 0 ? 'main' : 'second',
    line: lines[run]![nth % 2]!,
    ...(sparse ? {marker: run === 0 ? 'circle' : 'square'} : {}),
  };
}

/** The bounds two quantities share on one chart: the wider of each (none where either has none). */
export function widestBounds(a: ChartBounds, b: ChartBounds): ChartBounds {
  return {
    ...(a.min !== undefined && b.min !== undefined ? {min: Math.min(a.min, b.min)} : {}),
    ...(a.max !== undefined && b.max !== undefined ? {max: Math.max(a.max, b.max)} : {}),
  };
}

/** About `count` round ticks (1, 2 or 5 × 10^k apart) covering [min, max], and how many decimals
 * their labels need. A flat series (min = max) still gets a band around its value. */
export function niceTicks(min: number, max: number, count = 5): {ticks: number[]; decimals: number; min: number; max: number} {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return {ticks: [0, 1], decimals: 0, min: 0, max: 1};
  if (min === max) {
    const pad = Math.abs(min) * 0.1 || 1;
    min -= pad;
    max += pad;
  }
  const raw = (max - min) / Math.max(1, count - 1);
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw) ?? 10 * magnitude;
  // + 0 turns the −0 of rounding a small negative up into 0
  const start = Math.floor(min / step) * step + 0;
  const end = Math.ceil(max / step) * step + 0;
  const ticks: number[] = [];
  for (let value = start; value <= end + step / 2; value += step) ticks.push(Number(value.toPrecision(12)) + 0);
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return {ticks, decimals, min: start, max: end};
}

export interface Axis {
  ticks: number[];
  decimals: number;
  min: number;
  max: number;
}

/** The y axis for `values`: round ticks over the data, ending where the data ends when that is a
 * round number (an accuracy peaking at 1.0 gets an axis ending at 1.0, not at 1.5 for the sake
 * of a few per cent of air), and never past `bounds`: a flat 0 % clip fraction gets 0–1, not
 * −1–1. A series that never goes below 0 gets no negative axis either, declared or not. Values
 * beyond a declared bound (the bound was wrong) cancel it rather than being cut off. */
export function yAxis(values: readonly number[], bounds: ChartBounds = {}, count = 5): Axis {
  const finite = values.filter((v) => Number.isFinite(v));
  if (finite.length === 0) return niceTicks(bounds.min ?? 0, bounds.max ?? (bounds.min ?? 0) + 1, count);
  let low = Math.min(...finite);
  let high = Math.max(...finite);
  const floor = bounds.min !== undefined && bounds.min <= low ? bounds.min : low >= 0 ? 0 : -Infinity;
  const ceiling = bounds.max !== undefined && bounds.max >= high ? bounds.max : Infinity;
  if (low === high) {
    // a flat series still needs a band around it; a band at a bound opens away from it
    const pad = Math.abs(low) * 0.1 || 1;
    low = Math.max(floor, low - pad);
    high = Math.min(ceiling, high + pad);
    if (low === high) high = low + 1;
  }
  const axis = niceTicks(low, high, count);
  // rounding outward to a whole step may cross a bound that is no multiple of the step
  const min = Math.max(axis.min, floor);
  const max = Math.min(axis.max, ceiling);
  const eps = (axis.max - axis.min) * 1e-9;
  return {...axis, min, max, ticks: axis.ticks.filter((tick) => tick >= min - eps && tick <= max + eps)};
}

/** A tick of a chart of fractions read out in per cent: 0.25 → "25%", with the decimals the
 * tick spacing needs (`decimals` is those of the fraction, as niceTicks gives them). */
export function percentTick(value: number, decimals: number): string {
  return `${(value * 100).toFixed(Math.max(0, decimals - 2))}%`;
}

/** At most `limit` points, evenly picked, always keeping the first and the last: thousands of
 * steps draw no better than the chart's few hundred pixels show. */
export function thin<T>(points: readonly T[], limit = 800): T[] {
  if (points.length <= limit) return [...points];
  const stride = (points.length - 1) / (limit - 1);
  const out: T[] = [];
  for (let i = 0; i < limit; i++) out.push(points[Math.round(i * stride)]!);
  return out;
}

/** The index of the value in sorted `xs` nearest to `x`. */
export function nearestIndex(xs: readonly number[], x: number): number {
  let lo = 0;
  let hi = xs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  if (lo > 0 && Math.abs(xs[lo - 1]! - x) <= Math.abs(xs[lo]! - x)) return lo - 1;
  return lo;
}
