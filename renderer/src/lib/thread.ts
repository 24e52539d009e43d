// The message tree of a consultation. Every branch is kept; what the user sees is the path from
// the root down to `currentLeafId`. Siblings (same parent, same role) are the alternative
// versions of one turn: an edited question or a regenerated answer.
import type {Message} from '../../../main/common/contract';

export function threadPath(messages: readonly Message[], leafId: string | null): Message[] {
  const byId = new Map(messages.map((message) => [message.id, message]));
  // No leaf recorded yet although messages exist: show the newest branch rather than nothing.
  const leaf = leafId ? byId.get(leafId) : newest(messages);
  const path: Message[] = [];
  const seen = new Set<string>();
  for (let node = leaf; node && !seen.has(node.id); node = node.parentId ? byId.get(node.parentId) : undefined) {
    seen.add(node.id); // guards against a corrupt cycle
    path.push(node);
  }
  return path.reverse();
}

function newest(messages: readonly Message[]): Message | undefined {
  let best: Message | undefined;
  for (const message of messages) if (!best || message.createdAt > best.createdAt) best = message;
  return best;
}

export type SiblingIndex = Map<string, readonly Message[]>;

const groupKey = (message: Message) => `${message.parentId ?? ''}\u0000${message.role}`;

/** Groups every message with its siblings, oldest first, so "2 / 3" keeps a stable order. */
export function indexSiblings(messages: readonly Message[]): SiblingIndex {
  const groups = new Map<string, Message[]>();
  for (const message of messages) {
    const key = groupKey(message);
    const group = groups.get(key);
    if (group) group.push(message);
    else groups.set(key, [message]);
  }
  const index: SiblingIndex = new Map();
  for (const group of groups.values()) {
    group.sort((a, b) => (a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt < b.createdAt ? -1 : 1));
    for (const message of group) index.set(message.id, group);
  }
  return index;
}
