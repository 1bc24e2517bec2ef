import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { DataError, ModelError } from '../errors.js';
import type { Split } from '../data/dataset.js';
import { kernelGradient } from '../models/compiled-chain.js';
import { targetsOf, taskOf } from '../models/task.js';
import type { PrunableLayer, PrunableModel } from '../pruning/prunable-model.js';
import { FEATURE_SCHEMA, type FeatureName } from './schema.js';
import { activationBatch } from '../models/activation-batch.js';
import { magnitudeKeys, ranksInOrder, RANK_INPUT, RANK_LAYER, RANK_UNIT } from './ranks.js';
import { stableOrder } from '../util/argsort.js';
import type { Scorer } from '../policy/types.js';
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
  return withStats(pm, calib, opts, (ctx) => ({ schema: FEATURE_SCHEMA, layers: pm.layers.map((_, li) => layerFeatures(pm, li, ctx)) }));
}

/**
 * Features and scores of every live connection, one layer at a time: each layer's features are handed
 * to `score` (a Scorer's scores of one layer depend on that layer's features only) and dropped, so only
 * one layer's feature columns exist at once. Returns the scores and the features without their columns
 * (layer, name, count, indices: what selection needs).
 */
export function extractScored(
  pm: PrunableModel, calib: Split, score: ((layer: LayerFeatures) => Float32Array) & Partial<Pick<LayerScoring, 'finish'>>,
  opts: ExtractOptions & { chunk?: number; needs?: readonly string[] } = {},
): { features: ConnectionFeatures; scores: Float32Array[] } {
  return withStats(pm, calib, opts, (ctx) => {
    const scores: Float32Array[] = [];
    const finish = score.finish;
    // A staged scorer's second stage reads its columns of the whole layer: they are computed with the rows' (needs of
    // both) and copied out of each chunk as it passes (the layer's statistics are not computed a second time).
    const needs = finish && opts.needs ? [...new Set([...opts.needs, ...finish.needs])] : opts.needs;
    const names = FEATURE_SCHEMA.names;
    const layers = pm.layers.map((l, li) => {
      const count = ctx.live[li].length;
      const out = new Float32Array(count);
      const kept = finish ? names.map((nm) => (finish.needs.includes(nm) ? new Float32Array(count) : undefined)) : [];
      let absOrder: Int32Array | undefined;
      let at = 0;
      layerFeatureChunks(pm, li, ctx, opts.chunk ?? Infinity, needs, (lf) => {
        out.set(score(lf), at);
        kept.forEach((k, f) => k?.set(lf.columns[f], at));
        at += lf.count;
      }, (order) => { if (finish) absOrder = order; });
      // The staged scorer's per-layer work, on the whole layer's row scores and the few columns it reads. The layer's
      // columns are held by the object handed over alone, so that the second stage can let them go once read.
      let final = out;
      if (finish) {
        const lf: LayerFeatures = { layer: li, name: l.name, count, indices: ctx.live[li], columns: kept.map((k) => k ?? new Float32Array(0)), ...(absOrder ? { absOrder } : {}) };
        kept.length = 0;
        absOrder = undefined;
        final = finish.run(out, lf);
      }
      scores.push(final);
      return { layer: li, name: l.name, count, indices: ctx.live[li], columns: [] };
    });
    return { features: { schema: FEATURE_SCHEMA, layers }, scores };
  });
}

/**
 * A Scorer as a per-layer function for extractScored, and the chunk size it allows: row-wise scorers
 * (Scorer.rowwise) take FEATURE_CHUNK connections at a time, others a whole layer.
 */
export function scoreLayerWith(scorer: Pick<Scorer, 'score' | 'rowwise' | 'needs' | 'staged'>): LayerScoring {
  const staged = scorer.staged;
  if (staged) {
    // Row-wise first (chunks of FEATURE_CHUNK), then the layer: Scorer.staged.
    const rows = staged.rows;
    return Object.assign((lf: LayerFeatures) => rows.score({ schema: FEATURE_SCHEMA, layers: [lf] })[0], {
      chunk: rows.rowwise ? FEATURE_CHUNK : Infinity, needs: rows.needs, finish: { needs: staged.needs, run: (s: Float32Array, lf: LayerFeatures) => staged.finish(s, lf) },
    });
  }
  return Object.assign((lf: LayerFeatures) => scorer.score({ schema: FEATURE_SCHEMA, layers: [lf] })[0], { chunk: scorer.rowwise ? FEATURE_CHUNK : Infinity, needs: scorer.needs });
}

/** A layer's scoring for extractScored: chunks of its rows scored by the function, then `finish` where a scorer is staged. */
export type LayerScoring = ((lf: LayerFeatures) => Float32Array) & {
  chunk: number;
  needs?: readonly string[];
  finish?: { needs: readonly string[]; run(rowScores: Float32Array, lf: LayerFeatures): Float32Array };
};

function withStats<T>(pm: PrunableModel, calib: Split, opts: ExtractOptions, f: (ctx: BuildContext) => T): T {
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

  // A batch's forward and backward activations (about three copies) within the activation budget: large conv rows get fewer rows.
  const stats = calibrationStats(pm, calib, pick, activationBatch(pm.model, Math.floor(o.batchSize), 3));
  try {
    return f(buildContext(pm, stats));
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
  const gradient = kernelGradient(pm.model, task, kernels);
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
      const grads = gradient(xb, yb);
      // One layer and one statistic at a time, each gradient freed once summed in: the batch's peak is the
      // gradients plus one temporary, not three temporaries of every layer (docs/benchmarks.md, scale).
      pm.layers.forEach((l, i) => {
        const g = grads[l.kernel.name];
        const p = partial[i];
        tf.tidy(() => { p.gAbs = accumulate(p.gAbs, tf.abs(g)); });
        tf.tidy(() => { p.gSq = accumulate(p.gSq, tf.square(g)); });
        const first = !p.gSum;
        p.gSum = accumulate(p.gSum, g);
        if (!first) g.dispose();
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

/** Live mean of a kernel-shaped tensor (sum over live / count). */
function liveMean(v: TF.Tensor, m: TF.Tensor, count: number): TF.Tensor {
  return tf.div(tf.sum(tf.mul(v, m)), Math.max(count, 1));
}

function log10(t: TF.Tensor): TF.Tensor {
  return tf.div(tf.log(tf.add(t, LOG_EPS)), Math.LN10);
}

/** What every layer's features share: live indices, the global sparsity, the calibration statistics. */
interface BuildContext {
  live: Int32Array[];
  total: number;
  globalSparsity: number;
  stats: { layers: LayerStats[]; batches: number };
}

function buildContext(pm: PrunableModel, stats: BuildContext['stats']): BuildContext {
  const live = pm.maskArrays().map(liveIndices);
  const total = pm.totalPrunable;
  const totalLive = live.reduce((a, l) => a + l.length, 0);
  return { live, total, globalSparsity: 1 - totalLive / total, stats };
}

/** Live connections per feature chunk when a scorer can take chunks: bounds the feature matrix (33 × 4 bytes each). */
export const FEATURE_CHUNK = 1 << 18;

/**
 * The features of one layer's live connections, handed to `visit` in chunks of at most `chunk` live
 * connections (in index order; the whole layer when chunk is Infinity). What depends on the whole layer
 * (ranks, layer means, per-row and per-unit statistics) is computed once on the full kernel with tensor
 * ops; each chunk's per-connection values are then assembled on the host in float32 arithmetic (below).
 * Values equal computing every feature on the whole kernel and gathering it, up to the last bit of a few
 * logarithms (scripts/compare-masks.mjs: the masks are identical). A chunk's columns are valid during its
 * `visit` only: the next chunk reuses them (copy to keep).
 */
function layerFeatureChunks(
  pm: PrunableModel, li: number, ctx: BuildContext, chunk: number, needs: readonly string[] | undefined, visit: (lf: LayerFeatures) => void,
  sorted?: (absOrder: Int32Array) => void,
): void {
  const l = pm.layers[li];
  const names = FEATURE_SCHEMA.names as readonly FeatureName[];
  const indices = ctx.live[li];
  const count = indices.length;
  if (count === 0) {
    visit({ layer: li, name: l.name, count, indices, columns: names.map(() => new Float32Array(0)) });
    return;
  }
  const L = pm.layers.length;
  const s = ctx.stats.layers[li];
  const B = ctx.stats.batches;
  // Work on a 4-D view [1, positions, rows, units]: Dense [in, out] is [1, 1, in, out], Conv2D
  // [kh, kw, cin, cout] is [1, kh·kw, cin, cout] (the same memory order), LSTM [in, 4u] is [1, 1, in, 4u].
  const cin = l.shape[l.shape.length - 2];
  const cout = l.units;
  const sh = [1, l.size / (cin * cout), cin, cout];
  const [kh, kw] = sh;
  const fanIn = kh * kw * cin;

  // Whole-layer quantities, kept until the last chunk; each computed in its own tidy so that only one
  // set of full-kernel intermediates exists at a time.
  const w = tf.reshape(l.kernel, sh);
  const m = tf.reshape(pm.mask(li), sh);
  const whole = (() => {
    const meanA = tf.tidy(() => liveMean(tf.abs(w), m, count));
    const stdA = tf.tidy(() => tf.sqrt(liveMean(tf.square(tf.sub(tf.abs(w), meanA)), m, count)));
    const unitLive = tf.tidy(() => tf.sum(tf.transpose(tf.reshape(m, [kh * kw * cin, cout])), 1, true));
    const inLive = tf.tidy(() => tf.sum(tf.reshape(tf.transpose(m, [2, 0, 1, 3]), [cin, kh * kw * cout]), 1, true));
    return tf.tidy(() => {
      // Per-row (input channel) and per-unit statistics.
      const inMean = tf.div(s.inSum, s.inCount);
      const inSq = tf.div(s.inSq, s.inCount);
      const inNorm = tf.sqrt(inSq);
      const rows = {
        inMean, inNorm,
        inVar: tf.relu(tf.sub(inSq, tf.square(inMean))),
        inZero: tf.div(s.inZero, s.inCount),
        inputLive: tf.div(tf.reshape(inLive, [cin]), kh * kw * cout),
      };
      const units = {
        outMean: tf.div(s.outSum, s.outCount),
        outZero: tf.div(s.outZero, s.outCount),
        unitLive: tf.div(tf.reshape(unitLive, [cout]), fanIn),
      };
      // Layer means of the saliencies, on the full kernel (reductions as before).
      const gFull = (t: TF.Tensor) => tf.div(tf.reshape(t, sh), B);
      const broadcastIn = (t: TF.Tensor) => tf.mul(tf.reshape(t, [1, 1, cin, 1]), tf.onesLike(w));
      const means = {
        a: meanA, stdA,
        taylor: tf.tidy(() => liveMean(tf.abs(tf.mul(w, gFull(s.gSum))), m, count)),
        fisher: tf.tidy(() => liveMean(tf.mul(tf.square(w), gFull(s.gSq)), m, count)),
        wanda: tf.tidy(() => liveMean(tf.mul(tf.abs(w), broadcastIn(inNorm)), m, count)),
      };
      [unitLive, inLive].forEach((t) => t.dispose());
      return { rows, units, means };
    });
  })();
  [w, m].forEach((t) => t.dispose());
  // The per-connection features are assembled on the host from float32 values: every +, −, ×, ÷ is
  // rounded to float32 (Math.fround), which is exactly what the tensor ops computed; only the logarithms
  // stay tensor ops (one batched op per chunk). Per-connection inputs (weights, gradient sums, ranks) are
  // read one chunk at a time, so the host never holds a whole layer's copy of them; per-row and per-unit
  // statistics and the layer means are small and read once.
  const small = [...Object.values(whole.rows), ...Object.values(whole.units), ...Object.values(whole.means)];
  const perConnection = {
    w: tf.reshape(l.kernel, [-1]), gAbs: tf.reshape(s.gAbs, [-1]), gSum: tf.reshape(s.gSum, [-1]), gSq: tf.reshape(s.gSq, [-1]),
  };
  const host = (() => {
    try {
      const v = (t: TF.Tensor) => t.dataSync() as Float32Array;
      const scalar = (t: TF.Tensor) => t.dataSync()[0];
      const positive = (x: number) => (x > 0 ? x : 1);
      return {
        inMean: v(whole.rows.inMean), inNorm: v(whole.rows.inNorm), inVar: v(whole.rows.inVar), inZero: v(whole.rows.inZero), inputLive: v(whole.rows.inputLive),
        outMean: v(whole.units.outMean), outZero: v(whole.units.outZero), unitLive: v(whole.units.unitLive),
        meanA: scalar(whole.means.a), stdA: positive(scalar(whole.means.stdA)),
        relA: positive(scalar(whole.means.a)), relTaylor: positive(scalar(whole.means.taylor)),
        relFisher: positive(scalar(whole.means.fisher)), relWanda: positive(scalar(whole.means.wanda)),
      };
    } finally {
      small.forEach((t) => t.dispose());
    }
  })();
  /** Host copies of elements [lo, hi) of each tensor of `from`. */
  const readRange = <K extends string>(from: Record<K, TF.Tensor>, lo: number, hi: number): Record<K, Float32Array> =>
    Object.fromEntries(Object.entries<TF.Tensor>(from).map(([k, t]) => {
      const part = tf.slice(t, lo, hi - lo);
      const data = part.dataSync() as Float32Array;
      part.dispose();
      return [k, data];
    })) as Record<K, Float32Array>;
  const col = Object.fromEntries(names.map((nm, f) => [nm, f])) as Record<FeatureName, number>;
  const constants: [FeatureName, number][] = [
    ['depth_rel', L > 1 ? li / (L - 1) : 0], ['log_fan_in', Math.log(fanIn)], ['log_fan_out', Math.log(cout)],
    ['is_conv', l.conv ? 1 : 0], ['layer_param_share', l.size / ctx.total], ['layer_sparsity', 1 - count / l.size],
    ['global_sparsity', ctx.globalSparsity],
  ];
  // Columns the scorer does not read (Scorer.needs) are left out where that saves work: the five logarithms
  // and the three magnitude ranks (a sort of the layer); they hold NaN.
  const needed = (nm: FeatureName) => !needs || needs.includes(nm);
  const allLogged: [FeatureName, FeatureName][] = [['abs_w', 'log_abs_w'], ['grad_abs_mean', 'log_grad_abs_mean'], ['taylor', 'log_taylor'], ['fisher', 'log_fisher'], ['wanda', 'log_wanda']];
  const logged = allLogged.filter(([, to]) => needed(to));
  const unread = new Set<string>(allLogged.map(([, to]) => to).filter((to) => !needed(to)));
  const ranked = (['abs_w_pct_layer', 'abs_w_pct_unit', 'abs_w_pct_input'] as FeatureName[]).some(needed);
  const fr = Math.fround;
  const size = Math.max(1, Math.min(count, chunk));
  // One set of column buffers for all chunks of the layer (a chunk's columns are valid during its visit only):
  // a fresh set per chunk would leave ~34 MB of garbage per 2^18 connections for V8 to collect.
  const buffers = names.map((nm) => {
    const b = new Float32Array(size);
    if ((!ranked && nm.startsWith('abs_w_pct_')) || unread.has(nm)) b.fill(NaN);
    return b;
  });
  try {
    // Magnitude ranks within the layer, each unit and each input row (pruned connections rank last, i.e. only
    // the live ones are ranked): one host sort of the live |w|, read a chunk at a time (ranks.ts).
    let ranks: Float32Array | undefined;
    if (ranked) {
      const keys = new Uint32Array(count);
      for (let j0 = 0; j0 < count; j0 += size) {
        const idx = indices.subarray(j0, j0 + size);
        magnitudeKeys(readRange({ w: perConnection.w }, idx[0], idx[idx.length - 1] + 1).w, idx[0], idx, keys, j0);
      }
      // Where no |w| is NaN (sorted last here, first by argsort), the order is LayerFeatures.absOrder's.
      let nan = false;
      for (let j = 0; j < count && !nan; j++) nan = keys[j] > 0x7f800000;
      const order = stableOrder(keys);
      ranks = ranksInOrder(order, indices, cin, cout);
      if (!nan) sorted?.(order);
    }
    for (let j0 = 0; j0 < count; j0 += size) {
      const n = Math.min(count, j0 + size) - j0;
      const idx = indices.subarray(j0, j0 + n);
      const columns = buffers.map((b) => (n === size ? b : b.subarray(0, n)));
      const c = (nm: FeatureName) => columns[col[nm]];
      const [absW, relA, zA, pL, pU, pI, gA, tay, tayRel, fis, fisRel, inM, inN, inV, inZ, wan, wanRel, outM, outZ, uLive, iLive] = ([
        'abs_w', 'abs_w_rel_layer', 'abs_w_z_layer', 'abs_w_pct_layer', 'abs_w_pct_unit', 'abs_w_pct_input', 'grad_abs_mean',
        'taylor', 'taylor_rel_layer', 'fisher', 'fisher_rel_layer', 'in_mean', 'in_norm', 'in_var', 'in_zero_frac',
        'wanda', 'wanda_rel_layer', 'out_mean', 'out_zero_frac', 'unit_live_frac', 'input_live_frac',
      ] as FeatureName[]).map(c);
      const h = host;
      const lo = idx[0];
      const c1 = readRange(perConnection, lo, idx[n - 1] + 1);
      if (ranks) {
        for (let j = 0, at = 3 * j0; j < n; j++, at += 3) {
          pL[j] = ranks[at + RANK_LAYER];
          pU[j] = ranks[at + RANK_UNIT];
          pI[j] = ranks[at + RANK_INPUT];
        }
      }
      // Unit u and input row r of flat index i = (position · cin + r) · cout + u, kept up to date as the
      // ascending indices advance (a division only where an index leaves the current row).
      let q = Math.floor(lo / cout);
      let rowStart = q * cout;
      let r = q % cin;
      for (let j = 0; j < n; j++) {
        const i = idx[j];
        const k = i - lo;
        if (i - rowStart >= cout) {
          q = Math.floor(i / cout);
          rowStart = q * cout;
          r = q % cin;
        }
        const u = i - rowStart;
        const w = c1.w[k];
        const a = Math.abs(w);
        absW[j] = a;
        relA[j] = fr(a / h.relA);
        zA[j] = fr(fr(a - h.meanA) / h.stdA);
        gA[j] = fr(c1.gAbs[k] / B);
        const t = Math.abs(fr(w * fr(c1.gSum[k] / B)));
        tay[j] = t;
        tayRel[j] = fr(t / h.relTaylor);
        const fi = fr(fr(w * w) * fr(c1.gSq[k] / B));
        fis[j] = fi;
        fisRel[j] = fr(fi / h.relFisher);
        inM[j] = h.inMean[r];
        inN[j] = h.inNorm[r];
        inV[j] = h.inVar[r];
        inZ[j] = h.inZero[r];
        const wa = fr(a * h.inNorm[r]);
        wan[j] = wa;
        wanRel[j] = fr(wa / h.relWanda);
        outM[j] = h.outMean[u];
        outZ[j] = h.outZero[u];
        uLive[j] = h.unitLive[u];
        iLive[j] = h.inputLive[r];
      }
      for (const [nm, value] of constants) c(nm).fill(value);
      // log10(x + 1e-12), as the tensor ops compute it, for the logged saliencies at once.
      if (logged.length > 0) {
        const raw = new Float32Array(logged.length * n);
        logged.forEach(([from], k) => raw.set(c(from), k * n));
        // (tidy returns the tensor, not its data: tidy would walk a returned typed array element by element.)
        const logT = tf.tidy(() => log10(tf.tensor2d(raw, [logged.length, n])));
        const logs = logT.dataSync() as Float32Array;
        logT.dispose();
        logged.forEach(([, to], k) => c(to).set(logs.subarray(k * n, (k + 1) * n)));
      }
      visit({ layer: li, name: l.name, count: n, indices: idx, columns });
    }
  } finally {
    Object.values(perConnection).forEach((t) => t.dispose());
  }
}

/** The features of one layer's live connections, in one piece. */
function layerFeatures(pm: PrunableModel, li: number, ctx: BuildContext): LayerFeatures {
  let out: LayerFeatures | undefined;
  layerFeatureChunks(pm, li, ctx, Infinity, undefined, (lf) => { out = lf; });
  return out!;
}
