// Looking a model up by id, name or path in a data directory's store, for commands that run
// without the services (chat, train): they must not create a store where there is none.

import {existsSync} from 'node:fs';
import type {ModelInfo} from '../../common/contract.js';
import {dataPaths} from '../paths.js';
import {Store} from '../store/index.js';

export function findRegisteredModel(ref: string, dataDir: string): ModelInfo | null {
  const database = dataPaths(dataDir).database;
  if (!existsSync(database)) return null;
  const store = Store.open(database);
  try {
    return store.models.resolve(ref);
  } finally {
    store.close();
  }
}
