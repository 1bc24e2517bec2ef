import type { Split } from '../data/dataset.js';
import { UsageError } from '../errors.js';
import { accuracy, evaluateLoss, train } from '../models/train.js';
import { disposeSnapshot, type PrunableModel, type Snapshot } from '../pruning/prunable-model.js';
import { computeImportances, type Importances } from './criteria.js';

/** Settings of the oracle's allocation search (docs/oracle.md explains each choice). */
export interface OracleOptions {
  /** Increasing global sparsities the oracle answers, each reached from the previous one. Default 0.5, 0.8, 0.9, 0.95, 0.98. */
  targets?: number[];
  /** Fine-tuning epochs each candidate mask gets before it is judged on validation. Default 1. */
  candidateEpochs?: number;
  /** Total fine-tuning epochs of the winning mask at each target (≥ candidateEpochs). Default 2. */
  stageEpochs?: number;
  /** Cap on training samples per candidate epoch (a fractional epoch on big splits). Default: all. */
  candidateSamples?: number;
  /** Factors applied to one layer's kept count in the allocation perturbations. Default [0.5, 2]. */
  factors?: number[];
  /** Base criteria tried at each target. Default all of them. */
  criteria?: CandidateCriterion[];
  /** Calibration samples for gradients/activations (taken from the training split). Default 1024. */
  calibSamples?: number;
  /** Each layer keeps at least max(ceil(minKeepPerLayer·size), 4) weights. Default 0.01. */
  minKeepPerLayer?: number;
  /** Seed of the fine-tuning batch order (the same for every candidate at a target). Default 0. */
  seed?: number;
  /**
   * How candidates are compared on validation: 'accuracy' (ties: lower loss; the shipped meta-datasets)
   * or 'loss' (continuous, so differences of one or two validation samples do not decide). Default 'accuracy'.
   */
  judge?: 'accuracy' | 'loss';
  /** Progress events. */
  onEvent?: (e: OracleEvent) => void;
  /**
   * Called after each target's winner has been fine-tuned, with `pm` holding that stage's model and
   * masks (the meta-dataset builder extracts features here). Must leave `pm` as it found it.
   */
  onStage?: (stage: OracleStage, pm: PrunableModel) => void | Promise<void>;
}

export type CandidateCriterion = 'global-magnitude' | 'layer-uniform' | 'lamp' | 'wanda' | 'taylor' | 'fisher';
export const CANDIDATE_CRITERIA: readonly CandidateCriterion[] = Object.freeze(
  ['global-magnitude', 'layer-uniform', 'lamp', 'wanda', 'taylor', 'fisher']);

export const ORACLE_DEFAULTS = Object.freeze({
  targets: [0.5, 0.8, 0.9, 0.95, 0.98],
  candidateEpochs: 1,
  stageEpochs: 2,
  factors: [0.5, 2],
  criteria: CANDIDATE_CRITERIA as CandidateCriterion[],
  calibSamples: 1024,
  minKeepPerLayer: 0.01,
  seed: 0,
});

export interface CandidateResult {
  /** e.g. 'global-magnitude', 'wanda', 'wanda:dense_1×0.5'. */
  name: string;
  valAccuracy: number;
  valLoss: number;
  /** Sparsity of each prunable layer under this candidate. */
  layerSparsity: number[];
}

export interface OracleStage {
  /** Index into targets. */
  index: number;
  target: number;
  /** Global sparsity actually reached. */
  sparsity: number;
  winner: string;
  /** Validation accuracy / loss of the winner after its stageEpochs of fine-tuning. */
  valAccuracy: number;
  valLoss: number;
  layerSparsity: number[];
  candidates: CandidateResult[];
  seconds: number;
}

export type OracleEvent =
  | { type: 'candidate'; target: number; candidate: CandidateResult }
  | { type: 'stage'; stage: OracleStage };

export interface OracleResult {
  targets: number[];
  /**
   * Per layer, per flat kernel index: index of the first target at which the oracle removed the
   * weight; NEVER_REMOVED if it survives every target; PRUNED_BEFORE if it was already pruned.
   * Oracle masks are nested (each target starts from the previous winner), so the mask at target j
   * is exactly { removedAt ≤ j }.
   */
  removedAt: Uint8Array[];
  denseValAccuracy: number;
  stages: OracleStage[];
  seconds: number;
}

export const NEVER_REMOVED = 255;
export const PRUNED_BEFORE = 254;

/** How many weights each layer keeps, and the within-layer order in which it keeps them. */
interface Candidate {
  name: string;
  order: Float32Array[];
  keep: number[];
}

function liveCounts(masks: Float32Array[]): number[] {
  return masks.map((m) => { let c = 0; for (let i = 0; i < m.length; i++) if (m[i] !== 0) c++; return c; });
}

/** Per-layer kept counts when keeping the `keepTotal` globally most important live weights. */
export function globalAllocation(importance: Float32Array[], keepTotal: number): number[] {
  let n = 0;
  importance.forEach((a) => { for (let j = 0; j < a.length; j++) if (a[j] !== -Infinity) n++; });
  const vals = new Float64Array(n);
  const lay = new Int32Array(n);
  let c = 0;
  importance.forEach((a, l) => { for (let j = 0; j < a.length; j++) if (a[j] !== -Infinity) { vals[c] = a[j]; lay[c++] = l; } });
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => (vals[b] - vals[a]) || (a - b));
  const keep = importance.map(() => 0);
  for (let r = 0; r < Math.min(keepTotal, n); r++) keep[lay[order[r]]]++;
  return keep;
}

/**
 * Adjusts per-layer kept counts so that they sum to `keepTotal`, with floor[l] ≤ keep[l] ≤ live[l].
 * The excess or deficit is spread over layers in proportion to their remaining room.
 */
export function fixAllocation(keep: number[], live: number[], floor: number[], keepTotal: number): number[] {
  const k = keep.map((v, l) => Math.max(Math.min(floor[l], live[l]), Math.min(live[l], Math.round(v))));
  for (let guard = 0; guard < 50; guard++) {
    const diff = keepTotal - k.reduce((a, b) => a + b, 0);
    if (diff === 0) break;
    const room = k.map((v, l) => (diff > 0 ? live[l] - v : v - Math.min(floor[l], live[l])));
    const roomSum = room.reduce((a, b) => a + b, 0);
    if (roomSum === 0) break;
    let moved = 0;
    for (let l = 0; l < k.length; l++) {
      const share = Math.min(room[l], Math.floor((Math.abs(diff) * room[l]) / roomSum));
      k[l] += Math.sign(diff) * share;
      moved += share;
    }
    if (moved === 0) {
      // Rounding left a remainder smaller than the number of layers: hand it out one by one.
      for (let l = 0; l < k.length && k.reduce((a, b) => a + b, 0) !== keepTotal; l++) {
        if (room[l] > 0) k[l] += Math.sign(diff);
      }
    }
  }
  return k;
}

/** Mask keeping, in each layer, its keep[l] most important live weights (ties: lower index first). */
export function maskFromAllocation(order: Float32Array[], masks: Float32Array[], keep: number[]): Float32Array[] {
  return order.map((imp, l) => {
    const live: number[] = [];
    const m = masks[l];
    for (let j = 0; j < m.length; j++) if (m[j] !== 0) live.push(j);
    const idx = Int32Array.from(live).sort((a, b) => (imp[b] - imp[a]) || (a - b));
    const out = new Float32Array(m.length);
    for (let r = 0; r < Math.min(keep[l], idx.length); r++) out[idx[r]] = 1;
    return out;
  });
}

function criterionImportance(imp: Importances, c: CandidateCriterion): Float32Array[] {
  switch (c) {
    case 'global-magnitude':
    case 'layer-uniform':
      return imp.magnitude;
    case 'lamp': return imp.lamp;
    case 'wanda': return imp.wanda;
    case 'taylor': return imp.taylor;
    case 'fisher': return imp.fisher;
  }
}

function better(a: { valAccuracy: number; valLoss: number }, b: { valAccuracy: number; valLoss: number }, judge: 'accuracy' | 'loss' = 'accuracy'): boolean {
  if (judge === 'loss') return a.valLoss !== b.valLoss ? a.valLoss < b.valLoss : a.valAccuracy > b.valAccuracy;
  if (a.valAccuracy !== b.valAccuracy) return a.valAccuracy > b.valAccuracy;
  return a.valLoss < b.valLoss;
}

/**
 * The oracle: an allocation search judged after fine-tuning. For each target sparsity (ascending),
 * starting from the previous target's winner, it builds candidate masks — every base criterion with
 * its own layer allocation, then the best one with one layer's kept count scaled by each factor —
 * fine-tunes each for `candidateEpochs` (same seed), and keeps the one with the best validation
 * accuracy (ties: lower validation loss). The winner is fine-tuned to `stageEpochs` and becomes the
 * start of the next target. Test data is never looked at.
 *
 * `pm` must hold a trained model; on return it holds the last target's winner.
 */
export async function runOracle(
  pm: PrunableModel,
  data: { train: Split; val: Split },
  options: OracleOptions = {},
): Promise<OracleResult> {
  const o = { ...ORACLE_DEFAULTS, ...options };
  const t0 = Date.now();
  const targets = o.targets.slice();
  for (let i = 0; i < targets.length; i++) {
    if (!(targets[i] > 0 && targets[i] < 1) || (i > 0 && targets[i] <= targets[i - 1])) {
      throw new UsageError(`oracle targets must be increasing values in (0, 1), got [${targets}]`);
    }
  }
  if (o.stageEpochs < o.candidateEpochs) throw new UsageError('stageEpochs must be ≥ candidateEpochs');
  const total = pm.totalPrunable;
  const floor = pm.layers.map((l) => Math.max(Math.ceil(o.minKeepPerLayer * l.size), 4));
  const removedAt = pm.maskArrays().map((m) => {
    const r = new Uint8Array(m.length).fill(NEVER_REMOVED);
    for (let j = 0; j < m.length; j++) if (m[j] === 0) r[j] = PRUNED_BEFORE;
    return r;
  });
  const candTrain = o.candidateSamples != null && o.candidateSamples < data.train.labels.length
    ? { x: sliceRows(data.train, o.candidateSamples), labels: data.train.labels.subarray(0, o.candidateSamples) }
    : data.train;
  const calib = data.train;
  const denseValAccuracy = accuracy(pm.model, data.val);
  const stages: OracleStage[] = [];

  try {
    for (let ti = 0; ti < targets.length; ti++) {
      const ts = Date.now();
      const target = targets[ti];
      const masks = pm.maskArrays().map((m) => Float32Array.from(m));
      const live = liveCounts(masks);
      const keepTotal = Math.max(floor.reduce((a, b) => a + b, 0), total - Math.round(target * total));
      const imp = computeImportances(pm, calib, { maxSamples: o.calibSamples });
      const start = pm.snapshot();
      let best: { cand: Candidate; res: CandidateResult; snap: Snapshot } | undefined;
      const candidates: CandidateResult[] = [];
      const seen = new Set<string>();
      const tryCandidate = (cand: Candidate): void => {
        const key = cand.order === imp.magnitude ? 'magnitude' : cand.name.split(':')[0];
        const sig = `${key}|${cand.keep.join(',')}`;
        if (seen.has(sig)) return; // same criterion order and allocation as a candidate already judged
        seen.add(sig);
        pm.restore(start);
        const mask = maskFromAllocation(cand.order, masks, cand.keep);
        pm.setMaskArrays(mask);
        train(pm.model, candTrain, { epochs: o.candidateEpochs, seed: o.seed * 1000 + ti, prunable: pm });
        const res: CandidateResult = {
          name: cand.name,
          valAccuracy: accuracy(pm.model, data.val),
          valLoss: evaluateLoss(pm.model, data.val),
          layerSparsity: cand.keep.map((k, l) => 1 - k / pm.layers[l].size),
        };
        candidates.push(res);
        o.onEvent?.({ type: 'candidate', target, candidate: res });
        if (!best || better(res, best.res, o.judge)) {
          if (best) disposeSnapshot(best.snap);
          best = { cand, res, snap: pm.snapshot() };
        }
      };
      try {
        for (const c of o.criteria) {
          const order = criterionImportance(imp, c);
          const keep = c === 'layer-uniform'
            ? fixAllocation(pm.layers.map((l) => (1 - target) * l.size), live, floor, keepTotal)
            : fixAllocation(globalAllocation(order, keepTotal), live, floor, keepTotal);
          tryCandidate({ name: c, order, keep });
        }
        // Allocation perturbations around the best base candidate: same within-layer order.
        const base = best!.cand;
        for (let l = 0; l < pm.layers.length; l++) {
          for (const f of o.factors) {
            const keep = base.keep.slice();
            keep[l] = Math.max(floor[l], Math.min(live[l], Math.round(keep[l] * f)));
            if (keep[l] === base.keep[l]) continue;
            const others = base.keep.map((k, j) => (j === l ? 0 : k));
            const othersSum = others.reduce((a, b) => a + b, 0);
            const scale = othersSum > 0 ? (keepTotal - keep[l]) / othersSum : 0;
            const scaled = base.keep.map((k, j) => (j === l ? keep[l] : k * scale));
            // Pin layer l, then let fixAllocation correct the others.
            const pinnedFloor = floor.slice(); pinnedFloor[l] = keep[l];
            const pinnedLive = live.slice(); pinnedLive[l] = keep[l];
            const fixed = fixAllocation(scaled, pinnedLive, pinnedFloor, keepTotal);
            if (fixed.reduce((a, b) => a + b, 0) !== keepTotal) continue;
            tryCandidate({ name: `${base.name.split(':')[0]}:${pm.layers[l].name}×${f}`, order: base.order, keep: fixed });
          }
        }
        const win = best!;
        pm.restore(win.snap);
        let valAccuracy = win.res.valAccuracy, valLoss = win.res.valLoss;
        if (o.stageEpochs > o.candidateEpochs) {
          train(pm.model, data.train, { epochs: o.stageEpochs - o.candidateEpochs, seed: o.seed * 1000 + 500 + ti, prunable: pm });
          valAccuracy = accuracy(pm.model, data.val);
          valLoss = evaluateLoss(pm.model, data.val);
        }
        const newMasks = pm.maskArrays();
        newMasks.forEach((m, l) => {
          const r = removedAt[l];
          for (let j = 0; j < m.length; j++) if (m[j] === 0 && r[j] === NEVER_REMOVED) r[j] = ti;
        });
        const sp = pm.sparsity();
        const stage: OracleStage = {
          index: ti, target, sparsity: sp.global, winner: win.res.name, valAccuracy, valLoss,
          layerSparsity: sp.layers.map((x) => x.sparsity), candidates, seconds: (Date.now() - ts) / 1000,
        };
        stages.push(stage);
        o.onEvent?.({ type: 'stage', stage });
        await o.onStage?.(stage, pm);
      } finally {
        disposeSnapshot(start);
        if (best) disposeSnapshot(best.snap);
      }
    }
  } finally {
    if (candTrain !== data.train) candTrain.x.dispose();
  }
  return { targets, removedAt, denseValAccuracy, stages, seconds: (Date.now() - t0) / 1000 };
}

function sliceRows(s: Split, n: number) {
  return s.x.slice(0, n);
}

/**
 * Graded oracle label of each connection of one layer, for a model at the stage after target index
 * `stageIndex` (-1 = the dense model): the fraction of later targets at which the oracle removed it.
 * 1 = prunable already at the next target, 0 = survives every target. NaN for connections not live
 * at that stage.
 */
export function gradedLabels(removedAt: Uint8Array, numTargets: number, stageIndex: number): Float32Array {
  const later = numTargets - 1 - stageIndex;
  const out = new Float32Array(removedAt.length);
  for (let j = 0; j < removedAt.length; j++) {
    const r = removedAt[j];
    if (r === PRUNED_BEFORE || (r !== NEVER_REMOVED && r <= stageIndex)) out[j] = NaN;
    else if (r === NEVER_REMOVED || later <= 0) out[j] = 0;
    else out[j] = (numTargets - r) / later;
  }
  return out;
}

/** The oracle's mask at target index j (1 = kept). */
export function oracleMask(result: OracleResult, j: number): Float32Array[] {
  return result.removedAt.map((r) => {
    const m = new Float32Array(r.length);
    for (let i = 0; i < r.length; i++) m[i] = r[i] === PRUNED_BEFORE || (r[i] !== NEVER_REMOVED && r[i] <= j) ? 0 : 1;
    return m;
  });
}
