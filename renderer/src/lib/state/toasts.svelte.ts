// Short-lived notices in the corner: confirmations, background errors, and the undo offer after
// a delete. The message is a function so it re-renders in the new language if the user switches
// while it is showing.
import {errorText} from '../errors';

export interface Toast {
  id: number;
  message: () => string;
  tone: 'info' | 'error';
  action?: {label: () => string; run: () => void | Promise<void>};
}

let nextId = 1;

class Toasts {
  items = $state<Toast[]>([]);

  show(message: () => string, options: {tone?: Toast['tone']; action?: Toast['action']; ms?: number} = {}): number {
    const id = nextId++;
    const toast: Toast = {id, message, tone: options.tone ?? 'info'};
    if (options.action) toast.action = options.action;
    this.items.push(toast);
    const ms = options.ms ?? (toast.tone === 'error' ? 8000 : 3500);
    setTimeout(() => this.dismiss(id), ms);
    return id;
  }

  error(error: unknown): void {
    this.show(() => errorText(error), {tone: 'error'});
  }

  dismiss(id: number): void {
    this.items = this.items.filter((toast) => toast.id !== id);
  }
}

export const toasts = new Toasts();
