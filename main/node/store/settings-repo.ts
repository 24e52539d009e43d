import type {Settings} from '../../common/contract.js';
import type {Db} from './database.js';

export const DEFAULT_HF_ENDPOINT = 'https://huggingface.co';

export const DEFAULT_SETTINGS: Settings = {
  language: 'zh-CN',
  hfEndpoint: DEFAULT_HF_ENDPOINT,
  gpuMode: 'auto',
  defaultModelId: null,
  consultationDefaults: null,
  updateServerUrl: null,
  trainingPresets: [],
  allowedFolders: [],
};

/** Key/value settings, each value JSON. Unknown keys in the table are ignored, so an older build
 * can read a store that a newer one added settings to. */
export class SettingsRepo {
  constructor(private readonly db: Db) {}

  get(): Settings {
    const rows = this.db.prepare('SELECT key, value FROM settings').all() as {key: string; value: string}[];
    const settings: Settings = {...DEFAULT_SETTINGS};
    for (const {key, value} of rows) {
      if (Object.hasOwn(DEFAULT_SETTINGS, key)) (settings as unknown as Record<string, unknown>)[key] = JSON.parse(value);
    }
    return settings;
  }

  update(changes: Partial<Settings>): Settings {
    const upsert = this.db.prepare(
      'INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
    );
    this.db.transaction(() => {
      for (const [key, value] of Object.entries(changes)) if (value !== undefined) upsert.run(key, JSON.stringify(value));
    })();
    return this.get();
  }
}
