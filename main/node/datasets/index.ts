// The dataset engine: pure functions with no database. The store and services
// (main/node/store, main/node/services/dataset-service.ts) call these.

export {importDataset, deidentifyRow, type ImportOptions, type ImportedRow, type FoundReplacement, type ImportProgressInfo, type RowSink} from './importer.js';
export {openRecords, type DatasetSource, type SourceRecord, type Container, type RecordStream} from './records.js';
export {detectFormat, mapRecord, stripPromptWrapper} from './formats.js';
export {validateRow, rowChars, checkChoice} from './validate.js';
export {LIMITS} from './reasons.js';
export {rowHash, versionContentHash, canonicalJson, nearDuplicateKey, normaliseForDuplicates} from './hash.js';
export {deidentifyText, deidentifyTexts, undoReplacement, undoReplacements, type PhiSpan} from './deid.js';
export {planMix, mixSize, type MixComponentInput, type MixPlanRecipe, type MixPlan, type MixPick, type RowShape} from './mix.js';
export {exportRows, datasetInfoEntry, toShareGpt, toAlpaca, toPair, toText, type ExportFormat, type ExportResult, type ExportableRow} from './export.js';
