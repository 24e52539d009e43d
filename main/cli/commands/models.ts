import {parseArgs} from 'node:util';
import {resolve} from 'node:path';
import {makeTinyModel} from '../../node/models/tiny-model.js';
import {inspectGguf} from '../../node/models/gguf-inspect.js';
import {Services} from '../../node/services/index.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import type {ModelInfo} from '../../common/contract.js';
import {resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: '用法：zhongjing models add 路径.gguf [--name 名称] | list [--json] | inspect 路径.gguf | make-tiny 输出.gguf [--arch llama|qwen2] [--seed N]',
  en: 'usage: zhongjing models add PATH.gguf [--name NAME] | list [--json] | inspect PATH.gguf | make-tiny OUT.gguf [--arch llama|qwen2] [--seed N]',
};

function formatSize(bytes: number): string {
  return bytes >= 2 ** 30 ? `${(bytes / 2 ** 30).toFixed(2)} GiB` : `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function formatParams(n: number): string {
  return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : `${(n / 1e3).toFixed(1)}K`;
}

function describe(m: ModelInfo): string {
  const flags = [m.kind === 'adapter' ? 'LoRA' : '', m.missing ? say({zh: '文件缺失', en: 'FILE MISSING'}) : ''].filter(Boolean).join(' ');
  return `${m.id}  ${m.name}  ${m.architecture} ${formatParams(m.parameterCount)} ${m.quantization} ctx=${m.contextLength ?? '-'} ${formatSize(m.fileSizeBytes)}${flags ? `  [${flags}]` : ''}\n    ${m.path}`;
}

export async function modelsCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const {values, positionals} = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      name: {type: 'string'},
      json: {type: 'boolean'},
      arch: {type: 'string'},
      seed: {type: 'string'},
    },
  });
  if (sub === 'make-tiny') {
    const out = positionals[0];
    if (!out) throw usageError(USAGE);
    const arch = values.arch ?? 'llama';
    if (arch !== 'llama' && arch !== 'qwen2') throw usageError(USAGE);
    const result = await makeTinyModel(resolve(out), {architecture: arch, seed: values.seed ? Number(values.seed) : undefined});
    process.stdout.write(values.json ? `${JSON.stringify(result)}\n` : `${result.path}\nsha256 ${result.sha256}\n`);
    return;
  }
  if (sub === 'inspect') {
    const path = positionals[0];
    if (!path) throw usageError(USAGE);
    process.stdout.write(`${JSON.stringify(await inspectGguf(resolve(path)), null, 2)}\n`);
    return;
  }
  if (sub !== 'add' && sub !== 'list') throw usageError(USAGE);
  // the engine is never started by these commands; the spawner is there for the type only
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  try {
    if (sub === 'add') {
      const path = positionals[0];
      if (!path) throw usageError(USAGE);
      const model = await services.models.add({path, name: values.name});
      process.stdout.write(values.json ? `${JSON.stringify(model)}\n` : `${say({zh: '已登记', en: 'Registered'})}: ${describe(model)}\n`);
    } else {
      const models = services.models.list();
      if (values.json) process.stdout.write(`${JSON.stringify(models)}\n`);
      else if (!models.length) process.stdout.write(`${say({zh: '尚未登记任何模型。用 zhongjing models add 路径.gguf 添加。', en: 'No models registered. Add one with zhongjing models add PATH.gguf.'})}\n`);
      else process.stdout.write(`${models.map(describe).join('\n')}\n`);
    }
  } finally {
    await services.close();
  }
}
