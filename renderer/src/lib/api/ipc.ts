// Transport (a): Electron IPC through the preload's `window.zhongjing` bridge.
import type {MethodInput, MethodName, MethodOutput} from '../../../../main/common/contract';
import type {PreloadBridge} from '../../../../main/common/wire';
import {AppError} from '../../../../main/common/errors';
import {bothLanguages} from '../i18n';
import {unwrapEnvelope} from './envelope';
import type {RendererClient} from './types';

export function createIpcClient(bridge: PreloadBridge): RendererClient {
  return {
    async call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
      let envelope: unknown;
      try {
        // A JSON round trip turns Svelte's reactive proxies into plain data: structured clone
        // (which IPC uses) refuses proxies, and the inputs are JSON by contract anyway.
        envelope = await bridge.invoke(method, JSON.parse(JSON.stringify(input ?? {})));
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        throw new AppError('internal', bothLanguages('errBridge', {detail}));
      }
      return unwrapEnvelope<MethodOutput<M>>(envelope);
    },
    onEvent: (listener) => bridge.onEvent(listener),
    onResync: () => () => {},
    onConnection: () => () => {},
  };
}
