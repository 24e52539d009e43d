// `zhongjing`: the headless face of the workstation (serve, chat, models; data, train, annotate
// and eval arrive with their issues). Every command takes --data-dir and honours
// ZHONGJING_DATA_DIR; errors are one line on stderr and a non-zero exit.

import {APP_VERSION} from '../node/services/index.js';
import {fail, say} from './context.js';
import type {LocalisedText} from '../common/errors.js';
import {chatCommand, USAGE as CHAT_USAGE} from './commands/chat.js';
import {modelsCommand, USAGE as MODELS_USAGE} from './commands/models.js';
import {serveCommand, USAGE as SERVE_USAGE} from './commands/serve.js';
import {dataCommand, USAGE as DATA_USAGE} from './commands/data.js';
import {annotateCommand, USAGE as ANNOTATE_USAGE} from './commands/annotate.js';
import {trainCommand, TRAIN_USAGE} from './commands/train.js';
import {rewardCommand, USAGE as REWARD_USAGE} from './commands/reward.js';
import {storeCommand, USAGE as STORE_USAGE} from './commands/store.js';
import {adaptersCommand, USAGE as ADAPTERS_USAGE} from './commands/adapters.js';
import {handoffCommand, USAGE as HANDOFF_USAGE} from './commands/handoff.js';
import {evalCommand, USAGE as EVAL_USAGE} from './commands/eval.js';

const HELP = {
  zh: `仲景工作站 ${APP_VERSION} —— 离线中文医学大模型工作站

命令：
  serve [--data-dir 目录] [--port 端口] [--model 模型] [--allow-dir 目录]... [--open]   启动界面与 API（仅 127.0.0.1，需令牌）
  chat --model 模型 [--adapter A.gguf]... [--system 提示词] [--temperature T] [--max-tokens N] [--seed N] [--json] "消息"
  models add 路径.gguf [--name 名称] | list [--json] | inspect 路径.gguf | make-tiny 输出.gguf [--arch llama|qwen2]
  data import 文件 [--format 格式] [--name 名称] [--no-deid] [--strict] [--json] | list | show 名称 | mix … | export 名称 --format 格式 输出目录
  annotate import 文件... | export --format pairs|pairs-trl|ranking|corrections|package 输出 | stats [--json]
  train sft|pt|rm|dpo|ppo --model 模型 --data 数据集、标注项目或文件[,…] --out 适配器.gguf [--steps N | --epochs E] [--json] | train --resume 运行ID
  reward score --rm 奖励模型 --model 模型 < 答案.jsonl        用奖励模型给答案打分
  eval import 文件 | run --name 评测 --data 数据集 --contestant … --contestant … | judge 评测 --judge-model 模型 | report 评测 [--html 文件] [--csv 文件]   盲评对比评测
  store check | backup [--out 文件] | restore [备份文件 | --latest]   检查、备份、恢复数据库
  adapters import-peft 目录 --model 基座 [--name 名称] | export-peft 适配器.gguf 输出目录 [--base-id HF模型ID]   PEFT LoRA 双向转换
  handoff 运行ID --out 目录 [--hf-model HF模型ID]   为 LLaMA-Factory（GPU 集群）写交接包

所有命令都接受 --data-dir，也读取环境变量 ZHONGJING_DATA_DIR；zhongjing 命令 --help 显示该命令的全部选项。`,
  en: `Zhongjing Workstation ${APP_VERSION} — offline workstation for Chinese medical LLMs

Commands:
  serve [--data-dir DIR] [--port PORT] [--model M] [--allow-dir DIR]... [--open]   serve the UI and API (127.0.0.1 only, token required)
  chat --model M [--adapter A.gguf]... [--system S] [--temperature T] [--max-tokens N] [--seed N] [--json] "message"
  models add PATH.gguf [--name NAME] | list [--json] | inspect PATH.gguf | make-tiny OUT.gguf [--arch llama|qwen2]
  data import FILE [--format F] [--name N] [--no-deid] [--strict] [--json] | list | show NAME | mix … | export NAME --format F OUT_DIR
  annotate import FILE... | export --format pairs|pairs-trl|ranking|corrections|package OUT | stats [--json]
  train sft|pt|rm|dpo|ppo --model M --data DATASET_PROJECT_OR_FILE[,…] --out ADAPTER.gguf [--steps N | --epochs E] [--json] | train --resume RUN_ID
  reward score --rm RM --model M < answers.jsonl        score answers with a reward model
  eval import FILE | run --name RUN --data DATASET --contestant … --contestant … | judge RUN --judge-model M | report RUN [--html F] [--csv F]   blind pairwise evaluation
  store check | backup [--out FILE] | restore [BACKUP | --latest]   check, back up, restore the database
  adapters import-peft DIR --model BASE [--name N] | export-peft ADAPTER.gguf OUT_DIR [--base-id HF_ID]   PEFT LoRA both ways
  handoff RUN_ID --out DIR [--hf-model HF_ID]   write a LLaMA-Factory hand-off package (GPU cluster)

Every command takes --data-dir and honours ZHONGJING_DATA_DIR; zhongjing COMMAND --help shows all of its options.`,
};

/** Each command and its own usage text (what `zhongjing <command> --help` prints). */
const commands: Record<string, {run: (argv: string[]) => Promise<void>; usage: LocalisedText}> = {
  serve: {run: serveCommand, usage: SERVE_USAGE},
  chat: {run: chatCommand, usage: CHAT_USAGE},
  models: {run: modelsCommand, usage: MODELS_USAGE},
  data: {run: dataCommand, usage: DATA_USAGE},
  annotate: {run: annotateCommand, usage: ANNOTATE_USAGE},
  eval: {run: evalCommand, usage: EVAL_USAGE},
  train: {run: trainCommand, usage: TRAIN_USAGE},
  reward: {run: rewardCommand, usage: REWARD_USAGE},
  adapters: {run: adaptersCommand, usage: ADAPTERS_USAGE},
  store: {run: storeCommand, usage: STORE_USAGE},
  handoff: {run: handoffCommand, usage: HANDOFF_USAGE},
};

export async function main(argv: string[]): Promise<void> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${say(HELP)}\n`);
    return;
  }
  if (name === '--version' || name === '-v') {
    process.stdout.write(`${APP_VERSION}\n`);
    return;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`zhongjing: ${say({zh: `未知命令“${name}”。运行 zhongjing --help 查看用法。`, en: `unknown command "${name}". Run zhongjing --help.`})}\n`);
    process.exit(2);
  }
  // `--help` anywhere, or a lone `-h` (a chat message may itself be "-h" only when it is not alone)
  if (rest.includes('--help') || (rest.length === 1 && rest[0] === '-h')) {
    process.stdout.write(`${say(command.usage)}\n`);
    return;
  }
  try {
    await command.run(rest);
  } catch (error) {
    fail(error);
  }
}
