#!/usr/bin/env node
// Runs the test suites with Node's own test runner (TypeScript through tsx).
// Usage: node scripts/run-tests.js [unit|integration|e2e ...]   (default: all three, in order)
// Suites run one after another and files one at a time: the machine has 2 cores and the
// integration and e2e suites each start a real inference process.
import {spawnSync} from 'node:child_process';
import {readdirSync, existsSync} from 'node:fs';
import {join} from 'node:path';

const suites = process.argv.slice(2).length ? process.argv.slice(2) : ['unit', 'integration', 'e2e'];
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
