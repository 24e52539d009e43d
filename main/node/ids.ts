import {randomBytes} from 'node:crypto';

/** Time-ordered, URL-safe ids: sortable by creation and unique across workstations, so stores
 * from two machines can later be merged (annotation packages) without renumbering. */
export function newId(now = Date.now()): string {
  return now.toString(36).padStart(9, '0') + randomBytes(8).toString('base64url');
}

export function nowIso(): string {
  return new Date().toISOString();
}
