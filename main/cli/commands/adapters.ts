// `zhongjing adapters import-peft DIR --model M [--name N]` and
// `zhongjing adapters export-peft ADAPTER.gguf OUT_DIR [--base-id HF_ID]`: the way back from a
// GPU cluster (a PEFT LoRA trained by LLaMA-Factory, TRL or transformers) and the way out (an
// adapter trained here, for vLLM or transformers).

import {existsSync} from 'node:fs';
import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {AppError} from '../../common/errors.js';
import {exportGgufAsPeft, importPeftAdapter} from '../../node/adapters/peft.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {Services} from '../../node/services/index.js';
import {resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: '用法：zhongjing adapters import-peft 目录 --model 基座模型 [--name 名称] [--json] | export-peft 适配器.gguf 输出目录 [--base-id HF模型ID] [--json]',
  en: 'usage: zhongjing adapters import-peft DIR --model BASE_MODEL [--name NAME] [--json] | export-peft ADAPTER.gguf OUT_DIR [--base-id HF_ID] [--json]',
};

export async function adaptersCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  const {values, positionals} = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      model: {type: 'string'},
      name: {type: 'string'},
      'base-id': {type: 'string'},
      json: {type: 'boolean'},
    },
  });
  if (sub === 'export-peft') {
    const [adapter, outDir] = positionals;
    if (!adapter || !outDir) throw usageError(USAGE);
    let path = resolve(adapter);
    if (!existsSync(path)) {
      // a registered adapter by id or name
      const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
      try {
        const found = services.models.list().find((m) => m.kind === 'adapter' && (m.id === adapter || m.name === adapter));
        if (!found) throw new AppError('not_found', {zh: `找不到适配器“${adapter}”：既不是文件，也不是已登记的适配器。`, en: `No adapter "${adapter}": neither a file nor a registered adapter.`});
        path = found.path;
      } finally {
        await services.close();
      }
    }
    const result = await exportGgufAsPeft({adapterPath: path, outDir: resolve(outDir), baseModelId: values['base-id'] ?? null});
    if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      process.stdout.write(`${say({zh: '已导出 PEFT 适配器', en: 'Exported PEFT adapter'})}: ${result.dir}\n  r=${result.rank} lora_alpha=${result.alpha} target_modules=${result.targets.join(',')}${result.baseModelNameOrPath ? ` base=${result.baseModelNameOrPath}` : ''}\n`);
      if (!result.baseModelNameOrPath) {
        process.stdout.write(`${say({zh: '提示：未给出 --base-id，adapter_config.json 的 base_model_name_or_path 为空。', en: 'Note: no --base-id given, so base_model_name_or_path in adapter_config.json is null.'})}\n`);
      }
      if (result.valueHead) process.stdout.write(`${say({zh: '奖励模型的打分头已写入 value_head.safetensors。', en: "The reward model's score head is in value_head.safetensors."})}\n`);
    }
    return;
  }
  if (sub !== 'import-peft') throw usageError(USAGE);
  const dir = positionals[0];
  if (!dir || !values.model) throw usageError(USAGE);
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  try {
    const ref = values.model;
    let base = services.models.list().find((m) => m.id === ref || m.name === ref || m.path === resolve(ref));
    if (!base && existsSync(ref)) base = await services.models.add({path: resolve(ref)});
    if (!base) throw new AppError('not_found', {zh: `找不到模型“${ref}”：既不是文件路径，也不是已登记的模型。`, en: `No model "${ref}": neither a file path nor a registered model.`});
    const result = await importPeftAdapter(services, {dir, modelId: base.id, name: values.name});
    if (values.json) process.stdout.write(`${JSON.stringify({model: result.model, conversion: result.conversion, provenance: result.provenancePath})}\n`);
    else {
      const c = result.conversion;
      process.stdout.write(
        `${say({zh: '已导入并登记', en: 'Imported and registered'})}: ${result.model.id}  ${result.model.name}\n` +
          `  ${c.architecture} r=${c.rank} lora_alpha=${c.alpha} ${c.layers} layers, ${c.targets.join(',')}\n  ${result.model.path}\n  ${say({zh: '来源记录', en: 'provenance'})}: ${result.provenancePath}\n`,
      );
    }
    await services.models.settle();
  } finally {
    await services.close();
  }
}
