import {Menu, type BrowserWindow, type MenuItemConstructorOptions} from 'electron';
import {checkForUpdatesNow} from './updater.js';

/** The application menu, in the UI language. Standard roles keep copy/paste and IME working. */
/** `getUpdateServer` answers the update server set in Settings at the moment the person asks. */
export function buildMenu(language: 'zh-CN' | 'en', getWindow: () => BrowserWindow | null, getUpdateServer: () => string | null): void {
  const zh = language !== 'en';
  const template: MenuItemConstructorOptions[] = [
    {
      label: zh ? '文件' : 'File',
      submenu: [{role: 'quit', label: zh ? '退出' : 'Quit'}],
    },
    {
      label: zh ? '编辑' : 'Edit',
      submenu: [
        {role: 'undo', label: zh ? '撤销' : 'Undo'},
        {role: 'redo', label: zh ? '重做' : 'Redo'},
        {type: 'separator'},
        {role: 'cut', label: zh ? '剪切' : 'Cut'},
        {role: 'copy', label: zh ? '复制' : 'Copy'},
        {role: 'paste', label: zh ? '粘贴' : 'Paste'},
        {role: 'selectAll', label: zh ? '全选' : 'Select all'},
      ],
    },
    {
      label: zh ? '视图' : 'View',
      submenu: [
        {role: 'reload', label: zh ? '重新加载' : 'Reload'},
        {role: 'resetZoom', label: zh ? '实际大小' : 'Actual size'},
        {role: 'zoomIn', label: zh ? '放大' : 'Zoom in'},
        {role: 'zoomOut', label: zh ? '缩小' : 'Zoom out'},
        {role: 'togglefullscreen', label: zh ? '全屏' : 'Full screen'},
      ],
    },
    {
      label: zh ? '帮助' : 'Help',
      submenu: [
        {label: zh ? '检查更新…' : 'Check for updates…', click: () => void checkForUpdatesNow(getWindow(), getUpdateServer(), language)},
        {role: 'toggleDevTools', label: zh ? '开发者工具' : 'Developer tools'},
      ],
    },
  ];
  Menu.setApplicationMenu(Menu.buildFromTemplate(template));
}
