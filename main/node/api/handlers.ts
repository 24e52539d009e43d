// The contract's methods bound to the services. Both transports call `dispatch`, which
// validates the input against the contract and always answers with an envelope.

import {logError} from '../log.js';
import {methods, isMethodName, type MethodName, type MethodOutput, type Methods} from '../../common/contract.js';
import {AppError, toAppError} from '../../common/errors.js';
import type {CallEnvelope} from '../../common/wire.js';
import type {z} from 'zod';
import type {Services} from '../services/index.js';
import {parseInput} from './validate.js';
import {join} from 'node:path';
import {writeHandoff} from '../handoff/llamafactory.js';
import {readablePath} from '../path-policy.js';

type Handlers = {
  [M in MethodName]: (input: z.output<Methods[M]['input']>) => MethodOutput<M> | Promise<MethodOutput<M>>;
};

/** A model file through the path policy, its refusals in the models' own codes (a missing file is
 * `model_missing`, a folder or device `model_invalid`), as the model screen expects. */
async function modelFilePath(s: Services, raw: string): Promise<string> {
  try {
    return await readablePath(s.pathPolicy, raw);
  } catch (error) {
    if (error instanceof AppError && (error.code === 'not_found' || error.code === 'validation'))
      throw new AppError(error.code === 'not_found' ? 'model_missing' : 'model_invalid', error.localised);
    throw error;
  }
}

export function createHandlers(s: Services): Handlers {
  return {
    'app.info': () => s.appInfo(),
    'settings.get': () => s.store.settings.get(),
    'settings.update': (input) => s.updateSettings(input),

    'models.list': () => s.models.list(),
    // every typed path goes through the one path policy (path-policy.ts; confined under serve)
    'models.inspect': async (input) => s.models.inspect(await modelFilePath(s, input.path)),
    'models.add': async (input) => s.models.add({...input, path: await modelFilePath(s, input.path)}),
    'models.update': (input) => s.models.update(input),
    'models.remove': (input) => s.models.remove(input.id),
    'models.download': (input) => s.models.download(input),
    'models.downloads': () => s.models.downloads(),
    'models.cancelDownload': (input) => s.models.cancelDownload(input.id),
    'models.dismissDownload': (input) => s.models.dismissDownload(input.id),
    'models.catalog': () => s.models.catalog(s.engineStatus()),
    'models.search': (input) => s.models.search(input.query),

    'remotes.list': () => s.remotes.list(),
    'remotes.add': (input) => s.remotes.add(input),
    'remotes.test': (input) => s.remotes.test(input.id),
    'remotes.remove': (input) => s.remotes.remove(input.id),

    'consultations.list': (input) => s.consultations.list(input.query),
    'consultations.create': (input) => s.consultations.create(input),
    'consultations.get': (input) => s.consultations.get(input.id),
    'consultations.update': (input) => s.consultations.update(input),
    'consultations.delete': (input) => s.consultations.delete(input.id),
    'consultations.restore': (input) => s.consultations.restore(input.id),
    'consultations.selectBranch': (input) => s.consultations.selectBranch(input.id, input.messageId),
    'consultations.export': (input) => s.consultations.export(input),

    'chat.send': (input) => s.consultations.send(input),
    'chat.prefer': (input) => s.consultations.prefer(input),
    'chat.preferencesToDataset': async (input) => {
      const records = s.consultations.preferenceRecords();
      if (records.length === 0) return {datasetId: null, pairs: 0};
      // through the one dataset importer, as any preference file would be
      const {datasetId} = await s.datasets.importNow({
        content: records.map((r) => JSON.stringify(r)).join('\n'),
        fileName: 'consultation-preferences.jsonl',
        format: 'pairs',
        name: input.name ?? `问诊偏好对 ${new Date().toISOString().slice(0, 16).replace('T', ' ')}`,
        deidentify: true,
      });
      return {datasetId, pairs: records.length};
    },
    'chat.regenerate': (input) => s.consultations.regenerate(input.consultationId, input.messageId),
    'chat.stop': (input) => s.consultations.stopReply(input.consultationId),

    'engine.status': () => s.engineStatus(),
    'engine.unload': async () => {
      await s.engine.unload();
      return s.engineStatus();
    },

    'datasets.list': () => s.datasets.list(),
    'datasets.import': async (input) => s.datasets.startImport(input.path === undefined ? input : {...input, path: await readablePath(s.pathPolicy, input.path)}),
    'datasets.cancelImport': (input) => s.datasets.cancelImport(input.jobId),
    'datasets.get': (input) => s.datasets.get(input.id, input.version),
    'datasets.rows': (input) => s.datasets.rows(input),
    'datasets.updateRow': (input) => s.datasets.updateRow(input.id, input.position, input.row),
    'datasets.deleteRow': (input) => s.datasets.deleteRow(input.id, input.position),
    'datasets.update': (input) => s.datasets.update(input),
    'datasets.delete': (input) => s.datasets.delete(input.id),
    'datasets.countTokens': (input) => s.countDatasetTokens(input),
    'datasets.replacements': (input) => s.datasets.replacements(input),
    'datasets.reviewReplacement': (input) => s.datasets.reviewReplacement(input.id, input.replacementId, input.action),
    'datasets.finishReview': (input) => s.datasets.finishReview(input.id),
    'datasets.mix': (input) => s.datasets.mix(input),
    'datasets.export': (input) => s.datasets.export(input, s.pathPolicy),

    'annotators.list': () => s.annotation.annotators(),
    'annotators.create': (input) => s.annotation.createAnnotator(input),
    'annotation.projects': () => s.annotation.projects(),
    'annotation.createProject': (input) => s.annotation.createProject(input),
    'annotation.generate': (input) => s.annotation.generate(input.projectId),
    'annotation.cancelGeneration': (input) => s.annotation.cancelGeneration(input.projectId),
    'annotation.deleteProject': (input) => s.annotation.deleteProject(input.projectId),
    'annotation.item': (input) => s.annotation.item(input),
    'annotation.save': (input) => s.annotation.save(input),
    'annotation.undo': (input) => s.annotation.undo(input.itemId, input.annotatorId),
    'annotation.saveDraft': (input) => s.annotation.saveDraft(input),
    'annotation.discardDraft': (input) => s.annotation.discardDraft(input.itemId, input.annotatorId),
    'annotation.disagreements': (input) => s.annotation.disagreements(input.projectId),
    'annotation.adjudicate': (input) => s.annotation.adjudicate(input),
    'annotation.dashboard': (input) => s.annotation.dashboard(input.projectId),
    'annotation.import': (input) => (input.files ? s.annotation.importUploads(input.files) : s.annotation.importFiles(input.paths!, s.pathPolicy)),
    'annotation.export': (input) => s.annotation.export(input, s.pathPolicy),
    'exports.read': (input) => s.readExport(input.path),

    'training.capabilities': () => s.training.capabilities(),
    'training.list': () => s.training.list(),
    'training.get': (input) => s.training.get(input.id),
    'training.start': (input) => s.training.start(input),
    'training.pause': (input) => s.training.pause(input.id),
    'training.resume': (input) => s.training.resume(input.id),
    'training.cancel': (input) => s.training.cancel(input.id),
    'training.finish': (input) => s.training.finish(input.id),

    'eval.list': () => s.evaluation.list(),
    'eval.get': (input) => s.evaluation.summary(input.runId),
    'eval.create': (input) => s.evaluation.create(input),
    'eval.delete': (input) => s.evaluation.delete(input.runId),
    'eval.generate': (input) => s.evaluation.generate(input.runId),
    'eval.judge': (input) => s.evaluation.judge(input),
    'eval.cancel': (input) => s.evaluation.cancel(input.runId),
    'eval.items': (input) => s.evaluation.items(input),
    'eval.blindNext': (input) => s.evaluation.nextBlind(input),
    'eval.rate': (input) => s.evaluation.rate(input),
    'eval.report': (input) => s.evaluation.report(input.runId),
    'eval.export': (input) => s.evaluation.exportReport(input),
    'training.score': (input) => s.training.score(input),
    'annotation.rewardScores': (input) => s.training.scoreAnnotationItem(input.itemId, input.annotatorId, input.runId),
    'training.useResult': (input) => s.training.useResult(input.id, input.step),
    'training.handoff': async (input) => {
      const run = s.training.get(input.id);
      // in the data directory: over serve's SSH tunnel the server's disk is not the user's disk
      const result = await writeHandoff(s, {runId: run.id, outDir: join(s.paths.root, 'exports', `handoff-${run.id}`), hfModel: input.hfModel ?? null, template: input.template ?? null});
      return {
        dir: result.dir,
        stages: result.stages.map((st) => ({runId: st.runId, kind: st.kind, name: st.name, yaml: st.yaml})),
        settings: result.settings.map((st) => ({stage: st.stage, setting: st.setting, value: JSON.stringify(st.value), llamaFactory: st.llamaFactory, note: st.note})),
      };
    },
  };
}

export type Dispatch = (method: string, rawInput: unknown) => Promise<CallEnvelope>;

/** `onError` sees every failure (Services uses it to notice a full disk: storage.failed). */
export function createDispatch(handlers: Handlers, onError?: (error: unknown) => void): Dispatch {
  return async (method, rawInput) => {
    try {
      if (!isMethodName(method))
        throw new AppError('not_found', {zh: `未知的接口方法：${method}`, en: `Unknown API method: ${method}`});
      const input = parseInput(methods[method].input, rawInput);
      const handler = handlers[method] as (input: unknown) => unknown;
      return {ok: true, result: await handler(input)};
    } catch (error) {
      const appError = toAppError(error);
      if (appError.code === 'internal') logError(`api ${method}`, error);
      onError?.(error);
      return {ok: false, error: appError.toPayload()};
    }
  };
}
