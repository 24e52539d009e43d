// The evaluation studio in Chromium against the built `zhongjing serve`: create an evaluation of
// two contestants on a small benchmark, generate the answers and judge them with the tiny model
// from the screen, rate three pairs blind with the keyboard, open the report (charts and the
// human verdicts counted) and download it as a self-contained HTML file.
import {test, type TestContext} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {openApp} from '../helpers/app.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

/** The app on `dir`, opened at its first screen. */
async function openAt(t: TestContext, dir: string, serveArgs: string[] = []) {
  const {serve, page, errors} = await openApp(t, dir, {serveArgs, viewport: {width: 1366, height: 900}, reducedMotion: true, acceptDownloads: true});
  await page.goto(serve.url);
  return {page, errors};
}

test('in the browser: an evaluation is generated, judged, rated blind by keyboard and reported', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'huatuo26M-test.jsonl');
  writeFileSync(
    file,
    ['孩子发烧三天怎么办？', '头痛伴恶心需要做什么检查？', '高血压可以停药吗？', '胃痛吃什么药？'].map((q, i) => JSON.stringify({id: String(i), instruction: [q], input: '', output: ['请及时就医。']})).join('\n'),
  );
  assert.equal(runCli(['data', 'import', file, '--name', '单轮评测集', '--data-dir', dir.path]).status, 0);
  assert.equal(runCli(['models', 'add', await tinyModelPath(), '--name', 'tiny', '--data-dir', dir.path]).status, 0);

  const {page, errors} = await openAt(t, dir.path);
  await page.getByRole('link', {name: '评测', exact: true}).click();

  // the form: benchmark, items, two contestants differing in temperature
  await page.getByRole('button', {name: '新建评测'}).click();
  const form = page.getByRole('form', {name: '新建评测'});
  await form.getByLabel('名称', {exact: true}).fill('基座对比');
  await form.getByLabel('评测集').selectOption({label: '单轮评测集 (v1, 4)'});
  await form.getByLabel('最多条目数').fill('4');
  const first = form.getByRole('group', {name: '参评者 1'});
  await first.getByLabel('参评者名称').fill('低温');
  await first.getByLabel('温度').fill('0.2');
  await first.getByLabel('最多生成 token 数').fill('16');
  const second = form.getByRole('group', {name: '参评者 2'});
  await second.getByLabel('参评者名称').fill('高温');
  await second.getByLabel('温度').fill('1.2');
  await second.getByLabel('最多生成 token 数').fill('16');
  await form.getByRole('button', {name: '创建并开始生成回答'}).click();

  // answers: 4 items × 2 contestants, then the tiny model judges both orders
  await page.getByRole('progressbar', {name: '回答生成进度'}).and(page.locator('[aria-valuenow="8"]')).waitFor({timeout: 120_000});
  await page.getByLabel('裁判', {exact: true}).selectOption({label: 'tiny'});
  await page.getByRole('button', {name: '开始评判'}).click();
  await page.getByRole('progressbar', {name: '评判进度'}).and(page.locator('[aria-valuenow="8"]')).waitFor({timeout: 120_000});

  // blind rating: a rater, then three pairs by keyboard (A = safety left, K = quality tie, Enter)
  await page.getByRole('tab', {name: '盲评'}).click();
  await page.getByRole('button', {name: '新建标注员'}).click();
  const raterForm = page.getByRole('form', {name: '新建标注员'});
  await raterForm.getByLabel('标注员姓名').fill('盲评医生');
  await raterForm.getByRole('radio', {name: '仲裁专家', exact: true}).check();
  await raterForm.getByRole('button', {name: '添加标注员'}).click();
  await raterForm.waitFor({state: 'detached'});
  const select = page.getByLabel('当前标注员');
  await select.selectOption((await select.locator('option', {hasText: '盲评医生'}).getAttribute('value'))!);
  for (const n of [1, 2, 3]) {
    const progress = page.getByRole('progressbar', {name: '我的盲评进度'});
    await progress.and(page.locator(`[aria-valuenow="${n - 1}"]`)).waitFor();
    assert.equal(await page.getByText('低温').count(), 0, 'contestant names are hidden');
    await page.locator('body').press('a');
    await page.locator('body').press('k');
    await page.locator('body').press('Enter');
    await progress.and(page.locator(`[aria-valuenow="${n}"]`)).waitFor();
  }

  // the report: judge and human charts, three human verdicts per dimension
  await page.getByRole('tab', {name: '报告'}).click();
  const humanSafety = page.getByRole('region', {name: '人工盲评 · 安全性'});
  await humanSafety.waitFor();
  assert.equal(await humanSafety.locator('svg').count(), 1);
  const row = humanSafety.locator('tbody tr').first();
  const cells = await row.locator('td').allInnerTexts();
  assert.equal(Number(cells[1]) + Number(cells[2]) + Number(cells[3]), 3, `three human verdicts: ${cells.join(' | ')}`);
  assert.equal(Number(cells[2]), 0, 'no tie was given on safety');
  await page.getByRole('region', {name: '裁判模型 · 安全性'}).waitFor();
  const download = page.waitForEvent('download');
  await page.getByRole('button', {name: '导出报告（HTML）'}).click();
  const saved = join(dir.path, 'report.html');
  await (await download).saveAs(saved);
  const html = readFileSync(saved, 'utf8');
  assert.match(html, /基座对比/);
  assert.match(html, /<svg/);
  assert.doesNotMatch(html, /<script/);
  assert.deepEqual(errors, []);
});

test('in the browser: side by side in a consultation, the clinician prefers one answer and it becomes reward-model data', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  assert.equal(runCli(['models', 'add', await tinyModelPath('qwen2'), '--name', 'tiny-qwen2', '--data-dir', dir.path]).status, 0);
  const {page, errors} = await openAt(t, dir.path, ['--model', await tinyModelPath()]);
  await page.getByRole('button', {name: '新建问诊'}).click();
  await page.getByLabel('并排对比').selectOption({label: 'tiny-qwen2'});
  const composer = page.getByRole('form', {name: '消息输入'});
  await composer.getByLabel('输入消息').fill('孩子咳嗽一周了怎么办？');
  await composer.getByLabel('输入消息').press('Enter');
  const pair = page.getByRole('group', {name: '两个回答并排对比'});
  const prefer = pair.getByRole('button', {name: '选择此回答（tiny-qwen2）'});
  // enabled only once both answers have finished (the consultation is busy until then)
  await prefer.and(page.locator(':enabled')).waitFor({timeout: 60_000});
  await prefer.click();
  await page.getByText('已记录您的选择').waitFor();
  await pair.getByRole('article', {name: 'tiny-qwen2 的回答'}).getByText('已选择').waitFor();

  await page.getByRole('link', {name: '评测', exact: true}).click();
  await page.getByRole('button', {name: '把问诊中的并排选择存为偏好数据集'}).click();
  await page.getByText('已生成偏好数据集（1 对）').waitFor();
  assert.deepEqual(errors, []);
});

test('in the browser: an evaluation of multiple-choice items only says no judge is needed, and the report shows accuracy', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'cmexam.csv');
  const rows = [['高血压的诊断标准是', 'A 收缩压≥140 mmHg\\nB 收缩压≥120 mmHg\\nC 舒张压≥60 mmHg', 'A', '指南规定'], ['成人正常体温约为', 'A 35 ℃\\nB 37 ℃\\nC 39 ℃', 'B', '常识']];
  writeFileSync(file, `Question,Options,Answer,Explanation\n${rows.map((r) => r.join(',')).join('\n')}\n`);
  assert.equal(runCli(['data', 'import', file, '--name', '选择题', '--data-dir', dir.path]).status, 0);
  assert.equal(runCli(['models', 'add', await tinyModelPath(), '--name', 'tiny', '--data-dir', dir.path]).status, 0);

  const {page, errors} = await openAt(t, dir.path);
  await page.getByRole('link', {name: '评测', exact: true}).click();
  await page.getByRole('button', {name: '新建评测'}).click();
  const form = page.getByRole('form', {name: '新建评测'});
  await form.getByLabel('名称', {exact: true}).fill('选择题对比');
  await form.getByLabel('评测集').selectOption({label: '选择题 (v1, 2)'});
  for (const [n, name] of [[1, '甲'], [2, '乙']] as const) {
    const contestant = form.getByRole('group', {name: `参评者 ${n}`});
    await contestant.getByLabel('参评者名称').fill(name);
    await contestant.getByLabel('最多生成 token 数').fill('16');
  }
  await form.getByRole('button', {name: '创建并开始生成回答'}).click();
  await page.getByRole('progressbar', {name: '回答生成进度'}).and(page.locator('[aria-valuenow="4"]')).waitFor({timeout: 120_000});
  // nothing for a judge to compare: said so, and the button cannot start an empty pass
  await page.getByRole('status').filter({hasText: '本评测只有选择题'}).waitFor();
  await page.getByLabel('裁判', {exact: true}).selectOption({label: 'tiny'});
  assert.equal(await page.getByRole('button', {name: '开始评判'}).isDisabled(), true);
  await page.getByRole('tab', {name: '报告'}).click();
  await page.getByRole('status').filter({hasText: '选择题按答案字母计分'}).waitFor();
  assert.deepEqual(errors, []);
});
