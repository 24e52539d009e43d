// The store's index of training runs and their per-step metrics (see migration 0004).

import type {TrainingConfig, TrainingDatasetRef, TrainingKind, TrainingMetric, TrainingRunSummary, TrainingSource, TrainingState} from '../../common/training.js';
import type {Db} from './database.js';
import {nowIso} from '../ids.js';

interface RunRow {
  id: string;
  kind: TrainingKind;
  name: string;
  model_id: string | null;
  model_name: string;
  state: TrainingState;
  run_dir: string;
  config: string;
  datasets: string;
  step: number;
  total_steps: number;
  last_loss: number | null;
  last_eval_loss: number | null;
  adapter_path: string | null;
  adapter_model_id: string | null;
  error: string | null;
  created_at: string;
  finished_at: string | null;
  sources: string;
  init_adapter: string | null;
  result_step: 'best' | 'last';
}

export interface RunIndex extends TrainingRunSummary {
  runDir: string;
  config: TrainingConfig;
  datasets: TrainingDatasetRef[];
  adapterPath: string | null;
  error: {zh: string; en: string} | null;
  sources: TrainingSource[];
  initAdapter: string | null;
  resultStep: 'best' | 'last';
}

function toIndex(r: RunRow): RunIndex {
  return {
    id: r.id,
    kind: r.kind,
    name: r.name,
    modelId: r.model_id,
    modelName: r.model_name,
    state: r.state,
    step: r.step,
    totalSteps: r.total_steps,
    lastLoss: r.last_loss,
    lastEvalLoss: r.last_eval_loss,
    createdAt: r.created_at,
    finishedAt: r.finished_at,
    adapterModelId: r.adapter_model_id,
    runDir: r.run_dir,
    config: JSON.parse(r.config) as TrainingConfig,
    datasets: JSON.parse(r.datasets) as TrainingDatasetRef[],
    adapterPath: r.adapter_path,
    error: r.error ? (JSON.parse(r.error) as {zh: string; en: string}) : null,
    sources: JSON.parse(r.sources) as TrainingSource[],
    initAdapter: r.init_adapter,
    resultStep: r.result_step,
  };
}

export class TrainingRepo {
  constructor(private readonly db: Db) {}

  list(): RunIndex[] {
    return (this.db.prepare('SELECT * FROM training_runs ORDER BY created_at DESC').all() as RunRow[]).map(toIndex);
  }

  get(id: string): RunIndex | null {
    const row = this.db.prepare('SELECT * FROM training_runs WHERE id = ?').get(id) as RunRow | undefined;
    return row ? toIndex(row) : null;
  }

  insert(run: {id: string; kind: TrainingKind; name: string; modelId: string; modelName: string; runDir: string; config: TrainingConfig; datasets: TrainingDatasetRef[]; sources: TrainingSource[]; initAdapter: string | null}): void {
    this.db
      .prepare(
        `INSERT INTO training_runs (id, kind, name, model_id, model_name, state, run_dir, config, datasets, sources, init_adapter, created_at) VALUES (?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?)`,
      )
      .run(run.id, run.kind, run.name, run.modelId, run.modelName, run.runDir, JSON.stringify(run.config), JSON.stringify(run.datasets), JSON.stringify(run.sources), run.initAdapter, nowIso());
  }

  update(
    id: string,
    changes: Partial<{state: TrainingState; step: number; totalSteps: number; lastLoss: number | null; lastEvalLoss: number | null; adapterPath: string; adapterModelId: string; error: {zh: string; en: string} | null; finished: boolean; resultStep: 'best' | 'last'}>,
  ): void {
    const columns: [string, unknown][] = [];
    if (changes.state !== undefined) columns.push(['state', changes.state]);
    if (changes.step !== undefined) columns.push(['step', changes.step]);
    if (changes.totalSteps !== undefined) columns.push(['total_steps', changes.totalSteps]);
    if (changes.lastLoss !== undefined) columns.push(['last_loss', changes.lastLoss]);
    if (changes.lastEvalLoss !== undefined) columns.push(['last_eval_loss', changes.lastEvalLoss]);
    if (changes.adapterPath !== undefined) columns.push(['adapter_path', changes.adapterPath]);
    if (changes.adapterModelId !== undefined) columns.push(['adapter_model_id', changes.adapterModelId]);
    if (changes.error !== undefined) columns.push(['error', changes.error ? JSON.stringify(changes.error) : null]);
    if (changes.finished !== undefined) columns.push(['finished_at', changes.finished ? nowIso() : null]);
    if (changes.resultStep !== undefined) columns.push(['result_step', changes.resultStep]);
    if (!columns.length) return;
    this.db.prepare(`UPDATE training_runs SET ${columns.map(([c]) => `${c} = ?`).join(', ')} WHERE id = ?`).run(...columns.map(([, v]) => v), id);
  }

  /** A step's metrics; an eval result for the same step fills in eval_loss beside them. */
  recordMetric(runId: string, metric: Partial<TrainingMetric> & {step: number}): void {
    this.db
      .prepare(
        `INSERT INTO training_metrics (run_id, step, loss, eval_loss, learning_rate, tokens_per_second, grad_norm, memory_bytes, objective_values, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (run_id, step) DO UPDATE SET loss = coalesce(excluded.loss, loss), eval_loss = coalesce(excluded.eval_loss, eval_loss),
           learning_rate = coalesce(excluded.learning_rate, learning_rate), tokens_per_second = coalesce(excluded.tokens_per_second, tokens_per_second),
           grad_norm = coalesce(excluded.grad_norm, grad_norm), memory_bytes = coalesce(excluded.memory_bytes, memory_bytes),
           objective_values = json_patch(coalesce(objective_values, '{}'), coalesce(excluded.objective_values, '{}'))`,
      )
      .run(runId, metric.step, metric.loss ?? null, metric.evalLoss ?? null, metric.learningRate ?? null, metric.tokensPerSecond ?? null, metric.gradNorm ?? null, metric.memoryBytes ?? null, metric.values ? JSON.stringify(metric.values) : null, nowIso());
  }

  /** On resume the run repeats the steps after its checkpoint: their old metrics go. */
  truncateMetrics(runId: string, afterStep: number): void {
    this.db.prepare('DELETE FROM training_metrics WHERE run_id = ? AND step > ?').run(runId, afterStep);
  }

  metrics(runId: string): TrainingMetric[] {
    return (
      this.db.prepare('SELECT * FROM training_metrics WHERE run_id = ? ORDER BY step').all(runId) as {
        step: number;
        loss: number | null;
        eval_loss: number | null;
        learning_rate: number | null;
        tokens_per_second: number | null;
        grad_norm: number | null;
        memory_bytes: number | null;
        objective_values: string | null;
        at: string;
      }[]
    ).map((m) => ({
      step: m.step,
      loss: m.loss ?? Number.NaN,
      evalLoss: m.eval_loss,
      learningRate: m.learning_rate ?? 0,
      tokensPerSecond: m.tokens_per_second ?? 0,
      gradNorm: m.grad_norm,
      memoryBytes: m.memory_bytes,
      values: m.objective_values ? (JSON.parse(m.objective_values) as Record<string, number>) : {},
      at: m.at,
    }));
  }

  /** Runs that were going when the app stopped can be resumed from their last checkpoint. */
  markInterrupted(): void {
    this.db.prepare(`UPDATE training_runs SET state = 'paused' WHERE state IN ('running', 'queued')`).run();
  }
}
