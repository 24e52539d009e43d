// Datasets: import jobs (streamed into the store in batches), versions that freeze when used,
// row edits, de-identification review, mixes and exports. The format-specific work (parsing,
// validation, de-identification, mix planning, writers) lives in main/node/datasets/.

import {basename, join} from 'node:path';
import type {MethodInput, MethodOutput} from '../../common/contract.js';
import type {DatasetOrigin, DatasetRow, DatasetSummary, DatasetVersionInfo, Replacement, PhiType} from '../../common/datasets.js';
import {MIX_MAX_ROWS, PHI_PLACEHOLDERS, mixTooLarge} from '../../common/datasets.js';
import {AppError, notFound, toAppError} from '../../common/errors.js';
import {newId} from '../ids.js';
import {checkRegularFile} from '../files.js';
import {writableFolder, type PathPolicy} from '../path-policy.js';
import type {DataPaths} from '../paths.js';
import type {Store} from '../store/index.js';
import type {EventBus} from './event-bus.js';
import {StorageGuard} from './storage-guard.js';
import {logError} from '../log.js';
import {importDataset, undoReplacement, planMix, mixSize, exportRows, type ExportResult, type ImportedRow} from '../datasets/index.js';
import {exportFit, mixComponentEmpty} from '../../common/dataset-fit.js';

const DATASET = {zh: '数据集', en: 'dataset'};
/** Rows are committed in batches: one durable transaction per row would make a 70k import slow. */
const INSERT_BATCH = 500;

const changedDuringMix = (name: string) =>
  new AppError('validation', {zh: `混合期间数据集“${name}”被修改了，本次混合未保存，请重试。`, en: `Dataset "${name}" changed while the mix was being written; nothing was saved, try again.`});

interface ImportJob {
  controller: AbortController;
}

export class DatasetService {
  private readonly jobs = new Map<string, ImportJob>();

  constructor(
    private readonly store: Store,
    private readonly paths: DataPaths,
    private readonly bus: EventBus,
    private readonly storage: StorageGuard = new StorageGuard(bus),
  ) {
    store.datasets.removeUnfinishedImports();
  }

  list(): DatasetSummary[] {
    return this.store.datasets.list();
  }

  resolve(ref: string): {id: string; name: string} {
    const found = this.store.datasets.resolve(ref);
    if (!found) throw notFound(DATASET, ref);
    return found;
  }

  version(id: string, version?: number): DatasetVersionInfo {
    const found = this.store.datasets.version(id, version);
    if (!found) throw notFound(DATASET, version === undefined ? id : `${id} v${version}`);
    return found;
  }

  get(id: string, version?: number): MethodOutput<'datasets.get'> {
    const summary = this.store.datasets.summary(id);
    if (!summary) throw notFound(DATASET, id);
    const chosen = this.version(id, version);
    const versions = this.store.datasets.versions(id);
    const first = versions[0]?.origin;
    return {
      summary,
      version: chosen,
      versions,
      stats: this.store.datasets.stats(chosen.id),
      importReport: first?.type === 'import' ? first.report : null,
      tokenCounts: this.store.datasets.tokenCounts(chosen.id),
    };
  }

  // ───── import ─────

  /** Starts an import job; the caller gets the job id at once and follows the events. */
  startImport(input: MethodInput<'datasets.import'>): {jobId: string} {
    const jobId = newId();
    const fileName = input.fileName ?? (input.path ? basename(input.path) : 'upload.jsonl');
    const controller = new AbortController();
    this.jobs.set(jobId, {controller});
    void this.runImport(jobId, input, fileName, controller.signal).finally(() => this.jobs.delete(jobId));
    return {jobId};
  }

  /** The same import, awaited (CLI). */
  async importNow(input: MethodInput<'datasets.import'>): Promise<{datasetId: string; report: NonNullable<Extract<DatasetOrigin, {type: 'import'}>['report']>}> {
    const fileName = input.fileName ?? (input.path ? basename(input.path) : 'upload.jsonl');
    return this.importInto(input, fileName, new AbortController().signal, () => undefined);
  }

  cancelImport(jobId: string): {cancelled: boolean} {
    const job = this.jobs.get(jobId);
    job?.controller.abort();
    return {cancelled: job !== undefined};
  }

  private async runImport(jobId: string, input: MethodInput<'datasets.import'>, fileName: string, signal: AbortSignal): Promise<void> {
    try {
      const {datasetId, report} = await this.importInto(input, fileName, signal, (progress) =>
        this.bus.emit({type: 'dataset.importProgress', progress: {jobId, fileName, ...progress}}),
      );
      this.bus.emit({type: 'dataset.imported', jobId, datasetId, report, error: null});
      this.bus.emit({type: 'datasets.changed', id: datasetId});
    } catch (error) {
      this.storage.failed(error);
      this.bus.emit({type: 'dataset.imported', jobId, datasetId: null, report: null, error: toAppError(error).localised});
    }
  }

  private async importInto(
    input: MethodInput<'datasets.import'>,
    fileName: string,
    signal: AbortSignal,
    onProgress: (p: {bytesRead: number; totalBytes: number; rowsRead: number; rowsPerSecond: number; etaSeconds: number | null}) => void,
  ) {
    if (input.path) {
      // streamed, so no size limit; but a device, FIFO or /proc file would never end
      try {
        await checkRegularFile(input.path);
      } catch (error) {
        const reason = toAppError(error);
        throw new AppError(reason.code, {zh: `${input.path}：${reason.localised.zh}`, en: `${input.path}: ${reason.localised.en}`});
      }
    }
    const name = this.uniqueName(input.name ?? fileName.replace(/\.(jsonl?|txt|json|csv)$/i, ''));
    const deidentify = input.deidentify ?? true;
    const datasetId = this.store.datasets.create(name);
    const format = input.format ?? 'auto';
    // the origin (with the import report) is written when the import has finished
    const version = this.store.datasets.createVersion(datasetId, null, 'importing');
    const started = performance.now();
    let batch: ImportedRow[] = [];
    const flush = () => {
      this.store.datasets.insertRows(version.id, batch.map((r) => ({position: r.position, row: r.row, hash: r.hash})));
      this.store.datasets.insertReplacements(
        version.id,
        batch.flatMap((r) => r.replacements.map((rep) => ({position: r.position, ...rep}))),
      );
      batch = [];
    };
    try {
      const source = input.path ? {path: input.path} : {content: input.content!, fileName};
      const report = await importDataset(
        source,
        {
          format,
          deidentify,
          dropExactDuplicates: input.dropExactDuplicates ?? false,
          signal,
          onProgress: (p) => {
            const seconds = (performance.now() - started) / 1000;
            const rate = seconds > 0 ? p.rowsRead / seconds : 0;
            const bytesRate = seconds > 0 ? p.bytesRead / seconds : 0;
            onProgress({...p, rowsPerSecond: Math.round(rate), etaSeconds: bytesRate > 0 ? Math.max(0, (p.totalBytes - p.bytesRead) / bytesRate) : null});
          },
        },
        (row) => {
          batch.push(row);
          if (batch.length >= INSERT_BATCH) flush();
        },
      );
      flush();
      if (report.rowsImported === 0)
        throw new AppError('validation', {
          zh: `没有导入任何数据行：共读取 ${report.rowsRead} 行，全部无效。${report.rejectedRows[0] ? `第一处错误（位置 ${report.rejectedRows[0].position}）：${report.rejectedRows[0].reason.zh}` : ''}`,
          en: `No rows imported: ${report.rowsRead} read, all invalid.${report.rejectedRows[0] ? ` First problem (position ${report.rejectedRows[0].position}): ${report.rejectedRows[0].reason.en}` : ''}`,
        }, {report});
      this.store.datasets.setOrigin(version.id, {type: 'import', fileName, format: report.format, deidentified: deidentify, report});
      this.store.datasets.refreshVersion(version.id);
      this.store.datasets.setState(version.id, 'open');
      return {datasetId, report};
    } catch (error) {
      // nothing half-imported stays behind (on a full disk, as soon as there is room again; a
      // restart would remove it too, it is still marked 'importing')
      try {
        this.storage.write(`delete-import:${datasetId}`, () => this.store.datasets.delete(datasetId));
      } catch (cleanup) {
        logError('removing a failed import', cleanup);
      }
      if (signal.aborted) throw new AppError('validation', {zh: '导入已取消。', en: 'Import cancelled.'});
      throw error;
    }
  }

  private uniqueName(base: string): string {
    const clean = base.trim().slice(0, 100) || 'dataset';
    if (!this.store.datasets.nameTaken(clean)) return clean;
    for (let i = 2; ; i++) if (!this.store.datasets.nameTaken(`${clean} (${i})`)) return `${clean} (${i})`;
  }

  // ───── browse and edit ─────

  rows(input: MethodInput<'datasets.rows'>): MethodOutput<'datasets.rows'> {
    const version = this.version(input.id, input.version);
    const {offset = 0, limit = 50, id: _id, version: _v, ...filter} = input;
    return {...this.store.datasets.queryRows(version.id, filter, offset, limit), version: version.version};
  }

  /** The version an edit lands in: the latest if open, else a new open copy of it. */
  private editableVersion(id: string): DatasetVersionInfo {
    const latest = this.version(id);
    if (latest.state === 'open') return latest;
    const copy = this.store.datasets.copyVersion(id, latest);
    return this.version(id, copy.version);
  }

  updateRow(id: string, position: number, row: DatasetRow): {version: number} {
    const target = this.editableVersion(id);
    if (!this.store.datasets.getRow(target.id, position)) throw notFound({zh: '数据行', en: 'row'}, String(position));
    this.store.datasets.replaceRow(target.id, position, row);
    this.store.datasets.refreshVersion(target.id);
    this.bus.emit({type: 'datasets.changed', id});
    return {version: target.version};
  }

  deleteRow(id: string, position: number): {version: number} {
    const target = this.editableVersion(id);
    if (!this.store.datasets.deleteRow(target.id, position)) throw notFound({zh: '数据行', en: 'row'}, String(position));
    this.store.datasets.refreshVersion(target.id);
    this.bus.emit({type: 'datasets.changed', id});
    return {version: target.version};
  }

  update(input: MethodInput<'datasets.update'>): DatasetSummary {
    this.get(input.id);
    if (input.name && input.name !== this.store.datasets.summary(input.id)?.name && this.store.datasets.nameTaken(input.name))
      throw new AppError('validation', {zh: `已有名为“${input.name}”的数据集。`, en: `A dataset named "${input.name}" already exists.`});
    this.store.datasets.rename(input.id, input);
    this.bus.emit({type: 'datasets.changed', id: input.id});
    return this.store.datasets.summary(input.id)!;
  }

  delete(id: string): {deleted: true} {
    if (!this.store.datasets.delete(id)) throw notFound(DATASET, id);
    this.bus.emit({type: 'datasets.changed', id});
    return {deleted: true};
  }

  /** Marks a version as used: from now on edits go to a new version. */
  freeze(id: string, version?: number): DatasetVersionInfo {
    const chosen = this.version(id, version);
    if (chosen.state !== 'frozen') this.store.datasets.setState(chosen.id, 'frozen');
    return {...chosen, state: 'frozen'};
  }

  // ───── de-identification review ─────

  replacements(input: MethodInput<'datasets.replacements'>): MethodOutput<'datasets.replacements'> {
    const version = this.importedVersion(input.id);
    const page = this.store.datasets.replacementPage(version.id, input.status, input.offset ?? 0, input.limit ?? 50);
    return {total: page.total, counts: page.counts, items: page.ids.map((rid) => this.describeReplacement(rid, version))};
  }

  reviewReplacement(id: string, replacementId: string, action: 'confirm' | 'undo'): Replacement {
    const version = this.importedVersion(id);
    const record = this.store.datasets.replacementRecord(replacementId);
    if (!record || record.version_id !== version.id) throw notFound({zh: '替换项', en: 'replacement'}, replacementId);
    if (action === 'confirm') {
      if (record.status === 'pending') this.store.datasets.setReplacementStatus(replacementId, 'confirmed');
      return this.describeReplacement(replacementId, version);
    }
    if (record.status === 'undone') return this.describeReplacement(replacementId, version);
    if (record.original === null)
      throw new AppError('validation', {
        zh: '无法撤销：审核已完成，原文已删除。可直接编辑数据行。',
        en: 'Cannot undo: the review is finished and the originals are erased. Edit the row instead.',
      });
    if (version.state === 'frozen')
      throw new AppError('validation', {
        zh: `无法撤销：版本 ${version.version} 已被使用（混合、导出、训练或标注）并冻结，内容不能再改。可编辑数据行，修改会存为新版本。`,
        en: `Cannot undo: version ${version.version} has been used (a mix, an export, a training run or an annotation project) and is frozen. Edit the row instead; the edit makes a new version.`,
      });
    this.store.db.transaction(() => {
      const row = this.store.datasets.getRow(version.id, record.position)!;
      const {position: _p, hash: _h, split: _s, ...data} = row;
      const span = {start: record.start, end: record.end, type: record.type as PhiType, original: record.original!};
      const field = record.field as 'content' | 'chosen' | 'rejected' | 'text';
      if (field === 'content') data.turns[record.turn_index]!.content = undoReplacement(data.turns[record.turn_index]!.content, span);
      else data[field] = undoReplacement(data[field] ?? '', span);
      this.store.datasets.replaceRow(version.id, record.position, data);
      this.store.datasets.shiftReplacements(version.id, record.position, record.turn_index, record.field, record.start, record.original!.length - (record.end - record.start));
      this.store.datasets.setReplacementStatus(replacementId, 'undone');
      this.store.datasets.refreshVersion(version.id);
    })();
    return this.describeReplacement(replacementId, version);
  }

  finishReview(id: string): {confirmed: number} {
    return {confirmed: this.store.datasets.finishReview(this.importedVersion(id).id)};
  }

  private importedVersion(id: string): DatasetVersionInfo {
    const first = this.store.datasets.versions(id)[0];
    if (!first) throw notFound(DATASET, id);
    return first;
  }

  private describeReplacement(replacementId: string, version: DatasetVersionInfo): Replacement {
    const r = this.store.datasets.replacementRecord(replacementId)!;
    const row = this.store.datasets.getRow(r.version_id, r.position);
    const text = !row ? '' : r.field === 'content' ? (row.turns[r.turn_index]?.content ?? '') : ((row as unknown as Record<string, string | undefined>)[r.field] ?? '');
    const end = r.status === 'undone' ? r.start + (r.original?.length ?? 0) : r.end;
    return {
      id: r.id,
      position: r.position,
      turnIndex: r.turn_index,
      type: r.type as PhiType,
      placeholder: PHI_PLACEHOLDERS[r.type as PhiType] ?? text.slice(r.start, r.end),
      original: r.original,
      context: `${r.start > 30 ? '…' : ''}${text.slice(Math.max(0, r.start - 30), end + 30)}${end + 30 < text.length ? '…' : ''}`,
      status: r.status,
      undoable: r.original !== null && r.status !== 'undone' && version.state !== 'frozen',
    };
  }

  // ───── mixes and exports ─────

  /** A mix is planned at once (bounded by MIX_MAX_ROWS) and then written like an import: into a
   * version in state 'importing', 500 rows per transaction with the event loop free between
   * batches, so a million-row mix no longer stops every other request (it blocked serve for
   * 27 s). The versions it draws from are frozen, and the new version opened, in one transaction
   * at the end, after checking that no source changed meanwhile; a mix that fails half-way
   * deletes what it wrote (and a crash leaves an 'importing' version that the next start
   * removes), so nothing blocks the name and nothing is frozen. */
  async mix(input: MethodInput<'datasets.mix'>): Promise<DatasetSummary> {
    if (this.store.datasets.nameTaken(input.name))
      throw new AppError('validation', {zh: `已有名为“${input.name}”的数据集。`, en: `A dataset named "${input.name}" already exists.`});
    const parts = input.components.map((c, index) => {
      const name = this.resolve(c.datasetId).name;
      const version = this.version(c.datasetId, c.version);
      // a component with nothing to draw from empties the whole mix: say which one and why
      const empty = mixComponentEmpty(this.store.datasets.stats(version.id), c.filter, {index, name, version: version.version});
      if (empty) throw new AppError('validation', empty);
      return {component: c, name, version, shapes: this.store.datasets.rowShapes(version.id)};
    });
    const recipe = {components: input.components, unit: input.unit ?? 'examples', total: input.total, seed: input.seed ?? 42, validationFraction: input.validationFraction ?? 0.05};
    const sources = parts.map((p) => ({datasetId: p.component.datasetId, rows: p.shapes, ratio: p.component.ratio, filter: p.component.filter}));
    // counted before anything is planned: the plan itself would hold every row in memory
    const size = mixSize(sources, recipe);
    if (size.rows > MIX_MAX_ROWS) {
      const most = size.mostRepeated;
      throw new AppError('validation', mixTooLarge(size.rows, most && most.times > 1 ? {name: parts[most.componentIndex]!.name, available: most.available, times: most.times} : undefined), {rows: size.rows, limit: MIX_MAX_ROWS});
    }
    const plan = planMix(sources, recipe);
    if (plan.picks.length === 0)
      throw new AppError('validation', {zh: '按此配比选不出任何数据行（筛选条件下某个组成部分为空）。', en: 'This recipe selects no rows (a component is empty under its filter).'});
    const before = parts.map((p) => p.version.contentHash);
    const datasetId = this.store.datasets.create(input.name);
    const version = this.store.datasets.createVersion(datasetId, null, 'importing');
    try {
      for (let from = 0; from < plan.picks.length; from += INSERT_BATCH) {
        const rows = plan.picks.slice(from, from + INSERT_BATCH).map((pick, i) => {
          const source = this.store.datasets.getRow(parts[pick.componentIndex]!.version.id, pick.position);
          if (!source) throw changedDuringMix(parts[pick.componentIndex]!.name);
          const {position: _p, hash, split: _s, ...row} = source;
          return {position: from + i, row, hash, split: pick.split};
        });
        this.store.db.transaction(() => this.store.datasets.insertRows(version.id, rows))();
        // let other requests (a streaming reply, a ranking save) run between batches
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
      this.store.db.transaction(() => {
        parts.forEach((p, i) => {
          const now = this.version(p.component.datasetId, p.version.version);
          if (now.contentHash !== before[i]) throw changedDuringMix(p.name);
          p.version = this.freeze(p.component.datasetId, p.version.version);
        });
        this.store.datasets.setOrigin(version.id, {
          type: 'mix',
          recipe,
          components: parts.map((p) => ({datasetId: p.component.datasetId, name: p.name, version: p.version.version, contentHash: p.version.contentHash, rows: p.version.rows})),
        });
        this.store.datasets.refreshVersion(version.id);
        this.store.datasets.setState(version.id, 'open');
      })();
    } catch (error) {
      try {
        this.store.datasets.delete(datasetId);
      } catch (cleanup) {
        logError('removing a failed mix', cleanup); // the next start removes it (state 'importing')
      }
      throw error;
    }
    this.bus.emit({type: 'datasets.changed', id: datasetId});
    return this.store.datasets.summary(datasetId)!;
  }

  /** An export a person asked for: a folder they named goes through the path policy (confined
   * under serve; this export's files already there are refused unless `overwrite`). The default
   * folder in <data dir>/exports holds a frozen version's export, the same bytes every time. */
  async export(input: MethodInput<'datasets.export'>, policy: PathPolicy): Promise<MethodOutput<'datasets.export'>> {
    let outDir = input.outDir;
    if (outDir !== undefined) {
      const prefix = `${this.resolve(input.id).name.replace(/[\\/:*?"<>|\s]+/g, '_')}_v${this.version(input.id, input.version).version}.`;
      outDir = await writableFolder(policy, outDir, {overwrite: input.overwrite ?? false, clashes: (names) => names.filter((n) => n.startsWith(prefix))});
    }
    const {dir, result} = await this.exportParts({...input, outDir});
    return {dir, files: result.files, rows: result.rows};
  }

  /** The export with each file's kind and split (a training run's manifest is made from it). */
  async exportParts(input: MethodInput<'datasets.export'>): Promise<{dir: string; result: ExportResult}> {
    const {name} = this.resolve(input.id);
    // refused before anything is frozen or written: no "0 rows" export with an empty dataset_info.json
    const fit = exportFit(this.store.datasets.kinds(this.version(input.id, input.version).id), input.format);
    if (fit.empty) throw new AppError('validation', fit.empty);
    const version = this.freeze(input.id, input.version);
    const safeName = name.replace(/[\\/:*?"<>|\s]+/g, '_');
    const dir = input.outDir ?? join(this.paths.root, 'exports', `${safeName}-v${version.version}-${input.format}`);
    const result = await exportRows(this.store.datasets.iterateRows(version.id), {format: input.format, dir, name: `${safeName}_v${version.version}`});
    return {dir, result};
  }
}

