// PPO against the reward model (the last stage of the paper's pipeline), on ONE copy of the base
// weights in the trainer: adapter "policy" (trainable LoRA from the SFT adapter, with a scalar VALUE
// head on the same body), "reference" (the SFT adapter, frozen; absent = the bare base) and
// "reward" (the RM run's LoRA + head, frozen).
//
// One step = one PPO iteration:
//   1. rollouts: `batchSize` prompts (the patient turn with its history, rendered with the model's
//      chat template as inference renders it), responses sampled from the current policy by
//      llama.cpp through node-llama-cpp, the policy exported as a LoRA for it (a few hundred KB)
//   2. the trainer scores them once: rollout log-probs and values (policy), reference log-probs,
//      the RM's score at the end of each response (minus a penalty when no end-of-turn came)
//   3. per-token reward = −β_KL·KL(k1 or k3) plus the score at the last token; GAE (γ, λ);
//      advantages whitened over the batch
//   4. `ppoEpochs` passes over the batch in `miniBatches` mini-batches, each one optimizer update of
//      the clipped surrogate + vf_coef·clipped value loss (the native 'ppo' head)
//   5. the adaptive KL controller (LLaMA-Factory's ppo_target; TRL's fixed 0.05 when 0)
// Metrics are named as TRL logs them. Guard-rails: every evaluation generates on a fixed held-out
// prompt set (fixed seeds), scores it with the RM, stores the samples (samples.jsonl; the first
// check is the starting model's) and stops the run, saying why, when the held-out KL passes its
// bound, the held-out reward falls several checks in a row, or responses collapse (too short, too
// repetitive). The best checkpoint by held-out reward is the result.
//
// Rollouts are generated one sequence at a time with seeds from (seed, step, index): llama.cpp's
// results depend on how sequences share a batch, and a resumed run must sample exactly what the
// uninterrupted one did.

import {appendFileSync, rmSync} from 'node:fs';
import {join} from 'node:path';
import type {LlamaModel, Token} from 'node-llama-cpp';
import type {DatasetRow, Turn} from '../../../common/datasets.js';
import type {PreferenceRecord, RolloutSample} from '../../../common/training.js';
import {mulberry32, shuffleInPlace} from '../../../common/random.js';
import {assemble, type Cursor} from '../feeder.js';
import {convertInputs, type ReadInputs} from '../inputs.js';
import type {AdapterSelection, AdapterSpec, NativeTrainingSession, TrainingBatch} from '../native.js';
import type {TrainConfig} from '../record.js';
import type {ExampleTokenizer, TokenizedExample} from '../render.js';
import {ObjectiveDataError, trainedAdapter, type PreparedObjective, type StepOutcome, type TrainingObjective} from './objective.js';

/** At most this many held-out prompts are generated at each guard-rail check. */
const HELD_OUT_PROMPTS = 16;
/** The adaptive KL controller's horizon (TRL / LLaMA-Factory). */
const KL_HORIZON = 10_000;
/** Sequences per scoring forward pass. */
const SCORE_ROWS = 4;
/** node-llama-cpp keeps every LoRA file it loaded (by path) until the model is disposed, and each
 * step's policy is a new file: the generator is reloaded (memory-mapped, so cheaply) this often. */
const GENERATOR_RELOAD_EVERY = 8;

interface Prompt {
  turns: Turn[];
  tokens: Int32Array;
}

interface Rollout {
  prompt: Prompt;
  response: number[];
  ended: boolean;
}

/** The prompt a row offers: the dialogue up to its last patient turn. */
export function promptTurns(row?: DatasetRow, preference?: PreferenceRecord): Turn[] | null {
  if (preference) return preference.turns;
  if (!row) return null;
  if (row.kind === 'preference') return row.turns;
  if (row.kind !== 'dialogue' && row.kind !== 'safety') return null;
  let last = -1;
  row.turns.forEach((t, i) => t.role === 'user' && (last = i));
  return last >= 0 ? row.turns.slice(0, last + 1) : null;
}

/** Generalised advantage estimation over one response (values of the rollout policy, v after the end = 0). */
export function gae(rewards: readonly number[], values: readonly number[], gamma: number, lam: number): {advantages: number[]; returns: number[]} {
  const n = rewards.length;
  const advantages = new Array<number>(n).fill(0);
  let next = 0;
  for (let t = n - 1; t >= 0; t--) {
    const nextValue = t + 1 < n ? values[t + 1]! : 0;
    const delta = rewards[t]! + gamma * nextValue - values[t]!;
    next = delta + gamma * lam * next;
    advantages[t] = next;
  }
  return {advantages, returns: advantages.map((a, t) => a + values[t]!)};
}

/** Per-token KL estimate between the policy and the reference from their log-probs. */
export function klEstimate(logp: number, ref: number, estimator: number): number {
  const logRatio = logp - ref;
  return estimator === 3 ? Math.exp(-logRatio) - 1 + logRatio : logRatio;
}

export function whiten(values: readonly number[]): number[] {
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(1, values.length);
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / Math.max(1, values.length - 1);
  const std = Math.sqrt(variance) + 1e-8;
  return values.map((v) => (v - mean) / std);
}

/** Share of distinct token bigrams among all bigrams of the responses (1 = no repeats). */
export function distinct2(responses: readonly (readonly number[])[]): number {
  const seen = new Set<string>();
  let total = 0;
  for (const r of responses) {
    for (let i = 0; i + 1 < r.length; i++) {
      seen.add(`${r[i]},${r[i + 1]}`);
      total++;
    }
  }
  return total ? seen.size / total : 0;
}

interface PpoState {
  klCoef: number;
  rewardStats: {n: number; mean: number; m2: number};
  heldOutRewards: number[];
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((s, x) => s + x, 0) / xs.length : 0);

export const ppoObjective: TrainingObjective = {
  kind: 'ppo',
  lossHead: 'ppo',
  artifactHasHead: false,
  sessionOptions(config) {
    const adapters: AdapterSpec[] = [trainedAdapter(config, 'policy', {head: true})];
    if (config.initAdapter) adapters.push({name: 'reference', trainable: false, initFrom: config.initAdapter});
    adapters.push({name: 'reward', trainable: false, head: true, initFrom: config.rewardModel!});
    return {lossHead: 'ppo', loss: {clipRange: config.ppo.clipRange, clipRangeValue: config.ppo.clipRangeValue, vfCoef: config.ppo.vfCoef}, adapters};
  },
  artifactMetadata: (config): Record<string, string> => ({'zhongjing.ppo.settings': JSON.stringify(config.ppo)}),
  prepare(inputs: ReadInputs, tokenizer: ExampleTokenizer, config: TrainConfig): PreparedObjective {
    const ppo = config.ppo;
    let tooLong = 0;
    const converted = convertInputs(inputs, ({row, preference}) => {
      const turns = promptTurns(row, preference);
      if (!turns) return null;
      const tokens = tokenizer.prompt(turns);
      if (tokens.length + ppo.maxNewTokens > config.nCtx) {
        tooLong++;
        return null;
      }
      return {turns, tokens};
    });
    let train = converted.train;
    let heldOut = converted.validation;
    if (!train.length)
      throw new ObjectiveDataError(
        tooLong
          ? {zh: `所有提示加上最长回答（${ppo.maxNewTokens} 个 token）都超过了上下文长度 ${config.nCtx}。`, en: `Every prompt plus the longest response (${ppo.maxNewTokens} tokens) exceeds the context (${config.nCtx} tokens).`}
          : {zh: '数据中没有可用作提示的患者提问（需要对话、偏好对或标注项目）。', en: 'No patient turns to use as prompts (needs dialogues, preference pairs or annotation projects).'},
      );
    if (!heldOut.length && config.valFraction > 0 && train.length >= 2) {
      const order = shuffleInPlace(Array.from({length: train.length}, (_, i) => i), mulberry32(config.seed ^ 0x5eed));
      const held = new Set(order.slice(0, Math.max(1, Math.round(train.length * config.valFraction))));
      heldOut = train.filter((_, i) => held.has(i));
      train = train.filter((_, i) => !held.has(i));
    }
    heldOut = heldOut.slice(0, HELD_OUT_PROMPTS);
    const batchPrompts = Math.max(1, config.rows);

    let session: NativeTrainingSession | null = null;
    let generator: LlamaModel | null = null;
    let runDir = '';
    const referenceSelection: AdapterSelection = config.initAdapter ? ['reference'] : false;
    const state: PpoState = {klCoef: ppo.klCoef, rewardStats: {n: 0, mean: 0, m2: 0}, heldOutRewards: []};

    const order = (epoch: number) => shuffleInPlace(Array.from({length: train.length}, (_, i) => i), mulberry32((config.seed * 1000003 + epoch) >>> 0));
    let cachedOrder: {epoch: number; order: number[]} | null = null;
    const promptsAt = (cursor: Cursor): {prompts: Prompt[]; cursor: Cursor} => {
      let {epoch, index} = cursor;
      if (index >= train.length) {
        epoch++;
        index = 0;
      }
      if (!cachedOrder || cachedOrder.epoch !== epoch) cachedOrder = {epoch, order: order(epoch)};
      const picked = cachedOrder.order.slice(index, index + batchPrompts).map((i) => train[i]!);
      return {prompts: picked, cursor: {epoch, index: index + picked.length}};
    };

    /** The policy as llama.cpp loads it (no value head), for these rollouts. Each export gets a
     * new name: node-llama-cpp caches adapters by path, and would reuse the first policy forever. */
    let exports = 0;
    const exportPolicy = async (): Promise<string> => {
      if (exports > 0 && exports % GENERATOR_RELOAD_EVERY === 0) {
        await generator!.dispose();
        generator = await loadGenerator();
      }
      const path = join(runDir, `rollout-policy-${exports++}.gguf`);
      await session!.exportAdapter(path, {'general.name': 'zhongjing ppo rollout policy'}, 'policy', {head: false});
      return path;
    };
    let loadGenerator: () => Promise<LlamaModel> = () => Promise.reject(new Error('PPO: attach() first'));

    const generate = async (prompts: readonly Prompt[], seedOf: (i: number) => number): Promise<{rollouts: Rollout[]; seconds: number; tokens: number}> => {
      const adapter = await exportPolicy();
      const context = await generator!.createContext({contextSize: config.nCtx, sequences: 1, threads: config.threads, lora: {adapters: [{filePath: adapter, scale: 1}]}});
      const started = performance.now();
      let tokens = 0;
      try {
        const sequence = context.getSequence();
        const rollouts: Rollout[] = [];
        for (const [i, prompt] of prompts.entries()) {
          await sequence.clearHistory();
          const response: number[] = [];
          let ended = false;
          const options = ppo.temperature > 0 ? {temperature: ppo.temperature, topP: ppo.topP, seed: seedOf(i), yieldEogToken: true} : {yieldEogToken: true};
          for await (const token of sequence.evaluate([...prompt.tokens] as Token[], options)) {
            response.push(token);
            if (tokenizer.isEndOfGeneration(token)) {
              ended = true;
              break;
            }
            if (response.length >= ppo.maxNewTokens) break;
          }
          tokens += response.length;
          rollouts.push({prompt, response, ended});
        }
        return {rollouts, seconds: (performance.now() - started) / 1000, tokens};
      } finally {
        await context.dispose();
        rmSync(adapter, {force: true});
      }
    };

    /** prompt + response as a training example: the response tokens are the targets. */
    const example = (r: Rollout): TokenizedExample => {
      const tokens = Int32Array.from([...r.prompt.tokens, ...r.response]);
      const train = new Uint8Array(tokens.length);
      train.fill(1, r.prompt.tokens.length);
      return {tokens, train};
    };
    const batchOf = (rs: readonly Rollout[]): TrainingBatch => {
      const rows = rs.map((r) => [example(r)]);
      return assemble(rows, Math.max(...rows.map((row) => row[0]!.tokens.length)));
    };

    /** Per rollout: the policy's log-probs, values and entropies, the reference's log-probs, the RM score. */
    const scoreRollouts = async (rollouts: readonly Rollout[], withValues: boolean) => {
      const out: {logp: number[]; values: number[]; entropy: number[]; ref: number[]; score: number}[] = [];
      for (let i = 0; i < rollouts.length; i += SCORE_ROWS) {
        const chunk = rollouts.slice(i, i + SCORE_ROWS).filter((r) => r.response.length > 0);
        if (!chunk.length) continue;
        const batch = batchOf(chunk);
        const policy = await session!.scores(batch, withValues ? 'policy' : 'tokens', ['policy']);
        const M = withValues ? policy.length / 3 : policy.length;
        const ref = await session!.scores(batch, 'tokens', referenceSelection);
        const reward = await session!.scores(batch, 'reward', ['reward']);
        let at = 0;
        chunk.forEach((r, k) => {
          const n = r.response.length;
          out.push({
            logp: [...policy.subarray(at, at + n)],
            values: withValues ? [...policy.subarray(M + at, M + at + n)] : [],
            entropy: withValues ? [...policy.subarray(2 * M + at, 2 * M + at + n)] : [],
            ref: [...ref.subarray(at, at + n)],
            score: reward[k]!,
          });
          at += n;
        });
      }
      return out;
    };

    const adjustScore = (raw: number, ended: boolean): number => {
      let score = raw;
      if (!ended && ppo.missingEosPenalty > 0) score -= ppo.missingEosPenalty;
      if (ppo.rewardClip > 0) score = Math.max(-ppo.rewardClip, Math.min(ppo.rewardClip, score));
      return score;
    };

    const step = async ({session: s, cursor, step: done, lr}: {session: NativeTrainingSession; cursor: Cursor; step: number; lr: number}): Promise<StepOutcome> => {
      session = s;
      const {prompts, cursor: next} = promptsAt(cursor);
      const gen = await generate(prompts, (i) => (Math.imul(config.seed + 1, 1000003) + done * 7919 + i * 104729) >>> 0);
      // an empty response has nothing to learn from (it can only happen when generation stops at once)
      const rollouts = gen.rollouts.filter((r) => r.response.length > 0);
      if (!rollouts.length) return {cursor: next, loss: 0, gradNorm: 0, tokens: gen.tokens, values: {'response_length': 0}};
      const scored = await scoreRollouts(rollouts, true);

      // scores → (optionally normalised) rewards; KL per token; GAE
      const scores = rollouts.map((r, i) => adjustScore(scored[i]!.score, r.ended));
      let rewards = scores;
      if (ppo.normalizeRewards) {
        const st = state.rewardStats;
        for (const x of scores) {
          st.n++;
          const d = x - st.mean;
          st.mean += d / st.n;
          st.m2 += d * (x - st.mean);
        }
        const std = st.n > 1 ? Math.sqrt(st.m2 / (st.n - 1)) : 1;
        rewards = scores.map((x) => (x - st.mean) / (std + 1e-8));
      }
      const kls = scored.map((s2) => s2.logp.map((lp, t) => klEstimate(lp, s2.ref[t]!, ppo.klEstimator)));
      const perSeq = scored.map((s2, i) => {
        const tokenRewards = kls[i]!.map((k) => -state.klCoef * k);
        tokenRewards[tokenRewards.length - 1]! += rewards[i]!;
        return gae(tokenRewards, s2.values, ppo.gamma, ppo.lam);
      });
      const flatAdvantages = perSeq.flatMap((g) => g.advantages);
      const usedAdvantages = ppo.whitenAdvantages ? whiten(flatAdvantages) : flatAdvantages;
      let offset = 0;
      const advantages = perSeq.map((g) => {
        const a = usedAdvantages.slice(offset, offset + g.advantages.length);
        offset += g.advantages.length;
        return a;
      });

      // PPO epochs over mini-batches
      const stats = {pg: [] as number[], vf: [] as number[], clip: [] as number[], approxkl: [] as number[], vclip: [] as number[], ratio: [] as number[], loss: [] as number[], grad: [] as number[], tokens: 0};
      const groups = Math.min(ppo.miniBatches, rollouts.length);
      for (let epoch = 0; epoch < ppo.ppoEpochs; epoch++) {
        const perm = shuffleInPlace(Array.from({length: rollouts.length}, (_, i) => i), mulberry32((config.seed * 31 + done * 1009 + epoch) >>> 0));
        for (let g = 0; g < groups; g++) {
          const members = perm.filter((_, k) => k % groups === g);
          const batch = batchOf(members.map((i) => rollouts[i]!));
          const cols = [[], [], [], []] as number[][];
          for (const i of members) {
            cols[0]!.push(...scored[i]!.logp);
            cols[1]!.push(...advantages[i]!);
            cols[2]!.push(...perSeq[i]!.returns);
            cols[3]!.push(...scored[i]!.values);
          }
          batch.targetValues = Float32Array.from(cols.flat());
          const r = await session.trainStep([batch], lr);
          const M = cols[0]!.length;
          for (let m = 0; m < M; m++) {
            const logp = r.scores[m]!;
            const value = r.scores[M + m]!;
            const old = cols[0]![m]!;
            const adv = cols[1]![m]!;
            const ret = cols[2]![m]!;
            const vOld = cols[3]![m]!;
            const ratio = Math.exp(logp - old);
            const clipped = Math.min(1 + ppo.clipRange, Math.max(1 - ppo.clipRange, ratio));
            stats.pg.push(Math.max(-adv * ratio, -adv * clipped));
            const vClipped = vOld + Math.min(ppo.clipRangeValue, Math.max(-ppo.clipRangeValue, value - vOld));
            stats.vf.push(0.5 * Math.max((value - ret) ** 2, (vClipped - ret) ** 2));
            stats.clip.push(Math.abs(ratio - 1) > ppo.clipRange ? 1 : 0);
            stats.vclip.push(Math.abs(value - vOld) > ppo.clipRangeValue ? 1 : 0);
            stats.approxkl.push(0.5 * (logp - old) ** 2);
            stats.ratio.push(ratio);
          }
          stats.loss.push(r.loss);
          stats.grad.push(r.gradNorm);
          stats.tokens += r.nTokens;
        }
      }

      const klSums = kls.map((k) => k.reduce((a, b) => a + b, 0));
      const meanKl = mean(klSums);
      const values: Record<string, number> = {
        'objective/kl': meanKl,
        'objective/entropy': mean(scored.map((s2) => s2.entropy.reduce((a, b) => a + b, 0))),
        'objective/scores': mean(scores),
        'objective/non_score_reward': -state.klCoef * meanKl,
        'objective/rlhf_reward': mean(scores.map((x, i) => x - state.klCoef * klSums[i]!)),
        'policy/approxkl_avg': mean(stats.approxkl),
        'policy/clipfrac_avg': mean(stats.clip),
        'loss/policy_avg': mean(stats.pg),
        'loss/value_avg': mean(stats.vf),
        'val/clipfrac_avg': mean(stats.vclip),
        'val/ratio': mean(stats.ratio),
        'response_length': mean(rollouts.map((r) => r.response.length)),
        'eos_share': mean(rollouts.map((r) => (r.ended ? 1 : 0))),
        'kl_coef': state.klCoef,
        'rollout/tokens_per_s': gen.tokens / Math.max(gen.seconds, 1e-9),
      };
      // the adaptive KL controller (Ziegler et al.; LLaMA-Factory's ppo_target): after the update
      if (ppo.klTarget > 0) {
        const error = Math.max(-0.2, Math.min(0.2, meanKl / ppo.klTarget - 1));
        state.klCoef *= 1 + (error * rollouts.length) / KL_HORIZON;
      }
      return {cursor: next, loss: mean(stats.loss), gradNorm: mean(stats.grad), tokens: gen.tokens + stats.tokens, values};
    };

    const heldOutBatches = heldOut.map((p) => assemble([[{tokens: p.tokens, train: new Uint8Array(p.tokens.length)}]], p.tokens.length));

    return {
      stats: {
        trainExamples: train.length,
        valExamples: heldOut.length,
        trainTokens: train.reduce((n, p) => n + p.tokens.length, 0),
        trainTargets: 0,
        truncated: 0,
        dropped: tooLong,
        notes: tooLong ? [`${tooLong} prompts too long for the context with ${ppo.maxNewTokens} new tokens were left out`] : [],
      },
      perFile: converted.perFile,
      next: () => {
        throw new Error('PPO runs its own steps');
      },
      microBatchesPerEpoch: () => Math.ceil(train.length / batchPrompts),
      evalBatches: () => heldOutBatches,
      async attach(s, env) {
        session = s;
        runDir = env.runDir;
        loadGenerator = () => env.llama.loadModel({modelPath: config.model, gpuLayers: config.gpu ? 'auto' : 0});
        generator = await loadGenerator();
      },
      step,
      stepValues: () => ({}),
      async evaluate(s, _batches, at) {
        session = s;
        const gen = await generate(heldOut, (i) => (config.seed * 7 + i * 15485863) >>> 0);
        const withTokens = gen.rollouts.filter((r) => r.response.length > 0);
        const scored = await scoreRollouts(withTokens, false);
        const scores = withTokens.map((r, i) => adjustScore(scored[i]!.score, r.ended));
        const kl = mean(scored.map((s2) => s2.logp.reduce((a, lp, t) => a + klEstimate(lp, s2.ref[t]!, ppo.klEstimator), 0)));
        const reward = scores.length ? mean(scores) : Number.NEGATIVE_INFINITY;
        const length = mean(gen.rollouts.map((r) => r.response.length));
        const distinct = distinct2(gen.rollouts.map((r) => r.response));
        const samples: RolloutSample[] = gen.rollouts.map((r) => ({
          step: at,
          prompt: r.prompt.turns.at(-1)?.content ?? '',
          response: tokenizer.detokenize(r.response.filter((t) => !tokenizer.isEndOfGeneration(t))),
          score: r.response.length ? scores[withTokens.indexOf(r)]! : Number.NaN,
        }));
        appendFileSync(join(runDir, 'samples.jsonl'), samples.map((x) => JSON.stringify(x)).join('\n') + '\n');
        state.heldOutRewards.push(reward);
        const values: Record<string, number> = {
          'eval/reward': reward,
          'eval/kl': kl,
          'eval/response_length': length,
          'eval/distinct_2': distinct,
          'eval/eos_share': mean(gen.rollouts.map((r) => (r.ended ? 1 : 0))),
        };
        // guard-rails
        let stop: {zh: string; en: string} | undefined;
        const h = state.heldOutRewards;
        const m = ppo.rewardDropChecks;
        if (at > 0 && ppo.klStop > 0 && kl > ppo.klStop) {
          stop = {zh: `留出提示上与参考模型的 KL（${kl.toFixed(3)}）超过了上限 ${ppo.klStop}：训练已自动停止。`, en: `The held-out KL to the reference (${kl.toFixed(3)}) passed its bound ${ppo.klStop}: the run stopped itself.`};
        } else if (at > 0 && m > 0 && h.length > m && h.slice(-m - 1).every((x, i, all) => i === 0 || x < all[i - 1]!)) {
          stop = {zh: `留出提示上的奖励连续 ${m} 次检查下降：训练已自动停止。`, en: `The held-out reward fell ${m} checks in a row: the run stopped itself.`};
        } else if (at > 0 && ppo.minResponseTokens > 0 && length < ppo.minResponseTokens) {
          stop = {zh: `回答塌缩：留出提示上的平均长度 ${length.toFixed(1)} 个 token，低于下限 ${ppo.minResponseTokens}。训练已自动停止。`, en: `Responses collapsed: held-out mean length ${length.toFixed(1)} tokens, below the floor ${ppo.minResponseTokens}. The run stopped itself.`};
        } else if (at > 0 && ppo.minDistinct2 > 0 && distinct < ppo.minDistinct2) {
          stop = {zh: `回答塌缩：留出回答的不同二元组比例 ${distinct.toFixed(3)}，低于下限 ${ppo.minDistinct2}。训练已自动停止。`, en: `Responses collapsed: distinct bigrams ${distinct.toFixed(3)}, below the floor ${ppo.minDistinct2}. The run stopped itself.`};
        }
        // no held-out loss: the held-out reward (a curve of its own) ranks the checkpoints
        return {loss: Number.NaN, items: heldOut.length, values, rank: {metric: 'eval/reward', value: reward, higherIsBetter: true}, ...(stop ? {stop} : {})};
      },
      saveState: () => JSON.parse(JSON.stringify(state)) as PpoState,
      restoreState(saved) {
        const s2 = saved as PpoState;
        state.klCoef = s2.klCoef;
        state.rewardStats = {...s2.rewardStats};
        state.heldOutRewards = [...s2.heldOutRewards];
      },
      async dispose() {
        await generator?.dispose();
        generator = null;
      },
    };
  },
};
