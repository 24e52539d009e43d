// The `zhongjing` CLI as a person runs it: real processes, real files, one-line errors.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {execFileSync} from 'node:child_process';
import {mkdirSync, truncateSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

function assertOneLineError(result: {status: number | null; stderr: string}, pattern: RegExp): void {
  assert.notEqual(result.status, 0);
  const lines = result.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line, got:\n${result.stderr}`);
  assert.match(lines[0]!, pattern);
  assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
}

test('models make-tiny, add, list honour --data-dir and ZHONGJING_DATA_DIR', () => {
  const dir = tempDir();
  try {
    const out = join(dir.path, 'tiny.gguf');
    const made = runCli(['models', 'make-tiny', out, '--json']);
    assert.equal(made.status, 0, made.stderr);
    assert.match(JSON.parse(made.stdout).sha256, /^[0-9a-f]{64}$/);

    const dataDir = join(dir.path, 'data');
    const added = runCli(['models', 'add', out, '--name', '小模型', '--data-dir', dataDir, '--json']);
    assert.equal(added.status, 0, added.stderr);
    assert.equal(JSON.parse(added.stdout).architecture, 'llama');

    const listed = runCli(['models', 'list', '--json'], {env: {ZHONGJING_DATA_DIR: dataDir}});
    const models = JSON.parse(listed.stdout);
    assert.equal(models.length, 1);
    assert.equal(models[0].name, '小模型');
    assert.match(models[0].sha256, /^[0-9a-f]{64}$/, 'hash computed before the command exited');

    const human = runCli(['models', 'list', '--data-dir', dataDir], {env: {LANG: 'zh_CN.UTF-8'}});
    assert.match(human.stdout, /小模型\s+llama/);
  } finally {
    dir.cleanup();
  }
});

test('chat streams a reply to stdout, and --json gives one object per line', async () => {
  const model = await tinyModelPath();
  const plain = runCli(['chat', '--model', model, '--max-tokens', '12', '--temperature', '0', '你好，我嗓子疼']);
  assert.equal(plain.status, 0, plain.stderr);
  assert.ok(plain.stdout.trim().length > 0);

  const json = runCli(['chat', '--model', model, '--max-tokens', '12', '--temperature', '0', '--json', '你好，我嗓子疼']);
  assert.equal(json.status, 0, json.stderr);
  const lines = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
  const done = lines.at(-1);
  assert.equal(done.type, 'done');
  assert.ok(done.completionTokens > 0 && done.completionTokens <= 12);
  assert.equal(lines.filter((l) => l.type === 'delta').map((l) => l.text).join(''), done.text);
  // same greedy settings, same text
  assert.equal(done.text + '\n', plain.stdout);
});

test('bad input: one clear line on stderr and a non-zero exit', async () => {
  const dir = tempDir();
  try {
    const junk = join(dir.path, 'junk.gguf');
    writeFileSync(junk, 'not a model at all');
    const zh = {LANG: 'zh_CN.UTF-8'};
    assertOneLineError(runCli(['models', 'add', junk, '--data-dir', dir.path], {env: zh}), /GGUF/);
    assertOneLineError(runCli(['chat', '--model', junk, 'hi'], {env: zh}), /GGUF/);
    assertOneLineError(runCli(['chat', '--model', join(dir.path, 'nope.gguf'), '--data-dir', dir.path, 'hi'], {env: zh}), /找不到模型/);
    assertOneLineError(runCli(['chat', '--model', await tinyModelPath(), '   '], {env: {LANG: 'en_US.UTF-8'}}), /empty/);
    assertOneLineError(runCli(['chat', 'hi']), /usage/);
    assertOneLineError(runCli(['frobnicate']), /unknown command/);
    assertOneLineError(runCli(['chat', '--modle', 'x', 'hi']), /modle/);
    const help = runCli(['--help'], {env: zh});
    assert.equal(help.status, 0);
    assert.match(help.stdout, /serve/);
    // each command's own options, without running it (serve would start a server)
    for (const [args, pattern] of [[['serve', '--help'], /--allow-dir/], [['train', '-h'], /--policy-init/], [['annotate', 'export', '--help'], /pairs-trl/]] as const) {
      const own = runCli([...args], {env: zh});
      assert.equal(own.status, 0, `${args.join(' ')}: ${own.stderr}`);
      assert.match(own.stdout, pattern);
    }
  } finally {
    dir.cleanup();
  }
});

test('data import: the rejected count always on stderr; --strict fails and keeps nothing when a row is rejected', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'mixed.jsonl');
    const good = JSON.stringify({conversation: [{role: 'user', content: '头痛三天'}, {role: 'assistant', content: '有发热吗？'}]});
    writeFileSync(file, `${good}\n{broken\n${good.replace('三', '五')}\n`);
    const en = {LANG: 'en_US.UTF-8'};

    const strict = runCli(['data', 'import', file, '--strict', '--json', '--data-dir', dir.path], {env: en});
    assert.equal(strict.status, 1, strict.stderr);
    assert.equal(strict.stdout, '', 'no report of a dataset that was not kept');
    assert.match(strict.stderr, /^rejected 1 of 3 rows$/m);
    assert.match(strict.stderr, /#2: invalid JSON/);
    assert.match(strict.stderr, /^zhongjing: --strict: 1 row was rejected; nothing was imported\.$/m);
    assert.equal(JSON.parse(runCli(['data', 'list', '--json', '--data-dir', dir.path]).stdout).length, 0, 'nothing kept');

    const lenient = runCli(['data', 'import', file, '--json', '--data-dir', dir.path], {env: en});
    assert.equal(lenient.status, 0, lenient.stderr);
    assert.equal(JSON.parse(lenient.stdout).rowsImported, 2);
    assert.equal(lenient.stderr, 'rejected 1 of 3 rows\n');

    writeFileSync(file, `${good}\n`);
    const clean = runCli(['data', 'import', file, '--strict', '--data-dir', dir.path], {env: {LANG: 'zh_CN.UTF-8'}});
    assert.equal(clean.status, 0, clean.stderr);
    assert.equal(clean.stderr, '拒绝 0 行（共读取 1 行）\n');
  } finally {
    dir.cleanup();
  }
});

test('annotate import refuses a file that is not UTF-8 (GBK) and imports nothing; UTF-8 with a byte order mark is read', () => {
  const dir = tempDir();
  try {
    const annotate = (path: string, lang: string) => runCli(['annotate', 'import', path, '--data-dir', dir.path], {env: {LANG: lang}});
    // RLHF-Label-Tool's input_file.json as a Chinese Windows editor saves it: 你好 in GBK (C4E3 BAC3)
    const gbk = join(dir.path, 'input_file.json');
    const hello = Buffer.from([0xc4, 0xe3, 0xba, 0xc3]);
    const ascii = (text: string) => Buffer.from(text, 'latin1');
    writeFileSync(gbk, Buffer.concat([ascii('{"0": {"query": "'), hello, ascii('", "history": [], "response_0": "'), hello, ascii('1", "response_1": "'), hello, ascii('2"}}')]));
    assertOneLineError(annotate(gbk, 'en_US.UTF-8'), /input_file\.json: The file is not UTF-8 text \(it may be GBK\)\. Save it as UTF-8 and import again\./);
    assertOneLineError(annotate(gbk, 'zh_CN.UTF-8'), /input_file\.json：文件不是 UTF-8 编码（可能是 GBK）。请用编辑器另存为 UTF-8 后再导入。/);
    const stats = runCli(['annotate', 'stats', '--data-dir', dir.path], {env: {LANG: 'en_US.UTF-8'}});
    assert.match(stats.stderr, /No annotation projects yet/, 'nothing was imported');
    // saved again as UTF-8 (Windows Notepad adds a byte order mark): imported
    writeFileSync(gbk, `\uFEFF${JSON.stringify({'0': {query: '你好', history: [], response_0: '你好1', response_1: '你好2'}})}`);
    const imported = annotate(gbk, 'en_US.UTF-8');
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, /1 items added/);
  } finally {
    dir.cleanup();
  }
});

test('annotate import refuses devices, FIFOs, /proc and over-large files before reading; make-tiny refuses a folder', () => {
  const dir = tempDir();
  try {
    const en = {LANG: 'en_US.UTF-8'};
    const annotate = (path: string) => runCli(['annotate', 'import', path, '--data-dir', dir.path], {env: en});
    assertOneLineError(annotate('/dev/zero'), /\/dev\/zero: a device .*not a regular file/);
    const fifo = join(dir.path, 'pairs.fifo');
    execFileSync('mkfifo', [fifo]);
    assertOneLineError(annotate(fifo), /pairs\.fifo: a pipe \(FIFO\), not a regular file/); // used to block on open
    assertOneLineError(annotate('/proc/self/status'), /a pseudo-file in \/proc, not a regular file/);
    const huge = join(dir.path, 'huge.jsonl');
    writeFileSync(huge, '');
    truncateSync(huge, 300 * 1024 * 1024); // sparse: no disk used
    assertOneLineError(annotate(huge), /huge\.jsonl: the file is too large: 300\.0 MB, the limit is 256 MB/);
    assertOneLineError(annotate(dir.path), /a directory, not a file/);

    const folder = join(dir.path, 'tiny-out');
    mkdirSync(folder);
    const made = runCli(['models', 'make-tiny', folder], {env: en});
    assert.equal(made.status, 2);
    assertOneLineError(made, /The output path is an existing directory: .*tiny-out\. Give a file name, e\.g\. .*tiny-out\/tiny\.gguf/);
    assertOneLineError(runCli(['models', 'make-tiny', folder], {env: {LANG: 'zh_CN.UTF-8'}}), /输出路径是一个已有的目录/);
  } finally {
    dir.cleanup();
  }
});
