// Datasets through the service and the CLI, on a real SQLite store: import with de-identification
// and a report of bad rows, review (undo restores the original), versions that freeze when used,
// a 7:1 single:multi mix, export that LLaMA-Factory reads and that re-imports to the same rows.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {monitorEventLoopDelay} from 'node:perf_hooks';
import {startServices, waitFor} from '../helpers/services.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

/** 40 single-turn and 10 multi-turn CMtMedQA dialogues, one with identifiers, one broken row. */
function writeCmtMedQa(path: string): void {
  const rows: unknown[] = [];
  for (let i = 0; i < 40; i++)
    rows.push({id: `s${i}`, cate1: i % 2 ? '内科' : '儿科', cate2: '消化内科', instruction: `第${i}个问题：孩子腹泻两天怎么办？`, input: '', output: `建议补液，观察精神状态（${i}）。`, history: []});
  for (let i = 0; i < 10; i++)
    rows.push({
      id: `m${i}`,
      cate1: '外科',
      cate2: '骨科',
      instruction: `我还需要做什么检查？(${i})`,
      input: '',
      output: '建议拍X光片。',
      history: [[`膝盖疼了一周(${i})`, '请问有外伤吗？'], ['上周打球扭伤过', '有肿胀吗？']],
    });
  rows[3] = {...(rows[3] as object), instruction: '我叫张伟，电话13812345678，身份证号110101199003071233，孩子腹泻两天。'};
  rows.push({id: 'bad', cate1: '内科', instruction: '', input: '', output: '', history: []});
  writeFileSync(path, JSON.stringify(rows, null, 1));
}

test('import, review, edit, mix 7:1, export and re-import', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const file = join(s.dataDir, 'cmtmedqa-sample.json');
  writeCmtMedQa(file);

  const {jobId} = await s.call('datasets.import', {path: file, name: '消化问诊'});
  const done = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === jobId), 30_000, 'import');
  assert.equal(done.type, 'dataset.imported');
  if (done.type !== 'dataset.imported') return;
  assert.equal(done.error, null);
  const report = done.report!;
  assert.equal(report.format, 'cmtmedqa');
  assert.equal(report.rowsImported, 50);
  assert.equal(report.rejected, 1);
  assert.equal(report.rejectedRows[0]?.position, 50);
  assert.ok((report.replacements.phone ?? 0) >= 1 && (report.replacements.id_card ?? 0) >= 1 && (report.replacements.name ?? 0) >= 1);

  const id = done.datasetId!;
  const detail = await s.call('datasets.get', {id});
  assert.equal(detail.stats.singleTurn, 40);
  assert.equal(detail.stats.multiTurn, 10);
  assert.equal(detail.version.state, 'open');
  assert.match(detail.version.contentHash, /^[0-9a-f]{64}$/);
  assert.deepEqual(detail.stats.byDepartment.map((d) => d.name).sort(), ['儿科', '内科', '外科']);

  // the identifiers are gone from the stored text
  const row3 = (await s.call('datasets.rows', {id, query: '腹泻两天', limit: 200})).rows.find((r) => r.sourceId === 's3')!;
  assert.doesNotMatch(row3.turns[0]!.content, /13812345678|110101199003071233|张伟/);
  assert.match(row3.turns[0]!.content, /〔电话〕/);

  // review: undo the phone number restores it; finishing erases the originals
  const review = await s.call('datasets.replacements', {id});
  const phone = review.items.find((r) => r.type === 'phone')!;
  assert.equal(phone.original, '13812345678');
  const undone = await s.call('datasets.reviewReplacement', {id, replacementId: phone.id, action: 'undo'});
  assert.equal(undone.status, 'undone');
  const restored = (await s.call('datasets.rows', {id, query: '13812345678'})).rows;
  assert.equal(restored.length, 1);
  assert.match(restored[0]!.turns[0]!.content, /〔身份证号〕/, 'other replacements in the same text stay');
  const finished = await s.call('datasets.finishReview', {id});
  assert.ok(finished.confirmed >= 2);
  assert.ok((await s.call('datasets.replacements', {id})).items.every((r) => r.original === null));

  // exporting freezes v1; an edit afterwards makes v2 and leaves v1 as it was
  const exportDir = join(s.dataDir, 'export-sharegpt');
  const exported = await s.call('datasets.export', {id, format: 'llamafactory', outDir: exportDir});
  assert.equal(exported.rows, 50);
  const info = JSON.parse(readFileSync(join(exportDir, 'dataset_info.json'), 'utf8'));
  const entry = Object.values(info)[0] as {formatting: string; file_name: string};
  assert.equal(entry.formatting, 'sharegpt');
  assert.ok(existsSync(join(exportDir, entry.file_name)));
  assert.equal((await s.call('datasets.get', {id})).version.state, 'frozen');
  const {rows: [first]} = await s.call('datasets.rows', {id, limit: 1});
  const edited = await s.call('datasets.updateRow', {id, position: first!.position, row: {kind: 'dialogue', turns: [{role: 'user', content: '改过的问题'}, {role: 'assistant', content: '改过的回答'}], department: '儿科'}});
  assert.equal(edited.version, 2);
  const v1 = await s.call('datasets.get', {id, version: 1});
  const v2 = await s.call('datasets.get', {id, version: 2});
  assert.notEqual(v1.version.contentHash, v2.version.contentHash);
  assert.equal((await s.call('datasets.rows', {id, version: 1, query: '改过的问题'})).total, 0);
  assert.equal((await s.call('datasets.rows', {id, version: 2, query: '改过的问题'})).total, 1);

  // the paper's 7:1 single:multi mix, with a validation split, is itself a dataset version
  const mix = await s.call('datasets.mix', {
    name: '7比1混合',
    components: [
      {datasetId: id, ratio: 7, filter: 'single'},
      {datasetId: id, ratio: 1, filter: 'multi'},
    ],
    seed: 7,
    validationFraction: 0.1,
  });
  const mixed = await s.call('datasets.get', {id: mix.id});
  assert.equal(mixed.stats.singleTurn / mixed.stats.multiTurn, 7);
  assert.ok(mixed.stats.split.validation > 0);
  assert.equal(mixed.version.origin.type, 'mix');
  const again = await s.call('datasets.mix', {name: '7比1混合-再来', components: [{datasetId: id, ratio: 7, filter: 'single'}, {datasetId: id, ratio: 1, filter: 'multi'}], seed: 7, validationFraction: 0.1});
  assert.equal((await s.call('datasets.get', {id: again.id})).version.contentHash, mixed.version.contentHash, 'seeded: the same recipe gives the same mix');

  // ShareGPT export → import gives the same rows
  const shareDir = join(s.dataDir, 'share');
  const share = await s.call('datasets.export', {id: mix.id, format: 'sharegpt', outDir: shareDir});
  const reimported = await s.services.datasets.importNow({path: share.files.find((f) => f.endsWith('.jsonl') && !f.includes('validation'))!, deidentify: false});
  assert.equal(reimported.report.format, 'sharegpt');
  assert.equal(reimported.report.rejected, 0);
  assert.equal(reimported.report.rowsImported, mixed.stats.split.train);

  // token counts with the tiny model's own tokenizer, in the engine process
  const model = await s.call('models.add', {path: await tinyModelPath()});
  const counted = await s.call('datasets.countTokens', {id: mix.id, modelId: model.id});
  assert.ok(counted.tokens > mixed.stats.characters / 2, `${counted.tokens} tokens`);
  assert.equal((await s.call('datasets.get', {id: mix.id})).tokenCounts[0]?.tokens, counted.tokens);
});

test('bad imports: a missing file, a file with no valid rows, a cancelled import leave nothing behind', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  // a missing file is refused by the call itself (the path policy), before any job starts
  const missing = await s.callRaw('datasets.import', {path: join(s.dataDir, 'nope.jsonl')});
  assert.equal(!missing.ok && missing.error.code, 'not_found');
  assert.match(!missing.ok ? missing.error.message.zh : '', /找不到文件/);
  const junk = await s.call('datasets.import', {content: '{"query": 1}\n{broken\n', fileName: 'junk.jsonl'});
  const e2 = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === junk.jobId), 10_000, 'junk');
  assert.ok(e2.type === 'dataset.imported' && e2.error && e2.datasetId === null);
  assert.equal((await s.call('datasets.list', {})).length, 0);
  const bothSources = await s.callRaw('datasets.import', {path: '/x', content: 'y'});
  assert.equal(!bothSources.ok && bothSources.error.code, 'validation');
});

test('CLI: data import, list, show, mix, export', () => {
  const dir = tempDir();
  try {
    const file = join(dir.path, 'sample.json');
    writeCmtMedQa(file);
    const dataDir = join(dir.path, 'data');
    const imported = runCli(['data', 'import', file, '--name', 'sample', '--data-dir', dataDir, '--json']);
    assert.equal(imported.status, 0, imported.stderr);
    const report = JSON.parse(imported.stdout);
    assert.equal(report.rowsImported, 50);
    assert.equal(report.rejected, 1);
    assert.ok(report.replacements.phone >= 1);
    const human = runCli(['data', 'import', file, '--no-deid', '--data-dir', dataDir], {env: {LANG: 'zh_CN.UTF-8'}});
    assert.match(human.stdout, /导入 50 行/);
    assert.match(human.stdout, /#50:/, 'the bad row is reported with its position');
    const listed = JSON.parse(runCli(['data', 'list', '--json', '--data-dir', dataDir]).stdout);
    assert.equal(listed.length, 2);
    const mixed = runCli(['data', 'mix', '--name', 'mix71', '--from', 'sample:7:single', '--from', 'sample:1:multi', '--data-dir', dataDir, '--json']);
    assert.equal(mixed.status, 0, mixed.stderr);
    const stats = JSON.parse(mixed.stdout).stats;
    assert.equal(stats.singleTurn / stats.multiTurn, 7);
    const shown = runCli(['data', 'show', 'mix71', '--data-dir', dataDir], {env: {LANG: 'en_US.UTF-8'}});
    assert.match(shown.stdout, /single-turn/);
    const out = join(dir.path, 'out');
    const exported = runCli(['data', 'export', 'mix71', '--format', 'alpaca', out, '--data-dir', dataDir]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.ok(existsSync(join(out, 'dataset_info.json')));
    const bad = runCli(['data', 'show', 'no-such-dataset', '--data-dir', dataDir]);
    assert.notEqual(bad.status, 0);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
  } finally {
    dir.cleanup();
  }
});

test('mix: a total too large is refused with a clear error before any work; a mix that fails leaves no dataset and freezes nothing', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const content = Array.from({length: 12}, (_, i) => JSON.stringify({conversation: [{role: 'user', content: `发热${i + 1}天怎么办？`}, {role: 'assistant', content: '多喝水，超过38.5度用退热药。'}]})).join('\n');
  const {jobId} = await s.call('datasets.import', {content, fileName: 'fever.jsonl', name: '发热'});
  const done = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === jobId), 10_000, 'import');
  const id = done.type === 'dataset.imported' ? done.datasetId! : '';
  const names = async () => (await s.call('datasets.list', {})).map((d) => d.name);
  const state = async () => (await s.call('datasets.get', {id})).version.state;

  // 10,000,000 examples from 12 rows: refused by the contract, in both languages
  const started = performance.now();
  const examples = await s.callRaw('datasets.mix', {name: '太大', components: [{datasetId: id, ratio: 1}], total: 10_000_000});
  assert.equal(!examples.ok && examples.error.code, 'validation');
  assert.match(!examples.ok ? examples.error.message.zh : '', /约 10,000,000 行，超过混合数据集的上限 1,000,000 行/);
  assert.match(!examples.ok ? examples.error.message.en : '', /about 10,000,000 rows, more than a mix may hold \(1,000,000\)/);
  // counted in tokens, the total passes the contract; the service counts the rows it would make
  const tokens = await s.callRaw('datasets.mix', {name: '太大', components: [{datasetId: id, ratio: 1}], unit: 'tokens', total: 500_000_000});
  assert.equal(!tokens.ok && tokens.error.code, 'validation');
  assert.match(!tokens.ok ? tokens.error.message.en : '', /more than a mix may hold \(1,000,000\); "发热" has 12 usable rows, each would be repeated about [\d,]+ times\. Lower the total\./);
  assert.match(!tokens.ok ? tokens.error.message.zh : '', /“发热”只有 12 行可用，每行要重复约 [\d,]+ 次/);
  t.diagnostic(`both refusals took ${(performance.now() - started).toFixed(0)} ms`);
  assert.deepEqual(await names(), ['发热'], 'nothing created');
  assert.equal(await state(), 'open', 'a refused mix freezes nothing');

  // a mix that fails while its rows are written: the dataset row, its version and the freeze
  // all roll back, so the same name works on the next try
  const insertRows = s.services.store.datasets.insertRows;
  s.services.store.datasets.insertRows = () => {
    throw new Error('disk full (simulated)');
  };
  const failed = await s.callRaw('datasets.mix', {name: '发热混合', components: [{datasetId: id, ratio: 1}], total: 24});
  s.services.store.datasets.insertRows = insertRows;
  assert.equal(failed.ok, false);
  assert.deepEqual(await names(), ['发热'], 'no half-made mix left behind');
  assert.equal(await state(), 'open', 'a failed mix freezes nothing');
  const made = await s.call('datasets.mix', {name: '发热混合', components: [{datasetId: id, ratio: 1}], total: 24});
  assert.equal(made.latest.rows, 24, 'the name was free again');
  assert.equal(await state(), 'frozen', 'a mix that is made freezes what it used');
});

test('de-identification review and freezing: pending items are counted on the version, and a frozen version offers no undo', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const content = ['13912345678', '13987654321'].map((phone, i) => JSON.stringify({conversation: [{role: 'user', content: `胃痛${i + 2}天，电话${phone}`}, {role: 'assistant', content: '饭前还是饭后痛？'}]})).join('\n');
  const {jobId} = await s.call('datasets.import', {content, fileName: 'phones.jsonl', name: '胃痛'});
  const done = await waitFor(() => s.events.find((e) => e.type === 'dataset.imported' && e.jobId === jobId), 10_000, 'import');
  const id = done.type === 'dataset.imported' ? done.datasetId! : '';

  const open = await s.call('datasets.get', {id});
  assert.equal(open.version.pendingReview, 2, 'the version says how many replacements wait for review');
  assert.ok((await s.call('datasets.replacements', {id})).items.every((r) => r.undoable), 'an open version can undo');

  // exporting freezes v1 with the review still open: the items say undo is no longer possible
  await s.call('datasets.export', {id, format: 'sharegpt', outDir: join(s.dataDir, 'out')});
  const frozen = await s.call('datasets.get', {id});
  assert.equal(frozen.version.state, 'frozen');
  assert.equal(frozen.version.pendingReview, 2);
  const items = (await s.call('datasets.replacements', {id})).items;
  assert.ok(items.every((r) => !r.undoable && r.original !== null), 'no item offers an undo that would fail');
  const refused = await s.callRaw('datasets.reviewReplacement', {id, replacementId: items[0]!.id, action: 'undo'});
  assert.equal(!refused.ok && refused.error.code, 'validation');
  assert.match(!refused.ok ? refused.error.message.zh : '', /版本 1 已被使用.*冻结/, 'the refusal says why');
  // confirming still works, and the count follows
  assert.equal((await s.call('datasets.reviewReplacement', {id, replacementId: items[0]!.id, action: 'confirm'})).status, 'confirmed');
  assert.equal((await s.call('datasets.get', {id})).version.pendingReview, 1);
});

test('a large mix leaves the server answering while it is written; its sources are frozen at the end', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const rows = Array.from({length: 12}, (_, i) => JSON.stringify({query: `问题${i}`, response: `回答${i}`})).join('\n');
  const {datasetId} = await s.services.datasets.importNow({content: rows, fileName: 'small.jsonl', deidentify: false});
  const delay = monitorEventLoopDelay({resolution: 10});
  delay.enable();
  const mixing = s.call('datasets.mix', {name: '十万', components: [{datasetId, ratio: 1}], total: 100_000});
  // other calls are answered while the rows are written
  const answered: number[] = [];
  let done = false;
  void mixing.finally(() => (done = true));
  while (!done) {
    const started = performance.now();
    await s.call('app.info', {});
    answered.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  delay.disable();
  const summary = await mixing;
  assert.equal(summary.latest.rows, 100_000);
  assert.equal(summary.latest.state, 'open');
  assert.ok(answered.length > 5, `calls were answered during the mix (${answered.length})`);
  const worst = Math.max(...answered);
  t.diagnostic(`100k-row mix: ${answered.length} calls answered meanwhile, slowest ${worst.toFixed(0)} ms; event-loop delay max ${(delay.max / 1e6).toFixed(0)} ms`);
  assert.ok(worst < 2000, `no call waited 2 s (slowest ${worst.toFixed(0)} ms)`);
  // the source was frozen by the mix, and only now
  assert.equal((await s.call('datasets.get', {id: datasetId})).version.state, 'frozen');
});
