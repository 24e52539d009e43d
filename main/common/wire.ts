// What travels on the wire, shared by both transports. A call answers with an envelope rather
// than a thrown error so that an AppError keeps its code and both language texts across the
// IPC structured-clone boundary and across HTTP.

import type {ApiEvent, MethodName} from './contract.js';
import type {ErrorPayload} from './errors.js';

export type CallEnvelope<T = unknown> = {ok: true; result: T} | {ok: false; error: ErrorPayload};

/** The object the Electron preload exposes as `window.zhongjing` (contextBridge). */
export interface PreloadBridge {
  invoke(method: MethodName, input: unknown): Promise<CallEnvelope>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
}

/** IPC channel names: the preload whitelists exactly these. */
export const IPC_INVOKE_CHANNEL = 'zhongjing:invoke';
export const IPC_EVENT_CHANNEL = 'zhongjing:event';

/** HTTP transport of `zhongjing serve`:
 *  POST {base}/api/{method}  body = JSON input, header `Authorization: Bearer <token>`
 *  → 200 CallEnvelope (errors too, except 401 for a bad token and 404 for an unknown method)
 *  WebSocket {base}/api/events?token=<token>  → one JSON ApiEvent per text frame. */
export const HTTP_API_PREFIX = '/api/';
export const HTTP_EVENTS_PATH = '/api/events';
