// Datasets end to end in Chromium against the built `zhongjing serve`: import a file through the
// file picker, review the de-identification replacements, browse and filter rows, build the
// paper's 7:1 single:multi mix; and what the screens say before a click that would give nothing
// (preference pairs from dialogues, a 7:1 mix from single-turn rows only).
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {appendFileSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {openApp} from '../helpers/app.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

/** DISC-style multi-turn dialogues and single-turn ones, one with identifiers, one broken line. */
function writeDialogues(path: string): void {
  const lines: string[] = [];
  for (let i = 0; i < 21; i++)
    lines.push(JSON.stringify({_id: `s${i}`, source: 'synthetic', conversation: [{role: 'user', content: `我咳嗽${i + 1}天了，怎么办？`}, {role: 'assistant', content: '请问有发热吗？建议多喝水。'}]}));
  for (let i = 0; i < 3; i++)
    lines.push(
      JSON.stringify({
        _id: `m${i}`,
        source: 'synthetic',
        conversation: [
          {role: 'user', content: `胃痛${i + 2}天`},
          {role: 'assistant', content: '饭前还是饭后痛？'},
          {role: 'user', content: '饭后，联系电话13912345678'},
          {role: 'assistant', content: '建议做胃镜检查。'},
        ],
      }),
    );
  lines.push('{"_id": "broken", "conversation": [');
  writeFileSync(path, `${lines.join('\n')}\n`);
}

test('import through the file picker, review, browse, and a 7:1 mix', async (t) => {
  const dir = tempDir();
  const {serve, page, errors} = await openApp(t, dir.path, {viewport: {width: 1280, height: 900}, consoleErrors: true});
  t.after(() => dir.cleanup());
  const file = join(dir.path, '门诊对话.jsonl');
  writeDialogues(file);
  appendFileSync(file, `\n${readFileSync(file, 'utf8').split('\n')[0]}\n`); // the first dialogue once more

  await page.goto(serve.url);
  await page.getByRole('link', {name: '数据集'}).click();
  await page.getByRole('button', {name: '导入数据集'}).click();
  const form = page.getByRole('form', {name: '导入数据集'});
  await form.getByLabel('数据文件').setInputFiles(file);
  assert.equal(await form.getByLabel('去标识化（推荐）').isChecked(), true, 'de-identification is on by default');
  assert.equal(await form.getByLabel('去掉完全重复的行').isChecked(), true, 'exact duplicates are left out by default');
  await form.getByRole('button', {name: '开始导入'}).click();
  await page.getByRole('heading', {name: '导入报告'}).waitFor({timeout: 30_000});
  const report = await page.locator('main').innerText();
  assert.match(report, /24/, 'rows imported');
  assert.match(report, /完全重复\s*1（未导入）/, 'the repeated first dialogue is counted and left out');
  assert.match(report, /#?25/, 'the broken line is reported by its position');
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'ds-1-report.png'), fullPage: true});

  // review: the phone number was replaced; undo it
  await page.getByRole('button', {name: '审核去标识化替换'}).click();
  const item = page.getByRole('listitem', {name: /电话：13912345678/}).first();
  await item.waitFor();
  await item.getByRole('button', {name: /^撤销：/}).click();
  await page.getByRole('status').filter({hasText: /已撤销 1/}).waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'ds-2-review.png'), fullPage: true});

  // browse: the restored number is searchable; filters narrow the rows
  await page.getByRole('tab', {name: '数据行'}).click();
  await page.getByLabel('搜索数据行').fill('13912345678');
  await page.getByRole('status').filter({hasText: /共 1 行/}).waitFor();
  await page.getByLabel('搜索数据行').fill('');
  await page.getByLabel('最少轮次').fill('2');
  await page.getByRole('status').filter({hasText: /共 3 行/}).waitFor();
  await page.getByRole('tab', {name: '概览'}).click();
  await page.getByRole('img', {name: /对话轮数分布/}).waitFor();

  // the paper's 7:1 single:multi mix
  await page.getByRole('link', {name: '返回数据集列表'}).click();
  await page.getByRole('button', {name: '设计混合配比'}).click();
  const mix = page.getByRole('form', {name: '混合配比设计'});
  await mix.getByLabel('数据集（第 1 项）').selectOption({label: '门诊对话'});
  await mix.getByRole('button', {name: '论文配比 7:1（单轮:多轮）'}).click();
  await mix.getByLabel('混合数据集名称').fill('七比一');
  await mix.getByRole('img', {name: /配比预览：.*87\.5%.*12\.5%/}).waitFor();
  // the mix would freeze 门诊对话 v1 while replacements still wait for review: said before the
  // click, and the mix is made only once that is accepted
  const warning = mix.getByRole('group', {name: /「门诊对话」v1 还有 2 项去标识化替换待审核/});
  await warning.waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'ds-3-mix-warning.png'), fullPage: true});
  assert.equal(await mix.getByRole('button', {name: '创建混合数据集'}).isDisabled(), true, 'not before the warning is accepted');
  await warning.getByRole('checkbox', {name: '我了解，仍然继续'}).check();
  await mix.getByRole('button', {name: '创建混合数据集'}).click();
  await page.getByRole('tab', {name: '概览'}).waitFor();
  const overview = await page.locator('main').innerText();
  // 21 single-turn rows allow 3 units of 7+1: 21 single, 3 multi
  assert.match(overview, /单轮[\s\S]{0,20}21/);
  assert.match(overview, /多轮[\s\S]{0,20}3/);
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'ds-3-mix.png'), fullPage: true});

  // 门诊对话 v1 is frozen now: its review offers no 撤销 that would fail, and says why
  await page.getByRole('link', {name: '返回数据集列表'}).click();
  await page.getByRole('link', {name: '门诊对话'}).click();
  await page.getByRole('tab', {name: '去标识化审核'}).click();
  await page.getByText(/版本 v1 已被使用（混合、导出、训练或标注）并冻结，替换不能再撤销/).waitFor();
  const pending = page.getByRole('listitem', {name: /电话：13912345678/}).filter({hasText: '待审核'});
  assert.equal(await pending.count(), 2);
  assert.equal(await page.getByRole('button', {name: /^撤销：/}).count(), 0, 'no undo button on a frozen version');
  assert.equal(await page.getByRole('listitem', {name: /电话/}).filter({hasText: '已撤销'}).getByRole('button').count(), 0, 'nothing to confirm on an undone item');
  await pending.first().getByText('版本已冻结，无法撤销').waitFor();
  await pending.first().getByRole('button', {name: '确认'}).click();
  await page.getByRole('status').filter({hasText: /已确认 1/}).waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'ds-4-frozen-review.png'), fullPage: true});
  assert.deepEqual(errors, [], 'no errors in the page console');
});

test('before the click: no preference pairs to export, no multi-turn rows for a 7:1 mix, and why', async (t) => {
  const dir = tempDir();
  const file = join(dir.path, 'single.jsonl');
  writeFileSync(file, Array.from({length: 14}, (_, i) => JSON.stringify({conversation: [{role: 'user', content: `咳嗽${i + 1}天了`}, {role: 'assistant', content: '有没有发热？'}]})).join('\n'));
  const imported = runCli(['data', 'import', file, '--name', '单轮问答', '--no-deid', '--data-dir', dir.path]);
  assert.equal(imported.status, 0, imported.stderr);
  const {serve, page, errors} = await openApp(t, dir.path, {viewport: {width: 1280, height: 900}});
  t.after(() => dir.cleanup());
  await page.goto(serve.url);
  await page.getByRole('link', {name: '数据集'}).click();
  await page.getByRole('link', {name: '单轮问答'}).click();
  await page.getByRole('tab', {name: '导出'}).click();
  await page.getByText('将导出 14 行。').waitFor();
  await page.getByRole('radio', {name: '偏好对（pairs）'}).check();
  await page.getByText(/这个版本没有偏好对数据，无法导出为偏好对.*这个版本只有：对话 14 行。/).waitFor();
  assert.equal(await page.getByRole('button', {name: '导出数据集'}).isDisabled(), true, 'an export that would write 0 rows cannot be started');

  await page.getByRole('link', {name: '返回数据集列表'}).click();
  await page.getByRole('button', {name: '设计混合配比'}).click();
  const mix = page.getByRole('form', {name: '混合配比设计'});
  await mix.getByLabel('数据集（第 1 项）').selectOption({label: '单轮问答'});
  await mix.getByRole('button', {name: '论文配比 7:1（单轮:多轮）'}).click();
  await mix.getByText(/第 2 项（「单轮问答」v1，多轮）没有可用的行：这个版本没有多轮对话，只有单轮对话 14 行/).waitFor();
  assert.equal(await mix.getByRole('button', {name: '创建混合数据集'}).isDisabled(), true, 'a mix that would be empty cannot be created');
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'ds-4-empty-mix.png'), fullPage: true});
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('a file that is not UTF-8 (GBK, random bytes) is refused in the page, in both languages, and nothing is sent', async (t) => {
  const dir = tempDir();
  const {serve, page} = await openApp(t, dir.path, {viewport: {width: 1280, height: 900}});
  t.after(() => dir.cleanup());
  // 20 dialogues as a Chinese Windows editor saves them: 你好 in GBK (C4E3 BAC3), ASCII around it
  const gbk = join(dir.path, 'gbk.jsonl');
  const hello = Buffer.from([0xc4, 0xe3, 0xba, 0xc3]);
  const line = (i: number) => Buffer.concat([Buffer.from(`{"conversation": [{"role": "user", "content": "`), hello, Buffer.from(`${i}"}, {"role": "assistant", "content": "`), hello, Buffer.from('"}]}\n')]);
  writeFileSync(gbk, Buffer.concat(Array.from({length: 20}, (_, i) => line(i))));
  const random = join(dir.path, 'random.json');
  writeFileSync(random, Buffer.from([0x7b, 0xff, 0xfe, 0x00, 0x80, 0x81, 0xc0, 0xaf, 0x7d]));
  const sent: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/datasets.import')) sent.push(request.url());
  });
  await page.goto(serve.url);
  await page.getByRole('link', {name: '数据集'}).click();
  await page.getByRole('button', {name: '导入数据集'}).click();
  // named in the UI's language, which the test switches below
  const form = page.getByRole('form', {name: /^(导入数据集|Import dataset)$/});
  await form.getByLabel('数据文件').setInputFiles(gbk);
  await form.getByRole('button', {name: '开始导入'}).click();
  await form.getByRole('alert').filter({hasText: '文件「gbk.jsonl」不是 UTF-8 编码（可能是 GBK）。请用编辑器另存为 UTF-8 后再导入。'}).waitFor();
  await form.getByLabel('数据文件').setInputFiles(random);
  await form.getByRole('button', {name: '开始导入'}).click();
  const alert = form.getByRole('alert').filter({hasText: '文件「random.json」不是 UTF-8 编码'});
  await alert.waitFor();
  assert.doesNotMatch(await form.innerText(), /JSON 格式错误|�/, 'not a JSON error, no replacement characters');
  // in English too
  await page.getByRole('button', {name: /切换语言/}).click();
  await form.getByRole('button', {name: 'Start import'}).click();
  await form.getByRole('alert').filter({hasText: 'The file "random.json" is not UTF-8 text (it may be GBK). Save it as UTF-8 and import again.'}).waitFor();
  assert.deepEqual(sent, [], 'nothing was sent to the services');
  assert.equal(await page.getByRole('heading', {name: /导入报告|Import report/}).count(), 0, 'no import report');
  await page.getByRole('button', {name: /切换语言/}).click();
  await page.goto(serve.url);
  await page.getByRole('link', {name: '数据集'}).click();
  await page.getByText('还没有数据集。').waitFor();
});
