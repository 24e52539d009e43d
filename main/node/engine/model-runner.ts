// Runs chat generation with node-llama-cpp. Used inside the engine process (for the app and
// `serve`) and directly by the CLI's `chat`, so both render turns with the model's own chat
// template and trim long conversations the same way.
//
// Threads are always set explicitly: node-llama-cpp's CPU default (4) on a 2-core machine was
// measured ~700x slower than 1 thread, so we pass the real core count everywhere.

import {randomInt} from 'node:crypto';
import {existsSync} from 'node:fs';
import {
  getLlama,
  LlamaChat,
  LlamaLogLevel,
  type ChatHistoryItem,
  type Llama,
  type LlamaContext,
  type LlamaGrammar,
  type Token,
  type LlamaModel,
} from 'node-llama-cpp';
import {AppError} from '../../common/errors.js';
import {chatWrapperFor} from './chat-template.js';
import type {ChoiceScoresRequest, CountTokensRequest, EngineOptions, GenerateRequest, GenerateResult} from './protocol.js';

/** llama.cpp logs go to stderr only when they are warnings or worse; the rest is noise here. */
const LOG_LEVEL = LlamaLogLevel.error;
/** Largest context we ask for; `auto` shrinks it further to what memory allows. */
const MAX_CONTEXT = 8192;

interface LoadedModel {
  key: string;
  model: LlamaModel;
}
interface LoadedContext {
  key: string;
  context: LlamaContext;
  chat: LlamaChat;
}

export interface GenerateHooks {
  signal?: AbortSignal;
  onText?: (text: string) => void;
  /** Asked before each decoding step of this reply: a promise pauses decoding until it settles.
   * Honoured only by a runner made with `{pausable: true}` (the tests' hold, engine-process.ts). */
  hold?: () => Promise<void> | null;
}

export interface RunnerOptions {
  /** Route every decode through a schedule that `GenerateHooks.hold` can pause. Tests only:
   * node-llama-cpp dispatches a decode at once, past any schedule, when every sequence of the
   * context has one queued, so a pausable context carries a second sequence that is never used. */
  pausable?: boolean;
}

export class ModelRunner {
  private llama: Promise<Llama> | null = null;
  private loadedModel: LoadedModel | null = null;
  private loadedContext: LoadedContext | null = null;
  private vocabModel: {path: string; model: LlamaModel} | null = null;
  /** one generation at a time: a single context sequence, and the cores are the bottleneck anyway */
  private queue: Promise<unknown> = Promise.resolve();
  /** the running reply's hold (one generation at a time) */
  private hold: GenerateHooks['hold'] = undefined;

  constructor(
    readonly options: EngineOptions,
    private readonly runnerOptions: RunnerOptions = {},
  ) {}

  async gpuName(): Promise<string | null> {
    const llama = await this.getLlama();
    return llama.gpu === false ? null : llama.gpu;
  }

  /** Total VRAM of the GPU in use, in bytes; null on CPU or when llama.cpp cannot tell. */
  async vramBytes(): Promise<number | null> {
    const llama = await this.getLlama();
    if (llama.gpu === false) return null;
    try {
      return (await llama.getVramState()).total || null;
    } catch {
      return null;
    }
  }

  generate(request: GenerateRequest, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    const run = this.queue.then(() => this.generateNow(request, hooks));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Log-probabilities of each candidate as the reply's next token after `answerPrefix`. */
  choiceScores(request: ChoiceScoresRequest): Promise<number[]> {
    const run = this.queue.then(async () => {
      const {chat} = await this.prepare({...request, sampling: {temperature: 0, topP: 1, topK: 0, minP: 0, repeatPenalty: 1, maxTokens: 1, seed: 0}});
      const model = this.loadedModel!.model;
      const history = toChatHistory(request.systemPrompt, request.turns);
      // the reply is rendered open, ending with the prefix: what the model would continue from
      history[history.length - 1] = {type: 'model', response: [request.answerPrefix]};
      const tokens = chat.chatWrapper.generateContextState({chatHistory: history}).contextText.tokenize(model.tokenizer);
      const candidateTokens = request.candidates.map((c) => model.tokenize(c, false)[0]);
      if (candidateTokens.some((t) => t === undefined)) throw new AppError('validation', {zh: '候选答案为空。', en: 'An empty candidate.'});
      const sequence = chat.sequence;
      await sequence.clearHistory();
      const last = tokens.length - 1;
      const output = await sequence.controlledEvaluate(
        tokens.map((token, i) => (i === last ? [token, {generateNext: {logits: {filter: {tokens: candidateTokens as Token[]}}}}] : token)),
      );
      // the next reply must not build on this scoring pass's tokens
      await sequence.clearHistory();
      const logits = output[last]?.next.logits;
      if (!logits) throw new AppError('internal', {zh: '模型没有给出候选概率。', en: 'The model returned no candidate scores.'});
      const values = candidateTokens.map((t) => logits.get(t as Token) ?? -Infinity);
      const max = Math.max(...values);
      const norm = max + Math.log(values.reduce((sum, v) => sum + Math.exp(v - max), 0));
      return values.map((v) => v - norm);
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Counts with a vocabulary-only load unless the model is already loaded for chat. */
  countTokens(request: CountTokensRequest): Promise<number[]> {
    const run = this.queue.then(async () => {
      const model = await this.vocabulary(request.modelPath);
      const wrapper = chatWrapperFor(model);
      return request.items.map((item) =>
        'text' in item
          ? model.tokenize(item.text).length
          : wrapper
              .generateContextState({chatHistory: toChatHistory(item.systemPrompt ?? '', item.turns).slice(0, -1)})
              .contextText.tokenize(model.tokenizer).length,
      );
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async vocabulary(modelPath: string): Promise<LlamaModel> {
    if (this.loadedModel?.key.startsWith(`${modelPath}|`)) return this.loadedModel.model;
    if (this.vocabModel?.path !== modelPath) {
      await this.vocabModel?.model.dispose();
      this.vocabModel = null;
      if (!existsSync(modelPath))
        throw new AppError('model_missing', {zh: `模型文件不存在：${modelPath}`, en: `The model file is gone: ${modelPath}`});
      const model = await (await this.getLlama()).loadModel({modelPath, vocabOnly: true});
      this.vocabModel = {path: modelPath, model};
    }
    return this.vocabModel.model;
  }

  async dispose(): Promise<void> {
    await this.vocabModel?.model.dispose();
    this.vocabModel = null;
    await this.loadedContext?.context.dispose();
    await this.loadedModel?.model.dispose();
    this.loadedContext = null;
    this.loadedModel = null;
    this.grammars.clear(); // they belong to the Llama instance disposed next
    if (this.llama) await (await this.llama).dispose();
    this.llama = null;
  }

  private getLlama(): Promise<Llama> {
    this.llama ??= getLlama({
      gpu: this.options.gpuMode === 'cpu' ? false : 'auto',
      // never compile llama.cpp at run time: the prebuilt binaries ship with node-llama-cpp
      build: 'never',
      maxThreads: this.options.threads,
      logLevel: LOG_LEVEL,
      progressLogs: false,
    });
    return this.llama;
  }

  private async prepare(request: GenerateRequest): Promise<LoadedContext> {
    for (const path of [request.modelPath, ...request.adapters.map((a) => a.path)]) {
      if (!existsSync(path))
        throw new AppError('model_missing', {
          zh: `模型文件不存在（可能已被移动或删除）：${path}`,
          en: `The model file is gone (moved or deleted?): ${path}`,
        });
    }
    const llama = await this.getLlama();
    const modelKey = `${request.modelPath}|${request.gpuLayers}`;
    if (this.loadedModel?.key !== modelKey) {
      await this.loadedContext?.context.dispose();
      this.loadedContext = null;
      await this.loadedModel?.model.dispose();
      this.loadedModel = null;
      try {
        const model = await llama.loadModel({modelPath: request.modelPath, gpuLayers: request.gpuLayers});
        this.loadedModel = {key: modelKey, model};
      } catch (error) {
        // llama.cpp says only "Failed to load model": name the usual causes in the person's language
        const detail = (error as Error).message;
        throw new AppError('model_invalid', {
          zh: `推理引擎（llama.cpp）无法加载模型 ${request.modelPath}。常见原因：模型架构不受此版本的 llama.cpp 支持、文件已损坏，或内存不足。请换用其他模型，或在「模型」中查看此文件的架构。（llama.cpp：${detail}）`,
          en: `The inference engine (llama.cpp) cannot load the model ${request.modelPath}. Usual causes: its architecture is not supported by this llama.cpp version, the file is damaged, or memory is short. Use another model, or check the file's architecture under Models. (llama.cpp: ${detail})`,
        });
      }
    }
    const contextKey = JSON.stringify(request.adapters);
    if (this.loadedContext?.key !== contextKey) {
      await this.loadedContext?.context.dispose();
      this.loadedContext = null;
      const model = this.loadedModel!.model;
      let context: LlamaContext;
      try {
        context = await model.createContext({
          contextSize: {max: Math.min(MAX_CONTEXT, model.trainContextSize)},
          threads: this.options.threads,
          ...(this.runnerOptions.pausable
            ? {sequences: 2, batching: {dispatchSchedule: (dispatch: () => void) => this.scheduleDecode(dispatch)}}
            : {sequences: 1}),
          ...(request.adapters.length
            ? {lora: {adapters: request.adapters.map((a) => ({filePath: a.path, scale: a.scale}))}}
            : {}),
        });
      } catch (error) {
        throw new AppError('model_invalid', {
          zh: `无法创建推理上下文（适配器与模型不匹配或内存不足）：${(error as Error).message}`,
          en: `Cannot create the inference context (adapter does not match the model, or not enough memory): ${(error as Error).message}`,
        });
      }
      this.loadedContext = {
        key: contextKey,
        context,
        chat: new LlamaChat({contextSequence: context.getSequence(), chatWrapper: chatWrapperFor(model)}),
      };
    }
    return this.loadedContext;
  }

  private readonly grammars = new Map<string, Promise<LlamaGrammar>>();

  /** Grammars are compiled once per schema (a judge asks the same shape thousands of times). */
  private grammarFor(schema: Record<string, unknown>): Promise<LlamaGrammar> {
    const key = JSON.stringify(schema);
    let grammar = this.grammars.get(key);
    if (!grammar) {
      grammar = this.getLlama().then((llama) => llama.createGrammarForJsonSchema(schema as Parameters<Llama['createGrammarForJsonSchema']>[0]) as Promise<LlamaGrammar>);
      grammar.catch(() => this.grammars.delete(key));
      this.grammars.set(key, grammar);
    }
    return grammar;
  }

  /** node-llama-cpp's own schedule ("nextCycle") unless the running reply is held. */
  private scheduleDecode(dispatch: () => void): void {
    const held = this.hold?.();
    if (held) void held.then(dispatch, dispatch);
    else setImmediate(dispatch);
  }

  private async generateNow(request: GenerateRequest, hooks: GenerateHooks): Promise<GenerateResult> {
    this.hold = hooks.hold;
    try {
      return await this.runGeneration(request, hooks);
    } finally {
      this.hold = undefined;
    }
  }

  private async runGeneration(request: GenerateRequest, hooks: GenerateHooks): Promise<GenerateResult> {
    const {context, chat} = await this.prepare(request);
    const contextSize = context.contextSize;
    const {history, promptTokens, trimmedTurns} = this.fitHistory(chat, request, contextSize);
    const {sampling} = request;
    const seed = sampling.seed ?? randomInt(0, 2 ** 31 - 1);
    // never ask for more tokens than the context has left after the prompt
    const maxTokens = Math.max(1, Math.min(sampling.maxTokens, contextSize - promptTokens - 1));

    let completionTokens = 0;
    let firstTokenAt = 0;
    const grammar = request.jsonSchema ? await this.grammarFor(request.jsonSchema) : undefined;
    const response = await chat.generateResponse(history, {
      maxTokens,
      ...(grammar ? {grammar} : {}),
      temperature: sampling.temperature,
      topP: sampling.topP,
      topK: sampling.topK,
      minP: sampling.minP,
      seed,
      repeatPenalty: sampling.repeatPenalty > 1 ? {penalty: sampling.repeatPenalty} : false,
      signal: hooks.signal,
      stopOnAbortSignal: true,
      onToken: (tokens) => {
        if (completionTokens === 0) firstTokenAt = performance.now();
        completionTokens += tokens.length;
      },
      onTextChunk: hooks.onText,
    });
    const decodeSeconds = firstTokenAt ? (performance.now() - firstTokenAt) / 1000 : 0;
    return {
      text: response.response,
      stopReason: response.metadata.stopReason,
      promptTokens,
      completionTokens,
      // the first token's time is prompt evaluation, so it is left out of the decode rate
      tokensPerSecond: decodeSeconds > 0 && completionTokens > 1 ? (completionTokens - 1) / decodeSeconds : 0,
      trimmedTurns,
      seed,
      contextSize,
    };
  }

  /** Drops the oldest exchanges until the rendered prompt leaves room for a reply. The system
   * prompt and the newest user turn are always kept; if even those do not fit, that is an error
   * the person can act on (shorten the message, or pick a model with a longer context). */
  private fitHistory(chat: LlamaChat, request: GenerateRequest, contextSize: number) {
    const tokenizer = this.loadedModel!.model.tokenizer;
    const reserve = Math.min(request.sampling.maxTokens, Math.floor(contextSize / 2));
    const budget = contextSize - reserve;
    let turns = request.turns;
    let trimmedTurns = 0;
    for (;;) {
      const history = toChatHistory(request.systemPrompt, turns);
      const promptTokens = chat.chatWrapper.generateContextState({chatHistory: history}).contextText.tokenize(tokenizer).length;
      if (promptTokens <= budget) return {history, promptTokens, trimmedTurns};
      if (turns.length <= 1) {
        throw new AppError('context_overflow', {
          zh: `这条消息约 ${promptTokens} 个词元，超出了模型上下文（${contextSize}，需为回答预留 ${reserve}）。请缩短消息或换用上下文更长的模型。`,
          en: `This message is about ${promptTokens} tokens, more than the model's context (${contextSize}, with ${reserve} reserved for the reply). Shorten it or use a model with a longer context.`,
        }, {promptTokens, contextSize});
      }
      const drop = turns[1]?.role === 'assistant' ? 2 : 1;
      turns = turns.slice(drop);
      trimmedTurns += drop;
    }
  }
}

function toChatHistory(systemPrompt: string, turns: GenerateRequest['turns']): ChatHistoryItem[] {
  const history: ChatHistoryItem[] = [];
  if (systemPrompt.trim()) history.push({type: 'system', text: systemPrompt});
  for (const turn of turns) {
    history.push(turn.role === 'user' ? {type: 'user', text: turn.content} : {type: 'model', response: [turn.content]});
  }
  // an empty model item asks for the reply: the chat template renders the generation prompt
  history.push({type: 'model', response: []});
  return history;
}
