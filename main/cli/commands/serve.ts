import {existsSync} from 'node:fs';
import {join} from 'node:path';
import {spawn} from 'node:child_process';
import {parseArgs} from 'node:util';
import {createDispatch, createHandlers} from '../../node/api/handlers.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {packageRoot} from '../../node/paths.js';
import {Services} from '../../node/services/index.js';
import {checkToken, newToken, startServer} from '../../serve/server.js';
import {FileSecretStore} from '../../node/remote/secrets.js';
import {openAiCompat} from '../../node/services/openai-compat.js';
import {allowedFolder} from '../../node/path-policy.js';
import {AppError} from '../../common/errors.js';
import {logError} from '../../node/log.js';
import {resolveDataDir, say, usageError} from '../context.js';

export const USAGE = {
  zh: `用法：zhongjing serve [--data-dir 目录] [--port 端口] [--model 模型.gguf] [--allow-dir 目录]... [--open] [--new-token]
  令牌保存在 <数据目录>/secrets/（仅本用户可读），重启后网址不变，已打开的页面会自动重连；--new-token 换一个新令牌（旧网址随即失效）。
  环境变量 ZHONGJING_TOKEN 可指定令牌。`,
  en: `usage: zhongjing serve [--data-dir DIR] [--port PORT] [--model MODEL.gguf] [--allow-dir DIR]... [--open] [--new-token]
  The token is kept in <data dir>/secrets/ (readable by this user only), so the URL stays the same across restarts and open
  pages reconnect by themselves; --new-token makes a new one (the old URL stops working). ZHONGJING_TOKEN sets it instead.`,
};
export const DEFAULT_PORT = 8765;

function openBrowser(url: string): void {
  const opener = process.platform === 'darwin' ? 'open' : process.platform === 'win32' ? 'explorer' : 'xdg-open';
  if (process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY) return;
  spawn(opener, [url], {stdio: 'ignore', detached: true}).on('error', () => undefined).unref();
}

/** The token of this data directory, kept between starts (a restart, a crash) so that the URL a
 * person opened, and every open tab, keep working: made on first use or when asked anew, in a
 * 0600 file beside the remote endpoints' keys. */
function keptToken(secretsDir: string, renew: boolean): string {
  const secrets = new FileSecretStore(secretsDir);
  const kept = renew ? null : secrets.get('serve-token');
  if (kept) {
    try {
      checkToken(kept);
      return kept;
    } catch {
      // edited by hand into something weak: replaced below
    }
  }
  const token = newToken();
  secrets.set('serve-token', token);
  return token;
}

export async function serveCommand(argv: string[]): Promise<void> {
  const {values} = parseArgs({
    args: argv,
    options: {'data-dir': {type: 'string'}, port: {type: 'string'}, model: {type: 'string'}, 'allow-dir': {type: 'string', multiple: true}, open: {type: 'boolean'}, 'new-token': {type: 'boolean'}},
  });
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw usageError(USAGE);
  // a weak token is refused before anything starts (store, engine, port)
  const givenToken = process.env.ZHONGJING_TOKEN;
  if (givenToken !== undefined) checkToken(givenToken);

  // folders named at the shell are trusted like the shell; each checked before anything starts
  const extraFolders = await Promise.all((values['allow-dir'] ?? []).map((dir) => allowedFolder(dir)));
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine, lockKind: 'serve', confinePaths: {extraFolders}});
  const token = givenToken ?? keptToken(join(services.paths.root, 'secrets'), values['new-token'] ?? false);
  if (values.model) {
    const model = services.models.list().find((m) => m.id === values.model || m.name === values.model) ?? (await services.models.add({path: values.model}));
    if (model.kind !== 'base') throw usageError({zh: '--model 需要基础模型，不是适配器。', en: '--model needs a base model, not an adapter.'});
    await services.updateSettings({defaultModelId: model.id});
  }
  const handlers = createHandlers(services);
  const staticDir = join(packageRoot(), 'dist', 'renderer');
  const options = {dispatch: createDispatch(handlers, (error) => services.storage.failed(error)), bus: services.bus, staticDir: existsSync(staticDir) ? staticDir : null, token, openai: openAiCompat(services)};
  let server;
  try {
    server = await startServer({...options, port});
  } catch (error) {
    // the default port may be taken by another instance: pick a free one instead of failing
    if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || values.port !== undefined) {
      await services.close();
      throw new AppError('io', {zh: `端口 ${port} 无法使用：${(error as Error).message}`, en: `Port ${port} cannot be used: ${(error as Error).message}`});
    }
    server = await startServer({...options, port: 0});
  }
  process.stdout.write(
    `${say({zh: '仲景服务已启动（仅本机 127.0.0.1 可访问）。在浏览器中打开：', en: 'Zhongjing is serving on 127.0.0.1 only. Open in a browser:'})}\n  ${server.url}\n` +
      `${say({zh: '数据目录', en: 'Data directory'})}: ${services.paths.root}\n`,
  );
  if (values.open) openBrowser(server.url);

  // the net under every write path: a write that found the disk full in a background task (a
  // download's progress, a training metric, an annotation candidate) must not end the server;
  // the UI is told (storage.diskFull) and the task's own error handling reports the rest
  process.on('uncaughtException', (error) => {
    if (services.storage.failed(error)) {
      logError('a background write found the disk full (still serving)', error);
      return;
    }
    logError('uncaught exception', error);
    process.exit(1);
  });

  let closing = false;
  const shutdown = async () => {
    if (closing) return;
    closing = true;
    await server.close();
    await services.close();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
}
