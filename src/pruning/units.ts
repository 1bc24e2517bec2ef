/**
 * Structured (unit) pruning: scores per unit — a Dense column or a Conv2D filter — and removal of
 * whole units. Scores follow the Scorer convention: HIGHER = PRUNE FIRST, compared globally.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError, ModelError, UsageError } from '../errors.js';
import type { Split } from '../data/dataset.js';
import type { ConnectionFeatures } from '../features/types.js';
import { kernelGradient } from '../models/compiled-chain.js';
import { targetsOf, taskOf } from '../models/task.js';
import { findUnitLinks } from './unit-graph.js';
import { prunesCompute, type Objective, type PrunableModel } from './prunable-model.js';

/** Per-unit sums of a kernel-shaped flat array `f(w_i)` over live weights (unit = index % units). */
function perUnit(pm: PrunableModel, f: (w: number, i: number, layer: number) => number): Float32Array[] {
  const masks = pm.maskBytes();
  return pm.layers.map((l, li) => {
    const w = l.kernel.dataSync();
    const m = masks[li];
    const out = new Float64Array(l.units);
    for (let i = 0; i < w.length; i++) if (m[i] !== 0) out[i % l.units] += f(w[i], i, li);
    return Float32Array.from(out);
  });
}

/** L1 filter norm (Li et al. 2017): −Σ|w| over the unit's incoming live weights. */
export function unitL1Scores(pm: PrunableModel): Float32Array[] {
  return perUnit(pm, (w) => Math.abs(w)).map((a) => a.map((v) => -v));
}

/** L2 norm of the unit's incoming live weights: −‖w‖₂. */
export function unitL2Scores(pm: PrunableModel): Float32Array[] {
  return perUnit(pm, (w) => w * w).map((a) => a.map((v) => -Math.sqrt(v)));
}

export interface CalibrationOptions {
  /** Batch size of the calibration passes. Default 64. */
  batchSize?: number;
  /** At most this many samples, evenly spaced over the split. Default 1024. */
  maxSamples?: number;
}

export const CALIBRATION_DEFAULTS = Object.freeze({ batchSize: 64, maxSamples: 1024 });

function batchesOf(calib: Split, opts: CalibrationOptions): Int32Array[] {
  const o = { ...CALIBRATION_DEFAULTS, ...opts };
  const total = calib.x.shape[0];
  if (!(total > 0)) throw new DataError('unit scoring needs at least one calibration sample');
  const n = Math.min(total, Math.max(1, Math.floor(o.maxSamples)));
  const pick = Int32Array.from({ length: n }, (_, i) => Math.floor((i * total) / n));
  const bs = Math.max(1, Math.floor(o.batchSize));
  const out: Int32Array[] = [];
  for (let s = 0; s < n; s += bs) out.push(pick.subarray(s, Math.min(n, s + bs)));
  return out;
}

/**
 * Mean activation (Hu et al. 2016's idea, on magnitudes): −mean |post-activation output| of each unit
 * over the calibration samples (and, for Conv2D, every position). Low-activity units go first.
 */
export function unitMeanActivationScores(pm: PrunableModel, calib: Split, opts: CalibrationOptions = {}): Float32Array[] {
  // Units of other kernels (recurrent gates, depthwise multipliers, nested layers) are not removed whole: −∞.
  // Top-level layers only: a nested model's layers have outputs of their own graph, which the probe cannot read.
  const structured = pm.layers.filter((l) => l.structured && l.containers.length === 0);
  let probe: TF.LayersModel;
  try {
    probe = tf.model({ inputs: pm.model.inputs, outputs: structured.map((l) => l.layer.output as TF.SymbolicTensor) });
  } catch (err) {
    throw new ModelError(`cannot read the outputs of the prunable layers (shared or unconnected layer?): ${(err as Error).message.split('\n')[0]}`);
  }
  // A gated layer's output has one channel per unit (its kernel has one column per unit and gate).
  const sums = structured.map((l) => new Float64Array(l.units / l.gates));
  const counts = structured.map(() => 0);
  for (const idx of batchesOf(calib, opts)) {
    const parts = tf.tidy(() => {
      const xb = tf.gather(calib.x, tf.tensor1d(idx, 'int32'));
      const outs = probe.predict(xb) as TF.Tensor | TF.Tensor[];
      const list = Array.isArray(outs) ? outs : [outs];
      return list.map((y, i) => {
        // Channels-first outputs [batch, units, h, w] are moved to channels-last before the units are columns.
        const cf = (structured[i].layer.getConfig() as { dataFormat?: string }).dataFormat === 'channelsFirst' && y.rank >= 3;
        const last = cf ? tf.transpose(y, [0, ...Array.from({ length: y.rank - 2 }, (_, k) => k + 2), 1]) : y;
        const cols = tf.reshape(tf.abs(last), [-1, sums[i].length]);
        return { sum: tf.sum(cols, 0).dataSync(), rows: cols.shape[0] };
      });
    });
    parts.forEach((p, i) => {
      for (let u = 0; u < p.sum.length; u++) sums[i][u] += p.sum[u];
      counts[i] += p.rows;
    });
  }
  const byLayer = new Map(structured.map((l, i) => [l, Float32Array.from({ length: l.units }, (_, c) => -sums[i][c % sums[i].length] / Math.max(1, counts[i]))]));
  return pm.layers.map((l) => byLayer.get(l) ?? new Float32Array(l.units).fill(-Infinity));
}

/**
 * First-order Taylor per unit: −|Σ_i w_i · ḡ_i| over the unit's live weights, ḡ = mean calibration
 * gradient of the loss. Units whose removal changes the loss least go first.
 */
export function unitTaylorScores(pm: PrunableModel, calib: Split, opts: CalibrationOptions = {}): Float32Array[] {
  if (calib.labels.length !== calib.x.shape[0]) {
    throw new DataError(`calibration split has ${calib.x.shape[0]} inputs but ${calib.labels.length} labels`);
  }
  const task = taskOf(pm.model);
  const kernels = pm.layers.map((l) => l.kernel);
  const gradient = kernelGradient(pm.model, task, kernels);
  const gsum = pm.layers.map((l) => new Float64Array(l.size));
  const batches = batchesOf(calib, opts);
  for (const idx of batches) {
    // tidy returns the gradient tensors, not their data (tidy would walk returned typed arrays element by element).
    const gs = tf.tidy(() => {
      const xb = tf.gather(calib.x, tf.tensor1d(idx, 'int32'));
      const yb = targetsOf(calib, task, idx);
      const grads = gradient(xb, yb);
      return pm.layers.map((l) => grads[l.kernel.name]);
    }).map((t) => { const d = t.dataSync(); t.dispose(); return d; });
    gs.forEach((g, i) => { for (let j = 0; j < g.length; j++) gsum[i][j] += g[j]; });
  }
  const signed = perUnit(pm, (w, i, li) => (w * gsum[li][i]) / batches.length);
  return signed.map((a) => a.map((v) => -Math.abs(v)));
}

export type UnitScoreReduce = 'mean' | 'max' | 'min';

/**
 * A unit score from any connection Scorer (a learned policy or a baseline): the mean (or max / min)
 * of the prunability scores of the unit's live incoming connections. Units with no live connection
 * in `features` score +∞ (they are dead already). Same convention: higher = prune first.
 */
export function unitScoresFromConnectionScores(
  features: ConnectionFeatures,
  scores: Float32Array[],
  pm: PrunableModel,
  reduce: UnitScoreReduce = 'mean',
): Float32Array[] {
  if (scores.length !== features.layers.length) {
    throw new UsageError(`expected ${features.layers.length} score arrays (one per feature layer), got ${scores.length}`);
  }
  const acc = pm.layers.map((l) => new Float64Array(l.units).fill(reduce === 'max' ? -Infinity : reduce === 'min' ? Infinity : 0));
  const cnt = pm.layers.map((l) => new Int32Array(l.units));
  features.layers.forEach((lf, k) => {
    const l = pm.layers[lf.layer];
    if (!l) throw new UsageError(`feature layer ${lf.layer} ('${lf.name}') is not a prunable layer of this model`);
    const s = scores[k];
    if (s.length !== lf.count) throw new UsageError(`scores for layer '${lf.name}' have ${s.length} values, the layer has ${lf.count} live connections`);
    const a = acc[lf.layer];
    const c = cnt[lf.layer];
    for (let j = 0; j < lf.count; j++) {
      const v = Number.isNaN(s[j]) ? -Infinity : s[j];
      const u = lf.indices[j] % l.units;
      if (reduce === 'mean') a[u] += v;
      else if (reduce === 'max') a[u] = Math.max(a[u], v);
      else a[u] = Math.min(a[u], v);
      c[u]++;
    }
  });
  return acc.map((a, i) => Float32Array.from(a, (v, u) => (cnt[i][u] === 0 ? Infinity : reduce === 'mean' ? v / cnt[i][u] : v)));
}

/** Unit-score baselines by registry name. */
export const UNIT_BASELINES = Object.freeze({
  l1: (pm: PrunableModel) => unitL1Scores(pm),
  l2: (pm: PrunableModel) => unitL2Scores(pm),
  'mean-activation': (pm: PrunableModel, calib?: Split) => unitMeanActivationScores(pm, needCalib('mean-activation', calib)),
  taylor: (pm: PrunableModel, calib?: Split) => unitTaylorScores(pm, needCalib('taylor', calib)),
} as const);

export type UnitBaselineName = keyof typeof UNIT_BASELINES;

function needCalib(name: string, calib?: Split): Split {
  if (!calib) throw new UsageError(`unit scorer '${name}' needs calibration data`);
  return calib;
}

/** Unit scores of a baseline by name; UsageError listing the valid names otherwise. */
export function unitBaselineScores(name: string, pm: PrunableModel, calib?: Split): Float32Array[] {
  if (!Object.prototype.hasOwnProperty.call(UNIT_BASELINES, name)) {
    throw new UsageError(`unknown unit scorer '${name}'; valid unit scorers: ${Object.keys(UNIT_BASELINES).join(', ')}`);
  }
  return UNIT_BASELINES[name as UnitBaselineName](pm, calib);
}

export interface PruneUnitsOptions {
  /** Each layer keeps at least this fraction of its units (rounded up). Default 0.02. */
  minKeepFraction?: number;
  /** Each layer keeps at least this many units. Default 1. */
  minKeepUnits?: number;
  /** Also prune the removed unit's outgoing weights in the next prunable layer when directly connected. Default true. */
  pruneOutgoing?: boolean;
  /**
   * What the target counts: 'params' (weights, default), 'flops' (multiply-accumulates) or 'latency' (predicted
   * time, PrunableModel.latencyProfile). With 'flops' and 'latency', units are taken in order of prunability per unit
   * of compute (or time) they free (see pruneUnits).
   */
  objective?: Objective;
  /**
   * A convolution this call takes units from keeps a multiple of this many (when it has more), by giving up its next
   * candidates: odd channel counts run slower on TensorFlow's CPU kernels. Default 8 with 'flops' and 'latency' (pruning for
   * speed), 1 (no rounding) with 'params'.
   */
  roundTo?: number;
  /** Take units only from these prunable layers (PrunableModel.layers indices): a latency probe removes one layer's. */
  onlyLayers?: readonly number[];
}

export const PRUNE_UNITS_DEFAULTS = Object.freeze({ minKeepFraction: 0.02, minKeepUnits: 1, pruneOutgoing: true, objective: 'params' as Objective });

export interface PruneUnitsResult {
  /** Units removed by this call, per prunable layer (PrunableModel.layers order). */
  removedPerLayer: number[];
  /** Connections newly pruned by this call. */
  removedWeights: number;
  /** Global weight sparsity after the call (below the target when the floors bind). */
  sparsity: number;
  /** Progress under the objective after the call (= sparsity for 'params', compute removed for 'flops', predicted time removed for 'latency'). */
  progress: number;
}

/**
 * Removes whole units, highest score first (compared globally), until the global *weight* sparsity
 * reaches `targetSparsity` (it may overshoot by at most one unit's weights). Removing a unit prunes its
 * incoming kernel column / filter and, with `pruneOutgoing`, the rows / input channels that read it in
 * the next prunable layer when that one reads it directly (Dense→Dense, Conv→pool→Conv,
 * Conv→Flatten→Dense, through a depthwise conv whose channel goes too), so compaction can then drop it
 * physically. Channels coupled through an elementwise merge or read by several layers (compact.ts,
 * ChannelGroup) go from every producer and every reader at once. Units of the last prunable layer
 * (the output) are never removed; every layer keeps max(minKeepUnits, ceil(minKeepFraction · units))
 * units. Units already without live incoming weights count as removed already. Deterministic: ties
 * are broken by layer, then unit index; NaN scores sort last.
 *
 * With `objective: 'flops'` the target counts multiply-accumulates instead of weights, and the order is
 * a knapsack greedy: a unit's importance is its rank in the score order (1/n for the most prunable,
 * 1 for the least), divided by the compute its removal frees (live incoming and outgoing weights,
 * each × its layer's MACs per weight). Cheap-to-keep units (a Dense unit of 800 MACs) then go only when
 * they are far more prunable than expensive ones (a conv filter of 30,000 MACs) — no per-layer ratio.
 * With `objective: 'latency'` the same, with each weight's MACs × its kernel's measured milliseconds per MAC
 * (the profile's), and the target a fraction of the profile's whole measured time.
 */
export function pruneUnits(
  pm: PrunableModel,
  unitScores: Float32Array[],
  targetSparsity: number,
  opts: PruneUnitsOptions = {},
): PruneUnitsResult {
  const o = { ...PRUNE_UNITS_DEFAULTS, ...opts };
  if (!(targetSparsity >= 0 && targetSparsity < 1)) throw new UsageError(`target sparsity must be in [0, 1), got ${targetSparsity}`);
  if (unitScores.length !== pm.layers.length) {
    throw new UsageError(`expected ${pm.layers.length} unit score arrays (one per prunable layer), got ${unitScores.length}`);
  }
  pm.layers.forEach((l, i) => {
    if (unitScores[i].length !== l.units) throw new UsageError(`unit scores of layer '${l.name}' have ${unitScores[i].length} values, it has ${l.units} units`);
  });
  // Writable masks, a byte per weight (a float copy of every mask would be eight: docs/benchmarks.md, scale).
  const masks = pm.maskBytes();
  const total = pm.totalPrunable;
  // 'flops' and 'latency' take units in the knapsack order, by what they free: MACs, or predicted milliseconds.
  const flops = prunesCompute(o.objective);
  const cost = o.objective === 'latency' ? pm.latencyPerWeight() : pm.layers.map((l) => (flops ? l.macsPerWeight : 1));
  // The target's denominator: every weight's cost, or under 'latency' the model's whole measured time (the calls'
  // fixed cost included, which no unit removal takes away).
  const totalCost = o.objective === 'latency' ? pm.latencyProfile!.denseMs : pm.layers.reduce((a, l, i) => a + l.size * cost[i], 0);
  let pruned = 0;
  let prunedCost = 0;
  masks.forEach((m, i) => {
    const n = m.reduce((x, v) => x + (v === 0 ? 1 : 0), 0);
    pruned += n;
    prunedCost += n * cost[i];
  });
  // At least the target (units overshoot it anyway); weights and MACs are whole numbers, milliseconds are not.
  const want = o.objective === 'latency' ? targetSparsity * totalCost * (1 - 1e-9) : Math.ceil(targetSparsity * totalCost - 1e-6);
  const removedPerLayer = pm.layers.map(() => 0);
  const startPruned = pruned;
  const result = () => ({ removedPerLayer, removedWeights: pruned - startPruned, sparsity: pruned / total, progress: prunedCost / totalCost });
  if (prunedCost >= want) return result();

  // A layer's unit kernel stands for it (a recurrent layer's recurrent kernel comes second; a separable conv's
  // depthwise kernel comes first, its pointwise kernel holds the units).
  const indexOf = new Map<TF.layers.Layer, number>();
  pm.layers.forEach((l, i) => { if (!indexOf.has(l.layer) || (l.structured && !pm.layers[indexOf.get(l.layer)!].structured)) indexOf.set(l.layer, i); });
  /** A separable conv's depthwise kernel (its input channel c is the depthwise kernel's channel c), else −1. */
  const depthwiseOf = (layer: TF.layers.Layer) => pm.layers.findIndex((r) => r.layer === layer && r.role === 'depthwise_kernel' && layer.getClassName() === 'SeparableConv2D');
  const recurrentOf = pm.layers.map((l) => pm.layers.findIndex((r) => r.layer === l.layer && r.role === 'recurrent_kernel'));
  /** Removable units of a layer: columns of its kernel, or (LSTM, GRU) columns per gate. */
  const hidden = pm.layers.map((l) => l.units / l.gates);
  // What removing unit c of a layer takes with it (compact.ts): a chain link's consumer rows and depthwise channel,
  // or a channel group's other producers, per-channel depthwise convs and every consumer's rows.
  // A Conv2DTranspose reader ([kh, kw, filters, inputs]) reads channel c at every index ≡ c modulo the channels.
  interface Coupling { producers: number[]; depthwise: number[]; consumers: { index: number; groups: number; transposed: boolean }[]; channels: number }
  const transposed = (l: TF.layers.Layer) => l.getClassName() === 'Conv2DTranspose';
  const coupling: (Coupling | undefined)[] = pm.layers.map(() => undefined);
  if (o.pruneOutgoing) {
    const inPm = (ls: readonly TF.layers.Layer[]) => ls.every((l) => indexOf.has(l));
    // Depthwise kernels that read only channel c: a depthwise conv in between, and a separable consumer's own.
    const depthwise = (ls: readonly TF.layers.Layer[], readers: readonly TF.layers.Layer[]) => [
      ...ls.filter((b) => b.getClassName() === 'DepthwiseConv2D' && indexOf.has(b)).map((b) => indexOf.get(b)!),
      ...readers.map(depthwiseOf).filter((i) => i >= 0),
    ];
    const found = findUnitLinks(pm.model);
    for (const link of found.links) {
      const p = indexOf.get(link.producer);
      if (p == null || !indexOf.has(link.consumer)) continue;
      coupling[p] = { producers: [p], depthwise: depthwise(link.between, [link.consumer]), consumers: [{ index: indexOf.get(link.consumer)!, groups: link.groups, transposed: transposed(link.consumer) }], channels: link.channels };
    }
    for (const g of found.groups) {
      if (!inPm(g.producers) || !inPm(g.consumers.map((c) => c.layer))) continue;
      // A channel goes from every producer at once: not where one of them has no units to remove whole (a
      // Conv2DTranspose's filters are its kernel's third axis), or its filters would stay in the count while
      // compaction takes them out.
      if (g.producers.some((l) => !pm.layers[indexOf.get(l)!].structured)) continue;
      const c: Coupling = {
        producers: g.producers.map((l) => indexOf.get(l)!), depthwise: depthwise(g.channelwise, g.consumers.map((k) => k.layer)),
        consumers: g.consumers.map((k) => ({ index: indexOf.get(k.layer)!, groups: k.groups, transposed: transposed(k.layer) })), channels: g.channels,
      };
      for (const p of c.producers) coupling[p] = c;
    }
  }
  const last = pm.layers.length - 1;
  const alive = pm.layers.map((l, i) => {
    const live = new Uint8Array(hidden[i]);
    for (const k of [i, recurrentOf[i]]) {
      if (k < 0) continue;
      const m = masks[k];
      for (let j = 0; j < m.length; j++) if (m[j] !== 0) live[(j % l.units) % hidden[i]] = 1;
    }
    return live;
  });
  const aliveCount = alive.map((a) => a.reduce((x, v) => x + v, 0));
  const floor = hidden.map((h) => Math.max(o.minKeepUnits, Math.ceil(o.minKeepFraction * h)));

  const cand: { layer: number; unit: number; score: number }[] = [];
  pm.layers.forEach((l, i) => {
    // Output units are never removed; only top-level Dense / Conv / recurrent units can go whole (layer-kinds.ts). For
    // compute, only units compaction can take out (coupled to the next prunable layers, compact.ts): a unit
    // feeding a concatenation or an unprunable layer keeps its channel in the compact model, and its MACs with it.
    // Whole units go only where compaction can take them out, whatever the objective: a unit zeroed but kept by
    // compaction (it feeds a Concatenate) saves nothing, and its MACs would be claimed as removed.
    if (l.layer === pm.layers[last].layer || !l.structured || (o.pruneOutgoing && !coupling[i])) return;
    if (o.onlyLayers && !o.onlyLayers.includes(i)) return;
    // A channel group's channel is one candidate (on its first producer), scored by the mean over its producers:
    // a channel prunable in one producer but important in another is not taken on the first one's word.
    const producers = coupling[i]?.producers ?? [i];
    if (producers[0] !== i) return;
    const scoreOf = (p: number, u: number) => {
      // A gated unit's score: the mean of its gate columns' scores.
      let s = 0;
      for (let g = 0; g < pm.layers[p].gates; g++) s += unitScores[p][g * hidden[p] + u];
      return s / pm.layers[p].gates;
    };
    for (let u = 0; u < hidden[i]; u++) {
      if (!producers.some((p) => alive[p][u])) continue;
      const s = producers.reduce((a, p) => a + scoreOf(p, u), 0) / producers.length;
      cand.push({ layer: i, unit: u, score: Number.isNaN(s) ? -Infinity : s });
    }
  });
  cand.sort((a, b) => (b.score - a.score) || (a.layer - b.layer) || (a.unit - b.unit));
  /** The layers that lose unit c together (a group's producers; else the layer alone). */
  const together = (c: { layer: number }) => coupling[c.layer]?.producers ?? [c.layer];
  /** Visits the kernel entries a unit's removal prunes: its incoming weights and, when coupled, the ones reading it. */
  const eachWeight = (c: { layer: number; unit: number }, visit: (li: number, idx: number) => void) => {
    for (const p of together(c)) {
      const l = pm.layers[p];
      for (let g = 0; g < l.gates; g++) for (let idx = g * hidden[p] + c.unit; idx < l.size; idx += l.units) visit(p, idx);
      // A recurrent unit also loses its recurrent kernel's columns (each gate) and its row (the state it feeds back).
      const r = recurrentOf[p];
      if (r < 0) continue;
      const cols = pm.layers[r].units;
      for (let g = 0; g < l.gates; g++) for (let idx = g * hidden[p] + c.unit; idx < pm.layers[r].size; idx += cols) visit(r, idx);
      for (let idx = c.unit * cols; idx < (c.unit + 1) * cols; idx++) visit(r, idx);
    }
    const k = coupling[c.layer];
    if (!k) return;
    // A depthwise conv in between (multiplier 1), or a separable consumer's depthwise kernel, reads only this channel:
    // its channel goes with the unit.
    for (const di of k.depthwise) for (let idx = c.unit; idx < pm.layers[di].size; idx += k.channels) visit(di, idx);
    for (const { index, groups, transposed: swapped } of k.consumers) {
      if (swapped) {
        for (let idx = c.unit; idx < pm.layers[index].size; idx += k.channels) visit(index, idx);
        continue;
      }
      const cOut = pm.layers[index].units;
      for (let g = 0; g < groups; g++) {
        const base = (g * k.channels + c.unit) * cOut;
        for (let q = 0; q < cOut; q++) visit(index, base + q);
      }
    }
  };
  if (flops) {
    // Knapsack greedy: rank importance per MAC freed (computed once, from the masks at the call).
    const key = cand.map((c, rank) => {
      let freed = 0;
      eachWeight(c, (li, idx) => { if (masks[li][idx] !== 0) freed += cost[li]; });
      return ((rank + 1) / cand.length) / Math.max(1e-9, freed);
    });
    const order = cand.map((_, i) => i).sort((a, b) => (key[a] - key[b]) || (a - b));
    cand.splice(0, cand.length, ...order.map((i) => cand[i]));
  }

  const changed = new Set<number>();
  /** While set, what `take` changes (weights zeroed, units removed), so that a pass can be undone. */
  let journal: { weights: number[]; units: number[] } | undefined;
  const zero = (li: number, idx: number) => {
    if (masks[li][idx] !== 0) {
      masks[li][idx] = 0; pruned++; prunedCost += cost[li]; changed.add(li);
      journal?.weights.push(li, idx);
    }
  };
  /** Removes unit c (from every layer that shares it), unless a floor forbids it; returns whether it went. */
  const take = (c: { layer: number; unit: number }): boolean => {
    const layers = together(c);
    if (layers.some((p) => aliveCount[p] <= floor[p])) return false;
    eachWeight(c, zero);
    for (const p of layers) {
      if (!alive[p][c.unit]) continue;
      alive[p][c.unit] = 0;
      aliveCount[p]--;
      removedPerLayer[p]++;
      journal?.units.push(p, c.unit);
    }
    return true;
  };
  const undo = (j: { weights: number[]; units: number[] }) => {
    for (let k = 0; k < j.weights.length; k += 2) { masks[j.weights[k]][j.weights[k + 1]] = 1; pruned--; prunedCost -= cost[j.weights[k]]; }
    for (let k = 0; k < j.units.length; k += 2) { alive[j.units[k]][j.units[k + 1]] = 1; aliveCount[j.units[k]]++; removedPerLayer[j.units[k]]--; }
  };
  // Convolutions run odd channel counts slower than multiples of 8 on TensorFlow's CPU kernels (docs/compaction.md:
  // 2/30/25 filters took 18.0 ms where 2/32/24 took 9.3): a convolution this call took units from keeps a multiple of
  // `roundTo` (Torch-Pruning's round_to), by removing its next candidates, floors permitting (below).
  const roundTo = Math.max(1, Math.floor(o.roundTo ?? (flops ? 8 : 1)));
  /** Units the first unit taken from c's layer costs once rounded (16 filters → 8: a block of 8); 1 where none is rounded. */
  const blockOf = (c: { layer: number }): number => {
    const a = aliveCount[c.layer];
    if (roundTo <= 1 || removedPerLayer[c.layer] > 0 || a <= roundTo || !together(c).some((p) => pm.layers[p].conv)) return 1;
    return a - Math.floor((a - 1) / roundTo) * roundTo;
  };
  const freedOf = (c: { layer: number; unit: number }): number => {
    let f = 0;
    eachWeight(c, (li, idx) => { if (masks[li][idx] !== 0) f += cost[li]; });
    return f;
  };
  // Filter blocks (roundTo > 1), in two rules:
  // - A unit that starts a block counts the rest of the block as taken already (`pending`, per layer: the rounding below
  //   removes it; a unit taken later from the same block is part of it, not more on top), so a second layer's block is
  //   not started for a step the first one makes (a conv16 → conv16 model's 40 % step removed 72.9 %, two blocks).
  // - A unit whose block would take the step past twice its size is passed over while other units can make the step (a
  //   small MobileNet's 16-filter stem, rounded to 8, removed 44 % of the MACs for a 15 % step, and every smaller step
  //   was the same 44 %: a new user's run stopped at 0 %). Where the others cannot make the step, that pass is undone
  //   and the step taken in the plain order, blocks and all (the passed-over blocks on top would overshoot further).
  // A block's rest is counted in units (what the rounding below removes: exactly those) and in MACs (an estimate: the
  // first unit's, while later units free less as other layers shrink); when its last unit is taken, what is left of
  // the estimate goes too, so that no stale estimate ends a step short of its target.
  let pending = 0;
  const pendingOf = new Map<number, { units: number; macs: number }>();
  const takeCounting = (c: { layer: number; unit: number }, b: number, freed?: number) => {
    const open = pendingOf.get(c.layer);
    const f = b > 1 || open ? (freed ?? freedOf(c)) : 0;
    if (!take(c)) return;
    if (b > 1) {
      pendingOf.set(c.layer, { units: b - 1, macs: (b - 1) * f });
      pending += (b - 1) * f;
    } else if (open) {
      const used = open.units <= 1 ? open.macs : Math.min(open.macs, f);
      open.units--;
      open.macs -= used;
      pending -= used;
      if (open.units <= 0) pendingOf.delete(c.layer);
    }
  };
  const greedy = () => { for (const c of cand) { if (prunedCost + pending >= want) break; takeCounting(c, blockOf(c)); } };
  if (roundTo > 1) {
    const room = 2 * want - prunedCost;
    journal = { weights: [], units: [] };
    const start = prunedCost;
    // The passed-over blocks, with what each would free on its own from where the step started.
    const passed: { c: { layer: number; unit: number }; b: number; f: number; macs: number }[] = [];
    for (const c of cand) {
      if (prunedCost + pending >= want) break;
      const b = blockOf(c);
      const f = b > 1 ? freedOf(c) : undefined;
      if (f != null && prunedCost + pending + b * f > room) { passed.push({ c, b, f, macs: b * f }); continue; }
      takeCounting(c, b, f);
    }
    const j = journal;
    journal = undefined;
    if (passed.length > 0 && prunedCost + pending < want) {
      undo(j);
      pending = 0;
      pendingOf.clear();
      // Every unit that fits cannot make the step: the block that makes it alone with the least overshoot goes (the most
      // prunable of equal ones; where none makes it alone, none), then the plain order for any rest. Taking the first block in the order instead removed a small
      // MobileNet's 8-filter stem (10.6 % of its MACs) for a 0.4-point step where 8 of another layer's filters (1.2 %) made it.
      const closes = passed.filter((p) => start + p.macs >= want);
      if (closes.length > 0) {
        const best = closes.reduce((a, p) => (p.macs < a.macs ? p : a));
        takeCounting(best.c, best.b, best.f);
      }
      greedy();
    }
  } else {
    greedy();
  }
  const roundBlocks = () => {
    if (roundTo <= 1) return;
    for (let i = 0; i < pm.layers.length; i++) {
      if (removedPerLayer[i] === 0 || !together({ layer: i }).some((p) => pm.layers[p].conv) || together({ layer: i })[0] !== i) continue;
      let extra = aliveCount[i] > roundTo ? aliveCount[i] % roundTo : 0;
      for (const c of cand) {
        if (extra === 0) break;
        if (c.layer !== i || !alive[i][c.unit]) continue;
        if (!take(c)) break;
        extra--;
      }
    }
  };
  roundBlocks();
  // A block's rest is counted at the MACs its units free when it starts; units taken after it from other layers make
  // them free less (a separable conv's units once its reader's channels are gone), so the rounding can realise less
  // than was counted and leave the step short of its target (a new user's forced step: 88.3 % of a reachable 90 %,
  // "every layer at its floor"). Then the next candidates in the order go too, rounded again, until the target is met
  // or nothing more can go.
  for (let pass = 0; prunedCost < want && pass < 16; pass++) {
    const before = prunedCost;
    pending = 0;
    pendingOf.clear();
    greedy();
    roundBlocks();
    if (prunedCost === before) break;
  }
  for (const li of changed) pm.setMaskBytes(li, masks[li]);
  return result();
}
