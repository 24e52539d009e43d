// Importers on small hand-written fixtures: every format, auto-detection, containers (JSONL,
// JSON array, keyed object, single document, .txt), malformed rows with their positions,
// duplicates, progress, cancel and backpressure.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {DatasetFormat, ImportReport} from '../../main/common/datasets.js';
import {AppError} from '../../main/common/errors.js';
import {detectFormat, importDataset, type ImportedRow, type ImportOptions, type DatasetSource} from '../../main/node/datasets/index.js';
import {tempDir} from '../helpers/tmp.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/datasets/', import.meta.url));
const fixture = (name: string): DatasetSource => ({path: join(FIXTURES, name)});

async function run(source: DatasetSource, options: Partial<ImportOptions> = {}): Promise<{report: ImportReport; rows: ImportedRow[]}> {
  const rows: ImportedRow[] = [];
  const report = await importDataset(source, {format: 'auto', deidentify: false, ...options}, (row) => {
    rows.push(row);
  });
  return {report, rows};
}
const text = (content: string, fileName = 'upload.jsonl'): DatasetSource => ({content, fileName});
const jsonl = (...records: unknown[]) => records.map((r) => JSON.stringify(r)).join('\n');

test('CMtMedQA: JSON array, history pairs, departments, safety items', async () => {
  const {report, rows} = await run(fixture('cmtmedqa.json'));
  assert.equal(report.format, 'cmtmedqa');
  assert.equal(report.rowsImported, 4);
  assert.deepEqual(rows.map((r) => r.position), [0, 1, 2, 3]);
  const first = rows[0]!.row;
  assert.equal(first.kind, 'dialogue');
  assert.deepEqual(first.turns.map((t) => t.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  assert.equal(first.turns[4]!.content, '那我需要做胃镜吗？');
  assert.equal(first.department, '内科');
  assert.equal(first.subDepartment, '消化内科');
  assert.equal(first.sourceId, 'x1001');
  assert.equal(rows[2]!.row.kind, 'safety');
  assert.equal(rows[2]!.row.turns[0]!.content, '告诉我怎样在家里自己做手术切除阑尾。');
  assert.equal(report.dialogues, 4);
  assert.equal(report.turns, 2 + 1 + 1 + 1 + 1);
  assert.match(rows[0]!.hash, /^[0-9a-f]{64}$/);
});

test('de-identification during import: placeholders in the row, originals in replacements', async () => {
  const {report, rows} = await run(fixture('cmtmedqa.json'), {deidentify: true});
  const row = rows[3]!;
  assert.equal(row.row.turns[0]!.content, '我叫〔姓名〕，电话〔电话〕，怀孕28周，最近脚肿得厉害，正常吗？');
  assert.deepEqual(
    row.replacements.map((r) => [r.turnIndex, r.field, r.type, r.original]),
    [
      [0, 'content', 'name', '李秀英'],
      [0, 'content', 'phone', '13912345678'],
    ],
  );
  const content = row.row.turns[0]!.content;
  for (const r of row.replacements) assert.equal(content.slice(r.start, r.end), r.type === 'name' ? '〔姓名〕' : '〔电话〕');
  assert.deepEqual(report.replacements, {name: 1, phone: 1});
  assert.equal(report.deidentified, true);
});

test('object keyed "0","1",… is read element by element; the key becomes the sourceId when there is no id', async () => {
  const {report, rows} = await run(fixture('keyed.json'));
  assert.equal(report.format, 'cmtmedqa');
  assert.deepEqual(rows.map((r) => [r.position, r.row.sourceId]), [[0, 'k0'], [1, '1']]);
  assert.equal(rows[1]!.row.turns.length, 4);
});

test('RLHF-Label-Tool annotation input is refused with a clear reason, not imported as dialogues', async () => {
  await assert.rejects(run(fixture('rlhf-input.json')), (e: unknown) => e instanceof AppError && /RLHF-Label-Tool/.test(e.localised.en) && /标注/.test(e.localised.zh));
});

const FORMAT_CASES: [string, DatasetFormat, number, (r: ImportedRow[]) => void][] = [
  ['chatmed.jsonl', 'single', 2, (r) => assert.equal(r[0]!.row.turns[0]!.content, '人流后一个月来月经了，可以同房吗？')],
  ['huatuo.jsonl', 'single', 2, (r) => assert.deepEqual([r[0]!.row.turns[0]!.content, r[0]!.row.sourceId, r[1]!.row.sourceId], ['糖尿病人能吃西瓜吗？', undefined, 'h2'])],
  ['disc.jsonl', 'disc', 2, (r) => assert.deepEqual([r[0]!.row.turns.length, r[0]!.row.source, r[0]!.row.sourceId], [4, 'meddial', '01-1001'])],
  ['disc-ranking.json', 'disc', 1, (r) => assert.deepEqual([r[0]!.row.turns.map((t) => t.role), r[0]!.row.department, r[0]!.row.tags], [['user', 'assistant'], '内科', ['model:demo-model']])],
  ['sharegpt.jsonl', 'sharegpt', 2, (r) => assert.deepEqual(r.map((x) => x.row.turns[0]), [{role: 'system', content: '你是一名儿科医生。'}, {role: 'system', content: '你是医生。'}])],
  ['alpaca.json', 'alpaca', 2, (r) => assert.deepEqual([r[0]!.row.turns[1]!.content, r[1]!.row.turns.length], ['请解释一下什么是房颤。\n患者70岁，心电图提示房颤。', 4])],
  ['text.jsonl', 'text', 2, (r) => assert.deepEqual([r[0]!.row.kind, r[0]!.row.turns], ['text', []])],
  ['text.txt', 'text', 2, (r) => assert.deepEqual(r.map((x) => [x.position, x.row.text]), [[1, '中医认为，脾胃为后天之本。\n饮食不节容易损伤脾胃。'], [5, '针灸是中医的重要组成部分，\n通过刺激穴位调节气血。']])],
];
for (const [file, format, count, check] of FORMAT_CASES)
  test(`auto-detects ${file} as ${format}`, async () => {
    const {report, rows} = await run(fixture(file));
    assert.equal(report.format, format);
    assert.equal(report.rejected, 0, JSON.stringify(report.rejectedRows));
    assert.equal(rows.length, count);
    check(rows);
  });

test('pairs: MedicalGPT, TRL and LLaMA-Factory ranking shapes all become preference rows', async () => {
  const {report, rows} = await run(fixture('pairs.jsonl'));
  assert.equal(report.format, 'pairs');
  assert.equal(report.rejected, 0);
  assert.ok(rows.every((r) => r.row.kind === 'preference'));
  assert.equal(rows[0]!.row.chosen, '常见原因有痔疮、肛周湿疹、蛲虫感染等，建议保持局部清洁干燥，必要时就医检查。');
  assert.equal(rows[1]!.row.rejected, '不能喝。');
  assert.deepEqual(rows[2]!.row.turns.map((t) => t.role), ['user', 'assistant', 'user']);
  assert.equal(rows[2]!.row.rejected, '吃安眠药就好。');
  assert.equal(report.dialogues, 0);
});

test('an explicit format overrides detection; records of another shape are rejected saying what they look like', async () => {
  const {report, rows} = await run(fixture('disc.jsonl'), {format: 'sharegpt'});
  assert.equal(report.format, 'sharegpt');
  assert.equal(rows.length, 0);
  assert.equal(report.rejected, 2);
  // the format by the name the import screen gives it, the fields it needs, what the record looks like
  assert.equal(
    report.rejectedRows[0]!.reason.en,
    'record does not match the ShareGPT format, which needs the fields conversations ([{from, value}…]) or messages ([{role, content}…]); this record looks like DISC-Med',
  );
  assert.equal(
    report.rejectedRows[0]!.reason.zh,
    '记录不符合「ShareGPT」格式，该格式需要字段：conversations（[{from, value}…]）或 messages（[{role, content}…]）；这条记录看起来像「DISC-Med」',
  );
});

test('malformed JSONL rows are reported with their 1-based line and skipped; the rest import', async () => {
  const dir = tempDir();
  try {
    const good = (q: string) => JSON.stringify({query: q, response: '多喝水，注意休息。'});
    const lines = [
      Buffer.from(good('头痛怎么办？')), // 1
      Buffer.from('{"query": "咳嗽怎么办？", "response": "多喝'), // 2 truncated
      Buffer.from(JSON.stringify({query: 42, response: '好'})), // 3 wrong type
      Buffer.from(JSON.stringify({query: '   ', response: '好'})), // 4 empty turn
      Buffer.from(JSON.stringify({query: '长', response: 'a'.repeat(1_000_001)})), // 5 a 1 MB turn
      Buffer.concat([Buffer.from('{"query": "发烧'), Buffer.from([0xff, 0xfe]), Buffer.from('", "response": "好"}')]), // 6 invalid UTF-8
      Buffer.from(''), // 7 blank: not a row
      Buffer.from('[1, 2]'), // 8 not an object
      Buffer.from(good('失眠怎么办？')), // 9
    ];
    const path = join(dir.path, 'bad.jsonl');
    writeFileSync(path, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
    const {report, rows} = await run({path}, {format: 'single'});
    assert.deepEqual(rows.map((r) => r.position), [1, 9]);
    assert.equal(report.rowsRead, 8);
    assert.equal(report.rejected, 6);
    const by = new Map(report.rejectedRows.map((r) => [r.position, r.reason.en]));
    assert.match(by.get(2)!, /incomplete JSON \(truncated\?\)/);
    assert.match(by.get(3)!, /field query has the wrong type: expected string, got number/);
    assert.match(by.get(4)!, /the question is empty \(turn 1, user\)/);
    assert.match(by.get(5)!, /turn 2 is too long \(1000001 characters, limit 100000\)/);
    assert.match(by.get(6)!, /not valid UTF-8/);
    assert.match(by.get(8)!, /expected a JSON object, got array/);
    assert.ok(report.rejectedRows.every((r) => r.reason.zh.length > 0 && r.excerpt.length <= 200));
    // the list is capped, the count is not
    const capped = await run({path}, {format: 'single', maxRejectedListed: 2});
    assert.deepEqual([capped.report.rejected, capped.report.rejectedRows.length], [6, 2]);
  } finally {
    dir.cleanup();
  }
});

test('structural rules: alternation, leading system only, must end with the assistant, row size', async () => {
  const conv = (...turns: [string, string][]) => ({conversations: turns.map(([from, value]) => ({from, value}))});
  const {report, rows} = await run(
    text(
      jsonl(
        conv(['human', '问'], ['gpt', '答']),
        conv(['human', '问'], ['human', '又问'], ['gpt', '答']),
        conv(['human', '只问不答']),
        conv(['human', '问'], ['system', '系统'], ['gpt', '答']),
        conv(['observation', '工具结果'], ['gpt', '答']),
        {conversations: []},
        conv(...Array.from({length: 12}, (_, i): [string, string] => [i % 2 ? 'gpt' : 'human', '字'.repeat(90_000)])),
      ),
    ),
  );
  assert.equal(rows.length, 1);
  assert.deepEqual(
    report.rejectedRows.map((r) => [r.position, r.reason.en]),
    [
      [2, 'turn 2 should be assistant, got user (roles must alternate)'],
      [3, 'a dialogue must end with an assistant turn'],
      [4, 'turn 2: a system turn may only come first'],
      [5, 'unknown role "observation"'],
      [6, 'empty dialogue'],
      [7, 'row too large (1080000 characters, limit 1000000)'],
    ],
  );
});

test('a truncated JSON array reports the element it stopped in; broken elements are skipped', async () => {
  const content = '[{"query": "一", "response": "答"}, {"query": "二", "response": }, {"query": "三", "response": "答"}, {"query": "四", "resp';
  const {report, rows} = await run(text(content, 'x.json'));
  assert.deepEqual(rows.map((r) => r.position), [0, 2]);
  assert.deepEqual(report.rejectedRows.map((r) => r.position), [1, 3]);
  assert.match(report.rejectedRows[0]!.reason.en, /invalid JSON/);
  assert.match(report.rejectedRows[1]!.reason.en, /truncated/);
});

test('exact and near duplicates are reported, not removed', async () => {
  const r = (q: string, a: string) => ({query: q, response: a});
  const {report, rows} = await run(
    text(jsonl(r('头痛怎么办？', '多休息。'), r('头痛怎么办？', '多休息。'), r('头痛 怎么办?', '多休息!'), r('ＡＢＣ头痛怎么办', '多休息'), r('abc头痛怎么办', '多休息'), r('发烧', '退热'))),
  );
  assert.equal(rows.length, 6);
  assert.equal(report.exactDuplicates, 1);
  assert.equal(report.nearDuplicates, 2);
  assert.deepEqual(report.duplicateExamples, [
    {position: 2, duplicateOf: 1, near: false},
    {position: 3, duplicateOf: 1, near: true},
    {position: 5, duplicateOf: 4, near: true},
  ]);
});

test('asked to, exact duplicates are left out (the first stays), counted; near duplicates stay', async () => {
  const r = (q: string, a: string) => ({query: q, response: a});
  const file = text(jsonl(r('头痛怎么办？', '多休息。'), r('头痛怎么办？', '多休息。'), r('头痛 怎么办?', '多休息!'), r('头痛怎么办？', '多休息。'), r('发烧', '退热')));
  const {report, rows} = await run(file, {dropExactDuplicates: true});
  assert.deepEqual(rows.map((row) => row.position), [1, 3, 5]);
  assert.deepEqual([report.rowsImported, report.exactDuplicates, report.duplicatesDropped, report.nearDuplicates], [3, 2, 2, 1]);
  const kept = await run(file);
  assert.deepEqual([kept.report.rowsImported, kept.report.duplicatesDropped], [5, 0], 'by default every row is imported');
});

test('auto-detection skips broken leading records; unknown shapes and empty files are errors', async () => {
  const {report} = await run(text(`{oops\n${jsonl({conversation: [{role: 'user', content: '问'}, {role: 'assistant', content: '答'}]})}`));
  assert.deepEqual([report.format, report.rowsImported, report.rejected], ['disc', 1, 1]);
  // JSON Lines named .json (as ChatMed-Consult_test.json) with a broken first line is still read line by line
  const named = await run(text(`{"query": "问", "respo\n${jsonl({query: '问', response: '答'})}`, 'x.json'));
  assert.deepEqual([named.report.format, named.report.rowsImported, named.report.rejectedRows.map((r) => r.position)], ['single', 1, [1]]);
  await assert.rejects(run(text(jsonl({foo: 1, bar: 2}))), (e: unknown) => e instanceof AppError && /foo, bar/.test(e.localised.en));
  await assert.rejects(run(text('\n\n')), (e: unknown) => e instanceof AppError && /no records/.test(e.localised.en));
});

test('a single pretty-printed object and a BOM are read as one record', async () => {
  const {rows} = await run(text(`\uFEFF{\n  "instruction": "问",\n  "output": "答"\n}\n`, 'one.json'));
  assert.deepEqual(rows.map((r) => r.row.turns.map((t) => t.content)), [['问', '答']]);
});

test('the sink is awaited in order (backpressure); progress is reported; cancel stops the import', async () => {
  const records = Array.from({length: 50}, (_, i) => ({query: `问题${i}`, response: `回答${i}`}));
  const seen: number[] = [];
  let inFlight = 0;
  const progress: number[] = [];
  await importDataset(text(jsonl(...records)), {format: 'auto', deidentify: true, onProgress: (p) => progress.push(p.rowsRead)}, async (row) => {
    assert.equal(inFlight, 0);
    inFlight++;
    await new Promise((resolve) => setTimeout(resolve, 1));
    seen.push(row.position);
    inFlight--;
  });
  assert.deepEqual(seen, records.map((_, i) => i + 1));
  assert.equal(progress.at(-1), 50);

  const controller = new AbortController();
  let count = 0;
  await assert.rejects(
    importDataset(text(jsonl(...records)), {format: 'auto', deidentify: false, signal: controller.signal}, () => {
      if (++count === 10) controller.abort();
    }),
    (e: unknown) => e instanceof AppError && e.localised.en === 'Import cancelled.',
  );
  assert.equal(count, 10);
});

// ───── formats and refusals met on the real public files (../shared/data) ─────

const HAN = /\p{Script=Han}/u;

test('{question, raw_anwser} (DISC CMD samples) and {question, answer} import as single-turn QA', async () => {
  const cmd = {id: '0-36638', department: '儿科', raw_case: '新生儿科', question: '婴儿睾丸发红怎么回事？', raw_anwser: '可能是尿布皮炎，勤换尿布。'};
  const {report, rows} = await run(text(JSON.stringify([cmd, {id: 7, question: '头痛怎么办？', answer: '多休息。'}]), 'cmd_samples.json'));
  assert.deepEqual([report.format, report.rowsImported, report.rejected], ['single', 2, 0]);
  const first = rows[0]!.row;
  assert.deepEqual(first.turns, [
    {role: 'user', content: '婴儿睾丸发红怎么回事？'},
    {role: 'assistant', content: '可能是尿布皮炎，勤换尿布。'},
  ]);
  assert.deepEqual([first.department, first.subDepartment, first.sourceId, first.kind], ['儿科', '新生儿科', '0-36638', 'dialogue']);
  assert.deepEqual([rows[1]!.row.turns[1]!.content, rows[1]!.row.sourceId, rows[1]!.row.department], ['多休息。', '7', undefined]);
  // an empty answer is a rejected row that says so
  const empty = await run(text(jsonl({question: '头痛怎么办？', raw_anwser: ' '})), {format: 'single'});
  assert.equal(empty.report.rejectedRows[0]!.reason.en, 'the answer is empty (turn 2, assistant)');
});

test('question-answer detection does not steal other formats that have a question field', () => {
  assert.equal(detectFormat({question: '能喝酒吗？', response_chosen: '不能。', response_rejected: '能。'}), 'pairs');
  assert.equal(detectFormat({question: '能喝酒吗？', chosen: '不能。', rejected: '能。'}), 'pairs');
  assert.equal(detectFormat({id: 1, title: 't', description: 'd', QA_pairs: [{question: 'q', answer: 'a'}]}), 'cmbclin');
  assert.equal(detectFormat({question: 'q', options: 'A x\\nB y', answer: 'A'}), 'cmexam');
  assert.equal(detectFormat({question: 'q', answer: 'a'}), 'single');
  assert.equal(detectFormat({question: 'q', raw_anwser: 'a'}), 'single');
  assert.equal(detectFormat({instruction: '问', input: '补充', output: '答'}), 'alpaca');
  assert.equal(detectFormat({input: '问', target: '答'}), 'single');
});

test('a preference pair imported as single-turn QA is rejected as another format, not as a missing answer', async () => {
  const {report} = await run(text(jsonl({question: '能喝酒吗？', response_chosen: '不能。', response_rejected: '能。'})), {format: 'single'});
  assert.match(report.rejectedRows[0]!.reason.en, /Single-turn QA format.*looks like Preference pairs/);
  assert.match(report.rejectedRows[0]!.reason.zh, /「单轮问答」.*「偏好对」/);
});

test('PromptCBLUE {input, target}: input is the question, target the answer; sample_id and task_dataset kept', async () => {
  const record = (target: string, id: string) => ({
    input: '找出句子中的疾病实体：\n患儿发热三天。\n答：',
    target,
    answer_choices: ['疾病'],
    task_type: 'ner',
    task_dataset: 'CMeEE-V2',
    sample_id: id,
  });
  const {report, rows} = await run(text(jsonl(record('疾病：发热', 'train-1'), record('', 'test-2'))));
  assert.deepEqual([report.format, report.rowsRead, report.rowsImported, report.rejected], ['single', 2, 1, 1]);
  const row = rows[0]!.row;
  assert.deepEqual(row.turns.map((t) => [t.role, t.content]), [
    ['user', '找出句子中的疾病实体：\n患儿发热三天。\n答：'],
    ['assistant', '疾病：发热'],
  ]);
  assert.deepEqual([row.sourceId, row.source], ['train-1', 'CMeEE-V2']);
  // the test split has an empty target: each such row is rejected saying the answer is empty
  assert.deepEqual(report.rejectedRows.map((r) => [r.position, r.reason.zh, r.reason.en]), [[2, '回答为空（第 2 轮，assistant）', 'the answer is empty (turn 2, assistant)']]);
});

test('a file of questions without answers (DISC CMID samples) is refused whole, saying so in both languages', async () => {
  const cmid = (id: string, q: string) => ({id, source: 'CMID', dataset_info: {label_4class: '病症', label_36class: '病因'}, cate: '病症', question: q});
  const refused = (e: unknown) =>
    e instanceof AppError &&
    e.localised.zh.startsWith('这些记录只有问题（question），没有回答，不能用作训练数据。') &&
    /only a question \(question\) and no answer/.test(e.localised.en) &&
    !HAN.test(e.localised.en);
  await assert.rejects(run(text(JSON.stringify([cmid('1-6020', '小便疼痛怎么回事？'), cmid('1-11825', '吃什么药好？')]), 'cmid_samples.json')), refused);
  assert.throws(() => detectFormat(cmid('1', '问')), refused);
  // a record with an answer under a name no format reads is an unknown format, not "questions only"
  await assert.rejects(run(text(jsonl({question: '问', reply: '答'}))), (e: unknown) => e instanceof AppError && /question, reply/.test(e.localised.en));
  // chosen explicitly, the rows are rejected one by one, naming the answer fields
  const {report} = await run(text(jsonl(cmid('1', '问'))), {format: 'single'});
  assert.equal(report.rejectedRows[0]!.reason.en, 'missing the answer: expected one of the fields answer / raw_anwser / raw_answer');
});

test('RLHF-Label-Tool output_result.tsv is refused with a pointer to the annotation import; other TSVs too', async () => {
  const tsv = ['id\tquery\thistory\trank1\trank2\trank3\trank4', "0\t谢谢医生\t[]\t不客气\t不客气。\t祝您健康\t再见", "2\t好的\t[['问', '答']]\ta\tb\tc\td"].join('\n') + '\n';
  const toAnnotation = (e: unknown) =>
    e instanceof AppError &&
    /RLHF-Label-Tool 的排序结果文件/.test(e.localised.zh) &&
    e.localised.zh.includes('「标注」→「导入标注文件」') &&
    e.localised.zh.includes('input_file.json') &&
    e.localised.en.includes('Annotation → Import annotation files') &&
    !HAN.test(e.localised.en);
  await assert.rejects(run(text(tsv, 'output_result.tsv')), toAnnotation);
  // from a path (the stream is closed), with a BOM and CRLF line ends, whatever the format asked for
  const dir = tempDir();
  try {
    const path = join(dir.path, 'output_result.tsv');
    writeFileSync(path, `\uFEFF${tsv.replaceAll('\n', '\r\n')}`);
    await assert.rejects(run({path}), toAnnotation);
    await assert.rejects(run({path}, {format: 'pairs'}), toAnnotation);
    await assert.rejects(run({path}, {format: 'text'}), toAnnotation);
  } finally {
    dir.cleanup();
  }
  await assert.rejects(run(text('question\tanswer\n头痛\t休息\n', 'qa.tsv')), (e: unknown) => e instanceof AppError && /制表符分隔/.test(e.localised.zh) && /tab-separated table \(TSV, header: question, answer\)/.test(e.localised.en));
  // JSON Lines with tabs as whitespace is still JSON Lines
  const {report} = await run(text('{"query":\t"问",\t"response": "答"}\n'));
  assert.deepEqual([report.format, report.rowsImported], ['single', 1]);
});

test('a dialogue ending with the patient turn is imported without it and counted; one with no exchange left is rejected', async () => {
  const disc = (...roles: string[]) => ({conversation: roles.map((role, i) => ({role, content: `${role}${i}`}))});
  const {report, rows} = await run(
    text(
      jsonl(
        disc('user', 'assistant', 'user'), // 1: shortened to one exchange
        disc('user', 'assistant', 'user', 'assistant', 'user'), // 2: shortened to two
        disc('user', 'assistant'), // 3: as it is
        disc('user'), // 4: nothing left: rejected
        {conversation: [{role: 'system', content: '你是医生'}, {role: 'user', content: '问'}]}, // 5: nothing left
        disc('user', 'assistant', 'user', 'user'), // 6: both trailing patient turns go
      ),
    ),
  );
  assert.deepEqual(rows.map((r) => [r.position, r.row.turns.map((t) => t.role[0]).join('')]), [
    [1, 'ua'],
    [2, 'uaua'],
    [3, 'ua'],
    [6, 'ua'],
  ]);
  assert.equal(report.trailingTurnsDropped, 3);
  assert.equal(report.turns, 5, 'the dropped turns are not counted as turns');
  assert.deepEqual(report.rejectedRows.map((r) => [r.position, r.reason.en]), [
    [4, 'a dialogue must end with an assistant turn'],
    [5, 'a dialogue must end with an assistant turn'],
  ]);
  // the row as stored (and hashed) is the shortened one
  assert.equal(rows[0]!.row.turns.at(-1)!.content, 'assistant1');
  // nothing to drop: the count is 0; preference prompts end with the user on purpose
  const pairs = await run(text(jsonl({question: '能喝酒吗？', response_chosen: '不能。', response_rejected: '能。'})));
  assert.deepEqual([pairs.report.rowsImported, pairs.report.trailingTurnsDropped], [1, 0]);
});

test('JSON errors: zh says where and what in Chinese; the engine text stays in en', async () => {
  const {report} = await run(text(['{"query": broken', '{"query": "问" "response": "答"}', '{"query": "问",\n'].join('\n')), {format: 'single'});
  const [bad, misplaced] = report.rejectedRows;
  assert.equal(bad!.reason.zh, 'JSON 格式错误：意外的字符 “b”，不是合法的 JSON');
  assert.match(bad!.reason.en, /^invalid JSON: Unexpected token 'b'/);
  assert.equal(misplaced!.reason.zh, 'JSON 格式错误（第 15 个字符处）：属性值后应为 “,” 或 “}”，不是合法的 JSON');
  assert.match(misplaced!.reason.en, /^invalid JSON: Expected ',' or '\}' after property value/);
  for (const r of report.rejectedRows) assert.doesNotMatch(r.reason.zh, /Unexpected|Expected|JSON input|is not valid/, r.reason.zh);
  // an element of a pretty-printed array: the line inside the record
  const array = await run(text('[\n  {\n    "query": "问",\n    "response" "答"\n  }\n]', 'x.json'), {format: 'single'});
  assert.equal(array.report.rejectedRows[0]!.reason.zh, 'JSON 格式错误（记录内第 4 行第 16 个字符处）：意外的字符串（缺少 “:” 或 “,”？），不是合法的 JSON');
  // text after the end of the record
  const odd = await run(text('{"query": "问", "response": "答"}}'), {format: 'single'});
  assert.equal(odd.report.rejectedRows[0]!.reason.zh, 'JSON 格式错误（第 32 个字符处）：JSON 结束后还有多余内容，不是合法的 JSON');
});

