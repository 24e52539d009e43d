// A deterministic tiny language model for tests: real GGUF structure, real tokenizer, random
// weights. It loads in node-llama-cpp (llama.cpp) like any downloaded model, so every CPU test of
// chat, ranking and training can run against it in milliseconds. No weights can be downloaded
// in this environment, so this file is also the reference the native trainer is checked against.
//
// Shape (defaults): 2 layers, n_embd 64, 4 query heads and 2 KV heads (grouped-query attention,
// so training code must handle n_head ≠ n_head_kv), n_ff 128, context 4096.
// Tokenizer: SentencePiece-style ("llama"): <unk> <s> </s>, 256 byte-fallback tokens, the ChatML
// control tokens, "▁" + printable ASCII, ~370 common and medical Chinese characters with
// punctuation, and a few dozen medical words so the SPM merge path is exercised too.
// Chat: ChatML, eos = <|im_end|>, no BOS (as Qwen/Yi-style ChatML models do).
//
// Same options → byte-identical file: weights come from a seeded mulberry32 stream, and the
// normal-ish samples use only + and × (Irwin–Hall), never Math.log/cos, whose last bits may
// differ between JavaScript engines.

import {statSync} from 'node:fs';
import {mkdir} from 'node:fs/promises';
import {dirname, join} from 'node:path';
import {AppError} from '../../common/errors.js';
import {gguf, writeGguf, type GgufTensor, type GgufValue} from './gguf-writer.js';
import {mulberry32} from '../../common/random.js';

export interface TinyModelOptions {
  /** PRNG seed for the weights (default 1). */
  seed?: number;
  /** 'qwen2' adds q/k/v biases and uses the qwen2 metadata keys and NEOX rope (default 'llama'). */
  architecture?: 'llama' | 'qwen2';
  /** Trained context length written to `<arch>.context_length` (default 4096). */
  contextLength?: number;
  /** Storage of the 2-D weight matrices; norms and biases are always F32 (default 'f32'). */
  weightType?: 'f32' | 'f16';
  /** SPM's leading "▁" on text after the start and after every special token (default true,
   * llama.cpp's SPM default, as in LLaMA-derived Chinese medical models). */
  addSpacePrefix?: boolean;
}

export interface TinyModelResult {
  path: string;
  sha256: string;
  vocabSize: number;
}

export const TINY_MODEL_SHAPE = {
  blockCount: 2,
  embeddingLength: 64,
  headCount: 4,
  headCountKv: 2,
  feedForwardLength: 128,
} as const;

/** The standard ChatML template (as in Qwen2 / HF "chatml"), with add_generation_prompt. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}" +
  "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

/** SentencePiece token types (llama_token_type / GgufMetadataTokenizerTokenType). */
const TOKEN_TYPE = {normal: 1, unknown: 2, control: 3, byte: 6} as const;

// Grammar words and everyday characters first, then the vocabulary of a consultation.
const COMMON_CHARS =
  '我你他她它们的了是不在有和也就都还很吗呢吧啊么什怎这那个一二三四五六七八九十百千两几半天月年周日' +
  '星期次点些多少大小好坏要会能可以没到说看想用吃喝睡做请问谢您该应需时候前后上下里外中每已经再又更最' +
  '太非常比较一直开始现在今明昨早晚午夜起来去回家工作学习生活身体情况如果因为所感觉得觉着过被把给让';
const MEDICAL_CHARS =
  '医院诊所科室护士患病症状疾药物过敏疼痛头发热烧咳嗽痰喉咙鼻涕流冒腹泻胃肠心肺肝肾脾胆血压糖尿高低' +
  '温度检查断治疗服片剂量注射输液手术住急伤口炎感染菌毒抗素维钙铁营养饮食运休息眠失焦虑抑郁精神力' +
  '呼吸困难胸闷短悸晕恶呕吐乏疲劳出汗皮肤疹痒红肿哮喘关节腰背颈肩膝骨折扭眼耳牙齿舌咽经脑卒瘫痪' +
  '癌瘤良性孕妇儿童婴幼老重肥胖消瘦脂固醇酸甲状腺激西针灸推拿草方汤丸散膏煎空禁忌副缓解复慢持续加' +
  '便秘尿频痔疮贫虚寒湿阴阳气脉舌苔咳喘渴饿冷凉烫酸胀麻木刺绞隐约左右侧部位全身局胸腹腿足臂指者脏意建议';
const PUNCTUATION = '，。？！、：；（）“”《》…—';
/** Multi-character pieces; SPM merges them when both halves are adjacent symbols. */
const WORDS = [
  '头痛', '发热', '发烧', '咳嗽', '医生', '患者', '症状', '药物', '过敏', '疼痛', '腹泻', '血压', '高血', '高血压',
  '糖尿', '糖尿病', '心脏', '检查', '诊断', '治疗', '感冒', '恶心', '呕吐', '头晕', '失眠', '胸闷', '呼吸', '休息',
  '饮食', '注意', '建议', '可能', '如果', '需要', '医院', '服用', '一下', '什么', '怎么', '我们', '没有', '已经',
  '时候', '身体', '情况', '感觉', '三天', '几天',
];

interface Vocabulary {
  tokens: string[];
  scores: number[];
  types: number[];
  ids: {unk: number; bos: number; eos: number; imStart: number; imEnd: number};
}

/** Builds the token list. Ids are stable: changing these lists changes every test fixture. */
export function buildTinyVocabulary(): Vocabulary {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const seen = new Set<string>();
  const add = (text: string, type: number, score: number): number => {
    if (seen.has(text)) return tokens.indexOf(text);
    seen.add(text);
    tokens.push(text);
    types.push(type);
    scores.push(score);
    return tokens.length - 1;
  };
  const unk = add('<unk>', TOKEN_TYPE.unknown, 0);
  const bos = add('<s>', TOKEN_TYPE.control, 0);
  add('</s>', TOKEN_TYPE.control, 0);
  // Byte fallback: any character without its own token is spelled as its UTF-8 bytes.
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`, TOKEN_TYPE.byte, 0);
  const imStart = add('<|im_start|>', TOKEN_TYPE.control, 0);
  const imEnd = add('<|im_end|>', TOKEN_TYPE.control, 0);
  // SPM scores are log-probabilities: merges with higher scores win. Words outrank the
  // characters they are made of, longer words outrank shorter ones.
  let rank = 0;
  const piece = (text: string, base: number) => add(text, TOKEN_TYPE.normal, Math.fround(base - rank++ / 1000));
  piece('▁', -2);
  for (let c = 0x21; c <= 0x7e; c++) piece(String.fromCharCode(c), -5);
  for (const ch of [...COMMON_CHARS, ...MEDICAL_CHARS, ...PUNCTUATION]) piece(ch, -5);
  for (const word of WORDS) piece(word, -1 + [...word].length * 0.1);
  return {tokens, scores, types, ids: {unk, bos, eos: imEnd, imStart, imEnd}};
}

/** Writes the tiny model to `outPath` (overwriting it, creating its folder) and returns its checksum. */
export async function makeTinyModel(outPath: string, options: TinyModelOptions = {}): Promise<TinyModelResult> {
  const seed = options.seed ?? 1;
  const arch = options.architecture ?? 'llama';
  const contextLength = options.contextLength ?? 4096;
  const weightType = options.weightType ?? 'f32';
  const addSpacePrefix = options.addSpacePrefix ?? true;
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`seed must be a uint32, got ${seed}`);
  if (!Number.isInteger(contextLength) || contextLength < 16) throw new Error(`bad contextLength ${contextLength}`);

  const vocab = buildTinyVocabulary();
  const {blockCount, embeddingLength: nEmbd, headCount, headCountKv, feedForwardLength: nFf} = TINY_MODEL_SHAPE;
  const headDim = nEmbd / headCount;
  const nEmbdKv = headDim * headCountKv;
  const nVocab = vocab.tokens.length;

  const metadata: Array<readonly [string, GgufValue]> = [
    ['general.architecture', gguf.string(arch)],
    ['general.type', gguf.string('model')],
    ['general.name', gguf.string(`Zhongjing tiny test model (${arch}, seed ${seed})`)],
    ['general.file_type', gguf.u32(weightType === 'f16' ? 1 : 0)], // LLAMA_FTYPE_ALL_F32 / MOSTLY_F16
    [`${arch}.vocab_size`, gguf.u32(nVocab)],
    [`${arch}.context_length`, gguf.u32(contextLength)],
    [`${arch}.embedding_length`, gguf.u32(nEmbd)],
    [`${arch}.block_count`, gguf.u32(blockCount)],
    [`${arch}.feed_forward_length`, gguf.u32(nFf)],
    [`${arch}.attention.head_count`, gguf.u32(headCount)],
    [`${arch}.attention.head_count_kv`, gguf.u32(headCountKv)],
    [`${arch}.attention.layer_norm_rms_epsilon`, gguf.f32(1e-5)],
    // Qwen2 models ship with base 1e6; keeping the real value makes trainers read the key.
    [`${arch}.rope.freq_base`, gguf.f32(arch === 'qwen2' ? 1_000_000 : 10_000)],
    [`${arch}.rope.dimension_count`, gguf.u32(headDim)],
    ['tokenizer.ggml.model', gguf.string('llama')],
    ['tokenizer.ggml.tokens', gguf.strings(vocab.tokens)],
    ['tokenizer.ggml.scores', gguf.f32s(vocab.scores)],
    ['tokenizer.ggml.token_type', gguf.i32s(vocab.types)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(vocab.ids.bos)],
    // eos = <|im_end|>, so a ChatML reply stops at the end of the assistant turn.
    ['tokenizer.ggml.eos_token_id', gguf.u32(vocab.ids.eos)],
    ['tokenizer.ggml.unknown_token_id', gguf.u32(vocab.ids.unk)],
    ['tokenizer.ggml.padding_token_id', gguf.u32(vocab.ids.unk)],
    // ChatML prompts start with <|im_start|>, never with BOS.
    ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ['tokenizer.ggml.add_eos_token', gguf.bool(false)],
    ['tokenizer.ggml.add_space_prefix', gguf.bool(addSpacePrefix)],
    ['tokenizer.chat_template', gguf.string(CHATML_TEMPLATE)],
  ];

  // Tensor shapes are in ggml order: [n_in, n_out] for a matrix that maps n_in → n_out.
  const random = normalish(seed);
  const matrix = (name: string, nIn: number, nOut: number): GgufTensor => ({
    name,
    dims: [nIn, nOut],
    type: weightType,
    data: () => [random.fill(new Float32Array(nIn * nOut), 0.02)],
  });
  const ones = (name: string, n: number): GgufTensor => ({name, dims: [n], type: 'f32', data: () => [new Float32Array(n).fill(1)]});
  const bias = (name: string, n: number): GgufTensor => ({name, dims: [n], type: 'f32', data: () => [random.fill(new Float32Array(n), 0.02)]});

  const tensors: GgufTensor[] = [matrix('token_embd.weight', nEmbd, nVocab)];
  for (let layer = 0; layer < blockCount; layer++) {
    const blk = `blk.${layer}`;
    tensors.push(ones(`${blk}.attn_norm.weight`, nEmbd));
    tensors.push(matrix(`${blk}.attn_q.weight`, nEmbd, nEmbd));
    tensors.push(matrix(`${blk}.attn_k.weight`, nEmbd, nEmbdKv));
    tensors.push(matrix(`${blk}.attn_v.weight`, nEmbd, nEmbdKv));
    if (arch === 'qwen2') {
      tensors.push(bias(`${blk}.attn_q.bias`, nEmbd));
      tensors.push(bias(`${blk}.attn_k.bias`, nEmbdKv));
      tensors.push(bias(`${blk}.attn_v.bias`, nEmbdKv));
    }
    tensors.push(matrix(`${blk}.attn_output.weight`, nEmbd, nEmbd));
    tensors.push(ones(`${blk}.ffn_norm.weight`, nEmbd));
    tensors.push(matrix(`${blk}.ffn_gate.weight`, nEmbd, nFf));
    tensors.push(matrix(`${blk}.ffn_up.weight`, nEmbd, nFf));
    tensors.push(matrix(`${blk}.ffn_down.weight`, nFf, nEmbd));
  }
  tensors.push(ones('output_norm.weight', nEmbd));
  // An untied output head, as in LLaMA-7B and Qwen2-7B, so LoRA on `output` can be tested.
  tensors.push(matrix('output.weight', nEmbd, nVocab));

  // The writer calls data() in tensor order, so the PRNG stream is consumed deterministically.
  checkOutputPath(outPath);
  try {
    await mkdir(dirname(outPath), {recursive: true});
    const written = await writeGguf(outPath, {metadata, tensors, alignment: 32});
    return {path: outPath, sha256: written.sha256, vocabSize: nVocab};
  } catch (error) {
    throw cannotWrite(outPath, error);
  }
}

/** The output must name a file: an existing directory is refused before anything is written
 * (the writer would only fail at its final rename, with a raw EISDIR). */
function checkOutputPath(outPath: string): void {
  let stats;
  try {
    stats = statSync(outPath);
  } catch {
    return; // a new file
  }
  if (stats.isDirectory())
    throw new AppError('validation', {
      zh: `输出路径是一个已有的目录：${outPath}。请给出文件名，例如 ${join(outPath, 'tiny.gguf')}`,
      en: `The output path is an existing directory: ${outPath}. Give a file name, e.g. ${join(outPath, 'tiny.gguf')}`,
    });
  if (!stats.isFile())
    throw new AppError('validation', {zh: `输出路径不是普通文件：${outPath}`, en: `The output path is not a regular file: ${outPath}`});
}

/** The file system's reason, in words, instead of a raw errno message. */
function cannotWrite(outPath: string, error: unknown): AppError {
  const code = (error as NodeJS.ErrnoException)?.code;
  const reasons: Record<string, {zh: string; en: string}> = {
    EACCES: {zh: '没有写入权限', en: 'permission denied'},
    EPERM: {zh: '没有写入权限', en: 'permission denied'},
    EROFS: {zh: '文件系统是只读的', en: 'the file system is read-only'},
    ENOSPC: {zh: '磁盘空间不足', en: 'the disk is full'},
    ENOTDIR: {zh: '路径中的某一级不是目录', en: 'a part of the path is not a directory'},
    EEXIST: {zh: '路径中的某一级已作为文件存在', en: 'a part of the path exists as a file'},
    EISDIR: {zh: '这是一个目录', en: 'it is a directory'},
    ENOENT: {zh: '无法在这个位置创建文件', en: 'a file cannot be created there'},
  };
  const reason = (code && reasons[code]) || {zh: (error as Error)?.message ?? String(error), en: (error as Error)?.message ?? String(error)};
  return new AppError('io', {zh: `无法写入 ${outPath}：${reason.zh}`, en: `Cannot write ${outPath}: ${reason.en}`});
}


/** Approximately normal samples: the sum of 4 uniforms (variance 1/3) scaled to unit variance. */
function normalish(seed: number): {fill: (target: Float32Array, std: number) => Float32Array} {
  const uniform = mulberry32(seed);
  const unitScale = Math.sqrt(3); // exact per IEEE 754, identical everywhere
  return {
    fill(target, std) {
      for (let i = 0; i < target.length; i++) {
        const sum = uniform() + uniform() + uniform() + uniform() - 2;
        target[i] = sum * unitScale * std;
      }
      return target;
    },
  };
}

