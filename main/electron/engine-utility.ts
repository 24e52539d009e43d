// The engine as an Electron utilityProcess (a Chromium-managed child with Node), so a native
// abort in llama.cpp kills only that process.

import {utilityProcess} from 'electron';
import {fileURLToPath} from 'node:url';
import type {EngineChild} from '../node/engine/engine-host.js';
import type {EngineOptions, EngineToHost} from '../node/engine/protocol.js';

export function spawnUtilityEngine(options: EngineOptions): EngineChild {
  const entry = fileURLToPath(new URL('../node/engine/engine-process.js', import.meta.url));
  const child = utilityProcess.fork(entry, [], {
    env: {...process.env, ZHONGJING_ENGINE_OPTIONS: JSON.stringify(options)},
    serviceName: 'Zhongjing inference engine',
    stdio: 'inherit',
  });
  return {
    get pid() {
      return child.pid ?? null;
    },
    send: (message) => child.postMessage(message),
    onMessage: (listener) => child.on('message', (message) => listener(message as EngineToHost)),
    onExit: (listener) => child.on('exit', (code) => listener(code, null)),
    kill: () => {
      child.kill();
    },
  };
}
