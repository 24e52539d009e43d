// Consultations and their message trees. A consultation's messages form a tree (editing an
// earlier user turn or regenerating a reply adds a sibling); `current_leaf_id` names the branch
// on screen. Every write is one transaction under synchronous=FULL, so when a method returns,
// what the person typed is on disk.

import type {
  CompareWith,
  Consultation,
  ConsultationSummary,
  Message,
  MessageMeta,
  MessageRole,
  MessageStatus,
  Sampling,
} from '../../common/contract.js';
import type {Db} from './database.js';
import {newId, nowIso} from '../ids.js';
import {containsPattern} from './sql.js';

interface ConsultationRow {
  id: string;
  title: string;
  model_id: string | null;
  remote_endpoint_id: string | null;
  compare: string | null;
  system_prompt: string;
  sampling: string;
  current_leaf_id: string | null;
  created_at: string;
  updated_at: string;
  message_count: number;
  preview: string | null;
}

interface MessageRow {
  id: string;
  parent_id: string | null;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  meta: string;
  created_at: string;
}

// message_count: the messages of the branch on screen (root → current leaf), not of every branch:
// a thread of two turns that was regenerated five times still reads "4 条消息". UNION (not UNION
// ALL) ends the walk even on a cycle, which only a corrupt store could hold.
const SUMMARY_COLUMNS = `c.id, c.title, c.model_id, c.remote_endpoint_id, c.compare, c.system_prompt, c.sampling, c.current_leaf_id, c.created_at, c.updated_at,
  (WITH RECURSIVE branch(id, parent_id) AS (
     SELECT m.id, m.parent_id FROM messages m WHERE m.id = c.current_leaf_id
     UNION SELECT p.id, p.parent_id FROM messages p JOIN branch b ON p.id = b.parent_id
   ) SELECT count(*) FROM branch) AS message_count,
  (SELECT substr(m.content, 1, 80) FROM messages m WHERE m.id = c.current_leaf_id) AS preview`;

function toSummary(row: ConsultationRow): ConsultationSummary {
  return {
    id: row.id,
    title: row.title,
    modelId: row.model_id,
    remoteEndpointId: row.remote_endpoint_id,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    messageCount: row.message_count,
    preview: row.preview ?? '',
  };
}

function toMessage(row: MessageRow): Message {
  return {
    id: row.id,
    parentId: row.parent_id,
    role: row.role,
    content: row.content,
    status: row.status,
    createdAt: row.created_at,
    meta: JSON.parse(row.meta) as MessageMeta,
  };
}


export class ConsultationsRepo {
  constructor(private readonly db: Db) {}

  list(query?: string): ConsultationSummary[] {
    const q = query?.trim();
    const rows = q
      ? this.db
          .prepare(
            `SELECT ${SUMMARY_COLUMNS} FROM consultations c WHERE c.deleted_at IS NULL AND (c.title LIKE ? ESCAPE '\\'
               OR EXISTS (SELECT 1 FROM messages m WHERE m.consultation_id = c.id AND m.content LIKE ? ESCAPE '\\'))
             ORDER BY c.updated_at DESC`,
          )
          .all(containsPattern(q), containsPattern(q))
      : this.db
          .prepare(`SELECT ${SUMMARY_COLUMNS} FROM consultations c WHERE c.deleted_at IS NULL ORDER BY c.updated_at DESC`)
          .all();
    return (rows as ConsultationRow[]).map(toSummary);
  }

  exists(id: string, includeDeleted = false): boolean {
    const sql = includeDeleted
      ? 'SELECT 1 FROM consultations WHERE id = ?'
      : 'SELECT 1 FROM consultations WHERE id = ? AND deleted_at IS NULL';
    return this.db.prepare(sql).get(id) !== undefined;
  }

  get(id: string): Consultation | null {
    const row = this.db
      .prepare(`SELECT ${SUMMARY_COLUMNS} FROM consultations c WHERE c.id = ? AND c.deleted_at IS NULL`)
      .get(id) as ConsultationRow | undefined;
    if (!row) return null;
    const messages = (
      this.db
        .prepare('SELECT * FROM messages WHERE consultation_id = ? ORDER BY created_at, rowid')
        .all(id) as MessageRow[]
    ).map(toMessage);
    const adapterIds = (
      this.db
        .prepare('SELECT model_id FROM consultation_adapters WHERE consultation_id = ? ORDER BY position')
        .all(id) as {model_id: string}[]
    ).map((r) => r.model_id);
    return {
      ...toSummary(row),
      systemPrompt: row.system_prompt,
      sampling: JSON.parse(row.sampling) as Sampling,
      adapterIds,
      messages,
      currentLeafId: row.current_leaf_id,
      compare: row.compare ? (JSON.parse(row.compare) as CompareWith) : null,
      preferences: (
        this.db.prepare('SELECT user_message_id, chosen_id, rejected_id FROM consultation_preferences WHERE consultation_id = ? ORDER BY created_at').all(id) as {
          user_message_id: string;
          chosen_id: string;
          rejected_id: string;
        }[]
      ).map((r) => ({userMessageId: r.user_message_id, chosenId: r.chosen_id, rejectedId: r.rejected_id})),
    };
  }

  /** One choice per patient turn: choosing again replaces the earlier choice. */
  savePreference(consultationId: string, userMessageId: string, chosenId: string, rejectedId: string): void {
    this.db
      .prepare('INSERT OR REPLACE INTO consultation_preferences (user_message_id, consultation_id, chosen_id, rejected_id, created_at) VALUES (?, ?, ?, ?, ?)')
      .run(userMessageId, consultationId, chosenId, rejectedId, nowIso());
  }

  /** Every choice in consultations not deleted, oldest first. */
  allPreferences(): {consultationId: string; userMessageId: string; chosenId: string; rejectedId: string}[] {
    return (
      this.db
        .prepare(
          'SELECT p.consultation_id, p.user_message_id, p.chosen_id, p.rejected_id FROM consultation_preferences p JOIN consultations c ON c.id = p.consultation_id WHERE c.deleted_at IS NULL ORDER BY p.created_at',
        )
        .all() as {consultation_id: string; user_message_id: string; chosen_id: string; rejected_id: string}[]
    ).map((r) => ({consultationId: r.consultation_id, userMessageId: r.user_message_id, chosenId: r.chosen_id, rejectedId: r.rejected_id}));
  }

  create(fields: {title: string; modelId: string | null; systemPrompt: string; sampling: Sampling}): string {
    const id = newId();
    const now = nowIso();
    this.db
      .prepare(
        `INSERT INTO consultations (id, title, model_id, system_prompt, sampling, current_leaf_id, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, NULL, ?, ?)`,
      )
      .run(id, fields.title, fields.modelId, fields.systemPrompt, JSON.stringify(fields.sampling), now, now);
    return id;
  }

  update(
    id: string,
    changes: {title?: string; systemPrompt?: string; modelId?: string | null; remoteEndpointId?: string | null; sampling?: Sampling; adapterIds?: string[]; compare?: CompareWith | null},
  ): void {
    this.db.transaction(() => {
      const set = (column: string, value: unknown) =>
        this.db.prepare(`UPDATE consultations SET ${column} = ? WHERE id = ?`).run(value, id);
      if (changes.title !== undefined) set('title', changes.title);
      if (changes.systemPrompt !== undefined) set('system_prompt', changes.systemPrompt);
      if (changes.modelId !== undefined) set('model_id', changes.modelId);
      if (changes.remoteEndpointId !== undefined) set('remote_endpoint_id', changes.remoteEndpointId);
      if (changes.sampling !== undefined) set('sampling', JSON.stringify(changes.sampling));
      if (changes.compare !== undefined) set('compare', changes.compare === null ? null : JSON.stringify(changes.compare));
      if (changes.adapterIds !== undefined) {
        this.db.prepare('DELETE FROM consultation_adapters WHERE consultation_id = ?').run(id);
        const insert = this.db.prepare(
          'INSERT INTO consultation_adapters (consultation_id, model_id, position) VALUES (?, ?, ?)',
        );
        changes.adapterIds.forEach((modelId, position) => insert.run(id, modelId, position));
      }
      set('updated_at', nowIso());
    })();
  }

  /** To the bin, as softDelete, but only if still untouched: never updated since it was made (a
   * rename, a setting or a message all move updated_at) and without any message. Checked here,
   * in one statement, because the caller's view of the list may be a moment old. */
  softDeleteIfUntouched(id: string): boolean {
    return this.db
      .prepare(
        `UPDATE consultations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL AND updated_at = created_at
           AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.consultation_id = consultations.id)`,
      )
      .run(nowIso(), id).changes > 0;
  }

  softDelete(id: string): boolean {
    return this.db.prepare('UPDATE consultations SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL').run(nowIso(), id)
      .changes > 0;
  }

  restore(id: string): boolean {
    return this.db.prepare('UPDATE consultations SET deleted_at = NULL WHERE id = ?').run(id).changes > 0;
  }

  purgeDeletedBefore(isoTime: string): number {
    return this.db.prepare('DELETE FROM consultations WHERE deleted_at IS NOT NULL AND deleted_at < ?').run(isoTime).changes;
  }

  getMessage(consultationId: string, messageId: string): Message | null {
    const row = this.db
      .prepare('SELECT * FROM messages WHERE id = ? AND consultation_id = ?')
      .get(messageId, consultationId) as MessageRow | undefined;
    return row ? toMessage(row) : null;
  }

  /** Adds a message under `parentId` and makes it the visible leaf, in one durable transaction. */
  addMessage(
    consultationId: string,
    fields: {parentId: string | null; role: MessageRole; content: string; status: MessageStatus; meta?: MessageMeta},
    /** false: added beside the branch on screen without becoming its end */
    leaf = true,
  ): Message {
    const id = newId();
    const now = nowIso();
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO messages (id, consultation_id, parent_id, role, content, status, meta, created_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        )
        .run(id, consultationId, fields.parentId, fields.role, fields.content, fields.status, JSON.stringify(fields.meta ?? {}), now);
      if (leaf) this.db.prepare('UPDATE consultations SET current_leaf_id = ?, updated_at = ? WHERE id = ?').run(id, now, consultationId);
      else this.db.prepare('UPDATE consultations SET updated_at = ? WHERE id = ?').run(now, consultationId);
    })();
    return this.getMessage(consultationId, id)!;
  }

  updateMessage(messageId: string, changes: {content?: string; status?: MessageStatus; meta?: MessageMeta}): void {
    const sets: string[] = [];
    const values: unknown[] = [];
    if (changes.content !== undefined) (sets.push('content = ?'), values.push(changes.content));
    if (changes.status !== undefined) (sets.push('status = ?'), values.push(changes.status));
    if (changes.meta !== undefined) (sets.push('meta = ?'), values.push(JSON.stringify(changes.meta)));
    if (sets.length) this.db.prepare(`UPDATE messages SET ${sets.join(', ')} WHERE id = ?`).run(...values, messageId);
  }

  setCurrentLeaf(consultationId: string, leafId: string): void {
    this.db.prepare('UPDATE consultations SET current_leaf_id = ? WHERE id = ?').run(leafId, consultationId);
  }

  /** Replies that were streaming when the process died are marked, not left "in progress". */
  markInterruptedReplies(): number {
    return this.db.prepare(`UPDATE messages SET status = 'interrupted' WHERE status = 'streaming'`).run().changes;
  }
}
