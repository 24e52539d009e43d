// Scoring answers with a trained reward model: the base model once, the RM (LoRA + scalar head)
// frozen on it, each prompt + answer rendered with the model's own chat template exactly as the
// RM was trained, the head read at the last token. Used by `zhongjing reward score`, by the
// training.score API (in a job process, never on the server's main thread), and later by PPO and
// evaluation.

import {getLlama, LlamaLogLevel, readGgufFileInfo} from 'node-llama-cpp';
import type {Turn} from '../../common/datasets.js';
import {sha256File} from '../hash.js';
import {assemble} from './feeder.js';
import {loadTrainer} from './native.js';
import {ExampleTokenizer} from './render.js';

export interface ScoreRequest {
  model: string;
  rewardModel: string;
  items: {turns: Turn[]; answer: string}[];
  threads: number;
  nCtx: number;
  /** sequences per forward pass */
  batchRows?: number;
}

/** An error a user can act on, in both languages (JSON in the message, so it crosses a process boundary). */
export class LocalisedError extends Error {
  constructor(readonly localised: {zh: string; en: string}) {
    super(JSON.stringify(localised));
  }
}

export async function scoreAnswers(request: ScoreRequest): Promise<number[]> {
  const info = await readGgufFileInfo(request.rewardModel, {readTensorInfo: false});
  const meta = info.metadata as unknown as Record<string, unknown>;
  const zhongjing = (meta.zhongjing ?? {}) as Record<string, unknown>;
  if (zhongjing.kind !== 'rm' && zhongjing.head !== 'score')
    throw new LocalisedError({zh: `${request.rewardModel} 不是奖励模型文件（没有打分头）。`, en: `${request.rewardModel} is not a reward-model file (it has no score head).`});
  const expected = ((zhongjing.base_model ?? {}) as Record<string, unknown>).sha256;
  if (typeof expected === 'string' && expected !== (await sha256File(request.model)))
    throw new LocalisedError({
      zh: `此奖励模型是在另一个基础模型上训练的（基础模型 sha256 ${expected.slice(0, 12)}…），不能用于 ${request.model}。`,
      en: `This reward model was trained on another base model (sha256 ${expected.slice(0, 12)}…); it cannot score with ${request.model}.`,
    });
  const llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error, maxThreads: request.threads});
  const trainer = loadTrainer(llama);
  if (!trainer.ok) throw new LocalisedError(trainer.reason);
  const model = await llama.loadModel({modelPath: request.model, vocabOnly: true});
  const session = await trainer.addon.createSession({
    modelPath: request.model,
    threads: request.threads,
    lossHead: 'reward',
    adapters: [{name: 'reward', trainable: false, head: true, initFrom: request.rewardModel}],
  });
  try {
    const tokenizer = new ExampleTokenizer(model, request.nCtx);
    const sequences = request.items.map((item, i) => {
      const t = tokenizer.dialogue([...item.turns, {role: 'assistant', content: item.answer}], {lastReplyOnly: true});
      if (t.tokens.length > request.nCtx)
        throw new LocalisedError({zh: `第 ${i + 1} 条（${t.tokens.length} 个 token）超过了奖励模型的上下文长度 ${request.nCtx}。`, en: `Item ${i + 1} (${t.tokens.length} tokens) is longer than the reward model's context (${request.nCtx}).`});
      return t;
    });
    const scores: number[] = [];
    const rows = Math.max(1, request.batchRows ?? 4);
    for (let i = 0; i < sequences.length; i += rows) {
      const group = sequences.slice(i, i + rows).map((s) => [s]);
      const batch = assemble(group, Math.max(...group.map((g) => g[0]!.tokens.length)));
      scores.push(...(await session.scores(batch, 'reward', ['reward'])));
    }
    return scores;
  } finally {
    session.dispose();
    await model.dispose();
  }
}
