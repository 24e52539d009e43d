// Updates come only from the hospital's own update server (Settings → Update server; none by
// default, and then updates are off) and are never checked in the background: the workstation is
// offline by design. "Check for updates" in the Help menu asks that server once, through
// electron-updater's generic provider (it reads latest-linux.yml / latest.yml / latest-mac.yml and
// verifies the downloaded installer's sha512 against it). Which URLs are accepted, and the
// messages, live in main/common/update-server.ts (unit-tested); this file only wires Electron.

import {dialog, app, type BrowserWindow} from 'electron';
import electronUpdater from 'electron-updater';
import type {LocalisedText} from '../common/errors.js';
import {updateFeed} from '../common/update-server.js';

export function setUpUpdater(): void {
  const {autoUpdater} = electronUpdater;
  autoUpdater.autoDownload = false;
  autoUpdater.autoInstallOnAppQuit = false;
  autoUpdater.allowDowngrade = false;
}

export async function checkForUpdatesNow(window: BrowserWindow | null, serverUrl: string | null, language: 'zh-CN' | 'en'): Promise<void> {
  const {autoUpdater} = electronUpdater;
  const text = (t: LocalisedText) => (language === 'en' ? t.en : t.zh);
  const show = async (options: Electron.MessageBoxOptions) => (window ? dialog.showMessageBox(window, options) : dialog.showMessageBox(options));
  const feed = updateFeed(serverUrl);
  if (!feed.ok) {
    await show({type: 'info', message: text(feed.reason)});
    return;
  }
  try {
    if (!app.isPackaged) throw new Error('development build: only an installed app updates itself');
    if (feed.warning) await show({type: 'warning', message: text(feed.warning)});
    autoUpdater.setFeedURL({provider: feed.provider, url: feed.url});
    const result = await autoUpdater.checkForUpdates();
    const version = result?.updateInfo.version;
    if (!result?.isUpdateAvailable || !version) {
      await show({message: text({zh: `已是最新版本（${app.getVersion()}）。`, en: `Up to date (${app.getVersion()}).`})});
      return;
    }
    const answer = await show({
      message: text({zh: `有新版本 ${version}（当前 ${app.getVersion()}）。`, en: `Version ${version} is available (this is ${app.getVersion()}).`}),
      buttons: [text({zh: '下载并安装', en: 'Download and install'}), text({zh: '以后再说', en: 'Later'})],
      defaultId: 0,
      cancelId: 1,
    });
    if (answer.response !== 0) return;
    await autoUpdater.downloadUpdate(); // checked against the feed's sha512 before it is used
    await show({message: text({zh: '更新已下载，将重新启动以完成安装。', en: 'The update is downloaded; the app restarts to install it.'})});
    autoUpdater.quitAndInstall();
  } catch (error) {
    await show({type: 'warning', message: `${text({zh: '无法检查更新：', en: 'Cannot check for updates: '})}${(error as Error).message}`});
  }
}
