#!/usr/bin/env node
// The `zhongjing` command. Runs the compiled CLI from dist/ (built by `npm install` through the
// prepare script, or `npm run build`).
import {existsSync} from 'node:fs';

const entry = new URL('../dist/main/cli/index.js', import.meta.url);
if (!existsSync(entry)) {
  process.stderr.write('zhongjing: 尚未构建，请先运行 npm run build / not built yet: run npm run build\n');
  process.exit(1);
}
const {main} = await import(entry.href);
await main(process.argv.slice(2));
