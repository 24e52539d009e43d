// One import at a time, kept here (not in the form) so it goes on and stays visible while the
// person looks at other screens. `datasets.import` answers with a job id at once; progress and the
// end arrive as events. A small file can finish before the call's answer arrives, so events for
// a job we do not know yet are held while a start is in flight and replayed once the id is known.
import type {ApiEvent, ImportProgress, MethodInput} from '../../../../main/common/contract';
import type {ImportReport} from '../../../../main/common/datasets';
import {AppError} from '../errors';
import {api} from './client';
import {datasets} from './datasets.svelte';

type ImportedEvent = Extract<ApiEvent, {type: 'dataset.imported'}>;

/** What the form held when the last import started, so a failed or cancelled import can be
 * tried again without typing it all anew (a picked file cannot be restored, a path can). */
export interface ImportFormValues {
  path: string;
  format: NonNullable<MethodInput<'datasets.import'>['format']>;
  name: string;
  deidentify: boolean;
  dropExactDuplicates: boolean;
}
type JobEvent = {type: 'progress'; progress: ImportProgress} | {type: 'imported'; event: ImportedEvent};

const SPEED_POINTS = 60;

class DatasetImport {
  phase = $state<'idle' | 'starting' | 'running' | 'done' | 'failed' | 'cancelled'>('idle');
  jobId = $state<string | null>(null);
  fileName = $state('');
  progress = $state<ImportProgress | null>(null);
  /** recent rows/s, oldest first, for the little curve */
  speedHistory = $state<number[]>([]);
  report = $state<ImportReport | null>(null);
  datasetId = $state<string | null>(null);
  error = $state<unknown>(null);
  cancelling = $state(false);
  lastForm: ImportFormValues = {path: '', format: 'auto', name: '', deidentify: true, dropExactDuplicates: true};

  busy = $derived(this.phase === 'starting' || this.phase === 'running');

  private early = new Map<string, JobEvent[]>();
  /** set once cancel was asked for, so the end that follows reads as "cancelled", not "failed" */
  private cancelRequested = false;

  async start(input: MethodInput<'datasets.import'>, fileName: string): Promise<void> {
    this.reset();
    this.lastForm = {path: input.path ?? '', format: input.format ?? 'auto', name: input.name ?? '', deidentify: input.deidentify ?? true, dropExactDuplicates: input.dropExactDuplicates ?? false};
    this.phase = 'starting';
    this.fileName = fileName;
    try {
      const {jobId} = await api('datasets.import', input);
      this.jobId = jobId;
      this.phase = 'running';
      const held = this.early.get(jobId) ?? [];
      this.early.clear();
      for (const event of held) this.apply(event);
    } catch (error) {
      this.early.clear();
      this.error = error;
      this.phase = 'failed';
    }
  }

  async cancel(): Promise<void> {
    if (!this.jobId || this.phase !== 'running') return;
    this.cancelling = true;
    this.cancelRequested = true;
    try {
      await api('datasets.cancelImport', {jobId: this.jobId});
      // The end still arrives as `dataset.imported` (with no dataset); that sets the phase.
    } finally {
      this.cancelling = false;
    }
  }

  onProgress(progress: ImportProgress): void {
    this.receive(progress.jobId, {type: 'progress', progress});
  }

  onImported(event: ImportedEvent): void {
    this.receive(event.jobId, {type: 'imported', event});
  }

  /** Back to the empty form; a finished import's dataset stays in the list. */
  reset(): void {
    this.phase = 'idle';
    this.jobId = null;
    this.progress = null;
    this.speedHistory = [];
    this.report = null;
    this.datasetId = null;
    this.error = null;
    this.cancelling = false;
    this.cancelRequested = false;
  }

  private receive(jobId: string, event: JobEvent): void {
    if (jobId === this.jobId) this.apply(event);
    else if (this.phase === 'starting') this.early.set(jobId, [...(this.early.get(jobId) ?? []), event].slice(-50));
    // Otherwise it is another tab's import: the list refresh on `datasets.changed` covers it.
  }

  private apply(event: JobEvent): void {
    if (this.phase !== 'running') return;
    if (event.type === 'progress') {
      this.progress = event.progress;
      this.fileName = event.progress.fileName || this.fileName;
      this.speedHistory = [...this.speedHistory, event.progress.rowsPerSecond].slice(-SPEED_POINTS);
      return;
    }
    const {datasetId, report, error} = event.event;
    this.report = report;
    this.datasetId = datasetId;
    if (datasetId) {
      this.phase = 'done';
      this.lastForm = {path: '', format: 'auto', name: '', deidentify: true, dropExactDuplicates: true}; // done: the next import starts afresh
      datasets.scheduleRefresh(0);
    } else if (this.cancelRequested || (error === null && report === null)) {
      this.phase = 'cancelled';
    } else {
      this.phase = 'failed';
      this.error = error ? new AppError('internal', error) : null;
    }
  }
}

export const datasetImport = new DatasetImport();
