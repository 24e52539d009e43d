// `zhongjing handoff`: for runs of every kind in a real store (datasets imported, runs recorded),
// each stage's YAML holds the keys LLaMA-Factory requires for that stage (its documented argument
// names) with the values set in the app; the data and dataset_info.json are LLaMA-Factory's
// formats; rankings become pairs; upstream stages are chained; nothing is dropped silently.
import {after, before, test} from 'node:test';
import assert from 'node:assert/strict';
import {existsSync, mkdirSync, readFileSync, writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {defaultTrainingConfig, type TrainingConfig, type TrainingDatasetRef, type TrainingKind, type TrainingSource} from '../../main/common/training.js';
import {convertPeftToGguf} from '../../main/node/adapters/peft.js';
import {readSafetensors, writeSafetensors} from '../../main/node/adapters/safetensors.js';
import {gguf, writeGguf} from '../../main/node/models/gguf-writer.js';
import {forkEngine} from '../../main/node/engine/fork-engine.js';
import {writeHandoff} from '../../main/node/handoff/llamafactory.js';
import {newId} from '../../main/node/ids.js';
import {Services} from '../../main/node/services/index.js';
import {runCli} from '../helpers/cli.js';
import {tinyModelPath} from '../helpers/tiny-model.js';
import {tempDir} from '../helpers/tmp.js';

const tmp = tempDir();
let services: Services;
let modelId: string;
const refs: Record<'dialogue' | 'text' | 'pairs', TrainingDatasetRef> = {} as never;

/** Reads the flat `key: value` lines our YAML is made of (values are YAML scalars or JSON flow). */
function parseYaml(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    if (!line.trim() || line.startsWith('#')) continue;
    const at = line.indexOf(': ');
    assert.ok(at > 0, `a key: value line: ${line}`);
    const raw = line.slice(at + 2);
    let value: unknown = raw;
    if (/^(true|false)$/.test(raw)) value = raw === 'true';
    else if (/^-?[\d.]+(e-?\d+)?$/.test(raw)) value = Number(raw);
    else if (/^["{[]/.test(raw)) value = JSON.parse(raw);
    out[line.slice(0, at)] = value;
  }
  return out;
}

async function loraFile(name: string): Promise<string> {
  const dir = join(tmp.path, name);
  mkdirSync(dir, {recursive: true});
  writeFileSync(join(dir, 'adapter_config.json'), JSON.stringify({peft_type: 'LORA', r: 2, lora_alpha: 4, target_modules: ['q_proj']}));
  await writeSafetensors(join(dir, 'adapter_model.safetensors'), [0, 1].flatMap((l) => [
    {name: `base_model.model.model.layers.${l}.self_attn.q_proj.lora_A.weight`, shape: [2, 64], data: new Float32Array(128).fill(0.01)},
    {name: `base_model.model.model.layers.${l}.self_attn.q_proj.lora_B.weight`, shape: [64, 2], data: new Float32Array(128).fill(0.02)},
  ]));
  const out = join(tmp.path, `${name}.gguf`);
  await convertPeftToGguf({dir, basePath: await tinyModelPath('llama'), out});
  return out;
}

function insertRun(kind: TrainingKind, config: Partial<TrainingConfig>, extra: {datasets?: TrainingDatasetRef[]; sources?: TrainingSource[]; initAdapter?: string | null; inputs?: unknown[]} = {}): string {
  const id = newId();
  const runDir = join(tmp.path, 'runs', id);
  mkdirSync(runDir, {recursive: true});
  if (extra.inputs) writeFileSync(join(runDir, 'run.json'), JSON.stringify({config: {inputs: extra.inputs}}));
  const datasets = extra.datasets ?? [];
  services.store.training.insert({
    id, kind, name: `${kind} run ${id.slice(-6)}`, modelId, modelName: 'tiny', runDir, config: {...defaultTrainingConfig(kind), ...config},
    datasets, sources: [...datasets.map((d): TrainingSource => ({type: 'dataset', ...d})), ...(extra.sources ?? [])], initAdapter: extra.initAdapter ?? null,
  });
  return id;
}

before(async () => {
  services = new Services({dataDir: join(tmp.path, 'data'), spawnEngine: forkEngine, threads: 1});
  modelId = (await services.models.add({path: await tinyModelPath('llama'), name: 'tiny'})).id;
  const files = {
    dialogue: [{conversation: [{role: 'user', content: '我头痛三天了。'}, {role: 'assistant', content: '建议多休息。'}]}, {conversation: [{role: 'user', content: '发热怎么办？'}, {role: 'assistant', content: '多喝水，必要时就医。'}]}],
    text: [{text: '感冒时应多休息，多喝水。'}, {text: '高血压患者需要注意饮食。'}],
    pairs: [{prompt: '头痛怎么办？', chosen: '休息并观察，持续请就医。', rejected: '不用管。'}, {prompt: '发热怎么办？', chosen: '多喝水，体温过高请就医。', rejected: '随便吃点药。'}],
  };
  for (const [kind, rows] of Object.entries(files) as [keyof typeof files, object[]][]) {
    const path = join(tmp.path, `${kind}.jsonl`);
    writeFileSync(path, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
    const {datasetId} = await services.datasets.importNow({path, deidentify: false, name: kind});
    const frozen = services.datasets.freeze(datasetId);
    refs[kind] = {datasetId, name: kind, version: frozen.version, contentHash: frozen.contentHash};
  }
});
let closed = false;
after(async () => {
  if (!closed) await services.close();
  tmp.cleanup();
});

/** Every argument name LLaMA-Factory (or the transformers TrainingArguments it extends) documents
 * that a hand-off may use: ModelArguments, DataArguments, FinetuningArguments (LoRA, RLHF),
 * GeneratingArguments, Seq2SeqTrainingArguments. A key outside this list would be refused by
 * HfArgumentParser. */
const KNOWN_ARGS = new Set([
  'model_name_or_path', 'adapter_name_or_path', 'trust_remote_code',
  'template', 'dataset', 'eval_dataset', 'dataset_dir', 'cutoff_len', 'train_on_prompt', 'mask_history', 'mix_strategy', 'interleave_probs', 'overwrite_cache', 'preprocessing_num_workers', 'val_size', 'packing',
  'stage', 'finetuning_type', 'lora_rank', 'lora_alpha', 'lora_dropout', 'lora_target', 'create_new_adapter', 'plot_loss',
  'pref_beta', 'pref_loss', 'dpo_label_smoothing', 'ppo_buffer_size', 'ppo_epochs', 'ppo_score_norm', 'ppo_target', 'ppo_whiten_rewards', 'ref_model', 'ref_model_adapters', 'reward_model', 'reward_model_type',
  'do_sample', 'temperature', 'top_p', 'max_new_tokens',
  'do_train', 'output_dir', 'logging_steps', 'save_steps', 'overwrite_output_dir', 'report_to', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'learning_rate', 'num_train_epochs', 'max_steps', 'lr_scheduler_type', 'lr_scheduler_kwargs', 'warmup_steps', 'weight_decay', 'max_grad_norm', 'seed', 'bf16', 'ddp_timeout', 'deepspeed', 'per_device_eval_batch_size', 'eval_strategy', 'eval_steps', 'load_best_model_at_end', 'metric_for_best_model',
]);

function checkNames(yaml: Record<string, unknown>, what: string): void {
  const unknown = Object.keys(yaml).filter((k) => !KNOWN_ARGS.has(k));
  assert.deepEqual(unknown, [], `${what}: every key is a documented LLaMA-Factory / transformers argument`);
}

/** Keys LLaMA-Factory needs for every LoRA training stage, from its example YAMLs and argument docs. */
const COMMON_KEYS = ['model_name_or_path', 'stage', 'do_train', 'finetuning_type', 'lora_rank', 'lora_alpha', 'lora_dropout', 'lora_target', 'dataset', 'dataset_dir', 'template', 'cutoff_len', 'output_dir', 'per_device_train_batch_size', 'gradient_accumulation_steps', 'learning_rate', 'lr_scheduler_type', 'warmup_steps', 'seed', 'deepspeed'];

test('SFT and PT: required keys and the app\'s values; data in LLaMA-Factory formats', async () => {
  const sft = insertRun('sft', {rank: 16, alpha: 32, dropout: 0.1, targets: ['q', 'v', 'gate'], learningRate: 3e-4, epochs: 2, steps: null, maxSequenceLength: 512, validationFraction: 0.1, batchSize: 2, gradientAccumulation: 8, warmupSteps: 7, seed: 1234, clipGradNorm: 0.5, evalEvery: 20, checkpointEvery: 40}, {datasets: [refs.dialogue]});
  const out = join(tmp.path, 'sft-handoff');
  const result = await writeHandoff(services, {runId: sft, outDir: out, hfModel: 'FreedomIntelligence/HuatuoGPT2-7B'});
  assert.equal(result.stages.length, 1);
  const yaml = parseYaml(readFileSync(join(out, result.stages[0]!.yaml), 'utf8'));
  for (const key of [...COMMON_KEYS, 'num_train_epochs', 'val_size', 'eval_strategy', 'eval_steps']) assert.ok(key in yaml, `sft YAML has ${key}`);
  checkNames(yaml, 'sft');
  assert.deepEqual(
    {stage: yaml.stage, ft: yaml.finetuning_type, model: yaml.model_name_or_path, r: yaml.lora_rank, a: yaml.lora_alpha, d: yaml.lora_dropout, t: yaml.lora_target, lr: yaml.learning_rate, ep: yaml.num_train_epochs, cut: yaml.cutoff_len, val: yaml.val_size, bs: yaml.per_device_train_batch_size, ga: yaml.gradient_accumulation_steps, wu: yaml.warmup_steps, seed: yaml.seed, clip: yaml.max_grad_norm, ev: yaml.eval_steps, save: yaml.save_steps, sched: yaml.lr_scheduler_type, kw: yaml.lr_scheduler_kwargs, tpl: yaml.template, ds: yaml.deepspeed},
    {stage: 'sft', ft: 'lora', model: 'FreedomIntelligence/HuatuoGPT2-7B', r: 16, a: 32, d: 0.1, t: 'q_proj,v_proj,gate_proj', lr: 3e-4, ep: 2, cut: 512, val: 0.1, bs: 2, ga: 8, wu: 7, seed: 1234, clip: 0.5, ev: 20, save: 40, sched: 'cosine_with_min_lr', kw: {min_lr_rate: 0.1}, tpl: 'chatml', ds: 'ds_z2_config.json'},
  );
  assert.equal(yaml.max_steps, undefined, 'epochs, not max_steps, when the app counts epochs');
  assert.equal(yaml.load_best_model_at_end, true, 'save_steps 40 is a multiple of eval_steps 20: best checkpoint kept');
  const info = JSON.parse(readFileSync(join(out, 'data', 'dataset_info.json'), 'utf8'));
  const entry = info[yaml.dataset as string];
  assert.equal(entry.formatting, 'sharegpt', 'the SFT dataset is ShareGPT');
  const rows = readFileSync(join(out, 'data', entry.file_name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(rows[0].conversations, [{from: 'human', value: '我头痛三天了。'}, {from: 'gpt', value: '建议多休息。'}]);
  const ds = JSON.parse(readFileSync(join(out, 'ds_z2_config.json'), 'utf8'));
  assert.equal(ds.zero_optimization.stage, 2);
  const provenance = JSON.parse(readFileSync(join(out, 'provenance.json'), 'utf8'));
  assert.equal(provenance.runs[0].datasets[0].contentHash, refs.dialogue.contentHash, 'provenance names the frozen version');
  assert.equal(provenance.runs[0].seed, 1234);
  assert.match(Object.values(provenance.files as Record<string, string>)[0]!, /^[0-9a-f]{64}$/);
  const readme = readFileSync(join(out, 'README.md'), 'utf8');
  assert.match(readme, /FORCE_TORCHRUN=1 llamafactory-cli train 01_sft_[\w-]+\.yaml/);
  assert.match(readme, /zhongjing adapters import-peft saves\/sft_/);
  assert.match(readme, /gradient spike guard/, 'the setting with no equivalent is listed in the README');

  const pt = insertRun('pt', {steps: 300, learningRate: 1e-4, validationFraction: 0}, {datasets: [refs.text]});
  const ptOut = join(tmp.path, 'pt-handoff');
  const ptResult = await writeHandoff(services, {runId: pt, outDir: ptOut});
  const ptYaml = parseYaml(readFileSync(join(ptOut, ptResult.stages[0]!.yaml), 'utf8'));
  for (const key of [...COMMON_KEYS, 'max_steps']) assert.ok(key in ptYaml, `pt YAML has ${key}`);
  checkNames(ptYaml, 'pt');
  assert.deepEqual({stage: ptYaml.stage, steps: ptYaml.max_steps, lr: ptYaml.learning_rate, packing: ptYaml.packing, model: ptYaml.model_name_or_path}, {stage: 'pt', steps: 300, lr: 1e-4, packing: true, model: 'REPLACE_WITH_HF_MODEL_ID'});
  assert.equal(ptYaml.num_train_epochs, undefined);
  assert.equal(ptYaml.val_size, undefined, 'no held-out set in the app, none in LLaMA-Factory');
  const ptInfo = JSON.parse(readFileSync(join(ptOut, 'data', 'dataset_info.json'), 'utf8'));
  assert.deepEqual(ptInfo[ptYaml.dataset as string].columns, {prompt: 'text'});
});

test('RM, DPO and PPO: preference keys, rankings as pairs, the chain SFT → RM → PPO, every unmapped setting explained', async () => {
  // the RM trained on an annotation project's rankings (the exact file the run recorded) and a pairs dataset
  const prefs = join(tmp.path, 'annotation.preferences.jsonl');
  writeFileSync(prefs, JSON.stringify({turns: [{role: 'system', content: '你是医生。'}, {role: 'user', content: '胸痛怎么办？'}], candidates: ['立即就医。', '休息一下。', '喝热水。'], tiers: [[0], [1, 2]]}) + '\n');
  const rm = insertRun('rm', {margin: 0.5, centerRewards: 0.01, learningRate: 5e-5, validationFraction: 0.1},
    {datasets: [refs.pairs], sources: [{type: 'annotation', projectId: 'p1', name: '专家排序', rankings: 1, annotators: ['张医生', '李医生'], adjudicated: 0}], inputs: [{path: prefs, role: 'train', content: 'preferences'}]});
  const sftAdapter = await loraFile('sft-adapter');
  const sft = insertRun('sft', {}, {datasets: [refs.dialogue]});
  services.store.training.update(sft, {adapterPath: sftAdapter});
  const ppo = insertRun('ppo', {klTarget: 4, ppoEpochs: 2, batchSize: 8, miniBatches: 2, temperature: 0.9, maxNewTokens: 96, topP: 0.95, gamma: 0.99, normalizeRewards: 1, learningRate: 1e-5},
    {datasets: [refs.dialogue], initAdapter: sftAdapter, sources: [{type: 'reward-model', runId: rm, name: 'rm run', path: join(tmp.path, 'rm.gguf'), sources: []}]});

  const out = join(tmp.path, 'ppo-handoff');
  const result = await writeHandoff(services, {runId: ppo, outDir: out, hfModel: 'Qwen/Qwen2-7B-Instruct', template: 'qwen'});
  assert.deepEqual(result.stages.map((s) => s.kind), ['sft', 'rm', 'ppo'], 'upstream stages first');
  const [sftStage, rmStage, ppoStage] = result.stages.map((s) => parseYaml(readFileSync(join(out, s.yaml), 'utf8')));

  for (const key of COMMON_KEYS) assert.ok(key in rmStage!, `rm YAML has ${key}`);
  for (const [i, y] of [sftStage, rmStage, ppoStage].entries()) checkNames(y!, result.stages[i]!.yaml);
  assert.equal(rmStage!.stage, 'rm');
  const info = JSON.parse(readFileSync(join(out, 'data', 'dataset_info.json'), 'utf8'));
  const rmEntries = String(rmStage!.dataset).split(',');
  assert.equal(rmEntries.length, 2, 'the pairs dataset and the annotation rankings');
  for (const e of rmEntries) assert.equal(info[e].ranking, true, `${e} is a ranking dataset`);
  const annotationEntry = rmEntries.find((e) => e.includes('annotation'))!;
  const pairs = readFileSync(join(out, 'data', info[annotationEntry].file_name), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(pairs.map((p) => [p.chosen, p.rejected]), [['立即就医。', '休息一下。'], ['立即就医。', '喝热水。']], 'a ranking of 3 with a tie gives 2 pairs');
  assert.deepEqual({prompt: pairs[0].prompt, system: pairs[0].system}, {prompt: '胸痛怎么办？', system: '你是医生。'});

  for (const key of [...COMMON_KEYS, 'reward_model', 'reward_model_type', 'ppo_target', 'ppo_epochs', 'ppo_buffer_size', 'adapter_name_or_path', 'ref_model_adapters']) assert.ok(key in ppoStage!, `ppo YAML has ${key}`);
  assert.deepEqual(
    {stage: ppoStage!.stage, target: ppoStage!.ppo_target, epochs: ppoStage!.ppo_epochs, mini: ppoStage!.per_device_train_batch_size, buffer: ppoStage!.ppo_buffer_size, ga: ppoStage!.gradient_accumulation_steps, t: ppoStage!.temperature, p: ppoStage!.top_p, n: ppoStage!.max_new_tokens, norm: ppoStage!.ppo_score_norm, lr: ppoStage!.learning_rate, tpl: ppoStage!.template},
    {stage: 'ppo', target: 4, epochs: 2, mini: 4, buffer: 2, ga: 1, t: 0.9, p: 0.95, n: 96, norm: true, lr: 1e-5, tpl: 'qwen'},
  );
  assert.equal(ppoStage!.reward_model, rmStage!.output_dir, 'PPO reads the RM stage\'s output');
  assert.equal(ppoStage!.adapter_name_or_path, sftStage!.output_dir, 'PPO starts from the SFT stage\'s output');
  assert.equal(ppoStage!.ref_model_adapters, sftStage!.output_dir, 'the SFT adapter is the reference, as in the app');

  const settings = JSON.parse(readFileSync(join(out, 'settings.json'), 'utf8')) as {stage: string; setting: string; llamaFactory: string | null; note: {zh: string; en: string} | null}[];
  const unmapped = (stage: string, setting: string) => settings.find((s) => s.stage.startsWith(stage) && s.setting === setting);
  assert.match(unmapped('rm', 'margin')!.note!.en, /no margin argument: trained with 0 \(the app used 0\.5\)/);
  assert.match(unmapped('rm', 'centerRewards')!.note!.zh, /没有奖励居中项/);
  assert.match(unmapped('ppo', 'gamma')!.note!.en, /TRL's default 1 applies \(the app used 0\.99\)/);
  assert.ok(unmapped('ppo', 'guard-rail klStop'), 'guard-rails are listed');
  assert.ok(settings.every((s) => s.llamaFactory !== null || s.note !== null), 'every setting without a LLaMA-Factory key says what was done');
  const provenance = JSON.parse(readFileSync(join(out, 'provenance.json'), 'utf8'));
  assert.deepEqual(provenance.runs[1].sources.find((s: {type: string}) => s.type === 'annotation').annotators, ['张医生', '李医生']);

  // DPO from an adapter file that no run here produced: exported as PEFT beside the YAML
  const dpo = insertRun('dpo', {beta: 0.2, labelSmoothing: 0.1, steps: 50}, {datasets: [refs.pairs], initAdapter: await loraFile('outside-sft')});
  const dpoOut = join(tmp.path, 'dpo-handoff');
  const dpoResult = await writeHandoff(services, {runId: dpo, outDir: dpoOut, hfModel: 'x/y'});
  const dpoYaml = parseYaml(readFileSync(join(dpoOut, dpoResult.stages[0]!.yaml), 'utf8'));
  for (const key of [...COMMON_KEYS, 'pref_beta', 'pref_loss', 'max_steps']) assert.ok(key in dpoYaml, `dpo YAML has ${key}`);
  checkNames(dpoYaml, 'dpo');
  assert.deepEqual({stage: dpoYaml.stage, beta: dpoYaml.pref_beta, loss: dpoYaml.pref_loss, ls: dpoYaml.dpo_label_smoothing, steps: dpoYaml.max_steps}, {stage: 'dpo', beta: 0.2, loss: 'sigmoid', ls: 0.1, steps: 50});
  assert.ok(existsSync(join(dpoOut, String(dpoYaml.adapter_name_or_path), 'adapter_config.json')), 'the starting adapter is in the package as PEFT');
  assert.equal(dpoYaml.ref_model_adapters, dpoYaml.adapter_name_or_path);
});

test('PPO against a reward-model file no run here produced: exported as PEFT with its value head; prompts from a pairs dataset', async () => {
  const rmFile = join(tmp.path, 'outside-rm.gguf');
  await writeGguf(rmFile, {
    metadata: [['general.type', gguf.string('adapter')], ['general.architecture', gguf.string('llama')], ['adapter.type', gguf.string('lora')], ['adapter.lora.alpha', gguf.f32(4)], ['zhongjing.head', gguf.string('score')]],
    tensors: [
      {name: 'blk.0.attn_q.weight.lora_a', dims: [64, 2], type: 'f32', data: () => [new Float32Array(128).fill(0.5)]},
      {name: 'blk.0.attn_q.weight.lora_b', dims: [2, 64], type: 'f32', data: () => [new Float32Array(128).fill(0.25)]},
      {name: 'zhongjing.score.weight', dims: [64, 1], type: 'f32', data: () => [Float32Array.from({length: 64}, (_, i) => i / 64)]},
    ],
  });
  const ppo = insertRun('ppo', {}, {datasets: [refs.pairs], sources: [{type: 'reward-model', runId: null, name: 'outside rm', path: rmFile, sources: []}]});
  const out = join(tmp.path, 'ppo-outside');
  const result = await writeHandoff(services, {runId: ppo, outDir: out, hfModel: 'a/b'});
  assert.equal(result.stages.length, 1);
  const yaml = parseYaml(readFileSync(join(out, result.stages[0]!.yaml), 'utf8'));
  const rmDir = join(out, String(yaml.reward_model));
  assert.equal(yaml.reward_model_type, 'lora');
  const head = await readSafetensors(join(rmDir, 'value_head.safetensors'));
  assert.deepEqual(head.tensors.get('v_head.summary.weight')!.shape, [1, 64], 'the score head as LLaMA-Factory\'s value head');
  assert.equal(head.tensors.get('v_head.summary.weight')!.data[32], 0.5);
  assert.equal(JSON.parse(readFileSync(join(rmDir, 'adapter_config.json'), 'utf8')).r, 2);
  const info = JSON.parse(readFileSync(join(out, 'data', 'dataset_info.json'), 'utf8'));
  const entry = info[String(yaml.dataset)];
  assert.deepEqual(entry.columns, {prompt: 'prompt', response: 'chosen', system: 'system', history: 'history'}, 'the pairs file read as prompts');
  assert.equal(entry.ranking, undefined);
});

test('zhongjing handoff on the command line', async () => {
  const run = services.store.training.list().find((r) => r.kind === 'ppo' && r.sources.some((src) => src.type === 'reward-model' && src.runId))!;
  const out = join(tmp.path, 'cli-handoff');
  // the CLI opens the same data directory: this process lets it go first
  await services.close();
  closed = true;
  const result = runCli(['handoff', run.name, '--out', out, '--hf-model', 'a/b', '--data-dir', join(tmp.path, 'data')], {env: {ZHONGJING_LANG: 'en'}});
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /FORCE_TORCHRUN=1 llamafactory-cli train 03_ppo_[\w-]+\.yaml/);
  assert.match(result.stdout, /Settings with no LLaMA-Factory equivalent/);
  const json = runCli(['handoff', run.id, '--out', out, '--data-dir', join(tmp.path, 'data'), '--json'], {env: {ZHONGJING_LANG: 'en'}});
  assert.equal(json.status, 0, json.stderr);
  const parsed = JSON.parse(json.stdout) as {stages: {yaml: string}[]};
  assert.ok(existsSync(join(out, parsed.stages.at(-1)!.yaml)), 'the YAML is written');
  const usage = runCli(['handoff'], {env: {ZHONGJING_LANG: 'en'}});
  assert.equal(usage.status, 2);
  assert.match(usage.stderr, /usage: zhongjing handoff/);
});
