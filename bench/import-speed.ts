// Benchmark: importing a CMtMedQA-sized file (70k multi-turn dialogues, ~150 MB, one JSON
// array, as the real CMtMedQA.json) through importDataset with de-identification on and a sink
// that only counts. Prints rows/s, MB/s and the peak resident memory, which should stay far
// below the file size (the importer streams; it never holds the file).
//
//   node --import tsx bench/import-speed.ts [--rows 70000] [--no-deid] [--seed 1] [--store]
//
// --store imports through the real service into a SQLite store in a temp data dir (what the app
// and `zhongjing data import` do), instead of a counting sink.
//
// The file is synthetic (generated into the temp directory and removed afterwards): realistic
// turn lengths and 1–5 rounds per dialogue (~2.2 KB each, like the real file), with made-up PHI in about 5% of dialogues.

import {createWriteStream, mkdtempSync, rmSync, statSync} from 'node:fs';
import {once} from 'node:events';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {parseArgs} from 'node:util';
import {importDataset} from '../main/node/datasets/index.js';
import {mulberry32} from '../main/common/random.js';
import {Services} from '../main/node/services/index.js';
import {forkEngine} from '../main/node/engine/fork-engine.js';

const {values} = parseArgs({options: {rows: {type: 'string', default: '70000'}, 'no-deid': {type: 'boolean', default: false}, seed: {type: 'string', default: '1'}, store: {type: 'boolean', default: false}}});
const ROWS = Number(values.rows);
const random = mulberry32(Number(values.seed));
const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)]!;

const PATIENT = [
  '医生您好，我最近总是头晕，尤其是早上起床的时候', '孩子发烧两天了，最高38.9度，吃了退烧药能退下来', '我胃不舒服，饭后胀气，还经常反酸烧心',
  '体检发现甲状腺结节，医生说是3类，需要做穿刺吗', '膝盖疼了半年了，上下楼梯的时候特别明显', '月经推迟了十天，验孕棒是一条杠',
  '血压150/95，需要吃降压药吗，还是先观察', '晚上睡不着，翻来覆去到两三点才睡着', '皮肤上起了很多红疹子，很痒，抓了以后更多',
  '那我需要做哪些检查呢', '好的，谢谢医生的建议', '这个药有什么副作用吗', '平时饮食上要注意什么', '需要住院治疗吗',
];
const DOCTOR = [
  '您好，根据您的描述，可能是体位性低血压或颈椎问题引起的，建议起床时动作放慢，先坐一会儿再站起来。如果伴有视物旋转、恶心呕吐，需要排除耳石症。',
  '孩子发热如果精神状态好，可以先在家观察，体温超过38.5℃时可以使用布洛芬或对乙酰氨基酚退热，注意多喝水。如果持续发热超过三天或出现抽搐，请及时就医。',
  '饭后胀气、反酸烧心常见于胃食管反流病或功能性消化不良。建议少食多餐，避免辛辣油腻，睡前三小时不要进食，可以短期服用质子泵抑制剂，如奥美拉唑20mg每日一次。',
  'TI-RADS 3类结节恶性风险很低，通常不需要穿刺，建议每6到12个月复查一次甲状腺超声，观察大小和形态变化。',
  '上下楼梯疼痛明显，要考虑髌股关节炎或半月板损伤。建议减少爬楼和深蹲，必要时做膝关节核磁共振检查。',
  '月经推迟可能与压力、作息紊乱、多囊卵巢综合征等有关，建议抽血查HCG排除早孕，再查性激素六项和妇科B超。',
  '血压150/95属于高血压1级，如果没有其他危险因素，可以先生活方式干预3个月：低盐饮食、规律运动、控制体重、戒烟限酒，之后复测血压再决定是否用药。',
  '失眠的话要注意睡眠卫生：固定起床时间，睡前一小时不用手机，白天不要午睡过长。如果持续超过一个月，可以到睡眠门诊就诊。',
];
const PHI = [
  () => `我叫王建国，电话138${String(Math.floor(random() * 1e8)).padStart(8, '0')}。`,
  () => '患者李某某，男，56岁，住院号ZY20230456。',
  () => '我家住在浙江省杭州市西湖区文三路90号。',
  () => '出生日期：1985年3月12日，过敏史无。',
];

function turn(pool: readonly string[], min: number, max: number): string {
  let s = pick(pool);
  while (s.length < min) s += `，${pick(pool)}`;
  return s.slice(0, max) + (random() < 0.5 ? '。' : '？');
}

async function writeFile(path: string): Promise<void> {
  const out = createWriteStream(path);
  const write = async (s: string) => {
    if (!out.write(s)) await once(out, 'drain');
  };
  await write('[\n');
  for (let i = 0; i < ROWS; i++) {
    const rounds = 1 + Math.floor(random() * 5);
    const history: [string, string][] = [];
    for (let r = 1; r < rounds; r++) history.push([turn(PATIENT, 30, 100), turn(DOCTOR, 160, 420)]);
    let instruction = turn(PATIENT, 30, 100);
    if (random() < 0.05) instruction = pick(PHI)() + instruction;
    const record = {id: `x${i}`, cate1: pick(['内科', '外科', '儿科', '妇产科']), cate2: '综合', instruction, input: '', output: turn(DOCTOR, 160, 420), history};
    await write(`${i ? ',\n' : ''}    ${JSON.stringify(record)}`);
  }
  await write('\n]\n');
  out.end();
  await once(out, 'finish');
}

const path = join(tmpdir(), `zhongjing-bench-import-${process.pid}.json`);
try {
  await writeFile(path);
  const bytes = statSync(path).size;
  globalThis.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  let count = 0;
  const started = performance.now();
  let report;
  if (values.store) {
    const dataDir = mkdtempSync(join(tmpdir(), 'zj-import-bench-'));
    const services = new Services({dataDir, spawnEngine: forkEngine});
    try {
      report = (await services.datasets.importNow({path, deidentify: !values['no-deid']})).report;
      count = report.rowsImported;
    } finally {
      await services.close();
      rmSync(dataDir, {recursive: true, force: true});
    }
  } else {
    report = await importDataset({path}, {format: 'auto', deidentify: !values['no-deid']}, () => {
      count++;
    });
  }
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  const mb = (n: number) => (n / 1024 / 1024).toFixed(1);
  console.log(`sink            ${values.store ? 'SQLite store through DatasetService' : 'counting only'}`);
  console.log(`file            ${ROWS} dialogues, ${mb(bytes)} MB (${report.format}, ${report.turns} user turns)`);
  console.log(`imported        ${count} rows, ${report.rejected} rejected, de-identification ${report.deidentified ? 'on' : 'off'}: ${JSON.stringify(report.replacements)}`);
  console.log(`duplicates      ${report.exactDuplicates} exact, ${report.nearDuplicates} near (the generator repeats phrases)`);
  console.log(`time            ${seconds.toFixed(2)} s   ${Math.round(count / seconds)} rows/s   ${(bytes / 1024 / 1024 / seconds).toFixed(1)} MB/s`);
  console.log(`memory (RSS)    baseline ${mb(baseline)} MB, peak ${mb(peak)} MB, growth ${mb(peak - baseline)} MB`);
} finally {
  rmSync(path, {force: true});
}
