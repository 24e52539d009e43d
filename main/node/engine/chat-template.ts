// Which chat template renders a conversation. The model's own jinja template wins whenever the
// GGUF has one: node-llama-cpp's automatic choice maps a ChatML template to its built-in
// ChatMLChatWrapper, which prepends BOS even when the model says add_bos_token=false, so the
// tokens would differ from what the model (and our trainer) sees. Training must call this same
// function so that SFT data is rendered exactly as inference renders it.

import {resolveChatWrapper, type ChatWrapper, type LlamaModel} from 'node-llama-cpp';

export function chatWrapperFor(model: LlamaModel): ChatWrapper {
  const template = (model.fileInfo.metadata as {tokenizer?: {chat_template?: unknown}}).tokenizer?.chat_template;
  if (typeof template === 'string' && template.trim()) {
    try {
      return resolveChatWrapper(model, {type: 'jinjaTemplate', fallbackToOtherWrappersOnJinjaError: true});
    } catch {
      // a template node-llama-cpp's jinja engine cannot run: fall back to the built-in choice
    }
  }
  return resolveChatWrapper(model);
}
