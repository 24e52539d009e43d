/** Polls `probe` (sync or async) until it gives a truthy value, which it returns; fails naming
 * `what` after `timeoutMs`. Every wait in the tests has an end: the runner has no global timeout,
 * and a loop without one would hold CI until its limit. */
export async function waitFor<T>(probe: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
