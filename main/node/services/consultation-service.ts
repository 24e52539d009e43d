// Consultations: CRUD, branches, export, and the chat loop that streams a reply from the engine
// into the store and onto the event bus.

import {
  DEFAULT_SAMPLING,
  type Consultation,
  type ConsultationSummary,
  type Message,
  type MessageMeta,
  type MethodInput,
  type ModelInfo,
  type Sampling,
} from '../../common/contract.js';
import {AppError, notFound, toAppError} from '../../common/errors.js';
import {DEFAULT_SYSTEM_PROMPT} from '../../common/prompts.js';
import {newestLeafUnder, threadTo} from '../../common/thread.js';
import type {EngineHost} from '../engine/engine-host.js';
import type {ChatTurn} from '../engine/protocol.js';
import type {Store} from '../store/index.js';
import type {EventBus} from './event-bus.js';
import {StorageGuard} from './storage-guard.js';
import {logError} from '../log.js';
import {consultationToJson, consultationToMarkdown, exportFileBase} from './export.js';
import {titleFromFirstMessage} from '../../common/titles.js';
import type {RemoteService} from './remote-service.js';
import {chatStream} from '../remote/openai-client.js';
import type {RemoteEndpoint} from '../../common/contract.js';

/** What answers a consultation: a local model (with its adapters) or a remote endpoint. */
type Responder = {kind: 'local'; model: ModelInfo; adapters: ModelInfo[]} | {kind: 'remote'; endpoint: RemoteEndpoint};

const CONSULTATION = {zh: '问诊', en: 'consultation'};
const UNTITLED = {zh: '新问诊', en: 'New consultation'};
const AUTO_TITLE_CHARS = 24;
const MESSAGE = {zh: '消息', en: 'message'};
/** A streaming reply is written to disk this often, so a crash loses at most this much text. */
const PARTIAL_SAVE_MS = 2000;
/** Soft-deleted consultations stay restorable this long. */
const TRASH_DAYS = 7;

interface ActiveReply {
  messageId: string;
  controller: AbortController;
}

export class ConsultationService {
  private readonly active = new Map<string, ActiveReply>();
  /** the text of each reply being generated, as it is now: the store has it only as of the last
   * partial save (every PARTIAL_SAVE_MS), and a page reloaded mid-reply must not see less than it
   * showed before */
  private readonly streamingText = new Map<string, string>();

  constructor(
    private readonly store: Store,
    private readonly engine: EngineHost,
    private readonly bus: EventBus,
    private readonly storage: StorageGuard = new StorageGuard(bus),
    private readonly remotes?: RemoteService,
  ) {
    // replies that were streaming when the last process died can never finish now
    store.consultations.markInterruptedReplies();
    store.consultations.purgeDeletedBefore(new Date(Date.now() - TRASH_DAYS * 86_400_000).toISOString());
  }

  list(query?: string): ConsultationSummary[] {
    return this.store.consultations.list(query);
  }

  get(id: string): Consultation {
    const consultation = this.store.consultations.get(id);
    if (!consultation) throw notFound(CONSULTATION, id);
    for (const message of consultation.messages) {
      const now = message.status === 'streaming' ? this.streamingText.get(message.id) : undefined;
      if (now !== undefined && now.length > message.content.length) message.content = now;
    }
    return consultation;
  }

  create(input: MethodInput<'consultations.create'>): Consultation {
    const settings = this.store.settings.get();
    const modelId = input.modelId === undefined ? settings.defaultModelId : input.modelId;
    if (modelId) this.requireModel(modelId);
    // the defaults saved from a settings drawer, else the app's own
    const saved = settings.consultationDefaults;
    const lang = input.language ?? settings.language; // people sharing one serve may read different languages
    const defaultPrompt = saved?.systemPrompt ?? (lang === 'en' ? DEFAULT_SYSTEM_PROMPT.en : DEFAULT_SYSTEM_PROMPT.zh);
    const id = this.store.consultations.create({
      title: input.title?.trim() || (lang === 'en' ? UNTITLED.en : UNTITLED.zh),
      modelId: modelId && this.store.models.get(modelId) ? modelId : null,
      systemPrompt: input.systemPrompt ?? defaultPrompt,
      sampling: saved ? {...DEFAULT_SAMPLING, ...saved.sampling} : DEFAULT_SAMPLING,
    });
    this.bus.emit({type: 'consultations.changed', id});
    for (const replaced of input.replaces ?? []) {
      if (replaced !== id && this.store.consultations.softDeleteIfUntouched(replaced)) {
        this.bus.emit({type: 'consultations.changed', id: replaced});
      }
    }
    return this.get(id);
  }

  update(input: MethodInput<'consultations.update'>): Consultation {
    const current = this.get(input.id);
    if (input.modelId) this.requireModel(input.modelId, 'base');
    if (input.remoteEndpointId) this.requireRemote(input.remoteEndpointId);
    for (const adapterId of input.adapterIds ?? []) this.requireModel(adapterId, 'adapter');
    const compare: Consultation['compare'] | undefined =
      input.compare === undefined || input.compare === null
        ? input.compare
        : 'modelId' in input.compare
          ? {modelId: input.compare.modelId, adapterIds: input.compare.adapterIds ?? []}
          : {remoteEndpointId: input.compare.remoteEndpointId};
    if (compare) this.compareResponder(compare);
    const sampling: Sampling | undefined = input.sampling ? {...current.sampling, ...input.sampling} : undefined;
    this.store.consultations.update(input.id, {
      title: input.title,
      systemPrompt: input.systemPrompt,
      modelId: input.modelId,
      remoteEndpointId: input.remoteEndpointId,
      adapterIds: input.adapterIds,
      sampling,
      compare,
    });
    this.bus.emit({type: 'consultations.changed', id: input.id});
    return this.get(input.id);
  }

  delete(id: string): {deleted: true} {
    this.stopReply(id);
    if (!this.store.consultations.softDelete(id)) throw notFound(CONSULTATION, id);
    this.bus.emit({type: 'consultations.changed', id});
    return {deleted: true};
  }

  restore(id: string): ConsultationSummary {
    if (!this.store.consultations.restore(id)) throw notFound(CONSULTATION, id);
    this.bus.emit({type: 'consultations.changed', id});
    return this.list().find((c) => c.id === id)!;
  }

  selectBranch(id: string, messageId: string): Consultation {
    const consultation = this.get(id);
    if (!consultation.messages.some((m) => m.id === messageId)) throw notFound(MESSAGE, messageId);
    this.store.consultations.setCurrentLeaf(id, newestLeafUnder(consultation.messages, messageId));
    return this.get(id);
  }

  export(input: MethodInput<'consultations.export'>): {fileName: string; mimeType: string; content: string} {
    const consultation = this.get(input.id);
    const models = {
      model: consultation.modelId ? this.store.models.get(consultation.modelId) : null,
      adapters: consultation.adapterIds.map((a) => this.store.models.get(a)).filter((m): m is ModelInfo => m !== null),
    };
    const base = exportFileBase(consultation);
    if (input.format === 'json') {
      return {fileName: `${base}.json`, mimeType: 'application/json', content: consultationToJson(consultation, models)};
    }
    const language = input.language ?? this.store.settings.get().language;
    return {fileName: `${base}.md`, mimeType: 'text/markdown', content: consultationToMarkdown(consultation, models, language)};
  }

  // ───────────── chat ─────────────

  send(input: MethodInput<'chat.send'>): {userMessage: Message; assistantMessage: Message; otherMessage?: Message} {
    const consultation = this.get(input.consultationId);
    this.assertIdle(consultation.id);
    // checked before anything is written: a missing adapter must not roll back the typed text
    const responder = this.responderFor(consultation);
    const second = consultation.compare ? this.compareResponder(consultation.compare) : null;
    const parentId = input.parentId === undefined ? consultation.currentLeafId : input.parentId;
    if (parentId !== null) {
      const parent = consultation.messages.find((m) => m.id === parentId);
      if (!parent) throw notFound(MESSAGE, parentId);
      if (parent.role !== 'assistant')
        throw new AppError('validation', {zh: '新消息只能接在回答之后。', en: 'A new message must follow a reply.'});
    }
    // the person's words, the title and the reply's placeholder go in one durable transaction
    // (one fsync, not three) before anything else can fail
    const {userMessage, assistantMessage, otherMessage} = this.store.db.transaction(() => {
      const user = this.store.consultations.addMessage(consultation.id, {parentId, role: 'user', content: input.text.trim(), status: 'complete'});
      // an untitled consultation is named after its first question, as a clinician would file it
      if (consultation.messages.length === 0 && (consultation.title === UNTITLED.zh || consultation.title === UNTITLED.en)) {
        const title = titleFromFirstMessage(user.content, AUTO_TITLE_CHARS);
        if (title) this.store.consultations.update(consultation.id, {title});
      }
      const own = this.addReplyPlaceholder(consultation, responder, user, second ? 'own' : undefined);
      // side by side: the other answer waits as a sibling and is generated right after
      const other = second ? this.addReplyPlaceholder(consultation, second, user, 'other', false) : null;
      return {userMessage: user, assistantMessage: own, otherMessage: other};
    })();
    this.runReplies(consultation, userMessage, [
      {responder, message: assistantMessage},
      ...(second && otherMessage ? [{responder: second, message: otherMessage}] : []),
    ]);
    return {userMessage, assistantMessage, ...(otherMessage ? {otherMessage} : {})};
  }

  regenerate(consultationId: string, messageId: string): {assistantMessage: Message} {
    const consultation = this.get(consultationId);
    this.assertIdle(consultation.id);
    const responder = this.responderFor(consultation);
    const old = consultation.messages.find((m) => m.id === messageId);
    if (!old) throw notFound(MESSAGE, messageId);
    // regenerating a user turn's reply: named by the reply, or by the user turn itself
    const userMessage = old.role === 'user' ? old : consultation.messages.find((m) => m.id === old.parentId);
    if (!userMessage) throw notFound(MESSAGE, old.parentId ?? messageId);
    const assistantMessage = this.addReplyPlaceholder(consultation, responder, userMessage);
    this.runReplies(consultation, userMessage, [{responder, message: assistantMessage}]);
    return {assistantMessage};
  }

  stopReply(consultationId: string): {stopped: boolean} {
    const reply = this.active.get(consultationId);
    reply?.controller.abort();
    return {stopped: reply !== undefined};
  }

  stopAll(): void {
    for (const reply of this.active.values()) reply.controller.abort();
  }

  /** Resolves when every reply in progress has finished (used by tests and on shutdown). */
  async idle(): Promise<void> {
    while (this.active.size) await new Promise((r) => setTimeout(r, 20));
  }

  /** `leaf` false: the reply is added without becoming the branch on screen (the second of two
   * side-by-side answers: the thread goes on from the consultation's own answer until the
   * clinician prefers the other). */
  private addReplyPlaceholder(consultation: Consultation, responder: Responder, userMessage: Message, compare?: 'own' | 'other', leaf = true): Message {
    const meta: MessageMeta =
      responder.kind === 'local'
        ? {modelId: responder.model.id, adapterIds: responder.adapters.map((a) => a.id)}
        : {remote: {endpointId: responder.endpoint.id, name: responder.endpoint.name, model: responder.endpoint.model}};
    return this.store.consultations.addMessage(
      consultation.id,
      {parentId: userMessage.id, role: 'assistant', content: '', status: 'streaming', meta: compare ? {...meta, compare} : meta},
      leaf,
    );
  }

  /** The side-by-side responder, checked like the consultation's own. */
  private compareResponder(compare: NonNullable<Consultation['compare']>): Responder {
    if ('remoteEndpointId' in compare) return {kind: 'remote', endpoint: this.requireRemote(compare.remoteEndpointId)};
    return {kind: 'local', model: this.requireModel(compare.modelId, 'base'), adapters: compare.adapterIds.map((id) => this.requireModel(id, 'adapter'))};
  }

  /** Replies one after another (the engine runs one generation at a time); the consultation
   * stays busy until the last has finished. */
  private runReplies(consultation: Consultation, userMessage: Message, replies: {responder: Responder; message: Message}[]): void {
    const controller = new AbortController();
    this.active.set(consultation.id, {messageId: replies[0]!.message.id, controller});
    this.bus.emit({type: 'consultations.changed', id: consultation.id});
    void (async () => {
      for (const [i, {responder, message}] of replies.entries()) {
        if (i > 0) {
          if (controller.signal.aborted) {
            // stopped before its turn: it never started
            this.finishUnstarted(consultation.id, message);
            continue;
          }
          this.active.set(consultation.id, {messageId: message.id, controller});
        }
        await this.runReply(consultation, responder, userMessage, message, controller);
      }
      this.active.delete(consultation.id);
      this.bus.emit({type: 'consultations.changed', id: consultation.id});
    })();
  }

  private finishUnstarted(consultationId: string, message: Message): void {
    try {
      this.storage.write(`message:${message.id}`, () => this.store.consultations.updateMessage(message.id, {content: '', status: 'stopped'}));
    } catch (error) {
      logError('saving a stopped reply', error);
    }
    this.bus.emit({type: 'chat.finished', consultationId, message: {...message, status: 'stopped'}});
  }

  /** The clinician prefers one of two side-by-side answers. */
  prefer(input: MethodInput<'chat.prefer'>): Consultation {
    const consultation = this.get(input.consultationId);
    const chosen = consultation.messages.find((m) => m.id === input.chosenId);
    if (!chosen) throw notFound(MESSAGE, input.chosenId);
    const other = chosen.meta.compare ? consultation.messages.find((m) => m.parentId === chosen.parentId && m.id !== chosen.id && m.meta.compare && m.meta.compare !== chosen.meta.compare) : undefined;
    if (!other || chosen.parentId === null)
      throw new AppError('validation', {zh: '只能在并排对比的两个回答之间选择。', en: 'Only one of two side-by-side answers can be preferred.'});
    if (chosen.status === 'streaming' || other.status === 'streaming')
      throw new AppError('busy', {zh: '请等两个回答都生成完再选择。', en: 'Wait until both answers have finished.'});
    this.store.db.transaction(() => {
      this.store.consultations.savePreference(consultation.id, chosen.parentId!, chosen.id, other.id);
      this.store.consultations.setCurrentLeaf(consultation.id, newestLeafUnder(consultation.messages, chosen.id));
    })();
    this.bus.emit({type: 'consultations.changed', id: consultation.id});
    return this.get(consultation.id);
  }

  /** Every clinician choice as TRL-style preference records (the conversation before the turn,
   * the patient's turn, the chosen and the rejected answer), ready for the one dataset importer. */
  preferenceRecords(): {prompt: {role: string; content: string}[]; chosen: string; rejected: string}[] {
    const byConsultation = new Map<string, Consultation>();
    const records: {prompt: {role: string; content: string}[]; chosen: string; rejected: string}[] = [];
    for (const p of this.store.consultations.allPreferences()) {
      let consultation = byConsultation.get(p.consultationId);
      if (!consultation) {
        consultation = this.get(p.consultationId);
        byConsultation.set(p.consultationId, consultation);
      }
      const chosen = consultation.messages.find((m) => m.id === p.chosenId);
      const rejected = consultation.messages.find((m) => m.id === p.rejectedId);
      if (!chosen?.content.trim() || !rejected?.content.trim()) continue;
      const thread = threadTo(consultation.messages, p.userMessageId);
      records.push({
        prompt: [...(consultation.systemPrompt.trim() ? [{role: 'system', content: consultation.systemPrompt}] : []), ...thread.map((m) => ({role: m.role, content: m.content}))],
        chosen: chosen.content,
        rejected: rejected.content,
      });
    }
    return records;
  }

  /** The remote endpoint when the consultation has one (no local model needed then), else the
   * local model and its adapters; every one checked before anything is written. */
  private responderFor(consultation: Consultation): Responder {
    if (consultation.remoteEndpointId) return {kind: 'remote', endpoint: this.requireRemote(consultation.remoteEndpointId)};
    const model = this.modelFor(consultation);
    return {kind: 'local', model, adapters: consultation.adapterIds.map((id) => this.requireModel(id, 'adapter'))};
  }

  private requireRemote(id: string): RemoteEndpoint {
    if (!this.remotes) throw notFound({zh: '远程服务', en: 'remote endpoint'}, id);
    return this.remotes.get(id);
  }

  /** Streams the reply from the engine into `assistant`: deltas on the bus, the text saved every
   * few seconds and at the end, the end announced as `chat.finished`. */
  private runReply(consultation: Consultation, responder: Responder, userMessage: Message, assistant: Message, controller: AbortController): Promise<void> {
    const meta: MessageMeta = assistant.meta;
    const turns: ChatTurn[] = threadTo([...consultation.messages, userMessage], userMessage.id).map((m) => ({
      role: m.role,
      content: m.content,
    }));

    let text = '';
    let lastSave = Date.now();
    // the reply's text and state are written through the storage guard: on a full disk the reply
    // goes on streaming from memory and the newest state is written once there is room again
    const save = (patch: Parameters<Store['consultations']['updateMessage']>[1]): boolean =>
      this.storage.write(`message:${assistant.id}`, () => this.store.consultations.updateMessage(assistant.id, patch));
    const finish = (status: Message['status'], extra: MessageMeta) => {
      this.streamingText.delete(assistant.id);
      const final = {content: text, status, meta: {...meta, ...extra}};
      let saved = false;
      try {
        saved = save(final);
      } catch (error) {
        logError('saving a finished reply', error);
      }
      // as stored, or (disk full) as held in memory until it can be written
      const stored = this.store.consultations.getMessage(consultation.id, assistant.id)!;
      const message: Message = saved ? stored : {...stored, ...final};
      this.bus.emit({type: 'chat.finished', consultationId: consultation.id, message});
    };
    const hooks = {
      signal: controller.signal,
      onText: (delta: string) => {
        const offset = text.length;
        text += delta;
        this.streamingText.set(assistant.id, text);
        this.bus.emit({type: 'chat.delta', consultationId: consultation.id, messageId: assistant.id, delta, offset});
        if (Date.now() - lastSave > PARTIAL_SAVE_MS) {
          lastSave = Date.now();
          try {
            save({content: text});
          } catch (error) {
            // a partial save is a safety net; the reply itself must go on
            logError('partial save of a streaming reply', error);
          }
        }
      },
    };
    const request = {systemPrompt: consultation.systemPrompt, turns, sampling: consultation.sampling};
    const reply: Promise<{text: string; stopReason: string; extra: MessageMeta}> =
      responder.kind === 'local'
        ? this.engine
            .generate(
              {
                modelPath: responder.model.path,
                gpuLayers: responder.model.gpuLayers,
                adapters: responder.adapters.map((a) => ({path: a.path, scale: 1})),
                ...request,
              },
              hooks,
            )
            .then((result) => ({
              text: result.text,
              stopReason: result.stopReason,
              extra: {trimmedTurns: result.trimmedTurns, seed: result.seed, ...tokenMeta(result)},
            }))
        : Promise.resolve()
            .then(() => chatStream(responder.endpoint, this.remotes!.key(responder.endpoint.id), request, hooks))
            .then((result) => ({
              text: result.text,
              stopReason: result.stopReason,
              extra: {...(consultation.sampling.seed !== null ? {seed: consultation.sampling.seed} : {}), ...tokenMeta(result)},
            }));
    return reply.then(
        (result) => {
          text = result.text;
          finish(result.stopReason === 'abort' ? 'stopped' : 'complete', {...result.extra, stopReason: result.stopReason});
        },
        (error: unknown) => {
          const appError = toAppError(error);
          finish('error', {error: {code: appError.code, message: appError.localised}});
        },
      );
  }

  private assertIdle(consultationId: string): void {
    if (this.active.has(consultationId))
      throw new AppError('busy', {
        zh: '此问诊正在生成回答，请等待完成或先停止。',
        en: 'A reply is still being generated in this consultation; wait for it or stop it first.',
      });
  }

  private modelFor(consultation: Consultation): ModelInfo {
    if (!consultation.modelId)
      throw new AppError('model_required', {
        zh: '请先为此问诊选择一个模型（可在“模型”页添加本地 GGUF 文件）。',
        en: 'Choose a model for this consultation first (add a local GGUF file on the Models page).',
      });
    return this.requireModel(consultation.modelId, 'base');
  }

  private requireModel(id: string, kind?: ModelInfo['kind']): ModelInfo {
    const model = this.store.models.get(id);
    if (!model) throw notFound({zh: '模型', en: 'model'}, id);
    if (kind && model.kind !== kind)
      throw new AppError('validation', {
        zh: kind === 'base' ? `“${model.name}”是 LoRA 适配器，不能单独作为模型使用。` : `“${model.name}”不是 LoRA 适配器。`,
        en: kind === 'base' ? `"${model.name}" is a LoRA adapter and cannot be used as a model on its own.` : `"${model.name}" is not a LoRA adapter.`,
      });
    if (model.missing)
      throw new AppError('model_missing', {
        zh: `模型文件已不存在：${model.path}。请重新添加或从列表中移除。`,
        en: `The model file no longer exists: ${model.path}. Add it again or remove it from the list.`,
      });
    return model;
  }
}

function tokenMeta(result: {promptTokens: number; completionTokens: number; tokensPerSecond: number}): MessageMeta {
  return {
    promptTokens: result.promptTokens,
    completionTokens: result.completionTokens,
    tokensPerSecond: Math.round(result.tokensPerSecond * 10) / 10,
  };
}
