// The language-model objectives: LoRA SFT (loss on every assistant reply and its end token,
// rendered with the model's own chat template) and continued pre-training (every token of plain
// text; dialogues learned as their text). Both use the 'lm' loss head on one trainable adapter.

import type {DatasetRow} from '../../../common/datasets.js';
import type {TrainingKind} from '../../../common/training.js';
import {BatchFeeder, evalBatches, splitIndices, START, type Cursor} from '../feeder.js';
import {convertInputs, type ReadInputs} from '../inputs.js';
import type {NativeTrainingSession, TrainingBatch} from '../native.js';
import type {TrainConfig} from '../record.js';
import type {Example, ExampleTokenizer} from '../render.js';
import {ObjectiveDataError, trainedAdapter, type PreparedObjective, type TrainingObjective} from './objective.js';

function exampleOf(kind: TrainingKind, row: DatasetRow): Example | null {
  const dialogue = row.kind === 'dialogue' || row.kind === 'safety';
  if (kind === 'sft') return dialogue ? {kind: 'dialogue', turns: row.turns} : null;
  // continued pre-training on dialogue files learns the dialogues' text as plain text
  if (row.kind === 'text') return row.text?.trim() ? {kind: 'text', text: row.text} : null;
  return dialogue ? {kind: 'text', text: row.turns.map((t) => t.content).join('\n')} : null;
}

export async function meanLoss(session: NativeTrainingSession, batches: readonly TrainingBatch[]): Promise<{loss: number; items: number}> {
  let sum = 0;
  let items = 0;
  for (const b of batches) {
    const r = await session.evaluate(b);
    sum += r.lossSum;
    items += r.nItems;
  }
  return {loss: items ? sum / items : NaN, items};
}

function languageObjective(kind: 'sft' | 'pt'): TrainingObjective {
  return {
    kind,
    lossHead: 'lm',
    artifactHasHead: false,
    sessionOptions: (config) => ({lossHead: 'lm', adapters: [trainedAdapter(config, 'policy')]}),
    artifactMetadata: () => ({}),
    prepare(inputs: ReadInputs, tokenizer: ExampleTokenizer, config: TrainConfig): PreparedObjective {
      const {train, validation: heldOut, perFile} = convertInputs(inputs, ({row}) => (row ? exampleOf(kind, row) : null));
      if (!train.length) {
        throw new ObjectiveDataError(
          kind === 'sft'
            ? {zh: '数据中没有可用于 SFT 的对话（需要含医生回复的对话行；偏好对与纯文本不用于 SFT）。', en: 'No dialogues to fine-tune on (SFT needs dialogue rows with a doctor reply; preference pairs and plain text are not used for SFT).'}
            : {zh: '数据中没有可用于继续预训练的文本或对话。', en: 'No text or dialogues to continue pre-training on.'},
        );
      }
      // the split is over source examples, before tokenisation, so one dialogue never feeds both sides
      const split = heldOut.length ? {train: train.map((_, i) => i), val: []} : splitIndices(train.length, config.valFraction, config.seed);
      const trainTok = tokenizer.tokenizeAll(split.train.map((i) => train[i]!));
      const valTok = tokenizer.tokenizeAll(heldOut.length ? heldOut : split.val.map((i) => train[i]!));
      if (!trainTok.items.length) throw new ObjectiveDataError({zh: '分词与截断后没有剩下可训练的样本（上下文长度是否太短？）。', en: 'No training examples left after tokenisation and truncation (is the context length too short?).'});
      const feedOptions = {nCtx: config.nCtx, rows: config.rows, pack: config.pack, seed: config.seed};
      const feeder = new BatchFeeder(trainTok.items, feedOptions);
      return {
        stats: {
          trainExamples: trainTok.items.length,
          valExamples: valTok.items.length,
          trainTokens: trainTok.stats.tokens,
          trainTargets: trainTok.stats.trainTokens,
          truncated: trainTok.stats.truncated + valTok.stats.truncated,
          dropped: trainTok.stats.dropped + valTok.stats.dropped,
        },
        perFile,
        next: (cursor) => feeder.next(cursor),
        microBatchesPerEpoch() {
          let cursor: Cursor = START;
          let n = 0;
          do {
            cursor = feeder.next(cursor).cursor;
            n++;
          } while (cursor.epoch === 0 && cursor.index < feeder.size);
          return n;
        },
        evalBatches: () => evalBatches(valTok.items, config.nCtx, config.rows),
        stepValues: () => ({}),
        async evaluate(session, batches) {
          return {...(await meanLoss(session, batches)), values: {}};
        },
      };
    },
  };
}

export const sftObjective = languageObjective('sft');
export const ptObjective = languageObjective('pt');
