import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import type { Dataset, Split } from '../data/dataset.js';
import { InterruptedError } from '../errors.js';
import { extractFeatures } from '../features/extract.js';
import type { Scorer } from '../policy/types.js';
import type { ReportStep, StopReason } from '../report/report.js';
import type { FeatureExtractor } from '../services.js';
import { disposeSnapshot, PrunableModel, type ComputeReport, type Objective, type SparsityReport } from '../pruning/prunable-model.js';
import { checkObjective, checkUnitsRemovable, pruneStep, type Granularity } from './granularity.js';
import { accuracy, trainAsync } from '../models/train.js';
import { Checkpointer, type AgentState } from './checkpoint.js';
import type { AgentEvent } from './events.js';
import { afterAccept, afterRollback, nextSparsity, PLANNER_DEFAULTS, type PlannerOptions } from './planner.js';

export interface AgentOptions {
  /** Target global sparsity in (0, 1). */
  target: number;
  /** Largest accepted drop of validation accuracy below the dense model, in percentage points. Default 1. */
  maxDrop?: number;
  /** Reach the target even when the guard cannot be held (the drop is reported). Default false. */
  force?: boolean;
  /** Seed of fine-tuning batch order and calibration. Default 0. */
  seed?: number;
  /** Fine-tuning budget of the whole run, in passes over the training split (rolled-back steps count). Default 15. */
  budgetEpochs?: number;
  /**
   * Share of the budget kept for the fine-tune at the final sparsity (where accuracy is decided);
   * the steps spend the rest. Default 0.3.
   */
  finalReserve?: number;
  /** Most fine-tuning epochs after one pruning step; fewer when validation accuracy stops improving. Default 2. */
  maxStepEpochs?: number;
  /** Samples of the training split used to compute features. Default 1024. */
  calibrationSamples?: number;
  /** Step-size adaptation. */
  planner?: PlannerOptions;
  /** Folder for resumable checkpoints (written after every accepted step). */
  checkpointDir?: string;
  /** Continue from the checkpoint in `checkpointDir`. */
  resume?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: AgentEvent) => void;
  /** Feature extraction (default: extractFeatures on `calibrationSamples` training samples). */
  extractor?: FeatureExtractor;
  /** What a step removes: connections (default), whole units/filters, or hierarchical (units, then connections). */
  granularity?: Granularity;
  /**
   * What `target` counts: 'params' (fraction of prunable weights, default) or 'flops' (fraction of their
   * multiply-accumulates; unit granularity only). Step records' sparsities then count the same.
   */
  objective?: Objective;
  /**
   * The polish at the final sparsity multiplies the learning rate by `lrDecay` after each epoch without
   * a validation gain and stops after `patience` such epochs in a row (reduce on plateau). Default 0.3, 4.
   */
  polish?: { lrDecay: number; patience: number };
  /** Backend name for the start event. */
  backend?: { name: string; native: boolean };
}

export const AGENT_DEFAULTS = Object.freeze({
  maxDrop: 1, force: false, seed: 0, budgetEpochs: 15, finalReserve: 0.3, maxStepEpochs: 2, calibrationSamples: 1024,
  polish: Object.freeze({ lrDecay: 0.3, patience: 4 }),
});

/** One pruning attempt, accepted or rolled back (the report's step record). */
export type StepRecord = ReportStep;

export interface AgentResult {
  sparsity: SparsityReport;
  /** Multiply-accumulates per sample of the prunable kernels, dense and after pruning. */
  compute: ComputeReport;
  denseValAccuracy: number;
  denseTestAccuracy: number;
  valAccuracy: number;
  testAccuracy: number;
  targetReached: boolean;
  /** Why the loop ended (see StopReason). */
  stopReason: StopReason;
  /** 0 target reached (within the guard, or forced); 3 stopped before it (see stopReason). */
  exitCode: 0 | 3;
  steps: StepRecord[];
  totals: { fineTuneEpochs: number; accepted: number; rolledBack: number };
  /** Seconds per phase. */
  phases: Record<string, number>;
  masks: PrunableModel;
}

const EPS = 1e-6;

function calibrationSplit(train: Split, n: number): Split {
  const k = Math.min(n, train.labels.length);
  return { x: tf.slice(train.x, 0, k), labels: train.labels.subarray(0, k) };
}

/**
 * The pruning agent: score → prune the next increment globally → fine-tune with masks enforced →
 * guard on validation accuracy → accept (checkpoint) or roll back with a smaller step. Modifies
 * `model` in place; `data` must already fit the model (see fitDatasetToModel). Test accuracy is
 * computed for the report only, never used for a decision.
 */
export async function runAgent(model: TF.LayersModel, data: Dataset, scorer: Scorer, options: AgentOptions): Promise<AgentResult> {
  const o = { ...AGENT_DEFAULTS, ...options };
  const plan = { ...PLANNER_DEFAULTS, ...options.planner };
  const emit = (e: AgentEvent) => o.onEvent?.(e);
  const phases: Record<string, number> = { evaluate: 0, features: 0, scoring: 0, prune: 0, fineTune: 0, checkpoint: 0 };
  const timed = <T>(phase: string, f: () => T): T => {
    const t = Date.now();
    try { return f(); } finally { phases[phase] = (phases[phase] ?? 0) + (Date.now() - t) / 1000; }
  };
  const checkAbort = () => {
    if (o.signal?.aborted) throw new InterruptedError('interrupted');
  };

  const granularity = o.granularity ?? (o.objective === 'flops' ? 'unit' : 'connection');
  const objective = checkObjective(o.objective ?? 'params', granularity);
  const pm = new PrunableModel(model);
  const calib = calibrationSplit(data.train, o.calibrationSamples);
  const ckpt = o.checkpointDir ? new Checkpointer(o.checkpointDir) : undefined;
  try {
    checkUnitsRemovable(granularity, objective, pm);
    let state: AgentState;
    const resumed = Boolean(o.resume && ckpt?.exists());
    if (resumed) {
      state = await ckpt!.restore(pm, o.target);
    } else {
      const denseVal = timed('evaluate', () => accuracy(model, data.val));
      state = {
        step: 0, sparsity: pm.progress(objective), rate: plan.initialRate, epochsUsed: 0,
        denseValAccuracy: denseVal, steps: [],
      };
    }
    const denseTest = state.denseTestAccuracy ?? timed('evaluate', () => accuracy(model, data.test));
    state.denseTestAccuracy = denseTest;
    const floor = state.denseValAccuracy - o.maxDrop / 100;
    emit({
      type: 'start', target: o.target, objective, maxDrop: o.maxDrop, policy: scorer.name, backend: o.backend?.name ?? 'unknown',
      native: o.backend?.native ?? false, prunable: pm.totalPrunable, denseValAccuracy: state.denseValAccuracy, floor,
      sparsity: state.sparsity, resumed,
    });

    // Whole units are coarse: a smaller step can prune exactly what a rolled-back one did. Such a
    // repeat gets a longer fine-tune once (2 × maxStepEpochs, patience 2), and no fine-tune after that.
    const tried = new Map<string, { epochs: number; val: number }>();
    const keyOf = (p: number) => p.toFixed(9);
    type Tune = { epochs: number; patience: number };
    const tuneFor = (left: number) => (reached: number): Tune | null => {
      const before = tried.get(keyOf(reached));
      if (before === undefined) return { epochs: Math.min(o.maxStepEpochs, left), patience: 1 };
      const longer = Math.min(left, 2 * o.maxStepEpochs);
      return longer > before.epochs ? { epochs: longer, patience: 2 } : null;
    };

    /**
     * One prune + fine-tune attempt from the current state; returns the fine-tuned val accuracy.
     * The fine-tune (epochs, patience) may depend on what the prune reached; null skips it (the attempt fails).
     */
    const attempt = async (to: number, tune: Tune | ((reached: number) => Tune | null)) => {
      const feats = timed('features', () => (o.extractor ? o.extractor.extract(pm, calib) : extractFeatures(pm, calib)));
      const scores = timed('scoring', () => scorer.score(feats));
      timed('prune', () => pruneStep(granularity, pm, feats, scores, to, objective));
      const reached = pm.progress(objective);
      const t = typeof tune === 'function' ? tune(reached) : tune;
      if (t === null) return { valAccuracy: tried.get(keyOf(reached))!.val, epochs: 0, requested: 0, sparsity: reached, skipped: true };
      const r = await timedAsync(phases, 'fineTune', () => trainAsync(model, data.train, {
        epochs: t.epochs, prunable: pm, val: data.val, patience: t.patience, seed: o.seed * 1009 + state.step, signal: o.signal,
        onEpoch: (e) => emit({ type: 'epoch', step: state.step, epoch: e.epoch, loss: e.loss, valAccuracy: e.valAccuracy }),
      }));
      return { valAccuracy: r.bestValAccuracy ?? timed('evaluate', () => accuracy(model, data.val)), epochs: r.epochsRun, requested: t.epochs, sparsity: reached, skipped: false };
    };

    // Sparsity moves in steps of one weight: within one weight of the target counts as reached.
    const tol = Math.max(EPS, 1 / pm.totalPrunable);
    let stalled = 0;
    let stopped: StopReason | undefined;
    while (state.sparsity < o.target - tol) {
      checkAbort();
      if (stalled >= 2) { stopped = 'stalled'; break; }
      const stepBudget = o.budgetEpochs - Math.ceil(o.finalReserve * o.budgetEpochs);
      const left = Math.max(0, stepBudget - state.epochsUsed);
      if (state.rate < plan.minRate) { stopped = 'guard'; break; }
      if (left < 1) { stopped = 'budget'; break; }
      const from = state.sparsity;
      const to = nextSparsity(from, o.target, state.rate);
      const t0 = Date.now();
      const snap = pm.snapshot();
      state.step++;
      let r: Awaited<ReturnType<typeof attempt>>;
      try {
        r = await attempt(to, tuneFor(left));
      } catch (err) {
        pm.restore(snap);
        disposeSnapshot(snap);
        throw err;
      }
      state.epochsUsed += r.epochs;
      const seconds = (Date.now() - t0) / 1000;
      if (r.valAccuracy >= floor - EPS) {
        disposeSnapshot(snap);
        tried.clear();
        const slack = o.maxDrop > 0 ? (r.valAccuracy - floor) / (o.maxDrop / 100) : 0;
        state.rate = afterAccept(state.rate, slack, plan);
        // A step that could not remove anything (the per-layer floors bind) must not loop forever.
        stalled = r.sparsity <= from + EPS ? stalled + 1 : 0;
        state.sparsity = r.sparsity;
        state.steps.push({ step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, accepted: true, fineTuneEpochs: r.epochs, seconds });
        emit({ type: 'step', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, fineTuneEpochs: r.epochs, totalEpochs: state.epochsUsed, seconds });
        if (ckpt) {
          await timedAsync(phases, 'checkpoint', () => ckpt.save(pm, state));
          emit({ type: 'checkpoint', step: state.step, sparsity: state.sparsity, path: ckpt.dir });
        }
      } else {
        pm.restore(snap);
        disposeSnapshot(snap);
        const k = keyOf(r.sparsity);
        if (!r.skipped) tried.set(k, { epochs: Math.max(tried.get(k)?.epochs ?? 0, r.requested), val: r.valAccuracy });
        const reason = r.skipped
          ? `prunes the same units as a rolled-back step that had the longer fine-tune (val ${(100 * r.valAccuracy).toFixed(2)} %); not fine-tuned again`
          : `val ${(100 * r.valAccuracy).toFixed(2)} % < floor ${(100 * floor).toFixed(2)} %`;
        state.steps.push({ step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, accepted: false, fineTuneEpochs: r.epochs, seconds, reason });
        if (o.force) {
          // The target is taken anyway: smaller steps would only spend the budget that the fine-tune
          // at the target needs (measured: at 0.98 it loses ~2 points against jumping straight there).
          emit({ type: 'rollback', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, floor, fineTuneEpochs: r.epochs, totalEpochs: state.epochsUsed, next: 'forced: go to the target with the remaining budget', seconds });
          if (ckpt) await timedAsync(phases, 'checkpoint', () => ckpt.save(pm, state));
          break;
        }
        state.rate = afterRollback(state.rate);
        const next = state.rate < plan.minRate
          ? 'stop: the step size fell below the smallest useful step'
          : `retry with a smaller step (${(100 * (nextSparsity(from, o.target, state.rate) - from)).toFixed(1)} points of sparsity)`;
        emit({ type: 'rollback', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, floor, fineTuneEpochs: r.epochs, totalEpochs: state.epochsUsed, next, seconds });
        if (ckpt) await timedAsync(phases, 'checkpoint', () => ckpt.save(pm, state));
      }
    }

    let reached = state.sparsity >= o.target - tol;
    const stopReason: StopReason = reached ? 'target' : o.force ? 'forced' : stopped ?? 'guard';
    if (!reached && o.force) {
      // --force: take the target anyway, fine-tuned with whatever budget is left (at least one epoch).
      checkAbort();
      const from = state.sparsity;
      const t0 = Date.now();
      state.step++;
      const r = await attempt(o.target, { epochs: Math.max(1, o.budgetEpochs - state.epochsUsed), patience: 2 });
      state.epochsUsed += r.epochs;
      state.sparsity = r.sparsity;
      state.steps.push({ step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, accepted: true, fineTuneEpochs: r.epochs, seconds: (Date.now() - t0) / 1000, reason: 'forced' });
      emit({ type: 'step', step: state.step, fromSparsity: from, toSparsity: r.sparsity, valAccuracy: r.valAccuracy, fineTuneEpochs: r.epochs, totalEpochs: state.epochsUsed, seconds: (Date.now() - t0) / 1000 });
      reached = true;
    } else if (o.budgetEpochs - state.epochsUsed >= 1) {
      // Polish at the final sparsity with what is left of the budget (the reserve, at least); the best
      // validation epoch is kept, and the polish is undone if it never beats where it started.
      checkAbort();
      const before = timed('evaluate', () => accuracy(model, data.val));
      const snap = pm.snapshot();
      try {
        const r = await timedAsync(phases, 'fineTune', () => trainAsync(model, data.train, {
          epochs: o.budgetEpochs - state.epochsUsed, prunable: pm, val: data.val, patience: o.polish.patience, lrDecay: o.polish.lrDecay,
          seed: o.seed * 1009 + 7919, signal: o.signal,
          onEpoch: (e) => emit({ type: 'epoch', step: state.step, epoch: e.epoch, loss: e.loss, valAccuracy: e.valAccuracy }),
        }));
        state.epochsUsed += r.epochsRun;
        if ((r.bestValAccuracy ?? 0) < before) pm.restore(snap);
      } finally {
        disposeSnapshot(snap);
      }
    }

    const sparsity = pm.sparsity();
    const valAccuracy = timed('evaluate', () => accuracy(model, data.val));
    const testAccuracy = timed('evaluate', () => accuracy(model, data.test));
    const accepted = state.steps.filter((s) => s.accepted).length;
    const exitCode: 0 | 3 = reached ? 0 : 3;
    const result: AgentResult = {
      sparsity, compute: pm.compute(), denseValAccuracy: state.denseValAccuracy, denseTestAccuracy: denseTest, valAccuracy, testAccuracy,
      targetReached: reached, stopReason, exitCode, steps: state.steps,
      totals: { fineTuneEpochs: state.epochsUsed, accepted, rolledBack: state.steps.length - accepted },
      phases, masks: pm,
    };
    return result;
  } catch (err) {
    pm.dispose();
    throw err;
  } finally {
    calib.x.dispose();
  }
}

async function timedAsync<T>(phases: Record<string, number>, phase: string, f: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try { return await f(); } finally { phases[phase] = (phases[phase] ?? 0) + (Date.now() - t) / 1000; }
}
