// The arithmetic of the hand-drawn line charts (training curves): round axis ticks and thinning
// long series. No chart library: the app is offline and its CSP allows nothing remote, and the
// little that is needed fits here.

export interface Point {
  x: number;
  y: number;
}

export interface ChartSeries {
  label: string;
  points: readonly Point[];
  /** main: solid; faint: the raw line under a smoothed one; second: the other colour, dashed */
  tone: 'main' | 'faint' | 'second';
  markers?: boolean;
  /** left out of the read-out (the smoothed line repeats the raw one) */
  quiet?: boolean;
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
  const start = Math.floor(min / step) * step;
  const end = Math.ceil(max / step) * step;
  const ticks: number[] = [];
  for (let value = start; value <= end + step / 2; value += step) ticks.push(Number(value.toPrecision(12)));
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  return {ticks, decimals, min: start, max: end};
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
