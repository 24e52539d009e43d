import {spawn, spawnSync, type ChildProcess} from 'node:child_process';
import {fileURLToPath} from 'node:url';
import type {MethodInput, MethodName, MethodOutput} from '../../main/common/contract.js';

const CLI_SOURCE = fileURLToPath(new URL('../../main/cli/run.ts', import.meta.url));
const CLI_BUILT = fileURLToPath(new URL('../../bin/zhongjing.js', import.meta.url));

/** The CLI from source (through tsx) or, for the e2e suite, the built `bin/zhongjing.js`. */
function cliArgs(built: boolean): string[] {
  return built ? [CLI_BUILT] : ['--import', 'tsx', CLI_SOURCE];
}

export function runCli(args: string[], options: {env?: NodeJS.ProcessEnv; built?: boolean; input?: string} = {}) {
  const result = spawnSync(process.execPath, [...cliArgs(options.built ?? false), ...args], {
    encoding: 'utf8',
    ...(options.input !== undefined ? {input: options.input} : {}),
    env: {...process.env, ZHONGJING_THREADS: '1', ...options.env},
    timeout: 120_000,
  });
  return {status: result.status, stdout: result.stdout, stderr: result.stderr};
}

export interface ServeProcess {
  url: string;
  base: string;
  token: string;
  child: ChildProcess;
  /** ms from spawn to the printed URL */
  startedInMs: number;
  /** One API call over HTTP with the token, as the UI makes it; an error answer throws. */
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  stop(): Promise<void>;
}

/** Starts `zhongjing serve` as a real process and waits for the URL it prints. */
export function startServe(args: string[], options: {env?: NodeJS.ProcessEnv; built?: boolean} = {}): Promise<ServeProcess> {
  const started = performance.now();
  const child = spawn(process.execPath, [...cliArgs(options.built ?? false), 'serve', '--port', '0', ...args], {
    env: {...process.env, ZHONGJING_THREADS: '1', ...options.env},
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${output}`)), 60_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString();
      const match = /http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]+)/.exec(output);
      if (!match) return;
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      const base = `http://127.0.0.1:${match[1]}`;
      const token = match[2]!;
      resolve({
        url: match[0],
        base,
        token,
        child,
        startedInMs: performance.now() - started,
        call: async (method, input) => {
          const response = await fetch(`${base}/api/${method}`, {
            method: 'POST',
            headers: {authorization: `Bearer ${token}`, 'content-type': 'application/json'},
            body: JSON.stringify(input),
          });
          const envelope = (await response.json()) as {ok: boolean; result?: unknown; error?: unknown};
          if (!envelope.ok) throw new Error(`${method} answered ${JSON.stringify(envelope.error)}`);
          return envelope.result as never;
        },
        stop: () =>
          new Promise((done) => {
            if (child.exitCode !== null) return done();
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${output}`));
    });
  });
}
