// Seeded randomness, one implementation for everything that must be reproducible: the tiny
// model's weights, mix plans, training batch order and splits, the per-annotator answer order.

/** mulberry32: a tiny, well-mixed 32-bit PRNG, exactly reproducible with 32-bit integer maths. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher–Yates, in place; returns its argument. */
export function shuffleInPlace<T extends {[i: number]: unknown; length: number}>(items: T, random: () => number): T {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}
