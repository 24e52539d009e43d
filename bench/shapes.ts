// Layer shapes of the random-weight models the benchmarks generate (speed does not depend on the
// weights' values; the tiny model's tokenizer is used).
export const SHAPES = {
  tiny: {nEmbd: 64, nLayer: 2, nHead: 4, nHeadKv: 2, nFf: 128},
  small: {nEmbd: 512, nLayer: 4, nHead: 8, nHeadKv: 4, nFf: 1536},
  // Qwen2-0.5B's layer shape (24 layers of 896 wide, 14/2 heads, 4864 FFN), tiny vocabulary
  qwen05: {nEmbd: 896, nLayer: 24, nHead: 14, nHeadKv: 2, nFf: 4864},
} as const;

export type ShapeName = keyof typeof SHAPES;

export function shapeNamed(name: string | undefined): (typeof SHAPES)[ShapeName] {
  const shape = SHAPES[name as ShapeName];
  if (!shape) throw new Error(`--shape must be one of ${Object.keys(SHAPES).join(', ')}`);
  return shape;
}
