// The open consultation and its live replies.
//
// Streaming: `chat.send` / `chat.regenerate` return at once with the new messages; the reply
// text then arrives as `chat.delta` events and is settled by `chat.finished`. Events and the
// call's answer race each other (over HTTP they even travel on different connections), so:
//  • deltas are collected per message id in `live`, whether or not the message is known yet;
//  • a finished (non-streaming) message is never overwritten by an older 'streaming' copy, nor a
//    streaming copy by one with less text (an older snapshot answering late).
//
// What is shown while a reply streams. Each `chat.delta` says where in the reply it starts
// (`offset`), and a read of the consultation gives a streaming reply's text as it is at that read
// (the services' memory, not only the 2-s partial save). So `live` holds, per reply, the deltas
// this page received from some offset on, and what is shown is the copy held up to that offset
// followed by them — the whole reply for one this page started (offset 0), the reply streaming on
// for one it joined mid-way (a reload). A delta that leaves a gap (lost while the event socket
// was down) starts `live` afresh and brings a re-read of the consultation, which fills the gap.
// A copy never replaces one with more text, so the shown text never shrinks.
import type {Consultation, Message, MethodInput} from '../../../../main/common/contract';
import {indexSiblings, threadPath, type SiblingIndex} from '../thread';
import {app} from './app.svelte';
import {api} from './client';
import type {SamplingDraft} from '../sampling';

const LAST_OPEN_KEY = 'zhongjing.lastConsultation';
const DRAFT_KEY = 'zhongjing.draft.';
/** at most this often, a reply with a gap before its deltas is read again */
const STREAM_REREAD_MS = 1000;
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
  /** per reply (any consultation) until its chat.finished: the text received from `start` on */
  live = $state<Record<string, {start: number; text: string}>>({});
  /** chat.send / chat.regenerate calls of this page on their way, per consultation: until the
   * answer adds the streaming reply, `busy` cannot know, and a second press would be refused */
  private starting = $state<Record<string, number>>({});
  /** unsent composer text per consultation, so switching away loses nothing (read and written
   * through draft / setDraft, which also keep it in the tab's sessionStorage: a reload keeps it) */
  private drafts = $state<Record<string, string>>({});
  /** unsaved settings-drawer edits per consultation, kept when the drawer goes away with them
   * (another consultation or screen opened): the drawer shows them again when reopened */
  settingsDrafts = $state<Record<string, SettingsDraft>>({});
  /** the consultation whose message box takes keyboard focus as soon as it is on screen (one
   * just made with 新建问诊: focus was on that button, which went away with the old view) */
  focusComposer = $state<string | null>(null);

  thread = $derived(this.current ? threadPath(this.current.messages, this.current.currentLeafId) : []);
  siblings: SiblingIndex = $derived(this.current ? indexSiblings(this.current.messages) : new Map());
  /** a reply is being generated somewhere in this consultation (any branch) */
  busy = $derived(this.current?.messages.some((message) => message.status === 'streaming') ?? false);
  /** nothing is being generated or asked for here: a new reply may be started */
  idle = $derived(!this.busy && !(this.current && this.starting[this.current.id]));
  model = $derived(app.models.find((model) => model.id === this.current?.modelId) ?? null);

  private openSeq = 0;
  private refetchTimer: ReturnType<typeof setTimeout> | null = null;
  private rereadTimer: ReturnType<typeof setTimeout> | null = null;
  /** consultation changes this page made and adopted (a re-read asked for before one is older) */
  private changes = 0;

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

  /** What to show for a message: while it streams, the copy held up to where the deltas received
   * start, followed by them, or the copy alone when it is longer (read after them) or when a gap
   * lies between the two (a re-read is on its way). Both are beginnings of the same reply. */
  contentOf(message: Message): string {
    const held = message.status === 'streaming' ? this.live[message.id] : undefined;
    if (!held || held.start > message.content.length) return message.content;
    const joined = message.content.slice(0, held.start) + held.text;
    return joined.length > message.content.length ? joined : message.content;
  }

  applyDelta(messageId: string, delta: string, offset: number): void {
    const held = this.live[messageId];
    if (held && offset === held.start + held.text.length) held.text += delta;
    else this.live[messageId] = {start: offset, text: delta}; // the first one seen, or after a gap
    const message = this.current?.messages.find((m) => m.id === messageId && m.status === 'streaming');
    if (message && this.live[messageId]!.start > message.content.length) {
      // deltas before these were not received (a reconnect): the services' copy fills the gap
      this.rereadTimer ??= setTimeout(() => {
        this.rereadTimer = null;
        void this.refetch();
      }, STREAM_REREAD_MS);
    }
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
    const changes = this.changes;
    try {
      const fresh = await api('consultations.get', {id: current.id});
      if (seq !== this.openSeq || this.current?.id !== fresh.id) return;
      // A change made here was answered while this read was on its way: this copy may be from
      // before it (the two requests travel on different connections) and would undo it on
      // screen — a settings drawer would then see its saved values as unsaved. Read again.
      if (changes !== this.changes) this.onChanged(fresh.id);
      else this.adopt(fresh);
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
    const {userMessage, assistantMessage, otherMessage} = await this.starts(consultation.id, () => api('chat.send', input));
    if (this.current?.id !== consultation.id) return;
    this.upsert(userMessage);
    this.upsert(assistantMessage);
    if (otherMessage) this.upsert(otherMessage);
    this.current.currentLeafId = assistantMessage.id;
  }

  async regenerate(messageId: string): Promise<void> {
    const consultation = this.current;
    if (!consultation) return;
    const {assistantMessage} = await this.starts(consultation.id, () => api('chat.regenerate', {consultationId: consultation.id, messageId}));
    if (this.current?.id !== consultation.id) return;
    this.upsert(assistantMessage);
    this.current.currentLeafId = assistantMessage.id;
  }

  /** Runs a call that starts replies: `idle` is false until it has answered. */
  private async starts<R>(consultationId: string, call: () => Promise<R>): Promise<R> {
    this.starting[consultationId] = (this.starting[consultationId] ?? 0) + 1;
    try {
      return await call();
    } finally {
      const left = (this.starting[consultationId] ?? 1) - 1;
      if (left > 0) this.starting[consultationId] = left;
      else delete this.starting[consultationId];
    }
  }

  /** Prefers one of two side-by-side answers (stored as a preference pair; the thread goes on from it). */
  async prefer(chosenId: string): Promise<void> {
    if (!this.current) return;
    this.adoptChange(await api('chat.prefer', {consultationId: this.current.id, chosenId}));
  }

  async stop(): Promise<void> {
    if (this.current) await api('chat.stop', {consultationId: this.current.id});
  }

  async selectBranch(messageId: string): Promise<void> {
    if (!this.current) return;
    this.adoptChange(await api('consultations.selectBranch', {id: this.current.id, messageId}));
  }

  async update(patch: ConsultationPatch): Promise<void> {
    if (!this.current) return;
    this.adoptChange(await api('consultations.update', {id: this.current.id, ...patch}));
  }

  private upsert(message: Message): void {
    const messages = this.current?.messages;
    if (!messages) return;
    const index = messages.findIndex((known) => known.id === message.id);
    if (index < 0) messages.push(message);
    else if (!isStaleCopy(messages[index]!, message)) messages[index] = message;
  }

  /** The answer of a change made here: newer than any re-read still on its way. */
  private adoptChange(fresh: Consultation): void {
    this.changes += 1;
    this.adopt(fresh);
  }

  /** Takes a fresh copy from the services, keeping replies we already saw finish or with more text. */
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

/** A copy of a message that is older than the one we hold: 'streaming' where ours has finished,
 * or streaming with less text than ours (a stored reply's text only grows while it streams). */
function isStaleCopy(held: Message, incoming: Message): boolean {
  if (incoming.status !== 'streaming') return false;
  return held.status !== 'streaming' || incoming.content.length < held.content.length;
}

export const chat = new ChatState();
