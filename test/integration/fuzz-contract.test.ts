// Fuzz over every method of the contract (main/common/contract.ts `methods`) through the real
// dispatch of real services (the one both transports call): generated bad inputs — wrong types,
// out-of-range numbers, hostile strings and paths (NUL, traversal, /proc, /dev, huge), nesting,
// missing and extra keys — with a seeded generator, bounded in count and time. Asserts: no
// `internal` error, no call over HANG_MS, and the services still answer afterwards. Prints the
// counts (sent, accepted, clear errors, internal, hangs).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {methods} from '../../main/common/contract.js';
import {startServices, waitFor} from '../helpers/services.js';

const HANG_MS = 3000;
const PER_METHOD = 150;
const BUDGET_MS = 45_000;

function prng(seed: number): () => number {
  // mulberry32
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function nested(depth: number): unknown {
  let value: unknown = [];
  for (let i = 0; i < depth; i++) value = [value];
  return value;
}

/** JSON-shaped values only: what either transport can deliver. */
const BAD: unknown[] = [
  null, true, false, 0, -1, 1.5, -0.5, 2 ** 31, -(2 ** 31), 2 ** 53, 1e308, -1e308,
  '', ' ', 'x', '0', '-1', 'true', 'null', '\u0000', 'a\u0000b', '\n\r\t', '%00', '${7*7}', "'; DROP TABLE models; --",
  '../../../../etc/passwd', '/etc/shadow', '/proc/self/mem', '/proc/self/w/x.jsonl', '/dev/zero', '/dev/stdin', '/dev/null', '/', '.', '~',
  'C:\\Windows\\system32', '\\\\server\\share', 'file:///etc/passwd', 'hf:', 'hf:a/b', '😀'.repeat(500), 'A'.repeat(70_000), '中'.repeat(20_000),
  [], [null], [[[]]], Array.from({length: 5000}, () => 0), ['', '', ''],
  {}, {a: 1}, JSON.parse('{"__proto__": {"polluted": true}}'), {constructor: {prototype: {polluted: true}}},
  nested(3000), JSON.parse(`${'{"a":'.repeat(2000)}1${'}'.repeat(2000)}`),
];

function shapeOf(schema: unknown): Record<string, unknown> {
  const s = schema as {shape?: Record<string, unknown>; def?: {shape?: Record<string, unknown>; in?: {shape?: Record<string, unknown>}}};
  return s.shape ?? s.def?.shape ?? s.def?.in?.shape ?? {};
}

/** Ids of things that exist, so that mutated inputs also get past the lookups into the code. */
const REAL: {ids: string[]; small: number[]} = {ids: [], small: [0, 1, 2, 3]};

function* inputsFor(method: string, random: () => number): Generator<unknown> {
  const bad = () => BAD[Math.floor(random() * BAD.length)];
  const pick = (key: string) => {
    if (/(^id|Id|Ids)$/.test(key) && REAL.ids.length && random() < 0.5) {
      const id = REAL.ids[Math.floor(random() * REAL.ids.length)];
      return key.endsWith('Ids') ? [id] : id;
    }
    if (random() < 0.15) return REAL.small[Math.floor(random() * REAL.small.length)];
    return bad();
  };
  const keys = Object.keys(shapeOf(methods[method as keyof typeof methods].input));
  let sent = 0;
  // the whole input replaced
  for (const value of BAD) {
    if (sent++ >= PER_METHOD / 2) break;
    yield value;
  }
  while (sent++ < PER_METHOD) {
    const input: Record<string, unknown> = {};
    // plausible-looking keys with bad values, some keys missing, sometimes one key too many
    for (const key of keys) if (random() < 0.8) input[key] = pick(key);
    if (random() < 0.2) input[`extra${Math.floor(random() * 10)}`] = bad();
    if (random() < 0.1 && keys.length) delete input[keys[Math.floor(random() * keys.length)]!];
    yield input;
  }
}

test('fuzz: every contract method, bad inputs through the real dispatch — no internal error, no hang, still answering', async (t) => {
  const s = startServices();
  // relative paths in the inputs resolve inside the temp data dir, never in the checkout
  const cwd = process.cwd();
  process.chdir(s.dataDir);
  t.after(async () => {
    process.chdir(cwd);
    await s.close();
  });
  // nothing may reach the network: a search or download goes to a closed local port
  await s.call('settings.update', {hfEndpoint: 'http://127.0.0.1:9'});
  const consultation = await s.call('consultations.create', {title: '模糊测试'});
  const {jobId} = await s.call('datasets.import', {content: '{"instruction": "头痛怎么办？", "output": "注意休息。"}', fileName: 'f.jsonl'});
  const imported = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === jobId), 30_000, 'import');
  const annotator = await s.call('annotators.create', {name: '模糊', role: 'annotator'});
  REAL.ids.push(consultation.id, annotator.id, jobId);
  if (imported.type === 'dataset.imported' && imported.datasetId) REAL.ids.push(imported.datasetId);
  const random = prng(11);
  const counts = {sent: 0, accepted: 0, clearErrors: 0, internal: 0, hangs: 0};
  const internal: string[] = [];
  const hangs: string[] = [];
  const byCode = new Map<string, number>();
  let slowest = {ms: 0, what: ''};
  const started = performance.now();
  const names = Object.keys(methods);
  outer: for (const method of names) {
    for (const input of inputsFor(method, random)) {
      if (performance.now() - started > BUDGET_MS) break outer;
      const what = `${method} ${JSON.stringify(input)?.slice(0, 120)}`;
      const t0 = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const result = await Promise.race([
        s.callRaw(method, input),
        new Promise<'hang'>((r) => (timer = setTimeout(() => r('hang'), HANG_MS))),
      ]);
      clearTimeout(timer);
      const ms = performance.now() - t0;
      counts.sent++;
      if (ms > slowest.ms) slowest = {ms, what};
      if (result === 'hang' || ms > HANG_MS) {
        counts.hangs++;
        hangs.push(`${Math.round(ms)} ms: ${what}`);
        continue;
      }
      if (result.ok) counts.accepted++;
      else if (result.error.code === 'internal') {
        counts.internal++;
        internal.push(`${what} → ${result.error.message.en.slice(0, 200)}`);
      } else {
        counts.clearErrors++;
        byCode.set(result.error.code, (byCode.get(result.error.code) ?? 0) + 1);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = `fuzz: ${names.length} methods, sent ${counts.sent}, accepted ${counts.accepted}, clear errors ${counts.clearErrors} (${[...byCode].map(([c, n]) => `${c} ${n}`).join(', ')}), internal ${counts.internal}, hangs ${counts.hangs}; ${seconds.toFixed(1)} s; slowest ${Math.round(slowest.ms)} ms (${slowest.what.slice(0, 80)})`;
  t.diagnostic(summary);
  console.log(summary);
  assert.ok(counts.sent >= names.length * 10, `every method was tried (${counts.sent} sent in the time budget)`);
  assert.deepEqual(internal, [], 'no internal error');
  assert.deepEqual(hangs, [], `no call over ${HANG_MS} ms`);

  // still answering, and the event loop is free
  const info = await s.callRaw('app.info', {});
  assert.equal(info.ok, true, 'app.info after the fuzz');
  assert.equal((await s.callRaw('consultations.list', {})).ok, true);
  const lagStart = performance.now();
  await new Promise((r) => setTimeout(r, 10));
  assert.ok(performance.now() - lagStart < 500, 'the event loop is not blocked');
  const created = await s.callRaw('consultations.create', {title: '模糊测试之后'});
  assert.equal(created.ok, true, 'and it still writes');
});
