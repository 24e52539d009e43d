// The tiny test model in the real engine: node-llama-cpp (llama.cpp, CPU, 1 thread) loads it,
// tokenises Chinese with it and chats with it through its own ChatML template.
import {after, before, describe, test} from 'node:test';
import assert from 'node:assert/strict';
import {mkdtemp, rm} from 'node:fs/promises';
import {tmpdir} from 'node:os';
import {join} from 'node:path';
import {
  ChatMLChatWrapper,
  getLlama,
  JinjaTemplateChatWrapper,
  LlamaChat,
  LlamaLogLevel,
  resolveChatWrapper,
  type ChatHistoryItem,
  type Llama,
  type LlamaModel,
} from 'node-llama-cpp';
import {buildTinyVocabulary, makeTinyModel} from '../../main/node/models/tiny-model.js';

const COMPLAINT = '我头痛三天了，还有点发热。';
const GENERATED_TOKENS = 12;

let dir: string;
let llama: Llama;
let llamaModelPath: string;
let qwenModelPath: string;
const vocab = buildTinyVocabulary();
const id = (piece: string): number => vocab.tokens.indexOf(piece);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'zhongjing-tiny-'));
  llamaModelPath = (await makeTinyModel(join(dir, 'tiny-llama.gguf'))).path;
  qwenModelPath = (await makeTinyModel(join(dir, 'tiny-qwen2.gguf'), {architecture: 'qwen2', weightType: 'f16'})).path;
  llama = await getLlama({gpu: false, build: 'never', logLevel: LlamaLogLevel.error});
});
after(async () => {
  await llama?.dispose();
  await rm(dir, {recursive: true, force: true});
});

function chatTemplateOf(model: LlamaModel): string {
  const template = (model.fileInfo.metadata.tokenizer as {chat_template?: unknown}).chat_template;
  assert.equal(typeof template, 'string');
  return template as string;
}

/** Greedy reply to one user turn; returns the text and how many tokens were generated. */
async function greedyReply(model: LlamaModel, chatWrapper: JinjaTemplateChatWrapper): Promise<{text: string; tokens: number}> {
  const context = await model.createContext({threads: 1, contextSize: 512});
  try {
    const chat = new LlamaChat({contextSequence: context.getSequence(), chatWrapper});
    const history: ChatHistoryItem[] = [
      {type: 'system', text: '你是一位耐心的医生。'},
      {type: 'user', text: COMPLAINT},
      {type: 'model', response: []},
    ];
    let tokens = 0;
    const result = await chat.generateResponse(history, {
      maxTokens: GENERATED_TOKENS,
      temperature: 0,
      onToken: (chunk) => void (tokens += chunk.length),
    });
    chat.dispose();
    return {text: result.response, tokens};
  } finally {
    await context.dispose();
  }
}

describe('tiny llama model in node-llama-cpp', () => {
  let model: LlamaModel;
  before(async () => {
    model = await llama.loadModel({modelPath: llamaModelPath, gpuLayers: 0});
  });
  after(async () => {
    await model?.dispose();
  });

  test('loads with its metadata: context 4096, eos = <|im_end|>, no BOS prepended', async () => {
    assert.equal(model.trainContextSize, 4096);
    assert.equal(model.tokens.eos, id('<|im_end|>'));
    assert.equal(model.tokens.eot, id('<|im_end|>'));
    assert.equal(model.tokens.bos, id('<s>'));
    assert.equal(model.tokens.shouldPrependBosToken, false);
    const context = await model.createContext({threads: 1, contextSize: 256});
    assert.equal(context.contextSize, 256);
    await context.dispose();
  });

  test('tokenize / detokenize round-trips Chinese exactly', () => {
    const tokens = model.tokenize(COMPLAINT);
    assert.equal(model.detokenize(tokens), COMPLAINT);
    // SPM quirk: add_space_prefix puts a lone "▁" first; detokenize drops that leading space.
    assert.equal(tokens[0], id('▁'));
    assert.deepEqual(tokens.slice(1, 4), [id('我'), id('头痛'), id('三天')], 'words merge into one token');
    assert.ok(tokens.every((t) => vocab.types[t] !== 6), 'no byte fallback for known characters');
    // A character outside the vocabulary is spelled in UTF-8 bytes and still comes back whole.
    const rare = '打鼾😀';
    const rareTokens = model.tokenize(rare);
    assert.ok(rareTokens.some((t) => vocab.types[t] === 6));
    assert.equal(model.detokenize(rareTokens), rare);
    // After a special token SPM adds "▁" again, so ChatML text tokenises as <|im_start|> ▁ u s e r.
    const chatml = model.tokenize('<|im_start|>user\n', true);
    assert.deepEqual(chatml.slice(0, 3), [id('<|im_start|>'), id('▁'), id('u')]);
  });

  test('chat: ChatML resolves, the jinja template renders without BOS, greedy output repeats', async () => {
    // node-llama-cpp recognises the template as ChatML, and its ChatML wrapper starts the prompt
    // with BOS even though add_bos_token is false; the model's own jinja template does not.
    assert.ok(resolveChatWrapper(model) instanceof ChatMLChatWrapper);
    const jinja = new JinjaTemplateChatWrapper({template: chatTemplateOf(model)});
    const history: ChatHistoryItem[] = [{type: 'user', text: COMPLAINT}, {type: 'model', response: []}];
    const rendered = jinja.generateContextState({chatHistory: history}).contextText;
    assert.equal(rendered.toString(), `<|im_start|>user\n${COMPLAINT}<|im_end|>\n<|im_start|>assistant\n`);
    assert.equal(rendered.tokenize(model.tokenizer)[0], id('<|im_start|>'));
    const viaChatML = new ChatMLChatWrapper().generateContextState({chatHistory: history}).contextText;
    assert.equal(viaChatML.tokenize(model.tokenizer)[0], id('<s>'));

    const first = await greedyReply(model, jinja);
    const second = await greedyReply(model, jinja);
    assert.ok(first.tokens > 0 && first.text.length > 0, 'the model says something');
    assert.ok(first.tokens <= GENERATED_TOKENS);
    assert.deepEqual(second, first);
  });
});

describe('tiny qwen2 model in node-llama-cpp', () => {
  test('loads (F16 weights, q/k/v biases, SPM vocab) and generates deterministically', async () => {
    const model = await llama.loadModel({modelPath: qwenModelPath, gpuLayers: 0});
    try {
      assert.equal(model.fileInfo.metadata.general.architecture, 'qwen2');
      assert.equal(model.detokenize(model.tokenize(COMPLAINT)), COMPLAINT);
      const jinja = new JinjaTemplateChatWrapper({template: chatTemplateOf(model)});
      const first = await greedyReply(model, jinja);
      const second = await greedyReply(model, jinja);
      assert.ok(first.tokens > 0);
      assert.deepEqual(second, first);
    } finally {
      await model.dispose();
    }
  });
});
