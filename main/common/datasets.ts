// Domain types of datasets: the one internal representation every importer produces and every
// consumer (SFT, annotation, reward model, evaluation, export) reads. Part of the API contract.

/** What a row is. `safety` is CMtMedQA's adversarial `{instruct, output}` items, kept apart so a
 * mix can weigh them on purpose; `preference` rows carry a chosen and a rejected answer. */
export type RowKind = 'dialogue' | 'safety' | 'preference' | 'text';

/** `cmexam` (CMExam multiple choice, CSV) and `cmbclin` (CMB-Clin clinical cases) are evaluation
 * benchmarks; they are imported as ordinary dialogue rows so an evaluation reads a frozen dataset
 * version like every other consumer does. */
export type DatasetFormat = 'cmtmedqa' | 'single' | 'disc' | 'sharegpt' | 'alpaca' | 'pairs' | 'text' | 'cmexam' | 'cmbclin';
export const DATASET_FORMATS: readonly DatasetFormat[] = ['cmtmedqa', 'single', 'disc', 'sharegpt', 'alpaca', 'pairs', 'text', 'cmexam', 'cmbclin'];
/** Each format's name as people read it: the import screen and the import's reasons alike. */
export const DATASET_FORMAT_LABELS: Readonly<Record<DatasetFormat, {zh: string; en: string}>> = {
  cmtmedqa: {zh: 'CMtMedQA', en: 'CMtMedQA'},
  single: {zh: '单轮问答', en: 'Single-turn QA'},
  disc: {zh: 'DISC-Med', en: 'DISC-Med'},
  sharegpt: {zh: 'ShareGPT', en: 'ShareGPT'},
  alpaca: {zh: 'Alpaca', en: 'Alpaca'},
  pairs: {zh: '偏好对', en: 'Preference pairs'},
  text: {zh: '纯文本', en: 'Plain text'},
  cmexam: {zh: 'CMExam 选择题 (CSV)', en: 'CMExam multiple choice (CSV)'},
  cmbclin: {zh: 'CMB-Clin 临床病例', en: 'CMB-Clin clinical cases'},
};

export interface Turn {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface DatasetRow {
  kind: RowKind;
  /** dialogue/safety: the conversation; preference: the prompt (history + question); text: empty */
  turns: Turn[];
  /** preference only */
  chosen?: string;
  rejected?: string;
  /** text only (continued pre-training) */
  text?: string;
  /** 科室 (CMtMedQA cate1) and sub-department (cate2) when known */
  department?: string;
  subDepartment?: string;
  /** where the row came from (source dataset name or file) */
  source?: string;
  /** the id the row had in its source file */
  sourceId?: string;
  tags?: string[];
  /** a multiple-choice item (CMExam): the question, its options and the gold letters, kept beside
   * the dialogue so an evaluation scores the letters exactly instead of parsing them back out of
   * the prompt text. The turns hold the same item as a prompt (choiceQuestionText) and answer. */
  choice?: ChoiceQuestion;
  /** in an evaluation, ask every user turn in order with the model's own answers as history
   * (CMB-Clin): the later questions of a case build on what was answered before */
  askEachTurn?: true;
}

export interface ChoiceOption {
  /** one uppercase letter, A–Z */
  letter: string;
  text: string;
}

export interface ChoiceQuestion {
  question: string;
  options: ChoiceOption[];
  /** the gold letters: uppercase, unique, sorted; more than one for a multiple-answer item */
  answer: string[];
}

/** The user turn of a multiple-choice item: the question, one option per line, and what kind of
 * answer is wanted. The prompt says whether one or several letters are right, so a model is not
 * marked wrong for having to guess how many to give; "only the letters" keeps the answer
 * scoreable without reading free text. Shared with evaluation, which must ask the same way. */
export function choiceQuestionText(question: string, options: readonly ChoiceOption[], multi: boolean): string {
  const lines = options.map((option) => `${option.letter}. ${option.text}`).join('\n');
  return `${question.trim()}\n\n${lines}\n\n请选择正确答案（${multi ? '多选' : '单选'}），只回答选项字母。`;
}

export interface StoredRow extends DatasetRow {
  position: number;
  split: 'train' | 'validation' | null;
  /** sha256 of the row's canonical JSON */
  hash: string;
}

export type PhiType =
  | 'id_card' // 居民身份证号 (checksum verified)
  | 'phone' // mobile and landline
  | 'email'
  | 'bank_card' // Luhn verified
  | 'medical_record' // 病历号 / 住院号 / 门诊号 …
  | 'birth_date'
  | 'address'
  | 'name';

/** Typed placeholders that replace what de-identification finds. */
export const PHI_PLACEHOLDERS: Record<PhiType, string> = {
  id_card: '〔身份证号〕',
  phone: '〔电话〕',
  email: '〔邮箱〕',
  bank_card: '〔银行卡号〕',
  medical_record: '〔病历号〕',
  birth_date: '〔出生日期〕',
  address: '〔地址〕',
  name: '〔姓名〕',
};

export interface RejectedRow {
  /** 1-based line for JSONL, 0-based index for a JSON array */
  position: number;
  reason: {zh: string; en: string};
  /** the first ~200 characters of the offending input */
  excerpt: string;
}

export interface ImportReport {
  format: DatasetFormat;
  rowsRead: number;
  rowsImported: number;
  dialogues: number;
  turns: number;
  rejected: number;
  /** the first rejected rows with position and reason (all are counted above) */
  rejectedRows: RejectedRow[];
  /** rows imported without their trailing user turn(s): dialogues that ended with the patient's
   * turn and no reply (counted in rowsImported). Absent in reports stored before it existed. */
  trailingTurnsDropped?: number;
  /** exact duplicates left out because the import was asked to (dropExactDuplicates); absent in
   * reports from before the option */
  duplicatesDropped?: number;
  exactDuplicates: number;
  nearDuplicates: number;
  /** pairs of positions, first few, for the report */
  duplicateExamples: {position: number; duplicateOf: number; near: boolean}[];
  replacements: Partial<Record<PhiType, number>>;
  deidentified: boolean;
  seconds: number;
}

export interface DatasetVersionInfo {
  id: string;
  version: number;
  /** open versions can still be edited in place; a version is frozen once a run, a mix or an
   * export has used it, so whatever used it can always be reproduced exactly */
  state: 'open' | 'frozen';
  contentHash: string;
  rows: number;
  dialogues: number;
  turns: number;
  createdAt: string;
  /** how this version came to be: an import, an edit of version N, or a mix recipe */
  origin: DatasetOrigin;
  /** de-identification replacements in this version still waiting for review; using the version
   * (a mix, an export, a training run, an annotation project) freezes it, and a frozen version's
   * replacements can no longer be undone, so the screens warn before that happens */
  pendingReview: number;
}

export type DatasetOrigin =
  | {type: 'import'; fileName: string; format: DatasetFormat; deidentified: boolean; report: ImportReport}
  | {type: 'edit'; fromVersion: number}
  | {type: 'mix'; recipe: MixRecipe; components: {datasetId: string; name: string; version: number; contentHash: string; rows: number}[]};

export interface DatasetSummary {
  id: string;
  name: string;
  description: string;
  kinds: Partial<Record<RowKind, number>>;
  latest: DatasetVersionInfo;
  versionCount: number;
  createdAt: string;
}

export interface DatasetStats {
  rows: number;
  dialogues: number;
  turns: number;
  singleTurn: number;
  multiTurn: number;
  byKind: Partial<Record<RowKind, number>>;
  byDepartment: {name: string; count: number}[];
  bySource: {name: string; count: number}[];
  /** dialogues by number of user turns: index i = dialogues with i+1 turns (last bucket = more) */
  turnHistogram: number[];
  characters: number;
  split: {train: number; validation: number};
}

export interface MixComponent {
  datasetId: string;
  /** default: the latest version */
  version?: number;
  /** relative weight; the paper's 7:1 single:multi is two components with ratios 7 and 1 */
  ratio: number;
  /** only rows of this shape: single-turn dialogues, multi-turn dialogues, or any */
  filter?: 'single' | 'multi' | 'any';
}

export interface MixRecipe {
  components: MixComponent[];
  /** ratios count examples or (approximate, character-based) tokens */
  unit: 'examples' | 'tokens';
  /** size of the mix in the chosen unit; default: as large as the scarcest component allows */
  total?: number;
  seed: number;
  /** share of rows held out for validation, 0 … 0.5 */
  validationFraction: number;
}

/** The most rows a mix may have. Every row of a mix is copied into the store in one
 * transaction: a million rows is already >10× CMtMedQA, and `total: 10000000` on a 12-row
 * dataset used to run for minutes and then run out of memory. */
export const MIX_MAX_ROWS = 1_000_000;
/** The largest total a mix counted in (character-approximated) tokens may ask for; the row
 * limit above still applies to what that total becomes. */
export const MIX_MAX_TOKENS = 1_000_000_000;

/** Why a mix of this many rows is refused, in both languages. */
export function mixTooLarge(rows: number, repeats?: {name: string; available: number; times: number}): {zh: string; en: string} {
  const zhRepeat = repeats ? `；“${repeats.name}”只有 ${repeats.available.toLocaleString('zh-CN')} 行可用，每行要重复约 ${repeats.times.toLocaleString('zh-CN')} 次` : '';
  const enRepeat = repeats ? `; "${repeats.name}" has ${repeats.available.toLocaleString('en')} usable rows, each would be repeated about ${repeats.times.toLocaleString('en')} times` : '';
  return {
    zh: `这个配比会生成约 ${rows.toLocaleString('zh-CN')} 行，超过混合数据集的上限 ${MIX_MAX_ROWS.toLocaleString('zh-CN')} 行${zhRepeat}。请减小总量（total）。`,
    en: `This recipe would make about ${rows.toLocaleString('en')} rows, more than a mix may hold (${MIX_MAX_ROWS.toLocaleString('en')})${enRepeat}. Lower the total.`,
  };
}

export interface Replacement {
  id: string;
  position: number;
  turnIndex: number;
  type: PhiType;
  placeholder: string;
  /** null once the review is finished and the originals are erased */
  original: string | null;
  /** the de-identified text around the placeholder */
  context: string;
  status: 'pending' | 'confirmed' | 'undone';
  /** 撤销 can succeed now: the original is still kept, it is not undone yet, and its version is
   * still open (a frozen version's rows never change) */
  undoable: boolean;
}
