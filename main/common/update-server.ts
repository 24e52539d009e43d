// The update server: a hospital's own intranet server that hosts the installers and their feed
// files (latest-linux.yml, latest.yml, latest-mac.yml). There is none by default, and then
// updates are off: the workstation is offline by design and checks only when a person asks.
//
// Accepted: https://… anywhere; http://… only on a private address (10/8, 172.16/12, 192.168/16,
// 127/8, IPv6 fc00::/7 and ::1, or an intranet host name: one label, or .local .lan .internal
// .intranet .home.arpa), and then with a warning: the feed carries the installers' sha512, but over
// plain http anyone on the network path can swap feed and installer together. Refused: any other
// scheme, credentials in the URL (they would be stored and shown), a query or fragment, http on a
// public address.

import type {LocalisedText} from './errors.js';

export type UpdateServerCheck =
  | {ok: true; /** normalised: ends with "/", the feed files are found below it */ url: string; warning: LocalisedText | null}
  | {ok: false; reason: LocalisedText};

const MAX_LENGTH = 500;

function ipv4(host: string): number[] | null {
  const parts = host.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p))) return null;
  const bytes = parts.map(Number);
  return bytes.every((b) => b <= 255) ? bytes : null;
}

/** A host that is not reachable from the internet: private IPv4/IPv6 ranges, loopback, or an
 * intranet name. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const v4 = ipv4(host);
  if (v4) {
    const [a, b] = v4 as [number, number];
    return a === 10 || a === 127 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168);
  }
  if (host.includes(':')) return host === '::1' || /^f[cd][0-9a-f]{2}:/.test(host);
  if (/^\d+(\.\d+)*$/.test(host)) return false; // a number that is not a dotted quad
  if (!host.includes('.')) return host.length > 0;
  return /\.(local|lan|internal|intranet|home\.arpa)$/.test(host);
}

export function checkUpdateServerUrl(raw: string): UpdateServerCheck {
  const text = raw.trim();
  const refuse = (zh: string, en: string): UpdateServerCheck => ({ok: false, reason: {zh: `更新服务器地址无效：${zh}`, en: `Invalid update server address: ${en}`}});
  if (text.length === 0) return refuse('地址为空。', 'the address is empty.');
  if (text.length > MAX_LENGTH) return refuse(`超过 ${MAX_LENGTH} 个字符。`, `longer than ${MAX_LENGTH} characters.`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return refuse('不是一个网址（例如 https://updates.hospital.local/zhongjing/cpu/）。', 'not a URL (e.g. https://updates.hospital.local/zhongjing/cpu/).');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return refuse('只接受 https://（或内网地址上的 http://）。', 'only https:// (or http:// on a private address) is accepted.');
  if (url.username || url.password) return refuse('地址中不能包含用户名或密码。', 'the address must not contain a user name or password.');
  if (url.search || url.hash) return refuse('地址中不能包含 ? 或 # 部分。', 'the address must not contain a ? or # part.');
  if (!url.hostname) return refuse('缺少主机名。', 'the host name is missing.');
  const normalised = url.href.endsWith('/') ? url.href : `${url.href}/`;
  if (url.protocol === 'https:') return {ok: true, url: normalised, warning: null};
  if (!isPrivateHost(url.hostname)) {
    return refuse(
      `http:// 只允许用于内网地址（${url.hostname} 不是）；公网服务器请使用 https://。`,
      `http:// is allowed only on a private address (${url.hostname} is not); use https:// for a public server.`,
    );
  }
  return {
    ok: true,
    url: normalised,
    warning: {
      zh: '警告：此服务器使用未加密的 http://。同一网络中的其他设备可以同时替换更新清单和安装包；请尽量为更新服务器配置 https://。',
      en: 'Warning: this server uses unencrypted http://. A device on the same network could replace both the update feed and the installer; configure https:// for the update server if you can.',
    },
  };
}

/** electron-updater's generic provider on the configured server, or why there is nothing to check. */
export function updateFeed(serverUrl: string | null): {ok: true; provider: 'generic'; url: string; warning: LocalisedText | null} | {ok: false; reason: LocalisedText} {
  if (serverUrl === null || serverUrl.trim() === '') {
    return {
      ok: false,
      reason: {
        zh: '未设置更新服务器，更新已关闭。医院信息科可在「设置 → 更新服务器」中填写内网更新服务器的地址。',
        en: 'No update server is set, so updates are off. Your IT department can enter the intranet update server in Settings → Update server.',
      },
    };
  }
  const checked = checkUpdateServerUrl(serverUrl);
  return checked.ok ? {ok: true, provider: 'generic', url: checked.url, warning: checked.warning} : checked;
}
