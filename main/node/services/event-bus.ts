import type {ApiEvent} from '../../common/contract.js';

/** Fan-out of service events to every connected UI (IPC window, WebSocket clients, CLI). */
export class EventBus {
  private readonly listeners = new Set<(event: ApiEvent) => void>();

  emit(event: ApiEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // one broken subscriber (a closed socket) must not stop the others
      }
    }
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
