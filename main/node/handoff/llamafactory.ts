// Hand-off package: a training run of the store (sft, pt, rm, dpo, ppo), written as what a GPU
// cluster running LLaMA-Factory (with DeepSpeed ZeRO-2) needs to train the same stage on a larger
// model — and every stage it starts from that was also trained here (PPO ← RM, SFT; DPO ← SFT).
//
//   OUT/data/…jsonl + data/dataset_info.json   the frozen dataset versions (the datasets export),
//                                              rankings expanded to LLaMA-Factory's pairs
//   OUT/<n>_<kind>_<run>.yaml                  one training YAML per stage, LLaMA-Factory's own
//                                              argument names (stage, finetuning_type, lora_*, …)
//   OUT/ds_z2_config.json                      DeepSpeed ZeRO-2 (LLaMA-Factory's "auto" style)
//   OUT/provenance.json                        data hashes, annotators, config, seed, code
//   OUT/settings.json + README.md              every app setting: its LLaMA-Factory key, or why
//                                              there is none and what was done about it
//
// The app's schedule is a linear warm-up then cosine decay to 10 % of the peak: transformers'
// `cosine_with_min_lr` with min_lr_rate 0.1 is the same curve. A run's datasets are concatenated
// (a mix in the app is already its own dataset version), which is LLaMA-Factory's default
// mix_strategy "concat": exact, so no interleave_probs is needed.

import {createHash} from 'node:crypto';
import {existsSync, readFileSync} from 'node:fs';
import {mkdir, readFile, writeFile} from 'node:fs/promises';
import {basename, join, resolve} from 'node:path';
import {readGgufFileInfo} from 'node-llama-cpp';
import {AppError} from '../../common/errors.js';
import type {PreferenceRecord, TrainingConfig, TrainingKind, TrainingRun} from '../../common/training.js';
import {exportGgufAsPeft, LORA_SITES} from '../adapters/peft.js';
import type {AnnotationService} from '../services/annotation-service.js';
import type {DatasetService} from '../services/dataset-service.js';
import type {ModelService} from '../services/model-service.js';
import type {TrainingService} from '../services/training-service.js';
import type {Store} from '../store/index.js';
import type {TrainingInputFile} from '../training/inputs.js';

/** The minimum learning rate of the app's cosine schedule, as a share of the peak (job.ts). */
const MIN_LR_RATIO = 0.1;
/** TRL PPOConfig defaults that LLaMA-Factory does not expose as arguments. */
const TRL_PPO_DEFAULTS = {gamma: 1, lam: 0.95, cliprange: 0.2, cliprange_value: 0.2, vf_coef: 0.1, init_kl_coef: 0.2, kl_penalty: 'kl (k1)'};

export interface HandoffServices {
  training: TrainingService;
  datasets: DatasetService;
  annotation: AnnotationService;
  models: ModelService;
  store: Store;
}

/** One app setting and what became of it in LLaMA-Factory. */
export interface HandoffSetting {
  stage: string;
  setting: string;
  value: unknown;
  /** the LLaMA-Factory argument(s) it became, or null when there is none */
  llamaFactory: string | null;
  /** what was done when there is no exact equivalent (empty when it maps exactly) */
  note: {zh: string; en: string} | null;
}

export interface HandoffStage {
  runId: string;
  kind: TrainingKind;
  name: string;
  yaml: string;
  outputDir: string;
  args: Record<string, unknown>;
  datasets: string[];
  evalDatasets: string[];
}

export interface HandoffResult {
  dir: string;
  stages: HandoffStage[];
  settings: HandoffSetting[];
  files: string[];
}

type Args = Record<string, unknown>;

/** Writes the hand-off package of `runId` (and of the runs it starts from) into `outDir`. */
export async function writeHandoff(s: HandoffServices, input: {runId: string; outDir: string; hfModel?: string | null; template?: string | null}): Promise<HandoffResult> {
  const dir = resolve(input.outDir);
  const dataDir = join(dir, 'data');
  await mkdir(dataDir, {recursive: true});
  const settings: HandoffSetting[] = [];
  const stages: HandoffStage[] = [];
  const chain = upstreamChain(s, input.runId);
  const first = chain[0]!;
  const baseModel = first.modelId ? s.models.list().find((m) => m.id === first.modelId) ?? null : null;
  const modelName = input.hfModel ?? null;
  const template = input.template ? {name: input.template, source: `--template ${input.template}`, note: null} : (baseModel && existsSync(baseModel.path) ? await templateFor(baseModel.path, baseModel.architecture) : null);
  const general = (setting: string, value: unknown, llamaFactory: string | null, note: {zh: string; en: string} | null) => settings.push({stage: 'all', setting, value, llamaFactory, note});
  general('model', baseModel?.name ?? first.modelName, 'model_name_or_path', modelName
    ? {zh: `使用给定的 Hugging Face 模型 ${modelName}；工作站上的 GGUF（${baseModel?.quantization ?? '?'}）只在本机使用。`, en: `The given Hugging Face model ${modelName} is used; the workstation's GGUF (${baseModel?.quantization ?? '?'}) stays on this machine.`}
    : {zh: '未给出 --hf-model：YAML 中 model_name_or_path 为占位符 REPLACE_WITH_HF_MODEL_ID，运行前请替换。', en: 'No --hf-model given: model_name_or_path is the placeholder REPLACE_WITH_HF_MODEL_ID in the YAML; replace it before running.'});
  general('chat template', template?.source ?? null, 'template', template
    ? template.note
    : {zh: '基座模型不在本机或没有对话模板：template 设为 default，请按模型改正。', en: 'The base model is not on this machine or has no chat template: template is set to default; correct it for the model.'});

  for (const [i, run] of chain.entries()) {
    const stage = await writeStage(s, {run, index: i + 1, dir, dataDir, chain, stages, settings, modelName: modelName ?? 'REPLACE_WITH_HF_MODEL_ID', template: template?.name ?? 'default'});
    stages.push(stage);
  }

  const deepspeed = {
    train_batch_size: 'auto',
    train_micro_batch_size_per_gpu: 'auto',
    gradient_accumulation_steps: 'auto',
    gradient_clipping: 'auto',
    zero_allow_untested_optimizer: true,
    fp16: {enabled: 'auto', loss_scale: 0, loss_scale_window: 1000, initial_scale_power: 16, hysteresis: 2, min_loss_scale: 1},
    bf16: {enabled: 'auto'},
    zero_optimization: {stage: 2, allgather_partitions: true, allgather_bucket_size: 5e8, overlap_comm: true, reduce_scatter: true, reduce_bucket_size: 5e8, contiguous_gradients: true, round_robin_gradients: true},
  };
  const files: string[] = [];
  const write = async (name: string, text: string) => {
    const path = join(dir, name);
    await writeFile(path, text);
    files.push(path);
  };
  await write('ds_z2_config.json', `${JSON.stringify(deepspeed, null, 2)}\n`);
  await write('settings.json', `${JSON.stringify(settings, null, 2)}\n`);
  const dataFiles = await hashDataFiles(dataDir);
  await write('provenance.json', `${JSON.stringify(provenanceOf(s, chain, dataFiles, modelName), null, 2)}\n`);
  await write('README.md', readme(stages, settings, modelName));
  return {dir, stages, settings, files: [...stages.map((st) => join(dir, st.yaml)), ...files]};
}

/** The run and, before it, every run of the store it starts from (its SFT adapter, PPO's reward model), oldest first. */
function upstreamChain(s: HandoffServices, runId: string): TrainingRun[] {
  const seen = new Set<string>();
  const order: TrainingRun[] = [];
  const visit = (id: string) => {
    if (seen.has(id)) return;
    seen.add(id);
    const run = s.training.get(id);
    if (run.initAdapter?.runId) visit(run.initAdapter.runId);
    for (const source of run.sources) if (source.type === 'reward-model' && source.runId) visit(source.runId);
    order.push(run);
  };
  visit(runId);
  return order;
}

async function writeStage(
  s: HandoffServices,
  c: {run: TrainingRun; index: number; dir: string; dataDir: string; chain: TrainingRun[]; stages: HandoffStage[]; settings: HandoffSetting[]; modelName: string; template: string},
): Promise<HandoffStage> {
  const {run} = c;
  const cfg = run.config;
  const stageName = `${run.kind}_${run.id.slice(-8)}`;
  const set = (setting: string, value: unknown, llamaFactory: string | null, note: {zh: string; en: string} | null = null) =>
    c.settings.push({stage: stageName, setting, value, llamaFactory, note});
  const {train, evaluation} = await stageData(s, run, c.dataDir, set);
  const outputDir = `saves/${stageName}`;
  const a: Args = {};
  // ── model
  a.model_name_or_path = c.modelName;
  a.trust_remote_code = true;
  // ── method
  a.stage = run.kind;
  a.do_train = true;
  a.finetuning_type = 'lora';
  a.lora_rank = cfg.rank;
  a.lora_alpha = Math.round(cfg.alpha);
  a.lora_dropout = cfg.dropout;
  a.lora_target = cfg.targets.map((t) => LORA_SITES.find((site) => site.target === t)!.module.split('.')[1]).join(',');
  set('rank', cfg.rank, 'lora_rank');
  set('alpha', cfg.alpha, 'lora_alpha', Number.isInteger(cfg.alpha) ? null : {
    zh: `LLaMA-Factory 的 lora_alpha 是整数：写为 ${Math.round(cfg.alpha)}（本机为 ${cfg.alpha}），缩放比例略有不同。`,
    en: `LLaMA-Factory's lora_alpha is an integer: written as ${Math.round(cfg.alpha)} (the app used ${cfg.alpha}), a slightly different scale.`,
  });
  set('dropout', cfg.dropout, 'lora_dropout');
  set('targets', cfg.targets, 'lora_target');
  const upstream = (runId: string | null | undefined) => (runId ? c.stages.find((st) => st.runId === runId) : undefined);
  if (run.initAdapter) {
    const from = upstream(run.initAdapter.runId);
    let adapterDir: string;
    if (from) adapterDir = from.outputDir;
    else {
      adapterDir = `adapters/init_${run.id.slice(-8)}`;
      await exportGgufAsPeft({adapterPath: run.initAdapter.path, outDir: join(c.dir, adapterDir)});
      set('initAdapter', run.initAdapter.path, 'adapter_name_or_path', {
        zh: `起始适配器不是本工作站的训练运行产生的：已导出为 PEFT（${adapterDir}）。只有当 --hf-model 与工作站的基座是同一个模型时才可用。`,
        en: `The starting adapter was not produced by a run here: exported as PEFT (${adapterDir}). It is only valid when --hf-model is the same model as the workstation's base.`,
      });
    }
    if (run.kind === 'dpo' || run.kind === 'ppo') {
      // the app trains a copy of the SFT adapter and keeps the SFT adapter, frozen, as the reference
      a.adapter_name_or_path = adapterDir;
      a.ref_model = c.modelName;
      a.ref_model_adapters = adapterDir;
      set('reference', 'SFT adapter (frozen)', 'ref_model + ref_model_adapters');
    } else {
      a.adapter_name_or_path = adapterDir;
      if (run.kind === 'rm') {
        a.create_new_adapter = false;
        set('initAdapter (reward model from SFT)', run.initAdapter.path, 'adapter_name_or_path', {
          zh: '奖励模型从 SFT 适配器开始：LLaMA-Factory 继续训练该适配器并加一个新的价值头，与本应用相同。',
          en: 'The reward model starts from the SFT adapter: LLaMA-Factory continues that adapter with a fresh value head, as the app does.',
        });
      }
    }
    if (from) set('initAdapter', run.initAdapter.path, 'adapter_name_or_path', {zh: `由本包中前一阶段 ${from.yaml} 的输出代替。`, en: `Replaced by the output of the earlier stage ${from.yaml} in this package.`});
  }
  // ── dataset
  a.dataset = train.join(',');
  a.dataset_dir = 'data';
  a.template = c.template;
  a.cutoff_len = cfg.maxSequenceLength;
  set('maxSequenceLength', cfg.maxSequenceLength, 'cutoff_len');
  a.overwrite_cache = true;
  a.preprocessing_num_workers = 16;
  if (run.kind === 'sft') {
    a.train_on_prompt = false;
    a.mask_history = false;
    set('loss on every assistant reply, none on the prompt', true, 'train_on_prompt: false, mask_history: false');
  }
  a.packing = run.kind === 'pt';
  set('packing', run.kind === 'pt', 'packing');
  if (evaluation.length) {
    a.eval_dataset = evaluation.join(',');
    set('validation split', 'the datasets\' own', 'eval_dataset');
  } else if (cfg.validationFraction > 0) {
    a.val_size = cfg.validationFraction;
    set('validationFraction', cfg.validationFraction, 'val_size', {
      zh: '本应用按种子固定地抽取验证集，LLaMA-Factory 按自己的 seed 抽取：比例相同，抽到的样本不同。',
      en: 'The app draws its held-out rows with its own seeded split, LLaMA-Factory with its own: the same share, not the same rows.',
    });
  } else set('validationFraction', 0, null, {zh: '不留验证集。', en: 'No held-out set.'});
  // ── output
  a.output_dir = outputDir;
  a.logging_steps = 1;
  a.save_steps = cfg.checkpointEvery > 0 ? cfg.checkpointEvery : 500;
  set('checkpointEvery', cfg.checkpointEvery, 'save_steps', cfg.checkpointEvery > 0 ? null : {zh: '本应用不保存中间检查点（0）；LLaMA-Factory 设为每 500 步。', en: 'The app saves no intermediate checkpoints (0); LLaMA-Factory saves every 500 steps.'});
  a.plot_loss = true;
  a.overwrite_output_dir = true;
  a.report_to = 'none';
  // ── train
  a.per_device_train_batch_size = cfg.batchSize;
  a.gradient_accumulation_steps = cfg.gradientAccumulation;
  set('batchSize', cfg.batchSize, 'per_device_train_batch_size', {
    zh: '每张 GPU 的批量：有效批量 = 批量 × 梯度累积 × GPU 数。要与本机相同的有效批量，请把 gradient_accumulation_steps 除以 GPU 数。',
    en: 'Per GPU: the effective batch is batch × accumulation × GPUs. For the same effective batch as here, divide gradient_accumulation_steps by the number of GPUs.',
  });
  set('gradientAccumulation', cfg.gradientAccumulation, 'gradient_accumulation_steps');
  a.learning_rate = cfg.learningRate;
  set('learningRate', cfg.learningRate, 'learning_rate');
  a.lr_scheduler_type = 'cosine_with_min_lr';
  a.lr_scheduler_kwargs = {min_lr_rate: MIN_LR_RATIO};
  set('schedule (warm-up, cosine to 10 %)', 'cosine', 'lr_scheduler_type: cosine_with_min_lr, lr_scheduler_kwargs.min_lr_rate');
  a.warmup_steps = cfg.warmupSteps;
  set('warmupSteps', cfg.warmupSteps, 'warmup_steps');
  if (cfg.steps !== null) {
    a.max_steps = cfg.steps;
    set('steps', cfg.steps, 'max_steps');
  } else {
    a.num_train_epochs = cfg.epochs;
    set('epochs', cfg.epochs, 'num_train_epochs');
  }
  a.weight_decay = cfg.weightDecay;
  set('weightDecay', cfg.weightDecay, 'weight_decay');
  a.max_grad_norm = cfg.clipGradNorm;
  set('clipGradNorm', cfg.clipGradNorm, 'max_grad_norm');
  set('gradient spike guard (20× the median norm)', 'on', null, {
    zh: 'LLaMA-Factory 没有对应参数：只按 max_grad_norm 裁剪梯度。',
    en: 'No LLaMA-Factory equivalent: gradients are clipped by max_grad_norm only.',
  });
  a.seed = cfg.seed;
  set('seed', cfg.seed, 'seed', {zh: '种子相同，但 GPU 上的数值与取样顺序与本机不同，结果不会逐位相同。', en: 'Same seed, but GPU arithmetic and data order differ from here: results are not bit-identical.'});
  a.bf16 = true;
  set('weights type of the base (GGUF)', 'GGUF', 'bf16', {zh: '在集群上以 bf16 训练 Hugging Face 权重（A100/H100）。', en: 'The Hugging Face weights are trained in bf16 on the cluster (A100/H100).'});
  a.ddp_timeout = 180000000;
  a.deepspeed = 'ds_z2_config.json';
  // ── eval
  if (evaluation.length || cfg.validationFraction > 0) {
    a.per_device_eval_batch_size = cfg.batchSize;
    a.eval_strategy = 'steps';
    a.eval_steps = cfg.evalEvery > 0 ? cfg.evalEvery : 100;
    set('evalEvery', cfg.evalEvery, 'eval_steps');
    if (run.kind !== 'ppo' && a.save_steps !== undefined && (a.save_steps as number) % (a.eval_steps as number) === 0) {
      a.load_best_model_at_end = true;
      a.metric_for_best_model = 'eval_loss';
      set('result = best checkpoint by validation', run.result.step, 'load_best_model_at_end + metric_for_best_model: eval_loss');
    } else {
      set('result = best checkpoint by validation', run.result.step, null, {
        zh: 'load_best_model_at_end 需要 save_steps 是 eval_steps 的整数倍（此处不是，或为 PPO）：请按 trainer_state.json 中最低的 eval_loss 选检查点。',
        en: 'load_best_model_at_end needs save_steps to be a multiple of eval_steps (not the case here, or PPO): pick the checkpoint with the lowest eval_loss in trainer_state.json.',
      });
    }
  }
  // ── the objective's own settings
  await stageSettings(run, c, a, set);
  set('threads', 'this machine', null, {zh: '只与本机 CPU 有关，不导出。', en: 'Only about this machine\'s CPU; not exported.'});
  set('gradientCheckpointing', cfg.gradientCheckpointing ?? 0, 'disable_gradient_checkpointing', {
    zh: '只关乎内存，不改变结果，不导出：LLaMA-Factory 默认开启梯度检查点。',
    en: 'About memory only, not the result; not exported: LLaMA-Factory checkpoints gradients by default.',
  });

  const yamlName = `${String(c.index).padStart(2, '0')}_${stageName}.yaml`;
  await writeFile(join(c.dir, yamlName), toYaml(a, `${run.name} — ${run.kind.toUpperCase()} (zhongjing run ${run.id})`));
  return {runId: run.id, kind: run.kind, name: run.name, yaml: yamlName, outputDir, args: a, datasets: train, evalDatasets: evaluation};
}

async function stageSettings(run: TrainingRun, c: {stages: HandoffStage[]; dir: string; modelName: string}, a: Args, set: (setting: string, value: unknown, lf: string | null, note?: {zh: string; en: string} | null) => void): Promise<void> {
  const cfg: TrainingConfig = run.config;
  if (run.kind === 'rm') {
    set('margin', cfg.margin, null, cfg.margin === 0 ? {zh: '为 0：与 LLaMA-Factory 的成对损失相同。', en: '0: the same as LLaMA-Factory\'s pairwise loss.'} : {zh: `LLaMA-Factory 没有间隔参数：按 0 训练（本机为 ${cfg.margin}）。`, en: `LLaMA-Factory has no margin argument: trained with 0 (the app used ${cfg.margin}).`});
    set('centerRewards', cfg.centerRewards, null, cfg.centerRewards === 0 ? {zh: '为 0：关闭，与 LLaMA-Factory 相同。', en: '0: off, as in LLaMA-Factory.'} : {zh: `LLaMA-Factory 没有奖励居中项：未使用（本机为 ${cfg.centerRewards}）。`, en: `LLaMA-Factory has no reward-centering term: not applied (the app used ${cfg.centerRewards}).`});
  }
  if (run.kind === 'rm' || run.kind === 'dpo') {
    set('ranking weights (each ranking counts once)', '1/pairs', null, {
      zh: '排序已展开为所有“较好/较差”对（并列不成对）；LLaMA-Factory 每一对计一次，所以答案多的排序权重更大。',
      en: 'Rankings are expanded into every better/worse pair (ties give none); LLaMA-Factory counts each pair once, so rankings with more answers weigh more.',
    });
  }
  if (run.kind === 'dpo') {
    a.pref_beta = cfg.beta;
    a.pref_loss = 'sigmoid';
    a.dpo_label_smoothing = cfg.labelSmoothing;
    set('beta', cfg.beta, 'pref_beta');
    set('loss', 'sigmoid', 'pref_loss');
    set('labelSmoothing', cfg.labelSmoothing, 'dpo_label_smoothing');
  }
  if (run.kind === 'ppo') {
    const reward = run.sources.find((src) => src.type === 'reward-model');
    if (reward && reward.type === 'reward-model') {
      const from = reward.runId ? c.stages.find((st) => st.runId === reward.runId) : undefined;
      if (from) {
        a.reward_model = from.outputDir;
        set('reward model', reward.name, 'reward_model', {zh: `由本包中前一阶段 ${from.yaml} 的输出代替。`, en: `Replaced by the output of the earlier stage ${from.yaml} in this package.`});
      } else if (existsSync(reward.path)) {
        a.reward_model = `adapters/reward_${run.id.slice(-8)}`;
        await exportGgufAsPeft({adapterPath: reward.path, outDir: join(c.dir, String(a.reward_model))});
        set('reward model', reward.path, 'reward_model', {
          zh: `奖励模型不是本工作站的训练运行：已导出为 PEFT 适配器加价值头（${a.reward_model}），仅当 --hf-model 与工作站的基座相同时有效。`,
          en: `The reward model is not a run here: exported as a PEFT adapter with its value head (${a.reward_model}); only valid when --hf-model is the workstation's base.`,
        });
      } else {
        a.reward_model = 'REPLACE_WITH_REWARD_MODEL';
        set('reward model', reward.path, 'reward_model', {
          zh: `奖励模型文件已不在本机（${reward.path}）：reward_model 为占位符，请先在集群上训练奖励模型并填入其输出目录。`,
          en: `The reward model file is no longer here (${reward.path}): reward_model is a placeholder; train a reward model on the cluster first and put its output directory there.`,
        });
      }
      a.reward_model_type = 'lora';
    }
    a.ppo_epochs = cfg.ppoEpochs;
    set('ppoEpochs', cfg.ppoEpochs, 'ppo_epochs');
    // a step = a rollout batch of batchSize prompts, split into miniBatches updates
    const mini = Math.max(1, Math.floor(cfg.batchSize / cfg.miniBatches));
    a.per_device_train_batch_size = mini;
    a.gradient_accumulation_steps = 1;
    a.ppo_buffer_size = cfg.miniBatches;
    set('batchSize / miniBatches (rollout batch, updates per pass)', `${cfg.batchSize} / ${cfg.miniBatches}`, 'per_device_train_batch_size × ppo_buffer_size', cfg.batchSize % cfg.miniBatches === 0 ? null : {
      zh: `${cfg.batchSize} 不能被 ${cfg.miniBatches} 整除：每个小批量取 ${mini}。`, en: `${cfg.batchSize} is not a multiple of ${cfg.miniBatches}: mini-batches of ${mini}.`,
    });
    if (cfg.klTarget > 0) {
      a.ppo_target = cfg.klTarget;
      set('klTarget (adaptive KL)', cfg.klTarget, 'ppo_target');
    } else set('klTarget = 0 (fixed KL coefficient)', 0, null, {zh: 'LLaMA-Factory 总是使用自适应 KL 控制器：保留 ppo_target 的默认值 6。', en: 'LLaMA-Factory always uses the adaptive KL controller: ppo_target is left at its default 6.'});
    set('klCoef', cfg.klCoef, null, {zh: `LLaMA-Factory 没有初始 KL 系数参数：使用 TRL 的默认值 ${TRL_PPO_DEFAULTS.init_kl_coef}。`, en: `LLaMA-Factory has no argument for the initial KL coefficient: TRL's default ${TRL_PPO_DEFAULTS.init_kl_coef} applies.`});
    a.ppo_score_norm = cfg.normalizeRewards === 1;
    set('normalizeRewards', cfg.normalizeRewards, 'ppo_score_norm');
    a.ppo_whiten_rewards = false;
    a.do_sample = true;
    a.temperature = cfg.temperature;
    a.top_p = cfg.topP;
    a.max_new_tokens = cfg.maxNewTokens;
    set('temperature', cfg.temperature, 'temperature');
    set('topP', cfg.topP, 'top_p');
    set('maxNewTokens', cfg.maxNewTokens, 'max_new_tokens');
    const trl = (setting: string, value: number, key: keyof typeof TRL_PPO_DEFAULTS) =>
      set(setting, value, null, TRL_PPO_DEFAULTS[key] === value
        ? {zh: `LLaMA-Factory 没有此参数；TRL 的默认值 ${TRL_PPO_DEFAULTS[key]} 与本机相同。`, en: `No LLaMA-Factory argument; TRL's default ${TRL_PPO_DEFAULTS[key]} equals the app's value.`}
        : {zh: `LLaMA-Factory 没有此参数：使用 TRL 的默认值 ${TRL_PPO_DEFAULTS[key]}（本机为 ${value}）。`, en: `No LLaMA-Factory argument: TRL's default ${TRL_PPO_DEFAULTS[key]} applies (the app used ${value}).`});
    trl('gamma', cfg.gamma, 'gamma');
    trl('lam', cfg.lam, 'lam');
    trl('clipRange', cfg.clipRange, 'cliprange');
    trl('clipRangeValue', cfg.clipRangeValue, 'cliprange_value');
    trl('vfCoef', cfg.vfCoef, 'vf_coef');
    set('klEstimator', cfg.klEstimator === 3 ? 'k3' : 'k1', null, cfg.klEstimator === 1 ? {zh: '与 TRL 的默认 kl（k1）相同。', en: 'The same as TRL\'s default kl (k1).'} : {zh: 'LLaMA-Factory 没有此参数：使用 TRL 的默认 kl（k1）。', en: 'No LLaMA-Factory argument: TRL\'s default kl (k1) applies.'});
    set('whitenAdvantages', cfg.whitenAdvantages, null, {zh: 'TRL 总是白化优势值。', en: 'TRL always whitens advantages.'});
    for (const [setting, value] of [['missingEosPenalty', cfg.missingEosPenalty], ['rewardClip', cfg.rewardClip]] as const) {
      set(setting, value, null, {zh: 'LLaMA-Factory 没有此参数：未使用。', en: 'No LLaMA-Factory argument: not applied.'});
    }
    for (const [setting, value] of [['klStop', cfg.klStop], ['rewardDropChecks', cfg.rewardDropChecks], ['minResponseTokens', cfg.minResponseTokens], ['minDistinct2', cfg.minDistinct2]] as const) {
      set(`guard-rail ${setting}`, value, null, {
        zh: 'LLaMA-Factory 没有护栏：不会自动停止。请按 README 用保存的检查点在本机评估（导入 PEFT 后对比）。',
        en: 'LLaMA-Factory has no guard-rails: it never stops by itself. Check saved checkpoints here as the README says (import them as PEFT and compare).',
      });
    }
  }
}

// ───────────── data ─────────────

async function stageData(
  s: HandoffServices,
  run: TrainingRun,
  dataDir: string,
  set: (setting: string, value: unknown, lf: string | null, note?: {zh: string; en: string} | null) => void,
): Promise<{train: string[]; evaluation: string[]}> {
  const train: string[] = [];
  const evaluation: string[] = [];
  const wanted = run.kind === 'rm' || run.kind === 'dpo' ? 'pairs' : run.kind === 'pt' ? 'text' : 'sharegpt';
  for (const d of run.datasets) {
    const {result} = await s.datasets.exportParts({id: d.datasetId, version: d.version, format: 'llamafactory', outDir: dataDir});
    for (const part of result.parts) {
      const entry = Object.entries(result.datasetInfo).find(([, v]) => (v as {file_name?: string}).file_name === basename(part.path))?.[0];
      if (!entry) continue;
      if (run.kind === 'ppo' && part.kind === 'pairs') {
        const prompts = `${entry}_prompts`;
        await addDatasetInfo(dataDir, prompts, {file_name: basename(part.path), columns: {prompt: 'prompt', response: 'chosen', system: 'system', history: 'history'}});
        (part.split === 'validation' ? evaluation : train).push(prompts);
        set(`prompts of ${d.name} v${d.version} (pairs)`, 'pairs', 'dataset', {zh: 'PPO 只用提示：同一文件以 alpaca 格式再登记一次（回答列为 chosen，PPO 不用它）。', en: 'PPO uses prompts only: the same file is listed again as alpaca (response = chosen, unused by PPO).'});
        continue;
      }
      if (part.kind !== wanted) {
        set(`rows of ${d.name} v${d.version} (${part.kind})`, part.kind, null, {zh: `${run.kind} 阶段不使用这类行（本机也不使用）：已导出但未列入 dataset。`, en: `A ${run.kind} stage does not use these rows (nor does the app): exported, not listed in dataset.`});
        continue;
      }
      (part.split === 'validation' ? evaluation : train).push(entry);
    }
  }
  // preference files the run trained on (annotation projects): the exact frozen files when the run recorded them
  const record = readRunInputs(s, run.id);
  const projects = run.sources.filter((src) => src.type === 'annotation');
  const preferenceFiles = record.filter((i) => i.content === 'preferences');
  const groups: {name: string; records: PreferenceRecord[]; role: 'train' | 'validation'}[] = [];
  if (preferenceFiles.length) {
    for (const file of preferenceFiles) {
      const records = readFileSync(file.path, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as PreferenceRecord);
      groups.push({name: basename(file.path).replace(/\.preferences\.jsonl$|\.jsonl$/, ''), records, role: file.role});
    }
  } else {
    for (const p of projects) if (p.type === 'annotation') groups.push({name: `annotation-${p.projectId}`, records: s.annotation.finalPreferences(p.projectId).records, role: 'train'});
  }
  for (const g of groups) {
    const entry = await writePreferenceEntry(dataDir, g.name, g.records, run.kind === 'ppo' ? 'prompts' : 'pairs');
    if (!entry) continue;
    (g.role === 'validation' ? evaluation : train).push(entry);
    set(`annotation rankings (${g.name})`, g.records.length, 'dataset', run.kind === 'ppo'
      ? {zh: 'PPO 只用提示：每条排序写成一条对话，回答为排第一的答案（PPO 不用它）。', en: 'PPO uses prompts only: each ranking is written as a dialogue whose reply is the top answer (unused by PPO).'}
      : {zh: 'K 个答案的排序展开为成对数据（ranking: true）。', en: 'Rankings of K answers are expanded into pairs (ranking: true).'});
  }
  if (!train.length) {
    throw new AppError('validation', {zh: `运行 ${run.name} 没有可导出给 LLaMA-Factory 的训练数据。`, en: `The run ${run.name} has no training data that LLaMA-Factory can read.`});
  }
  return {train, evaluation};
}

function readRunInputs(s: HandoffServices, runId: string): TrainingInputFile[] {
  const index = s.store.training.get(runId);
  if (!index) return [];
  try {
    const record = JSON.parse(readFileSync(join(index.runDir, 'run.json'), 'utf8')) as {config?: {inputs?: TrainingInputFile[]}};
    return (record.config?.inputs ?? []).filter((i) => existsSync(i.path));
  } catch {
    return [];
  }
}

/** System, (user, assistant) history pairs and the last user turn of a ranking's prompt. */
function promptParts(turns: PreferenceRecord['turns']): {system: string; history: [string, string][]; prompt: string} {
  const system = turns[0]?.role === 'system' ? turns[0].content : '';
  const rest = system ? turns.slice(1) : turns;
  const history: [string, string][] = [];
  for (let i = 0; i + 1 < rest.length - 1; i += 2) history.push([rest[i]!.content, rest[i + 1]!.content]);
  return {system, history, prompt: rest.at(-1)?.content ?? ''};
}

/** Writes rankings as LLaMA-Factory pairs (alpaca ranking) or PPO prompts (ShareGPT) and adds the entry to dataset_info.json. */
async function writePreferenceEntry(dataDir: string, name: string, records: PreferenceRecord[], as: 'pairs' | 'prompts'): Promise<string | null> {
  const safe = name.replace(/[^\w.-]+/g, '_');
  const lines: string[] = [];
  for (const r of records) {
    const {system, history, prompt} = promptParts(r.turns);
    if (as === 'prompts') {
      const best = r.tiers[0]?.[0];
      if (best === undefined) continue;
      const conversations = [...history.flatMap(([q, ans]) => [{from: 'human', value: q}, {from: 'gpt', value: ans}]), {from: 'human', value: prompt}, {from: 'gpt', value: r.candidates[best]!}];
      lines.push(JSON.stringify({conversations, system}));
      continue;
    }
    for (let hi = 0; hi < r.tiers.length; hi++) {
      for (let lo = hi + 1; lo < r.tiers.length; lo++) {
        for (const better of r.tiers[hi]!) {
          for (const worse of r.tiers[lo]!) lines.push(JSON.stringify({prompt, chosen: r.candidates[better], rejected: r.candidates[worse], system, history}));
        }
      }
    }
  }
  if (!lines.length) return null;
  const entry = `${safe}_${as}`;
  const file = `${entry}.jsonl`;
  await writeFile(join(dataDir, file), `${lines.join('\n')}\n`);
  await addDatasetInfo(dataDir, entry, as === 'pairs'
    ? {file_name: file, ranking: true, columns: {prompt: 'prompt', chosen: 'chosen', rejected: 'rejected', system: 'system', history: 'history'}}
    : {file_name: file, formatting: 'sharegpt', columns: {messages: 'conversations', system: 'system'}, tags: {role_tag: 'from', content_tag: 'value', user_tag: 'human', assistant_tag: 'gpt', system_tag: 'system'}});
  return entry;
}

async function addDatasetInfo(dataDir: string, entry: string, value: object): Promise<void> {
  const infoPath = join(dataDir, 'dataset_info.json');
  const info = existsSync(infoPath) ? (JSON.parse(await readFile(infoPath, 'utf8')) as Record<string, unknown>) : {};
  info[entry] = value;
  await writeFile(infoPath, `${JSON.stringify(info, null, 2)}\n`);
}

async function hashDataFiles(dataDir: string): Promise<Record<string, string>> {
  const {readdir} = await import('node:fs/promises');
  const out: Record<string, string> = {};
  for (const name of (await readdir(dataDir)).sort()) out[`data/${name}`] = createHash('sha256').update(await readFile(join(dataDir, name))).digest('hex');
  return out;
}

function provenanceOf(s: HandoffServices, chain: TrainingRun[], dataFiles: Record<string, string>, hfModel: string | null) {
  return {
    createdAt: new Date().toISOString(),
    hfModel,
    runs: chain.map((run) => ({
      id: run.id,
      name: run.name,
      kind: run.kind,
      createdAt: run.createdAt,
      baseModel: {name: run.modelName, sha256: run.provenance.baseModelSha256},
      datasets: run.datasets,
      sources: run.sources,
      config: run.config,
      seed: run.config.seed,
      code: run.provenance.codeVersion,
      initAdapter: run.initAdapter,
      appCommand: run.cliCommand,
      state: run.state,
    })),
    files: dataFiles,
  };
}

// ───────────── template, YAML, README ─────────────

async function templateFor(path: string, architecture: string): Promise<{name: string; source: string; note: {zh: string; en: string} | null} | null> {
  let chatTemplate = '';
  try {
    const info = await readGgufFileInfo(path, {logWarnings: false, sourceType: 'filesystem'});
    chatTemplate = String((info.metadata as unknown as {tokenizer?: {chat_template?: unknown}}).tokenizer?.chat_template ?? '');
  } catch {
    return null;
  }
  if (!chatTemplate) return null;
  const known: [RegExp, string][] = [
    [/<\|start_header_id\|>/, 'llama3'],
    [/<reserved_106>/, 'baichuan2'],
    [/\[INST\]/, 'llama2'],
    [/<\|im_start\|>/, architecture === 'qwen2' ? 'qwen' : 'chatml'],
  ];
  const hit = known.find(([re]) => re.test(chatTemplate));
  if (!hit) return {name: 'default', source: 'GGUF chat template (unrecognised)', note: {zh: '无法识别模型的对话模板：template 设为 default，请按模型改正。', en: 'The model\'s chat template is not recognised: template is set to default; correct it for the model.'}};
  return {name: hit[1], source: `GGUF chat template → ${hit[1]}`, note: {zh: `按基座的对话模板选用 ${hit[1]}；若 --hf-model 是另一系列的模型，请改为它的模板。`, en: `Chosen from the base's chat template: ${hit[1]}; if --hf-model is another family, use its template.`}};
}

function yamlValue(v: unknown): string {
  if (typeof v === 'string') return /^[\w./,-]+$/.test(v) && !/^(true|false|null|yes|no|on|off|[-\d.e]+)$/i.test(v) ? v : JSON.stringify(v);
  // PyYAML (YAML 1.1) reads 1e-7 as a string: a float needs a dot in its mantissa
  if (typeof v === 'number') return String(v).replace(/^(-?\d+)e/, '$1.0e');
  if (typeof v === 'boolean') return String(v);
  return JSON.stringify(v); // a flow mapping or sequence is valid YAML
}

const SECTIONS: [string, string[]][] = [
  ['model', ['model_name_or_path', 'adapter_name_or_path', 'trust_remote_code']],
  ['method', ['stage', 'do_train', 'finetuning_type', 'lora_rank', 'lora_alpha', 'lora_dropout', 'lora_target', 'create_new_adapter', 'ref_model', 'ref_model_adapters', 'reward_model', 'reward_model_type', 'pref_beta', 'pref_loss', 'dpo_label_smoothing', 'ppo_epochs', 'ppo_buffer_size', 'ppo_target', 'ppo_score_norm', 'ppo_whiten_rewards', 'deepspeed']],
  ['dataset', ['dataset', 'eval_dataset', 'dataset_dir', 'template', 'cutoff_len', 'train_on_prompt', 'mask_history', 'packing', 'overwrite_cache', 'preprocessing_num_workers']],
  ['output', ['output_dir', 'logging_steps', 'save_steps', 'plot_loss', 'overwrite_output_dir', 'report_to']],
  ['train', ['per_device_train_batch_size', 'gradient_accumulation_steps', 'learning_rate', 'num_train_epochs', 'max_steps', 'lr_scheduler_type', 'lr_scheduler_kwargs', 'warmup_steps', 'weight_decay', 'max_grad_norm', 'seed', 'bf16', 'ddp_timeout']],
  ['generation (PPO rollouts)', ['do_sample', 'temperature', 'top_p', 'max_new_tokens']],
  ['eval', ['val_size', 'per_device_eval_batch_size', 'eval_strategy', 'eval_steps', 'load_best_model_at_end', 'metric_for_best_model']],
];

export function toYaml(args: Args, title: string): string {
  const lines = [`# ${title}`, '# written by zhongjing handoff; argument names are LLaMA-Factory\'s', ''];
  const done = new Set<string>();
  for (const [section, keys] of SECTIONS) {
    const present = keys.filter((k) => args[k] !== undefined);
    if (!present.length) continue;
    lines.push(`### ${section}`);
    for (const k of present) {
      lines.push(`${k}: ${yamlValue(args[k])}`);
      done.add(k);
    }
    lines.push('');
  }
  const rest = Object.keys(args).filter((k) => !done.has(k) && args[k] !== undefined);
  if (rest.length) lines.push('### other', ...rest.map((k) => `${k}: ${yamlValue(args[k])}`), '');
  return lines.join('\n');
}

function readme(stages: HandoffStage[], settings: HandoffSetting[], hfModel: string | null): string {
  const unmapped = settings.filter((st) => st.note);
  return `# Zhongjing → LLaMA-Factory hand-off

Generated by \`zhongjing handoff\`. Base model: ${hfModel ? `\`${hfModel}\`` : '**not given** — replace `REPLACE_WITH_HF_MODEL_ID` in every YAML with the Hugging Face id (or local path) of the base model'}.

## Run

\`\`\`bash
pip install -e "LLaMA-Factory[torch,metrics,deepspeed]"   # once, on the cluster
cd ${'<this folder>'}
${stages.map((st) => `FORCE_TORCHRUN=1 llamafactory-cli train ${st.yaml}   # ${st.kind.toUpperCase()}: ${st.name} → ${st.outputDir}`).join('\n')}
\`\`\`

Stages run in this order: a later stage reads the adapter an earlier stage writes (\`adapter_name_or_path\`, \`ref_model_adapters\`, \`reward_model\`).
Multi-node: add \`NNODES=2 NODE_RANK=0 MASTER_ADDR=… MASTER_PORT=29500\` before \`llamafactory-cli\`.
DeepSpeed ZeRO-2 is configured in \`ds_z2_config.json\` (\`deepspeed:\` in each YAML).

## Back to the workstation

\`\`\`bash
zhongjing adapters import-peft ${stages.at(-1)?.outputDir ?? 'saves/…'} --model <base model registered here> --name "<name>"
\`\`\`

The adapter is converted to a GGUF LoRA, registered with its provenance, and can be used in a consultation or an evaluation.
This works when the workstation's base is the same model as the one trained on the cluster (same layers and shapes; anything else is refused).

## Files

- \`data/\` — the frozen dataset versions in LLaMA-Factory's formats, \`data/dataset_info.json\`
- ${stages.map((st) => `\`${st.yaml}\``).join(', ')} — one training YAML per stage
- \`ds_z2_config.json\` — DeepSpeed ZeRO-2
- \`provenance.json\` — dataset versions and content hashes, annotators, configuration, seed, code version, sha256 of every data file
- \`settings.json\` — every app setting and what it became

## App settings without an exact LLaMA-Factory equivalent

| stage | setting | value | LLaMA-Factory | what was done |
|---|---|---|---|---|
${unmapped.map((st) => `| ${st.stage} | ${st.setting} | ${String(JSON.stringify(st.value)).replace(/\|/g, '\\|')} | ${st.llamaFactory ?? '—'} | ${st.note!.en.replace(/\|/g, '\\|')} / ${st.note!.zh.replace(/\|/g, '\\|')} |`).join('\n')}
`;
}
