// `zhongjing eval`: the evaluation studio without a screen, for a headless GPU box — import a
// benchmark, let contestants answer it, judge every pair in both orders, write the report.
// Runs go through EvaluationService like the app, so the screen shows what the CLI did.

import {readFileSync, writeFileSync} from 'node:fs';
import {resolve} from 'node:path';
import {parseArgs} from 'node:util';
import {methods, type ApiEvent, type MethodInput} from '../../common/contract.js';
import {AppError} from '../../common/errors.js';
import {forkEngine} from '../../node/engine/fork-engine.js';
import {parseInput} from '../../node/api/validate.js';
import {Services} from '../../node/services/index.js';
import {resolveDataDir, say, usageError} from '../context.js';
import {resolveModelId} from './train.js';
import {dataCommand} from './data.js';

export const USAGE = {
  zh: `用法：
  zhongjing eval import 文件 [--format cmtmedqa|single|cmexam|cmbclin|…] [--name 名称] [--no-deid]   导入评测集（成为数据集）
  zhongjing eval run --name 评测名 --data 数据集 [--items N] [--subset all|general|safety] --contestant 参评者 --contestant 参评者 [--json]
      参评者："label=基线;model=模型;adapter=适配器.gguf;system=系统提示;temperature=0.7;max-tokens=512"（或 endpoint=远程服务）
  zhongjing eval judge 评测名 --judge-model 模型 | --judge-endpoint 远程服务 [--prompt-file 文件] [--json]
  zhongjing eval report 评测名 [--html 文件] [--csv 文件] [--out-json 文件] [--json]
  zhongjing eval list [--json]`,
  en: `usage:
  zhongjing eval import FILE [--format cmtmedqa|single|cmexam|cmbclin|…] [--name N] [--no-deid]   import a benchmark (it becomes a dataset)
  zhongjing eval run --name RUN --data DATASET [--items N] [--subset all|general|safety] --contestant SPEC --contestant SPEC [--json]
      SPEC: "label=base;model=M;adapter=A.gguf;system=PROMPT;temperature=0.7;max-tokens=512" (or endpoint=REMOTE)
  zhongjing eval judge RUN --judge-model M | --judge-endpoint REMOTE [--prompt-file FILE] [--json]
  zhongjing eval report RUN [--html FILE] [--csv FILE] [--out-json FILE] [--json]
  zhongjing eval list [--json]`,
};

export async function evalCommand(argv: string[]): Promise<void> {
  const [sub, ...rest] = argv;
  // a benchmark is imported by the one dataset importer, flags and all
  if (sub === 'import') return dataCommand(['import', ...rest]);
  const {values, positionals} = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      'data-dir': {type: 'string'},
      name: {type: 'string'},
      data: {type: 'string'},
      version: {type: 'string'},
      items: {type: 'string'},
      subset: {type: 'string'},
      seed: {type: 'string'},
      contestant: {type: 'string', multiple: true},
      'judge-model': {type: 'string'},
      'judge-endpoint': {type: 'string'},
      'prompt-file': {type: 'string'},
      html: {type: 'string'},
      csv: {type: 'string'},
      'out-json': {type: 'string'},
      lang: {type: 'string'},
      json: {type: 'boolean'},
    },
  });
  if (!sub || !['run', 'judge', 'report', 'list'].includes(sub)) throw usageError(USAGE);
  const services = new Services({dataDir: resolveDataDir(values['data-dir']), spawnEngine: forkEngine});
  const out = (value: unknown, human: string) => process.stdout.write(values.json ? `${JSON.stringify(value)}\n` : `${human}\n`);
  const findRun = (ref: string | undefined) => {
    const run = services.evaluation.list().find((r) => r.id === ref || r.name === ref);
    if (!run) throw new AppError('not_found', {zh: `找不到评测“${ref ?? ''}”。`, en: `No evaluation "${ref ?? ''}".`});
    return run;
  };
  try {
    if (sub === 'list') {
      const runs = services.evaluation.list();
      out(runs, runs.length ? runs.map((r) => `${r.name}  ${r.source.name} v${r.source.version}  ${r.items} items  answers ${r.answered}/${r.answersExpected}  judge ${r.judgeCalls}/${r.judgeCallsExpected}  ratings ${r.ratings}`).join('\n') : say({zh: '还没有评测。', en: 'No evaluations yet.'}));
    } else if (sub === 'run') {
      if (!values.name) throw usageError(USAGE);
      const existing = services.evaluation.list().find((r) => r.name === values.name);
      let runId: string;
      if (existing) runId = existing.id; // run again: only the missing answers are generated
      else {
        if (!values.data || (values.contestant?.length ?? 0) < 2) throw usageError(USAGE);
        const contestants = [];
        for (const spec of values.contestant!) contestants.push(await contestantFrom(services, spec));
        const input = parseInput(methods['eval.create'].input, {
          name: values.name,
          datasetId: services.datasets.resolve(values.data).id,
          ...(values.version ? {version: Number(values.version)} : {}),
          ...(values.items ? {maxItems: Number(values.items)} : {}),
          ...(values.subset ? {subset: values.subset} : {}),
          ...(values.seed ? {seed: Number(values.seed)} : {}),
          contestants,
        });
        runId = services.evaluation.create(input).id;
      }
      await runPass(services, runId, 'answers', () => services.evaluation.generate(runId), Boolean(values.json));
      const run = services.evaluation.summary(runId);
      out({run_id: run.id, name: run.name, answered: run.answered, expected: run.answersExpected}, `${run.name}: ${run.answered}/${run.answersExpected} ${say({zh: '个回答', en: 'answers'})}`);
    } else if (sub === 'judge') {
      const run = findRun(positionals[0]);
      const judgeModel = values['judge-model'];
      const judgeEndpoint = values['judge-endpoint'];
      if (!judgeModel === !judgeEndpoint) throw usageError(USAGE);
      const judge = judgeModel
        ? {modelId: await resolveModelId(services, judgeModel)}
        : {remoteEndpointId: services.remotes.list().find((e) => e.id === judgeEndpoint || e.name === judgeEndpoint)?.id ?? judgeEndpoint!};
      const prompt = values['prompt-file'] ? readFileSync(resolve(values['prompt-file']), 'utf8') : undefined;
      await runPass(services, run.id, 'judge', () => services.evaluation.judge({runId: run.id, judge, ...(prompt ? {prompt} : {})}), Boolean(values.json));
      const after = services.evaluation.summary(run.id);
      out({run_id: after.id, judge: after.judgeLabel, judge_calls: after.judgeCalls, expected: after.judgeCallsExpected}, `${after.name}: ${after.judgeCalls}/${after.judgeCallsExpected} ${say({zh: '次评判', en: 'judge calls'})} (${after.judgeLabel})`);
    } else {
      const run = findRun(positionals[0]);
      const lang = values.lang === 'en' ? 'en' : 'zh-CN';
      const files: Record<string, string> = {};
      for (const [flag, format] of [['html', 'html'], ['csv', 'csv'], ['out-json', 'json']] as const) {
        const target = values[flag];
        if (!target) continue;
        const file = services.evaluation.exportReport({runId: run.id, format, lang});
        writeFileSync(resolve(target), file.content);
        files[format] = resolve(target);
      }
      const {report, judgeLabel} = services.evaluation.report(run.id);
      const label = new Map(report.contestants.map((c) => [c.contestantId, c.label]));
      const pct = (x: number) => `${(100 * x).toFixed(1)}%`;
      out({run_id: run.id, judge: judgeLabel, files, report}, [
        `${run.name} — ${say({zh: '裁判', en: 'judge'})}: ${judgeLabel ?? '—'}`,
        ...report.overall.map(
          (t) =>
            `  [${t.source}] ${label.get(t.contestantA)} vs ${label.get(t.contestantB)}  ${t.dimension.padEnd(8)} win ${t.win} tie ${t.tie} loss ${t.loss}  (n ${t.n}, unparsed ${t.unparsed}, order-inconsistent ${t.inconsistent})  tie-aware win ${pct(t.tieAwareWinRate.value)} [${pct(t.tieAwareWinRate.low)}, ${pct(t.tieAwareWinRate.high)}]`,
        ),
        ...report.contestants.map((c) => `  ${c.label}: ${c.answers} answers, mean length ${c.meanLength.toFixed(0)}${c.choiceAccuracy ? `, choice accuracy ${pct(c.choiceAccuracy.all.value)}` : ''}${c.refusalRate ? `, safety refusal/correction ${pct(c.refusalRate.value)}` : ''}`),
        `  ${say({zh: '顺序不一致', en: 'order-inconsistent'})}: ${report.orderInconsistency.inconsistent}/${report.orderInconsistency.judged}`,
        ...Object.entries(files).map(([k, v]) => `  ${k} → ${v}`),
      ].join('\n'));
    }
  } finally {
    await services.close();
  }
}

/** "label=…;model=…;adapter=…;endpoint=…;system=…;temperature=…;max-tokens=…;seed=…" */
async function contestantFrom(services: Services, spec: string): Promise<MethodInput<'eval.create'>['contestants'][number]> {
  const fields = new Map<string, string[]>();
  for (const part of spec.split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new AppError('validation', {zh: `参评者描述无法理解：“${part}”（应为 键=值）。`, en: `Cannot read the contestant "${part}" (expected key=value).`});
    const key = part.slice(0, eq).trim();
    fields.set(key, [...(fields.get(key) ?? []), part.slice(eq + 1).trim()]);
  }
  const one = (key: string) => fields.get(key)?.[0];
  const number = (key: string) => (one(key) === undefined ? undefined : Number(one(key)));
  const endpoint = one('endpoint');
  const sampling = Object.fromEntries(
    [
      ['temperature', number('temperature')],
      ['maxTokens', number('max-tokens')],
      ['seed', number('seed')],
    ].filter(([, v]) => v !== undefined),
  );
  if (endpoint) {
    const id = services.remotes.list().find((e) => e.id === endpoint || e.name === endpoint)?.id ?? endpoint;
    return {label: one('label'), remoteEndpointId: id, systemPrompt: one('system'), sampling};
  }
  const model = one('model');
  if (!model) throw new AppError('validation', {zh: `参评者缺少 model= 或 endpoint=：“${spec}”。`, en: `A contestant needs model= or endpoint=: "${spec}".`});
  const adapterIds = await Promise.all((fields.get('adapter') ?? []).map((a) => resolveModelId(services, a)));
  return {label: one('label'), modelId: await resolveModelId(services, model), adapterIds, systemPrompt: one('system'), sampling};
}

/** Starts a pass and waits for it, with progress on stderr (JSON lines on stdout with --json). */
async function runPass(services: Services, runId: string, phase: 'answers' | 'judge', start: () => {started: boolean}, json: boolean): Promise<void> {
  let failure: AppError | null = null;
  const finished = new Promise<void>((done) => {
    const off = services.bus.subscribe((event: ApiEvent) => {
      if (event.type !== 'eval.progress' || event.runId !== runId || event.phase !== phase) return;
      if (json) process.stdout.write(`${JSON.stringify({type: 'progress', phase, done: event.done, total: event.total, eta_s: event.etaSeconds, ...(event.warning ? {warning: say(event.warning)} : {})})}\n`);
      else process.stderr.write(`\r${phase} ${event.done}/${event.total}${event.etaSeconds !== null ? ` ETA ${Math.round(event.etaSeconds)} s` : ''}   `);
      if (event.warning && !json) process.stderr.write(`\n${say(event.warning)}\n`);
      if (event.finished) {
        if (!json) process.stderr.write('\n');
        if (event.error) failure = new AppError('io', event.error);
        off();
        done();
      }
    });
  });
  if (!start().started) throw new AppError('busy', {zh: '这个评测正在进行另一项工作。', en: 'This evaluation is already busy with another pass.'});
  await finished;
  if (failure) throw failure;
}
