// What a dataset version can give to an export format or to a mix component, and — when that is
// nothing — why, in both languages. The Datasets screen says it before the person clicks; the
// service refuses with the same words, so an export never writes 0 rows and an empty
// dataset_info.json, and a mix never comes out empty without a reason.

import type {LocalisedText} from './errors.js';
import type {DatasetStats, MixComponent, RowKind} from './datasets.js';

export type DatasetExportFormat = 'sharegpt' | 'alpaca' | 'llamafactory' | 'pairs';
type MixFilter = NonNullable<MixComponent['filter']>;

/** The row kinds each export format holds (the writers in node/datasets/export.ts skip the rest). */
export const EXPORT_KINDS: Record<DatasetExportFormat, readonly RowKind[]> = {
  sharegpt: ['dialogue', 'safety'],
  alpaca: ['dialogue', 'safety'],
  pairs: ['preference'],
  llamafactory: ['dialogue', 'safety', 'preference', 'text'],
};

const KIND_NAME: Record<RowKind, LocalisedText> = {
  dialogue: {zh: '对话', en: 'dialogue'},
  safety: {zh: '安全性', en: 'safety'},
  preference: {zh: '偏好对', en: 'preference'},
  text: {zh: '纯文本', en: 'plain text'},
};
const KIND_ORDER: readonly RowKind[] = ['dialogue', 'safety', 'preference', 'text'];

const FORMAT_NAME: Record<DatasetExportFormat, LocalisedText> = {
  sharegpt: {zh: 'ShareGPT', en: 'ShareGPT'},
  alpaca: {zh: 'Alpaca', en: 'Alpaca'},
  llamafactory: {zh: 'LLaMA-Factory', en: 'LLaMA-Factory'},
  pairs: {zh: '偏好对', en: 'preference pairs'},
};

/** "对话 24 行、偏好对 3 行" / "24 dialogue rows, 3 preference rows"; null when there are none. */
function kindsText(byKind: Partial<Record<RowKind, number>>): LocalisedText | null {
  const present = KIND_ORDER.filter((kind) => (byKind[kind] ?? 0) > 0);
  if (present.length === 0) return null;
  return {
    zh: present.map((kind) => `${KIND_NAME[kind].zh} ${byKind[kind]} 行`).join('、'),
    en: present.map((kind) => `${byKind[kind]} ${KIND_NAME[kind].en} row${byKind[kind] === 1 ? '' : 's'}`).join(', '),
  };
}

export interface ExportFit {
  /** rows the format will write */
  rows: number;
  /** rows it cannot hold, by kind (skipped) */
  skipped: Partial<Record<RowKind, number>>;
  /** why nothing would be written; null when something will be */
  empty: LocalisedText | null;
}

/** How much of a version (by its row kinds) an export format writes, and why not when nothing. */
export function exportFit(byKind: Partial<Record<RowKind, number>>, format: DatasetExportFormat): ExportFit {
  const kinds = EXPORT_KINDS[format];
  const rows = kinds.reduce((n, kind) => n + (byKind[kind] ?? 0), 0);
  const skipped = Object.fromEntries(KIND_ORDER.filter((kind) => !kinds.includes(kind) && (byKind[kind] ?? 0) > 0).map((kind) => [kind, byKind[kind]!]));
  if (rows > 0) return {rows, skipped, empty: null};
  const has = kindsText(byKind);
  const name = FORMAT_NAME[format];
  let empty: LocalisedText;
  if (!has) empty = {zh: '这个版本没有数据行，没有可导出的内容。', en: 'This version has no rows: there is nothing to export.'};
  else if (format === 'pairs')
    empty = {
      zh: `这个版本没有偏好对数据，无法导出为偏好对：每一对需要同一问题的一个较好回答（chosen）和一个较差回答（rejected），例如导入含 question / response_chosen / response_rejected 的文件，或在「标注」中排序后从那里导出。这个版本只有：${has.zh}。`,
      en: `This version has no preference rows, so there is nothing to export as preference pairs: each pair needs a chosen and a rejected answer to the same question (import a file with question / response_chosen / response_rejected, or rank answers under Annotation and export from there). This version has only ${has.en}.`,
    };
  else
    empty = {
      zh: `这个版本没有对话数据，无法导出为 ${name.zh}：该格式只容纳对话（含安全性数据）。这个版本只有：${has.zh}。`,
      en: `This version has no dialogues, so there is nothing to export as ${name.en}: that format holds dialogues (and safety items) only. This version has only ${has.en}.`,
    };
  return {rows, skipped, empty};
}

/** Rows a mix component's filter can draw from (examples), as the mix planner counts them. */
export function mixAvailableRows(stats: DatasetStats, filter: MixFilter | undefined): number {
  if (filter === 'single') return stats.singleTurn;
  if (filter === 'multi') return stats.multiTurn;
  return stats.rows;
}

const FILTER_NAME: Record<MixFilter, LocalisedText> = {
  any: {zh: '全部', en: 'all rows'},
  single: {zh: '单轮', en: 'single-turn'},
  multi: {zh: '多轮', en: 'multi-turn'},
};

/**
 * Why a mix component gives no rows (null when it gives some). A component with nothing to draw
 * from empties the whole mix: its share can only be met by taking nothing from every component.
 */
export function mixComponentEmpty(stats: DatasetStats, filter: MixFilter | undefined, part: {index: number; name: string; version: number}): LocalisedText | null {
  const f = filter ?? 'any';
  if (mixAvailableRows(stats, f) > 0) return null;
  const which = {zh: `第 ${part.index + 1} 项（「${part.name}」v${part.version}，${FILTER_NAME[f].zh}）`, en: `Component ${part.index + 1} ("${part.name}" v${part.version}, ${FILTER_NAME[f].en})`};
  const consequence = {zh: '按此配比选不出任何行（每个组成都要按比例取行）', en: 'so this recipe selects no rows at all (every component must give its share)'};
  if (stats.rows === 0) return {zh: `${which.zh}没有数据行，${consequence.zh}。`, en: `${which.en} has no rows, ${consequence.en}.`};
  const other = f === 'single' ? stats.multiTurn : stats.singleTurn;
  const otherName = f === 'single' ? FILTER_NAME.multi : FILTER_NAME.single;
  const rest = kindsText(Object.fromEntries(Object.entries(stats.byKind).filter(([kind]) => kind === 'preference' || kind === 'text')));
  const found = [other > 0 ? {zh: `${otherName.zh}对话 ${other} 行`, en: `${other} ${otherName.en} dialogue${other === 1 ? '' : 's'}`} : null, rest].filter((x): x is LocalisedText => x !== null);
  const has = found.length ? found : [{zh: `其他数据 ${stats.rows} 行`, en: `${stats.rows} other row${stats.rows === 1 ? '' : 's'}`}];
  const hasText = {zh: has.map((x) => x.zh).join('、'), en: has.map((x) => x.en).join(', ')};
  return {
    zh: `${which.zh}没有可用的行：这个版本没有${FILTER_NAME[f].zh}对话，只有${hasText.zh}；${consequence.zh}。请换一个含${FILTER_NAME[f].zh}对话的数据集，或把筛选改为「全部」。`,
    en: `${which.en} has nothing to draw from: this version has no ${FILTER_NAME[f].en} dialogues, only ${hasText.en}, ${consequence.en}. Choose a dataset with ${FILTER_NAME[f].en} dialogues, or set its filter to all rows.`,
  };
}
