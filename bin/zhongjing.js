#!/usr/bin/env node
// The `zhongjing` command: runs the compiled CLI from dist/ (built by `npm ci` through the
// prepare script, or by `npm run build`).
import {existsSync} from 'node:fs';

const entry = new URL('../dist/main/cli/run.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('zhongjing: 尚未构建，请先运行 npm run build / not built yet: run npm run build\n');
  process.exit(1);
}
await import(entry.href);
