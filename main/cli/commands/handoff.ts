// `zhongjing handoff RUN_ID --out DIR [--hf-model HF_ID] [--template T]`: a training run of the
// store (and the runs it starts from) as a LLaMA-Factory package for a GPU cluster.

import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {writeHandoff} from '../../node/handoff/llamafactory.js';
import {Services} from '../../node/services/index.js';
import {cliLanguage, resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: '用法：zhongjing handoff 运行ID --out 输出目录 [--hf-model HF模型ID] [--template LLaMA-Factory模板] [--json]',
  en: 'usage: zhongjing handoff RUN_ID --out DIR [--hf-model HF_ID] [--template LLAMA_FACTORY_TEMPLATE] [--json]',
};

export async function handoffCommand(argv: string[]): Promise<void> {
  const {values, positionals} = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      out: {type: 'string'},
      'hf-model': {type: 'string'},
      template: {type: 'string'},
      json: {type: 'boolean'},
    },
  });
  const ref = positionals[0];
  if (!ref || !values.out) throw usageError(USAGE);
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  try {
    // a run by id, or by its name
    const runId = services.training.list().find((r) => r.id === ref || r.name === ref)?.id ?? ref;
    const result = await writeHandoff(services, {runId, outDir: resolve(values.out), hfModel: values['hf-model'] ?? null, template: values.template ?? null});
    if (values.json) {
      process.stdout.write(`${JSON.stringify({dir: result.dir, stages: result.stages.map(({args: _args, ...rest}) => rest), files: result.files, settings: result.settings})}\n`);
      return;
    }
    const zh = cliLanguage() === 'zh-CN';
    const lines = [`${say({zh: '交接包已写入', en: 'Hand-off package written to'})} ${result.dir}`];
    for (const st of result.stages) lines.push(`  FORCE_TORCHRUN=1 llamafactory-cli train ${st.yaml}    # ${st.kind.toUpperCase()} ${st.name}`);
    const unmapped = result.settings.filter((st) => st.note && st.llamaFactory === null);
    if (unmapped.length) {
      lines.push(say({zh: '没有 LLaMA-Factory 对应项的设置（详见 README.md 与 settings.json）：', en: 'Settings with no LLaMA-Factory equivalent (see README.md and settings.json):'}));
      for (const st of unmapped) lines.push(`  [${st.stage}] ${st.setting} = ${JSON.stringify(st.value)}: ${zh ? st.note!.zh : st.note!.en}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  } finally {
    await services.close();
  }
}
