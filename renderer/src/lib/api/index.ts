// Picks the transport once, at start-up. Everything above this file sees only a RendererClient.
import {createHttpClient} from './http';
import {createIpcClient} from './ipc';
import {takeToken} from './token';
import type {RendererClient} from './types';

export type {RendererClient} from './types';

export type ClientChoice = {kind: 'ready'; client: RendererClient} | {kind: 'no-token'};

export function chooseClient(onUnauthorized: () => void): ClientChoice {
  if (window.zhongjing) return {kind: 'ready', client: createIpcClient(window.zhongjing)};
  const token = takeToken();
  if (!token) return {kind: 'no-token'};
  return {kind: 'ready', client: createHttpClient({token, onUnauthorized})};
}
