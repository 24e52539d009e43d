// Transport (b): `zhongjing serve` over HTTP. Calls are POST /api/<method> with a JSON body and
// the bearer token; every answer (errors too) is a CallEnvelope, except 401 for a bad token.
// Events come over one WebSocket on the same origin.
import type {ApiEvent, MethodInput, MethodName, MethodOutput} from '../../../../main/common/contract';
import {AppError} from '../../../../main/common/errors';
import {bothLanguages} from '../i18n';
import {UNREACHABLE} from '../errors';
import {unwrapEnvelope} from './envelope';
import {EventSocket} from './event-socket';
import type {RendererClient} from './types';
import {HTTP_API_PREFIX, HTTP_EVENTS_PATH} from './wire-paths';

export interface HttpClientOptions {
  token: string;
  /** called on any 401, so the app can replace itself with the "token missing" page */
  onUnauthorized: () => void;
}

export function createHttpClient({token, onUnauthorized}: HttpClientOptions): RendererClient {
  const listeners = new Set<(event: ApiEvent) => void>();
  const resyncListeners = new Set<() => void>();
  const connectionListeners = new Set<(connected: boolean) => void>();

  const scheme = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const eventsUrl = `${scheme}//${window.location.host}${HTTP_EVENTS_PATH}?token=${encodeURIComponent(token)}`;
  const socket = new EventSocket(
    eventsUrl,
    (event) => {
      for (const listener of listeners) listener(event);
    },
    () => {
      for (const listener of resyncListeners) listener();
    },
    (connected) => {
      for (const listener of connectionListeners) listener(connected);
    },
  );

  return {
    async call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
      let response: Response;
      try {
        response = await fetch(HTTP_API_PREFIX + method, {
          method: 'POST',
          headers: {'Content-Type': 'application/json', Authorization: `Bearer ${token}`},
          body: JSON.stringify(input ?? {}),
          cache: 'no-store',
        });
      } catch {
        throw new AppError('io', bothLanguages('errUnreachable'), UNREACHABLE);
      }
      if (response.status === 401) {
        socket.close();
        onUnauthorized();
        throw new AppError('unauthorized', bothLanguages('errUnauthorized'));
      }
      let body: unknown;
      try {
        body = await response.json();
      } catch {
        throw new AppError('internal', bothLanguages('errBadResponse', {status: response.status}));
      }
      return unwrapEnvelope<MethodOutput<M>>(body, response.status);
    },
    onEvent(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    onResync(listener) {
      resyncListeners.add(listener);
      return () => void resyncListeners.delete(listener);
    },
    onConnection(listener) {
      connectionListeners.add(listener);
      return () => void connectionListeners.delete(listener);
    },
  };
}
