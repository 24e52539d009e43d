// A small client for OpenAI-compatible endpoints (llama.cpp's llama-server, vLLM, an intranet
// gateway, `zhongjing serve`'s own /v1): the models list for the connection test and a streamed
// chat completion for a consultation's reply. Plain fetch and server-sent events, no SDK, so the
// errors a person sees are ours, in both languages.
//
// Only the standard sampling fields are sent (temperature, top_p, max_tokens, seed): a strict
// gateway refuses fields it does not know, and top_k / min_p / repeat penalty have no standard name.

import {AppError} from '../../common/errors.js';
import type {Sampling} from '../../common/contract.js';
import type {ChatTurn} from '../engine/protocol.js';

export interface EndpointRef {
  name: string;
  baseUrl: string;
  model: string;
}

export interface RemoteResult {
  text: string;
  /** 'eogToken' | 'maxTokens' | 'abort', as the engine's */
  stopReason: string;
  promptTokens: number;
  completionTokens: number;
  tokensPerSecond: number;
}

/** How long to wait for the endpoint to answer at all (headers), before a reply streams. */
const CONNECT_TIMEOUT_MS = 30_000;
const LIST_TIMEOUT_MS = 15_000;

function unreachable(endpoint: EndpointRef, error: unknown): AppError {
  const cause = (error as {cause?: {code?: string; message?: string}} | null)?.cause;
  const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  const timedOut = (error as {name?: string} | null)?.name === 'TimeoutError';
  return new AppError(
    'remote_unreachable',
    timedOut
      ? {
          zh: `远程服务“${endpoint.name}”（${endpoint.baseUrl}）没有在规定时间内响应。请检查地址和网络。`,
          en: `The remote endpoint "${endpoint.name}" (${endpoint.baseUrl}) did not answer in time. Check the address and the network.`,
        }
      : {
          zh: `无法连接远程服务“${endpoint.name}”（${endpoint.baseUrl}）：${why}。请检查地址、端口以及服务是否已启动。`,
          en: `Cannot reach the remote endpoint "${endpoint.name}" (${endpoint.baseUrl}): ${why}. Check the address, the port and that the server is running.`,
        },
    {baseUrl: endpoint.baseUrl, cause: why},
  );
}

async function httpError(endpoint: EndpointRef, response: Response): Promise<AppError> {
  let serverMessage = '';
  try {
    const text = await response.text();
    try {
      const body = JSON.parse(text) as {error?: {message?: unknown} | string; message?: unknown};
      const m = typeof body.error === 'string' ? body.error : (body.error?.message ?? body.message);
      serverMessage = typeof m === 'string' ? m : text;
    } catch {
      serverMessage = text;
    }
  } catch {
    // the body could not be read; the status says enough
  }
  serverMessage = serverMessage.trim().slice(0, 300);
  const status = response.status;
  const said = serverMessage ? `（${serverMessage}）` : '';
  const saidEn = serverMessage ? ` (${serverMessage})` : '';
  const details = {status, serverMessage};
  if (status === 401 || status === 403)
    return new AppError(
      'remote_error',
      {
        zh: `远程服务“${endpoint.name}”拒绝了 API 密钥（HTTP ${status}，未授权）${said}。请检查密钥后重新添加此服务。`,
        en: `The remote endpoint "${endpoint.name}" refused the API key (HTTP ${status}, unauthorised)${saidEn}. Check the key and add the endpoint again.`,
      },
      details,
    );
  if (status === 404)
    return new AppError(
      'remote_error',
      {
        zh: `远程服务“${endpoint.name}”找不到所请求的内容（HTTP 404）${said}。请检查基础地址（通常以 /v1 结尾）和模型名“${endpoint.model}”。`,
        en: `The remote endpoint "${endpoint.name}" has no such resource (HTTP 404)${saidEn}. Check the base URL (usually ending in /v1) and the model name "${endpoint.model}".`,
      },
      details,
    );
  return new AppError(
    'remote_error',
    {
      zh: `远程服务“${endpoint.name}”返回错误（HTTP ${status}）${said}。`,
      en: `The remote endpoint "${endpoint.name}" answered with an error (HTTP ${status})${saidEn}.`,
    },
    details,
  );
}

function headers(key: string | null): Record<string, string> {
  const h: Record<string, string> = {accept: 'application/json'};
  if (key) h.authorization = `Bearer ${key}`;
  return h;
}

/** GET {base}/models: the connection test. `ids` as listed; `answersTo` every name a request's
 * `model` may use (another workstation's `zhongjing serve` also takes a model's name and "default"). */
export async function listModels(endpoint: EndpointRef, key: string | null, signal?: AbortSignal): Promise<{ids: string[]; answersTo: string[]}> {
  let response: Response;
  try {
    const timeout = AbortSignal.timeout(LIST_TIMEOUT_MS);
    response = await fetch(`${endpoint.baseUrl}/models`, {headers: headers(key), signal: signal ? AbortSignal.any([signal, timeout]) : timeout});
  } catch (error) {
    throw unreachable(endpoint, error);
  }
  if (!response.ok) throw await httpError(endpoint, response);
  let body: {data?: {id?: unknown; name?: unknown; owned_by?: unknown}[]};
  try {
    body = (await response.json()) as typeof body;
  } catch {
    throw new AppError('remote_error', {
      zh: `远程服务“${endpoint.name}”的回答不是 OpenAI 兼容的模型列表。请检查基础地址（通常以 /v1 结尾）。`,
      en: `The remote endpoint "${endpoint.name}" did not answer with an OpenAI-compatible model list. Check the base URL (usually ending in /v1).`,
    });
  }
  const data = body.data ?? [];
  const isText = (value: unknown): value is string => typeof value === 'string';
  const ids = data.map((m) => m.id).filter(isText);
  const zhongjing = data.some((m) => m.owned_by === 'zhongjing');
  return {ids, answersTo: zhongjing ? [...ids, ...data.map((m) => m.name).filter(isText), 'default'] : ids};
}

interface StreamChunk {
  choices?: {delta?: {content?: string | null}; finish_reason?: string | null}[];
  usage?: {prompt_tokens?: number; completion_tokens?: number} | null;
  error?: {message?: string} | string;
}

/** POST {base}/chat/completions with stream: true; the text arrives through `onText`. Stopping
 * (the signal) ends it with stopReason 'abort' and the text so far. */
export async function chatStream(
  endpoint: EndpointRef,
  key: string | null,
  request: {systemPrompt: string; turns: ChatTurn[]; sampling: Sampling},
  hooks: {onText: (delta: string) => void; signal: AbortSignal},
): Promise<RemoteResult> {
  const messages = [
    ...(request.systemPrompt.trim() ? [{role: 'system', content: request.systemPrompt}] : []),
    ...request.turns.map((t) => ({role: t.role, content: t.content})),
  ];
  const body = {
    model: endpoint.model,
    messages,
    stream: true,
    stream_options: {include_usage: true},
    temperature: request.sampling.temperature,
    top_p: request.sampling.topP,
    max_tokens: request.sampling.maxTokens,
    ...(request.sampling.seed !== null ? {seed: request.sampling.seed} : {}),
  };
  let text = '';
  let finish = null as string | null;
  let usage = null as StreamChunk['usage'];
  let firstTokenAt = 0;
  const aborted = (): RemoteResult => ({text, stopReason: 'abort', promptTokens: usage?.prompt_tokens ?? 0, completionTokens: usage?.completion_tokens ?? 0, tokensPerSecond: 0});
  if (hooks.signal.aborted) return aborted();

  let response: Response;
  const connect = new AbortController();
  const connectTimer = setTimeout(() => connect.abort(new DOMException('connect timeout', 'TimeoutError')), CONNECT_TIMEOUT_MS);
  try {
    response = await fetch(`${endpoint.baseUrl}/chat/completions`, {
      method: 'POST',
      headers: {...headers(key), 'content-type': 'application/json', accept: 'text/event-stream'},
      body: JSON.stringify(body),
      signal: AbortSignal.any([hooks.signal, connect.signal]),
    });
  } catch (error) {
    if (hooks.signal.aborted) return aborted();
    throw unreachable(endpoint, connect.signal.aborted ? connect.signal.reason : error);
  } finally {
    clearTimeout(connectTimer);
  }
  if (!response.ok) throw await httpError(endpoint, response);
  if (!response.body) throw new AppError('remote_error', {zh: `远程服务“${endpoint.name}”的回答为空。`, en: `The remote endpoint "${endpoint.name}" sent an empty answer.`});

  const decoder = new TextDecoder();
  const reader = response.body.getReader();
  let buffer = '';
  let done = false;
  const handleEvent = (data: string) => {
    if (data === '[DONE]') {
      done = true;
      return;
    }
    let chunk: StreamChunk;
    try {
      chunk = JSON.parse(data) as StreamChunk;
    } catch {
      return; // a comment or keep-alive that is not JSON
    }
    if (chunk.error) {
      const m = typeof chunk.error === 'string' ? chunk.error : (chunk.error.message ?? '');
      throw new AppError('remote_error', {
        zh: `远程服务“${endpoint.name}”在回答中途报错：${m}`,
        en: `The remote endpoint "${endpoint.name}" failed in the middle of the answer: ${m}`,
      });
    }
    if (chunk.usage) usage = chunk.usage;
    const choice = chunk.choices?.[0];
    const delta = choice?.delta?.content;
    if (delta) {
      if (!firstTokenAt) firstTokenAt = Date.now();
      text += delta;
      hooks.onText(delta);
    }
    if (choice?.finish_reason) finish = choice.finish_reason;
  };
  try {
    while (!done) {
      const {value, done: ended} = await reader.read();
      if (ended) break;
      buffer += decoder.decode(value, {stream: true});
      // events are separated by a blank line; each "data:" line of an event is one JSON chunk here
      let newline: number;
      while ((newline = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, newline).replace(/\r$/, '');
        buffer = buffer.slice(newline + 1);
        if (line.startsWith('data:')) handleEvent(line.slice(5).trim());
        if (done) break;
      }
    }
  } catch (error) {
    if (hooks.signal.aborted) return aborted();
    if (error instanceof AppError) throw error;
    throw unreachable(endpoint, error);
  } finally {
    reader.cancel().catch(() => undefined);
  }
  if (hooks.signal.aborted) return aborted();
  const completionTokens = usage?.completion_tokens ?? 0;
  const seconds = firstTokenAt ? (Date.now() - firstTokenAt) / 1000 : 0;
  return {
    text,
    stopReason: finish === 'length' ? 'maxTokens' : 'eogToken',
    promptTokens: usage?.prompt_tokens ?? 0,
    completionTokens,
    tokensPerSecond: seconds > 0 && completionTokens > 0 ? completionTokens / seconds : 0,
  };
}
