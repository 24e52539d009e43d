// The open consultation and its live replies.
//
// Streaming: `chat.send` / `chat.regenerate` return at once with the new messages; the reply
// text then arrives as `chat.delta` events and is settled by `chat.finished`. Events and the
// call's answer race each other (over HTTP they even travel on different connections), so:
//  • deltas are collected per message id in `live`, whether or not the message is known yet;
//  • a finished (non-streaming) message is never overwritten by an older 'streaming' copy.
import type {Consultation, Message, MethodInput} from '../../../../main/common/contract';
import {indexSiblings, threadPath, type SiblingIndex} from '../thread';
import {app} from './app.svelte';
import {api} from './client';
import type {SamplingDraft} from '../sampling';

const LAST_OPEN_KEY = 'zhongjing.lastConsultation';
const DRAFT_KEY = 'zhongjing.draft.';
export interface SettingsDraft {
  systemPrompt: string;
  sampling: SamplingDraft;
}
type ConsultationPatch = Omit<MethodInput<'consultations.update'>, 'id'>;

class ChatState {
  current = $state<Consultation | null>(null);
  /** id being opened, for the loading state */
  opening = $state<string | null>(null);
  openError = $state<unknown>(null);
  /** streamed text per assistant message id (any consultation), until its chat.finished */
  live = $state<Record<string, string>>({});
  /** unsent composer text per consultation, so switching away loses nothing (read and written
   * through draft / setDraft, which also keep it in the tab's sessionStorage: a reload keeps it) */
  private drafts = $state<Record<string, string>>({});
  /** unsaved settings-drawer edits per consultation, kept when the drawer goes away with them
   * (another consultation or screen opened): the drawer shows them again when reopened */
  settingsDrafts = $state<Record<string, SettingsDraft>>({});

  thread = $derived(this.current ? threadPath(this.current.messages, this.current.currentLeafId) : []);
  siblings: SiblingIndex = $derived(this.current ? indexSiblings(this.current.messages) : new Map());
  /** a reply is being generated somewhere in this consultation (any branch) */
  busy = $derived(this.current?.messages.some((message) => message.status === 'streaming') ?? false);
  model = $derived(app.models.find((model) => model.id === this.current?.modelId) ?? null);

  private openSeq = 0;
  private refetchTimer: ReturnType<typeof setTimeout> | null = null;

  /** Read inside templates and $derived, so it never writes state: before the first edit of this
   * page the draft comes straight from the tab's storage. */
  draft(consultationId: string): string {
    if (consultationId in this.drafts) return this.drafts[consultationId]!;
    try {
      return sessionStorage.getItem(DRAFT_KEY + consultationId) ?? '';
    } catch {
      return ''; // storage can be disabled: the draft then lives as long as the page
    }
  }

  setDraft(consultationId: string, text: string): void {
    this.drafts[consultationId] = text;
    try {
      // per tab and gone with it (sessionStorage, not localStorage: a patient's words are not
      // left in the browser profile), but it survives a reload or a crashed renderer
      if (text) sessionStorage.setItem(DRAFT_KEY + consultationId, text);
      else sessionStorage.removeItem(DRAFT_KEY + consultationId);
    } catch {
      // storage full or disabled: kept in memory only
    }
  }

  lastOpenedId(): string | null {
    try {
      return localStorage.getItem(LAST_OPEN_KEY);
    } catch {
      return null;
    }
  }

  async open(id: string): Promise<void> {
    const seq = ++this.openSeq;
    this.opening = id;
    this.openError = null;
    try {
      const consultation = await api('consultations.get', {id});
      if (seq !== this.openSeq) return; // the user clicked another one meanwhile
      this.show(consultation);
    } catch (error) {
      if (seq === this.openSeq) this.openError = error;
    } finally {
      if (seq === this.openSeq) this.opening = null;
    }
  }

  /** Shows a consultation we already hold in full (just created, for instance). */
  show(consultation: Consultation): void {
    this.openSeq += 1;
    this.opening = null;
    this.openError = null;
    this.current = consultation;
    try {
      localStorage.setItem(LAST_OPEN_KEY, consultation.id);
    } catch {
      // only a convenience for the next start
    }
  }

  close(): void {
    this.openSeq += 1;
    this.current = null;
    this.opening = null;
    this.openError = null;
  }

  /** What to show for a message: while it streams, the longer of the stored text and the
   * streamed text (a snapshot fetched mid-stream may be ahead of or behind our deltas). */
  contentOf(message: Message): string {
    if (message.status !== 'streaming') return message.content;
    const streamed = this.live[message.id] ?? '';
    return streamed.length > message.content.length ? streamed : message.content;
  }

  applyDelta(messageId: string, delta: string): void {
    this.live[messageId] = (this.live[messageId] ?? '') + delta;
  }

  applyFinished(consultationId: string, message: Message): void {
    delete this.live[message.id];
    if (this.current?.id === consultationId) this.upsert(message);
  }

  /** Another part of the app (or another window) changed this consultation: re-read it. */
  onChanged(id: string): void {
    if (this.current?.id !== id) return;
    if (this.refetchTimer) clearTimeout(this.refetchTimer);
    this.refetchTimer = setTimeout(() => void this.refetch(), 150);
  }

  async refetch(): Promise<void> {
    const current = this.current;
    if (!current) return;
    const seq = this.openSeq;
    try {
      const fresh = await api('consultations.get', {id: current.id});
      if (seq === this.openSeq && this.current?.id === fresh.id) this.adopt(fresh);
    } catch (error) {
      // Deleted elsewhere (the CLI, another window): leave it.
      if (seq === this.openSeq && (error as {code?: string}).code === 'not_found') this.close();
    }
  }

  async send(text: string, parentId?: string | null): Promise<void> {
    const consultation = this.current;
    if (!consultation) return;
    const input: MethodInput<'chat.send'> = {consultationId: consultation.id, text};
    if (parentId !== undefined) input.parentId = parentId; // null = a new root turn (edited first question)
    const {userMessage, assistantMessage, otherMessage} = await api('chat.send', input);
    if (this.current?.id !== consultation.id) return;
    this.upsert(userMessage);
    this.upsert(assistantMessage);
    if (otherMessage) this.upsert(otherMessage);
    this.current.currentLeafId = assistantMessage.id;
  }

  async regenerate(messageId: string): Promise<void> {
    const consultation = this.current;
    if (!consultation) return;
    const {assistantMessage} = await api('chat.regenerate', {consultationId: consultation.id, messageId});
    if (this.current?.id !== consultation.id) return;
    this.upsert(assistantMessage);
    this.current.currentLeafId = assistantMessage.id;
  }

  /** Prefers one of two side-by-side answers (stored as a preference pair; the thread goes on from it). */
  async prefer(chosenId: string): Promise<void> {
    if (!this.current) return;
    this.adopt(await api('chat.prefer', {consultationId: this.current.id, chosenId}));
  }

  async stop(): Promise<void> {
    if (this.current) await api('chat.stop', {consultationId: this.current.id});
  }

  async selectBranch(messageId: string): Promise<void> {
    if (!this.current) return;
    this.adopt(await api('consultations.selectBranch', {id: this.current.id, messageId}));
  }

  async update(patch: ConsultationPatch): Promise<void> {
    if (!this.current) return;
    this.adopt(await api('consultations.update', {id: this.current.id, ...patch}));
  }

  private upsert(message: Message): void {
    const messages = this.current?.messages;
    if (!messages) return;
    const index = messages.findIndex((known) => known.id === message.id);
    if (index < 0) messages.push(message);
    else if (!isStaleCopy(messages[index]!, message)) messages[index] = message;
  }

  /** Takes a fresh copy from the services, keeping replies we already saw finish. */
  private adopt(fresh: Consultation): void {
    const old = this.current;
    if (old && old.id === fresh.id) {
      const known = new Map(old.messages.map((message) => [message.id, message]));
      fresh.messages = fresh.messages.map((message) => {
        const mine = known.get(message.id);
        return mine && isStaleCopy(mine, message) ? $state.snapshot(mine) : message;
      });
    }
    this.current = fresh;
  }
}

/** A 'streaming' copy of a message we already hold in a final state is out of date. */
function isStaleCopy(held: Message, incoming: Message): boolean {
  return held.status !== 'streaming' && incoming.status === 'streaming';
}

export const chat = new ChatState();
