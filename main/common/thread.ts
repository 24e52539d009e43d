// Pure helpers over a consultation's message tree (shared by services and the renderer).

import type {Message} from './contract.js';

/** The visible thread: the path from the root to `leafId`, oldest first. */
export function threadTo(messages: readonly Message[], leafId: string | null): Message[] {
  const byId = new Map(messages.map((m) => [m.id, m]));
  const path: Message[] = [];
  for (let cursor = leafId ? byId.get(leafId) : undefined; cursor; cursor = cursor.parentId ? byId.get(cursor.parentId) : undefined) {
    path.push(cursor);
    if (path.length > messages.length) break; // a cycle can only come from a corrupt store
  }
  return path.reverse();
}

/** Following the newest child at each step: where selecting a branch should land. */
export function newestLeafUnder(messages: readonly Message[], messageId: string): string {
  let current = messageId;
  for (let steps = 0; steps <= messages.length; steps++) {
    const children = messages.filter((m) => m.parentId === current);
    if (children.length === 0) break;
    current = children.reduce((a, b) => (b.createdAt >= a.createdAt ? b : a)).id;
  }
  return current;
}

/** Messages that share a parent with `message` (itself included), oldest first. */
export function siblingsOf(messages: readonly Message[], message: Message): Message[] {
  return messages.filter((m) => m.parentId === message.parentId && m.role === message.role);
}
