// One settings card's save: what the card shows while and after it stores a change (saving, saved,
// the error) and the one call that stores it and adopts the settings the services answer with.
import type {MethodInput} from '../../../../main/common/contract';
import {app} from './app.svelte';
import {api} from './client';

export class SettingSave {
  saving = $state(false);
  saved = $state(false);
  error = $state<unknown>(null);

  /** Stores `patch`; `then` runs inside the same attempt (its failure is this save's error). */
  async save(patch: MethodInput<'settings.update'>, then?: () => Promise<void>): Promise<boolean> {
    this.saving = true;
    this.error = null;
    this.saved = false;
    try {
      app.settings = await api('settings.update', patch);
      await then?.();
      this.saved = true;
      return true;
    } catch (caught) {
      this.error = caught;
      return false;
    } finally {
      this.saving = false;
    }
  }
}
