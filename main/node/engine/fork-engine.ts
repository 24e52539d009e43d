// Starts the engine as a Node child process (serve, tests). Electron uses utilityProcess
// instead (main/electron/engine-utility.ts); both satisfy EngineChild.

import {fork} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import type {EngineChild} from './engine-host.js';
import type {EngineOptions, EngineToHost} from './protocol.js';

/** When this module runs from TypeScript source (tests, tsx), the child must too. */
function engineEntry(): {path: string; execArgv: string[]} {
  const runningFromSource = import.meta.url.endsWith('.ts');
  const path = fileURLToPath(new URL(runningFromSource ? './engine-process.ts' : './engine-process.js', import.meta.url));
  return {path, execArgv: runningFromSource ? ['--import', 'tsx'] : []};
}

export function forkEngine(options: EngineOptions): EngineChild {
  const entry = engineEntry();
  const child = fork(entry.path, [], {
    execArgv: entry.execArgv,
    env: {...process.env, ZHONGJING_ENGINE_OPTIONS: JSON.stringify(options)},
    serialization: 'json',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return {
    pid: child.pid ?? null,
    send: (message) => {
      if (child.connected) child.send(message);
    },
    onMessage: (listener) => child.on('message', (message) => listener(message as EngineToHost)),
    onExit: (listener) => child.on('exit', (code, signal) => listener(code, signal)),
    kill: () => child.kill('SIGKILL'),
  };
}
