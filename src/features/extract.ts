import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError, ModelError } from '../errors.js';
import type { Split } from '../data/dataset.js';
import { lossOf, targetsOf, taskOf } from '../models/task.js';
import type { PrunableLayer, PrunableModel } from '../pruning/prunable-model.js';
import { FEATURE_SCHEMA, type FeatureName } from './schema.js';
import type { ConnectionFeatures, LayerFeatures } from './types.js';

export interface ExtractOptions {
  /** Calibration batch size; gradient statistics are taken over these batches. Default 64. */
  batchSize?: number;
  /** At most this many calibration samples, evenly spaced over the split (deterministic). Default 1024. */
  maxSamples?: number;
}

export const EXTRACT_DEFAULTS = Object.freeze({ batchSize: 64, maxSamples: 1024 });

const LOG_EPS = 1e-12;

/** Sums over calibration batches for one prunable layer; every tensor is owned here. */
interface LayerStats {
  inSum: TF.Tensor; inSq: TF.Tensor; inZero: TF.Tensor; inCount: number;
  outSum: TF.Tensor; outZero: TF.Tensor; outCount: number;
  gSum: TF.Tensor; gAbs: TF.Tensor; gSq: TF.Tensor;
}

/**
 * Features of every live connection (mask 1) of every prunable kernel (see pruning/layer-kinds.ts): weight magnitude and
 * its ranks, gradient saliencies (mean |g|, Taylor, Fisher/OBD) over calibration batches, statistics of
 * the input each connection reads and of the unit it feeds, and layer context. See schema.ts for the
 * exact definitions. All heavy work is tensor ops; the model and its masks are left untouched.
 */
export function extractFeatures(pm: PrunableModel, calib: Split, opts: ExtractOptions = {}): ConnectionFeatures {
  const o = { ...EXTRACT_DEFAULTS, ...opts };
  const total = calib.x.shape[0];
  if (!(total > 0)) throw new DataError('feature extraction needs at least one calibration sample');
  if (calib.labels.length !== total) {
    throw new DataError(`calibration split has ${total} inputs but ${calib.labels.length} labels`);
  }
  if (!(o.batchSize >= 1) || !(o.maxSamples >= 1)) {
    throw new DataError(`batchSize and maxSamples must be ≥ 1 (got ${o.batchSize}, ${o.maxSamples})`);
  }
  const n = Math.min(total, Math.floor(o.maxSamples));
  // Evenly spaced rather than the first n: splits are often ordered by class.
  const pick = new Int32Array(n);
  for (let i = 0; i < n; i++) pick[i] = Math.floor((i * total) / n);

  const stats = calibrationStats(pm, calib, pick, Math.floor(o.batchSize));
  try {
    return buildFeatures(pm, stats);
  } finally {
    for (const s of stats.layers) {
      for (const t of [s.inSum, s.inSq, s.inZero, s.outSum, s.outZero, s.gSum, s.gAbs, s.gSq]) t.dispose();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Calibration pass: activations and gradients, accumulated over batches.

const probeCache = new WeakMap<TF.LayersModel, Probe>();

/**
 * Models sharing `pm.model`'s layers whose outputs are the activations that describe each kernel's rows
 * (its input channels) and units (see layer-kinds.ts): one per graph — the top-level model, and each
 * nested model used as a layer, fed the value its input takes in the graph around it. Kernels without
 * such a tensor (recurrent gates, token ids, separable intermediates) get neutral statistics.
 */
interface ProbeNode {
  model: TF.LayersModel | undefined;
  /** Nested models of this graph: the output slot of their input here, and their own probe. */
  children: { slot: number; node: ProbeNode }[];
}
interface Probe {
  root: ProbeNode;
  /** Per kernel: the probe node and output slot of its 'in' / 'out' activation, or undefined (neutral). */
  inAt: ({ node: ProbeNode; slot: number } | undefined)[];
  outAt: ({ node: ProbeNode; slot: number } | undefined)[];
  count: number;
}

/** The symbolic tensor a statistics source names, when its graph has exactly one of the right width. */
function sourceTensor(l: PrunableLayer, source: 'input' | 'output' | 'none', channels: number): TF.SymbolicTensor | undefined {
  if (source === 'none') return undefined;
  let t: TF.SymbolicTensor | TF.SymbolicTensor[];
  try {
    t = source === 'input' ? l.layer.input : l.layer.output;
  } catch {
    return undefined; // a shared layer (several inbound nodes) has no single input
  }
  if (Array.isArray(t)) {
    if (t.length !== 1) return undefined;
    t = t[0];
  }
  const shape = t.shape;
  const last = channelsFirst(l) && shape.length >= 3 ? shape[1] : shape[shape.length - 1];
  return last === channels && t.dtype === 'float32' ? t : undefined;
}

/** Whether `t` can be computed from `graph`'s inputs. */
function reachable(graph: TF.LayersModel, t: TF.SymbolicTensor): boolean {
  try {
    tf.model({ inputs: graph.inputs, outputs: [t] });
    return true;
  } catch {
    return false;
  }
}

function probeModel(pm: PrunableModel): Probe {
  const cached = probeCache.get(pm.model);
  if (cached && cached.count === pm.layers.length) return cached;
  const inAt: Probe['inAt'] = pm.layers.map(() => undefined);
  const outAt: Probe['outAt'] = pm.layers.map(() => undefined);
  const build = (graph: TF.LayersModel, depth: number, members: PrunableLayer[]): ProbeNode => {
    const outputs: TF.SymbolicTensor[] = [];
    const slot = (t: TF.SymbolicTensor): number => {
      const at = outputs.indexOf(t);
      if (at >= 0) return at;
      outputs.push(t);
      return outputs.length - 1;
    };
    const node: ProbeNode = { model: undefined, children: [] };
    for (const l of members.filter((k) => k.containers.length === depth)) {
      const ti = sourceTensor(l, l.stats.in, l.shape[l.shape.length - 2]);
      const to = sourceTensor(l, l.stats.out, l.units);
      if (ti) inAt[l.index] = { node, slot: slot(ti) };
      if (to) outAt[l.index] = { node, slot: slot(to) };
    }
    const nested = new Map<TF.layers.Layer, PrunableLayer[]>();
    for (const l of members.filter((k) => k.containers.length > depth)) {
      const c = l.containers[depth];
      nested.set(c, [...(nested.get(c) ?? []), l]);
    }
    for (const [c, inner] of nested) {
      // The tensor the nested model reads in this graph (a Sequential's first node may be this graph's own input).
      const fed = c.inboundNodes.map((n) => n.inputTensors).filter((ts) => ts.length === 1).map((ts) => ts[0]);
      const t = fed.find((x) => reachable(graph, x));
      if (!t) continue;
      node.children.push({ slot: slot(t), node: build(c as unknown as TF.LayersModel, depth + 1, inner) });
    }
    if (outputs.length) {
      try {
        node.model = tf.model({ inputs: graph.inputs, outputs });
      } catch (err) {
        throw new ModelError(`cannot read the activations of the prunable layers (is a layer shared or not connected?): ${(err as Error).message.split('\n')[0]}`);
      }
    }
    return node;
  };
  const probe = { root: build(pm.model, 0, pm.layers), inAt, outAt, count: pm.layers.length };
  probeCache.set(pm.model, probe);
  return probe;
}

/** Runs the probe tree on a batch: every node's outputs (inside the caller's tidy). */
function runProbe(node: ProbeNode, x: TF.Tensor, into: Map<ProbeNode, TF.Tensor[]>): void {
  if (!node.model) return;
  const outs = node.model.apply(x, { training: false }) as TF.Tensor | TF.Tensor[];
  const list = Array.isArray(outs) ? outs : [outs];
  into.set(node, list);
  for (const c of node.children) runProbe(c.node, list[c.slot], into);
}

function channelsFirst(l: PrunableLayer): boolean {
  return l.conv && (l.layer.getConfig() as { dataFormat?: string }).dataFormat === 'channelsFirst';
}

/** Activations as [positions, channels] (channels = the last axis, or axis 1 for channels-first data). */
function asColumns(t: TF.Tensor, channels: number, cf: boolean): TF.Tensor2D {
  const x = cf && t.rank >= 3 ? tf.transpose(t, [0, ...Array.from({ length: t.rank - 2 }, (_, i) => i + 2), 1]) : t;
  return tf.reshape(x, [-1, channels]) as TF.Tensor2D;
}

function accumulate(acc: TF.Tensor | undefined, add: TF.Tensor): TF.Tensor {
  if (!acc) return tf.keep(add);
  const next = tf.keep(tf.add(acc, add));
  acc.dispose();
  return next;
}

/**
 * Statistics that make the activation features neutral: mean 0, norm 1, no zeros — so that Wanda's
 * |w|·‖x‖ is |w| and the unit / input statistics carry no information.
 */
function neutralIn(p: Partial<LayerStats>, rows: number): void {
  p.inSum = tf.zeros([rows]); p.inSq = tf.ones([rows]); p.inZero = tf.zeros([rows]); p.inCount = 1;
}
function neutralOut(p: Partial<LayerStats>, units: number): void {
  p.outSum = tf.zeros([units]); p.outZero = tf.zeros([units]); p.outCount = 1;
}

function calibrationStats(pm: PrunableModel, calib: Split, pick: Int32Array, batchSize: number) {
  const probe = probeModel(pm);
  const task = taskOf(pm.model);
  const kernels = pm.layers.map((l) => l.kernel);
  const partial: Partial<LayerStats>[] = pm.layers.map(() => ({ inCount: 0, outCount: 0 }));
  let batches = 0;
  for (let start = 0; start < pick.length; start += batchSize) {
    const idx = pick.subarray(start, Math.min(pick.length, start + batchSize));
    const labels = new Int32Array(idx.length);
    for (let i = 0; i < idx.length; i++) labels[i] = calib.labels[idx[i]];
    tf.tidy(() => {
      const xb = tf.gather(calib.x, tf.tensor1d(idx, 'int32'));
      const values = new Map<ProbeNode, TF.Tensor[]>();
      runProbe(probe.root, xb, values);
      const valueOf = (at: { node: ProbeNode; slot: number } | undefined) => (at ? values.get(at.node)?.[at.slot] : undefined);
      pm.layers.forEach((l, i) => {
        const p = partial[i];
        const cf = channelsFirst(l);
        const xin = valueOf(probe.inAt[i]);
        const yout = valueOf(probe.outAt[i]);
        if (xin) {
          const x = asColumns(xin, l.shape[l.shape.length - 2], cf);
          p.inSum = accumulate(p.inSum, tf.sum(x, 0));
          p.inSq = accumulate(p.inSq, tf.sum(tf.square(x), 0));
          p.inZero = accumulate(p.inZero, tf.sum(tf.equal(x, 0).toFloat(), 0));
          p.inCount! += x.shape[0];
        }
        if (yout) {
          const y = asColumns(yout, l.units, cf);
          p.outSum = accumulate(p.outSum, tf.sum(y, 0));
          p.outZero = accumulate(p.outZero, tf.sum(tf.equal(y, 0).toFloat(), 0));
          p.outCount! += y.shape[0];
        }
      });
      const yb = targetsOf(calib, task, idx);
      const { grads } = tf.variableGrads(
        () => lossOf(pm.model.apply(xb, { training: false }) as TF.Tensor, yb, task), kernels);
      pm.layers.forEach((l, i) => {
        const g = grads[l.kernel.name];
        const p = partial[i];
        p.gSum = accumulate(p.gSum, g);
        p.gAbs = accumulate(p.gAbs, tf.abs(g));
        p.gSq = accumulate(p.gSq, tf.square(g));
      });
    });
    batches++;
  }
  pm.layers.forEach((l, i) => {
    if (!partial[i].inSum) neutralIn(partial[i], l.shape[l.shape.length - 2]);
    if (!partial[i].outSum) neutralOut(partial[i], l.units);
  });
  return { layers: partial as LayerStats[], batches };
}

// ---------------------------------------------------------------------------------------------
// Per-connection features.

/** Flat indices of the mask's 1s (a single pass over a typed array). */
function liveIndices(mask: Float32Array): Int32Array {
  let c = 0;
  for (let i = 0; i < mask.length; i++) if (mask[i] !== 0) c++;
  const out = new Int32Array(c);
  for (let i = 0, k = 0; i < mask.length; i++) if (mask[i] !== 0) out[k++] = i;
  return out;
}

/** Inverse permutation along the last axis (argsort of a permutation), via topk. */
function inversePermutation(perm: TF.Tensor): TF.Tensor {
  const k = perm.shape[perm.shape.length - 1];
  return tf.topk(tf.neg(perm.toFloat()), k).indices;
}

/**
 * Percentile rank (ascending rank + 1) / nLive in (0, 1] of each value along the last axis, where
 * pruned entries hold +∞ (above every |w|, so they take the last ranks) and `nLive` [..., 1] counts
 * live entries per row. Values at pruned positions are meaningless. Equal values are ranked by
 * position (topk is stable), so ties are deterministic.
 */
function groupPercentile(vals: TF.Tensor, nLive: TF.Tensor): TF.Tensor {
  const k = vals.shape[vals.shape.length - 1];
  const asc = tf.topk(tf.neg(vals), k).indices;
  const pos = inversePermutation(asc).toFloat();
  return tf.div(tf.add(pos, 1), tf.maximum(nLive, 1));
}

/** Live mean of a kernel-shaped tensor (sum over live / count). */
function liveMean(v: TF.Tensor, m: TF.Tensor, count: number): TF.Tensor {
  return tf.div(tf.sum(tf.mul(v, m)), Math.max(count, 1));
}

function log10(t: TF.Tensor): TF.Tensor {
  return tf.div(tf.log(tf.add(t, LOG_EPS)), Math.LN10);
}

function buildFeatures(pm: PrunableModel, calib: { layers: LayerStats[]; batches: number }): ConnectionFeatures {
  const masks = pm.maskArrays();
  const live = masks.map(liveIndices);
  const total = pm.totalPrunable;
  const totalLive = live.reduce((a, l) => a + l.length, 0);
  const globalSparsity = 1 - totalLive / total;
  const L = pm.layers.length;
  const names = FEATURE_SCHEMA.names as readonly FeatureName[];

  const layers: LayerFeatures[] = pm.layers.map((l, li) => {
    const indices = live[li];
    const count = indices.length;
    const F = names.length;
    if (count === 0) {
      return { layer: li, name: l.name, count, indices, columns: names.map(() => new Float32Array(0)) };
    }
    const s = calib.layers[li];
    const B = calib.batches;
    // tidy returns the stacked tensor, not its data: tidy walks a returned typed array element by element.
    const stacked = tf.tidy(() => {
      // Work on a 4-D view [1, positions, rows, units]: Dense [in, out] is [1, 1, in, out], Conv2D
      // [kh, kw, cin, cout] is [1, kh·kw, cin, cout] (the same memory order), LSTM [in, 4u] is [1, 1, in, 4u].
      const cin = l.shape[l.shape.length - 2];
      const cout = l.units;
      const sh = [1, l.size / (cin * cout), cin, cout];
      const [kh, kw] = sh;
      const w = tf.reshape(l.kernel, sh);
      const m = tf.reshape(pm.mask(li), sh);
      const a = tf.abs(w);
      const liveIdx = tf.tensor1d(indices, 'int32');
      const gather = (t: TF.Tensor) => tf.gather(tf.reshape(t, [-1]), liveIdx);
      const broadcastIn = (t: TF.Tensor) => tf.mul(tf.reshape(t, [1, 1, cin, 1]), tf.onesLike(w));
      const broadcastOut = (t: TF.Tensor) => tf.mul(tf.reshape(t, [1, 1, 1, cout]), tf.onesLike(w));

      // Magnitude, layer-wise over live weights.
      const meanA = liveMean(a, m, count);
      const stdA = tf.sqrt(liveMean(tf.square(tf.sub(a, meanA)), m, count));
      const aLive = gather(a);
      const pctLayer = tf.div(tf.add(inversePermutation(tf.topk(tf.neg(aLive), count).indices).toFloat(), 1), count);
      const masked = tf.where(tf.greater(m, 0), a, tf.fill(sh, Infinity)); // pruned rank last

      // Per output unit: [cout, kh·kw·cin].
      const unitVals = tf.transpose(tf.reshape(masked, [kh * kw * cin, cout]));
      const unitLive = tf.sum(tf.transpose(tf.reshape(m, [kh * kw * cin, cout])), 1, true);
      const pctUnit = tf.reshape(tf.transpose(groupPercentile(unitVals, unitLive)), sh);
      // Per input channel: [cin, kh·kw·cout].
      const toIn = (t: TF.Tensor) => tf.reshape(tf.transpose(t, [2, 0, 1, 3]), [cin, kh * kw * cout]);
      const fromIn = (t: TF.Tensor) => tf.transpose(tf.reshape(t, [cin, kh, kw, cout]), [1, 2, 0, 3]);
      const inLive = tf.sum(toIn(m), 1, true);
      const pctInput = fromIn(groupPercentile(toIn(masked), inLive));

      // Gradients (batch-mean gradients, averaged over B calibration batches).
      const gAbsMean = tf.div(tf.reshape(s.gAbs, sh), B);
      const gMean = tf.div(tf.reshape(s.gSum, sh), B);
      const g2Mean = tf.div(tf.reshape(s.gSq, sh), B);
      const taylor = tf.abs(tf.mul(w, gMean));
      const fisher = tf.mul(tf.square(w), g2Mean);

      // Activations.
      const inMean = tf.div(s.inSum, s.inCount);
      const inSq = tf.div(s.inSq, s.inCount);
      const inNorm = tf.sqrt(inSq);
      const inVar = tf.relu(tf.sub(inSq, tf.square(inMean)));
      const inZero = tf.div(s.inZero, s.inCount);
      const outMean = tf.div(s.outSum, s.outCount);
      const outZero = tf.div(s.outZero, s.outCount);
      const wanda = tf.mul(a, broadcastIn(inNorm));

      const rel = (t: TF.Tensor) => {
        const mean = liveMean(t, m, count);
        return tf.div(t, tf.where(tf.greater(mean, 0), mean, tf.onesLike(mean)));
      };
      const fanIn = kh * kw * cin;
      const perConn: Record<FeatureName, () => TF.Tensor> = {
        abs_w: () => aLive,
        log_abs_w: () => log10(aLive),
        abs_w_rel_layer: () => gather(rel(a)),
        abs_w_z_layer: () => gather(tf.div(tf.sub(a, meanA), tf.where(tf.greater(stdA, 0), stdA, tf.onesLike(stdA)))),
        abs_w_pct_layer: () => pctLayer,
        abs_w_pct_unit: () => gather(pctUnit),
        abs_w_pct_input: () => gather(pctInput),
        grad_abs_mean: () => gather(gAbsMean),
        log_grad_abs_mean: () => gather(log10(gAbsMean)),
        taylor: () => gather(taylor),
        log_taylor: () => gather(log10(taylor)),
        taylor_rel_layer: () => gather(rel(taylor)),
        fisher: () => gather(fisher),
        log_fisher: () => gather(log10(fisher)),
        fisher_rel_layer: () => gather(rel(fisher)),
        in_mean: () => gather(broadcastIn(inMean)),
        in_norm: () => gather(broadcastIn(inNorm)),
        in_var: () => gather(broadcastIn(inVar)),
        in_zero_frac: () => gather(broadcastIn(inZero)),
        wanda: () => gather(wanda),
        log_wanda: () => gather(log10(wanda)),
        wanda_rel_layer: () => gather(rel(wanda)),
        out_mean: () => gather(broadcastOut(outMean)),
        out_zero_frac: () => gather(broadcastOut(outZero)),
        unit_live_frac: () => gather(broadcastOut(tf.div(tf.reshape(unitLive, [cout]), fanIn))),
        input_live_frac: () => gather(broadcastIn(tf.div(tf.reshape(inLive, [cin]), kh * kw * cout))),
        depth_rel: () => tf.fill([count], L > 1 ? li / (L - 1) : 0),
        log_fan_in: () => tf.fill([count], Math.log(fanIn)),
        log_fan_out: () => tf.fill([count], Math.log(cout)),
        is_conv: () => tf.fill([count], l.conv ? 1 : 0),
        layer_param_share: () => tf.fill([count], l.size / total),
        layer_sparsity: () => tf.fill([count], 1 - count / l.size),
        global_sparsity: () => tf.fill([count], globalSparsity),
      };
      return tf.stack(names.map((nm) => perConn[nm]().toFloat()));
    });
    const data = stacked.dataSync() as Float32Array;
    stacked.dispose();
    const columns: Float32Array[] = [];
    for (let f = 0; f < F; f++) columns.push(data.subarray(f * count, (f + 1) * count));
    return { layer: li, name: l.name, count, indices, columns };
  });
  return { schema: FEATURE_SCHEMA, layers };
}
