// Every message that can reach a person exists in both UI languages, really in that language:
//  - every {zh, en} literal in main/ and renderer/src/ (errors, import warnings, notes, rubric):
//    neither side empty, zh written in Chinese (or the same name in both, e.g. "ShareGPT"), and
//    no Chinese in the English one outside what is interpolated (names a person gave);
//  - both renderer tables, key for key, under the same rule;
//  - and, running the importers, the warnings of an RLHF-Label-Tool import and of a pair file,
//    which used to reach the Chinese UI as English sentences.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join, relative} from 'node:path';
import {fileURLToPath} from 'node:url';
import ts from 'typescript';
import {MESSAGE_KEYS, translate} from '../../renderer/src/lib/i18n.js';
import {startServices} from '../helpers/services.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HAN = /\p{Script=Han}/u;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, {withFileTypes: true}).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

/** The literal text of a string or template (what is written, not what is interpolated), or null
 * for any other expression. */
function literalText(node: ts.Expression): {text: string; interpolated: boolean} | null {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return {text: node.text, interpolated: false};
  if (ts.isTemplateExpression(node)) return {text: node.head.text + node.templateSpans.map((span) => span.literal.text).join(''), interpolated: true};
  return null;
}

interface Pair {
  where: string;
  zh: {text: string; interpolated: boolean};
  en: {text: string; interpolated: boolean};
}

function bilingualLiterals(file: string): Pair[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const found: Pair[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isObjectLiteralExpression(node) && node.properties.length === 2) {
      const props = new Map(
        node.properties.flatMap((p) => (ts.isPropertyAssignment(p) && (ts.isIdentifier(p.name) || ts.isStringLiteral(p.name)) ? [[p.name.text, p.initializer] as const] : [])),
      );
      const zh = props.get('zh');
      const en = props.get('en');
      const zhText = zh && literalText(zh);
      const enText = en && literalText(en);
      if (zhText && enText) {
        const {line} = source.getLineAndCharacterOfPosition(node.getStart());
        found.push({where: `${relative(ROOT, file)}:${line + 1}`, zh: zhText, en: enText});
      }
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** English prose: three words in a row (a name such as "ShareGPT" or "LLaMA-Factory" is not). */
const ENGLISH_PROSE = /[A-Za-z]+ [a-z]+ [a-z]+/;

/** Why a (zh, en) pair is not a pair of texts in their languages, or null. The de-identification
 * placeholders (〔电话〕…) are data, the same in both languages; {name} placeholders are filled in. */
function problem(zh: {text: string; interpolated: boolean}, en: {text: string; interpolated: boolean}): string | null {
  if (!zh.interpolated && zh.text.trim() === '') return 'zh is empty';
  if (!en.interpolated && en.text.trim() === '') return 'en is empty';
  if (HAN.test(en.text.replace(/〔[^〕]*〕/g, ''))) return `en has Chinese: ${JSON.stringify(en.text)}`;
  const zhWords = zh.text.replace(/\{\w+\}/g, '');
  if (!HAN.test(zhWords) && ENGLISH_PROSE.test(zhWords)) return `zh is English: ${JSON.stringify(zh.text)}`;
  return null;
}

test('every {zh, en} message written in main/ and renderer/src/ is in both languages', () => {
  const pairs = [...sourceFiles(join(ROOT, 'main')), ...sourceFiles(join(ROOT, 'renderer', 'src'))].flatMap(bilingualLiterals);
  assert.ok(pairs.length > 150, `found ${pairs.length} bilingual messages (the scan works)`);
  const wrong = pairs.flatMap((pair) => {
    const why = problem(pair.zh, pair.en);
    return why ? [`${pair.where}: ${why}`] : [];
  });
  assert.deepEqual(wrong, [], 'messages not in both languages');
});

test('both renderer tables are in their language, key for key', () => {
  assert.ok(MESSAGE_KEYS.length > 500, `${MESSAGE_KEYS.length} keys`);
  // a few strings are meant to carry both languages, or are the other language's own name
  const both = new Set(['languageToggle', 'languageToggleText', 'unauthorizedTitle', 'unauthorizedBody', 'languageZh']);
  const wrong = MESSAGE_KEYS.flatMap((key) => {
    if (both.has(key)) return [];
    const why = problem({text: translate('zh-CN', key), interpolated: false}, {text: translate('en', key), interpolated: false});
    return why ? [`${key}: ${why}`] : [];
  });
  assert.deepEqual(wrong, [], 'renderer strings not in their language');
});

/** zh is Chinese and en has no Chinese apart from the given names (file names, ids). */
function assertBilingual(text: {zh: string; en: string}, names: string[], what: string): void {
  assert.match(text.zh, HAN, `${what}: zh is Chinese: ${text.zh}`);
  const en = names.reduce((s, name) => s.replaceAll(name, ''), text.en);
  assert.doesNotMatch(en, HAN, `${what}: en has no Chinese: ${text.en}`);
  assert.notEqual(text.zh, text.en, `${what}: two different texts`);
}

test('import warnings reach both UIs in their language (RLHF-Label-Tool and pair files)', async (t) => {
  const s = startServices();
  t.after(() => s.close());
  const input = join(s.dataDir, 'input_file.json');
  const output = join(s.dataDir, 'output_result.tsv');
  writeFileSync(
    input,
    JSON.stringify({
      '0': {query: '头痛怎么办？', history: [], response_0: '多休息。', response_1: '多休息。', response_2: '请就医。'},
      '1': {query: '发热怎么办？', history: [], response_0: '多喝水。', response_1: '物理降温。'},
    }),
  );
  writeFileSync(
    output,
    ['id\tquery\thistory\trank1\trank2\trank3', '0\t头痛怎么办？\t[]\t请就医。\t多休息。\t多休息。', '1\t发热怎么办？\t[]\t没有这个回答\t多喝水。', '9\t不存在\t[]\ta\tb'].join('\n') + '\n',
  );
  const rlhf = await s.call('annotation.import', {paths: [input, output]});
  assert.equal(rlhf.warnings.length, 3, JSON.stringify(rlhf.warnings));
  for (const warning of rlhf.warnings) assertBilingual(warning, ['input_file.json'], 'RLHF-Label-Tool warning');
  assert.ok(rlhf.warnings.some((w) => /完全相同的候选回答/.test(w.zh) && /identical candidate texts/.test(w.en)), 'identical candidates are a warning in both languages');
  assert.deepEqual(rlhf.problems, rlhf.warnings.map((w) => w.en), 'the English list stays for the CLI');

  const pairs = join(s.dataDir, 'pairs.jsonl');
  writeFileSync(pairs, [JSON.stringify({question: '能喝酒吗？', response_chosen: '不能。', response_rejected: '不能。'}), JSON.stringify({question: 1, response_chosen: 'x', response_rejected: 'y'})].join('\n'));
  const pairResult = await s.call('annotation.import', {paths: [pairs]});
  assert.equal(pairResult.warnings.length, 2);
  for (const warning of pairResult.warnings) assertBilingual(warning, ['pairs.jsonl'], 'pair-file warning');

  // a file that is not what it claims is refused whole, naming it, in both languages
  const tsvOnlyHeader = join(s.dataDir, 'broken_result.tsv');
  writeFileSync(tsvOnlyHeader, 'id\tquery\n0\tq\n');
  const refused = await s.callRaw('annotation.import', {paths: [input, tsvOnlyHeader]});
  assert.ok(!refused.ok, 'a TSV without the rank columns is refused');
  assertBilingual(refused.error.message, ['input_file.json'], 'refused import');
  const missing = await s.callRaw('annotation.import', {paths: [join(s.dataDir, 'nope.json')]});
  assert.ok(!missing.ok);
  assertBilingual(missing.error.message, ['nope.json'], 'missing file');
});
