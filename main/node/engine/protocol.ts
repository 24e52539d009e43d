// Messages between the host (main process / serve / CLI) and the engine process. Plain JSON, so
// the same protocol runs over child_process.fork (Node) and Electron's utilityProcess.

import type {GpuLayers, Sampling} from '../../common/contract.js';
import type {ErrorPayload} from '../../common/errors.js';

export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}

export interface GenerateRequest {
  modelPath: string;
  gpuLayers: GpuLayers;
  adapters: {path: string; scale: number}[];
  systemPrompt: string;
  /** the conversation so far, oldest first, ending with the user turn to answer */
  turns: ChatTurn[];
  sampling: Sampling;
  /** constrain the reply to JSON of this schema (a judge model's verdict): llama.cpp's grammar
   * sampling, so even a small local model answers in a form we can read */
  jsonSchema?: Record<string, unknown>;
}

export interface GenerateResult {
  text: string;
  stopReason: string;
  promptTokens: number;
  completionTokens: number;
  /** completion tokens per second of decoding (prompt evaluation excluded) */
  tokensPerSecond: number;
  /** earlier user/assistant turns left out to fit the context */
  trimmedTurns: number;
  seed: number;
  contextSize: number;
}

export interface EngineInfo {
  pid: number;
  threads: number;
  gpu: string | null;
  /** total VRAM of that GPU in bytes (null on CPU) */
  vramBytes: number | null;
}

/** Token counts as the model sees them: a dialogue rendered with its chat template, or text. */
export interface CountTokensRequest {
  modelPath: string;
  items: ({turns: ChatTurn[]; systemPrompt?: string} | {text: string})[];
}

/** How likely each candidate answer is to come next after the prompt and the start of the reply
 * (a multiple-choice item's option letters after "答案："). Raw logits of each candidate's first
 * token, log-softmaxed over the candidates: the model's choice among them without sampling. */
export interface ChoiceScoresRequest {
  modelPath: string;
  gpuLayers: GpuLayers;
  adapters: {path: string; scale: number}[];
  systemPrompt: string;
  turns: ChatTurn[];
  answerPrefix: string;
  candidates: string[];
}

export type HostToEngine =
  | {type: 'generate'; id: number; request: GenerateRequest}
  | {type: 'choiceScores'; id: number; request: ChoiceScoresRequest}
  | {type: 'countTokens'; id: number; request: CountTokensRequest}
  | {type: 'cancel'; id: number};

export type EngineToHost =
  | {type: 'ready'; info: EngineInfo}
  | {type: 'delta'; id: number; text: string}
  | {type: 'done'; id: number; result: GenerateResult}
  | {type: 'counted'; id: number; tokens: number[]}
  | {type: 'scored'; id: number; logProbs: number[]}
  | {type: 'failed'; id: number; error: ErrorPayload};

export interface EngineOptions {
  threads: number;
  gpuMode: 'auto' | 'cpu';
}
