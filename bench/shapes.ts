import {mkdirSync} from 'node:fs';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {getLlama, LlamaLogLevel} from 'node-llama-cpp';
import {loadTrainer} from '../main/node/training/native.js';
import {tinyModelPath} from '../test/helpers/tiny-model.js';

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

/** node-llama-cpp (CPU, the given threads) and the trainer addon loaded after it, and a
 * random-weight F32 model of the named shape with the tiny model's tokenizer (kept between runs). */
export async function benchModel(name: string, shapeName: string | undefined, threads: number, seed: number) {
  const shape = shapeNamed(shapeName);
  const llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: threads});
  const trainer = loadTrainer(llama);
  if (!trainer.ok) throw new Error(trainer.reason.en);
  trainer.addon.setLogLevel('warn');
  const dir = join(tmpdir(), 'zhongjing-bench-models');
  mkdirSync(dir, {recursive: true});
  const model = join(dir, `${name}-${shapeName}.gguf`);
  await trainer.addon.makeModel({out: model, type: 'f32', vocabFrom: await tinyModelPath('llama'), architecture: 'llama', ...shape, nCtx: 4096, seed});
  return {llama, addon: trainer.addon, model, shape};
}
