// Evaluation benchmarks imported as ordinary datasets through the one reader: CMExam multiple
// choice (CSV container + `cmexam` format, `choice` on the row) and CMB-Clin clinical cases
// (`cmbclin`, `askEachTurn`); the CSV reader's quoting, chunk boundaries and rejections; the
// validation, de-identification and export round trip of the new row fields; the real CMExam
// dev sample from ../shared when it is there.

import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import {fileURLToPath} from 'node:url';
import {choiceQuestionText, type DatasetRow, type ImportReport} from '../../main/common/datasets.js';
import {AppError} from '../../main/common/errors.js';
import {
  deidentifyRow,
  detectFormat,
  exportRows,
  importDataset,
  openRecords,
  rowHash,
  validateRow,
  type DatasetSource,
  type ImportedRow,
  type ImportOptions,
  type SourceRecord,
} from '../../main/node/datasets/index.js';
import {tempDir} from '../helpers/tmp.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/datasets/', import.meta.url));
const fixture = (name: string): DatasetSource => ({path: join(FIXTURES, name)});
const REAL_CMEXAM = fileURLToPath(new URL('../../../shared/data/cmexam/cmexam_val_dev200.csv', import.meta.url));

async function run(source: DatasetSource, options: Partial<ImportOptions> = {}): Promise<{report: ImportReport; rows: ImportedRow[]}> {
  const rows: ImportedRow[] = [];
  const report = await importDataset(source, {format: 'auto', deidentify: false, ...options}, (row) => {
    rows.push(row);
  });
  return {report, rows};
}

async function records(content: string, fileName = 'upload.csv'): Promise<SourceRecord[]> {
  const stream = await openRecords({content, fileName});
  assert.equal(stream.container, 'csv');
  const out: SourceRecord[] = [];
  for await (const record of stream.records) out.push(record);
  return out;
}

test('choiceQuestionText: the question, one lettered option per line, and single or multiple choice said', () => {
  const options = [
    {letter: 'A', text: '麻疹'},
    {letter: 'B', text: '流感'},
  ];
  assert.equal(choiceQuestionText('  发热伴皮疹最常见于 ', options, false), '发热伴皮疹最常见于\n\nA. 麻疹\nB. 流感\n\n请选择正确答案（单选），只回答选项字母。');
  assert.equal(choiceQuestionText('以下正确的是', options, true), '以下正确的是\n\nA. 麻疹\nB. 流感\n\n请选择正确答案（多选），只回答选项字母。');
});

test('format detection: CMExam by Question + Options + Answer, CMB-Clin by a QA_pairs array', () => {
  assert.equal(detectFormat({Question: 'q', Options: 'A x\\nB y', Answer: 'A', Explanation: ''}), 'cmexam');
  assert.equal(detectFormat({question: 'q', options: 'A x\\nB y', answer: 'A'}), 'cmexam');
  // without its options it is not a CMExam item
  assert.notEqual(detectFormat({Question: 'q', Answer: 'A'}), 'cmexam');
  assert.equal(detectFormat({id: 1, title: 't', description: 'd', QA_pairs: [{question: 'q', answer: 'a'}]}), 'cmbclin');
  assert.equal(detectFormat({id: 1, title: 't', description: 'd', QA_pairs: 'not a list'}), null);
});

test('CMExam CSV: BOM, CRLF, quoted commas, doubled quotes, an embedded line break; single and multiple answers; bad rows rejected by line', async () => {
  const {report, rows} = await run(fixture('cmexam.csv'));
  assert.equal(report.format, 'cmexam');
  assert.deepEqual([report.rowsRead, report.rowsImported, report.rejected], [6, 4, 2]);
  // record 2 spans lines 3–4 (a line break inside its quoted explanation), so later records
  // are on the line after
  assert.deepEqual(rows.map((r) => r.position), [2, 3, 5, 8]);
  assert.deepEqual(
    report.rejectedRows.map((r) => [r.position, r.reason.en]),
    [
      [6, 'answer F is not among the options ABCD'],
      [7, 'the CSV record has 3 fields, the header has 4 (an unquoted comma or line break?)'],
    ],
  );
  assert.match(report.rejectedRows[0]!.reason.zh, /答案 F 不在选项 ABCD 之中/);
  assert.match(report.rejectedRows[1]!.reason.zh, /3 个字段，表头有 4 个/);
  assert.match(report.rejectedRows[1]!.excerpt, /^只有三个字段/);

  const [first, second, third, fourth] = rows.map((r) => r.row);
  // quoted question with ASCII commas, the BOM gone from the first header name
  assert.deepEqual(first, {
    kind: 'dialogue',
    turns: [
      {
        role: 'user',
        content:
          '患者男性,45岁,胸痛3小时。心电图示V1-V4导联ST段抬高,最可能的诊断是\n\nA. 急性前壁心肌梗死\nB. 急性下壁心肌梗死\nC. 变异型心绞痛\nD. 急性心包炎\nE. 主动脉夹层\n\n请选择正确答案（单选），只回答选项字母。',
      },
      {role: 'assistant', content: '答案：A\n\nV1-V4导联ST段抬高提示前壁心肌梗死（A对）。'},
    ],
    choice: {
      question: '患者男性,45岁,胸痛3小时。心电图示V1-V4导联ST段抬高,最可能的诊断是',
      options: [
        {letter: 'A', text: '急性前壁心肌梗死'},
        {letter: 'B', text: '急性下壁心肌梗死'},
        {letter: 'C', text: '变异型心绞痛'},
        {letter: 'D', text: '急性心包炎'},
        {letter: 'E', text: '主动脉夹层'},
      ],
      answer: ['A'],
    },
  });
  // "A.", "B、", "C．", "D ", "E" straight into the text; a real line break kept in the explanation
  assert.deepEqual(second!.choice, {
    question: '下列属于肾的生理功能的有',
    options: [
      {letter: 'A', text: '藏精'},
      {letter: 'B', text: '主水'},
      {letter: 'C', text: '主纳气'},
      {letter: 'D', text: '主运化'},
      {letter: 'E', text: '主疏泄'},
    ],
    answer: ['A', 'B', 'C'],
  });
  assert.match(second!.turns[0]!.content, /（多选）/);
  assert.equal(second!.turns[1]!.content, '答案：ABC\n\n肾藏精、主水、主纳气（A、B、C对）；\n主运化属脾（D错），主疏泄属肝（E错）。');
  // doubled quotes, four options, no explanation: just the letters
  assert.equal(third!.choice!.question, '关于"首过效应"，正确的说法是');
  assert.equal(third!.choice!.options.length, 4);
  assert.deepEqual(third!.choice!.answer, ['A', 'C']);
  assert.equal(third!.turns[1]!.content, '答案：AC');
  assert.deepEqual(fourth!.choice!.answer, ['A']);
  for (const row of [first, second, third, fourth]) {
    assert.equal(row!.department, undefined);
    assert.equal(row!.source, undefined);
    assert.equal(row!.askEachTurn, undefined);
  }
  assert.equal(report.dialogues, 4);
  assert.equal(report.turns, 4);
});

test('CMExam rows: empty question, no options, non-letter answer and options lettered only in part are rejected with reasons', async () => {
  const content = [
    'Question,Options,Answer,Explanation',
    ',A 甲\\nB 乙,A,',
    '没有选项的题目,,A,',
    '答案不是字母,A 甲\\nB 乙,甲,',
    '部分选项没有字母,A 甲\\n乙,A,',
    '选项没有字母时按顺序编为 A、B、C,甲\\n乙\\n丙,b,',
  ].join('\n');
  const {report, rows} = await run({content, fileName: 'exam.csv'});
  assert.deepEqual(
    report.rejectedRows.map((r) => [r.position, r.reason.en]),
    [
      [2, 'Question is empty'],
      [3, 'the multiple-choice item has no options'],
      [4, 'the answer "甲" is not option letters'],
      [5, 'option 2 "乙" has no letter (the others do)'],
    ],
  );
  assert.equal(rows.length, 1);
  assert.deepEqual(rows[0]!.row.choice, {question: '选项没有字母时按顺序编为 A、B、C', options: [{letter: 'A', text: '甲'}, {letter: 'B', text: '乙'}, {letter: 'C', text: '丙'}], answer: ['B']});
});

test('CSV container: any header becomes object keys, so other formats come through it too; the explicit format gives the same rows', async () => {
  const {report, rows} = await run({content: 'query,response\n"感冒能洗澡吗？","可以,注意保暖。"\n', fileName: 'consult.csv'});
  assert.equal(report.format, 'single');
  assert.deepEqual(rows[0]!.row.turns, [
    {role: 'user', content: '感冒能洗澡吗？'},
    {role: 'assistant', content: '可以,注意保暖。'},
  ]);
  const auto = await run(fixture('cmexam.csv'));
  const explicit = await run(fixture('cmexam.csv'), {format: 'cmexam'});
  assert.deepEqual(explicit.rows, auto.rows);
});

test('CSV reader: an unclosed quote is a rejection at its line, text after a closing quote joins the field, blank lines are skipped', async () => {
  const found = await records('a,b\n\n1,"x"y\r\n\r\n2,"never closed\n3,4\n');
  assert.deepEqual(found.map((r) => [r.position, r.ok]), [
    [3, true],
    [5, false],
  ]);
  assert.deepEqual((found[0] as {value: unknown}).value, {a: '1', b: 'xy'});
  assert.match((found[1] as {error: {en: string}}).error.en, /quoted CSV field is still open at the end of the file/);
});

test('CSV reader: a header with a duplicate or empty name is refused for the whole file', async () => {
  await assert.rejects(records('a,b,a\n1,2,3\n'), (e: unknown) => e instanceof AppError && /"a" appears more than once/.test(e.localised.en) && /CSV 表头无效/.test(e.localised.zh));
  await assert.rejects(records('a,,c\n1,2,3\n'), (e: unknown) => e instanceof AppError && /column 2 has no name/.test(e.localised.en));
});

test('CSV reader: quotes and CRLF that straddle the 1 MiB read chunks are parsed as if whole', async () => {
  const CHUNK = 1 << 20;
  const header = 'a,b\n';
  // the first "" pair of record 1 is split across the first chunk boundary
  const filler = 'x'.repeat(CHUNK - header.length - 1 - 1);
  const record1 = `"${filler}""tail",1\r\n`;
  assert.equal((header + `"${filler}"`).length, CHUNK, 'the first quote of the pair is the last byte of chunk 1');
  // record 2's closing quote is the last byte of chunk 2, its comma the first of chunk 3
  const before2 = header.length + record1.length;
  const filler2 = 'y'.repeat(2 * CHUNK - before2 - 2);
  const record2 = `"${filler2}",2\r\n`;
  assert.equal(before2 + 1 + filler2.length + 1, 2 * CHUNK);
  const found = await records(`${header}${record1}${record2}3,"z"\r\n`);
  assert.deepEqual(found.map((r) => [r.position, r.ok]), [
    [2, true],
    [3, true],
    [4, true],
  ]);
  const values = found.map((r) => (r as {value: Record<string, string>}).value);
  assert.equal(values[0]!.a, `${filler}"tail`);
  assert.equal(values[0]!.b, '1');
  assert.equal(values[1]!.a, filler2);
  assert.equal(values[1]!.b, '2');
  assert.deepEqual(values[2], {a: '3', b: 'z'});
});

test('CMB-Clin: a JSON array of cases, description opening the first question, every question in turn, askEachTurn, case title tag', async () => {
  const {report, rows} = await run(fixture('cmbclin.json'));
  assert.equal(report.format, 'cmbclin');
  assert.deepEqual([report.rowsImported, report.rejected, report.dialogues, report.turns], [2, 0, 2, 5]);
  const [first, second] = rows.map((r) => r.row);
  const cases = JSON.parse(readFileSync(join(FIXTURES, 'cmbclin.json'), 'utf8')) as {description: string; QA_pairs: {question: string; answer: string}[]}[];
  assert.deepEqual(first!.turns, [
    {role: 'user', content: `${cases[0]!.description}\n\n该病人最可能的诊断是什么？`},
    {role: 'assistant', content: cases[0]!.QA_pairs[0]!.answer},
    {role: 'user', content: '下一步应如何处理？'},
    {role: 'assistant', content: cases[0]!.QA_pairs[1]!.answer},
  ]);
  assert.deepEqual(second!.turns.map((t) => t.role), ['user', 'assistant', 'user', 'assistant', 'user', 'assistant']);
  assert.equal(second!.turns[4]!.content, '治疗原则是什么？');
  assert.deepEqual([first!.sourceId, second!.sourceId], ['1', 'clin-2']);
  assert.deepEqual([first!.tags, second!.tags], [['case:案例分析-腹外疝'], ['case:案例分析-糖尿病酮症酸中毒']]);
  assert.deepEqual([first!.askEachTurn, second!.askEachTurn], [true, true]);
  assert.equal(first!.choice, undefined);

  // the same cases as JSON Lines are the same rows
  const jsonl = await run({content: cases.map((c, i) => JSON.stringify({...c, id: i === 0 ? 1 : 'clin-2', title: i === 0 ? '案例分析-腹外疝' : '案例分析-糖尿病酮症酸中毒'})).join('\n'), fileName: 'cmb.jsonl'});
  assert.equal(jsonl.report.format, 'cmbclin');
  assert.deepEqual(
    jsonl.rows.map((r) => r.row),
    rows.map((r) => r.row),
  );
});

test('CMB-Clin: a QA pair that is not two strings rejects that case, with the pair named; a long title is shortened to fit a tag', async () => {
  const good = {id: 'g', title: '病例'.repeat(40), description: '描述', QA_pairs: [{question: '问', answer: '答'}]};
  const bad = {id: 'b', title: '坏', description: '描述', QA_pairs: [{question: '问', answer: '答'}, {question: '再问', answer: 42}]};
  const {report, rows} = await run({content: JSON.stringify([good, bad]), fileName: 'cmb.json'}, {format: 'cmbclin'});
  assert.deepEqual(report.rejectedRows.map((r) => [r.position, r.reason.en]), [[1, 'field QA_pairs[1].answer has the wrong type: expected string, got number']]);
  assert.equal(rows.length, 1);
  const tag = rows[0]!.row.tags![0]!;
  assert.ok(tag.startsWith('case:病例') && tag.length === 50, tag);
});

test('validation: choice only on dialogues and scoreable; askEachTurn not on text rows', () => {
  const row: DatasetRow = {
    kind: 'dialogue',
    turns: [
      {role: 'user', content: choiceQuestionText('问题', [{letter: 'A', text: '甲'}, {letter: 'B', text: '乙'}], false)},
      {role: 'assistant', content: '答案：B'},
    ],
    choice: {question: '问题', options: [{letter: 'A', text: '甲'}, {letter: 'B', text: '乙'}], answer: ['B']},
  };
  assert.equal(validateRow(row), null);
  const en = (r: DatasetRow) => validateRow(r)?.en;
  assert.equal(en({...row, choice: {...row.choice!, answer: ['C']}}), 'answer C is not among the options AB');
  assert.equal(en({...row, choice: {...row.choice!, answer: ['B', 'A']}}), 'answer letters must be uppercase, unique and in alphabetical order');
  assert.equal(en({...row, choice: {...row.choice!, answer: []}}), 'answer is empty');
  assert.equal(en({...row, choice: {...row.choice!, options: []}}), 'the multiple-choice item has no options');
  assert.equal(en({...row, choice: {...row.choice!, options: [{letter: 'A', text: '甲'}, {letter: 'A', text: '乙'}]}}), 'option letter A appears more than once');
  assert.equal(en({...row, choice: {...row.choice!, options: [{letter: 'a', text: '甲'}]}}), 'invalid option letter "a" (one uppercase letter A–Z expected)');
  assert.equal(en({...row, choice: {...row.choice!, question: ' '}}), 'question is empty');
  assert.equal(en({...row, kind: 'safety'}), 'a safety row must not have choice');
  assert.equal(validateRow({kind: 'dialogue', turns: row.turns, askEachTurn: true}), null);
  assert.equal(en({kind: 'text', turns: [], text: '文本', askEachTurn: true}), 'a text row must not have askEachTurn');
});

test('de-identification reaches the copy of the question in choice, and leaves the gold letters alone', () => {
  const question = '患者李秀英，电话13912345678，最可能的诊断是';
  const options = [
    {letter: 'A', text: '感冒'},
    {letter: 'B', text: '肺炎'},
  ];
  const row: DatasetRow = {
    kind: 'dialogue',
    turns: [
      {role: 'user', content: choiceQuestionText(question, options, false)},
      {role: 'assistant', content: '答案：B'},
    ],
    choice: {question, options, answer: ['B']},
  };
  const {row: out, replacements} = deidentifyRow(row);
  assert.ok(replacements.some((r) => r.type === 'phone' && r.turnIndex === 0));
  assert.doesNotMatch(out.turns[0]!.content, /13912345678/);
  assert.doesNotMatch(out.choice!.question, /13912345678/);
  assert.match(out.choice!.question, /〔电话〕/);
  assert.ok(out.turns[0]!.content.startsWith(out.choice!.question), 'the turn and choice say the same after de-identification');
  assert.deepEqual(out.choice!.answer, ['B']);
  assert.equal(row.choice!.question, question, 'the input row is not changed');
});

test('export round trip: choice and askEachTurn survive ShareGPT and Alpaca exports; every line has the same columns', async () => {
  const exam = (await run(fixture('cmexam.csv'))).rows.map((r) => r.row);
  const cases = (await run(fixture('cmbclin.json'))).rows.map((r) => r.row);
  const plain: DatasetRow = {kind: 'dialogue', turns: [{role: 'user', content: '感冒能洗澡吗？'}, {role: 'assistant', content: '可以。'}]};
  // tags are not exported (export.ts), so the cases come back without their case: tag
  const expected = [...exam, ...cases.map(({tags: _tags, ...rest}) => rest), plain];
  for (const format of ['sharegpt', 'alpaca'] as const) {
    const dir = tempDir();
    try {
      const result = await exportRows([...exam, ...cases, plain], {format, dir: dir.path, name: 'bench'});
      assert.equal(result.rows, 7);
      const lines = readFileSync(result.files[0]!, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(new Set(lines.map((l) => Object.keys(l).sort().join())).size, 1, 'the same columns on every row');
      assert.ok(lines.every((l) => typeof l.choice === 'string' && typeof l.ask_each_turn === 'boolean'), 'one type per column');
      assert.deepEqual(lines.map((l) => l.ask_each_turn), [false, false, false, false, true, true, false]);
      assert.equal(lines[6]!.choice, '');
      const back = (await run({path: result.files[0]!})).rows.map((r) => r.row);
      assert.deepEqual(back, expected, format);
      assert.equal(rowHash(back[0]!), rowHash(exam[0]!), 'the same row hash after the round trip');
    } finally {
      dir.cleanup();
    }
  }
});

test('a foreign "choice" column with another meaning is ignored, a malformed one of our shape is a rejection', async () => {
  const base = {instruction: '问题', output: '回答'};
  const content = [{...base, choice: 'A'}, {...base, choice: '{"question": "q", "options": "A x", "answer": ["A"]}'}].map((r) => JSON.stringify(r)).join('\n');
  const {report, rows} = await run({content, fileName: 'x.jsonl'});
  assert.equal(rows.length, 1);
  assert.equal(rows[0]!.row.choice, undefined);
  assert.deepEqual(report.rejectedRows.map((r) => r.position), [2]);
  assert.match(report.rejectedRows[0]!.reason.en, /field choice has the wrong type/);
});

test('the real CMExam dev sample (../shared): 200 items, 195 single-answer and 5 multi-answer, none rejected', {skip: !existsSync(REAL_CMEXAM) && 'no ../shared/data/cmexam here'}, async () => {
  const {report, rows} = await run({path: REAL_CMEXAM});
  assert.equal(report.format, 'cmexam');
  assert.deepEqual([report.rowsRead, report.rowsImported, report.rejected], [200, 200, 0]);
  const answers = rows.map((r) => r.row.choice!.answer);
  assert.equal(answers.filter((a) => a.length === 1).length, 195);
  assert.deepEqual(
    answers.filter((a) => a.length > 1).map((a) => a.join('')),
    ['BCE', 'AC', 'ABCE', 'ADE', 'ACE'],
  );
  // the file ends its records with CRLF: no option or answer may keep a stray CR
  assert.ok(rows.every((r) => r.row.choice!.options.every((o) => !/\r/.test(o.text) && o.text !== '')));
  assert.ok(rows.every((r) => r.row.choice!.options.length >= 4 && r.row.choice!.options.every((o, i) => o.letter === 'ABCDE'[i])));
  const first = rows[0]!.row;
  assert.equal(first.choice!.question, '夜间阵发性呼吸困难，可见于');
  assert.deepEqual(first.choice!.options.map((o) => o.text), ['急性脑血管疾病', '癔病', '急性感染所致的毒血症', '慢性阻塞性肺气肿', '左心功能不全']);
  assert.deepEqual(first.choice!.answer, ['E']);
  assert.match(first.turns[1]!.content, /^答案：E\n\n夜间阵发性呼吸困难是心源性呼吸困难/);
  assert.equal(rows[0]!.position, 2);
});
