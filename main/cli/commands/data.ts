// `zhongjing data`: import, list, show, mix and export datasets in the store.

import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {DATASET_FORMATS, type DatasetFormat, type ImportReport} from '../../common/datasets.js';
import {methods} from '../../common/contract.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {parseInput} from '../../node/api/validate.js';
import {Services} from '../../node/services/index.js';
import {resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: `用法：
  zhongjing data import 文件 [--format ${DATASET_FORMATS.join('|')}] [--name 名称] [--no-deid] [--drop-duplicates] [--strict] [--json]
  zhongjing data list [--json]
  zhongjing data show 名称 [--version N] [--json]
  zhongjing data mix --name 名称 --from 数据集[:比例[:single|multi|any]] ... [--unit examples|tokens] [--total N] [--seed S] [--val 0.05]
  zhongjing data export 名称 --format sharegpt|alpaca|llamafactory|pairs 输出目录 [--version N] [--overwrite]`,
  en: `usage:
  zhongjing data import FILE [--format ${DATASET_FORMATS.join('|')}] [--name N] [--no-deid] [--drop-duplicates] [--strict] [--json]
  zhongjing data list [--json]
  zhongjing data show NAME [--version N] [--json]
  zhongjing data mix --name N --from DATASET[:RATIO[:single|multi|any]] ... [--unit examples|tokens] [--total N] [--seed S] [--val 0.05]
  zhongjing data export NAME --format sharegpt|alpaca|llamafactory|pairs OUT_DIR [--version N] [--overwrite]`,
};

function reportLines(report: ImportReport): string {
  const replaced = Object.entries(report.replacements).map(([type, n]) => `${type} ${n}`).join(', ') || '0';
  const lines = [
    say({zh: `格式 ${report.format}；读取 ${report.rowsRead} 行，导入 ${report.rowsImported} 行（${report.dialogues} 段对话，${report.turns} 轮），拒绝 ${report.rejected} 行`, en: `format ${report.format}; read ${report.rowsRead} rows, imported ${report.rowsImported} (${report.dialogues} dialogues, ${report.turns} turns), rejected ${report.rejected}`}),
    say({zh: `完全重复 ${report.exactDuplicates}${report.duplicatesDropped ? '（未导入）' : ''}，近似重复 ${report.nearDuplicates}；去标识化替换：${replaced}`, en: `exact duplicates ${report.exactDuplicates}${report.duplicatesDropped ? ' (not imported)' : ''}, near duplicates ${report.nearDuplicates}; de-identification replacements: ${replaced}`}),
  ];
  if (report.trailingTurnsDropped)
    lines.push(say({zh: `${report.trailingTurnsDropped} 段对话以患者发言结尾，已去掉末尾没有回答的发言后导入`, en: `${report.trailingTurnsDropped} dialogues ended with the patient's turn: imported without the unanswered trailing turn`}));
  lines.push(...rejectedRowLines(report));
  return lines.join('\n');
}

function rejectedRowLines(report: ImportReport): string[] {
  const lines = report.rejectedRows.slice(0, 10).map((row) => `  #${row.position}: ${say(row.reason)}`);
  if (report.rejected > 10) lines.push(`  … ${say({zh: `另有 ${report.rejected - 10} 行`, en: `${report.rejected - 10} more`})}`);
  return lines;
}

export async function dataCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const {values, positionals} = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      format: {type: 'string'},
      name: {type: 'string'},
      'no-deid': {type: 'boolean'},
      'drop-duplicates': {type: 'boolean'},
      strict: {type: 'boolean'},
      json: {type: 'boolean'},
      version: {type: 'string'},
      from: {type: 'string', multiple: true},
      unit: {type: 'string'},
      total: {type: 'string'},
      seed: {type: 'string'},
      val: {type: 'string'},
      overwrite: {type: 'boolean'},
    },
  });
  if (!sub || !['import', 'list', 'show', 'mix', 'export'].includes(sub)) throw usageError(USAGE);
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  const out = (value: unknown, human: string) => process.stdout.write(values.json ? `${JSON.stringify(value)}\n` : `${human}\n`);
  const version = values.version === undefined ? undefined : Number(values.version);
  try {
    if (sub === 'import') {
      const file = positionals[0];
      if (!file) throw usageError(USAGE);
      if (values.format && !DATASET_FORMATS.includes(values.format as DatasetFormat)) throw usageError(USAGE);
      const input = parseInput(methods['datasets.import'].input, {path: resolve(file), format: values.format, name: values.name, deidentify: !values['no-deid'], dropExactDuplicates: values['drop-duplicates'] ?? false});
      const {datasetId, report} = await services.datasets.importNow(input);
      // always on stderr, whatever stdout holds (--json), so a script sees rejected rows
      process.stderr.write(`${say({zh: `拒绝 ${report.rejected} 行（共读取 ${report.rowsRead} 行）`, en: `rejected ${report.rejected} of ${report.rowsRead} rows`})}\n`);
      if (values.strict && report.rejected > 0) {
        // all or nothing: the rows that passed are not kept either
        services.datasets.delete(datasetId);
        process.stderr.write(`${rejectedRowLines(report).join('\n')}\n`);
        process.stderr.write(
          `zhongjing: ${say({
            zh: `--strict：有 ${report.rejected} 行被拒绝，未导入任何数据。`,
            en: `--strict: ${report.rejected} ${report.rejected === 1 ? 'row was' : 'rows were'} rejected; nothing was imported.`,
          })}\n`,
        );
        process.exitCode = 1;
        return;
      }
      const summary = services.datasets.get(datasetId).summary;
      out({datasetId, name: summary.name, version: summary.latest.version, contentHash: summary.latest.contentHash, ...report}, `${summary.name} v${summary.latest.version}\n${reportLines(report)}`);
    } else if (sub === 'list') {
      const list = services.datasets.list();
      out(list, list.length ? list.map((d) => `${d.name}  v${d.latest.version} (${d.latest.state})  ${d.latest.rows} rows, ${d.latest.dialogues} dialogues, ${d.latest.turns} turns  ${d.latest.contentHash.slice(0, 12)}`).join('\n') : say({zh: '还没有数据集。', en: 'No datasets yet.'}));
    } else if (sub === 'show') {
      const ref = positionals[0];
      if (!ref) throw usageError(USAGE);
      const detail = services.datasets.get(services.datasets.resolve(ref).id, version);
      const s = detail.stats;
      out(detail, [
        `${detail.summary.name} v${detail.version.version} (${detail.version.state}) sha256 ${detail.version.contentHash}`,
        say({zh: `${s.rows} 行：${s.dialogues} 段对话（单轮 ${s.singleTurn}，多轮 ${s.multiTurn}），${s.turns} 轮，${s.characters} 字`, en: `${s.rows} rows: ${s.dialogues} dialogues (${s.singleTurn} single-turn, ${s.multiTurn} multi-turn), ${s.turns} turns, ${s.characters} characters`}),
        `${say({zh: '科室', en: 'departments'})}: ${s.byDepartment.map((d) => `${d.name} ${d.count}`).join(', ') || '-'}`,
        `${say({zh: '划分', en: 'split'})}: train ${s.split.train}, validation ${s.split.validation}`,
      ].join('\n'));
    } else if (sub === 'mix') {
      const components = (values.from ?? []).map((spec) => {
        const [ref, ratio, filter] = spec.split(':');
        return {datasetId: services.datasets.resolve(ref ?? '').id, ratio: ratio ? Number(ratio) : 1, ...(filter ? {filter} : {})};
      });
      const input = parseInput(methods['datasets.mix'].input, {
        name: values.name,
        components,
        ...(values.unit ? {unit: values.unit} : {}),
        ...(values.total ? {total: Number(values.total)} : {}),
        ...(values.seed ? {seed: Number(values.seed)} : {}),
        ...(values.val ? {validationFraction: Number(values.val)} : {}),
      });
      const summary = await services.datasets.mix(input);
      const detail = services.datasets.get(summary.id);
      out(detail, `${summary.name} v1: ${detail.stats.rows} rows (train ${detail.stats.split.train}, validation ${detail.stats.split.validation}), single ${detail.stats.singleTurn} / multi ${detail.stats.multiTurn}`);
    } else {
      const [ref, outDir] = positionals;
      if (!ref || !outDir || !values.format) throw usageError(USAGE);
      const input = parseInput(methods['datasets.export'].input, {id: services.datasets.resolve(ref).id, format: values.format, outDir: resolve(outDir), overwrite: values.overwrite ?? false, ...(version ? {version} : {})});
      const result = await services.datasets.export(input, services.pathPolicy);
      out(result, `${result.rows} rows → ${result.files.join(', ')}`);
    }
  } finally {
    await services.close();
  }
}
