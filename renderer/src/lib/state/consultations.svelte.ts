// The consultation list on the left: search, create, rename, delete with undo.
import {tick} from 'svelte';
import type {Consultation, ConsultationSummary} from '../../../../main/common/contract';
import {t, ui} from '../lang.svelte';
import {app} from './app.svelte';
import {chat} from './chat.svelte';
import {api} from './client';
import {toasts} from './toasts.svelte';

/** How long the undo offer stays after a delete. */
export const UNDO_MS = 8000;

class ConsultationList {
  items = $state<ConsultationSummary[]>([]);
  query = $state('');
  loaded = $state(false);
  error = $state<unknown>(null);

  private seq = 0;
  /** consultations this tab made: only those are ever replaced, never one made in another tab
   * (where someone may be typing into it) or through the API; kept in the tab's sessionStorage so a
   * reload does not forget them */
  private madeHere = new Set<string>(readMadeHere());
  private timer: ReturnType<typeof setTimeout> | null = null;

  async refresh(): Promise<void> {
    const seq = ++this.seq;
    const query = this.query.trim();
    try {
      const items = await api('consultations.list', query ? {query} : {});
      if (seq !== this.seq) return; // an older search answering late
      this.items = items;
      this.error = null;
      this.loaded = true;
    } catch (error) {
      if (seq === this.seq) this.error = error;
    }
  }

  /** Coalesces bursts (typing in the search box, a stream of change events). */
  scheduleRefresh(ms = 250): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.refresh();
    }, ms);
  }

  setQuery(query: string): void {
    this.query = query;
    this.scheduleRefresh();
  }

  /** Creates and opens a consultation. The one open now is put away at once (synchronously, on
   * the click), so text typed right after the click cannot land in the old consultation's box.
   * Consultations this page made and nobody used are replaced by the new one (the service moves
   * those still untouched to the bin), so pressing 新建问诊 again and again leaves one empty
   * consultation in the list, not a pile of them — and the new one starts from today's defaults. */
  async create(): Promise<Consultation> {
    const modelId = modelForNewConsultation();
    const previous = chat.current?.id ?? null;
    chat.close();
    chat.opening = 'new';
    try {
      await tick(); // a settings drawer closed by the click has kept its unsaved edits by now
      const made = [...this.madeHere];
      const replaces = made.filter((id) => !waitingInThisTab(id));
      // this page's language for the default title and system prompt (people sharing one serve may differ)
      const consultation = await api('consultations.create', {language: ui.language, ...(modelId ? {modelId} : {}), ...(replaces.length ? {replaces} : {})});
      // the ones not replaced were used (and stay so); those with something waiting may be later
      this.madeHere = new Set([...made.filter(waitingInThisTab), consultation.id]);
      keepMadeHere(this.madeHere);
      chat.show(consultation);
      this.query = ''; // a new consultation must be visible, whatever was searched
      void this.refresh();
      return consultation;
    } catch (error) {
      chat.opening = null;
      if (previous) void chat.open(previous);
      throw error;
    }
  }

  async rename(id: string, title: string): Promise<void> {
    const updated = await api('consultations.update', {id, title});
    const item = this.items.find((summary) => summary.id === id);
    if (item) item.title = updated.title;
    if (chat.current?.id === id) chat.current.title = updated.title;
  }

  /** Deletes (to the bin, with an undo offer) and answers the consultation now listed where it
   * was — the next one, or the one before when it was last; null when the list is empty — so
   * keyboard focus can go there. */
  async remove(summary: ConsultationSummary): Promise<string | null> {
    await api('consultations.delete', {id: summary.id});
    const position = this.items.findIndex((item) => item.id === summary.id);
    this.items = this.items.filter((item) => item.id !== summary.id);
    const next = this.items[Math.min(Math.max(position, 0), this.items.length - 1)] ?? null;
    const wasOpen = chat.current?.id === summary.id;
    if (wasOpen) {
      if (next) void chat.open(next.id);
      else chat.close();
    }
    // a title is the person's own text: isolated (FSI … PDI), its direction marks cannot reorder
    // the sentence around it
    const title = isolate(summary.title || t('untitled'));
    toasts.show(() => t('deleted', {title}), {
      ms: UNDO_MS,
      action: {
        label: () => t('undo'),
        run: async () => {
          await api('consultations.restore', {id: summary.id});
          await this.refresh();
          if (wasOpen) await chat.open(summary.id);
          toasts.show(() => t('restored', {title}));
        },
      },
    });
    return next?.id ?? null;
  }
}

/** Text a person wrote, set inside a sentence as a bidi isolate (U+2068 FIRST STRONG ISOLATE …
 * U+2069 POP DIRECTIONAL ISOLATE): the string form of <bdi>. */
export function isolate(text: string): string {
  // built from code points: Svelte's compiler warns about bidi characters in source, even escaped
  return String.fromCodePoint(0x2068) + text + String.fromCodePoint(0x2069);
}

const MADE_HERE_KEY = 'zhongjing.madeHere';

function readMadeHere(): string[] {
  try {
    const kept = JSON.parse(sessionStorage.getItem(MADE_HERE_KEY) ?? '[]') as unknown;
    return Array.isArray(kept) ? kept.filter((id): id is string => typeof id === 'string').slice(0, 50) : [];
  } catch {
    return [];
  }
}

function keepMadeHere(ids: Set<string>): void {
  try {
    sessionStorage.setItem(MADE_HERE_KEY, JSON.stringify([...ids].slice(-50)));
  } catch {
    // storage disabled: remembered for the page's life only
  }
}

/** Half-typed text or unsaved settings wait for this consultation in this tab: it is in use. */
function waitingInThisTab(id: string): boolean {
  return chat.draft(id) !== '' || id in chat.settingsDrafts;
}

/** The model a new consultation starts with: the one last chosen, else the one open now, else
 * the only usable base model. With none, the consultation opens with the "pick a model" prompt. */
function modelForNewConsultation(): string | null {
  const usable = app.baseModels.filter((model) => !model.missing);
  const candidates = [app.settings?.defaultModelId, chat.current?.modelId];
  for (const id of candidates) if (id && usable.some((model) => model.id === id)) return id;
  return usable.length === 1 ? usable[0]!.id : null;
}

export const consultations = new ConsultationList();
