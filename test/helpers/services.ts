import {writeFileSync} from 'node:fs';
import {join} from 'node:path';
import {forkEngine} from '../../main/node/engine/fork-engine.js';
import {createDispatch, createHandlers} from '../../main/node/api/handlers.js';
import {Services} from '../../main/node/services/index.js';
import type {ApiEvent, MethodInput, MethodName, MethodOutput} from '../../main/common/contract.js';
import {AppError} from '../../main/common/errors.js';
import {tempDir} from './tmp.js';

/** Real services on a temp data dir with a real engine process (1 thread: the tests' machine
 * has 2 cores and the test runner uses the other). */
export function startServices(): {
  services: Services;
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  callRaw(method: string, input: unknown): ReturnType<ReturnType<typeof createDispatch>>;
  events: ApiEvent[];
  close(): Promise<void>;
  dataDir: string;
} {
  const dir = tempDir();
  const services = new Services({dataDir: dir.path, spawnEngine: forkEngine, threads: 1, lockKind: 'test'});
  const dispatch = createDispatch(createHandlers(services), (error) => services.storage.failed(error));
  const events: ApiEvent[] = [];
  services.bus.subscribe((event) => events.push(event));
  return {
    services,
    events,
    dataDir: dir.path,
    callRaw: dispatch,
    async call(method, input) {
      const envelope = await dispatch(method, input);
      if (!envelope.ok) throw AppError.fromPayload(envelope.error);
      return envelope.result as never;
    },
    async close() {
      await services.close();
      dir.cleanup();
    },
  };
}

/** An annotation project from preference pairs written to a file in the data dir, as the annotation
 * import makes one; its id. */
export async function importPairs(s: ReturnType<typeof startServices>, pairs: {question: string; response_chosen: string; response_rejected: string}[]): Promise<string> {
  const file = join(s.dataDir, `pairs-${Date.now()}.jsonl`);
  writeFileSync(file, `${pairs.map((pair) => JSON.stringify(pair)).join('\n')}\n`);
  return (await s.call('annotation.import', {paths: [file]})).projectIds[0]!;
}

export {waitFor} from './wait.js';
