// Expert annotation through the service on a real store and a real engine: a project from a
// dataset, K=4 candidates from the tiny model, two annotators who disagree, the third expert's
// adjudication, agreement statistics, pair export; and a kill -9 that loses no saved ranking.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {fork} from 'node:child_process';
import {existsSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {Store} from '../../main/node/store/index.js';
import {dataPaths} from '../../main/node/paths.js';
import {startServices, waitFor} from '../helpers/services.js';
import {tinyModelPath} from '../helpers/tiny-model.js';
import {tempDir} from '../helpers/tmp.js';
import {runCli} from '../helpers/cli.js';

function dialogueLines(n: number): string {
  return Array.from({length: n}, (_, i) =>
    JSON.stringify({
      _id: `d${i}`,
      conversation: [
        {role: 'user', content: `我头痛${i + 1}天了`},
        {role: 'assistant', content: '请问有没有发热？'},
        {role: 'user', content: '有一点，37.8度'},
        {role: 'assistant', content: '建议多休息，多喝水。'},
      ],
    }),
  ).join('\n');
}

async function projectWithCandidates(s: ReturnType<typeof startServices>, items = 4) {
  const file = join(s.dataDir, 'dialogues.jsonl');
  writeFileSync(file, dialogueLines(items));
  const {datasetId} = await s.services.datasets.importNow({path: file, deidentify: false});
  const model = await s.call('models.add', {path: await tinyModelPath()});
  const project = await s.call('annotation.createProject', {name: '排序测试', datasetId, maxItems: items, generation: {modelId: model.id, maxTokens: 24}});
  const started = performance.now();
  await s.call('annotation.generate', {projectId: project.id});
  const end = await waitFor(() => s.events.find((e) => e.type === 'annotation.progress' && e.finished), 120_000, 'generation');
  return {project, datasetId, end, seconds: (performance.now() - started) / 1000};
}

test('two annotators disagree, the expert adjudicates, pairs are exported', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const {project, end} = await projectWithCandidates(s);
  assert.ok(end.type === 'annotation.progress' && end.error === null);
  if (end.type === 'annotation.progress') t.diagnostic(`candidate generation: ${end.total} candidates, ${end.tokensPerSecond.toFixed(0)} tokens/s (tiny model, 1 thread)`);
  const summary = (await s.call('annotation.projects', {}))[0]!;
  assert.equal(summary.items, 4, 'each assistant turn of the first dialogues became an item (2 per dialogue, capped)');
  assert.equal(summary.ready, 4);

  const alice = await s.call('annotators.create', {name: '李医生', role: 'annotator'});
  const bob = await s.call('annotators.create', {name: '王医生', role: 'annotator'});
  const expert = await s.call('annotators.create', {name: '张主任', role: 'expert'});

  // Alice ranks every item A>B>C>D; Bob agrees on all but the first item, where he reverses
  const saveTimes: number[] = [];
  for (const [who, reversedFirst] of [[alice, false], [bob, true]] as const) {
    for (;;) {
      const item = await s.call('annotation.item', {projectId: project.id, annotatorId: who.id});
      if (!item) break;
      assert.equal(item.candidates.length, 4);
      assert.equal(item.mine, null, 'an annotator never sees another one\'s ranking');
      const ranking = reversedFirst && item.position === 0 ? [[3], [2], [1], [0]] : [[0], [1], [2], [3]];
      const t0 = performance.now();
      await s.call('annotation.save', {itemId: item.id, annotatorId: who.id, ranking, marks: [{accuracy: 3}, {accuracy: 2}, {accuracy: 2}, {accuracy: 1}]});
      saveTimes.push(performance.now() - t0);
    }
  }
  saveTimes.sort((a, b) => a - b);
  t.diagnostic(`save a ranking: p50 ${saveTimes[Math.floor(saveTimes.length / 2)]!.toFixed(2)} ms, p99 ${saveTimes[Math.floor(saveTimes.length * 0.99)]!.toFixed(2)} ms (${saveTimes.length} saves, synchronous=FULL)`);

  const queue = await s.call('annotation.disagreements', {projectId: project.id});
  assert.equal(queue.length, 1);
  assert.equal(queue[0]!.item.position, 0);
  assert.deepEqual(queue[0]!.conflicts[0]!.reasons.sort(), ['best-differs', 'low-tau']);

  const notExpert = await s.callRaw('annotation.adjudicate', {itemId: queue[0]!.item.id, expertId: alice.id, ranking: [[0], [1], [2], [3]]});
  assert.equal(!notExpert.ok && notExpert.error.code, 'validation');
  const invalid = await s.callRaw('annotation.save', {itemId: queue[0]!.item.id, annotatorId: alice.id, ranking: [[0], [0], [1], [2]]});
  assert.equal(!invalid.ok && invalid.error.code, 'validation');
  await s.call('annotation.adjudicate', {itemId: queue[0]!.item.id, expertId: expert.id, ranking: [[1], [0], [2, 3]], comment: 'B 更安全'});
  assert.equal((await s.call('annotation.disagreements', {projectId: project.id})).length, 0);

  const dashboard = await s.call('annotation.dashboard', {projectId: project.id});
  assert.equal(dashboard.overall.final, 4);
  assert.equal(dashboard.overall.rankedByTwoOrMore, 4);
  assert.equal(dashboard.overall.disagreementRate, 0.25);
  assert.ok(dashboard.overall.meanKendallTau! < 1 && dashboard.overall.meanKendallTau! > 0);
  assert.ok(dashboard.overall.krippendorffAlpha !== null);

  // pairs: 3 items × C(4,2)=6 strict pairs + the adjudicated item 2×1 + 1 + 1... = [[1],[0],[2,3]] gives 5 pairs (tie skipped)
  const out = join(s.dataDir, 'pairs.jsonl');
  const exported = await s.call('annotation.export', {projectId: project.id, format: 'pairs-llamafactory', outPath: out});
  const pairs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  const distinctTexts = pairs.filter((p) => p.chosen.value !== p.rejected.value).length;
  assert.equal(exported.records, pairs.length);
  assert.ok(pairs.length <= 3 * 6 + 5 && distinctTexts === pairs.length, `${pairs.length} pairs`);
  assert.ok(pairs.length >= 5, 'identical candidate texts are dropped, the rest are kept');
  const trl = await s.call('annotation.export', {projectId: project.id, format: 'pairs-trl', outPath: join(s.dataDir, 'trl.jsonl')});
  assert.equal(trl.records, exported.records);

  // undo: Alice's last save goes back to "not ranked"
  const last = await s.call('annotation.item', {projectId: project.id, annotatorId: alice.id, position: 3, direction: 'exact'});
  assert.ok(last?.mine);
  assert.deepEqual(await s.call('annotation.undo', {itemId: last.id, annotatorId: alice.id}), {restored: true});
  assert.equal((await s.call('annotation.item', {projectId: project.id, annotatorId: alice.id, position: 3, direction: 'exact'}))?.mine, null);
});

/** The child: saves rankings as fast as it can and reports each one after it is saved. */
const CHILD = fileURLToPath(new URL('../helpers/ranking-writer.ts', import.meta.url));

test('kill -9 while ranking: every ranking reported saved is on disk', async (t) => {
  const s = startServices();
  const {project} = await projectWithCandidates(s, 2);
  const annotator = await s.call('annotators.create', {name: '赵医生', role: 'annotator'});
  const items = s.services.store.annotation.items(project.id).map((i) => i.id);
  await s.services.close();
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const child = fork(CHILD, [s.dataDir, annotator.id, ...items], {execArgv: ['--import', 'tsx'], stdio: ['ignore', 'pipe', 'inherit', 'ipc']});
  const acknowledged: string[] = [];
  child.on('message', (m) => acknowledged.push(String(m)));
  await waitFor(() => acknowledged.length >= 50, 30_000, 'saves');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  const store = Store.open(dataPaths(s.dataDir).database);
  try {
    const saved = new Map(store.annotation.projectRankings(project.id).map((r) => [`${r.itemId}`, r.comment]));
    // the newest acknowledged comment per item must be there (or a later one the ack did not reach)
    for (const itemId of items) {
      const lastAck = acknowledged.filter((a) => a.startsWith(itemId)).at(-1);
      if (!lastAck) continue;
      const n = Number(lastAck.split(':')[1]);
      const onDisk = Number(saved.get(itemId)?.split('#')[1] ?? -1);
      assert.ok(onDisk >= n, `item ${itemId}: acknowledged save #${n}, on disk #${onDisk}`);
    }
    t.diagnostic(`${acknowledged.length} saves acknowledged before kill -9; none lost`);
  } finally {
    store.close();
  }
});

const SHARED = fileURLToPath(new URL('../../../shared/data/rlhf_label_tool/', import.meta.url));

test('CLI: import RLHF-Label-Tool and pair files, export a package, merge it twice without duplicates', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const a = join(dir.path, 'a');
  const b = join(dir.path, 'b');
  const pairs = join(dir.path, 'pairs.jsonl');
  writeFileSync(pairs, [
    JSON.stringify({question: '感冒了能喝酒吗？', response_chosen: '不建议，酒精会加重症状并与药物相互作用。', response_rejected: '可以少喝。'}),
    JSON.stringify({question: '高血压要终身服药吗？', response_chosen: '多数需要长期服药，请遵医嘱调整。', response_rejected: '血压正常就停药。'}),
  ].join('\n'));
  const imported = runCli(['annotate', 'import', pairs, '--data-dir', a, '--json']);
  assert.equal(imported.status, 0, imported.stderr);
  assert.equal(JSON.parse(imported.stdout).itemsAdded, 2);
  if (existsSync(join(SHARED, 'input_file.json'))) {
    const rlhf = runCli(['annotate', 'import', join(SHARED, 'input_file.json'), join(SHARED, 'output_result.tsv'), '--data-dir', a, '--json']);
    assert.equal(rlhf.status, 0, rlhf.stderr);
    const result = JSON.parse(rlhf.stdout);
    assert.equal(result.itemsAdded, 10);
    assert.equal(result.rankingsMerged, 2, 'the two annotated rows of output_result.tsv');
  } else t.diagnostic(`skipped the RLHF-Label-Tool files: ${SHARED} is absent`);

  const stats = runCli(['annotate', 'stats', '--data-dir', a, '--json']);
  assert.equal(stats.status, 0, stats.stderr);
  const pkg = join(dir.path, 'package.json');
  const projects = runCli(['annotate', 'export', '--format', 'package', pkg, '--data-dir', a]);
  assert.equal(projects.status, 0, projects.stderr);
  const first = JSON.parse(runCli(['annotate', 'import', pkg, '--data-dir', b, '--json']).stdout);
  const second = JSON.parse(runCli(['annotate', 'import', pkg, '--data-dir', b, '--json']).stdout);
  assert.ok(first.itemsAdded > 0);
  assert.equal(second.itemsAdded, 0, 'the same items are matched by content hash');
  assert.equal(second.itemsMatched, first.itemsAdded);
  assert.equal(second.rankingsMerged, 0, 'nothing is duplicated');
  const pairsOut = join(dir.path, 'pairs-out.jsonl');
  const exported = runCli(['annotate', 'export', '--format', 'pairs', pairsOut, '--data-dir', b, '--json']);
  assert.equal(exported.status, 0, exported.stderr);
  assert.ok(JSON.parse(exported.stdout).records >= 1);
});

test('CLI: annotate import says what it left out in the user\'s language', () => {
  const dir = tempDir();
  try {
    const pairs = join(dir.path, 'pairs.jsonl');
    writeFileSync(pairs, [{question: '头痛怎么办？', response_chosen: '请问头痛多久了？', response_rejected: '多喝水。'}, {question: '发热', response_chosen: '多喝水。', response_rejected: '多喝水。'}].map((r) => JSON.stringify(r)).join('\n') + '\n');
    const zh = runCli(['annotate', 'import', pairs, '--data-dir', join(dir.path, 'zh')], {env: {LANG: 'zh_CN.UTF-8'}});
    assert.equal(zh.status, 0, zh.stderr);
    const warning = zh.stdout.split('\n').find((l) => l.startsWith('  '));
    assert.ok(warning && /[\u4e00-\u9fff]/.test(warning), `a Chinese warning line: ${zh.stdout}`);
    const en = runCli(['annotate', 'import', pairs, '--data-dir', join(dir.path, 'en')], {env: {LANG: 'en_US.UTF-8', ZHONGJING_LANG: 'en'}});
    const line = en.stdout.split('\n').find((l) => l.startsWith('  '));
    assert.ok(line && !/[\u4e00-\u9fff]{2}/.test(line.replace(/“[^”]*”|"[^"]*"/g, '')), `an English warning line: ${en.stdout}`);
  } finally {
    dir.cleanup();
  }
});
