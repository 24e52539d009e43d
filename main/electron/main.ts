// Electron entry: single instance, the privileged app:// scheme for the renderer, CSP on every
// response, no navigation or new windows, the engine as a utilityProcess, and the contract's
// dispatch behind a sender-checked IPC handler. All policy lives in tested modules; this file
// only wires Electron to them.

import {app, BrowserWindow, dialog, ipcMain, net, protocol, safeStorage, session, shell} from 'electron';
import {join} from 'node:path';
import {pathToFileURL} from 'node:url';
import {CONTENT_SECURITY_POLICY} from '../common/csp.js';
import {IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL} from '../common/wire.js';
import {AppError} from '../common/errors.js';
import {createDispatch, createHandlers} from '../node/api/handlers.js';
import {Services} from '../node/services/index.js';
import {packageRoot} from '../node/paths.js';
import {logError} from '../node/log.js';
import {spawnUtilityEngine} from './engine-utility.js';
import {buildMenu} from './menu.js';
import {APP_ORIGIN, APP_SCHEME, acceptInvoke, rendererFilePath, secureWebPreferences} from './security.js';
import {setUpUpdater} from './updater.js';
import {EncryptedSecretStore, FileSecretStore, type SecretStore} from '../node/remote/secrets.js';

protocol.registerSchemesAsPrivileged([{scheme: APP_SCHEME, privileges: {standard: true, secure: true, supportFetchAPI: true}}]);

// a second launch of the app only focuses the first (second-instance below) and must not go on to
// open the data directory: that would meet the first one's data-directory lock and show an error
const primaryInstance = app.requestSingleInstanceLock();
if (!primaryInstance) app.quit();

let mainWindow: BrowserWindow | null = null;

/** Remote endpoints' API keys in the OS keychain (safeStorage: Keychain, DPAPI, libsecret/kwallet).
 * On a Linux desktop without a secret service safeStorage would only obscure the key with a fixed
 * password, so the key goes to a 0600 file instead, and the UI says so (keyStorage 'file'). */
function keychainSecrets(dir: string): SecretStore {
  const real = safeStorage.isEncryptionAvailable() && (process.platform !== 'linux' || safeStorage.getSelectedStorageBackend() !== 'basic_text');
  if (!real) return new FileSecretStore(dir);
  return new EncryptedSecretStore(dir, {encrypt: (text) => safeStorage.encryptString(text), decrypt: (data) => safeStorage.decryptString(data)});
}

function createWindow(): BrowserWindow {
  const window = new BrowserWindow({
    width: 1280,
    height: 820,
    minWidth: 900,
    minHeight: 600,
    title: '仲景 Zhongjing',
    show: false,
    webPreferences: secureWebPreferences(join(import.meta.dirname, 'preload.cjs')),
  });
  window.once('ready-to-show', () => window.show());
  // the UI never navigates away or opens windows; external links go to the system browser
  window.webContents.on('will-navigate', (event, url) => {
    if (!url.startsWith(APP_ORIGIN)) event.preventDefault();
  });
  window.webContents.setWindowOpenHandler(({url}) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return {action: 'deny'};
  });
  void window.loadURL(`${APP_ORIGIN}/index.html`);
  return window;
}

async function start(): Promise<void> {
  await app.whenReady();
  const rendererDir = join(packageRoot(), 'dist', 'renderer');
  protocol.handle(APP_SCHEME, (request) => {
    const file = rendererFilePath(rendererDir, request.url);
    if (!file) return new Response('not found', {status: 404});
    return net.fetch(pathToFileURL(file).toString());
  });
  session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
    callback({responseHeaders: {...details.responseHeaders, 'Content-Security-Policy': [CONTENT_SECURITY_POLICY]}});
  });
  // no permission (camera, geolocation, notifications…) is ever needed
  session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));

  const services = new Services({dataDir: app.getPath('userData'), spawnEngine: spawnUtilityEngine, lockKind: 'app', secrets: keychainSecrets});
  const dispatch = createDispatch(createHandlers(services), (error) => services.storage.failed(error));
  // as in serve: a background write that finds the disk full (a training metric, a download's
  // progress) is reported to the window (storage.diskFull) and the app goes on; anything else is
  // shown as Electron would by default, and the app goes on too
  process.on('uncaughtException', (error) => {
    if (services.storage.failed(error)) return logError('a background write found the disk full (still running)', error);
    logError('uncaught exception', error);
    dialog.showErrorBox('仲景 Zhongjing', error instanceof Error ? (error.stack ?? error.message) : String(error));
  });
  ipcMain.handle(IPC_INVOKE_CHANNEL, (event, method: unknown, input: unknown) => {
    if (!acceptInvoke(event.senderFrame?.url, method)) {
      return {ok: false, error: new AppError('unauthorized', {zh: '拒绝了不受信任的调用。', en: 'Untrusted call refused.'}).toPayload()};
    }
    return dispatch(method, input);
  });
  services.bus.subscribe((event) => mainWindow?.webContents.send(IPC_EVENT_CHANNEL, event));

  buildMenu(services.store.settings.get().language, () => mainWindow, () => services.store.settings.get().updateServerUrl);
  mainWindow = createWindow();
  mainWindow.on('closed', () => (mainWindow = null));
  setUpUpdater();

  app.on('second-instance', () => {
    if (mainWindow?.isMinimized()) mainWindow.restore();
    mainWindow?.focus();
  });
  app.on('activate', () => {
    if (!mainWindow) mainWindow = createWindow();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting) return;
    event.preventDefault();
    quitting = true;
    void services.close().finally(() => app.quit());
  });
}

if (primaryInstance) void start().catch((error: unknown) => {
  process.stderr.write(`Zhongjing failed to start: ${(error as Error).message}\n`);
  // a person started the app: the reason (data directory in use, damaged store…) in both
  // languages, not only on a console nobody sees
  if (error instanceof AppError) dialog.showErrorBox('仲景 Zhongjing', `${error.localised.zh}\n\n${error.localised.en}`);
  app.exit(1);
});

