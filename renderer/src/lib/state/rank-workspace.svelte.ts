// The ranking workspace of one annotator in one project: which item is on screen, the draft of
// it, and moving between items (save and next, skip, previous/next, undo the last save). One
// instance per (project, annotator) — the component makes a new one when either changes, so a
// draft can never be saved under the wrong name.
//
// Positions: `annotation.item` with 'exact' reads one position; with 'next-unranked' it reads
// the first item this annotator has not ranked, and we pass `position` as where to start looking
// (so skipping moves forward, and saving continues after the saved item). If nothing is left
// from there we look again from the start, for items skipped earlier.
import type {MethodInput} from '../../../../main/common/contract';
import type {ItemView} from '../../../../main/common/annotation-views';
import {AppError} from '../errors';
import {api} from './client';
import {RankingDraft} from './ranking-draft.svelte';

export type WorkspaceStatus =
  | {kind: 'saving'}
  | {kind: 'saved'; position: number}
  | {kind: 'undone'; position: number}
  | {kind: 'need-ranking'}
  | {kind: 'no-more'}
  | {kind: 'nothing-to-undo'};

export class RankWorkspace {
  readonly projectId: string;
  readonly annotatorId: string;
  item = $state<ItemView | null>(null);
  draft = $state<RankingDraft | null>(null);
  phase = $state<'loading' | 'ready' | 'empty' | 'failed'>('loading');
  error = $state<unknown>(null);
  busy = $state(false);
  status = $state<WorkspaceStatus | null>(null);
  /** the save made last in this session, for 撤销上次保存 once the next item is showing */
  lastSaved = $state<{itemId: string; position: number; canUndo: boolean} | null>(null);
  /** when the draft on screen is unsaved work kept earlier: the time it was kept */
  restored = $state<string | null>(null);
  /** the draft as last kept (or as shown), so an unchanged draft is not written again */
  private kept: string | null = null;

  /** Undo applies to the item on screen if it has an earlier state, else to the save just made. */
  undoTarget = $derived.by(() => {
    if (this.item?.mine?.canUndo) return {itemId: this.item.id, position: this.item.position};
    return this.lastSaved?.canUndo ? this.lastSaved : null;
  });

  constructor(projectId: string, annotatorId: string) {
    this.projectId = projectId;
    this.annotatorId = annotatorId;
  }

  start(): Promise<void> {
    return this.run(async () => this.show(await this.fetch({direction: 'next-unranked'})));
  }

  async saveAndNext(): Promise<void> {
    const {item, draft} = this;
    if (this.busy || !item || !draft) return;
    if (!draft.touched) {
      this.status = {kind: 'need-ranking'};
      return;
    }
    await this.run(async () => {
      this.status = {kind: 'saving'};
      try {
        // based on the save this screen showed: one made meanwhile in another window is not replaced unasked
        await api('annotation.save', {itemId: item.id, annotatorId: this.annotatorId, ...draft.payload(), basedOn: item.mine?.savedAt ?? null});
      } catch (error) {
        this.status = null;
        if (error instanceof AppError && error.code === 'conflict') {
          // the message says a second save replaces the other window's; let it, keeping this draft
          const fresh = await this.fetch({direction: 'exact', position: item.position}).catch(() => null);
          if (fresh && this.item?.id === fresh.id) this.item = {...this.item, mine: fresh.mine, progress: fresh.progress};
        }
        throw error;
      }
      // Durable once the call answered: only now may the screen say so.
      this.status = {kind: 'saved', position: item.position};
      const [next, saved] = await Promise.all([this.nextUnranked(item.position + 1), this.fetch({direction: 'exact', position: item.position})]);
      this.lastSaved = {itemId: item.id, position: item.position, canUndo: saved?.mine?.canUndo ?? false};
      this.show(next);
    });
  }

  /**
   * Keeps unsaved work on the item on screen (durably, in the store): called a moment after each
   * change, before moving to another item, and when the workspace goes away (another annotator,
   * another screen). An item left and found again brings the work back, as Argilla keeps drafts.
   */
  async keepDraft(): Promise<void> {
    const {item, draft} = this;
    if (!item || !draft || !draft.hasWork) return;
    const payload = draft.payload();
    const json = JSON.stringify(payload);
    if (json === this.kept) return;
    this.kept = json;
    try {
      await api('annotation.saveDraft', {itemId: item.id, annotatorId: this.annotatorId, ...payload});
    } catch {
      this.kept = null; // try again with the next change or move
    }
  }

  /** Throws the kept draft away and shows the item as last saved (or fresh). */
  async discardDraft(): Promise<void> {
    const item = this.item;
    if (this.busy || !item) return;
    await this.run(async () => {
      await api('annotation.discardDraft', {itemId: item.id, annotatorId: this.annotatorId});
      this.show(await this.fetch({direction: 'exact', position: item.position}));
    });
  }

  /** Next unranked item after this one, leaving this one as it is. */
  async skip(): Promise<void> {
    const current = this.item;
    if (this.busy || !current) return;
    await this.keepDraft();
    await this.run(async () => {
      let next = await this.nextUnranked(current.position + 1);
      if (next?.id === current.id) next = await this.fetch({direction: 'exact', position: current.position + 1});
      if (!next || next.id === current.id) this.status = {kind: 'no-more'};
      else this.show(next);
    });
  }

  /** One position back or forward, ranked or not: for reviewing and correcting earlier work. */
  async step(delta: -1 | 1): Promise<void> {
    const current = this.item;
    if (this.busy || !current || current.position + delta < 0) return;
    await this.keepDraft();
    await this.run(async () => {
      const next = await this.fetch({direction: 'exact', position: current.position + delta});
      if (next) this.show(next);
      else this.status = {kind: 'no-more'};
    });
  }

  /** From the "all done" page back to the first item, to review. */
  async review(): Promise<void> {
    await this.run(async () => this.show(await this.fetch({direction: 'exact', position: 0})));
  }

  async undo(): Promise<void> {
    const target = this.undoTarget;
    if (this.busy || !target) return;
    await this.run(async () => {
      const {restored} = await api('annotation.undo', {itemId: target.itemId, annotatorId: this.annotatorId});
      if (!restored) {
        this.status = {kind: 'nothing-to-undo'};
        return;
      }
      this.lastSaved = null;
      // Show the item as it is now, so the person sees what the undo brought back.
      this.show(await this.fetch({direction: 'exact', position: target.position}));
      this.status = {kind: 'undone', position: target.position};
    });
  }

  /** The counts beside the item on screen, read again (generation adds items while a person
   * ranks); the item and the work on it stay as they are. */
  async refreshProgress(): Promise<void> {
    const current = this.item;
    if (!current || this.busy) return;
    const fresh = await this.fetch({direction: 'exact', position: current.position}).catch(() => null);
    if (fresh && this.item?.id === fresh.id) this.item = {...this.item, progress: fresh.progress};
  }

  /** A position past either end is "no item", whether the services answer null or not_found. */
  private async fetch(where: Pick<MethodInput<'annotation.item'>, 'direction' | 'position'>): Promise<ItemView | null> {
    try {
      return await api('annotation.item', {projectId: this.projectId, annotatorId: this.annotatorId, ...where});
    } catch (error) {
      if (where.direction === 'exact' && error instanceof AppError && error.code === 'not_found') return null;
      throw error;
    }
  }

  private async nextUnranked(from: number): Promise<ItemView | null> {
    return (await this.fetch({direction: 'next-unranked', position: from})) ?? (await this.fetch({direction: 'next-unranked'}));
  }

  private show(item: ItemView | null): void {
    this.item = item;
    // unsaved work kept earlier wins over the last save (the service sends a draft only when newer)
    const source = item?.draft ?? item?.mine;
    this.draft = item ? new RankingDraft(item.candidates.length, source ? {...source, marks: source.marks} : undefined, item.candidates.map((c) => c.index)) : null;
    this.restored = item?.draft?.savedAt ?? null;
    this.kept = this.draft?.hasWork ? JSON.stringify(this.draft.payload()) : null;
    this.phase = item ? 'ready' : 'empty';
    this.error = null;
  }

  /** One call sequence at a time: a double Enter must not save twice or skip two items. */
  private async run(work: () => Promise<void>): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    this.error = null;
    try {
      await work();
    } catch (error) {
      this.error = error;
      if (!this.item) this.phase = 'failed';
    } finally {
      this.busy = false;
    }
  }
}
