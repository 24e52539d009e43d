// Small pure helpers of the Datasets screen: labels for the domain's enums, the one-line
// description of a version's origin, and the arithmetic of the mix preview. Kept out of the
// components so each of them stays short and the maths can be read on its own.
import {DATASET_FORMAT_LABELS, type DatasetFormat, type DatasetOrigin, type DatasetVersionInfo, type MixComponent, type PhiType, type Replacement, type RowKind} from '../../../main/common/datasets';
import type {MessageKey} from './i18n';
import {pick, t} from './lang.svelte';

export const ROW_KINDS: readonly RowKind[] = ['dialogue', 'safety', 'preference', 'text'];

export const KIND_LABEL: Record<RowKind, MessageKey> = {
  dialogue: 'dsKindDialogue',
  safety: 'dsKindSafety',
  preference: 'dsKindPreference',
  text: 'dsKindText',
};

export const PHI_LABEL: Record<PhiType, MessageKey> = {
  id_card: 'dsPhiIdCard',
  phone: 'dsPhiPhone',
  email: 'dsPhiEmail',
  bank_card: 'dsPhiBankCard',
  medical_record: 'dsPhiMedicalRecord',
  birth_date: 'dsPhiBirthDate',
  address: 'dsPhiAddress',
  name: 'dsPhiName',
};

export const FILTER_LABEL: Record<NonNullable<MixComponent['filter']>, MessageKey> = {
  any: 'dsFilterAll',
  single: 'dsFilterSingle',
  multi: 'dsFilterMulti',
};

export const STATUS_LABEL: Record<Replacement['status'], MessageKey> = {
  pending: 'dsStatusPending',
  confirmed: 'dsStatusConfirmed',
  undone: 'dsStatusUndone',
};

/** The import formats in the order the select shows them, each with its explanation (names come
 * from DATASET_FORMAT_LABELS, which the import's reasons use too). */
export const IMPORT_FORMATS: readonly {value: 'auto' | DatasetFormat; hint: MessageKey}[] = [
  {value: 'auto', hint: 'dsFmtAutoHint'},
  {value: 'cmtmedqa', hint: 'dsFmtCmtmedqaHint'},
  {value: 'single', hint: 'dsFmtSingleHint'},
  {value: 'disc', hint: 'dsFmtDiscHint'},
  {value: 'sharegpt', hint: 'dsFmtSharegptHint'},
  {value: 'alpaca', hint: 'dsFmtAlpacaHint'},
  {value: 'pairs', hint: 'dsFmtPairsHint'},
  {value: 'text', hint: 'dsFmtTextHint'},
  {value: 'cmexam', hint: 'dsFmtCmexamHint'},
  {value: 'cmbclin', hint: 'dsFmtCmbclinHint'},
];

export function formatName(format: 'auto' | DatasetFormat): string {
  return format === 'auto' ? t('dsFmtAuto') : pick(DATASET_FORMAT_LABELS[format]);
}

/** "对话 1,200 · 安全性 50" */
export function kindsText(kinds: Partial<Record<RowKind, number>>): string {
  const parts = ROW_KINDS.filter((kind) => (kinds[kind] ?? 0) > 0).map((kind) => `${t(KIND_LABEL[kind])} ${(kinds[kind] ?? 0).toLocaleString('en-US')}`);
  return parts.length ? parts.join(' · ') : t('none');
}

export function originText(origin: DatasetOrigin): string {
  switch (origin.type) {
    case 'import':
      return t('dsOriginImport', {file: origin.fileName});
    case 'edit':
      return t('dsOriginEdit', {n: origin.fromVersion});
    case 'mix':
      return t('dsOriginMix', {n: origin.components.length});
  }
}

export function stateText(version: DatasetVersionInfo): string {
  return version.state === 'frozen' ? t('dsStateFrozen') : t('dsStateOpen');
}

/** 12 hex digits are plenty to tell versions apart by eye; the full hash is in the tooltip. */
export function shortHash(hash: string): string {
  return hash.replace(/^sha256:/, '').slice(0, 12);
}

/** Splits a context snippet around each occurrence of the placeholder, for highlighting. */
export function splitAround(text: string, needle: string): {text: string; mark: boolean}[] {
  if (!needle) return [{text, mark: false}];
  const parts: {text: string; mark: boolean}[] = [];
  let from = 0;
  for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, from)) {
    if (at > from) parts.push({text: text.slice(from, at), mark: false});
    parts.push({text: needle, mark: true});
    from = at + needle.length;
  }
  if (from < text.length) parts.push({text: text.slice(from), mark: false});
  return parts;
}

export interface MixEstimate {
  shares: number[];
  /** rows each component contributes; null where availability is unknown */
  counts: (number | null)[];
  total: number | null;
  /** indices of components asked for more rows than they have */
  short: number[];
}

/** The same rule the recipe states: without a total, the mix is as large as the scarcest
 * component allows at the given shares. Only an estimate for the screen (examples unit). */
export function estimateMix(ratios: readonly number[], available: readonly (number | null)[], total: number | null): MixEstimate {
  const sum = ratios.reduce((acc, ratio) => acc + (ratio > 0 ? ratio : 0), 0);
  const shares = ratios.map((ratio) => (sum > 0 && ratio > 0 ? ratio / sum : 0));
  let size = total;
  if (size === null && available.every((count) => count !== null) && shares.some((share) => share > 0)) {
    size = Math.floor(Math.min(...shares.map((share, i) => (share > 0 ? (available[i] as number) / share : Infinity))));
  }
  const counts = shares.map((share) => (size === null ? null : Math.round(size * share)));
  const short = counts.flatMap((count, i) => (count !== null && available[i] !== null && count > (available[i] as number) ? [i] : []));
  return {shares, counts, total: size, short};
}

/** A fixed palette for the parts of the stacked bar and the charts' legend; readable in both
 * colour schemes and told apart by more than hue (each part also has its text label). */
export const PALETTE = ['#0f766e', '#d97706', '#6366f1', '#db2777', '#0891b2', '#65a30d', '#9333ea', '#b45309'];

/** 0.875 → "87.5%", 0.5 → "50%": one decimal at most, so 7:1 reads 87.5% + 12.5%, not 88% + 13%. */
export function percent(share: number): string {
  return `${Number((share * 100).toFixed(1))}%`;
}

/** A dataset version something is about to use, named for the warning. */
export interface VersionInUse {
  datasetId: string;
  name: string;
  version: DatasetVersionInfo;
}

/** The versions among `used` that using them would freeze while replacements still wait for
 * review (a frozen version's replacements cannot be undone), each once. */
export function pendingReviewOf(used: readonly VersionInUse[]): VersionInUse[] {
  const seen = new Set<string>();
  return used.filter((u) => {
    if (u.version.state !== 'open' || u.version.pendingReview <= 0 || seen.has(u.version.id)) return false;
    seen.add(u.version.id);
    return true;
  });
}
