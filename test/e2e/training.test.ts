// Training end to end in Chromium against the built `zhongjing serve` and the real native
// trainer: start an SFT run on the tiny model from the form, watch the loss curve get points,
// see it complete, and try the adapter in a consultation.
import {test, type TestContext} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {dirname, join} from 'node:path';
import {openApp} from '../helpers/app.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

/** A data dir with one dataset imported from `rows` and the tiny model, `serve` on it, and a
 * Chinese page on the training screen's new-run form. */
async function openNewRunForm(t: TestContext, dataset: {name: string; rows: object[]}, before?: (dataDir: string) => Promise<void> | void) {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'data.jsonl');
  writeFileSync(file, dataset.rows.map((row) => JSON.stringify(row)).join('\n'));
  assert.equal(runCli(['data', 'import', file, '--name', dataset.name, '--data-dir', dir.path]).status, 0);
  assert.equal(runCli(['models', 'add', await tinyModelPath(), '--name', 'tiny', '--data-dir', dir.path]).status, 0);
  await before?.(dir.path);
  const {serve, page, errors} = await openApp(t, dir.path, {viewport: {width: 1366, height: 900}});
  await page.goto(serve.url);
  await page.getByRole('link', {name: '训练', exact: true}).click();
  await page.getByRole('button', {name: '新建训练'}).click();
  return {page, errors, form: page.getByRole('form', {name: '新建训练'}), serve};
}

test('an SFT run from the form: curve, completion, try in consultation', async (t) => {
  const rows = Array.from({length: 12}, (_, i) => ({conversation: [{role: 'user', content: `发热${i + 1}天怎么办？`}, {role: 'assistant', content: '多喝水，超过38.5度用退热药。'}]}));
  const {page, errors, form} = await openNewRunForm(t, {name: '发热对话', rows});
  await form.getByRole('checkbox', {name: '发热对话', exact: true}).check();
  await form.getByRole('radio', {name: '按步数'}).check();
  await form.getByLabel('训练步数').fill('6');
  await form.getByLabel('最大序列长度').fill('128');
  await form.getByLabel('梯度累积').fill('1');
  await form.getByText('高级设置').click();
  await form.getByLabel('评估间隔').fill('2');
  await form.getByLabel('检查点间隔').fill('3');
  await form.getByRole('button', {name: '开始训练'}).click();

  const progress = page.getByRole('progressbar', {name: '训练进度'});
  await progress.waitFor();
  await page.getByText('训练完成').waitFor({timeout: 180_000});
  assert.equal(await progress.getAttribute('aria-valuenow'), '6');
  const curve = await page.getByRole('img', {name: /^损失曲线/}).getAttribute('aria-label');
  assert.ok(curve, 'the loss curve is on the page');
  assert.match(await page.locator('main').innerText(), /第 6 步 · 训练损失 \d+\.\d+/);
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'tr-1-completed.png'), fullPage: true});

  await page.getByRole('button', {name: '在问诊中试用'}).click();
  await page.waitForURL(/#\/consultation/);
  await page.getByText(/试用：/).first().waitFor();
  assert.match(await page.locator('body').innerText(), /LoRA 适配器（已选 1）/);
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('a reward model from the form: preference data, accuracy curve, held-out accuracy with its interval, provenance', async (t) => {
  const symptoms = ['头痛', '发热', '咳嗽', '腹痛', '头晕', '恶心'];
  const rows = Array.from({length: 24}, (_, i) => {
    const s = symptoms[i % symptoms.length]!;
    return {question: `我${s}${(i % 4) + 1}天了`, response_chosen: `请问${s}是持续的吗？`, response_rejected: '没事。'};
  });
  const {page, errors, form} = await openNewRunForm(t, {name: '问诊偏好', rows});
  await form.getByRole('radio', {name: '奖励模型'}).check();
  // the objective brings its own defaults and settings
  assert.equal(await form.getByLabel('学习率').inputValue(), '5e-5');
  await form.getByLabel('间隔', {exact: true}).waitFor();
  await form.getByRole('checkbox', {name: '问诊偏好', exact: true}).check();
  await form.getByRole('radio', {name: '按步数'}).check();
  await form.getByLabel('训练步数').fill('8');
  await form.getByLabel('学习率').fill('5e-3');
  await form.getByLabel('最大序列长度').fill('96');
  await form.getByLabel('梯度累积').fill('1');
  await form.getByText('高级设置').click();
  await form.getByLabel('评估间隔').fill('4');
  // a switch of the config is a checkbox (stored as 1)
  await form.getByRole('checkbox', {name: '梯度检查点（省显存）'}).check();
  await form.getByRole('button', {name: '开始训练'}).click();

  await page.getByText('训练完成').waitFor({timeout: 180_000});
  await page.getByRole('img', {name: /^成对准确率/}).waitFor();
  const main = await page.locator('main').innerText();
  assert.match(main, /梯度检查点（省显存） gradient_checkpointing\s+开/);
  assert.match(main, /--gradient-checkpointing 1/);
  assert.match(main, /留出集成对准确率 \d+\.\d%（95% 置信区间 \d+\.\d%–\d+\.\d%，\d+ 对）/);
  assert.match(main, /zhongjing train rm --model .* --data 问诊偏好/);
  assert.match(main, /结果取自/);
  assert.equal(await page.getByRole('button', {name: '在问诊中试用'}).count(), 0, 'a reward model is not a chat adapter');
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'tr-2-reward-model.png'), fullPage: true});
  // hand the run to LLaMA-Factory: the package is written, and what has no equivalent is said
  await page.getByRole('button', {name: '生成交接包'}).click();
  await page.getByText(/^交接包已写入 .*handoff-/).waitFor();
  assert.match(await page.locator('.handoff .command').innerText(), /llamafactory-cli train .*\.yaml/);
  const unmapped = page.getByRole('table', {name: '在 LLaMA-Factory 中没有对应项的设置，以及如何处理'});
  assert.ok((await unmapped.getByRole('row').count()) >= 2, 'at least one setting without an equivalent, with its note');
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('a PPO run from the form: reward model and SFT start chosen, reward and KL curves, held-out samples beside the start', async (t) => {
  const symptoms = ['头痛', '发热', '咳嗽', '腹痛', '头晕', '恶心'];
  const rows = Array.from({length: 24}, (_, i) => {
    const s = symptoms[i % symptoms.length]!;
    return {question: `我${s}${(i % 4) + 1}天了`, response_chosen: '请问还有其他不舒服吗？', response_rejected: '多喝水，注意休息。'};
  });
  const {page, errors, form} = await openNewRunForm(t, {name: '问诊偏好', rows}, async (dataDir) => {
    // the SFT adapter and a completed reward model, through the CLI (the same service as the app)
    const common = ['--model', 'tiny', '--data-dir', dataDir, '--ctx', '96', '--accum', '1', '--val', '0'];
    const sftFile = join(dataDir, 'sft.jsonl');
    writeFileSync(sftFile, rows.map((r, i) => JSON.stringify({query: r.question, response: i % 2 ? r.response_chosen : r.response_rejected})).join('\n'));
    const sft = runCli(['train', 'sft', '--data', sftFile, '--steps', '30', '--lr', '1e-2', '--out', join(dataDir, 'sft.gguf'), ...common]);
    assert.equal(sft.status, 0, sft.stderr);
    const rm = runCli(['train', 'rm', '--data', '问诊偏好', '--steps', '10', '--lr', '5e-3', '--name', '问诊奖励模型', '--out', join(dataDir, 'rm.gguf'), ...common]);
    assert.equal(rm.status, 0, rm.stderr);
  });
  await form.getByRole('radio', {name: '强化学习（PPO）'}).check();
  await form.getByRole('combobox', {name: '奖励模型', exact: true}).selectOption({label: '问诊奖励模型'});
  await form.getByLabel('策略起点（SFT 适配器，同时是参考模型）').selectOption({index: 1});
  await form.getByRole('checkbox', {name: '问诊偏好', exact: true}).check();
  await form.getByRole('radio', {name: '按步数'}).check();
  await form.getByLabel('训练步数').fill('4');
  await form.getByLabel('学习率').fill('2e-3');
  await form.getByLabel('采样温度').fill('0.1');
  await form.getByLabel('回答最大长度').fill('8');
  await form.getByLabel('最大序列长度').fill('96');
  await form.getByText('高级设置').click();
  await form.getByLabel('评估间隔').fill('2');
  await form.getByRole('button', {name: '开始训练'}).click();

  await page.getByText('训练完成').waitFor({timeout: 180_000});
  await page.getByRole('img', {name: /^奖励模型分数/}).waitFor();
  await page.getByRole('img', {name: /^与参考模型的 KL/}).waitFor();
  const samples = page.getByRole('region', {name: '留出样本'});
  await samples.waitFor();
  assert.ok((await samples.getByRole('cell').count()) >= 2, 'answers at the start and at the check, side by side');
  const main = await page.locator('main').innerText();
  assert.match(main, /奖励模型：问诊奖励模型/, 'the provenance chain names the reward model');
  assert.match(main, /zhongjing train ppo --model .* --policy-init .* --rm /);
  await page.getByRole('button', {name: '在问诊中试用'}).waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'tr-3-ppo.png'), fullPage: true});
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('a saved configuration preset starts new runs, and two finished runs compare on one chart', async (t) => {
  const rows = Array.from({length: 12}, (_, i) => ({conversation: [{role: 'user', content: `咳嗽${i + 1}天了`}, {role: 'assistant', content: '有没有发热？痰是什么颜色？'}]}));
  const {page, errors, form, serve} = await openNewRunForm(t, {name: '咳嗽对话', rows});
  await form.getByRole('checkbox', {name: '咳嗽对话', exact: true}).check();
  await form.getByRole('radio', {name: '按步数'}).check();
  await form.getByLabel('训练步数').fill('3');
  await form.getByLabel('最大序列长度').fill('128');
  await form.getByLabel('梯度累积').fill('1');
  await form.getByText('高级设置').click();
  await form.getByLabel('评估间隔').fill('1');
  const presets = page.getByTestId('training-presets');
  await presets.getByLabel('预设名称').fill('三步 SFT');
  await presets.getByRole('button', {name: '保存为预设'}).click();
  await page.getByText('已保存预设「三步 SFT」').waitFor();
  // stored through the settings: another window (and the next start) sees it
  const settings = await fetch(`${serve.base}/api/settings.get`, {method: 'POST', headers: {authorization: `Bearer ${serve.token}`, 'content-type': 'application/json'}, body: '{}'});
  const saved = ((await settings.json()) as {result: {trainingPresets: {name: string; config: {steps: number; evalEvery: number}}[]}}).result.trainingPresets;
  assert.deepEqual(saved.map((p) => [p.name, p.config.steps, p.config.evalEvery]), [['三步 SFT', 3, 1]], 'the preset is in the settings');

  // the same configuration as a JSON file
  const [download] = await Promise.all([page.waitForEvent('download'), presets.getByRole('button', {name: '导出 JSON'}).click()]);
  const exported = join(dirname(await download.path()), 'exported.json');
  await download.saveAs(exported);
  const file = JSON.parse(readFileSync(exported, 'utf8')) as {format: string; preset: {kind: string; config: {steps: number}}};
  assert.deepEqual([file.format, file.preset.kind, file.preset.config.steps], ['zhongjing-training-config', 'sft', 3], 'the exported file');

  /** a fresh form (the defaults), the preset loaded (from the settings or the file), a name, started, finished */
  const runFromPreset = async (name: string, seed: string, from: 'preset' | 'file') => {
    await page.getByRole('link', {name: /返回训练列表/}).click();
    await page.getByRole('button', {name: '新建训练'}).click();
    if (from === 'preset') {
      await presets.getByLabel('已保存的预设').selectOption('三步 SFT');
      await presets.getByRole('button', {name: '载入预设'}).click();
    } else {
      await presets.getByLabel('导入 JSON 文件').setInputFiles(exported);
    }
    // loading a file is asynchronous: wait until the form shows the preset's steps
    const steps = form.getByLabel('训练步数');
    for (const start = Date.now(); !((await steps.count()) > 0 && (await steps.inputValue()) === '3'); ) {
      assert.ok(Date.now() - start < 30_000, 'the preset fills the form');
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(await form.getByLabel('训练步数').inputValue(), '3', 'steps from the preset');
    assert.equal(await form.getByLabel('最大序列长度').inputValue(), '128', 'sequence length from the preset');
    assert.equal(await form.getByRole('checkbox', {name: '咳嗽对话', exact: true}).isChecked(), true, 'the dataset from the preset');
    await form.getByLabel('运行名称').fill(name);
    await form.getByText('高级设置').click();
    await form.getByLabel('随机种子').fill(seed);
    await form.getByRole('button', {name: '开始训练'}).click();
    await page.getByText('训练完成').waitFor({timeout: 180_000});
    assert.equal(await page.getByRole('progressbar', {name: '训练进度'}).getAttribute('aria-valuenow'), '3', `${name} ran the preset's 3 steps`);
  };
  await runFromPreset('运行甲', '11', 'preset');
  await runFromPreset('运行乙', '22', 'file');

  await page.getByRole('link', {name: /返回训练列表/}).click();
  const compare = page.getByTestId('run-compare');
  const optionA = compare.getByLabel('训练 A').locator('option', {hasText: '运行甲'});
  await compare.getByLabel('训练 A').selectOption((await optionA.getAttribute('value'))!);
  const optionB = compare.getByLabel('训练 B').locator('option', {hasText: '运行乙'});
  await compare.getByLabel('训练 B').selectOption((await optionB.getAttribute('value'))!);
  await compare.getByRole('button', {name: '比较'}).click();
  const chart = compare.locator('figure').filter({hasText: '损失对比'});
  await chart.waitFor();
  const legend = await chart.locator('figcaption').innerText();
  for (const label of ['A「运行甲」训练损失', 'A「运行甲」验证损失', 'B「运行乙」训练损失', 'B「运行乙」验证损失']) assert.ok(legend.includes(label), `legend has ${label}: ${legend}`);
  // both runs' training-loss lines are drawn (3 steps each)
  for (const tone of ['main', 'second']) {
    const paths = await chart.locator(`path.line.tone-${tone}`).evaluateAll((nodes) => nodes.map((n) => n.getAttribute('d') ?? ''));
    assert.ok(paths.some((d) => (d.match(/L/g) ?? []).length >= 2), `a ${tone} line with 3 points: ${JSON.stringify(paths)}`);
  }
  const summary = await chart.getByRole('img').getAttribute('aria-label');
  assert.match(summary ?? '', /A「运行甲」训练损失 \d+\.\d+.*B「运行乙」训练损失 \d+\.\d+/, `read-out of both runs: ${summary}`);
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'tr-compare.png'), fullPage: true});
  assert.deepEqual(errors, [], 'no errors in the page');
});
