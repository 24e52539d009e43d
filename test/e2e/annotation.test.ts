// Expert annotation end to end in Chromium against the built `zhongjing serve`: generate K=4
// candidates with the tiny model, rank with the keyboard as two annotators in different orders
// (one of them finds every answer wrong and writes a correction), find the item in the expert's
// disagreement queue, start from that annotator's judgement, edit the correction, adjudicate,
// export pairs and corrections and count them.
import {test} from 'node:test';
import assert from 'node:assert/strict';
import {readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import type {Page} from 'playwright-core';
import {openApp} from '../helpers/app.js';
import {runCli} from '../helpers/cli.js';
import {tempDir} from '../helpers/tmp.js';
import {tinyModelPath} from '../helpers/tiny-model.js';

const SCREENSHOTS = process.env.ZHONGJING_SCREENSHOTS;

async function addAnnotator(page: Page, name: string, role: '标注员' | '仲裁专家'): Promise<void> {
  await page.getByRole('button', {name: '新建标注员'}).click();
  const form = page.getByRole('form', {name: '新建标注员'});
  await form.getByLabel('标注员姓名').fill(name);
  await form.getByRole('radio', {name: role, exact: true}).check();
  await form.getByRole('button', {name: '添加标注员'}).click();
  await form.waitFor({state: 'detached'});
}

async function selectAnnotator(page: Page, name: string): Promise<void> {
  const select = page.getByLabel('当前标注员');
  const option = await select.locator('option', {hasText: name}).first().getAttribute('value');
  await select.selectOption(option!);
}

/** Ranks the item on screen with the keyboard only, by the answers' texts (ascending or
 * descending): each annotator sees the answers in their own shuffled order, so letters do not
 * name the same answer for two people, texts do. Digits place each answer, then Enter saves.
 * With a correction, "all answers are wrong" is ticked and the correction written first. */
async function rankWithKeyboard(page: Page, itemNumber: number, direction: 'asc' | 'desc', correction?: string): Promise<void> {
  // the next item loads after the previous save answers: rank only once it is on screen
  await page.getByRole('region', {name: `第 ${itemNumber} 条`}).waitFor();
  const letters = ['A', 'B', 'C', 'D'];
  const texts = await Promise.all(letters.map((l) => page.getByRole('region', {name: `回答 ${l}`, exact: true}).locator('.text').innerText()));
  // the letter keys name screen positions: A–D for K = 4, whichever answer is shown last
  assert.equal(await page.locator('.legend dt').first().innerText(), 'A–D', 'key legend');
  const order = [...letters].sort((a, b) => texts[letters.indexOf(a)]!.localeCompare(texts[letters.indexOf(b)]!) * (direction === 'asc' ? 1 : -1));
  // a real move first: an item left in display order counts as unranked (Enter would refuse)
  await page.getByRole('button', {name: `排序：回答 ${order.at(-1)}`}).press('1');
  for (const [place, letter] of order.entries()) {
    const handle = page.getByRole('button', {name: `排序：回答 ${letter}`});
    await handle.focus();
    await handle.press(String(place + 1));
  }
  if (correction !== undefined) {
    await page.getByRole('checkbox', {name: '所有回答都有错误'}).check();
    await page.getByLabel('纠正后的回答').fill(correction);
  }
  await page.getByRole('button', {name: `排序：回答 ${order[0]}`}).press('Enter');
  await page.getByText(`已保存第 ${itemNumber} 条`).waitFor({timeout: 10_000}).catch(async (e) => {
    if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'an-fail.png'), fullPage: true});
    throw e;
  });
}

test('in the browser: two annotators rank by keyboard, the expert adjudicates, pairs are exported', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  // a small dataset and the tiny model, registered through the CLI as a researcher would
  const file = join(dir.path, 'dialogues.jsonl');
  writeFileSync(
    file,
    [0, 1].map((i) => JSON.stringify({conversation: [{role: 'user', content: `孩子咳嗽${i + 2}天，晚上加重`}, {role: 'assistant', content: '有没有发热？'}]})).join('\n'),
  );
  assert.equal(runCli(['data', 'import', file, '--name', '儿科咳嗽', '--data-dir', dir.path]).status, 0);
  assert.equal(runCli(['models', 'add', await tinyModelPath(), '--name', 'tiny', '--data-dir', dir.path]).status, 0);

  const {serve, page, errors} = await openApp(t, dir.path, {viewport: {width: 1366, height: 900}, reducedMotion: true});
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await addAnnotator(page, '李医生', '标注员');
  await addAnnotator(page, '王医生', '标注员');
  await addAnnotator(page, '张主任', '仲裁专家');

  // a project from the dataset, candidates from the tiny model
  await page.getByRole('button', {name: '新建标注项目'}).click();
  const form = page.getByRole('form', {name: '新建标注项目'});
  await form.getByLabel('项目名称').fill('咳嗽排序');
  await form.getByLabel('数据集', {exact: true}).selectOption({label: '儿科咳嗽'});
  await form.getByLabel('最大生成长度 (max tokens)').fill('16');
  await form.getByRole('button', {name: '创建项目'}).click();
  await page.getByRole('button', {name: '生成候选回答'}).click();
  await page.getByText('候选回答已生成完毕。').waitFor({timeout: 120_000});

  // annotator 1: both items in ascending text order
  await selectAnnotator(page, '李医生');
  await page.getByRole('tab', {name: '排序标注'}).click();
  for (const n of [1, 2]) {
    await rankWithKeyboard(page, n, 'asc');
  }
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'an-1-ranked.png'), fullPage: true});

  // annotator 2: the first item reversed and every answer wrong, the second the same as annotator 1
  // (each sees a different shuffle)
  const correction = '咳嗽加重要先看有没有发热和气促，请尽快到儿科就诊。';
  await selectAnnotator(page, '王医生');
  await page.getByRole('tab', {name: '排序标注'}).click();
  await rankWithKeyboard(page, 1, 'desc', correction);
  await rankWithKeyboard(page, 2, 'asc');

  // the expert sees exactly one disagreement and settles it
  await selectAnnotator(page, '张主任');
  await page.getByRole('tab', {name: '分歧裁定'}).click();
  const queued = page.getByRole('button', {name: /^分歧条目：第 \d+ 条/});
  await queued.first().waitFor();
  assert.equal(await queued.count(), 1);
  await queued.first().click();
  await page.getByText(/最佳回答不同/).first().waitFor();
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'an-2-adjudicate.png'), fullPage: true});
  // starting from 王医生 takes over the order, "all wrong" and the correction, which stays editable
  await page.getByRole('button', {name: '以此为起点：王医生'}).click();
  assert.ok(await page.getByRole('checkbox', {name: '所有回答都有错误'}).isChecked(), '"all wrong" is copied');
  const corrected = page.getByLabel('纠正后的回答');
  assert.equal(await corrected.inputValue(), correction, 'the correction is copied and shown');
  await corrected.fill(`${correction}如有喘息请立即就医。`);
  await page.getByRole('button', {name: '提交裁定'}).click();
  await page.getByText(/已裁定第 \d+ 条/).waitFor();

  // export pairs: the all-wrong item's correction ranks above its 4 answers, so C(5,2) = 10 pairs
  // for it and C(4,2) = 6 for the other, 16 at most (identical candidate texts are dropped)
  await page.getByRole('tab', {name: '导出'}).click();
  await page.getByRole('radio', {name: '偏好对（LLaMA-Factory）'}).check();
  const out = join(dir.path, 'pairs.jsonl');
  await page.getByLabel('输出文件路径（可选）').fill(out);
  await page.getByRole('button', {name: '导出', exact: true}).click();
  await page.getByText(/已写入 \d+ 条记录/).waitFor();
  const pairs = readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.ok(pairs.length >= 4 && pairs.length <= 16, `${pairs.length} pairs`);
  assert.ok(pairs.some((p) => p.chosen.value === `${correction}如有喘息请立即就医。`), 'the correction is preferred to the answers');
  assert.ok(pairs.every((p) => p.chosen.value !== p.rejected.value));
  assert.match(pairs[0].conversations.at(-1).value, /孩子咳嗽/);
  // the SFT-corrections export holds the expert's edited correction (after the pairs' "已写入 N 条",
  // whose N is at least 4, so the text waited for cannot be the previous export's)
  await page.getByRole('radio', {name: 'SFT 纠正数据'}).check();
  const correctionsOut = join(dir.path, 'corrections.jsonl');
  await page.getByLabel('输出文件路径（可选）').fill(correctionsOut);
  await page.getByRole('button', {name: '导出', exact: true}).click();
  await page.getByText('已写入 1 条记录').waitFor();
  const [sft] = readFileSync(correctionsOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(sft.conversations.at(-1).value, `${correction}如有喘息请立即就医。`);

  assert.deepEqual(errors, [], 'no errors in the page');
});

test('in the browser: import a preference-pair file, twice, without duplicates', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const pairs = join(dir.path, 'pairs.jsonl');
  writeFileSync(pairs, [
    JSON.stringify({question: '感冒能喝酒吗？', response_chosen: '不建议，酒精会加重症状。', response_rejected: '可以。'}),
    JSON.stringify({question: '孕妇能吃布洛芬吗？', response_chosen: '孕晚期禁用，请先咨询医生。', response_rejected: '随便吃。'}),
    JSON.stringify({question: '感冒要吃抗生素吗？', response_chosen: '不需要。', response_rejected: '不需要。'}),
  ].join('\n'));
  const {serve, page} = await openApp(t, dir.path);
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await page.getByText('导入标注文件').click();
  const form = page.getByRole('form', {name: '导入标注文件'});
  // uploaded from the browser, as over the README's SSH tunnel (the server's disk is not ours)
  await form.getByLabel('从本机选择文件（可多选）').setInputFiles(pairs);
  await form.getByRole('button', {name: '导入', exact: true}).click();
  await page.getByText('新增 2 条，匹配已有 0 条，合并排序 2 个。').waitFor();
  // the line left out is said in the UI's language, not in English
  await page.getByText('pairs.jsonl:3：较好与较差的回答完全相同').waitFor();
  await form.getByRole('button', {name: '导入', exact: true}).click();
  await page.getByText('新增 0 条，匹配已有 2 条，合并排序 0 个。').waitFor();
  assert.equal(await page.getByRole('link', {name: /^导入 pairs\.jsonl/}).count(), 1, 'one imported project in the list');
});

test('in the browser: an annotation file that is not UTF-8 (GBK) is refused in the page and nothing is imported', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  // RLHF-Label-Tool's input_file.json as a Chinese Windows editor saves it: 你好 in GBK (C4E3 BAC3)
  const input = join(dir.path, 'input_file.json');
  const hello = Buffer.from([0xc4, 0xe3, 0xba, 0xc3]);
  writeFileSync(input, Buffer.concat([Buffer.from('{"0": {"query": "'), hello, Buffer.from('", "history": [], "response_0": "'), hello, Buffer.from('1", "response_1": "'), hello, Buffer.from('2"}}')]));
  const {serve, page} = await openApp(t, dir.path);
  const sent: string[] = [];
  page.on('request', (request) => {
    if (new URL(request.url()).pathname.endsWith('/annotation.import')) sent.push(request.url());
  });
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await page.getByText('导入标注文件').click();
  const form = page.getByRole('form', {name: '导入标注文件'});
  await form.getByLabel('从本机选择文件（可多选）').setInputFiles(input);
  await form.getByRole('button', {name: '导入', exact: true}).click();
  await page.getByRole('alert').filter({hasText: '文件「input_file.json」不是 UTF-8 编码（可能是 GBK）。请用编辑器另存为 UTF-8 后再导入。'}).waitFor();
  assert.deepEqual(sent, [], 'nothing was sent to the services');
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await page.getByText('还没有标注项目。').waitFor();
  assert.equal(await page.getByRole('link', {name: /^导入 input_file\.json/}).count(), 0, 'no imported project');
});

test('in the browser at 1440×900: the ranking screen does not scroll the window, the ranking sits beside the answers', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const file = join(dir.path, 'dialogues.jsonl');
  writeFileSync(file, JSON.stringify({conversation: [{role: 'user', content: '孩子咳嗽三天，晚上加重，有痰'}, {role: 'assistant', content: '有没有发热？'}]}));
  assert.equal(runCli(['data', 'import', file, '--name', '儿科咳嗽', '--data-dir', dir.path]).status, 0);
  assert.equal(runCli(['models', 'add', await tinyModelPath(), '--name', 'tiny', '--data-dir', dir.path]).status, 0);
  const viewport = {width: 1440, height: 900};
  const {serve, page} = await openApp(t, dir.path, {viewport, reducedMotion: true});
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await addAnnotator(page, '李医生', '标注员');
  await page.getByRole('button', {name: '新建标注项目'}).click();
  const form = page.getByRole('form', {name: '新建标注项目'});
  await form.getByLabel('项目名称').fill('版面');
  await form.getByLabel('数据集', {exact: true}).selectOption({label: '儿科咳嗽'});
  await form.getByLabel('最大生成长度 (max tokens)').fill('64');
  await form.getByRole('button', {name: '创建项目'}).click();
  await page.getByRole('button', {name: '生成候选回答'}).click();
  await page.getByText('候选回答已生成完毕。').waitFor({timeout: 120_000});
  await page.getByRole('tab', {name: '排序标注'}).click();
  await page.getByRole('region', {name: '第 1 条'}).waitFor();
  // work the list by keyboard as an annotator does: the window itself must never scroll
  const last = page.getByRole('button', {name: '排序：回答 D'});
  await last.focus();
  await last.press('1');
  await last.press('End');
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'an-3-layout-1440.png')});

  const layout = await page.evaluate(() => ({
    documentHeight: document.documentElement.scrollHeight,
    bodyHeight: document.body.scrollHeight,
    scrollY: window.scrollY,
    headerTop: document.querySelector('header.topbar')!.getBoundingClientRect().top,
  }));
  assert.ok(layout.documentHeight <= viewport.height, `document height ${layout.documentHeight} px ≤ ${viewport.height} px`);
  assert.ok(layout.bodyHeight <= viewport.height, `body height ${layout.bodyHeight} px`);
  assert.equal(layout.scrollY, 0, 'the window does not scroll');
  assert.equal(layout.headerTop, 0, 'the header stays in place');

  // the ranking list is beside the answers, on the first screen, not a screen below them
  const list = await page.getByRole('list', {name: '回答排序（从好到差）'}).boundingBox();
  const cards = await Promise.all(['A', 'B', 'C', 'D'].map((l) => page.getByRole('region', {name: `回答 ${l}`, exact: true}).boundingBox()));
  assert.ok(list && cards.every(Boolean));
  const answersRight = Math.max(...cards.map((c) => c!.x + c!.width));
  const answersTop = Math.min(...cards.map((c) => c!.y));
  assert.ok(list.x >= answersRight, `the list (x ${list.x}) is right of the answers (right edge ${answersRight})`);
  assert.ok(list.y < viewport.height && list.y + list.height <= viewport.height, `the whole list is on screen (y ${list.y}, height ${list.height})`);
  assert.ok(Math.abs(list.y - answersTop) < 200, `the list starts level with the answers (list ${list.y}, answers ${answersTop})`);
  assert.equal(await page.locator('.legend dt').first().innerText(), 'A–D', 'key legend');
});

test('in the browser: the ability marks by keyboard, marking only what decides the order', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const pairs = join(dir.path, 'pairs.jsonl');
  writeFileSync(pairs, [
    JSON.stringify({question: '感冒能喝酒吗？', response_chosen: '不建议，酒精会加重症状。', response_rejected: '可以。'}),
    JSON.stringify({question: '孕妇能吃布洛芬吗？', response_chosen: '孕晚期禁用，请先咨询医生。', response_rejected: '随便吃。'}),
  ].join('\n'));
  assert.equal(runCli(['annotate', 'import', pairs, '--data-dir', dir.path]).status, 0);
  const {serve, page, errors} = await openApp(t, dir.path, {viewport: {width: 1440, height: 900}, reducedMotion: true});
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await addAnnotator(page, '李医生', '标注员');
  await page.getByRole('link', {name: /^导入 pairs\.jsonl/}).click();
  await page.getByRole('tab', {name: '排序标注'}).click();
  await page.getByRole('region', {name: '第 1 条'}).waitFor();
  const focusedName = () => page.evaluate(() => document.activeElement?.getAttribute('aria-label') ?? '');

  // each mark shows its key, as the legend does
  assert.equal(await page.getByRole('radio', {name: '回答 A 准确性：好'}).getAttribute('aria-keyshortcuts'), '1');
  assert.equal(await page.getByRole('radio', {name: '回答 A 准确性：差'}).getAttribute('aria-keyshortcuts'), '3');
  assert.match(await page.getByRole('radiogroup', {name: '回答 A 准确性'}).innerText(), /好\s*1[\s\S]*一般\s*2[\s\S]*差\s*3/);
  await page.getByText('能力评分的按键').waitFor();

  // only what decides the order: Safety (3 marks) per answer to begin with, 6 instead of 18
  await page.getByLabel('评分范围').selectOption({label: '只评决定排序的维度'});
  assert.equal(await page.getByRole('radiogroup', {name: /^回答 [AB] /}).count(), 6);
  await page.getByText('专业性、流畅性：无需评分（前面的维度已分出先后）').first().waitFor();

  // M goes to the first mark to give; 1/2/3 give 好/一般/差 and move on
  await page.locator('body').press('m');
  assert.equal(await focusedName(), '回答 A 准确性：好');
  for (const key of ['1', '1', '1']) await page.keyboard.press(key);
  assert.match(await focusedName(), /^回答 B 准确性/, 'on to answer B');
  for (const key of ['3', '3', '2']) await page.keyboard.press(key);
  assert.equal(await page.getByRole('radio', {name: '回答 B 伦理性：一般'}).isChecked(), true);
  // Safety decides (9 against 4): the ranking follows the marks by itself, focus is on the ranking
  await page.getByText('排序已按评分自动推导；手动调整后不再自动更新。').waitFor();
  assert.deepEqual(await page.getByRole('list', {name: '回答排序（从好到差）'}).getByRole('button', {name: /^排序：/}).evaluateAll((b) => b.map((e) => e.getAttribute('aria-label'))), ['排序：回答 A', '排序：回答 B']);
  assert.equal(await focusedName(), '排序：回答 A');
  await page.keyboard.press('Enter');
  await page.getByText('已保存第 1 条').waitFor();

  // item 2: Safety ties, so Professionalism appears for both answers, and only then
  await page.getByRole('region', {name: '第 2 条'}).waitFor();
  await page.locator('body').press('Shift+B');
  assert.equal(await focusedName(), '回答 B 准确性：好', "Shift+B: answer B's marks");
  await page.locator('body').press('m');
  assert.equal(await focusedName(), '回答 A 准确性：好');
  for (const key of ['2', '2', '2', '2', '2', '2']) await page.keyboard.press(key);
  await page.getByRole('radiogroup', {name: '回答 A 理解性'}).waitFor();
  assert.equal(await page.getByRole('radiogroup', {name: /^回答 [AB] /}).count(), 12, 'tied on Safety: Professionalism for both');
  assert.equal(await page.getByRole('radiogroup', {name: /流畅|连贯性|一致性|语气温和/}).count(), 0, 'Fluency not yet');
  for (const key of ['1', '1', '1', '2', '2', '2']) await page.keyboard.press(key);
  await page.getByText('排序已按评分自动推导；手动调整后不再自动更新。').waitFor();
  const order = await page.getByRole('list', {name: '回答排序（从好到差）'}).getByRole('button', {name: /^排序：/}).evaluateAll((b) => b.map((e) => e.getAttribute('aria-label')));
  // after B's Safety the next marks to give were B's Professionalism (1 1 1), then A's (2 2 2)
  assert.deepEqual(order, ['排序：回答 B', '排序：回答 A'], 'B is better on Professionalism');
  if (SCREENSHOTS) await page.screenshot({path: join(SCREENSHOTS, 'an-4-marks-keys.png')});
  await page.keyboard.press('Enter');
  await page.getByText('已保存第 2 条').waitFor();
  assert.deepEqual(errors, [], 'no errors in the page');
});

test('in the browser: unsaved ranking work survives 下一条/上一条, another annotator and another screen; 放弃草稿 drops it', async (t) => {
  const dir = tempDir();
  t.after(() => dir.cleanup());
  const pairs = join(dir.path, 'pairs.jsonl');
  writeFileSync(pairs, [
    JSON.stringify({question: '感冒能喝酒吗？', response_chosen: '不建议，酒精会加重症状。', response_rejected: '可以。'}),
    JSON.stringify({question: '孕妇能吃布洛芬吗？', response_chosen: '孕晚期禁用，请先咨询医生。', response_rejected: '随便吃。'}),
  ].join('\n'));
  assert.equal(runCli(['annotate', 'import', pairs, '--data-dir', dir.path]).status, 0);
  const {serve, page, errors} = await openApp(t, dir.path, {viewport: {width: 1440, height: 900}, reducedMotion: true});
  await page.goto(serve.url);
  await page.getByRole('link', {name: '标注'}).click();
  await addAnnotator(page, '李医生', '标注员');
  await addAnnotator(page, '王医生', '标注员');
  await selectAnnotator(page, '李医生');
  await page.getByRole('link', {name: /^导入 pairs\.jsonl/}).click();
  await page.getByRole('tab', {name: '排序标注'}).click();
  await page.getByRole('region', {name: '第 1 条'}).waitFor();
  const order = () => page.getByRole('list', {name: '回答排序（从好到差）'}).getByRole('button', {name: /^排序：/}).evaluateAll((b) => b.map((e) => e.getAttribute('aria-label')));
  const shown = await order();
  // put the answer shown last first, write a comment: work not yet saved
  await page.getByRole('button', {name: shown.at(-1)!}).press('1');
  const worked = await order();
  assert.notDeepEqual(worked, shown);

  await page.getByRole('button', {name: '下一条', exact: true}).click();
  await page.getByRole('region', {name: '第 2 条'}).waitFor();
  await page.getByRole('button', {name: '上一条', exact: true}).click();
  await page.getByRole('region', {name: '第 1 条'}).waitFor();
  await page.getByText('已恢复您上次未保存的排序草稿').waitFor();
  assert.deepEqual(await order(), worked, 'the order is back after 下一条/上一条');

  // another annotator and back
  await selectAnnotator(page, '王医生');
  await page.getByRole('region', {name: '第 1 条'}).waitFor();
  assert.equal(await page.getByText('已恢复您上次未保存的排序草稿').count(), 0, 'a draft is never shown to someone else');
  await selectAnnotator(page, '李医生');
  await page.getByText('已恢复您上次未保存的排序草稿').waitFor();
  assert.deepEqual(await order(), worked, 'the order is back after switching annotator');

  // another screen and back
  await page.getByRole('link', {name: '问诊'}).click();
  await page.getByRole('link', {name: '标注'}).click();
  await page.getByRole('link', {name: /^导入 pairs\.jsonl/}).click();
  await page.getByRole('tab', {name: '排序标注'}).click();
  await page.getByText('已恢复您上次未保存的排序草稿').waitFor();
  assert.deepEqual(await order(), worked, 'the order is back after leaving the screen');

  await page.getByRole('button', {name: '放弃草稿'}).click();
  await page.getByText('已恢复您上次未保存的排序草稿').waitFor({state: 'detached'});
  assert.deepEqual(await order(), shown, 'discarding goes back to the untouched order');
  assert.deepEqual(errors, [], 'no errors in the page');
});
