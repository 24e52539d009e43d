// `zhongjing chat`: one reply streamed to stdout, with the same runner, chat template and
// context trimming as the app. Runs in this process (a crash ends only this command).

import {existsSync} from 'node:fs';
import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {DEFAULT_SAMPLING, MAX_MESSAGE_CHARS, samplingSchema, type GpuLayers} from '../../common/contract.js';
import {AppError} from '../../common/errors.js';
import {DEFAULT_SYSTEM_PROMPT} from '../../common/prompts.js';
import {ModelRunner} from '../../node/engine/model-runner.js';
import {inspectGguf} from '../../node/models/gguf-inspect.js';
import {findRegisteredModel} from '../../node/models/registered.js';
import {defaultThreads} from '../../node/threads.js';
import {parseInput} from '../../node/api/validate.js';
import {cliLanguage, resolveDataDir, usageError} from '../context.js';

export const USAGE = {
  zh: '用法：zhongjing chat --model 模型 [--adapter A.gguf]... [--system 提示词] [--temperature T] [--max-tokens N] [--seed N] [--json] "消息"',
  en: 'usage: zhongjing chat --model M [--adapter A.gguf]... [--system S] [--temperature T] [--max-tokens N] [--seed N] [--json] "message"',
};

interface ResolvedModel {
  path: string;
  gpuLayers: GpuLayers;
}

/** A path to a .gguf is used directly; anything else is looked up among registered models. */
async function resolveModel(ref: string, dataDir: string, kind: 'base' | 'adapter'): Promise<ResolvedModel> {
  if (existsSync(ref)) {
    const summary = await inspectGguf(resolve(ref));
    if (summary.kind !== kind)
      throw new AppError('validation', {
        zh: kind === 'base' ? `${ref} 是 LoRA 适配器，请用 --adapter 传入。` : `${ref} 不是 LoRA 适配器。`,
        en: kind === 'base' ? `${ref} is a LoRA adapter; pass it with --adapter.` : `${ref} is not a LoRA adapter.`,
      });
    return {path: summary.path, gpuLayers: 'auto'};
  }
  const model = findRegisteredModel(ref, dataDir);
  if (!model)
    throw new AppError('not_found', {
      zh: `找不到模型“${ref}”：既不是文件路径，也不是已登记的模型（zhongjing models list 查看）。`,
      en: `No model "${ref}": neither a file path nor a registered model (see zhongjing models list).`,
    });
  if (model.missing)
    throw new AppError('model_missing', {zh: `模型文件已不存在：${model.path}`, en: `The model file no longer exists: ${model.path}`});
  return {path: model.path, gpuLayers: model.gpuLayers};
}

export async function chatCommand(argv: string[]): Promise<void> {
  const {values, positionals} = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      model: {type: 'string', short: 'm'},
      adapter: {type: 'string', multiple: true},
      system: {type: 'string'},
      temperature: {type: 'string'},
      'max-tokens': {type: 'string'},
      seed: {type: 'string'},
      threads: {type: 'string'},
      json: {type: 'boolean'},
    },
  });
  const message = positionals.join(' ').trim();
  if (!values.model) throw usageError(USAGE);
  if (!message) throw new AppError('validation', {zh: '消息不能为空。', en: 'The message is empty.'});
  if (message.length > MAX_MESSAGE_CHARS)
    throw new AppError('message_too_long', {zh: `消息过长：最多 ${MAX_MESSAGE_CHARS} 个字符。`, en: `The message is too long: at most ${MAX_MESSAGE_CHARS} characters.`});
  const sampling = parseInput(samplingSchema, {
    ...DEFAULT_SAMPLING,
    ...(values.temperature !== undefined ? {temperature: Number(values.temperature)} : {}),
    ...(values['max-tokens'] !== undefined ? {maxTokens: Number(values['max-tokens'])} : {}),
    ...(values.seed !== undefined ? {seed: Number(values.seed)} : {}),
  });

  const dataDir = resolveDataDir(values['data-dir']);
  const model = await resolveModel(values.model, dataDir, 'base');
  const adapters = await Promise.all((values.adapter ?? []).map((a) => resolveModel(a, dataDir, 'adapter')));
  const threads = values.threads ? Number(values.threads) : defaultThreads();
  const runner = new ModelRunner({threads, gpuMode: 'auto'});
  try {
    const result = await runner.generate(
      {
        modelPath: model.path,
        gpuLayers: model.gpuLayers,
        adapters: adapters.map((a) => ({path: a.path, scale: 1})),
        systemPrompt: values.system ?? (cliLanguage() === 'en' ? DEFAULT_SYSTEM_PROMPT.en : DEFAULT_SYSTEM_PROMPT.zh),
        turns: [{role: 'user', content: message}],
        sampling,
      },
      {
        onText: (text) => process.stdout.write(values.json ? `${JSON.stringify({type: 'delta', text})}\n` : text),
      },
    );
    process.stdout.write(values.json ? `${JSON.stringify({type: 'done', ...result})}\n` : '\n');
  } finally {
    await runner.dispose();
  }
}
