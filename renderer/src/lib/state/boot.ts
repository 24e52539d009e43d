// Start-up: choose the transport, read what every screen needs, and route events to the stores.
import type {ApiEvent} from '../../../../main/common/contract';
import {chooseClient} from '../api';
import {annotation} from './annotation.svelte';
import {evaluation} from './evaluation.svelte';
import {app} from './app.svelte';
import {chat} from './chat.svelte';
import {api, setClient} from './client';
import {consultations} from './consultations.svelte';
import {datasetImport} from './dataset-import.svelte';
import {datasetView} from './dataset-view.svelte';
import {datasets} from './datasets.svelte';
import {downloads} from './downloads.svelte';
import {training} from './training.svelte';
import {toasts} from './toasts.svelte';
import {pick} from '../lang.svelte';

let started = false;

export async function boot(): Promise<void> {
  if (!started) {
    const choice = chooseClient(() => (app.phase = 'unauthorized'));
    if (choice.kind === 'no-token') {
      app.phase = 'unauthorized';
      return;
    }
    setClient(choice.client);
    choice.client.onEvent(route);
    choice.client.onResync(resync);
    choice.client.onConnection((connected) => (app.connectionLost = !connected));
    started = true;
  }
  app.phase = 'booting';
  try {
    const [info, settings, engine, models] = await Promise.all([
      api('app.info', {}),
      api('settings.get', {}),
      api('engine.status', {}),
      api('models.list', {}),
    ]);
    app.info = info;
    app.applySettings(settings);
    app.engine = engine;
    app.models = models;
    app.phase = 'ready';
    void app.reloadRemotes();
  } catch (error) {
    // Re-read through a function: a 401 may have changed the phase while we awaited.
    if (currentPhase() !== 'unauthorized') {
      app.bootError = error;
      app.phase = 'failed';
    }
    return;
  }
  await consultations.refresh();
  const last = chat.lastOpenedId();
  const first = consultations.items.find((item) => item.id === last) ?? consultations.items[0];
  if (first) await chat.open(first.id);
  void downloads.refresh();
}

function currentPhase(): typeof app.phase {
  return app.phase;
}

function route(event: ApiEvent): void {
  switch (event.type) {
    case 'chat.delta':
      chat.applyDelta(event.messageId, event.delta, event.offset);
      break;
    case 'chat.finished':
      chat.applyFinished(event.consultationId, event.message);
      consultations.scheduleRefresh(); // preview and order change
      break;
    case 'consultations.changed':
      chat.onChanged(event.id);
      consultations.scheduleRefresh();
      break;
    case 'models.changed':
      void app.reloadModels();
      break;
    case 'remotes.changed':
      void app.reloadRemotes();
      break;
    case 'engine.status':
      app.engine = event.status;
      break;
    case 'download.progress':
      downloads.onProgress(event.download);
      break;
    case 'datasets.changed':
      datasets.onChanged(event.id);
      break;
    case 'dataset.importProgress':
      datasetImport.onProgress(event.progress);
      break;
    case 'dataset.imported':
      datasetImport.onImported(event);
      datasets.scheduleRefresh();
      break;
    case 'annotation.changed':
      annotation.onChanged(event.projectId);
      break;
    case 'annotation.progress':
      annotation.onProgress(event);
      break;
    case 'eval.changed':
    case 'eval.progress':
      evaluation.onEvent(event);
      break;
    case 'training.metric':
      training.onMetric(event);
      break;
    case 'training.state':
      training.onState(event.run);
      break;
    case 'storage.diskFull':
      // the server keeps the unsaved text in memory and saves it once there is room: say so
      toasts.show(() => pick(event.message), {tone: event.full ? 'error' : 'info', ms: event.full ? 20_000 : 6000});
      break;
  }
}

/** Events may have been lost while the event socket was down: re-read everything visible. */
function resync(): void {
  if (app.phase !== 'ready') return;
  void app.reloadEngine();
  void app.reloadModels();
  void app.reloadRemotes();
  void consultations.refresh();
  void chat.refetch();
  void downloads.refresh();
  void datasets.refresh();
  void datasetView.reload();
  if (app.screen === 'annotation') void annotation.refresh();
  if (app.screen === 'evaluation') void evaluation.refresh();
  // metrics streamed while the socket was down are in the run's record: read it again
  if (app.screen === 'training') void training.resync();
}
