// Examples to tokens, exactly as inference sees them.
//
// Dialogues are rendered with chatWrapperFor(model), the function ModelRunner uses, and tokenised
// with LlamaText.tokenize, as LlamaChat does; so the prompt before each assistant turn is
// token-for-token the prompt inference builds for that turn (checked here, not assumed). Loss is
// taken on every assistant turn of a multi-turn dialogue: the reply's tokens plus the
// end-of-generation token that follows it (what stops generation at inference), never on the
// system prompt, user turns or the template's own markup.
//
// Plain text (continued pre-training) uses every token: BOS if the model prepends one, the text
// as model.tokenize() splits it, EOS; long texts are cut into windows of the context length.

import type {ChatHistoryItem, ChatWrapper, LlamaModel, Token} from 'node-llama-cpp';
import {chatWrapperFor} from '../engine/chat-template.js';
import type {Turn} from '../../common/datasets.js';

/** What the language objectives learn from: a dialogue (loss on its assistant turns) or a text. */
export type Example = {kind: 'dialogue'; turns: Turn[]} | {kind: 'text'; text: string};

export interface TokenizedExample {
  tokens: Int32Array;
  /** 1 where the token is a training target (predicted from the tokens before it). */
  train: Uint8Array;
}

export interface TokenizeStats {
  examples: number;
  tokens: number;
  trainTokens: number;
  /** Examples cut at the context length (their later turns are not learned). */
  truncated: number;
  /** Examples with nothing to learn left after truncation. */
  dropped: number;
}

export class ExampleTokenizer {
  private readonly wrapper: ChatWrapper;

  constructor(private readonly model: LlamaModel, private readonly maxTokens: number) {
    this.wrapper = chatWrapperFor(model);
  }

  /** Tokenised examples; a text longer than maxTokens gives several. */
  tokenize(example: Example): TokenizedExample[] {
    return example.kind === 'dialogue' ? [this.dialogue(example.turns)] : this.text(example.text);
  }

  tokenizeAll(examples: readonly Example[]): {items: TokenizedExample[]; stats: TokenizeStats} {
    const stats: TokenizeStats = {examples: 0, tokens: 0, trainTokens: 0, truncated: 0, dropped: 0};
    const items: TokenizedExample[] = [];
    for (const example of examples) {
      for (const item of this.tokenize(example)) {
        let trainTokens = 0;
        for (const t of item.train) trainTokens += t;
        if (item.tokens.length > this.maxTokens) stats.truncated++;
        const cut = item.tokens.length > this.maxTokens ? {tokens: item.tokens.slice(0, this.maxTokens), train: item.train.slice(0, this.maxTokens)} : item;
        let kept = 0;
        for (const t of cut.train) kept += t;
        if (kept === 0 || trainTokens === 0) {
          stats.dropped++;
          continue;
        }
        items.push(cut);
        stats.examples++;
        stats.tokens += cut.tokens.length;
        stats.trainTokens += kept;
      }
    }
    return {items, stats};
  }

  /** The prompt inference builds to generate the next reply after `turns` (which end with a user
   * turn): what rollouts start from, token for token. */
  prompt(turns: readonly Turn[]): Int32Array {
    const history: ChatHistoryItem[] = turns.map((turn) =>
      turn.role === 'system' ? {type: 'system', text: turn.content} : turn.role === 'user' ? {type: 'user', text: turn.content} : {type: 'model', response: [turn.content]},
    );
    return Int32Array.from(this.render([...history, {type: 'model', response: []}]));
  }

  detokenize(tokens: readonly number[]): string {
    return this.model.detokenize(tokens as Token[]);
  }

  isEndOfGeneration(token: number): boolean {
    return this.model.isEogToken(token as Token);
  }

  private render(history: ChatHistoryItem[]): Token[] {
    return this.wrapper.generateContextState({chatHistory: history}).contextText.tokenize(this.model.tokenizer);
  }

  /** Mask of the assistant turns: for turn k, the tokens after the inference prompt of turn k up to
   * and including the first end-of-generation token. */
  dialogue(turns: readonly Turn[], options: {lastReplyOnly?: boolean} = {}): TokenizedExample {
    const history: ChatHistoryItem[] = [];
    const prompts: Token[][] = [];
    for (const turn of turns) {
      if (turn.role === 'system') history.push({type: 'system', text: turn.content});
      else if (turn.role === 'user') history.push({type: 'user', text: turn.content});
      else {
        // the prompt inference builds to generate this reply: history + an empty model item
        prompts.push(this.render([...history, {type: 'model', response: []}]));
        history.push({type: 'model', response: [turn.content]});
      }
    }
    // A final model item is rendered "open" (to be continued); one more user turn makes the
    // template close the last reply with its end-of-turn markup, which is then cut off.
    const full = this.render([...history, {type: 'user', text: ''}, {type: 'model', response: []}]);
    const train = new Uint8Array(full.length);
    let end = 0;
    for (const [k, prompt] of prompts.entries()) {
      if (prompt.length > full.length || prompt.some((t, i) => full[i] !== t)) {
        throw new Error(`chat template: the prompt of assistant turn ${k + 1} is not a prefix of the rendered dialogue, so training tokens would differ from inference`);
      }
      // preference objectives score only the answer being compared, not earlier replies
      if (options.lastReplyOnly && k < prompts.length - 1) continue;
      let j = prompt.length;
      while (j < full.length && !this.model.isEogToken(full[j]!)) train[j++] = 1;
      if (j >= full.length) throw new Error('chat template: no end-of-generation token closes the assistant turn');
      train[j] = 1; // learning to stop: the token that ends generation at inference
      end = j + 1;
    }
    return {tokens: Int32Array.from(full.slice(0, end)), train: train.slice(0, end)};
  }

  text(text: string): TokenizedExample[] {
    const tokens: Token[] = [];
    const bos = this.model.tokens.bos;
    const eos = this.model.tokens.eos;
    if (this.model.tokens.shouldPrependBosToken && bos != null) tokens.push(bos);
    tokens.push(...this.model.tokenize(text, false));
    if (eos != null) tokens.push(eos);
    const out: TokenizedExample[] = [];
    for (let start = 0; start < tokens.length; start += this.maxTokens) {
      const window = Int32Array.from(tokens.slice(start, start + this.maxTokens));
      const train = new Uint8Array(window.length).fill(1);
      train[0] = 0; // the first token of a window has nothing before it to predict it from
      if (window.length > 1) out.push({tokens: window, train});
    }
    return out;
  }
}
