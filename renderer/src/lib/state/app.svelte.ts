// App-wide state: what the services told us at start-up (info, settings), the engine status,
// the registered models (shared by the Models screen and the consultation's model picker),
// which screen is showing, and whether the token was refused.
import type {AppInfo, ConsultationDefaults, EngineStatus, ModelInfo, RemoteEndpoint, Settings} from '../../../../main/common/contract';
import type {Language} from '../i18n';
import {chooseLanguage, pageLanguage, setUiLanguage} from '../lang.svelte';
import {api} from './client';
import {toasts} from './toasts.svelte';

export type Screen = 'consultation' | 'datasets' | 'annotation' | 'training' | 'evaluation' | 'models' | 'settings';
const SCREENS: readonly Screen[] = ['consultation', 'datasets', 'annotation', 'training', 'evaluation', 'models', 'settings'];

/** Screens live in the URL hash (#/models), so reload and back/forward keep the place, and it
 * works alike from file:// (Electron) and http:// (serve). A screen may keep its own place after
 * the first segment (#/datasets/view/<id>/rows); only the first segment picks the screen. */
function screenFromHash(): Screen {
  const name = window.location.hash.replace(/^#\/?/, '').split('/')[0] ?? '';
  return (SCREENS as readonly string[]).includes(name) ? (name as Screen) : 'consultation';
}

class AppState {
  phase = $state<'booting' | 'ready' | 'failed' | 'unauthorized'>('booting');
  bootError = $state<unknown>(null);
  /** serve stopped or is restarting: the event socket is down and reconnecting */
  connectionLost = $state(false);
  info = $state<AppInfo | null>(null);
  settings = $state<Settings | null>(null);
  engine = $state<EngineStatus | null>(null);
  models = $state<ModelInfo[]>([]);
  /** OpenAI-compatible endpoints a consultation may answer with */
  remotes = $state<RemoteEndpoint[]>([]);
  screen = $state<Screen>(screenFromHash());

  baseModels = $derived(this.models.filter((model) => model.kind === 'base'));
  adapterModels = $derived(this.models.filter((model) => model.kind === 'adapter'));

  constructor() {
    window.addEventListener('hashchange', () => (this.screen = screenFromHash()));
  }

  go(screen: Screen): void {
    this.screen = screen;
    if (screenFromHash() !== screen) window.location.hash = `#/${screen}`;
  }

  applySettings(settings: Settings): void {
    this.settings = settings;
    setUiLanguage(pageLanguage(settings.language));
  }

  async reloadModels(): Promise<void> {
    try {
      this.models = await api('models.list', {});
    } catch (error) {
      toasts.error(error);
    }
  }

  async reloadRemotes(): Promise<void> {
    try {
      this.remotes = await api('remotes.list', {});
    } catch (error) {
      toasts.error(error);
    }
  }

  async reloadEngine(): Promise<void> {
    try {
      this.engine = await api('engine.status', {});
    } catch {
      // The indicator keeps its last known state; a later event will correct it.
    }
  }

  /** Switches this browser at once (its own choice, kept in its storage). In the desktop app it is
   * also the stored language (its menu's); under `zhongjing serve`, where several people may share
   * the workstation, one person's switch leaves the others' pages and defaults as they are. */
  async setLanguage(language: Language): Promise<void> {
    chooseLanguage(language);
    if (this.info?.pathsConfined !== false) return; // serve (or not known yet): this browser only
    try {
      this.applySettings(await api('settings.update', {language}));
    } catch (error) {
      toasts.error(error); // this page has switched anyway; only the stored language was not saved
    }
  }

  /** What new consultations start with (null: the app's own defaults). Errors go to the caller. */
  async saveConsultationDefaults(defaults: ConsultationDefaults | null): Promise<void> {
    this.settings = await api('settings.update', {consultationDefaults: defaults});
  }

  /** Remembers the model last chosen, so the next new consultation starts with it. */
  async rememberModel(modelId: string | null): Promise<void> {
    if (!this.settings || this.settings.defaultModelId === modelId) return;
    try {
      this.settings = await api('settings.update', {defaultModelId: modelId});
    } catch {
      // Only a convenience; the consultation itself already has its model.
    }
  }
}

export const app = new AppState();
