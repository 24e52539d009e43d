// The importers on the real public samples in ../shared/data (research-only, not shipped with
// the repository). Each case is skipped, with the reason printed, when its file is absent.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readdirSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {DatasetFormat, ImportReport} from '../../main/common/datasets.js';
import {AppError} from '../../main/common/errors.js';
import {importDataset, type ImportedRow} from '../../main/node/datasets/index.js';

const DATA = process.env.ZHONGJING_SAMPLE_DATA ?? fileURLToPath(new URL('../../../shared/data/', import.meta.url));

async function importSample(file: string, deidentify = true): Promise<{report: ImportReport; rows: ImportedRow[]}> {
  const rows: ImportedRow[] = [];
  const report = await importDataset({path: join(DATA, file)}, {format: 'auto', deidentify}, (row) => {
    rows.push(row);
  });
  return {report, rows};
}

function sample(file: string, name: string, body: (t: {diagnostic(msg: string): void}) => Promise<void>): void {
  const present = existsSync(join(DATA, file));
  test(name, {skip: present ? false : `sample ${join(DATA, file)} is not present`}, body);
}

const summary = (r: ImportReport) =>
  `${r.format}: ${r.rowsImported}/${r.rowsRead} rows, ${r.rejected} rejected, ${r.exactDuplicates} exact + ${r.nearDuplicates} near duplicates, replacements ${JSON.stringify(r.replacements)}, ${r.seconds}s`;

/** file, format, records, rejected positions */
const CASES: [string, DatasetFormat, number, number[]][] = [
  ['chatmed_consult/chatmed_consult_sample2000.jsonl', 'single', 2000, []],
  ['chatmed_consult/ChatMed-Consult_test.json', 'single', 450, []],
  ['chatmed_tcm/tcm_answers_1_sample500.jsonl', 'single', 500, []],
  ['medicalgpt/medical_sft_1K_format.jsonl', 'sharegpt', 998, []],
  ['medicalgpt/reward_test.json', 'pairs', 100, []],
  // three DISC dialogues (lines 45, 78, 100) end with the patient's turn and no reply: imported
  // without it (trailingTurnsDropped, checked below)
  ['disc_medllm/test_examples.jsonl', 'disc', 150, []],
];
for (const [file, format, records, rejected] of CASES)
  sample(file, `sample ${file} imports as ${format}`, async (t) => {
    const {report} = await importSample(file);
    t.diagnostic(summary(report));
    assert.equal(report.format, format);
    assert.equal(report.rowsRead, records);
    assert.equal(report.rowsImported, records - rejected.length);
    assert.deepEqual(report.rejectedRows.map((r) => r.position), rejected);
    for (const r of report.rejectedRows) {
      t.diagnostic(`rejected #${r.position}: ${r.reason.en}`);
      assert.equal(r.reason.en, 'a dialogue must end with an assistant turn');
    }
  });

sample('chatmed_consult/ChatMed-Consult_test.json', 'ChatMed-Consult_test: the <s>问：…答： wrapper is removed from every query', async () => {
  const {rows} = await importSample('chatmed_consult/ChatMed-Consult_test.json', false);
  for (const {row} of rows) {
    const q = row.turns[0]!.content;
    assert.ok(!q.startsWith('<s>') && !q.includes('问：\n') && !q.endsWith('答：'), q);
  }
});

sample('disc_medllm/test_examples.jsonl', 'DISC multi-turn: roles alternate and about half are multi-turn', async (t) => {
  const {rows} = await importSample('disc_medllm/test_examples.jsonl');
  const multi = rows.filter((r) => r.row.turns.filter((x) => x.role === 'user').length > 1).length;
  t.diagnostic(`${multi} of ${rows.length} dialogues are multi-turn`);
  // 80 in the file have more than one patient turn; of the three that end with a patient turn,
  // two (lines 78, 100) are [patient, doctor, patient] and become single-turn without it
  assert.equal(multi, 78);
  assert.ok(rows.every((r) => r.row.source === 'meddial'));
});

sample('medicalgpt/reward_test.json', 'MedicalGPT reward pairs are preference rows with a one-turn prompt', async () => {
  const {rows} = await importSample('medicalgpt/reward_test.json');
  assert.ok(rows.every((r) => r.row.kind === 'preference' && r.row.turns.length === 1 && r.row.chosen && r.row.rejected));
});

sample('disc_medllm/ranking', 'DISC ranking dialogues (JSON arrays, patient/doctor roles) import as 3-round dialogues', async (t) => {
  const files = readdirSync(join(DATA, 'disc_medllm/ranking')).filter((f) => f.endsWith('.json'));
  assert.equal(files.length, 12);
  let total = 0;
  for (const file of files) {
    const {report, rows} = await importSample(join('disc_medllm/ranking', file));
    assert.equal(report.format, 'disc', file);
    // a model's conversation may break the rules (an empty reply, a turn out of order): those
    // rows must be rejected with a position and a reason, never dropped silently
    assert.equal(report.rowsImported + report.rejected, report.rowsRead, file);
    if (report.rejected) t.diagnostic(`${file}: ${report.rejectedRows.map((r) => `#${r.position} ${r.reason.en}`).join('; ')}`);
    assert.ok(rows.every((r) => r.row.turns.length === 6 && r.row.tags?.[0]?.startsWith('model:')));
    // CMD items carry a department (dataset_info.department); CMID items carry intent labels instead
    if (file.endsWith('_cmd.json')) assert.ok(rows.every((r) => r.row.department), file);
    total += report.rowsImported;
  }
  t.diagnostic(`${total} dialogues from ${files.length} files`);
  assert.ok(total >= 700);
});

sample('rlhf_label_tool/input_file.json', 'RLHF-Label-Tool input_file.json is recognised and refused as an annotation file', async () => {
  await assert.rejects(importSample('rlhf_label_tool/input_file.json'), (e: unknown) => e instanceof AppError && /RLHF-Label-Tool/.test(e.localised.en));
});

sample('disc_medllm/test_examples.jsonl', 'DISC: the three dialogues ending with a patient turn are imported without it, and counted', async () => {
  const {report, rows} = await importSample('disc_medllm/test_examples.jsonl', false);
  assert.equal(report.trailingTurnsDropped, 3);
  const byLine = new Map(rows.map((r) => [r.position, r.row]));
  for (const [line, turns] of [[45, 4], [78, 2], [100, 2]] as const) {
    const row = byLine.get(line)!;
    assert.equal(row.turns.length, turns, `line ${line}`);
    assert.equal(row.turns.at(-1)!.role, 'assistant', `line ${line}`);
  }
});

sample('disc_medllm/cmd_samples.json', 'DISC CMD samples {question, raw_anwser} import as single-turn QA with their departments', async (t) => {
  const {report, rows} = await importSample('disc_medllm/cmd_samples.json', false);
  t.diagnostic(summary(report));
  assert.deepEqual([report.format, report.rowsRead, report.rowsImported, report.rejected], ['single', 120, 120, 0]);
  assert.ok(rows.every((r) => r.row.turns.length === 2 && r.row.department && r.row.sourceId));
  const departments = new Set(rows.map((r) => r.row.department));
  assert.deepEqual([...departments].sort(), ['儿科', '内科', '外科', '妇产科', '男科', '肿瘤科']);
  assert.equal(rows[0]!.row.sourceId, '0-36638');
  assert.equal(rows[0]!.row.subDepartment, '新生儿科');
  assert.match(rows[0]!.row.turns[1]!.content, /^你好,可能是尿布皮炎/);
});

for (const split of ['train', 'dev'])
  sample(`promptcblue/${split}.json`, `PromptCBLUE ${split}.json {input, target} imports as single-turn QA`, async (t) => {
    const {report, rows} = await importSample(`promptcblue/${split}.json`, false);
    t.diagnostic(summary(report));
    assert.deepEqual([report.format, report.rowsRead, report.rowsImported, report.rejected], ['single', 80, 80, 0]);
    assert.ok(rows.every((r) => r.row.sourceId && r.row.source && r.row.turns[1]!.content.trim() !== ''));
  });

sample('promptcblue/test.json', 'PromptCBLUE test.json has empty targets: every row is rejected saying the answer is empty', async () => {
  const {report} = await importSample('promptcblue/test.json', false);
  assert.deepEqual([report.format, report.rowsRead, report.rowsImported, report.rejected], ['single', 80, 0, 80]);
  assert.ok(report.rejectedRows.every((r) => r.reason.en === 'the answer is empty (turn 2, assistant)' && r.reason.zh === '回答为空（第 2 轮，assistant）'));
});

sample('disc_medllm/cmid_samples.json', 'DISC CMID samples (questions only) are refused whole, saying there are no answers', async () => {
  await assert.rejects(
    importSample('disc_medllm/cmid_samples.json'),
    (e: unknown) => e instanceof AppError && e.localised.zh.startsWith('这些记录只有问题（question），没有回答') && /no answer/.test(e.localised.en),
  );
});

sample('rlhf_label_tool/output_result.tsv', 'RLHF-Label-Tool output_result.tsv is refused with a pointer to the annotation import', async () => {
  await assert.rejects(
    importSample('rlhf_label_tool/output_result.tsv'),
    (e: unknown) => e instanceof AppError && e.localised.zh.includes('「标注」→「导入标注文件」') && e.localised.en.includes('Annotation → Import annotation files'),
  );
});
