// The Electron preload exposes the IPC bridge as `window.zhongjing`; in a plain browser
// (`zhongjing serve`) it is absent and the HTTP transport is used instead.
import type {PreloadBridge} from '../../main/common/wire';

declare global {
  interface Window {
    zhongjing?: PreloadBridge;
  }
}

export {};
