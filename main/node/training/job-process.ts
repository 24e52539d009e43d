// Entry of a training job process (child_process.fork; Electron can use utilityProcess the same
// way as the engine). Training runs here, never in the app's or serve's process: a GGML_ASSERT
// abort, an out-of-memory kill or a hung step ends only this process, and the run resumes from
// its last checkpoint.
//
// In: ZHONGJING_TRAIN_JOB = JSON {runDir, runId, config?} (no config = resume).
// Out (IPC): {type: 'event', event} for every TrainEvent, {type: 'failed', message} on error.
// A {type: 'stop'} message or SIGTERM stops after the current step with a checkpoint; {type:
// 'finish'} ends the run after the current step with its result kept (completed, stopped early).

import type {TrainConfig} from './record.js';
import {runTraining, type TrainEvent} from './run.js';
import {scoreAnswers, type ScoreRequest} from './score.js';

/** A training run (new or resumed), or a scoring request for a reward model. */
/** `finish`: resume only to end after one step with the result (a paused run finished from the UI:
 * said in the spec, not by a message the new process might not be listening for yet). */
export type JobSpec = {runDir: string; runId: string; config?: TrainConfig; finish?: boolean; score?: undefined} | {score: ScoreRequest};

export type JobToHost = {type: 'event'; event: TrainEvent} | {type: 'failed'; message: string} | {type: 'scores'; scores: number[]};
export type HostToJob = {type: 'stop'} | {type: 'finish'};

interface ParentChannel {
  send(message: JobToHost): Promise<void>;
  onMessage(listener: (message: HostToJob) => void): void;
}

function parentChannel(): ParentChannel {
  const parentPort = (process as unknown as {parentPort?: {postMessage(m: unknown): void; on(e: 'message', l: (e: {data: unknown}) => void): void}}).parentPort;
  if (parentPort) {
    return {
      send: async (message) => parentPort.postMessage(message),
      onMessage: (listener) => parentPort.on('message', (event) => listener(event.data as HostToJob)),
    };
  }
  if (!process.send) throw new Error('job-process must be started as a child process with an IPC channel');
  return {
    // resolve once the message is handed to the channel, so the last one is not lost at exit
    send: (message) => new Promise((resolve) => (process.connected ? process.send!(message, undefined, {}, () => resolve()) : resolve())),
    onMessage: (listener) => process.on('message', (message) => listener(message as HostToJob)),
  };
}

const spec = JSON.parse(process.env.ZHONGJING_TRAIN_JOB ?? 'null') as JobSpec | null;
if (!spec) throw new Error('ZHONGJING_TRAIN_JOB is not set');
const channel = parentChannel();
const stop = new AbortController();
const finish = new AbortController();
if (spec && !spec.score && spec.finish) finish.abort();
channel.onMessage((message) => {
  if (message.type === 'stop') stop.abort();
  if (message.type === 'finish') finish.abort();
});
process.on('SIGTERM', () => stop.abort());
// the IPC channel closing means the parent is gone: finish the step, checkpoint, stop
process.on('disconnect', () => stop.abort());

let pending: Promise<void> = Promise.resolve();
try {
  if (spec.score) {
    const scores = await scoreAnswers(spec.score);
    await channel.send({type: 'scores', scores});
    process.exit(0);
  }
  await runTraining({
    runDir: spec.runDir,
    runId: spec.runId,
    config: spec.config,
    signal: stop.signal,
    finishSignal: finish.signal,
    onEvent: (event) => {
      pending = pending.then(() => channel.send({type: 'event', event}));
    },
  });
  await pending;
  process.exit(0);
} catch (error) {
  await pending;
  await channel.send({type: 'failed', message: (error as Error).message});
  process.exit(1);
}
