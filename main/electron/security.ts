// Pure security policy of the Electron shell, kept free of Electron imports so it is unit-tested
// under Node (the Electron binary cannot run in CI).

import {join, normalize, sep} from 'node:path';
import type {MethodName} from '../common/contract.js';
import {isMethodName} from '../common/contract.js';

/** The renderer is served from this privileged custom scheme, never from file:// or the web. */
export const APP_SCHEME = 'app';
export const APP_HOST = 'zhongjing';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;

/** Only our own top-level page may call the API: not an iframe, not a navigated-away page. */
export function isTrustedSenderUrl(url: string | undefined | null): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === `${APP_SCHEME}:` && parsed.host === APP_HOST;
  } catch {
    return false;
  }
}

/** What the IPC handler accepts before the contract's schema validates the input itself. */
export function acceptInvoke(senderUrl: string | undefined, method: unknown): method is MethodName {
  return isTrustedSenderUrl(senderUrl) && isMethodName(method);
}

/** Window settings: renderer isolated and sandboxed, no Node, no remote content. */
export function secureWebPreferences(preloadPath: string) {
  return {
    preload: preloadPath,
    contextIsolation: true,
    sandbox: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    webviewTag: false,
    spellcheck: false,
    navigateOnDragDrop: false,
  } as const;
}

/** Resolves a request path under the renderer's build directory, refusing traversal. */
export function rendererFilePath(rendererDir: string, requestUrl: string): string | null {
  let pathname: string;
  try {
    const url = new URL(requestUrl);
    if (url.host !== APP_HOST) return null;
    pathname = decodeURIComponent(url.pathname);
  } catch {
    return null;
  }
  const relative = normalize(pathname).replace(/^([/\\])+/, '') || 'index.html';
  const file = join(rendererDir, relative);
  return file.startsWith(rendererDir + sep) ? file : null;
}
