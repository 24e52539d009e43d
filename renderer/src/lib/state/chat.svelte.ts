// The open consultation and its live replies.
//
// Streaming: `chat.send` / `chat.regenerate` return at once with the new messages; the reply
// text then arrives as `chat.delta` events and is settled by `chat.finished`. Events and the
// call's answer race each other (over HTTP they even travel on different connections), so:
//  • deltas are collected per message id in `live`, whether or not the message is known yet;
//  • a finished (non-streaming) message is never overwritten by an older 'streaming' copy, nor a
//    streaming copy by one with less text (an older snapshot answering late).
//
// What is shown while a reply streams. The deltas this page holds are the whole reply only if it
// was listening before the reply began: a reply this page started, or one that appeared in the
// consultation after an earlier copy of it was read (see `whole`); for those `live` is the text.
// For any other streaming reply — the page was reloaded, or the event socket reconnected,
// mid-stream — the copy read from the services holds the reply's text as it was at that read
// (the services give the text in memory, not only the last 2-s partial save), and each
// `chat.delta` says where it starts (`offset`): a delta that starts within the text held is joined
// there, so the reply streams on; one that leaves a gap (deltas lost) brings a re-read of the
// consultation (at most once a second). A copy never replaces one with more text, so the shown
// text never shrinks, and chat.finished gives the whole of it.
import {SvelteSet} from 'svelte/reactivity';
import type {Consultation, Message, MethodInput} from '../../../../main/common/contract';
import {indexSiblings, threadPath, type SiblingIndex} from '../thread';
import {app} from './app.svelte';
import {api, client} from './client';
import type {SamplingDraft} from '../sampling';

const LAST_OPEN_KEY = 'zhongjing.lastConsultation';
const DRAFT_KEY = 'zhongjing.draft.';
/** how often a reply whose start this page did not see is re-read while it streams (the services
 * save its text every 2 s) */
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
  /** streamed text per assistant message id (any consultation), until its chat.finished */
  live = $state<Record<string, string>>({});
  /** replies whose every delta is in `live` (this page was listening before they began): only
   * for these is `live` the reply's text so far */
  private whole = new SvelteSet<string>();
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
  /** event-socket reconnections so far: deltas may have been lost at each */
  private reconnects = 0;
  private watchingReconnects = false;
  /** `reconnects` when the request behind `current` was sent */
  private heldSince = 0;

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
    const since = this.connection();
    try {
      const consultation = await api('consultations.get', {id});
      if (seq !== this.openSeq) return; // the user clicked another one meanwhile
      this.show(consultation, since);
    } catch (error) {
      if (seq === this.openSeq) this.openError = error;
    } finally {
      if (seq === this.openSeq) this.opening = null;
    }
  }

  /** Shows a consultation we already hold in full (just created, for instance); `since`: the
   * reconnection count when it was asked for (unknown: -1, so no reply is taken as whole on
   * the strength of this copy). */
  show(consultation: Consultation, since = -1): void {
    this.openSeq += 1;
    this.opening = null;
    this.openError = null;
    this.current = consultation;
    this.heldSince = since;
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

  /** What to show for a message. While it streams: for a reply whose every delta we hold, the
   * longer of the stored and the streamed text (both are beginnings of the same reply, and a
   * copy read mid-stream may be ahead of or behind our deltas); for any other, the stored text
   * (see the top of this file). */
  contentOf(message: Message): string {
    if (message.status !== 'streaming' || !this.whole.has(message.id)) return message.content;
    const streamed = this.live[message.id] ?? '';
    return streamed.length > message.content.length ? streamed : message.content;
  }

  applyDelta(messageId: string, delta: string, offset?: number): void {
    this.live[messageId] = (this.live[messageId] ?? '') + delta;
    if (this.whole.has(messageId)) return;
    const message = this.current?.messages.find((m) => m.id === messageId && m.status === 'streaming');
    if (!message) return;
    // A reply whose beginning this page missed (a reload): the copy read holds its text up to
    // some point (the services give the text as it is at the read), and the delta says where it
    // starts — joined there, the reply streams on as it did before the reload.
    if (offset !== undefined && offset <= message.content.length) {
      message.content = message.content.slice(0, offset) + delta;
      return;
    }
    // a gap (deltas lost, or an older service without offsets): read the consultation again
    this.rereadTimer ??= setTimeout(() => {
      this.rereadTimer = null;
      void this.refetch();
    }, STREAM_REREAD_MS);
  }

  applyFinished(consultationId: string, message: Message): void {
    delete this.live[message.id];
    this.whole.delete(message.id);
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
    const since = this.connection();
    try {
      const fresh = await api('consultations.get', {id: current.id});
      if (seq !== this.openSeq || this.current?.id !== fresh.id) return;
      // A change made here was answered while this read was on its way: this copy may be from
      // before it (the two requests travel on different connections) and would undo it on
      // screen — a settings drawer would then see its saved values as unsaved. Read again.
      if (changes !== this.changes) this.onChanged(fresh.id);
      else this.adopt(fresh, since);
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

  /** Runs a call that starts replies: `idle` is false meanwhile, and the replies it answers with
   * began after it was sent, so this page holds all their deltas (unless the event socket
   * reconnected in between). */
  private async starts<R extends {assistantMessage: Message; otherMessage?: Message}>(consultationId: string, call: () => Promise<R>): Promise<R> {
    this.starting[consultationId] = (this.starting[consultationId] ?? 0) + 1;
    const since = this.connection();
    try {
      const answer = await call();
      if (since === this.connection()) {
        this.whole.add(answer.assistantMessage.id);
        if (answer.otherMessage) this.whole.add(answer.otherMessage.id);
      }
      return answer;
    } finally {
      const left = (this.starting[consultationId] ?? 1) - 1;
      if (left > 0) this.starting[consultationId] = left;
      else delete this.starting[consultationId];
    }
  }

  /** Prefers one of two side-by-side answers (stored as a preference pair; the thread goes on from it). */
  async prefer(chosenId: string): Promise<void> {
    if (!this.current) return;
    const since = this.connection();
    this.adoptChange(await api('chat.prefer', {consultationId: this.current.id, chosenId}), since);
  }

  async stop(): Promise<void> {
    if (this.current) await api('chat.stop', {consultationId: this.current.id});
  }

  async selectBranch(messageId: string): Promise<void> {
    if (!this.current) return;
    const since = this.connection();
    this.adoptChange(await api('consultations.selectBranch', {id: this.current.id, messageId}), since);
  }

  async update(patch: ConsultationPatch): Promise<void> {
    if (!this.current) return;
    const since = this.connection();
    this.adoptChange(await api('consultations.update', {id: this.current.id, ...patch}), since);
  }

  /** Event-socket reconnections so far (watched from the first call: the client exists by then). */
  private connection(): number {
    if (!this.watchingReconnects) {
      this.watchingReconnects = true;
      client().onResync(() => {
        // deltas sent while the socket was down are gone: no reply's `live` text is whole now
        this.reconnects += 1;
        this.whole.clear();
      });
    }
    return this.reconnects;
  }

  private upsert(message: Message): void {
    const messages = this.current?.messages;
    if (!messages) return;
    const index = messages.findIndex((known) => known.id === message.id);
    if (index < 0) messages.push(message);
    else if (!isStaleCopy(messages[index]!, message)) messages[index] = message;
  }

  /** The answer of a change made here: newer than any re-read still on its way. */
  private adoptChange(fresh: Consultation, since: number): void {
    this.changes += 1;
    this.adopt(fresh, since);
  }

  /** Takes a fresh copy from the services (asked for when `since` reconnections had happened),
   * keeping replies we already saw finish or with more text. */
  private adopt(fresh: Consultation, since: number): void {
    const old = this.current;
    if (old && old.id === fresh.id) {
      const known = new Map(old.messages.map((message) => [message.id, message]));
      // A reply missing from the copy we held began after that copy was read: if the socket has
      // not reconnected since, every delta of it reached this page.
      const listening = this.heldSince === this.connection() && since === this.heldSince;
      fresh.messages = fresh.messages.map((message) => {
        const mine = known.get(message.id);
        if (!mine && listening && message.status === 'streaming') this.whole.add(message.id);
        return mine && isStaleCopy(mine, message) ? $state.snapshot(mine) : message;
      });
    }
    this.current = fresh;
    this.heldSince = since;
  }
}

/** A copy of a message that is older than the one we hold: 'streaming' where ours has finished,
 * or streaming with less text than ours (a stored reply's text only grows while it streams). */
function isStaleCopy(held: Message, incoming: Message): boolean {
  if (incoming.status !== 'streaming') return false;
  return held.status !== 'streaming' || incoming.content.length < held.content.length;
}

export const chat = new ChatState();
