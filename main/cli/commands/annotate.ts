// `zhongjing annotate`: import rankings from other tools or workstations, export what experts
// ranked, and print agreement statistics.

import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {Services} from '../../node/services/index.js';
import {resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: `用法：
  zhongjing annotate import 文件...            （RLHF-Label-Tool 的 input_file.json + 排序 TSV、偏好对 JSONL、标注包）
  zhongjing annotate export --format pairs|pairs-trl|ranking|corrections|package 输出文件 [--project 项目] [--overwrite]
  zhongjing annotate stats [--project 项目] [--json]`,
  en: `usage:
  zhongjing annotate import FILE...            (RLHF-Label-Tool input_file.json + ranked TSV, preference-pair JSONL, annotation packages)
  zhongjing annotate export --format pairs|pairs-trl|ranking|corrections|package OUT [--project NAME] [--overwrite]
  zhongjing annotate stats [--project NAME] [--json]`,
};

const FORMATS = {pairs: 'pairs-llamafactory', 'pairs-trl': 'pairs-trl', ranking: 'ranking', corrections: 'corrections', package: 'package'} as const;

const fmt = (x: number | null, digits = 3) => (x === null ? '—' : x.toFixed(digits));

export async function annotateCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const {values, positionals} = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {'data-dir': {type: 'string'}, format: {type: 'string'}, project: {type: 'string'}, json: {type: 'boolean'}, overwrite: {type: 'boolean'}},
  });
  if (!sub || !['import', 'export', 'stats'].includes(sub)) throw usageError(USAGE);
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  const out = (value: unknown, human: string) => process.stdout.write(values.json ? `${JSON.stringify(value)}\n` : `${human}\n`);
  try {
    if (sub === 'import') {
      if (!positionals.length) throw usageError(USAGE);
      const result = await services.annotation.importFiles(positionals.map((p) => resolve(p)), services.pathPolicy);
      out(result, [
        say({zh: `新增 ${result.itemsAdded} 条，匹配已有 ${result.itemsMatched} 条，合并排序 ${result.rankingsMerged} 个`, en: `${result.itemsAdded} items added, ${result.itemsMatched} matched existing ones, ${result.rankingsMerged} rankings merged`}),
        ...result.warnings.map((w) => `  ${say(w)}`),
      ].join('\n'));
      return;
    }
    const projects = services.annotation.projects();
    const project = values.project ? projects.find((p) => p.name === values.project || p.id === values.project) : projects[0];
    if (!project)
      throw usageError({zh: values.project ? `找不到标注项目“${values.project}”。` : '还没有标注项目。', en: values.project ? `No annotation project "${values.project}".` : 'No annotation projects yet.'});
    if (sub === 'export') {
      const format = FORMATS[values.format as keyof typeof FORMATS];
      if (!format || !positionals[0]) throw usageError(USAGE);
      const result = await services.annotation.export({projectId: project.id, format, outPath: resolve(positionals[0]), overwrite: values.overwrite ?? false}, services.pathPolicy);
      out(result, `${project.name}: ${result.records} → ${result.path}`);
    } else {
      const d = services.annotation.dashboard(project.id);
      out({project: project.name, ...d}, [
        `${project.name}: ${d.overall.final}/${d.overall.items} ${say({zh: '条已定稿', en: 'items final'})}, ${say({zh: '双人以上标注', en: 'ranked by 2+'})} ${d.overall.rankedByTwoOrMore}`,
        `Kendall τ ${fmt(d.overall.meanKendallTau)}   Krippendorff α ${fmt(d.overall.krippendorffAlpha)}   ${say({zh: '分歧率', en: 'disagreement rate'})} ${fmt(d.overall.disagreementRate, 2)}`,
        ...d.byDimension.map((x) => `  ${x.dimension.padEnd(16)} τ ${fmt(x.meanKendallTau)}  α ${fmt(x.krippendorffAlpha)}`),
        ...d.byDepartment.map((x) => `  ${x.department.padEnd(16)} τ ${fmt(x.meanKendallTau)}  α ${fmt(x.krippendorffAlpha)}  ${x.final}/${x.items}`),
      ].join('\n'));
    }
  } finally {
    await services.close();
  }
}
