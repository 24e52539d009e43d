// `zhongjing adapters import-peft | export-peft` as a subprocess: a PEFT adapter for the tiny
// model is imported, registered as a LoRA with its provenance, exported back as PEFT with the
// Hugging Face id given, and one for other shapes is refused with exit code 2 and a clear line.
import {after, test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {writeSafetensors} from '../../main/node/adapters/safetensors.js';
import {runCli} from '../helpers/cli.js';
import {tinyModelPath} from '../helpers/tiny-model.js';
import {tempDir} from '../helpers/tmp.js';

const tmp = tempDir();
after(() => tmp.cleanup());

function peftDir(name: string): string {
  const dir = join(tmp.path, name);
  mkdirSync(dir, {recursive: true});
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({peft_type: 'LORA', task_type: 'CAUSAL_LM', r: 2, lora_alpha: 4, target_modules: ['q_proj'], base_model_name_or_path: 'someone/tiny-llama-hf', bias: 'none'}));
  return dir;
}

async function writeWeights(dir: string, nIn: number): Promise<void> {
  const tensors = [0, 1].flatMap((layer) => [
    {name: `base_model.model.model.layers.${layer}.self_attn.q_proj.lora_A.weight`, shape: [2, nIn], data: Float32Array.from({length: 2 * nIn}, (_, i) => (i % 5) / 100)},
    {name: `base_model.model.model.layers.${layer}.self_attn.q_proj.lora_B.weight`, shape: [64, 2], data: Float32Array.from({length: 128}, (_, i) => (i % 7) / 100)},
  ]);
  await writeSafetensors(join(dir, 'adapter_model.safetensors'), tensors);
}

test('adapters import-peft registers a LoRA with provenance; export-peft writes it back as PEFT', async () => {
  const model = await tinyModelPath('llama');
  const dataDir = join(tmp.path, 'data');
  const env = {ZHONGJING_LANG: 'en'};
  const good = peftDir('good');
  await writeWeights(good, 64);

  const imported = runCli(['adapters', 'import-peft', good, '--model', model, '--name', 'cluster SFT', '--data-dir', dataDir, '--json'], {env});
  assert.equal(imported.status, 0, imported.stderr);
  const result = JSON.parse(imported.stdout) as {model: {id: string; kind: string; name: string; path: string; architecture: string}; provenance: string; conversion: {rank: number; alpha: number}};
  assert.deepEqual({kind: result.model.kind, name: result.model.name, architecture: result.model.architecture, rank: result.conversion.rank, alpha: result.conversion.alpha}, {kind: 'adapter', name: 'cluster SFT', architecture: 'llama', rank: 2, alpha: 4});
  const provenance = JSON.parse(readFileSync(result.provenance, 'utf8'));
  assert.equal(provenance.kind, 'peft-import');
  assert.equal(provenance.source.baseModelNameOrPath, 'someone/tiny-llama-hf');
  assert.match(provenance.baseModel.sha256, /^[0-9a-f]{64}$/);
  assert.match(provenance.source.adapterModelSha256, /^[0-9a-f]{64}$/);

  const list = runCli(['models', 'list', '--json', '--data-dir', dataDir], {env});
  const models = JSON.parse(list.stdout) as {id: string; kind: string}[];
  assert.ok(models.some((m) => m.id === result.model.id && m.kind === 'adapter'), 'the adapter is registered');

  const out = join(tmp.path, 'exported');
  const exported = runCli(['adapters', 'export-peft', 'cluster SFT', out, '--base-id', 'FreedomIntelligence/HuatuoGPT2-7B', '--data-dir', dataDir], {env});
  assert.equal(exported.status, 0, exported.stderr);
  assert.match(exported.stdout, /Exported PEFT adapter/);
  const config = JSON.parse(readFileSync(join(out, 'adapter_config.json'), 'utf8'));
  assert.deepEqual({r: config.r, alpha: config.lora_alpha, targets: config.target_modules, base: config.base_model_name_or_path}, {r: 2, alpha: 4, targets: ['q_proj'], base: 'FreedomIntelligence/HuatuoGPT2-7B'});
  assert.ok(existsSync(join(out, 'adapter_model.safetensors')), 'weights written');
});

test('adapters import-peft refuses an adapter with other shapes than the base; usage errors exit 2', async () => {
  const model = await tinyModelPath('llama');
  const bad = peftDir('bad');
  await writeWeights(bad, 96);
  const refused = runCli(['adapters', 'import-peft', bad, '--model', model, '--data-dir', join(tmp.path, 'data2')], {env: {ZHONGJING_LANG: 'en'}});
  assert.equal(refused.status, 2, refused.stdout);
  assert.match(refused.stderr, /Shapes do not match the chosen base/);
  const zh = runCli(['adapters', 'import-peft', bad, '--model', model, '--data-dir', join(tmp.path, 'data2')], {env: {ZHONGJING_LANG: 'zh-CN'}});
  assert.match(zh.stderr, /形状与所选基座不符/);
  const usage = runCli(['adapters', 'import-peft', bad], {env: {ZHONGJING_LANG: 'en'}});
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: zhongjing adapters/);
});
