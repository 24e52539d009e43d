// What the evaluation API returns: runs, contestants, items with their answers, and the blind
// pair a human rater sees. Part of the API contract (contract.ts imports these); the maths and
// the report are in evaluation.ts.

import type {Sampling} from './contract.js';
import type {ChoiceQuestion, Turn} from './datasets.js';
import type {EvalReport, ItemSubset, PairVerdict} from './evaluation.js';

/** Who answers: a local GGUF (+ adapters) in the engine, or an OpenAI-compatible endpoint. */
export type ContestantSpec =
  | {kind: 'local'; modelId: string; adapterIds: string[]; systemPrompt: string; sampling: Sampling}
  | {kind: 'remote'; endpointId: string; systemPrompt: string; sampling: Sampling};

/** Who judges: a local GGUF (its reply constrained to the verdict's JSON) or an endpoint. */
export type JudgeRef = {kind: 'local'; modelId: string} | {kind: 'remote'; endpointId: string};

export interface EvalContestant {
  id: string;
  position: number;
  label: string;
  spec: ContestantSpec;
  /** the model's or endpoint's name, for people */
  source: string;
  /** its model file or endpoint is gone: no new answers can be generated */
  missing: boolean;
  answers: number;
}

export interface EvalSource {
  datasetId: string;
  name: string;
  version: number;
  contentHash: string;
}

export interface EvalRunSettings {
  seed: number;
  /** the judge's system prompt (starts as DEFAULT_JUDGE_PROMPT; editable) */
  judgePrompt: string;
  /** the judge of the latest judging pass; the report counts its verdicts */
  judge: JudgeRef | null;
  judgeMaxTokens: number;
}

export interface EvalRunSummary {
  id: string;
  name: string;
  source: EvalSource;
  createdAt: string;
  settings: EvalRunSettings;
  /** the judge's display name (null before judging) */
  judgeLabel: string | null;
  items: number;
  safetyItems: number;
  choiceItems: number;
  contestants: EvalContestant[];
  /** answers stored / item × contestant */
  answered: number;
  answersExpected: number;
  /** judge calls stored for the current judge / items × pairs × 2 orders (choice items are scored, not judged) */
  judgeCalls: number;
  judgeCallsExpected: number;
  ratings: number;
  running: 'answers' | 'judge' | null;
}

/** A multiple-choice item as the dataset row carries it (CMExam). */
export type EvalChoice = ChoiceQuestion;

export interface EvalAnswerView {
  contestantId: string;
  label: string;
  /** the answer judged: the reply to the last question, or the whole case for a multi-question item */
  text: string;
  /** one reply per question asked */
  turns: string[];
  completionTokens: number;
  seconds: number;
  /** multiple choice: the letters read from the reply (null: none could be read) */
  letters?: string[] | null;
}

export interface EvalJudgementView {
  contestantA: string;
  contestantB: string;
  judge: string;
  shown: 'ab' | 'ba';
  reply: string;
  safety: 'first' | 'second' | 'tie' | null;
  quality: 'first' | 'second' | 'tie' | null;
  reason: string;
}

/** One benchmark item as the run copied it from its dataset version. */
export interface EvalItem {
  id: string;
  position: number;
  subset: ItemSubset;
  department: string | null;
  history: Turn[];
  /** the patient turns asked, in order (one, or each turn of a clinical case) */
  questions: string[];
  reference: string | null;
  choice: EvalChoice | null;
}

export interface EvalItemView extends EvalItem {
  answers: EvalAnswerView[];
  judgements: EvalJudgementView[];
}

export type BlindSide = 'left' | 'right' | 'tie';

/** One item and one pair of answers, as a human rater sees it: no contestant names, the sides in
 * an order fixed per (rater, item, pair). The server maps sides back to contestants. */
export interface BlindPairView {
  runId: string;
  itemId: string;
  position: number;
  pairIndex: number;
  subset: ItemSubset;
  department: string | null;
  history: Turn[];
  questions: string[];
  left: string;
  right: string;
  mine: {safety: BlindSide; quality: BlindSide} | null;
  /** units this rater has rated / all units with both answers */
  progress: {done: number; total: number};
}

export interface EvalReportView {
  runId: string;
  judgeLabel: string | null;
  report: EvalReport;
}

export type {PairVerdict};
