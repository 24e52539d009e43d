// Remote endpoints: OpenAI-compatible servers a consultation may answer with. The rows live in
// SQLite without their keys; each key is kept by the SecretStore under `remote-<id>`.

import type {MethodInput, RemoteEndpoint} from '../../common/contract.js';
import {AppError, notFound} from '../../common/errors.js';
import type {Store} from '../store/index.js';
import type {RemoteEndpointRow} from '../store/remotes-repo.js';
import type {SecretStore} from '../remote/secrets.js';
import {listModels} from '../remote/openai-client.js';
import type {EventBus} from './event-bus.js';

const ENDPOINT = {zh: '远程服务', en: 'remote endpoint'};
const secretName = (id: string) => `remote-${id}`;

export class RemoteService {
  constructor(
    private readonly store: Store,
    readonly secrets: SecretStore,
    private readonly bus: EventBus,
  ) {}

  private view(row: RemoteEndpointRow): RemoteEndpoint {
    return {...row, keyStorage: this.secrets.kind};
  }

  list(): RemoteEndpoint[] {
    return this.store.remotes.list().map((r) => this.view(r));
  }

  get(id: string): RemoteEndpoint {
    const row = this.store.remotes.get(id);
    if (!row) throw notFound(ENDPOINT, id);
    return this.view(row);
  }

  /** The key, or null when none was given. Never crosses the API. */
  key(id: string): string | null {
    return this.secrets.get(secretName(id));
  }

  add(input: MethodInput<'remotes.add'>): RemoteEndpoint {
    const name = input.name.trim();
    if (this.store.remotes.findByName(name))
      throw new AppError('validation', {zh: `已有名为“${name}”的远程服务。`, en: `A remote endpoint named "${name}" already exists.`});
    const apiKey = input.apiKey?.trim() || null;
    const row = this.store.remotes.add({name, baseUrl: input.baseUrl, model: input.model.trim(), hasKey: apiKey !== null});
    if (apiKey) {
      try {
        this.secrets.set(secretName(row.id), apiKey);
      } catch (error) {
        this.store.remotes.remove(row.id);
        throw error;
      }
    }
    this.bus.emit({type: 'remotes.changed'});
    return this.view(row);
  }

  async test(id: string): Promise<{ok: true; models: string[]; latencyMs: number; modelListed: boolean}> {
    const endpoint = this.get(id);
    const started = Date.now();
    const {ids, answersTo} = await listModels(endpoint, this.key(id));
    return {ok: true, models: ids, latencyMs: Date.now() - started, modelListed: answersTo.includes(endpoint.model)};
  }

  remove(id: string): {removed: true} {
    this.get(id);
    const changed = this.store.db
      .prepare('SELECT id FROM consultations WHERE remote_endpoint_id = ?')
      .all(id) as {id: string}[];
    this.store.remotes.remove(id);
    this.secrets.delete(secretName(id));
    this.bus.emit({type: 'remotes.changed'});
    for (const c of changed) this.bus.emit({type: 'consultations.changed', id: c.id});
    return {removed: true};
  }
}
