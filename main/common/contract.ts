// The one API contract between the UI and the services. Both transports (Electron IPC through
// the preload, HTTP + WebSocket for `zhongjing serve`) carry exactly these methods and events,
// validated against these schemas on the service side. The renderer imports this file for its
// TYPES only, so zod never ships in the renderer bundle.
//
// Naming: methods are `<area>.<verb>`, events are `<area>.<happening>`.

import {z} from 'zod';
import type {
  DatasetRow,
  DatasetStats,
  DatasetSummary,
  DatasetVersionInfo,
  ImportReport,
  Replacement,
  StoredRow,
} from './datasets.js';
import {MIX_MAX_ROWS, MIX_MAX_TOKENS, mixTooLarge} from './datasets.js';
import type {HandoffSummary, TrainingCapabilities, TrainingConfig, TrainingKind, TrainingMetric, TrainingRun, TrainingRunSummary} from './training.js';
import {LORA_TARGETS, TRAINING_KINDS} from './training.js';
import type {AnnotationDashboard, AnnotationProjectSummary, Annotator, DisagreementView, ItemView} from './annotation-views.js';
import type {LocalisedText} from './errors.js';
import type {BlindPairView, EvalItemView, EvalReportView, EvalRunSummary} from './evaluation-views.js';
import {EVAL_MAX_ITEMS} from './evaluation.js';
import {checkUpdateServerUrl} from './update-server.js';
import {checkRemoteBaseUrl} from './remote-url.js';
import type {CatalogEntry, MachineMemory} from './model-catalog.js';

/** Largest message a person may send. 200k characters is far beyond any real consultation turn
 * (and beyond the context of every model we ship for), yet small enough that a pasted 1 MB blob
 * is refused at the boundary with a clear error instead of travelling to the engine. */
export const MAX_MESSAGE_CHARS = 200_000;
export const MAX_SYSTEM_PROMPT_CHARS = 20_000;
export const MAX_TITLE_CHARS = 200;

const id = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'invalid id');

/** A name or title a person gives: trimmed, 1–max characters, and something visible in it — one
 * made only of zero-width or other format characters (U+200B, U+2060, U+FEFF…) would be a blank
 * entry in every list that nobody can tell apart or click on. */
const hasVisible = (text: string) => /[^\s\p{Cf}\p{Cc}]/u.test(text);
const INVISIBLE_NAME = {localised: {zh: '名称不能只由空白或不可见字符组成。', en: 'A name cannot consist only of blank or invisible characters.'}};
const visibleName = (max: number) => z.string().trim().min(1).max(max).refine(hasVisible, {params: INVISIBLE_NAME});
/** https anywhere, http only on a private address (update-server.ts); stored normalised. */
const updateServerUrl = z.string().max(1000).transform((value, ctx) => {
  const checked = checkUpdateServerUrl(value);
  if (checked.ok) return checked.url;
  ctx.addIssue({code: 'custom', message: checked.reason.en, params: {localised: checked.reason}});
  return z.NEVER;
});
const language = z.enum(['zh-CN', 'en']);
/** http(s) only, no credentials, query or fragment (remote-url.ts); stored without a trailing "/". */
const remoteBaseUrl = z.string().max(1000).transform((value, ctx) => {
  const checked = checkRemoteBaseUrl(value);
  if (checked.ok) return checked.url;
  ctx.addIssue({code: 'custom', message: checked.reason.en, params: {localised: checked.reason}});
  return z.NEVER;
});

// ───────────── domain ─────────────

export const samplingSchema = z.strictObject({
  temperature: z.number().min(0).max(2),
  topP: z.number().gt(0).max(1),
  topK: z.number().int().min(0).max(1000),
  minP: z.number().min(0).max(1),
  repeatPenalty: z.number().min(1).max(2),
  maxTokens: z.number().int().min(1).max(32_768),
  /** null = a fresh random seed per reply */
  seed: z.number().int().min(0).max(2 ** 31 - 1).nullable(),
});
export type Sampling = z.infer<typeof samplingSchema>;

export const DEFAULT_SAMPLING: Sampling = {
  temperature: 0.7,
  topP: 0.9,
  topK: 40,
  minP: 0.05,
  repeatPenalty: 1.1,
  maxTokens: 1024,
  seed: null,
};

/** 'auto' lets node-llama-cpp fit as many layers as the GPU holds; a number pins it (0 = CPU). */
export const gpuLayersSchema = z.union([z.literal('auto'), z.number().int().min(0).max(1000)]);
export type GpuLayers = z.infer<typeof gpuLayersSchema>;

export interface ModelInfo {
  id: string;
  name: string;
  path: string;
  kind: 'base' | 'adapter';
  architecture: string;
  parameterCount: number;
  quantization: string;
  contextLength: number | null;
  fileSizeBytes: number;
  sha256: string | null;
  hasChatTemplate: boolean;
  gpuLayers: GpuLayers;
  /** the file was moved or deleted after registration */
  missing: boolean;
  addedAt: string;
}

export type GgufSummary = Omit<ModelInfo, 'id' | 'name' | 'gpuLayers' | 'missing' | 'addedAt' | 'sha256'>;

export type MessageRole = 'user' | 'assistant';
export type MessageStatus = 'complete' | 'streaming' | 'stopped' | 'error' | 'interrupted';

export interface MessageMeta {
  /** side by side: which of the two responders wrote this reply ('own' = the consultation's) */
  compare?: 'own' | 'other';
  modelId?: string;
  adapterIds?: string[];
  promptTokens?: number;
  completionTokens?: number;
  tokensPerSecond?: number;
  /** earlier turns left out because the conversation outgrew the model's context */
  trimmedTurns?: number;
  stopReason?: string;
  /** the sampling seed actually used, so a reply can be reproduced */
  seed?: number;
  error?: {code: string; message: {zh: string; en: string}};
  /** the reply came from an OpenAI-compatible endpoint, not a local model */
  remote?: {endpointId: string; name: string; model: string};
}

/** An OpenAI-compatible endpoint (llama-server, vLLM, a gateway). The key itself never leaves the
 * services: `hasKey` says whether one is kept, `keyStorage` where ('keychain' = the OS keychain
 * through Electron's safeStorage; 'file' = a 0600 file in <data>/secrets/, no keychain here). */
export interface RemoteEndpoint {
  id: string;
  name: string;
  baseUrl: string;
  model: string;
  hasKey: boolean;
  keyStorage: 'keychain' | 'file';
  createdAt: string;
}

export interface Message {
  id: string;
  parentId: string | null;
  role: MessageRole;
  content: string;
  status: MessageStatus;
  createdAt: string;
  meta: MessageMeta;
}

export interface ConsultationSummary {
  id: string;
  title: string;
  modelId: string | null;
  /** set: replies come from this OpenAI-compatible endpoint instead of the local model */
  remoteEndpointId: string | null;
  createdAt: string;
  updatedAt: string;
  /** messages on the branch on screen (what the person reads), not on every branch */
  messageCount: number;
  preview: string;
}

/** A second responder answering beside the consultation's own (side by side). */
export type CompareWith = {modelId: string; adapterIds: string[]} | {remoteEndpointId: string};

export interface Consultation extends ConsultationSummary {
  systemPrompt: string;
  adapterIds: string[];
  sampling: Sampling;
  /** side by side: every turn is also answered by this responder; null = one answer */
  compare: CompareWith | null;
  /** the clinician's choices between side-by-side answers: chosen reply id → the other one */
  preferences: {userMessageId: string; chosenId: string; rejectedId: string}[];
  /** every message of every branch; the visible thread is the path root → currentLeafId */
  messages: Message[];
  currentLeafId: string | null;
}

export interface Settings {
  language: 'zh-CN' | 'en';
  /** base URL that replaces https://huggingface.co for downloads (a mirror, for mainland China) */
  hfEndpoint: string;
  /** 'auto' uses CUDA/Vulkan/Metal when present; 'cpu' never offloads */
  gpuMode: 'auto' | 'cpu';
  defaultModelId: string | null;
  /** what a new consultation starts with, saved from a consultation's settings drawer; null =
   * the app's own (DEFAULT_SAMPLING and the default prompt in the UI language) */
  consultationDefaults: ConsultationDefaults | null;
  /** the hospital's own update server (feed files + installers), checked only when a person asks
   * (Help → Check for updates); null = none, updates off. Checked by checkUpdateServerUrl. */
  updateServerUrl: string | null;
  /** named training run configurations saved from the new-run form (LlamaBoard's save/load) */
  trainingPresets: TrainingPreset[];
  /** serve mode: folders besides the data directory that typed paths may read and write
   * (absolute, resolved); the desktop app and the CLI are not confined */
  allowedFolders: string[];
}

/** A new-run form as it was saved: objective, model, data and every setting. Ids that no longer
 * exist when it is loaded are left out by the form. */
export interface TrainingPreset {
  name: string;
  savedAt: string;
  kind: TrainingKind;
  modelId: string | null;
  datasets: {datasetId: string; version: number}[];
  annotationProjects: string[];
  initAdapterModelId: string | null;
  rewardRunId: string | null;
  config: TrainingConfig;
}

export interface ConsultationDefaults {
  /** null = the app's default prompt, in the UI language at the time the consultation is made */
  systemPrompt: string | null;
  sampling: Sampling;
}

export interface EngineStatus {
  state: 'stopped' | 'starting' | 'ready' | 'crashed';
  pid: number | null;
  threads: number;
  gpu: string | null;
  loadedModelId: string | null;
  /** total VRAM of the engine's GPU in bytes, once the engine has started on one */
  vramBytes: number | null;
  restarts: number;
  lastError: {zh: string; en: string} | null;
}

export interface HfSearchResult {
  endpoint: string;
  repos: {repo: string; downloads: number | null; likes: number | null; files: string[]}[];
}

export interface DownloadInfo {
  id: string;
  url: string;
  fileName: string;
  receivedBytes: number;
  totalBytes: number | null;
  state: 'running' | 'paused' | 'done' | 'failed' | 'cancelled';
  error: {zh: string; en: string} | null;
  modelId: string | null;
}

export interface DatasetDetail {
  summary: DatasetSummary;
  version: DatasetVersionInfo;
  versions: DatasetVersionInfo[];
  stats: DatasetStats;
  /** the import report of the first version, when the dataset was imported */
  importReport: ImportReport | null;
  /** tokens of this version as counted by each model it was counted for */
  tokenCounts: {modelId: string; modelName: string; tokens: number}[];
}

export interface ImportProgress {
  jobId: string;
  fileName: string;
  bytesRead: number;
  totalBytes: number;
  rowsRead: number;
  rowsPerSecond: number;
  etaSeconds: number | null;
}

export interface AppInfo {
  version: string;
  dataDir: string;
  modelsDir: string;
  cpuCores: number;
  defaultSystemPrompt: {zh: string; en: string};
  defaultSampling: Sampling;
  maxMessageChars: number;
  /** where remote endpoints' API keys are kept here (see RemoteEndpoint.keyStorage) */
  remoteKeyStorage: 'keychain' | 'file';
  /** serve: typed paths are held to the data directory and these folders (settings + --allow-dir) */
  pathsConfined: boolean;
  allowedRoots: string[];
}

// ───────────── methods ─────────────

const empty = z.strictObject({});
export const trainingConfigSchema = z.strictObject({
  rank: z.number().int().min(1).max(256),
  alpha: z.number().positive().max(1024),
  dropout: z.number().min(0).max(0.9),
  targets: z.array(z.enum(LORA_TARGETS as unknown as ['q', 'k', 'v', 'o', 'gate', 'up', 'down'])).min(1),
  learningRate: z.number().positive().max(1),
  weightDecay: z.number().min(0).max(1),
  warmupSteps: z.number().int().min(0).max(100_000),
  steps: z.number().int().min(1).max(10_000_000).nullable(),
  epochs: z.number().positive().max(100),
  batchSize: z.number().int().min(1).max(256),
  gradientAccumulation: z.number().int().min(1).max(1024),
  maxSequenceLength: z.number().int().min(16).max(131_072),
  clipGradNorm: z.number().min(0).max(100),
  seed: z.number().int().min(0).max(2 ** 31 - 1),
  checkpointEvery: z.number().int().min(0).max(1_000_000),
  evalEvery: z.number().int().min(0).max(1_000_000),
  gradientCheckpointing: z.number().int().min(0).max(1),
  validationFraction: z.number().min(0).max(0.5),
  beta: z.number().positive().max(10),
  labelSmoothing: z.number().min(0).max(0.49),
  margin: z.number().min(0).max(100),
  centerRewards: z.number().min(0).max(10),
  ppoEpochs: z.number().int().min(1).max(32),
  miniBatches: z.number().int().min(1).max(256),
  klCoef: z.number().min(0).max(10),
  klTarget: z.number().min(0).max(1000),
  klEstimator: z.number().int().refine((v) => v === 1 || v === 3, 'the KL estimator is 1 (k1) or 3 (k3)'),
  clipRange: z.number().gt(0).lt(1),
  clipRangeValue: z.number().gt(0).max(100),
  vfCoef: z.number().min(0).max(100),
  gamma: z.number().min(0).max(1),
  lam: z.number().min(0).max(1),
  whitenAdvantages: z.number().int().min(0).max(1),
  temperature: z.number().min(0).max(2),
  topP: z.number().gt(0).max(1),
  maxNewTokens: z.number().int().min(1).max(4096),
  missingEosPenalty: z.number().min(0).max(100),
  rewardClip: z.number().min(0).max(1000),
  normalizeRewards: z.number().int().min(0).max(1),
  klStop: z.number().min(0).max(10_000),
  rewardDropChecks: z.number().int().min(0).max(100),
  minResponseTokens: z.number().min(0).max(4096),
  minDistinct2: z.number().min(0).max(1),
});
const trainingPresetSchema = z.strictObject({
  name: visibleName(80),
  savedAt: z.string().max(40),
  kind: z.enum(TRAINING_KINDS as unknown as ['sft', 'pt', 'rm', 'dpo', 'ppo']),
  modelId: id.nullable(),
  datasets: z.array(z.strictObject({datasetId: id, version: z.number().int().min(1)})).max(16),
  annotationProjects: z.array(id).max(16),
  initAdapterModelId: id.nullable(),
  rewardRunId: id.nullable(),
  config: trainingConfigSchema,
}) satisfies z.ZodType<TrainingPreset>;
/** An annotator's ranking of one item (saved, or kept as a draft). */
const rankingInput = z.strictObject({
  itemId: id,
  annotatorId: id,
  ranking: z.array(z.array(z.number().int().min(0).max(15)).min(1)).min(1).max(16),
  marks: z.array(z.record(z.string(), z.union([z.literal(1), z.literal(2), z.literal(3)]))).max(16).default([]),
  comment: z.string().max(5000).default(''),
  allWrong: z.boolean().default(false),
  correction: z.string().max(MAX_MESSAGE_CHARS).nullable().default(null),
});
const datasetFormats = ['cmtmedqa', 'single', 'disc', 'sharegpt', 'alpaca', 'pairs', 'text', 'cmexam', 'cmbclin'] as const;
const turnSchema = z.strictObject({role: z.enum(['system', 'user', 'assistant']), content: z.string().max(MAX_MESSAGE_CHARS)});
export const datasetRowSchema = z.strictObject({
  kind: z.enum(['dialogue', 'safety', 'preference', 'text']),
  turns: z.array(turnSchema).max(200),
  chosen: z.string().max(MAX_MESSAGE_CHARS).optional(),
  rejected: z.string().max(MAX_MESSAGE_CHARS).optional(),
  text: z.string().max(1_000_000).optional(),
  department: z.string().max(100).optional(),
  subDepartment: z.string().max(100).optional(),
  source: z.string().max(200).optional(),
  sourceId: z.string().max(200).optional(),
  tags: z.array(z.string().max(50)).max(20).optional(),
  // benchmark rows (CMExam, CMB-Clin): an edited row comes back with these, and a strict object
  // would refuse it
  choice: z
    .strictObject({
      question: z.string().max(MAX_MESSAGE_CHARS),
      options: z.array(z.strictObject({letter: z.string().regex(/^[A-Z]$/), text: z.string().max(MAX_MESSAGE_CHARS)})).min(1).max(26),
      answer: z.array(z.string().regex(/^[A-Z]$/)).min(1).max(26),
    })
    .optional(),
  askEachTurn: z.literal(true).optional(),
}) satisfies z.ZodType<DatasetRow>;
const byId = z.strictObject({id});

export const methods = {
  'app.info': {input: empty, output: {} as AppInfo},
  'settings.get': {input: empty, output: {} as Settings},
  'settings.update': {
    input: z.strictObject({
      language: language.optional(),
      hfEndpoint: z.url({protocol: /^https?$/}).max(500).optional(),
      gpuMode: z.enum(['auto', 'cpu']).optional(),
      defaultModelId: id.nullable().optional(),
      /** null turns updates off */
      updateServerUrl: updateServerUrl.nullable().optional(),
      /** null goes back to the app's own defaults */
      consultationDefaults: z
        .strictObject({systemPrompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).nullable(), sampling: samplingSchema})
        .nullable()
        .optional(),
      /** the whole list (the form replaces a preset of the same name) */
      trainingPresets: z.array(trainingPresetSchema).max(100).optional(),
      /** the whole list; each must be an existing folder (not / nor /proc) */
      allowedFolders: z.array(z.string().min(1).max(4096)).max(50).optional(),
    }),
    output: {} as Settings,
  },

  'models.list': {input: empty, output: [] as ModelInfo[]},
  'models.inspect': {input: z.strictObject({path: z.string().min(1).max(4096)}), output: {} as GgufSummary},
  /** Registers a GGUF once: the same file again (by any path to it) answers the registered model
   * with `alreadyRegistered: true` and changes nothing. */
  'models.add': {
    input: z.strictObject({path: z.string().min(1).max(4096), name: z.string().min(1).max(200).optional()}),
    output: {} as ModelInfo & {alreadyRegistered: boolean},
  },
  'models.update': {
    input: z.strictObject({id, name: z.string().min(1).max(200).optional(), gpuLayers: gpuLayersSchema.optional()}),
    output: {} as ModelInfo,
  },
  'models.remove': {input: byId, output: {} as {removed: true}},
  'models.download': {
    input: z.strictObject({
      /** https URL of a .gguf, or `hf:owner/repo/path/file.gguf[@revision]` */
      source: z.string().min(3).max(2000),
      sha256: z.string().regex(/^[a-fA-F0-9]{64}$/).optional(),
    }),
    output: {} as DownloadInfo,
  },
  'models.downloads': {input: empty, output: [] as DownloadInfo[]},
  /** The curated GGUFs (no network) with this machine's memory, for the "fits" hints. */
  'models.catalog': {input: empty, output: {} as {entries: CatalogEntry[]; machine: MachineMemory}},
  /** Searches the configured Hugging Face endpoint (or mirror) for GGUF repositories; called only
   * when the person presses 搜索 (the app is offline by design). */
  'models.search': {input: z.strictObject({query: z.string().trim().min(1).max(200)}), output: {} as HfSearchResult},
  'models.cancelDownload': {input: byId, output: {} as DownloadInfo},
  /** Removes a download that is not running from the list, with its partial file. */
  'models.dismissDownload': {input: byId, output: {} as {dismissed: true}},

  'remotes.list': {input: empty, output: [] as RemoteEndpoint[]},
  /** The key goes to the SecretStore (keychain or 0600 file), never to SQLite. */
  'remotes.add': {
    input: z.strictObject({
      name: visibleName(200),
      baseUrl: remoteBaseUrl,
      model: z.string().trim().min(1).max(300),
      apiKey: z.string().trim().max(4096).optional(),
    }),
    output: {} as RemoteEndpoint,
  },
  /** Connection test: GET {baseUrl}/models with the key. */
  'remotes.test': {input: byId, output: {} as {ok: true; models: string[]; latencyMs: number; modelListed: boolean}},
  /** Consultations that used it go back to their local model; their stored replies stay. */
  'remotes.remove': {input: byId, output: {} as {removed: true}},

  'consultations.list': {input: z.strictObject({query: z.string().max(200).optional()}), output: [] as ConsultationSummary[]},
  'consultations.create': {
    input: z.strictObject({
      /** blank: the default title */
      title: z.string().max(MAX_TITLE_CHARS).refine((text) => text.trim() === '' || hasVisible(text), {params: INVISIBLE_NAME}).optional(),
      modelId: id.nullable().optional(),
      systemPrompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).optional(),
      /** the asking page's language, for the default title and system prompt (else Settings') */
      language: language.optional(),
      /** consultations this one replaces: each that is still untouched (no message, never changed
       * since it was made) goes to the bin, as a delete does, so repeated 新建问诊 leaves one */
      replaces: z.array(id).max(100).optional(),
    }),
    output: {} as Consultation,
  },
  'consultations.get': {input: byId, output: {} as Consultation},
  'consultations.update': {
    input: z.strictObject({
      id,
      title: visibleName(MAX_TITLE_CHARS).optional(),
      systemPrompt: z.string().max(MAX_SYSTEM_PROMPT_CHARS).optional(),
      modelId: id.nullable().optional(),
      /** replies from this remote endpoint (remotes.list); null = the local model again */
      remoteEndpointId: id.nullable().optional(),
      adapterIds: z.array(id).max(8).optional(),
      sampling: samplingSchema.partial().optional(),
      /** side by side with a second model (+ adapters) or endpoint; null = off */
      compare: z
        .union([z.strictObject({modelId: id, adapterIds: z.array(id).max(8).default([])}), z.strictObject({remoteEndpointId: id})])
        .nullable()
        .optional(),
    }),
    output: {} as Consultation,
  },
  /** soft delete: `consultations.restore` undoes it; the row is purged after a week */
  'consultations.delete': {input: byId, output: {} as {deleted: true}},
  'consultations.restore': {input: byId, output: {} as ConsultationSummary},
  'consultations.selectBranch': {input: z.strictObject({id, messageId: id}), output: {} as Consultation},
  'consultations.export': {
    input: z.strictObject({id, format: z.enum(['markdown', 'json']), language: language.optional()}),
    output: {} as {fileName: string; mimeType: string; content: string},
  },

  /** Appends a user turn (under `parentId`, default the current leaf; naming the parent of an
   * earlier user turn makes an edited sibling branch) and starts the reply. Returns at once; the
   * reply streams as `chat.delta` events and ends with `chat.finished`. */
  'chat.send': {
    input: z.strictObject({
      consultationId: id,
      text: z.string().trim().min(1, 'empty message').max(MAX_MESSAGE_CHARS, 'message too long'),
      parentId: id.nullable().optional(),
    }),
    /** otherMessage: the side-by-side answer when the consultation compares two responders */
    output: {} as {userMessage: Message; assistantMessage: Message; otherMessage?: Message},
  },
  /** A new sibling reply to the same user turn; the old reply stays as a branch. */
  /** The clinician prefers one of two side-by-side answers: stored as a preference pair (the reward
   * model's training data) and that answer's branch becomes the one the consultation goes on from. */
  'chat.prefer': {input: z.strictObject({consultationId: id, chosenId: id}), output: {} as Consultation},
  /** Every clinician choice so far as a dataset of preference pairs (for the reward model). */
  'chat.preferencesToDataset': {input: z.strictObject({name: visibleName(120).optional()}), output: {} as {datasetId: string | null; pairs: number}},
  'chat.regenerate': {input: z.strictObject({consultationId: id, messageId: id}), output: {} as {assistantMessage: Message}},
  'chat.stop': {input: z.strictObject({consultationId: id}), output: {} as {stopped: boolean}},

  'engine.status': {input: empty, output: {} as EngineStatus},
  /** Ends the engine process and with it the loaded model (its memory is freed); the next reply
   * starts the engine again. Refused while a reply or a count is running. */
  'engine.unload': {input: empty, output: {} as EngineStatus},

  // ───────────── datasets ─────────────
  'datasets.list': {input: empty, output: [] as DatasetSummary[]},
  /** Starts an import and returns its job id at once; progress arrives as `dataset.importProgress`
   * and the end as `dataset.imported`. A file on this machine is named by `path`; a browser
   * without file-system access sends the file itself as `content` (up to 6 MB). */
  'datasets.import': {
    input: z.strictObject({
      path: z.string().min(1).max(4096).optional(),
      content: z.string().max(6 * 1024 * 1024).optional(),
      fileName: z.string().min(1).max(255).optional(),
      format: z.enum(['auto', ...datasetFormats]).optional(),
      name: visibleName(120).optional(),
      deidentify: z.boolean().optional(),
      /** leave out rows identical to an earlier row of the file (default false) */
      dropExactDuplicates: z.boolean().optional(),
    }).refine((v) => (v.path === undefined) !== (v.content === undefined), {message: 'give either path or content'}),
    output: {} as {jobId: string},
  },
  'datasets.cancelImport': {input: z.strictObject({jobId: id}), output: {} as {cancelled: boolean}},
  'datasets.get': {input: z.strictObject({id, version: z.number().int().min(1).optional()}), output: {} as DatasetDetail},
  'datasets.rows': {
    input: z.strictObject({
      id,
      version: z.number().int().min(1).optional(),
      query: z.string().max(200).optional(),
      department: z.string().max(100).optional(),
      source: z.string().max(200).optional(),
      kind: z.enum(['dialogue', 'safety', 'preference', 'text']).optional(),
      minTurns: z.number().int().min(0).max(1000).optional(),
      maxTurns: z.number().int().min(0).max(1000).optional(),
      split: z.enum(['train', 'validation']).optional(),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(200).default(50),
    }),
    output: {} as {total: number; rows: StoredRow[]; version: number},
  },
  /** Edits a row. An open version changes in place; a frozen one gets a new open version. */
  'datasets.updateRow': {
    input: z.strictObject({id, position: z.number().int().min(0), row: datasetRowSchema}),
    output: {} as {version: number},
  },
  'datasets.deleteRow': {input: z.strictObject({id, position: z.number().int().min(0)}), output: {} as {version: number}},
  'datasets.update': {
    input: z.strictObject({id, name: visibleName(120).optional(), description: z.string().max(2000).optional()}),
    output: {} as DatasetSummary,
  },
  'datasets.delete': {input: byId, output: {} as {deleted: true}},
  /** Counts tokens with a model's own tokenizer and chat template (in the engine process). */
  'datasets.countTokens': {
    input: z.strictObject({id, version: z.number().int().min(1).optional(), modelId: id}),
    output: {} as {tokens: number; rows: number; modelId: string},
  },
  'datasets.replacements': {
    input: z.strictObject({
      id,
      status: z.enum(['pending', 'confirmed', 'undone']).optional(),
      offset: z.number().int().min(0).default(0),
      limit: z.number().int().min(1).max(200).default(50),
    }),
    output: {} as {total: number; items: Replacement[]; counts: Record<Replacement['status'], number>},
  },
  'datasets.reviewReplacement': {
    input: z.strictObject({id, replacementId: id, action: z.enum(['confirm', 'undo'])}),
    output: {} as Replacement,
  },
  /** Confirms every pending replacement and erases the originals from the store. */
  'datasets.finishReview': {input: byId, output: {} as {confirmed: number}},
  'datasets.mix': {
    input: z
      .strictObject({
        name: visibleName(120),
        components: z
          .array(
            z.strictObject({
              datasetId: id,
              version: z.number().int().min(1).optional(),
              ratio: z.number().positive().max(1000),
              filter: z.enum(['single', 'multi', 'any']).optional(),
            }),
          )
          .min(1)
          .max(16),
        unit: z.enum(['examples', 'tokens']).default('examples'),
        /** examples: at most MIX_MAX_ROWS; tokens: at most MIX_MAX_TOKENS (and the service refuses
         * a token total that would make more than MIX_MAX_ROWS rows) */
        total: z.number().int().positive().max(MIX_MAX_TOKENS).optional(),
        seed: z.number().int().min(0).max(2 ** 31 - 1).default(42),
        validationFraction: z.number().min(0).max(0.5).default(0.05),
      })
      .superRefine((mix, ctx) => {
        if (mix.unit === 'examples' && mix.total !== undefined && mix.total > MIX_MAX_ROWS)
          ctx.addIssue({code: 'custom', path: ['total'], message: `at most ${MIX_MAX_ROWS} examples`, params: {localised: mixTooLarge(mix.total)}});
      }),
    output: {} as DatasetSummary,
  },
  'datasets.export': {
    input: z.strictObject({
      id,
      version: z.number().int().min(1).optional(),
      format: z.enum(['sharegpt', 'alpaca', 'llamafactory', 'pairs']),
      /** a directory on this machine; default: <data dir>/exports/<name>-v<version>-<format> */
      outDir: z.string().min(1).max(4096).optional(),
      /** replace this export's files when they are already in outDir */
      overwrite: z.boolean().default(false),
    }),
    output: {} as {dir: string; files: string[]; rows: number},
  },

  // ───────────── expert annotation ─────────────
  'annotators.list': {input: empty, output: [] as Annotator[]},
  'annotators.create': {
    input: z.strictObject({name: visibleName(60), role: z.enum(['annotator', 'expert'])}),
    output: {} as Annotator,
  },
  'annotation.projects': {input: empty, output: [] as AnnotationProjectSummary[]},
  /** Every assistant turn of the chosen dialogues becomes an item (history + patient turn);
   * candidates are generated afterwards with `annotation.generate`. */
  'annotation.createProject': {
    input: z.strictObject({
      name: visibleName(120),
      datasetId: id,
      version: z.number().int().min(1).optional(),
      maxItems: z.number().int().min(1).max(100_000).default(200),
      k: z.number().int().min(2).max(8).default(4),
      minAnnotators: z.number().int().min(1).max(5).default(2),
      generation: z.strictObject({
        modelId: id,
        adapterIds: z.array(id).max(8).default([]),
        temperatures: z.array(z.number().min(0).max(2)).min(1).max(8).default([0.7, 0.9, 1.0, 1.2]),
        maxTokens: z.number().int().min(1).max(4096).default(256),
        seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
      }),
    }),
    output: {} as AnnotationProjectSummary,
  },
  /** Generates the missing candidates in the engine process; progress as `annotation.progress`. */
  'annotation.generate': {input: z.strictObject({projectId: id}), output: {} as {started: boolean}},
  'annotation.cancelGeneration': {input: z.strictObject({projectId: id}), output: {} as {cancelled: boolean}},
  'annotation.deleteProject': {input: z.strictObject({projectId: id}), output: {} as {deleted: true}},
  /** The next item this annotator has not ranked (or `position` exactly); null when none is left.
   * Another annotator's ranking is never part of the answer. */
  'annotation.item': {
    input: z.strictObject({
      projectId: id,
      annotatorId: id,
      position: z.number().int().min(0).optional(),
      direction: z.enum(['next-unranked', 'exact']).default('next-unranked'),
    }),
    output: {} as ItemView | null,
  },
  /** Durable (WAL, synchronous=FULL) before it answers. */
  /** `basedOn`: the savedAt of this annotator's ranking the screen started from (null: none yet).
   * When another window has saved the item since, the save is refused ('conflict'), so two tabs
   * never silently replace each other's work; a second save based on the newer one replaces it. */
  'annotation.save': {input: rankingInput.extend({basedOn: z.string().max(40).nullable().optional()}), output: {} as {savedAt: string}},
  'annotation.undo': {input: z.strictObject({itemId: id, annotatorId: id}), output: {} as {restored: boolean}},
  /** Unsaved work on an item, kept durably as the annotator works and when she leaves it; the item
   * view brings it back. Same shape and checks as a save, but never part of any result. */
  'annotation.saveDraft': {input: rankingInput, output: {} as {savedAt: string}},
  'annotation.discardDraft': {input: z.strictObject({itemId: id, annotatorId: id}), output: {} as {discarded: boolean}},
  'annotation.disagreements': {input: z.strictObject({projectId: id}), output: [] as DisagreementView[]},
  /** The third expert's decision: final, stored beside the originals. */
  'annotation.adjudicate': {
    input: z.strictObject({
      itemId: id,
      expertId: id,
      ranking: z.array(z.array(z.number().int().min(0).max(15)).min(1)).min(1).max(16),
      /** the ability marks the expert stands by (copied from an annotator or their own) */
      marks: z.array(z.record(z.string(), z.union([z.literal(1), z.literal(2), z.literal(3)]))).max(16).default([]),
      comment: z.string().max(5000).default(''),
      allWrong: z.boolean().default(false),
      correction: z.string().max(MAX_MESSAGE_CHARS).nullable().default(null),
    }),
    output: {} as {savedAt: string},
  },
  /** RLHF-Label-Tool files, preference-pair JSONL or annotation packages: named by `paths` on the
   * machine running the services, or uploaded from a browser as `files` (their names keep
   * their meaning: .tsv is the ranked output of RLHF-Label-Tool). */
  'annotation.import': {
    input: z
      .strictObject({
        paths: z.array(z.string().min(1).max(4096)).min(1).max(20).optional(),
        files: z.array(z.strictObject({fileName: z.string().min(1).max(255), content: z.string().max(6 * 1024 * 1024)})).min(1).max(20).optional(),
      })
      .refine((v) => (v.paths === undefined) !== (v.files === undefined), {message: 'give either paths or files'}),
    /** `warnings`: rows left out and guesses made, in both languages; `problems`: the same in English only (logs, CLI) */
    output: {} as {projectIds: string[]; itemsAdded: number; itemsMatched: number; rankingsMerged: number; warnings: LocalisedText[]; problems: string[]},
  },
  'annotation.dashboard': {input: z.strictObject({projectId: id}), output: {} as AnnotationDashboard},
  'annotation.export': {
    input: z.strictObject({
      projectId: id,
      format: z.enum(['pairs-llamafactory', 'pairs-trl', 'ranking', 'corrections', 'package']),
      /** a file on this machine; default: <data dir>/exports/<project>-<format>-<time>.jsonl */
      outPath: z.string().min(1).max(4096).optional(),
      /** replace outPath when it exists */
      overwrite: z.boolean().default(false),
    }),
    output: {} as {path: string; records: number},
  },

  // ───────────── training ─────────────
  'training.capabilities': {input: empty, output: {} as TrainingCapabilities},
  'training.list': {input: empty, output: [] as TrainingRunSummary[]},
  'training.get': {input: byId, output: {} as TrainingRun},
  /** Starts a run of one objective in its own process; metrics stream as `training.metric` events.
   * SFT/PT learn from datasets; the reward model and DPO from preference datasets and the final
   * rankings of annotation projects (no file export in between). */
  'training.start': {
    input: z
      .strictObject({
        kind: z.enum(TRAINING_KINDS as unknown as ['sft', 'pt', 'rm', 'dpo', 'ppo']),
        modelId: id,
        name: visibleName(120).optional(),
        datasets: z.array(z.strictObject({datasetId: id, version: z.number().int().min(1).optional()})).max(16).default([]),
        annotationProjects: z.array(id).max(16).default([]),
        /** an adapter (registered model id) to start from: DPO's / PPO's policy and reference, or an RM initialised from SFT */
        initAdapterModelId: id.optional(),
        /** PPO: the completed reward-model run to optimise against */
        rewardRunId: id.optional(),
        config: trainingConfigSchema.partial().optional(),
      })
      .refine((v) => v.datasets.length + v.annotationProjects.length > 0, {message: 'datasets or annotationProjects: at least one'}),
    output: {} as TrainingRunSummary,
  },
  /** A completed reward model's scores for an item's candidates — only for an annotator who has
   * already saved her ranking of it (never before: the scores must not steer the expert). */
  'annotation.rewardScores': {
    input: z.strictObject({itemId: id, annotatorId: id, runId: id}),
    output: {} as {scores: {index: number; score: number}[]},
  },
  /** Keeps the run's best checkpoint as its result (the default) or its last step instead; the
   * registered adapter follows. */
  'training.useResult': {input: z.strictObject({id, step: z.enum(['best', 'last'])}), output: {} as TrainingRun},
  /** Writes the run's hand-off package for LLaMA-Factory into <data dir>/exports/handoff-<run id>
   * (the same as `zhongjing handoff`), and says which settings have no equivalent. */
  'training.handoff': {
    input: z.strictObject({id, hfModel: z.string().trim().max(200).optional(), template: z.string().trim().max(80).optional()}),
    output: {} as HandoffSummary,
  },
  /** Scores answers with a trained reward model (a completed RM run): evaluation, PPO, the annotation screen. */
  'training.score': {
    input: z.strictObject({
      runId: id,
      items: z.array(z.strictObject({turns: z.array(turnSchema).min(1).max(200), answer: z.string().max(MAX_MESSAGE_CHARS)})).min(1).max(256),
    }),
    output: {} as {scores: number[]},
  },
  /** Pauses after the current step with a checkpoint; `training.resume` continues exactly. */
  'training.pause': {input: byId, output: {} as {pausing: boolean}},
  'training.resume': {input: byId, output: {} as TrainingRunSummary},
  'training.cancel': {input: byId, output: {} as TrainingRunSummary},
  /** Ends a running or paused run after its current (next) step and keeps its result — the best
   * checkpoint by validation, else that step — as a completed run stopped early: a run that is
   * good enough before its last step is not thrown away by a cancel. */
  'training.finish': {input: byId, output: {} as TrainingRunSummary},

  // ───────────── evaluation studio ─────────────
  /** A file of an export under <data dir>/exports, for the browser to download (serve's disk is
   * not the user's disk). Regular files up to 64 MB only. */
  'exports.read': {input: z.strictObject({path: z.string().min(1).max(4096)}), output: {} as {fileName: string; mimeType: string; content: string}},

  'eval.list': {input: empty, output: [] as EvalRunSummary[]},
  'eval.get': {input: z.strictObject({runId: id}), output: {} as EvalRunSummary},
  /** Freezes the dataset version and copies up to maxItems items (the last patient turn of each
   * dialogue, every question of a clinical case, multiple-choice items); answers come with eval.generate. */
  'eval.create': {
    input: z.strictObject({
      name: visibleName(120),
      datasetId: id,
      version: z.number().int().min(1).optional(),
      maxItems: z.number().int().min(1).max(EVAL_MAX_ITEMS).default(100),
      subset: z.enum(['all', 'general', 'safety']).default('all'),
      seed: z.number().int().min(0).max(2 ** 31 - 1).default(1),
      contestants: z
        .array(
          z
            .strictObject({
              label: z.string().trim().max(80).optional(),
              modelId: id.optional(),
              adapterIds: z.array(id).max(8).default([]),
              remoteEndpointId: id.optional(),
              systemPrompt: z.string().max(8000).optional(),
              sampling: samplingSchema.partial().default({}),
            })
            .refine((c) => (c.modelId === undefined) !== (c.remoteEndpointId === undefined), {message: 'a contestant is a model or a remote endpoint'}),
        )
        .min(2)
        .max(8),
    }),
    output: {} as EvalRunSummary,
  },
  'eval.delete': {input: z.strictObject({runId: id}), output: {} as {deleted: true}},
  /** Generates the missing answers (progress as `eval.progress`, phase 'answers'). */
  'eval.generate': {input: z.strictObject({runId: id}), output: {} as {started: boolean}},
  /** Judges every pair of answers in both orders with a local model or an endpoint (phase 'judge'). */
  'eval.judge': {
    input: z.strictObject({
      runId: id,
      judge: z.strictObject({modelId: id.optional(), remoteEndpointId: id.optional()}).refine((j) => (j.modelId === undefined) !== (j.remoteEndpointId === undefined), {message: 'a judge is a model or a remote endpoint'}),
      /** the judge's system prompt; default the run's (the paper's rubric) */
      prompt: z.string().max(20_000).optional(),
    }),
    output: {} as {started: boolean},
  },
  'eval.cancel': {input: z.strictObject({runId: id}), output: {} as {cancelled: boolean}},
  'eval.items': {
    input: z.strictObject({runId: id, offset: z.number().int().min(0).default(0), limit: z.number().int().min(1).max(200).default(20)}),
    output: {} as {total: number; items: EvalItemView[]},
  },
  /** The next item × pair this rater has not rated, blind (no contestant names), or the one named. */
  'eval.blindNext': {
    input: z.strictObject({runId: id, raterId: id, position: z.number().int().min(0).optional(), itemId: id.optional(), pairIndex: z.number().int().min(0).max(64).optional()}),
    output: {} as BlindPairView | null,
  },
  'eval.rate': {
    input: z.strictObject({
      runId: id,
      raterId: id,
      itemId: id,
      pairIndex: z.number().int().min(0).max(64),
      safety: z.enum(['left', 'right', 'tie']),
      quality: z.enum(['left', 'right', 'tie']),
    }),
    output: {} as {saved: true},
  },
  'eval.report': {input: z.strictObject({runId: id}), output: {} as EvalReportView},
  /** The report as a file's content (HTML with charts, CSV of every verdict, or JSON of all). */
  'eval.export': {
    input: z.strictObject({runId: id, format: z.enum(['html', 'csv', 'json']), lang: language.optional()}),
    output: {} as {fileName: string; mimeType: string; content: string},
  },
} as const;

export type Methods = typeof methods;
export type MethodName = keyof Methods;
export type MethodInput<M extends MethodName> = z.input<Methods[M]['input']>;
export type MethodOutput<M extends MethodName> = Methods[M]['output'];
export const methodNames = Object.keys(methods) as MethodName[];

export function isMethodName(name: unknown): name is MethodName {
  return typeof name === 'string' && Object.hasOwn(methods, name);
}

// ───────────── events (service → UI) ─────────────

export type ApiEvent =
  /** `offset`: where in the reply's text the delta starts (the characters before it), so a page
   * that joins mid-reply can append to the text it read */
  | {type: 'chat.delta'; consultationId: string; messageId: string; delta: string; offset: number}
  | {type: 'chat.finished'; consultationId: string; message: Message}
  | {type: 'consultations.changed'; id: string}
  | {type: 'models.changed'}
  | {type: 'remotes.changed'}
  | {type: 'engine.status'; status: EngineStatus}
  | {type: 'download.progress'; download: DownloadInfo & {bytesPerSecond: number; etaSeconds: number | null}}
  | {type: 'datasets.changed'; id: string}
  | {type: 'dataset.importProgress'; progress: ImportProgress}
  | {type: 'training.metric'; runId: string; metric: TrainingMetric; etaSeconds: number | null}
  | {type: 'training.state'; run: TrainingRunSummary}
  | {type: 'annotation.changed'; projectId: string}
  | {type: 'annotation.progress'; projectId: string; done: number; total: number; tokensPerSecond: number; etaSeconds: number | null; finished: boolean; error: {zh: string; en: string} | null}
  | {type: 'eval.changed'; runId: string}
  | {type: 'eval.progress'; runId: string; phase: 'answers' | 'judge'; done: number; total: number; etaSeconds: number | null; finished: boolean; error: {zh: string; en: string} | null; warning: {zh: string; en: string} | null}
  | {type: 'dataset.imported'; jobId: string; datasetId: string | null; report: ImportReport | null; error: {zh: string; en: string} | null}
  /** the store could not write (disk full): `full` until a later write succeeds; what was not yet
   * saved is held in memory and written then */
  | {type: 'storage.diskFull'; full: boolean; message: {zh: string; en: string}};


// ───────────── the client every UI talks to ─────────────

/** What the renderer holds. It cannot tell whether IPC or HTTP is underneath. */
export interface ApiClient {
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodOutput<M>>;
  onEvent(listener: (event: ApiEvent) => void): () => void;
}
