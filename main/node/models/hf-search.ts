// Search of the configured Hugging Face endpoint (or a mirror) for GGUF repositories. The app is
// offline by design: this runs only when the person presses 搜索, and every failure says what
// was asked of which endpoint and why it did not answer.

import type {HfSearchResult} from '../../common/contract.js';
import {AppError} from '../../common/errors.js';
import {endpointBase} from './download.js';

const TIMEOUT_MS = 15_000;
const LIMIT = 20;

function unreachable(endpoint: string, zh: string, en: string): AppError {
  return new AppError('io', {
    zh: `无法搜索 Hugging Face 端点 ${endpoint}：${zh}。本应用默认离线；请检查网络，或在“设置”中改用可访问的镜像。`,
    en: `Could not search the Hugging Face endpoint ${endpoint}: ${en}. The app is offline by default; check the network, or set a reachable mirror in Settings.`,
  });
}

/** GET <endpoint>/api/models?search=…&filter=gguf&full=true: repositories with their .gguf files. */
export async function searchHf(hfEndpoint: string, query: string, fetchImpl: typeof fetch = fetch): Promise<HfSearchResult> {
  const endpoint = endpointBase(hfEndpoint);
  const url = `${endpoint}/api/models?${new URLSearchParams({search: query, filter: 'gguf', full: 'true', limit: String(LIMIT)})}`;
  let response: Response;
  try {
    response = await fetchImpl(url, {signal: AbortSignal.timeout(TIMEOUT_MS), headers: {accept: 'application/json'}});
  } catch (error) {
    const timedOut = (error as Error).name === 'TimeoutError';
    const cause = ((error as {cause?: {code?: string; message?: string}}).cause?.code ?? (error as Error).message) || 'unknown';
    throw timedOut
      ? unreachable(endpoint, `${TIMEOUT_MS / 1000} 秒内没有应答`, `no answer within ${TIMEOUT_MS / 1000} s`)
      : unreachable(endpoint, `连接失败（${cause}）`, `connection failed (${cause})`);
  }
  if (!response.ok) throw unreachable(endpoint, `服务器答复 HTTP ${response.status}`, `the server answered HTTP ${response.status}`);
  let body: unknown;
  try {
    body = await response.json();
  } catch {
    throw unreachable(endpoint, '答复不是 JSON（这可能不是 Hugging Face 的 API）', 'the answer is not JSON (this may not be a Hugging Face API)');
  }
  if (!Array.isArray(body)) throw unreachable(endpoint, '答复格式不对', 'the answer has an unexpected shape');
  const repos: HfSearchResult['repos'] = [];
  for (const item of body.slice(0, LIMIT) as Record<string, unknown>[]) {
    const repo = typeof item?.id === 'string' ? item.id : typeof item?.modelId === 'string' ? item.modelId : null;
    if (!repo || !/^[\w.-]+\/[\w.-]+$/.test(repo)) continue;
    const siblings = Array.isArray(item.siblings) ? (item.siblings as {rfilename?: unknown}[]) : [];
    const files = siblings
      .map((s) => s?.rfilename)
      .filter((f): f is string => typeof f === 'string' && /\.gguf$/i.test(f))
      .slice(0, 200);
    repos.push({
      repo,
      downloads: typeof item.downloads === 'number' ? item.downloads : null,
      likes: typeof item.likes === 'number' ? item.likes : null,
      files,
    });
  }
  return {endpoint, repos};
}
