// The preload: the renderer's only door to the main process. It exposes exactly two functions
// on two whitelisted channels; the main process checks the sender and validates every input
// against the contract. Bundled to CommonJS because sandboxed preloads cannot be ES modules.

import {contextBridge, ipcRenderer, type IpcRendererEvent} from 'electron';
import type {ApiEvent, MethodName} from '../common/contract.js';
import {IPC_EVENT_CHANNEL, IPC_INVOKE_CHANNEL, type CallEnvelope, type PreloadBridge} from '../common/wire.js';

const bridge: PreloadBridge = {
  invoke: (method: MethodName, input: unknown) => ipcRenderer.invoke(IPC_INVOKE_CHANNEL, method, input) as Promise<CallEnvelope>,
  onEvent: (listener: (event: ApiEvent) => void) => {
    const handler = (_event: IpcRendererEvent, payload: ApiEvent) => listener(payload);
    ipcRenderer.on(IPC_EVENT_CHANNEL, handler);
    return () => {
      ipcRenderer.removeListener(IPC_EVENT_CHANNEL, handler);
    };
  },
};

contextBridge.exposeInMainWorld('zhongjing', bridge);
