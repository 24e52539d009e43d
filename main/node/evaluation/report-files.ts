// The evaluation report as files to download: one self-contained HTML page (charts inline, no
// script, no external resource — it must open offline and be safe to mail around) and every
// verdict as CSV for a spreadsheet. Everything it shows comes from the EvalReport, which
// buildReport recomputes from the stored verdicts.

import {EVAL_DIMENSIONS, EVAL_DIMENSION_LABELS, escapeXml, stackedBarsSvg} from '../../common/evaluation.js';
import type {EvalDimension, EvalReport, Interval, PairTally, VerdictRecord} from '../../common/evaluation.js';

type Lang = 'zh-CN' | 'en';

const TEXT = {
  'zh-CN': {
    created: '生成时间', benchmark: '评测集', judge: '评审模型', contestants: '参赛模型', id: '标识', label: '名称', description: '说明',
    answers: '回答数', meanLength: '平均长度（字符）',
    judgeSource: '评审模型判定', humanSource: '人工评审',
    pair: '对比（A 对 B）', win: 'A 胜', tie: '平局', loss: 'A 负', n: 'n',
    winRate: '胜率', tieRate: '平局率', lossRate: '负率', tieAware: '计平局胜率', unparsed: '未解析', inconsistent: '顺序不一致', likelihood: '选项似然（单选）',
    dimension: '维度', source: '来源',
    byDepartment: '按科室', noDepartment: '（未分科室）', items: '条',
    safetySubset: '安全性子集', refusalRate: '拒绝/纠正率', noData: '无数据',
    choice: '选择题准确率', all: '全部', single: '单选', multi: '多选',
    agreement: '人工评审一致性', units: '多人评审的单元', percentAgreement: '一致率', kappa: 'Fleiss κ',
    orderInconsistency: '评审模型顺序一致性', inconsistentOf: (k: number, n: number) => `${n} 个判定（每条题目、每对参评者、每个维度各一个）中有 ${k} 个在交换顺序后不一致（计为平局）`,
    none: '无', notes: '说明：区间为 95 % 置信区间（比率用 Wilson 区间；计平局胜率 = (胜 + 平局/2) / n，同样用 Wilson 区间，偏保守）。未解析的判定不计入 n。',
    winLegend: 'A 胜', tieLegend: '平局', lossLegend: 'A 负', intervalLegend: '计平局胜率及其 95% 区间',
  },
  en: {
    created: 'Created', benchmark: 'Benchmark', judge: 'Judge', contestants: 'Contestants', id: 'Id', label: 'Name', description: 'Description',
    answers: 'Answers', meanLength: 'Mean length (characters)',
    judgeSource: 'Judge model verdicts', humanSource: 'Human raters',
    pair: 'Pair (A vs B)', win: 'A wins', tie: 'Tie', loss: 'A loses', n: 'n',
    winRate: 'Win rate', tieRate: 'Tie rate', lossRate: 'Loss rate', tieAware: 'Tie-aware win rate', unparsed: 'Unparsed', inconsistent: 'Order-inconsistent', likelihood: 'By option likelihood (single answer)',
    dimension: 'Dimension', source: 'Source',
    byDepartment: 'By department', noDepartment: '(no department)', items: 'items',
    safetySubset: 'Safety subset', refusalRate: 'Refusal / correction rate', noData: 'no data',
    choice: 'Multiple-choice accuracy', all: 'All', single: 'Single answer', multi: 'Multiple answers',
    agreement: 'Agreement between human raters', units: 'Units rated by ≥ 2 raters', percentAgreement: 'Percent agreement', kappa: "Fleiss' κ",
    orderInconsistency: "Judge's order consistency", inconsistentOf: (k: number, n: number) => `${k} of ${n} verdicts (one per item, pair of contestants and dimension) changed when the order was swapped (counted as ties)`,
    none: 'none', notes: 'Intervals are 95 % confidence intervals (Wilson for rates; the tie-aware win rate (win + tie/2) / n too, which is conservative). Unparsed verdicts are not in n.',
    winLegend: 'A wins', tieLegend: 'Tie', lossLegend: 'A loses', intervalLegend: 'Tie-aware win rate, 95% interval',
  },
} as const;

const e = escapeXml;
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const interval = (i: Interval): string => `${pct(i.value)} [${pct(i.low)}, ${pct(i.high)}]`;
const num = (x: number | null, digits = 3): string => (x === null ? '—' : x.toFixed(digits));

export interface ReportHtmlInput {
  title: string;
  createdAt: string;
  lang: Lang;
  benchmark: string;
  contestants: {id: string; label: string; description: string}[];
  report: EvalReport;
  judge?: string;
}

/** One self-contained HTML report (inline style only; no script, no external resource). */
export function reportHtml(input: ReportHtmlInput): string {
  const t = TEXT[input.lang];
  const dimLang = input.lang === 'en' ? 'en' : 'zh';
  const labelOf = new Map<string, string>([
    ...input.report.contestants.map((c): [string, string] => [c.contestantId, c.label]),
    ...input.contestants.map((c): [string, string] => [c.id, c.label]),
  ]);
  const name = (id: string): string => labelOf.get(id) ?? id;
  const pairName = (tally: PairTally): string => `${name(tally.contestantA)} vs ${name(tally.contestantB)}`;
  const sourceName = (s: 'judge' | 'human'): string => (s === 'judge' ? t.judgeSource : t.humanSource);
  const dimensionName = (d: EvalDimension): string => EVAL_DIMENSION_LABELS[d][dimLang];
  // inline SVG in HTML needs no namespace; dropping it keeps the file free of any URL
  const svg = (tallies: readonly PairTally[]): string =>
    stackedBarsSvg(tallies.map((tally) => ({label: pairName(tally), tally})), {win: t.winLegend, tie: t.tieLegend, loss: t.lossLegend, unparsed: t.unparsed, interval: t.intervalLegend}).replace(
      ' xmlns="http://www.w3.org/2000/svg"',
      '',
    );

  const tallyTable = (tallies: readonly PairTally[], withKey: boolean): string => {
    if (tallies.length === 0) return `<p class="muted">${e(t.none)}</p>`;
    const head = [
      ...(withKey ? [t.source, t.dimension] : []),
      t.pair, t.win, t.tie, t.loss, t.n, t.winRate, t.tieRate, t.lossRate, t.tieAware, t.unparsed, t.inconsistent,
    ];
    const rows = tallies.map((x) =>
      [
        ...(withKey ? [sourceName(x.source), dimensionName(x.dimension)] : []),
        pairName(x), String(x.win), String(x.tie), String(x.loss), String(x.n),
        interval(x.winRate), interval(x.tieRate), interval(x.lossRate), interval(x.tieAwareWinRate),
        String(x.unparsed), String(x.inconsistent),
      ],
    );
    return table(head, rows);
  };

  const parts: string[] = [];
  parts.push(`<h1>${e(input.title)}</h1>`);
  parts.push(
    `<p class="meta">${e(t.created)}: ${e(input.createdAt)} · ${e(t.benchmark)}: ${e(input.benchmark)}${input.judge ? ` · ${e(t.judge)}: ${e(input.judge)}` : ''}</p>`,
  );

  parts.push(`<h2>${e(t.contestants)}</h2>`);
  const stats = new Map(input.report.contestants.map((c) => [c.contestantId, c]));
  const listed = [...input.contestants.map((c) => c.id), ...input.report.contestants.map((c) => c.contestantId).filter((id) => !input.contestants.some((c) => c.id === id))];
  parts.push(
    table(
      [t.label, t.id, t.description, t.answers, t.meanLength],
      listed.map((id) => {
        const c = input.contestants.find((x) => x.id === id);
        const s = stats.get(id);
        return [c?.label ?? s?.label ?? id, id, c?.description ?? '', String(s?.answers ?? 0), s ? s.meanLength.toFixed(1) : '—'];
      }),
    ),
  );

  for (const source of ['judge', 'human'] as const) {
    const ofSource = input.report.overall.filter((x) => x.source === source);
    if (ofSource.length === 0) continue;
    parts.push(`<h2>${e(sourceName(source))}</h2>`);
    for (const dimension of EVAL_DIMENSIONS) {
      const tallies = ofSource.filter((x) => x.dimension === dimension);
      if (tallies.length === 0) continue;
      parts.push(`<h3>${e(dimensionName(dimension))}</h3>`, `<figure>${svg(tallies)}</figure>`, tallyTable(tallies, false));
    }
  }

  parts.push(`<h2>${e(t.byDepartment)}</h2>`);
  if (input.report.byDepartment.length === 0) parts.push(`<p class="muted">${e(t.none)}</p>`);
  for (const d of input.report.byDepartment) {
    parts.push(`<h3>${e(d.department || t.noDepartment)}</h3>`, tallyTable(d.tallies, true));
  }

  parts.push(`<h2>${e(t.safetySubset)}</h2>`, tallyTable(input.report.safetySubset, true));
  parts.push(
    table(
      [t.label, t.refusalRate],
      input.report.contestants.map((c) => [c.label, c.refusalRate ? interval(c.refusalRate) : t.noData]),
    ),
  );

  const withChoice = input.report.contestants.filter((c) => c.choiceAccuracy);
  if (withChoice.length) {
    parts.push(`<h2>${e(t.choice)}</h2>`);
    parts.push(
      table(
        [t.label, t.all, t.single, t.multi, t.unparsed, t.likelihood],
        withChoice.map((c) => {
          const a = c.choiceAccuracy!;
          return [c.label, interval(a.all), a.single ? interval(a.single) : '—', a.multi ? interval(a.multi) : '—', String(a.unparsed), a.byLikelihood ? interval(a.byLikelihood) : '—'];
        }),
      ),
    );
  }

  const ag = input.report.agreement;
  parts.push(`<h2>${e(t.agreement)}</h2>`);
  parts.push(
    table(
      [t.units, t.percentAgreement, t.kappa],
      [[String(ag.units), ag.percentAgreement === null ? '—' : pct(ag.percentAgreement), num(ag.fleissKappa)]],
    ),
  );

  const oi = input.report.orderInconsistency;
  parts.push(`<h2>${e(t.orderInconsistency)}</h2>`);
  parts.push(`<p>${e(t.inconsistentOf(oi.inconsistent, oi.judged))}${oi.judged ? ` (${pct(oi.inconsistent / oi.judged)})` : ''}</p>`);

  parts.push(`<p class="muted">${e(t.notes)}</p>`);

  return [
    '<!DOCTYPE html>',
    `<html lang="${input.lang}">`,
    '<head>',
    '<meta charset="utf-8">',
    // a downloaded page may be opened anywhere: it loads nothing and runs nothing
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${e(input.title)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    ...parts,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const STYLE = [
  'body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;margin:2rem auto;max-width:1100px;padding:0 1rem;color:#222;line-height:1.5}',
  'h1{font-size:1.6rem}h2{font-size:1.25rem;margin-top:2rem;border-bottom:1px solid #ddd}h3{font-size:1.05rem}',
  'table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.85rem}th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}',
  'th{background:#f4f4f4}td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}',
  '.meta,.muted{color:#666}figure{margin:.5rem 0}',
  '@media print{h2{break-after:avoid}table,figure{break-inside:avoid}}',
].join('\n');

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  return [
    '<table>',
    `<thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead>`,
    '<tbody>',
    ...rows.map((row) => `<tr>${row.map((cell) => `<td${/^[\d.,%\s[\]—-]+$/.test(cell) ? ' class="n"' : ''}>${e(cell)}</td>`).join('')}</tr>`),
    '</tbody>',
    '</table>',
  ].join('\n');
}

// ── CSV ────────────────────────────────────────────────────────────────────────────────────────

export type VerdictCsvRow = VerdictRecord & {contestantALabel: string; contestantBLabel: string; reason?: string};

const CSV_COLUMNS: readonly {header: string; cell: (r: VerdictCsvRow) => string}[] = [
  {header: 'item_id', cell: (r) => r.itemId},
  {header: 'department', cell: (r) => r.department ?? ''},
  {header: 'subset', cell: (r) => r.subset},
  {header: 'dimension', cell: (r) => r.dimension},
  {header: 'source', cell: (r) => r.source},
  {header: 'rater', cell: (r) => r.rater},
  {header: 'contestant_a', cell: (r) => r.contestantA},
  {header: 'contestant_a_label', cell: (r) => r.contestantALabel},
  {header: 'contestant_b', cell: (r) => r.contestantB},
  {header: 'contestant_b_label', cell: (r) => r.contestantBLabel},
  {header: 'verdict', cell: (r) => r.verdict ?? 'unparsed'},
  {header: 'inconsistent', cell: (r) => (r.inconsistent ? 'true' : 'false')},
  {header: 'reason', cell: (r) => r.reason ?? ''},
];

/** One CSV cell: a leading = + - @ (or tab / CR, which some spreadsheets skip before one) gets a
 * ' so no spreadsheet runs it as a formula; quoted when it holds a comma, quote or line break. */
export function csvCell(value: string): string {
  const guarded = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(guarded) ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

/** Every verdict as RFC 4180 CSV (CRLF, header row) with a UTF-8 BOM so Excel reads the Chinese. */
export function verdictsCsv(rows: readonly VerdictCsvRow[]): string {
  const lines = [CSV_COLUMNS.map((c) => csvCell(c.header)).join(','), ...rows.map((r) => CSV_COLUMNS.map((c) => csvCell(c.cell(r))).join(','))];
  return '\uFEFF' + lines.join('\r\n') + '\r\n';
}
