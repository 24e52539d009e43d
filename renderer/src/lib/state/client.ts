// The one client of this page, set once at boot. Stores call `api()` rather than importing the
// transport, so they never know (or care) whether IPC or HTTP is underneath.
import type {MethodInput, MethodName, MethodOutput} from '../../../../main/common/contract';
import type {RendererClient} from '../api';

let current: RendererClient | null = null;

export function setClient(client: RendererClient): void {
  current = client;
}

export function client(): RendererClient {
  if (!current) throw new Error('API client used before boot');
  return current;
}

export function api<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>> {
  return client().call(method, input);
}
