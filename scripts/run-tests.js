#!/usr/bin/env node
// Runs the test suites with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.js [unit|integration|e2e ...]   (default: all three, in order)
// Files run one at a time: the machine has 2 cores, and the integration and e2e suites each
// start a real inference process. The e2e suite drives the BUILT app (bin/zhongjing.js and
// dist/renderer) in Chromium, so it is rebuilt first when the sources are newer than dist/.
import {spawnSync} from 'node:child_process';
import {existsSync, readdirSync, statSync} from 'node:fs';
import {join} from 'node:path';

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];

function newestMtime(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, {withFileTypes: true})) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

function buildIsStale() {
  const outputs = ['dist/main/cli/run.js', 'dist/renderer/index.html'];
  if (!outputs.every((f) => existsSync(f))) return true;
  const built = Math.min(...outputs.map((f) => statSync(f).mtimeMs));
  return Math.max(newestMtime('main'), newestMtime('renderer')) > built;
}

if (suites.includes('e2e') && buildIsStale()) {
  console.log('sources changed since the last build: npm run build');
  const build = spawnSync('npm', ['run', 'build'], {stdio: 'inherit'});
  if (build.status !== 0) process.exit(build.status ?? 1);
}

const files = [];
for (const suite of suites) {
  const dir = join('test', suite);
  if (!existsSync(dir)) throw new Error(`no test suite ${suite}`);
  for (const name of readdirSync(dir).sort()) if (name.endsWith('.test.ts')) files.push(join(dir, name));
}
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  {stdio: 'inherit', env: {...process.env, ZHONGJING_TEST: '1'}},
);
process.exit(result.status ?? 1);
