// `zhongjing reward score --rm RM --model M [--ctx N]`: scores answers with a trained reward model.
// Reads JSON Lines on stdin, one answer per line — {"prompt": "…", "answer": "…"} or
// {"messages": [{role, content}…], "answer": "…"} ("response" is accepted for "answer") — and
// writes {"score": x} per line in the same order. RM is a reward-model file or the id of a
// completed reward-model run; M is a GGUF path or a registered model. The RM must have been
// trained on this base model (its file names the base's sha256): another one is refused.

import {existsSync} from 'node:fs';
import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import type {Turn} from '../../common/datasets.js';
import {AppError} from '../../common/errors.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {Services} from '../../node/services/index.js';
import {defaultThreads} from '../../node/threads.js';
import {LocalisedError, scoreAnswers} from '../../node/training/score.js';
import {resolveDataDir} from '../context.js';

export const USAGE = {
  zh: '用法：zhongjing reward score --rm 奖励模型文件或运行ID --model 模型 [--ctx N] < 输入.jsonl（每行 {"prompt"|"messages", "answer"}）',
  en: 'usage: zhongjing reward score --rm RM_FILE_OR_RUN_ID --model M [--ctx N] < input.jsonl (one {"prompt"|"messages", "answer"} per line)',
};

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function itemOf(line: string, n: number): {turns: Turn[]; answer: string} {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(line) as Record<string, unknown>;
  } catch {
    throw new AppError('validation', {zh: `第 ${n} 行不是 JSON。`, en: `Line ${n} is not JSON.`});
  }
  const answer = value.answer ?? value.response;
  const turns = Array.isArray(value.messages) ? (value.messages as Turn[]) : typeof value.prompt === 'string' ? [{role: 'user' as const, content: value.prompt}] : null;
  if (typeof answer !== 'string' || !turns || !turns.length || turns.some((t) => typeof t?.content !== 'string'))
    throw new AppError('validation', {zh: `第 ${n} 行需要 "prompt" 或 "messages"，以及 "answer"。`, en: `Line ${n} needs "prompt" or "messages", and "answer".`});
  return {turns, answer};
}

export async function rewardCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const {values} = parseArgs({args: rest, options: {'data-dir': {type: 'string'}, rm: {type: 'string'}, model: {type: 'string', short: 'm'}, ctx: {type: 'string'}, threads: {type: 'string'}}});
  if (sub !== 'score' || !values.rm || !values.model) throw new AppError('validation', USAGE);
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  let rewardModel: string;
  let model: string;
  let nCtx = values.ctx ? Number(values.ctx) : 1024;
  try {
    const run = existsSync(values.rm) ? null : services.store.training.get(values.rm);
    if (run && (run.kind !== 'rm' || !run.adapterPath)) throw new AppError('validation', {zh: `运行 ${values.rm} 不是已完成的奖励模型训练。`, en: `Run ${values.rm} is not a completed reward-model run.`});
    if (!run && !existsSync(values.rm)) throw new AppError('not_found', {zh: `找不到奖励模型“${values.rm}”。`, en: `No reward model "${values.rm}".`});
    rewardModel = run ? run.adapterPath! : resolve(values.rm);
    if (run && !values.ctx) nCtx = run.config.maxSequenceLength;
    const registered = services.models.list().find((m) => m.id === values.model || m.name === values.model);
    model = registered && !registered.missing ? registered.path : resolve(values.model);
    if (!existsSync(model)) throw new AppError('not_found', {zh: `找不到模型“${values.model}”。`, en: `No model "${values.model}".`});
  } finally {
    await services.close();
  }
  if (!Number.isInteger(nCtx) || nCtx < 8) throw new AppError('validation', {zh: '--ctx 需要一个不小于 8 的整数。', en: '--ctx needs an integer of at least 8.'});
  const lines = (await readStdin()).split('\n').map((l) => l.trim());
  const items = lines.flatMap((line, i) => (line ? [itemOf(line, i + 1)] : []));
  if (!items.length) throw new AppError('validation', USAGE);
  try {
    const scores = await scoreAnswers({model, rewardModel, items, nCtx, threads: values.threads ? Number(values.threads) : defaultThreads()});
    process.stdout.write(scores.map((score) => JSON.stringify({score})).join('\n') + '\n');
  } catch (error) {
    if (error instanceof LocalisedError) throw new AppError('validation', error.localised);
    throw error;
  }
}
