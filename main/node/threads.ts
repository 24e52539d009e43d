import {availableParallelism} from 'node:os';

/** Threads for inference (and later training): the real core count, never a library default.
 * node-llama-cpp's CPU default of 4 threads on a 2-core machine was measured ~700x slower. */
export function defaultThreads(env: NodeJS.ProcessEnv = process.env): number {
  const forced = Number(env.ZHONGJING_THREADS);
  if (Number.isInteger(forced) && forced > 0) return forced;
  return Math.max(1, availableParallelism());
}
