import {test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, readFileSync} from 'node:fs';
import {dirname, join, resolve} from 'node:path';
import {fileURLToPath} from 'node:url';
import type {RankItem} from '../../main/common/annotation.js';
import {midRanks, rankingFromOrder} from '../../main/common/annotation.js';
import {
  decodeRlhfRanking,
  importRlhfLabelTool,
  importRlhfLabelToolFiles,
  parsePythonStringList,
  parseRlhfOutput,
  parseTsv,
} from '../../main/node/annotation/rlhf-label-tool.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const sharedDir = join(process.env.ZHONGJING_SHARED_DATA ?? resolve(repoRoot, '../shared/data'), 'rlhf_label_tool');

// ── A faithful re-enactment of what app.py writes, to test against permutations the two shipped
// rows do not cover (both are the identity, which cannot tell the readings apart). ─────────────

/** Python's repr() of a str: single quotes unless the text has ' and no ". */
function pyRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    if (ch === '\\' || ch === quote) out += '\\' + ch;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (ch.codePointAt(0)! < 0x20) out += '\\x' + ch.codePointAt(0)!.toString(16).padStart(2, '0');
    else out += ch;
  }
  return out + quote;
}
const pyList = (history: [string, string][]): string => '[' + history.map(([q, a]) => `[${pyRepr(q)}, ${pyRepr(a)}]`).join(', ') + ']';
/** pandas to_csv(sep='\t') quoting: minimal, '"' doubled. */
const cell = (s: string): string => (/[\t\n\r"]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);

/** app.py lines 107-111 + 119: rank_texts = [response_{rank-1} for rank in rank_results]. */
function toolRow(id: string, item: {query: string; history: [string, string][]; responses: string[]}, rankResults: number[]): string {
  const rankTexts = rankResults.map((rank) => item.responses[rank - 1]!);
  return [id, item.query, pyList(item.history), ...rankTexts].map(cell).join('\t');
}

const header = 'id\tquery\thistory\trank1\trank2\trank3\trank4';
const sample = {
  query: '那我该吃什么药？',
  history: [['我头痛三天了,\t还有点"发烧"', "医生说：'先量体温'\n再说"], ['38度', '建议就医']] as [string, string][],
  responses: ['回答甲', '回答乙\n第二行', '回答丙 "引号"', '回答丁'],
};
const inputJson = JSON.stringify({'0': {query: sample.query, history: sample.history, ...Object.fromEntries(sample.responses.map((r, i) => [`response_${i}`, r]))}});

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  return permutations(n - 1).flatMap((p) => Array.from({length: n}, (_, i) => [...p.slice(0, i), n - 1, ...p.slice(i)]));
}

test('tool-code semantics: every rank assignment the form allows maps back to the right responses', () => {
  for (const perm of permutations(4)) {
    const rankResults = perm.map((r) => r + 1); // rank_results[i] = rank picked for response i
    const tsv = header + '\n' + toolRow('0', sample, rankResults) + '\n';
    const result = importRlhfLabelTool(inputJson, tsv, {annotatorId: 'expert-1', annotatedAt: '2026-11-22T00:00:00.000Z'});
    assert.deepEqual(result.problems, []);
    const ranking = result.annotations.get('0')!.ranking;
    // the decoded ranking gives response i exactly the rank the annotator picked for it
    assert.deepEqual(midRanks(ranking), rankResults, `rank_results ${rankResults}`);
  }
});

test('the README reading ("sorted best to worst") differs from the code for non-involutions', () => {
  // response 0 → rank 2, response 1 → rank 3, response 2 → rank 1, response 3 → rank 4
  // best → worst is 2, 0, 1, 3; app.py writes [response_1, response_2, response_0, response_3]
  const row = parseRlhfOutput(header + '\n' + toolRow('0', sample, [2, 3, 1, 4]))[0]!;
  assert.deepEqual(row.texts, [sample.responses[1], sample.responses[2], sample.responses[0], sample.responses[3]]);
  const item = importRlhfLabelTool(inputJson, null).items.get('0')!;
  assert.deepEqual(decodeRlhfRanking(item, row).ranking, rankingFromOrder([2, 0, 1, 3]));
  assert.deepEqual(decodeRlhfRanking(item, row, 'sorted').ranking, rankingFromOrder([1, 2, 0, 3]));
  // for an involution (a swap) both readings agree
  const swap = parseRlhfOutput(header + '\n' + toolRow('0', sample, [2, 1, 3, 4]))[0]!;
  assert.deepEqual(decodeRlhfRanking(item, swap).ranking, decodeRlhfRanking(item, swap, 'sorted').ranking);
});

test('history as pandas writes it (Python repr, quoted cell) is read back exactly', () => {
  const row = parseRlhfOutput(header + '\r\n' + toolRow('0', sample, [1, 2, 3, 4]) + '\r\n')[0]!;
  assert.deepEqual(row.history, sample.history);
  assert.equal(row.query, sample.query);
  assert.deepEqual(row.texts, sample.responses);
  const item = importRlhfLabelTool(inputJson, null).items.get('0')!;
  assert.deepEqual(item.history.map((t) => t.role), ['user', 'assistant', 'user', 'assistant']);
  assert.equal(item.history[1]!.content, sample.history[0]![1]);
});

test('Python literal and TSV parsing details', () => {
  assert.deepEqual(parsePythonStringList('[]'), []);
  assert.deepEqual(parsePythonStringList('[["json", "form"]]'), [['json', 'form']]);
  assert.deepEqual(parsePythonStringList(`[('a\\'b', "c'd"), ['\\x07\\u00e9\\U0001F600\\\\', '\\d']]`), [["a'b", "c'd"], ['\x07é😀\\', '\\d']]);
  assert.throws(() => parsePythonStringList("[['unclosed]"), /unclosed/);
  assert.throws(() => parsePythonStringList('[None]'), /unexpected/);
  assert.deepEqual(parseTsv('a\t"b\tc"\t"d""e"\n\n'), [['a', 'b\tc', 'd"e'], ['']]);
  assert.deepEqual(parseTsv('\ufeffx\ty'), [['x', 'y']]);
});

test('rows that cannot be matched are reported, not guessed', () => {
  const tsv = [
    header,
    toolRow('7', sample, [1, 2, 3, 4]), // no such item
    ['0', '另一个问题', '[]', ...sample.responses].map(cell).join('\t'), // query changed
  ].join('\n');
  const result = importRlhfLabelTool(inputJson, tsv);
  assert.equal(result.annotations.size, 0);
  assert.deepEqual(result.problems.map((p) => p.id), ['7', '0']);
  const badText = importRlhfLabelTool(inputJson, [header, toolRow('0', {...sample, responses: ['x', ...sample.responses.slice(1)]}, [1, 2, 3, 4])].join('\n'));
  assert.match(badText.problems[0]!.reason.en, /rank1 text matches no/);
  assert.match(badText.problems[0]!.reason.zh, /rank1 列的文本与任何（未用过的）回答都不一致/);
  assert.throws(() => parseRlhfOutput('id\tquery\n0\tq'), /header/);
});

test('shipped RLHF-Label-Tool example: the two annotated rows map back to the right responses', async (t) => {
  const input = join(sharedDir, 'input_file.json');
  const output = join(sharedDir, 'output_result.tsv');
  if (!existsSync(input) || !existsSync(output)) {
    const reason = `shared data not found at ${sharedDir} (set ZHONGJING_SHARED_DATA)`;
    console.log(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
  const result = await importRlhfLabelToolFiles(input, output, {annotatorId: 'rlhf-label-tool-example'});
  assert.equal(result.items.size, 10);
  for (const item of result.items.values()) assert.equal(item.candidates.length, 4);
  assert.deepEqual(result.problems, []);
  assert.deepEqual([...result.annotations.keys()].sort(), ['0', '2']);
  const raw = JSON.parse(readFileSync(input, 'utf8')) as Record<string, Record<string, string>>;
  const rows = parseRlhfOutput(readFileSync(output, 'utf8'));
  for (const row of rows) {
    const item: RankItem = result.items.get(row.id)!;
    const annotation = result.annotations.get(row.id)!;
    // Both rows list response_0..response_3 in order, i.e. every response was given its own index
    // + 1 as rank: the identity, read the same under either semantics.
    assert.deepEqual(annotation.ranking, [[0], [1], [2], [3]], `row ${row.id}`);
    row.texts.forEach((text, j) => assert.equal(text, raw[row.id]![`response_${j}`]));
    assert.equal(item.question, row.query);
    assert.ok(!Number.isNaN(Date.parse(annotation.annotatedAt)));
  }
  // item 0's response_0 and response_3 are the same text, so which copy got rank 1 vs rank 4 is
  // not recoverable from the TSV — flagged, and harmless since exports skip identical pairs.
  assert.equal(result.items.get('0')!.candidates[0], result.items.get('0')!.candidates[3]);
  assert.deepEqual(result.ambiguous, ['0']);
});
