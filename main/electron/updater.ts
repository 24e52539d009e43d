// Updates are never checked in the background: the workstation is offline by design and a
// hospital network may forbid it. "Check for updates" in the Help menu asks once, on request.

import {dialog, app, type BrowserWindow} from 'electron';
import electronUpdater from 'electron-updater';

export function setUpUpdater(): void {
  const {autoUpdater} = electronUpdater;
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = false;
}

export async function checkForUpdatesNow(window: BrowserWindow | null): Promise<void> {
  const {autoUpdater} = electronUpdater;
  try {
    if (!app.isPackaged) throw new Error('development build');
    const result = await autoUpdater.checkForUpdates();
    const version = result?.updateInfo.version;
    const message = version && version !== app.getVersion() ? `新版本 / New version: ${version}` : '已是最新版本 / Up to date';
    if (window) await dialog.showMessageBox(window, {message});
  } catch (error) {
    if (window) await dialog.showMessageBox(window, {type: 'warning', message: `无法检查更新 / Cannot check for updates: ${(error as Error).message}`});
  }
}
