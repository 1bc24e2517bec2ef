/**
 * The cost table of `--objective latency`: what a multiply-accumulate of each prunable kernel costs in serving time
 * on this machine, measured on the model itself. Counting MACs ('flops') values every MAC alike; on TensorFlow's CPU
 * kernels they are not alike — a one-channel convolution and its pool keep a fixed cost however few MACs remain, a
 * small Dense layer is mostly its call (docs/compaction.md) — so a unit's worth for speed is what its removal saves
 * in measured time.
 *
 * How: the model is compacted and rewritten for serving as `autoprune compact` does and timed at the serving batch;
 * then, per layer whose units can go, three times more with half, seven eighths and all but the floor (2 %, at least
 * one) of its units removed (the units and the rows that read them, as `pruneUnits` takes them): the narrowest
 * probe measures what a layer costs at the widths a high target leaves (a one-channel convolution's fixed cost, or
 * its serving rewrite), which the wider ones alone would extrapolate. Each probe gives one equation: the time it saved equals
 * the MACs it freed in each kernel times that kernel's milliseconds per MAC. The per-kernel costs are fitted to all
 * probes at once by least squares (ml-matrix), shrunk towards one common cost per MAC (a ridge: a kernel that no probe
 * moves much, such as the output layer's, keeps the common figure) and never below 0. What no unit removal takes away
 * — the calls themselves, layers without units — stays in the dense time as a fixed part, so a target is a fraction of
 * the whole measured time and the reachable maximum says how much of it pruning can remove at all.
 */
import type * as TF from '@tensorflow/tfjs';
import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { UsageError } from '../errors.js';
import { compareLatency } from '../bench/latency.js';
import { withDefaults } from '../models/train.js';
import { compactModel } from './compact.js';
import { disposeSnapshot, type LatencyProfile, type PrunableModel } from './prunable-model.js';
import { rewriteForSpeed, SERVING_BATCH_DEFAULT } from './rewrite.js';
import { pruneUnits } from './units.js';

export interface LatencyProfileOptions {
  /** Samples per `predict` call (the serving batch). Default 32, tfjs's own. */
  batch?: number;
  /** About how long the timing may take, ms (at least 5 calls of each model). Default 3000. */
  budgetMs?: number;
  /** Fractions of a layer's units each probe keeps (at least one unit). Default [0.5, 0.125, 0.02]: half, an eighth, and the floor `pruneUnits` keeps by default. */
  keep?: readonly number[];
  /** Ridge weight, as a fraction of the probes' mean squared MAC share. Default 0.05. */
  ridge?: number;
}

const DEFAULTS = { batch: SERVING_BATCH_DEFAULT, budgetMs: 3000, keep: [0.5, 0.125, 0.02] as readonly number[], ridge: 0.05 };

/**
 * Measures the latency profile of `pm`'s model in its present state (normally dense): see the file's comment. The
 * model and masks are left as they were.
 */
export function measureLatencyProfile(pm: PrunableModel, opts: LatencyProfileOptions = {}): LatencyProfile {
  // Options given as undefined take the defaults (the agent passes `batch: undefined` where no --serving-batch was given).
  const o = withDefaults(DEFAULTS, opts);
  const model = pm.model;
  if (model.inputs.length !== 1) throw new UsageError(`--objective latency times the model on one input; model '${model.name}' has ${model.inputs.length}`);
  const dims = model.inputs[0].shape.slice(1);
  if (dims.some((d) => d == null)) {
    throw new UsageError(`--objective latency times the model at a fixed input shape; model '${model.name}' takes [${dims.map((d) => d ?? 'any').join(', ')}]: give its input a fixed shape, or use --objective flops`);
  }
  const shape = dims as number[];
  const macs = () => pm.sparsity().layers.map((s, i) => (s.size - s.pruned) * pm.layers[i].macsPerWeight);
  const serving = (): TF.LayersModel => {
    const c = compactModel(model, pm).model;
    const r = rewriteForSpeed(c, { batch: o.batch }).model;
    if (r !== c) c.dispose();
    return r;
  };
  const before = macs();
  const models: TF.LayersModel[] = [];
  const probes: { layer: string; macs: number[] }[] = [];
  try {
    models.push(serving());
    for (let i = 0; i < pm.layers.length; i++) {
      if (!pm.layers[i].structured) continue; // no whole units to take (an Embedding's, a depthwise kernel's)
      let last = 0;
      for (const keep of o.keep) {
        const snap = pm.snapshot();
        try {
          const r = pruneUnits(pm, pm.layers.map((l) => new Float32Array(l.units).fill(1)), 0.999999,
            { objective: 'params', onlyLayers: [i], minKeepFraction: keep, roundTo: 1 });
          if (r.removedPerLayer[i] === 0) break; // not a layer whose units can go
          if (r.removedPerLayer[i] === last) continue; // a small layer: the same probe again
          last = r.removedPerLayer[i];
          const after = macs();
          probes.push({ layer: pm.layers[i].name, macs: before.map((m, k) => m - after[k]) });
          models.push(serving());
        } finally {
          pm.restore(snap);
          disposeSnapshot(snap);
        }
      }
    }
    // One untimed call of each for a per-call estimate, then alternating turns within the budget.
    const once = compareLatency(models, shape, { batch: o.batch, runs: 1, warmup: 1, block: 1 }).reduce((a, r) => a + r.medianMs, 0);
    const runs = Math.max(5, Math.min(40, Math.floor(o.budgetMs / Math.max(1e-3, once))));
    const times = compareLatency(models, shape, { batch: o.batch, runs, warmup: 2, block: Math.min(5, runs) }).map((r) => r.medianMs);
    const denseMs = times[0];
    const saved = times.slice(1).map((t) => denseMs - t);
    const msPerMac = fitCosts(probes.map((p) => p.macs), saved, before, o.ridge);
    return {
      batch: o.batch, denseMs, kernels: pm.layers.map((l) => l.name), msPerMac,
      probes: probes.map((p, k) => ({ ...p, savedMs: saved[k] })),
    };
  } finally {
    for (const m of models) m.dispose();
  }
}

/**
 * Per-kernel milliseconds per MAC from probes: savedMs[p] ≈ Σ_k freed[p][k] · cost[k], fitted in shares of each
 * kernel's dense MACs (u_k = cost_k · dense_k, the ms the whole kernel costs) by ridge regression towards one common
 * cost per MAC (total saved ÷ total freed), each kernel's deviation weighed relative to its prior, then clipped at 0.
 * Exported for tests.
 */
export function fitCosts(freed: number[][], savedMs: number[], denseMacs: number[], ridge: number): number[] {
  const k = denseMacs.length;
  const totalFreed = freed.reduce((a, row) => a + row.reduce((x, v) => x + v, 0), 0);
  const common = totalFreed > 0 ? Math.max(0, savedMs.reduce((a, v) => a + Math.max(0, v), 0)) / totalFreed : 0;
  if (freed.length === 0) return denseMacs.map(() => common);
  const a = new Matrix(freed.map((row) => row.map((v, j) => (denseMacs[j] > 0 ? v / denseMacs[j] : 0))));
  const b = Matrix.columnVector(savedMs);
  const u0 = Matrix.columnVector(denseMacs.map((m) => common * m));
  const ata = a.transpose().mmul(a);
  let trace = 0;
  for (let j = 0; j < k; j++) trace += ata.get(j, j);
  // λ from the data's own scale; a kernel no probe touches is held at the common cost alone. Each kernel's deviation
  // from its prior is penalised relative to that prior (weights ∝ 1/u0², mean 1): where probes cannot tell two kernels
  // apart (a Dense layer's units and the output rows that read them always go together), the large kernel takes the
  // difference, not the small one (a 1,280-MAC output layer was given 1 ms and its 102,400-MAC reader 0).
  const mean = denseMacs.reduce((x, m) => x + common * m, 0) / k;
  const raw = denseMacs.map((m) => (mean > 0 ? (mean / Math.max(common * m, 1e-3 * mean)) ** 2 : 1));
  const rawMean = raw.reduce((x, v) => x + v, 0) / k;
  const w = raw.map((v) => v / rawMean);
  const lambda = Math.max(1e-12, (ridge * trace) / k);
  for (let j = 0; j < k; j++) ata.set(j, j, ata.get(j, j) + lambda * w[j]);
  const rhs = a.transpose().mmul(b).add(Matrix.columnVector(u0.getColumn(0).map((v, j) => v * lambda * w[j])));
  const u = new CholeskyDecomposition(ata).solve(rhs).getColumn(0);
  return u.map((v, j) => (denseMacs[j] > 0 ? Math.max(0, v) / denseMacs[j] : common));
}

/** Per kernel: its dense MACs per sample and the milliseconds per call they cost under the profile (the table a report prints). */
export function profileRows(p: LatencyProfile, pm: PrunableModel): { kernel: string; denseMacs: number; ms: number }[] {
  return pm.layers.map((l, i) => ({ kernel: l.name, denseMacs: l.size * l.macsPerWeight, ms: l.size * l.macsPerWeight * p.msPerMac[i] }));
}
