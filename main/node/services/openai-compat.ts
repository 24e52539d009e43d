// An OpenAI-compatible face of the workstation's models, for `zhongjing serve`: other tools, other
// workstations and our own judge / remote-contestant clients can use a model here with any OpenAI
// client. GET /v1/models lists the registered base models; POST /v1/chat/completions answers with
// the engine (the same process and settings as a consultation), streamed as server-sent events or
// whole. The transport (loopback only, the same token as Bearer, Host checks) is serve's.
//
// Differences from OpenAI, on purpose: `model` is a registered model's id or name ("default" = the
// default model); a non-standard `adapters` field names registered LoRA adapters to apply; one
// choice only (n = 1); no tools, logprobs or images.

import {z} from 'zod';
import {DEFAULT_SAMPLING, type Sampling} from '../../common/contract.js';
import {AppError} from '../../common/errors.js';
import type {ChatTurn, GenerateResult} from '../engine/protocol.js';
import type {Services} from './index.js';

const contentSchema = z.union([
  z.string(),
  z.array(z.object({type: z.literal('text'), text: z.string()}).passthrough()).transform((parts) => parts.map((p) => p.text).join('')),
]);

const requestSchema = z.object({
  model: z.string().min(1).max(300),
  messages: z
    .array(z.object({role: z.enum(['system', 'developer', 'user', 'assistant']), content: contentSchema.nullable().optional()}).passthrough())
    .min(1)
    .max(400),
  stream: z.boolean().optional(),
  temperature: z.number().min(0).max(2).optional(),
  top_p: z.number().min(0).max(1).optional(),
  max_tokens: z.number().int().min(1).max(32_768).optional(),
  max_completion_tokens: z.number().int().min(1).max(32_768).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  n: z.literal(1).optional(),
  adapters: z.array(z.string().min(1).max(300)).max(8).optional(),
}).passthrough();

export type ChatCompletionRequest = z.infer<typeof requestSchema>;

/** An error in OpenAI's shape, with the HTTP status to send it with. */
export class OpenAiError extends Error {
  constructor(readonly status: number, message: string, readonly type: string, readonly code: string | null = null) {
    super(message);
  }
  body(): object {
    return {error: {message: this.message, type: this.type, param: null, code: this.code}};
  }
}

export interface OpenAiCompat {
  models(): object;
  /** Parses and answers; `onDelta` (streaming) receives the text as it is generated. */
  complete(raw: unknown, hooks: {onDelta?: (text: string) => void; /** the model id answering, before any delta */ onModel?: (modelName: string) => void; signal?: AbortSignal}): Promise<{request: ChatCompletionRequest; modelName: string; result: GenerateResult}>;
}

export function openAiCompat(services: Services): OpenAiCompat {
  const resolve = (ref: string, kind: 'base' | 'adapter') => {
    const models = services.models.list();
    const settings = services.store.settings.get();
    const found = ref === 'default' && kind === 'base' ? models.find((m) => m.id === settings.defaultModelId) : models.find((m) => m.id === ref || m.name === ref);
    if (!found || found.kind !== kind || found.missing)
      throw new OpenAiError(404, `The ${kind === 'base' ? 'model' : 'adapter'} '${ref}' does not exist here (GET /v1/models lists the models).`, 'invalid_request_error', 'model_not_found');
    return found;
  };
  return {
    models() {
      const data = services.models
        .list()
        .filter((m) => m.kind === 'base' && !m.missing)
        .map((m) => ({id: m.id, object: 'model', created: Math.floor(Date.parse(m.addedAt) / 1000), owned_by: 'zhongjing', name: m.name}));
      return {object: 'list', data};
    },
    async complete(raw, hooks) {
      const parsed = requestSchema.safeParse(raw);
      if (!parsed.success) throw new OpenAiError(400, `Invalid request: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; ')}`, 'invalid_request_error');
      const request = parsed.data;
      const model = resolve(request.model, 'base');
      const adapters = (request.adapters ?? []).map((a) => resolve(a, 'adapter'));
      hooks.onModel?.(model.id);
      const system = request.messages.filter((m) => m.role === 'system' || m.role === 'developer').map((m) => m.content ?? '').join('\n');
      const turns: ChatTurn[] = [];
      for (const m of request.messages) {
        if (m.role !== 'user' && m.role !== 'assistant') continue;
        const last = turns.at(-1);
        if (last && last.role === m.role) last.content += `\n${m.content ?? ''}`;
        else turns.push({role: m.role, content: m.content ?? ''});
      }
      if (turns.at(-1)?.role !== 'user') throw new OpenAiError(400, 'The last message must come from the user.', 'invalid_request_error');
      const sampling: Sampling = {
        ...DEFAULT_SAMPLING,
        ...(request.temperature !== undefined ? {temperature: request.temperature} : {}),
        ...(request.top_p !== undefined ? {topP: request.top_p} : {}),
        maxTokens: request.max_completion_tokens ?? request.max_tokens ?? DEFAULT_SAMPLING.maxTokens,
        seed: request.seed ?? null,
      };
      try {
        const result = await services.engine.generate(
          {modelPath: model.path, gpuLayers: model.gpuLayers, adapters: adapters.map((a) => ({path: a.path, scale: 1})), systemPrompt: system, turns, sampling},
          {onText: hooks.onDelta, signal: hooks.signal},
        );
        return {request, modelName: model.id, result};
      } catch (error) {
        if (error instanceof AppError) {
          const status = error.code === 'context_overflow' || error.code === 'validation' ? 400 : error.code === 'model_missing' || error.code === 'model_invalid' ? 404 : 500;
          throw new OpenAiError(status, error.localised.en, status === 500 ? 'server_error' : 'invalid_request_error', error.code);
        }
        throw error;
      }
    },
  };
}

/** OpenAI's finish reasons from the engine's stop reason. */
export function finishReason(stopReason: string): 'stop' | 'length' {
  return stopReason === 'maxTokens' ? 'length' : 'stop';
}
