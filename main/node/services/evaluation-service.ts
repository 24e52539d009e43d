// Evaluation studio: contestants answer a frozen benchmark (a dataset version), then every pair
// of contestants is compared blind — by a judge model in both orders, or by human raters — and
// the report is recounted from the stored judge calls and ratings each time it is asked for.
//
// Answers and judge calls run in the background (one pass per run at a time), one stored row per
// finished answer or call, so a crash or a cancel loses at most the call in flight and the next
// pass does only what is missing. Local models answer through the engine process (the same
// generation as a consultation); endpoints through the remote client.

import {DEFAULT_SAMPLING, type MethodInput, type Sampling} from '../../common/contract.js';
import {DEFAULT_SYSTEM_PROMPT} from '../../common/prompts.js';
import {AppError, notFound, toAppError, type LocalisedText} from '../../common/errors.js';
import {buildReport, parseChoiceLetters, type EvalReport} from '../../common/evaluation.js';
import {DEFAULT_JUDGE_PROMPT, judgeJsonSchema, judgeUserMessage, parseJudgeReply} from '../../common/evaluation-judge.js';
import type {
  BlindPairView,
  BlindSide,
  ContestantSpec,
  EvalContestant,
  EvalItemView,
  EvalReportView,
  EvalRunSummary,
  JudgeRef,
} from '../../common/evaluation-views.js';
import type {EngineHost} from '../engine/engine-host.js';
import type {ChatTurn, GenerateRequest} from '../engine/protocol.js';
import {chatStream} from '../remote/openai-client.js';
import type {Store} from '../store/index.js';
import type {EvalAnswerRecord, EvalContestantRecord, EvalItemRecord, EvalJudgementRecord, EvalRunRecord} from '../store/evaluation-repo.js';
import {reportHtml, verdictsCsv} from '../evaluation/report-files.js';
import {aIsLeft, answerIndex, answerKey, itemFromRow, judgeKeyOf, pairsOf, type Pair} from '../evaluation/items.js';
import {storedVerdicts} from '../evaluation/verdicts.js';
import type {DatasetService} from './dataset-service.js';
import type {EventBus} from './event-bus.js';
import type {RemoteService} from './remote-service.js';

const RUN = {zh: '评测', en: 'evaluation'};
const ITEM = {zh: '评测条目', en: 'evaluation item'};
/** Multiple-choice answers need a letter or two and a line of reasoning, not a full reply. */
const CHOICE_MAX_TOKENS = 128;
/** what a reference answer of an imported CMExam row starts with (choiceQuestionText's format) */
const CHOICE_ANSWER_PREFIX = '答案：';
// room for the verdict JSON with a reason of up to its schema's length even where each Chinese character is
// several tokens (byte fallback)
const JUDGE_MAX_TOKENS = 512;

/** What answers a call: a contestant, or the judge (a local judge has no adapters). */
type Responder = ContestantSpec | JudgeRef;

type Phase = 'answers' | 'judge';

export class EvaluationService {
  private readonly running = new Map<string, {phase: Phase; controller: AbortController}>();

  constructor(
    private readonly store: Store,
    private readonly engine: EngineHost,
    private readonly datasets: DatasetService,
    private readonly remotes: RemoteService,
    private readonly bus: EventBus,
  ) {}

  // ───── runs ─────

  list(): EvalRunSummary[] {
    return this.store.evaluation.runs().map((r) => this.summaryOf(r));
  }

  summary(runId: string): EvalRunSummary {
    return this.summaryOf(this.runRecord(runId));
  }

  private runRecord(runId: string): EvalRunRecord {
    const run = this.store.evaluation.run(runId);
    if (!run) throw notFound(RUN, runId);
    return run;
  }

  private summaryOf(run: EvalRunRecord): EvalRunSummary {
    const contestants = this.store.evaluation.contestants(run.id);
    const counts = this.store.evaluation.counts(run.id, run.settings.judge ? judgeKeyOf(run.settings.judge) : null);
    const pairs = (contestants.length * (contestants.length - 1)) / 2;
    const judgeable = counts.items - counts.choiceItems;
    return {
      id: run.id,
      name: run.name,
      source: run.source,
      createdAt: run.createdAt,
      settings: run.settings,
      judgeLabel: run.settings.judge ? this.judgeLabel(run.settings.judge) : null,
      items: counts.items,
      safetyItems: counts.safetyItems,
      choiceItems: counts.choiceItems,
      contestants: contestants.map((c) => this.contestantView(c, counts.answersBy.get(c.id) ?? 0)),
      answered: [...counts.answersBy.values()].reduce((a, b) => a + b, 0),
      answersExpected: counts.items * contestants.length,
      judgeCalls: counts.judgeCalls,
      judgeCallsExpected: judgeable * pairs * 2,
      ratings: counts.ratings,
      running: this.running.get(run.id)?.phase ?? null,
    };
  }

  private contestantView(c: EvalContestantRecord, answers: number): EvalContestant {
    if (c.spec.kind === 'remote') {
      const endpoint = this.store.remotes.get(c.spec.endpointId);
      return {id: c.id, position: c.position, label: c.label, spec: c.spec, source: endpoint ? `${endpoint.name} · ${endpoint.model}` : '?', missing: !endpoint, answers};
    }
    const model = this.store.models.get(c.spec.modelId);
    const adapters = c.spec.adapterIds.map((id) => this.store.models.get(id));
    const names = [model?.name ?? '?', ...adapters.map((a) => a?.name ?? '?')].join(' + ');
    return {id: c.id, position: c.position, label: c.label, spec: c.spec, source: names, missing: !model || model.missing || adapters.some((a) => !a || a.missing), answers};
  }

  private judgeLabel(judge: JudgeRef): string {
    if (judge.kind === 'remote') {
      const endpoint = this.store.remotes.get(judge.endpointId);
      return endpoint ? `${endpoint.name} · ${endpoint.model}` : judge.endpointId;
    }
    return this.store.models.get(judge.modelId)?.name ?? judge.modelId;
  }

  create(input: MethodInput<'eval.create'>): EvalRunSummary {
    if (this.store.evaluation.nameTaken(input.name))
      throw new AppError('validation', {zh: `已有名为“${input.name}”的评测。`, en: `An evaluation named "${input.name}" already exists.`});
    const labels = new Set<string>();
    const contestants = input.contestants.map((c, i) => {
      const spec = this.contestantSpec(c);
      const label = (c.label?.trim() || this.defaultLabel(spec)).slice(0, 80);
      if (labels.has(label)) throw new AppError('validation', {zh: `参评者名称重复：“${label}”（第 ${i + 1} 位）。`, en: `Two contestants are named "${label}" (number ${i + 1}).`});
      labels.add(label);
      return {label, spec};
    });
    const {name} = this.datasets.resolve(input.datasetId);
    const version = this.datasets.freeze(input.datasetId, input.version);
    const maxItems = input.maxItems ?? 100;
    const items: Omit<EvalItemRecord, 'id' | 'runId'>[] = [];
    for (const row of this.store.datasets.iterateRows(version.id)) {
      if (items.length >= maxItems) break;
      const item = itemFromRow(row);
      if (!item) continue;
      if (input.subset && input.subset !== 'all' && item.subset !== input.subset) continue;
      items.push({...item, position: items.length});
    }
    if (items.length === 0)
      throw new AppError('validation', {zh: `数据集“${name}”中没有可评测的条目（需要以患者提问结尾的对话或选择题）。`, en: `Dataset "${name}" has nothing to evaluate (dialogues ending in a patient turn, or multiple-choice items).`});
    const id = this.store.evaluation.createRun(
      {
        name: input.name,
        source: {datasetId: input.datasetId, name, version: version.version, contentHash: version.contentHash},
        settings: {seed: input.seed ?? 1, judgePrompt: DEFAULT_JUDGE_PROMPT, judge: null, judgeMaxTokens: JUDGE_MAX_TOKENS},
      },
      items,
      contestants,
    );
    this.changed(id);
    return this.summary(id);
  }

  private contestantSpec(c: MethodInput<'eval.create'>['contestants'][number]): ContestantSpec {
    const sampling: Sampling = {...DEFAULT_SAMPLING, ...c.sampling};
    const systemPrompt = c.systemPrompt ?? DEFAULT_SYSTEM_PROMPT.zh;
    if (c.remoteEndpointId) {
      this.remotes.get(c.remoteEndpointId);
      return {kind: 'remote', endpointId: c.remoteEndpointId, systemPrompt, sampling};
    }
    const model = this.store.models.get(c.modelId ?? '');
    if (!model || model.kind !== 'base') throw notFound({zh: '模型', en: 'model'}, c.modelId ?? '');
    for (const id of c.adapterIds ?? []) {
      const adapter = this.store.models.get(id);
      if (!adapter || adapter.kind !== 'adapter') throw notFound({zh: '适配器', en: 'adapter'}, id);
    }
    return {kind: 'local', modelId: model.id, adapterIds: c.adapterIds ?? [], systemPrompt, sampling};
  }

  private defaultLabel(spec: ContestantSpec): string {
    if (spec.kind === 'remote') return this.store.remotes.get(spec.endpointId)?.name ?? 'remote';
    const names = [spec.modelId, ...spec.adapterIds].map((id) => this.store.models.get(id)?.name ?? id);
    return names.join(' + ');
  }

  delete(runId: string): {deleted: true} {
    this.running.get(runId)?.controller.abort();
    if (!this.store.evaluation.deleteRun(runId)) throw notFound(RUN, runId);
    this.changed(runId);
    return {deleted: true};
  }

  items(input: MethodInput<'eval.items'>): {total: number; items: EvalItemView[]} {
    this.runRecord(input.runId);
    const all = this.store.evaluation.items(input.runId);
    const page = all.slice(input.offset ?? 0, (input.offset ?? 0) + (input.limit ?? 20));
    const contestants = new Map(this.store.evaluation.contestants(input.runId).map((c) => [c.id, c]));
    // only the page's answers and judge calls are read, not the whole run's
    const pageIds = page.map((i) => i.id);
    const answers = this.store.evaluation.answers(input.runId, pageIds);
    const judgements = this.store.evaluation.judgements(input.runId, undefined, pageIds);
    return {
      total: all.length,
      items: page.map((item) => ({
        ...item,
        answers: answers
          .filter((a) => a.itemId === item.id)
          .map((a) => ({
            contestantId: a.contestantId,
            label: contestants.get(a.contestantId)?.label ?? '?',
            text: a.text,
            turns: a.turns,
            completionTokens: a.completionTokens,
            seconds: a.seconds,
            ...(item.choice ? {letters: parseChoiceLetters(a.text, item.choice.options.length)} : {}),
          })),
        judgements: judgements
          .filter((j) => j.itemId === item.id)
          .map((j) => ({contestantA: j.contestantA, contestantB: j.contestantB, judge: j.judge, shown: j.shown, reply: j.reply, safety: j.parsed.verdicts.safety, quality: j.parsed.verdicts.quality, reason: j.parsed.reason})),
      })),
    };
  }

  // ───── background passes ─────

  generate(runId: string): {started: boolean} {
    const run = this.runRecord(runId);
    return this.startPass(run, 'answers', (signal) => this.runAnswers(run, signal));
  }

  judge(input: MethodInput<'eval.judge'>): {started: boolean} {
    const run = this.runRecord(input.runId);
    const judge: JudgeRef = input.judge.remoteEndpointId ? {kind: 'remote', endpointId: input.judge.remoteEndpointId} : {kind: 'local', modelId: input.judge.modelId ?? ''};
    if (judge.kind === 'remote') this.remotes.get(judge.endpointId);
    else {
      const model = this.store.models.get(judge.modelId);
      if (!model || model.kind !== 'base') throw notFound({zh: '裁判模型', en: 'judge model'}, judge.modelId);
    }
    if (this.running.has(run.id)) return {started: false};
    const settings = {...run.settings, judge, judgePrompt: input.prompt?.trim() || run.settings.judgePrompt};
    this.store.evaluation.updateSettings(run.id, settings);
    const updated = {...run, settings};
    return this.startPass(updated, 'judge', (signal) => this.runJudge(updated, signal));
  }

  cancel(runId: string): {cancelled: boolean} {
    const pass = this.running.get(runId);
    pass?.controller.abort();
    return {cancelled: pass !== undefined};
  }

  /** Resolves when no pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running.size) await new Promise((r) => setTimeout(r, 20));
  }

  stopAll(): void {
    for (const pass of this.running.values()) pass.controller.abort();
  }

  private startPass(run: EvalRunRecord, phase: Phase, work: (signal: AbortSignal) => Promise<void>): {started: boolean} {
    if (this.running.has(run.id)) return {started: false};
    const controller = new AbortController();
    this.running.set(run.id, {phase, controller});
    this.changed(run.id);
    void work(controller.signal).finally(() => {
      this.running.delete(run.id);
      this.changed(run.id);
    });
    return {started: true};
  }

  private progress(runId: string, phase: Phase, state: {done: number; total: number; started: number; finished: boolean; error?: LocalisedText | null; warning?: LocalisedText | null}) {
    const seconds = (performance.now() - state.started) / 1000;
    this.bus.emit({
      type: 'eval.progress',
      runId,
      phase,
      done: state.done,
      total: state.total,
      etaSeconds: state.done > 0 && !state.finished ? ((state.total - state.done) * seconds) / state.done : null,
      finished: state.finished,
      error: state.error ?? null,
      warning: state.warning ?? null,
    });
  }

  private async runAnswers(run: EvalRunRecord, signal: AbortSignal): Promise<void> {
    const items = this.store.evaluation.items(run.id);
    const contestants = this.store.evaluation.contestants(run.id);
    const have = answerIndex(this.store.evaluation.answers(run.id));
    // contestant by contestant: a local model stays loaded for its whole share
    const todo = contestants.flatMap((c) => items.filter((i) => !have.has(answerKey(i.id, c.id))).map((item) => ({item, contestant: c})));
    const state = {done: 0, total: todo.length, started: performance.now(), finished: false, error: null as LocalisedText | null, warning: null as LocalisedText | null};
    const skipped = new Set<string>();
    this.progress(run.id, 'answers', state);
    try {
      for (const {item, contestant} of todo) {
        if (signal.aborted) break;
        if (skipped.has(contestant.id)) continue;
        const problem = this.unavailable(contestant);
        if (problem) {
          // one contestant whose model is gone must not stop the others
          skipped.add(contestant.id);
          state.warning = problem;
          this.progress(run.id, 'answers', state);
          continue;
        }
        const answer = await this.answer(run, item, contestant, signal);
        if (signal.aborted || !answer) break;
        this.store.evaluation.addAnswer(answer);
        state.done++;
        this.progress(run.id, 'answers', state);
      }
    } catch (error) {
      state.error = toAppError(error).localised;
    }
    state.finished = true;
    this.progress(run.id, 'answers', state);
  }

  private unavailable(c: EvalContestantRecord): LocalisedText | null {
    const view = this.contestantView(c, 0);
    if (!view.missing) return null;
    return c.spec.kind === 'remote'
      ? {zh: `参评者“${c.label}”的远程服务已被删除，跳过它的回答。`, en: `Contestant "${c.label}": its remote endpoint was removed; its answers are skipped.`}
      : {zh: `参评者“${c.label}”的模型或适配器文件已不存在（${view.source}），跳过它的回答。请重新添加该文件。`, en: `Contestant "${c.label}": its model or adapter file is gone (${view.source}); its answers are skipped. Add the file again.`};
  }

  /** One contestant's answer to one item; a clinical case asks every question in order with the
   * contestant's own earlier answers as the history, as one consultation would. */
  private async answer(run: EvalRunRecord, item: EvalItemRecord, c: EvalContestantRecord, signal: AbortSignal): Promise<EvalAnswerRecord | null> {
    const started = performance.now();
    const sampling: Sampling = {
      ...c.spec.sampling,
      seed: c.spec.sampling.seed ?? (run.settings.seed + item.position * 101 + c.position * 7919) % 2 ** 31,
      maxTokens: item.choice ? Math.min(c.spec.sampling.maxTokens, CHOICE_MAX_TOKENS) : c.spec.sampling.maxTokens,
    };
    const history: ChatTurn[] = item.history.filter((t) => t.role !== 'system').map((t) => ({role: t.role as 'user' | 'assistant', content: t.content}));
    const system = item.history.find((t) => t.role === 'system')?.content;
    const systemPrompt = system ? `${c.spec.systemPrompt}\n\n${system}`.trim() : c.spec.systemPrompt;
    const replies: string[] = [];
    let completionTokens = 0;
    for (const question of item.questions) {
      history.push({role: 'user', content: question});
      const result = await this.complete(c.spec, systemPrompt, history, sampling, signal);
      if (signal.aborted) return null;
      replies.push(result.text);
      completionTokens += result.completionTokens;
      history.push({role: 'assistant', content: result.text});
    }
    const text = replies.length === 1 ? replies[0]! : item.questions.map((q, i) => `【问】${q}\n【答】${replies[i]}`).join('\n\n');
    const seconds = (performance.now() - started) / 1000;
    // a local model can also be asked which option letter it finds most likely (no sampling)
    const choiceScores = item.choice && c.spec.kind === 'local' ? await this.choiceScores(c.spec, systemPrompt, item.questions[0]!, item.choice.options.map((o) => o.letter)) : null;
    return {itemId: item.id, contestantId: c.id, turns: replies, text, completionTokens, seconds, choiceScores};
  }

  private choiceScores(spec: Extract<ContestantSpec, {kind: 'local'}>, systemPrompt: string, question: string, letters: string[]): Promise<number[]> {
    return this.engine.choiceScores({...this.localModel(spec), systemPrompt, turns: [{role: 'user', content: question}], answerPrefix: CHOICE_ANSWER_PREFIX, candidates: letters});
  }

  /** The engine's terms for a local responder: its model file and its adapters' files. */
  private localModel(ref: Extract<Responder, {kind: 'local'}>): Pick<GenerateRequest, 'modelPath' | 'gpuLayers' | 'adapters'> {
    const model = this.store.models.get(ref.modelId);
    if (!model || model.missing) throw new AppError('model_missing', {zh: `模型文件已不存在：${model?.path ?? ref.modelId}`, en: `The model file is gone: ${model?.path ?? ref.modelId}`});
    const adapters = ('adapterIds' in ref ? ref.adapterIds : []).map((id) => this.store.models.get(id)).filter((a) => a !== null);
    return {modelPath: model.path, gpuLayers: model.gpuLayers, adapters: adapters.map((a) => ({path: a.path, scale: 1}))};
  }

  private async complete(
    ref: Responder,
    systemPrompt: string,
    turns: ChatTurn[],
    sampling: Sampling,
    signal: AbortSignal,
    jsonSchema?: Record<string, unknown>,
  ): Promise<{text: string; completionTokens: number}> {
    if (ref.kind === 'remote') {
      const endpoint = this.remotes.get(ref.endpointId);
      const result = await chatStream(endpoint, this.remotes.key(endpoint.id), {systemPrompt, turns, sampling}, {onText: () => {}, signal});
      return {text: result.text, completionTokens: result.completionTokens};
    }
    const result = await this.engine.generate({...this.localModel(ref), systemPrompt, turns, sampling, ...(jsonSchema ? {jsonSchema} : {})}, {signal});
    return {text: result.text, completionTokens: result.completionTokens};
  }

  private async runJudge(run: EvalRunRecord, signal: AbortSignal): Promise<void> {
    const judge = run.settings.judge!;
    const key = judgeKeyOf(judge);
    const items = this.store.evaluation.items(run.id).filter((i) => i.choice === null);
    const pairs = pairsOf(this.store.evaluation.contestants(run.id));
    const answers = answerIndex(this.store.evaluation.answers(run.id));
    const done = new Set(this.store.evaluation.judgements(run.id, key).map((j) => `${j.itemId}|${j.contestantA}|${j.contestantB}|${j.shown}`));
    const todo = items.flatMap((item) =>
      pairs.flatMap((pair) =>
        (['ab', 'ba'] as const)
          .filter((shown) => !done.has(`${item.id}|${pair.a.id}|${pair.b.id}|${shown}`))
          .filter(() => answers.has(answerKey(item.id, pair.a.id)) && answers.has(answerKey(item.id, pair.b.id)))
          .map((shown) => ({item, pair, shown})),
      ),
    );
    const state = {done: 0, total: todo.length, started: performance.now(), finished: false, error: null as LocalisedText | null, warning: null as LocalisedText | null};
    const waiting = items.length * pairs.length * 2 - done.size - todo.length;
    if (waiting > 0) state.warning = {zh: `${waiting} 次评判在等待参评者的回答，请先生成回答。`, en: `${waiting} judge calls wait for contestants' answers; generate the answers first.`};
    this.progress(run.id, 'judge', state);
    try {
      for (const {item, pair, shown} of todo) {
        if (signal.aborted) break;
        const a = answers.get(answerKey(item.id, pair.a.id))!;
        const b = answers.get(answerKey(item.id, pair.b.id))!;
        const [first, second] = shown === 'ab' ? [a, b] : [b, a];
        const safetyItem = item.subset === 'safety';
        const user = judgeUserMessage({history: item.history, question: item.questions.join('\n'), first: first.text, second: second.text, safetyItem});
        const started = performance.now();
        const sampling: Sampling = {...DEFAULT_SAMPLING, temperature: 0, maxTokens: run.settings.judgeMaxTokens, seed: run.settings.seed};
        const reply = await this.complete(judge, run.settings.judgePrompt, [{role: 'user', content: user}], sampling, signal, judgeJsonSchema(safetyItem));
        if (signal.aborted) break;
        const record: EvalJudgementRecord = {
          itemId: item.id,
          contestantA: pair.a.id,
          contestantB: pair.b.id,
          judge: key,
          shown,
          reply: reply.text,
          // an unreadable verdict is stored as such (null per dimension), never guessed
          parsed: parseJudgeReply(reply.text),
          seconds: (performance.now() - started) / 1000,
        };
        this.store.evaluation.addJudgement(record);
        state.done++;
        this.progress(run.id, 'judge', state);
      }
    } catch (error) {
      state.error = toAppError(error).localised;
    }
    state.finished = true;
    this.progress(run.id, 'judge', state);
  }

  // ───── blind human rating ─────

  /** The next item × pair this rater has not rated (from `position`), or the one asked for. */
  nextBlind(input: MethodInput<'eval.blindNext'>): BlindPairView | null {
    this.runRecord(input.runId);
    this.rater(input.raterId);
    const units = this.blindUnits(input.runId);
    const mine = new Map(
      this.store.evaluation
        .ratings(input.runId)
        .filter((r) => r.raterId === input.raterId)
        .map((r) => [`${r.itemId}|${r.contestantA}|${r.contestantB}`, r]),
    );
    const keyOf = (u: BlindUnit) => `${u.item.id}|${u.pair.a.id}|${u.pair.b.id}`;
    let unit: BlindUnit | undefined;
    if (input.itemId !== undefined && input.pairIndex !== undefined) {
      unit = units.find((u) => u.item.id === input.itemId && u.pair.index === input.pairIndex);
      if (!unit) throw notFound(ITEM, `${input.itemId}#${input.pairIndex}`);
    } else {
      const from = input.position ?? 0;
      unit = units.find((u) => u.item.position >= from && !mine.has(keyOf(u))) ?? units.find((u) => !mine.has(keyOf(u)));
    }
    if (!unit) return null;
    const aOnLeft = aIsLeft(input.raterId, unit.item.id, unit.pair.index);
    const rating = mine.get(keyOf(unit));
    const side = (v: 'a' | 'b' | 'tie'): BlindSide => (v === 'tie' ? 'tie' : (v === 'a') === aOnLeft ? 'left' : 'right');
    return {
      runId: input.runId,
      itemId: unit.item.id,
      position: unit.item.position,
      pairIndex: unit.pair.index,
      subset: unit.item.subset,
      department: unit.item.department,
      history: unit.item.history,
      questions: unit.item.questions,
      left: aOnLeft ? unit.answerA : unit.answerB,
      right: aOnLeft ? unit.answerB : unit.answerA,
      mine: rating ? {safety: side(rating.safety), quality: side(rating.quality)} : null,
      progress: {done: units.filter((u) => mine.has(keyOf(u))).length, total: units.length},
    };
  }

  /** Saved (synchronous=FULL) before it answers; the sides are mapped back to contestants here,
   * so the screen never learns who answered what. */
  rate(input: MethodInput<'eval.rate'>): {saved: true} {
    this.runRecord(input.runId);
    this.rater(input.raterId);
    const unit = this.blindUnits(input.runId, input.itemId).find((u) => u.pair.index === input.pairIndex);
    if (!unit) throw notFound(ITEM, `${input.itemId}#${input.pairIndex}`);
    const aOnLeft = aIsLeft(input.raterId, unit.item.id, unit.pair.index);
    const verdict = (s: BlindSide): 'a' | 'b' | 'tie' => (s === 'tie' ? 'tie' : (s === 'left') === aOnLeft ? 'a' : 'b');
    this.store.evaluation.saveRating({
      itemId: unit.item.id,
      contestantA: unit.pair.a.id,
      contestantB: unit.pair.b.id,
      raterId: input.raterId,
      safety: verdict(input.safety),
      quality: verdict(input.quality),
      aOnLeft,
    });
    this.changed(input.runId);
    return {saved: true};
  }

  private rater(id: string) {
    const rater = this.store.annotation.annotators().find((a) => a.id === id);
    if (!rater) throw notFound({zh: '评分人', en: 'rater'}, id);
    return rater;
  }

  /** Every item × pair with both answers, or only those of one item (a rating being saved). */
  private blindUnits(runId: string, itemId?: string): BlindUnit[] {
    const one = itemId === undefined ? null : this.store.evaluation.item(runId, itemId);
    const items = (itemId === undefined ? this.store.evaluation.items(runId) : one ? [one] : []).filter((i) => i.choice === null);
    const pairs = pairsOf(this.store.evaluation.contestants(runId));
    const answers = answerIndex(this.store.evaluation.answers(runId, itemId === undefined ? undefined : [itemId]));
    return items.flatMap((item) =>
      pairs.flatMap((pair) => {
        const a = answers.get(answerKey(item.id, pair.a.id));
        const b = answers.get(answerKey(item.id, pair.b.id));
        return a && b ? [{item, pair, answerA: a.text, answerB: b.text}] : [];
      }),
    );
  }

  // ───── report ─────

  /** The verdicts as stored (verdicts.ts): the run's current judge's calls and every rating. */
  private verdicts(run: EvalRunRecord): ReturnType<typeof storedVerdicts> {
    const judge = run.settings.judge;
    return storedVerdicts({
      items: this.store.evaluation.items(run.id),
      judgeCalls: judge ? this.store.evaluation.judgements(run.id, judgeKeyOf(judge)) : [],
      judgeName: judge ? this.judgeLabel(judge) : '',
      ratings: this.store.evaluation.ratings(run.id),
      answers: this.store.evaluation.answers(run.id),
    });
  }

  report(runId: string): EvalReportView {
    const run = this.runRecord(runId);
    return {runId, judgeLabel: run.settings.judge ? this.judgeLabel(run.settings.judge) : null, report: this.reportOf(run, this.verdicts(run))};
  }

  private reportOf(run: EvalRunRecord, {verdicts, answers}: ReturnType<typeof storedVerdicts>): EvalReport {
    const contestants = this.store.evaluation.contestants(run.id).map((c) => ({id: c.id, label: c.label}));
    return buildReport({contestants, verdicts, answers});
  }

  /** The report as a file: self-contained HTML with the charts, every verdict as CSV, or all of it
   * as JSON. Returned as content so it reaches a browser as a download (serve's disk is not the
   * user's disk) and the CLI writes it where it is told. */
  exportReport(input: MethodInput<'eval.export'>): {fileName: string; mimeType: string; content: string} {
    const run = this.runRecord(input.runId);
    const contestants = this.store.evaluation.contestants(run.id);
    const labels = new Map(contestants.map((c) => [c.id, c.label]));
    const base = `${run.name.replace(/[\\/:*?"<>|\s]+/g, '_').slice(0, 80) || 'evaluation'}`;
    // the verdicts are read once and serve the report and the rows alike
    const stored = this.verdicts(run);
    const report = this.reportOf(run, stored);
    const judge = run.settings.judge ? this.judgeLabel(run.settings.judge) : undefined;
    if (input.format === 'html') {
      const content = reportHtml({
        title: run.name,
        createdAt: new Date().toISOString(),
        lang: input.lang ?? 'zh-CN',
        benchmark: `${run.source.name} v${run.source.version}`,
        contestants: contestants.map((c) => ({id: c.id, label: c.label, description: this.contestantView(c, 0).source})),
        report,
        ...(judge ? {judge} : {}),
      });
      return {fileName: `${base}-report.html`, mimeType: 'text/html', content};
    }
    const rows = stored.verdicts.map((v) => ({...v, contestantALabel: labels.get(v.contestantA) ?? '?', contestantBLabel: labels.get(v.contestantB) ?? '?'}));
    if (input.format === 'csv') return {fileName: `${base}-verdicts.csv`, mimeType: 'text/csv', content: verdictsCsv(rows)};
    const content = JSON.stringify({run: this.summaryOf(run), judge: judge ?? null, report, verdicts: rows, judgeCalls: this.store.evaluation.judgements(run.id)}, null, 2);
    return {fileName: `${base}-evaluation.json`, mimeType: 'application/json', content};
  }

  private changed(runId: string): void {
    this.bus.emit({type: 'eval.changed', runId});
  }
}

interface BlindUnit {
  item: EvalItemRecord;
  pair: Pair;
  answerA: string;
  answerB: string;
}
