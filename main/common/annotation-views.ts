// What the annotation API returns: annotators, projects, items as an annotator sees them (never
// another annotator's ranking), the adjudication queue and the dashboard. The ranking maths and
// the rubric are in annotation.ts.

import type {Turn} from './datasets.js';
import type {AnswerMarks, ConflictReason, Ranking} from './annotation.js';

export interface Annotator {
  id: string;
  name: string;
  /** 'expert' may adjudicate disagreements (the paper's third expert) */
  role: 'annotator' | 'expert';
  createdAt: string;
}

export interface GenerationSettings {
  modelId: string;
  adapterIds: string[];
  /** one per candidate, cycled: diverse sampling as the paper's K samples */
  temperatures: number[];
  maxTokens: number;
  seed: number;
}

export interface AnnotationProjectSummary {
  id: string;
  name: string;
  k: number;
  items: number;
  /** items whose K candidates exist */
  ready: number;
  /** items with a final ranking (agreed, single or adjudicated) */
  final: number;
  disagreements: number;
  rankings: number;
  minAnnotators: number;
  source: {type: 'dataset'; datasetId: string; name: string; version: number; contentHash: string} | {type: 'import'; files: string[]};
  generation: GenerationSettings | null;
  createdAt: string;
}

export interface Candidate {
  index: number;
  text: string;
  origin: {type: 'model'; modelId: string; seed: number; temperature: number} | {type: 'imported'};
  /** index of an earlier candidate this one nearly repeats */
  nearDuplicateOf: number | null;
}

export interface MyRanking {
  ranking: Ranking;
  marks: AnswerMarks[];
  comment: string;
  allWrong: boolean;
  correction: string | null;
  savedAt: string;
  /** an earlier state exists, so `annotation.undo` can restore it */
  canUndo: boolean;
}

export interface ItemView {
  id: string;
  projectId: string;
  position: number;
  history: Turn[];
  question: string;
  department: string | null;
  /** in the order this annotator sees them: shuffled per annotator and item, so no position
   * carries a signal; rankings always name candidates by `index`, never by screen position */
  candidates: Candidate[];
  mine: MyRanking | null;
  /** this annotator's unsaved work on the item, kept when she left it (newer than `mine`) */
  draft: (Omit<MyRanking, 'canUndo'>) | null;
  /** where this annotator is in the project */
  progress: {done: number; total: number};
}

export interface DisagreementView {
  item: Omit<ItemView, 'mine' | 'progress' | 'draft'>;
  /** everything each annotator decided, so the expert can start from any one of them */
  rankings: {annotatorId: string; annotatorName: string; ranking: Ranking; marks: AnswerMarks[]; allWrong: boolean; correction: string | null; comment: string}[];
  conflicts: {a: string; b: string; reasons: ConflictReason[]; tau: number}[];
}

export interface AgreementStats {
  items: number;
  final: number;
  rankedByTwoOrMore: number;
  disagreementRate: number | null;
  meanKendallTau: number | null;
  krippendorffAlpha: number | null;
}

export interface AnnotationDashboard {
  overall: AgreementStats;
  /** agreement on the rankings implied by each dimension's marks alone */
  byDimension: ({dimension: 'safety' | 'professionalism' | 'fluency'} & AgreementStats)[];
  byDepartment: ({department: string} & AgreementStats)[];
  perAnnotator: {annotatorId: string; name: string; rankings: number}[];
}
