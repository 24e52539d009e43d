// The base URL of an OpenAI-compatible endpoint (llama-server, vLLM, an intranet gateway), e.g.
// http://10.0.0.5:8000/v1. Accepted: http:// or https:// with a host; stored without a trailing
// "/" so `${base}/models` and `${base}/chat/completions` are the endpoint's paths. Refused: any
// other scheme, credentials in the URL (the key belongs in the keychain, not in the store), a
// query or fragment.

import type {LocalisedText} from './errors.js';

export type RemoteUrlCheck = {ok: true; url: string} | {ok: false; reason: LocalisedText};

export function checkRemoteBaseUrl(value: string): RemoteUrlCheck {
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return {ok: false, reason: {zh: `不是有效的网址：${text}`, en: `Not a valid URL: ${text}`}};
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    return {ok: false, reason: {zh: '地址必须以 http:// 或 https:// 开头。', en: 'The address must start with http:// or https://.'}};
  if (!url.hostname) return {ok: false, reason: {zh: '地址缺少主机名。', en: 'The address has no host name.'}};
  if (url.username || url.password)
    return {
      ok: false,
      reason: {zh: '地址中不能包含用户名或密码；请把密钥填在“API 密钥”一栏。', en: 'The address must not contain a user name or password; put the key in the API key field.'},
    };
  if (url.search || url.hash || text.includes('?') || text.includes('#'))
    return {ok: false, reason: {zh: '地址中不能包含查询参数（?）或片段（#）。', en: 'The address must not contain a query (?) or fragment (#).'}};
  return {ok: true, url: `${url.origin}${url.pathname.replace(/\/+$/, '')}`};
}
