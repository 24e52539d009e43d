// The preference objectives: the reward model and DPO. Both learn from rankings of candidate
// answers to one prompt (an annotation project's final rankings, RLHF-Label-Tool files, or
// chosen/rejected pair datasets as rankings of two). Every ranked candidate is rendered as the
// prompt + that answer with the model's own chat template (as inference renders it) and becomes one
// sequence; a ranking's ordered pairs (ties give none) say which sequence is preferred.
//
// Reward model: a LoRA plus a scalar head on the last token's hidden state. Loss: the paper's
// K-wise loss −1/C(K,2)·Σ log σ(r_h − r_l), each ranking's pairs weighing 1/(its pair count) so a
// K=4 ranking counts as much as one pair (with ties the count is below C(K,2)); optional margin
// and TRL's reward centering.
//
// DPO: sigmoid loss −log σ(β·[(π_h − ref_h) − (π_l − ref_l)]) with optional label smoothing, on the
// summed log-probs of each answer's tokens. The reference is the starting point (the SFT adapter,
// frozen, on the same base; or the bare base) and its log-probs are computed ONCE per item before
// training and cached in the run directory (TRL's precompute_ref_log_probs), so no second model
// sits in memory during training. Rankings expand to all their pairs, each weighing 1.

import {existsSync, readFileSync} from 'node:fs';
import {join} from 'node:path';
import type {PreferenceRecord} from '../../../common/training.js';
import {mulberry32, shuffleInPlace} from '../../../common/random.js';
import {assemble, type Cursor} from '../feeder.js';
import {convertInputs, preferenceFromRow, type ReadInputs} from '../inputs.js';
import type {AdapterSelection, NativeTrainingSession, StepResult, TrainingBatch} from '../native.js';
import {writeFileAtomic, type TrainConfig} from '../record.js';
import type {ExampleTokenizer, TokenizedExample} from '../render.js';
import {ObjectiveDataError, trainedAdapter, type PreparedObjective, type TrainingObjective} from './objective.js';

export interface PreferenceGroup {
  /** one tokenised prompt + answer per ranked candidate */
  sequences: TokenizedExample[];
  /** (better, worse) indices into sequences */
  pairs: [number, number][];
  /** per sequence: summed marks of safety, professionalism, fluency (when the experts marked them) */
  dimensions: (number[] | null)[] | null;
  /** DPO: the reference's summed log-prob of each sequence */
  reference?: number[];
}

/** The ordered pairs of a ranking given as tiers (best first; a tier of several is a tie). */
export function pairsOfTiers(tiers: readonly (readonly number[])[]): [number, number][] {
  const pairs: [number, number][] = [];
  for (let i = 0; i < tiers.length; i++) for (let j = i + 1; j < tiers.length; j++) for (const h of tiers[i]!) for (const l of tiers[j]!) pairs.push([h, l]);
  return pairs;
}

/** 95 % Wilson score interval of a proportion. */
export function wilsonInterval(successes: number, n: number, z = 1.959964): [number, number] {
  if (n === 0) return [0, 1];
  const p = successes / n;
  const denominator = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / denominator;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / denominator;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

const DIMENSION_NAMES = ['safety', 'professionalism', 'fluency'] as const;

interface GroupNotes {
  tooLong: number;
  identicalPairs: number;
  unrenderable: number;
}

function groupOf(record: PreferenceRecord, tokenizer: ExampleTokenizer, nCtx: number, notes: GroupNotes): PreferenceGroup | null {
  const ranked = [...new Set(record.tiers.flat())];
  const sequenceOf = new Map<number, number>();
  const sequences: TokenizedExample[] = [];
  for (const candidate of ranked) {
    let tokens: TokenizedExample;
    try {
      tokens = tokenizer.dialogue([...record.turns, {role: 'assistant', content: record.candidates[candidate]!}], {lastReplyOnly: true});
    } catch {
      notes.unrenderable++;
      return null;
    }
    if (tokens.tokens.length > nCtx) {
      notes.tooLong++;
      return null;
    }
    sequenceOf.set(candidate, sequences.length);
    sequences.push(tokens);
  }
  const pairs: [number, number][] = [];
  for (const [h, l] of pairsOfTiers(record.tiers)) {
    if (record.candidates[h]!.trim() === record.candidates[l]!.trim()) {
      notes.identicalPairs++;
      continue;
    }
    pairs.push([sequenceOf.get(h)!, sequenceOf.get(l)!]);
  }
  if (!pairs.length) return null;
  const dimensions = record.dimensions ? ranked.map((c) => record.dimensions![c] ?? null) : null;
  return {sequences, pairs, dimensions};
}

interface BatchInfo {
  groups: PreferenceGroup[];
}

function preferenceObjective(kind: 'rm' | 'dpo'): TrainingObjective {
  const rm = kind === 'rm';
  return {
    kind,
    lossHead: rm ? 'reward' : 'dpo',
    artifactHasHead: rm,
    sessionOptions(config) {
      if (rm) return {lossHead: 'reward', loss: {centerRewards: config.centerRewards}, adapters: [trainedAdapter(config, 'reward', {head: true})]};
      const adapters = [trainedAdapter(config, 'policy')];
      if (config.initAdapter) adapters.push({name: 'reference', trainable: false, initFrom: config.initAdapter});
      return {lossHead: 'dpo', loss: {beta: config.beta, labelSmoothing: config.labelSmoothing}, adapters};
    },
    artifactMetadata: (config): Record<string, string> =>
      rm
        ? {'zhongjing.rm.score': 'scalar head on the last token of prompt + answer (chat template)', 'zhongjing.rm.margin': String(config.margin)}
        : {'zhongjing.dpo.beta': String(config.beta), 'zhongjing.dpo.label_smoothing': String(config.labelSmoothing)},
    prepare(inputs: ReadInputs, tokenizer: ExampleTokenizer, config: TrainConfig): PreparedObjective {
      const notes: GroupNotes = {tooLong: 0, identicalPairs: 0, unrenderable: 0};
      const converted = convertInputs(inputs, ({row, preference}) => {
        const record = preference ?? (row ? preferenceFromRow(row) : null);
        return record ? groupOf(record, tokenizer, config.nCtx, notes) : null;
      });
      let train = converted.train;
      let val = converted.validation;
      const noteLines = [
        notes.tooLong ? `${notes.tooLong} rankings longer than the context (${config.nCtx} tokens) were left out` : '',
        notes.identicalPairs ? `${notes.identicalPairs} pairs with identical answers were left out` : '',
        notes.unrenderable ? `${notes.unrenderable} rankings could not be rendered with the chat template` : '',
      ].filter(Boolean);
      if (!train.length) {
        const why = notes.tooLong
          ? {zh: `所有排序都超过了上下文长度（${config.nCtx} 个 token），请加大“最大序列长度”。`, en: `Every ranking is longer than the context (${config.nCtx} tokens): raise the maximum sequence length.`}
          : {
              zh: '数据中没有可用的偏好排序（需要标注项目的最终排序、RLHF-Label-Tool 排序文件，或含 chosen/rejected 且两者不同的偏好对）。',
              en: 'No usable preference rankings (needs an annotation project’s final rankings, an RLHF-Label-Tool ranking file, or preference pairs whose chosen and rejected differ).',
            };
        throw new ObjectiveDataError(why);
      }
      if (!val.length && config.valFraction > 0 && train.length >= 2) {
        const order = shuffleInPlace(Array.from({length: train.length}, (_, i) => i), mulberry32(config.seed ^ 0x5eed));
        const nVal = Math.max(1, Math.round(train.length * config.valFraction));
        const held = new Set(order.slice(0, nVal));
        val = train.filter((_, i) => held.has(i));
        train = train.filter((_, i) => !held.has(i));
      }
      const groupsPerBatch = Math.max(1, config.rows);
      const info = new WeakMap<TrainingBatch, BatchInfo>();
      const batchOf = (groups: PreferenceGroup[]): TrainingBatch => {
        const rows = groups.flatMap((g) => g.sequences.map((s) => [s]));
        const batch = assemble(rows, Math.max(...rows.map((r) => r[0]!.tokens.length)));
        const pairs: number[] = [];
        const weights: number[] = [];
        const offsets: number[] = [];
        const seqWeights: number[] = [];
        let base = 0;
        for (const g of groups) {
          for (const [h, l] of g.pairs) {
            pairs.push(base + h, base + l);
            weights.push(rm ? 1 / g.pairs.length : 1);
            offsets.push(rm ? config.margin : g.reference ? g.reference[h]! - g.reference[l]! : 0);
          }
          for (let i = 0; i < g.sequences.length; i++) seqWeights.push(1 / g.sequences.length);
          base += g.sequences.length;
        }
        batch.pairs = Int32Array.from(pairs);
        batch.pairWeights = Float32Array.from(weights);
        batch.pairOffsets = Float32Array.from(offsets);
        if (rm && config.centerRewards > 0) batch.sequenceWeights = Float32Array.from(seqWeights);
        info.set(batch, {groups});
        return batch;
      };
      const permutations = new Map<number, number[]>();
      const order = (epoch: number) => {
        let p = permutations.get(epoch);
        if (!p) {
          p = shuffleInPlace(Array.from({length: train.length}, (_, i) => i), mulberry32((config.seed * 1000003 + epoch) >>> 0));
          permutations.clear();
          permutations.set(epoch, p);
        }
        return p;
      };
      const next = (cursor: Cursor) => {
        let {epoch, index} = cursor;
        if (index >= train.length) {
          epoch++;
          index = 0;
        }
        const p = order(epoch);
        const groups = p.slice(index, index + groupsPerBatch).map((i) => train[i]!);
        return {batch: batchOf(groups), cursor: {epoch, index: index + groups.length}};
      };
      const chunks = (groups: PreferenceGroup[]) => {
        const out: PreferenceGroup[][] = [];
        for (let i = 0; i < groups.length; i += groupsPerBatch) out.push(groups.slice(i, i + groupsPerBatch));
        return out;
      };
      const summarise = (batches: readonly TrainingBatch[], scores: Float32Array, prefix: string): Record<string, number> => {
        let at = 0;
        let n = 0;
        let correct = 0;
        let margin = 0;
        let better = 0;
        let worse = 0;
        let chosenReward = 0;
        let rejectedReward = 0;
        const byDim = DIMENSION_NAMES.map(() => ({n: 0, correct: 0}));
        for (const batch of batches) {
          const groups = info.get(batch)?.groups ?? [];
          for (const g of groups) {
            const s = scores.subarray(at, at + g.sequences.length);
            at += g.sequences.length;
            for (const [h, l] of g.pairs) {
              // the reward model's scores are rewards; DPO's implicit rewards are β·(π − ref)
              const rh = rm ? s[h]! : config.beta * (s[h]! - (g.reference?.[h] ?? 0));
              const rl = rm ? s[l]! : config.beta * (s[l]! - (g.reference?.[l] ?? 0));
              n++;
              if (rh > rl) correct++;
              margin += rh - rl;
              better += rm ? rh : s[h]!;
              worse += rm ? rl : s[l]!;
              chosenReward += rh;
              rejectedReward += rl;
              if (g.dimensions) {
                const dh = g.dimensions[h];
                const dl = g.dimensions[l];
                if (dh && dl) {
                  DIMENSION_NAMES.forEach((_, d) => {
                    if (dh[d] === dl[d]) return;
                    byDim[d]!.n++;
                    if ((dh[d]! > dl[d]!) === (rh > rl)) byDim[d]!.correct++;
                  });
                }
              }
            }
          }
        }
        if (!n) return {};
        const out: Record<string, number> = {};
        if (rm) {
          out[`${prefix}accuracy`] = correct / n;
          out[`${prefix}margin`] = margin / n;
          out[`${prefix}rewards/chosen`] = better / n;
          out[`${prefix}rewards/rejected`] = worse / n;
        } else {
          out[`${prefix}rewards/accuracies`] = correct / n;
          out[`${prefix}rewards/margins`] = margin / n;
          out[`${prefix}logps/chosen`] = better / n;
          out[`${prefix}logps/rejected`] = worse / n;
          out[`${prefix}rewards/chosen`] = chosenReward / n;
          out[`${prefix}rewards/rejected`] = rejectedReward / n;
        }
        out[`${prefix}pairs`] = n;
        if (prefix) {
          const [low, high] = wilsonInterval(correct, n);
          const key = rm ? 'accuracy' : 'rewards/accuracies';
          out[`${prefix}${key}_low`] = low;
          out[`${prefix}${key}_high`] = high;
          DIMENSION_NAMES.forEach((name, d) => {
            if (byDim[d]!.n) {
              out[`${prefix}accuracy/${name}`] = byDim[d]!.correct / byDim[d]!.n;
              out[`${prefix}pairs/${name}`] = byDim[d]!.n;
            }
          });
        }
        return out;
      };
      const referenceSelection: AdapterSelection = config.initAdapter ? ['reference'] : false;
      return {
        stats: {
          trainExamples: train.length,
          valExamples: val.length,
          trainTokens: train.reduce((sum, g) => sum + g.sequences.reduce((s, q) => s + q.tokens.length, 0), 0),
          trainTargets: train.reduce((sum, g) => sum + g.pairs.length, 0),
          truncated: 0,
          dropped: notes.tooLong + notes.unrenderable,
          notes: noteLines,
        },
        perFile: converted.perFile,
        next,
        microBatchesPerEpoch: () => Math.ceil(train.length / groupsPerBatch),
        // held-out batches are rebuilt after attach() so DPO's offsets hold the reference log-ratios
        evalBatches: () => chunks(val).map(batchOf),
        async attach(session: NativeTrainingSession, {runDir}) {
          if (rm) return;
          const cachePath = join(runDir, 'reference-logps.json');
          const key = JSON.stringify({model: config.model, init: config.initAdapter, nCtx: config.nCtx, train: train.length, val: val.length});
          const all = [...train, ...val];
          if (existsSync(cachePath)) {
            const cached = JSON.parse(readFileSync(cachePath, 'utf8')) as {key: string; reference: number[][]};
            if (cached.key === key && cached.reference.length === all.length) {
              all.forEach((g, i) => (g.reference = cached.reference[i]));
              return;
            }
          }
          for (const groups of chunks(all)) {
            const scores = await session.scores(batchOf(groups), 'logp', referenceSelection);
            let at = 0;
            for (const g of groups) {
              g.reference = [...scores.subarray(at, at + g.sequences.length)];
              at += g.sequences.length;
            }
          }
          writeFileAtomic(cachePath, JSON.stringify({key, reference: all.map((g) => g.reference)}) + '\n');
        },
        stepValues: (batches: readonly TrainingBatch[], result: StepResult) => summarise(batches, result.scores, ''),
        async evaluate(session, batches) {
          let sum = 0;
          let items = 0;
          const parts: Float32Array[] = [];
          for (const b of batches) {
            const r = await session.evaluate(b);
            sum += r.lossSum;
            items += r.nItems;
            parts.push(r.scores);
          }
          const scores = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
          let at = 0;
          for (const p of parts) {
            scores.set(p, at);
            at += p.length;
          }
          return {loss: items ? sum / items : NaN, items, values: summarise(batches, scores, 'eval/')};
        },
      };
    },
  };
}

export const rewardModelObjective = preferenceObjective('rm');
export const dpoObjective = preferenceObjective('dpo');
