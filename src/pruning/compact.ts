/**
 * Physical compaction: rebuilds a pruned model without the units / filters that no longer matter, so
 * that it is actually smaller and faster (TensorFlow.js has no sparse kernels; zeros cost as much as
 * any other weight). See docs/compaction.md.
 *
 * A unit (Dense column / Conv1D or Conv2D filter) of a prunable layer P is removed when
 * - its outgoing weights into the next prunable layer C are all pruned ("unused"): its value never
 *   reaches anything, or
 * - its incoming weights are all pruned ("dead"): its output is the constant act(bias) everywhere,
 *   whose effect on C is folded into C's bias — exactly, which needs C to have a bias and, for a
 *   Conv2D C, padding 'valid' (with 'same' the zero border makes the contribution position-dependent);
 *   otherwise a dead unit is only removed when its constant is exactly 0.
 * C's kernel is sliced to match: Dense→Dense, Conv→Conv (1D or 2D) and Conv→(pooling, dropout,
 * activation, batch norm)→Flatten→Dense with the channels-last flatten index (h·W + w)·C + c.
 * A DepthwiseConv2D with depth multiplier 1 in between (MobileNet's Conv2D→BN→ReLU→depthwise→BN→ReLU→
 * pointwise Conv2D) is channel-coupled with its producer: its channel c reads only producer channel c, so it
 * is sliced with the producer's units (kernel and bias), like a batch norm. A SeparableConv2D (multiplier 1) is a unit
 * layer of its own: its units are its pointwise kernel's columns, and as a reader it loses a removed channel's
 * depthwise taps and pointwise row. A Conv2DTranspose is handled as a convolution with its kernel's last two axes
 * swapped ([kh, kw, filters, inputs]).
 * Output-layer units are never removed. Anything else (unknown layer types, branches, merges, shared
 * layers, channels-first data) is left intact and reported in `skipped`.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { ModelError } from '../errors.js';
import { isContainer, layerPaths } from './layer-kinds.js';
import { CHANNELWISE, cfgOf, findUnitLinks, isRecurrent, isTransposed, kernelShape, outShape, prunableLeaves, RECURRENT_GATES, swapShape, kernelAndBias, type ChannelGroup, type SkippedLayer, type UnitLink } from './unit-graph.js';
import { quietInitializersSync } from '../util/quiet-initializers.js';
import type { PrunableModel } from './prunable-model.js';

type Layer = TF.layers.Layer;

/** A layer compaction left as it was, and why. */

/** What compaction did to one prunable layer. */
export interface CompactLayerReport {
  name: string;
  /**
   * The layer's family. A per-channel layer (depthwise conv, batch norm, PReLU) loses the channels the layer before it
   * lost (`follows` names that layer; its "units" are channels, dead and unused 0).
   */
  kind: 'dense' | 'conv1d' | 'conv2d' | 'separable_conv2d' | 'conv2d_transpose' | 'lstm' | 'gru' | 'simple_rnn' | 'depthwise_conv2d' | 'batch_normalization' | 'prelu';
  /** For a per-channel layer: the layer whose removed units it loses the channels of. */
  follows?: string;
  unitsBefore: number;
  unitsAfter: number;
  /** Units removed because all their incoming weights were pruned (constant output, folded) and some outgoing were not. */
  removedDead: number;
  /** Units removed because all their outgoing weights were pruned. */
  removedUnused: number;
  /** Kernel inputs (rows of a Dense kernel / input channels of a Conv2D kernel) before and after. */
  inputsBefore: number;
  inputsAfter: number;
  paramsBefore: number;
  paramsAfter: number;
}

export interface CompactReport {
  layers: CompactLayerReport[];
  skipped: SkippedLayer[];
  /** All weights (every layer) before and after. */
  paramsBefore: number;
  paramsAfter: number;
  /** Dead units whose constant act(bias) ≠ 0 was folded into the next layer's bias. */
  foldedUnits: number;
}

/** Swaps the last two axes of a row-major [..., a, b] array. */
function swapLast(d: Float32Array, a: number, b: number): Float32Array {
  const out = new Float32Array(d.length);
  const block = a * b;
  for (let o = 0; o < d.length; o += block) for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[o + j * a + i] = d[o + i * b + j];
  return out;
}

/**
 * A recurrent unit feeds its own layer back: its state reaches every unit whose recurrent-kernel column reads it (row j
 * of [units, gates · units]; column k belongs to unit k mod units). A unit the next layer does not read is still used
 * while a kept unit reads its state; what stays unused is the fixed point (units read only by units that go, go with them).
 */
function keepRecurrentFeeders(e: Effective): void {
  if (!e.recurrent) return;
  const { units: U, cols } = e;
  for (let changed = true; changed;) {
    changed = false;
    for (let j = 0; j < U; j++) {
      if (!e.unused[j]) continue;
      for (let k = 0; k < cols; k++) {
        const u = k % U;
        if (e.recurrent[j * cols + k] !== 0 && !e.unused[u] && !e.dead[u]) { e.unused[j] = 0; changed = true; break; }
      }
    }
  }
}

/** Effective (masked) kernel and bias of a prunable layer, as flat copies. */
interface Effective {
  layer: Layer;
  kind: CompactLayerReport['kind'];
  shape: number[];
  kernel: Float32Array;
  /** A recurrent layer's masked recurrent kernel [units, gates · units]. */
  recurrent?: Float32Array;
  /** A separable conv's masked depthwise kernel [kh, kw, inputs, 1] (`kernel` is then its pointwise kernel). */
  depthwise?: { data: Float32Array; shape: number[] };
  /** Pre-activation bias (one per kernel column), updated as dead inputs are folded in; zeros when the layer has none. */
  bias: Float32Array;
  hasBias: boolean;
  /** Kernel columns: units × gates. */
  cols: number;
  gates: number;
  units: number;
  /** Unit removed as dead (constant folded into the consumer). */
  dead: Uint8Array;
  /** Unit removed as unused. */
  unused: Uint8Array;
  /** Constant value of each dead unit as the consumer reads it (after the layers in between). */
  value: Float32Array;
}


/** A kernel's values with its mask (PrunableModel, by layer and role) applied. */
function masked(layer: Layer, role: string, t: TF.Tensor, masks?: PrunableModel, maskArrays?: Float32Array[]): Float32Array {
  const k = Float32Array.from(t.dataSync());
  const i = masks ? masks.layers.findIndex((l) => l.layer === layer && l.role === role) : -1;
  if (i < 0) return k;
  const m = maskArrays![i];
  if (m.length !== k.length) throw new ModelError(`mask of layer '${layer.name}' has ${m.length} values, the kernel has ${k.length}`);
  for (let j = 0; j < k.length; j++) if (m[j] === 0) k[j] = 0;
  return k;
}

const KINDS: Readonly<Record<string, CompactLayerReport['kind']>> = {
  Dense: 'dense', Conv1D: 'conv1d', Conv2D: 'conv2d', SeparableConv2D: 'separable_conv2d', Conv2DTranspose: 'conv2d_transpose', LSTM: 'lstm', GRU: 'gru', SimpleRNN: 'simple_rnn',
};

function effectiveOf(layer: Layer, masks?: PrunableModel, maskArrays?: Float32Array[]): Effective {
  const { kernel, recurrent, depthwise, bias } = kernelAndBias(layer);
  const separable = layer.getClassName() === 'SeparableConv2D';
  // A transposed conv's kernel is masked in its own order, then viewed as a convolution's (see kernelShape).
  const shape = kernelShape(layer);
  const cols = shape[shape.length - 1];
  const gates = RECURRENT_GATES[layer.getClassName()] ?? 1;
  const units = cols / gates;
  const own = masked(layer, separable ? 'pointwise_kernel' : 'kernel', kernel, masks, maskArrays);
  return {
    layer, kind: KINDS[layer.getClassName()], shape, kernel: isTransposed(layer) ? swapLast(own, cols, shape[shape.length - 2]) : own,
    recurrent: recurrent && masked(layer, 'recurrent_kernel', recurrent, masks, maskArrays),
    depthwise: separable && depthwise ? { data: masked(layer, 'depthwise_kernel', depthwise, masks, maskArrays), shape: depthwise.shape.slice() } : undefined,
    bias: bias ? Float32Array.from(bias.dataSync()) : new Float32Array(cols), hasBias: !!bias, cols, gates, units,
    dead: new Uint8Array(units), unused: new Uint8Array(units), value: new Float32Array(units),
  };
}

/**
 * act(bias) of every unit of the producer, pushed through the layers in between, as the consumer
 * reads it; `constant[c]` is false where the result is not the same at every position.
 */
function constantsThrough(link: UnitLink, eff: Effective): { value: Float32Array; constant: Uint8Array } | undefined {
  const shape = outShape(link.producer).slice(1);
  if (shape.some((d) => d == null)) return undefined;
  const C = link.channels;
  try {
    return tf.tidy(() => {
      const act = String(cfgOf(link.producer).activation ?? 'linear');
      const pre = tf.tensor(eff.bias, [1, C]);
      const a = act === 'linear' ? pre : (tf.layers.activation({ activation: act as 'relu' }).apply(pre) as TF.Tensor);
      const rest = (shape as number[]).slice(0, -1);
      let t = tf.tile(tf.reshape(a, [1, ...rest.map(() => 1), C]), [1, ...rest, 1]);
      for (const l of link.between) t = l.apply(t, { training: false }) as TF.Tensor;
      const rows = tf.reshape(t, [-1, C]).arraySync() as number[][];
      const value = Float32Array.from(rows[0]);
      const constant = new Uint8Array(C).fill(1);
      for (const row of rows) {
        for (let c = 0; c < C; c++) if (Math.abs(row[c] - value[c]) > 1e-6 * (1 + Math.abs(value[c]))) constant[c] = 0;
      }
      return { value, constant };
    });
  } catch {
    return undefined; // e.g. a custom activation: dead units are then kept (or removed only when unused)
  }
}

function sliceKernel(
  e: Effective, inLink: { channels: number; groups: number } | undefined, inKeep: number[] | undefined, outKeep: number[],
): { data: Float32Array; shape: number[] } {
  const out = e.cols;
  const rows = e.kernel.length / out;
  const colList = columnsOf(e, outKeep);
  let rowList: number[];
  let shape: number[];
  if (inLink && inKeep) {
    const C = inLink.channels;
    rowList = [];
    for (let g = 0; g < inLink.groups; g++) for (const c of inKeep) rowList.push(g * C + c);
    shape = e.shape.length === 2 ? [rowList.length, colList.length] : [...e.shape.slice(0, -2), inKeep.length, colList.length];
  } else {
    rowList = Array.from({ length: rows }, (_, r) => r);
    shape = [...e.shape.slice(0, -1), colList.length];
  }
  return { data: gather(e.kernel, out, rowList, colList), shape };
}

/** The kernel columns of the kept units: each gate's block of `units` columns, restricted to them. */
function columnsOf(e: Effective, keep: number[]): number[] {
  const cols: number[] = [];
  for (let g = 0; g < e.gates; g++) for (const k of keep) cols.push(g * e.units + k);
  return cols;
}

/** rows × cols of a row-major matrix with `width` columns. */
function gather(m: Float32Array, width: number, rows: number[], cols: number[]): Float32Array {
  const data = new Float32Array(rows.length * cols.length);
  let p = 0;
  for (const r of rows) for (const k of cols) data[p++] = m[r * width + k];
  return data;
}

/** A [..., channels, k] weight (a depthwise kernel, k its multiplier; a vector: k = 1) restricted to the channels in `keep`. */
function sliceChannels(d: Float32Array, shape: number[], channels: number, keep: number[]): { data: Float32Array; shape: number[] } {
  const k = shape.length === 1 ? 1 : shape[shape.length - 1];
  const positions = d.length / (channels * k); // 1 for a vector, kh·kw for a depthwise kernel
  const out = new Float32Array(positions * keep.length * k);
  for (let p = 0; p < positions; p++) {
    keep.forEach((c, j) => { for (let m = 0; m < k; m++) out[(p * keep.length + j) * k + m] = d[(p * channels + c) * k + m]; });
  }
  return { data: out, shape: shape.length === 1 ? [keep.length] : [...shape.slice(0, -2), keep.length, k] };
}

/** The compaction report's row of a per-channel layer sliced to the channels its producer kept. */
function channelwiseReport(
  layer: Layer, sliced: { data: Float32Array }[], channels: number, kept: number, name: string, follows: string,
): CompactLayerReport {
  const cls = layer.getClassName();
  const kind = cls === 'DepthwiseConv2D' ? 'depthwise_conv2d' : cls === 'BatchNormalization' ? 'batch_normalization' : 'prelu';
  return {
    name, kind, follows, unitsBefore: channels, unitsAfter: kept, removedDead: 0, removedUnused: 0, inputsBefore: channels, inputsAfter: kept,
    paramsBefore: layer.weights.reduce((a, v) => a + (v.shape as number[]).reduce((x, d) => x * d, 1), 0),
    paramsAfter: sliced.reduce((a, w) => a + w.data.length, 0),
  };
}

/**
 * The weights of a per-channel layer (batch norm: vectors of `channels`; depthwise conv, multiplier 1: a
 * [kh, kw, channels, 1] kernel, masked when `masks` has it, and a bias) restricted to the channels in `keep`;
 * undefined for any other layer (it has no per-channel weights to slice).
 */
function sliceChannelwise(
  layer: Layer, keep: number[], channels: number, masks: PrunableModel | undefined, maskArrays: Float32Array[] | undefined,
): { data: Float32Array; shape: number[] }[] | undefined {
  const cls = layer.getClassName();
  if (!CHANNELWISE.has(cls)) return undefined;
  if (cls === 'PReLU') {
    // alpha: [...positions, channels], or [..., 1] where sharedAxes shares it across the channels (then nothing to slice).
    return layer.weights.map((v) => {
      const shape = v.shape as number[];
      const d = Float32Array.from(v.read().dataSync());
      if (shape[shape.length - 1] !== channels) return { data: d, shape };
      const positions = d.length / channels;
      const out = new Float32Array(positions * keep.length);
      for (let p = 0; p < positions; p++) keep.forEach((c, k) => { out[p * keep.length + k] = d[p * channels + c]; });
      return { data: out, shape: [...shape.slice(0, -1), keep.length] };
    });
  }
  const mi = masks ? masks.layers.findIndex((l) => l.layer === layer) : -1;
  return layer.weights.map((v) => {
    const d = Float32Array.from(v.read().dataSync());
    if (/depthwise_kernel/.test(v.originalName ?? v.name) && mi >= 0) {
      const m = maskArrays![mi];
      for (let i = 0; i < d.length; i++) if (m[i] === 0) d[i] = 0;
    }
    return sliceChannels(d, v.shape as number[], channels, keep);
  });
}

/**
 * Forward: dead inputs folded into the bias (their constant output times the kernel rows), then each layer's dead units
 * (every incoming weight from an input still present is 0) and which of them may go.
 */
function findDeadUnits(prunables: readonly Layer[], eff: Map<Layer, Effective>, byConsumer: Map<Layer, UnitLink>, byProducer: Map<Layer, UnitLink>): void {
  for (const layer of prunables) {
    const e = eff.get(layer)!;
    const inLink = byConsumer.get(layer);
    const out = e.cols;
    const rows = e.kernel.length / out;
    const gone = new Uint8Array(inLink ? inLink.channels : 0);
    if (inLink) {
      const p = eff.get(inLink.producer)!;
      const C = inLink.channels;
      for (let c = 0; c < C; c++) {
        if (!p.dead[c]) continue;
        gone[c] = 1;
        const v = p.value[c];
        if (v === 0) continue;
        for (let g = 0; g < inLink.groups; g++) {
          const base = (g * C + c) * out;
          for (let k = 0; k < out; k++) e.bias[k] += v * e.kernel[base + k];
        }
      }
    }
    const outLink = byProducer.get(layer);
    // A recurrent unit without inputs is not constant (its state still moves): recurrent units go only when unused.
    if (!outLink || isRecurrent(layer)) continue;
    const live = new Uint8Array(out);
    for (let r = 0; r < rows; r++) {
      if (inLink && gone[r % inLink.channels]) continue;
      const base = r * out;
      for (let k = 0; k < out; k++) if (e.kernel[base + k] !== 0) live[k] = 1;
    }
    if (live.every((v) => v === 1)) continue;
    const consts = constantsThrough(outLink, e);
    if (!consts) continue;
    for (let k = 0; k < out; k++) {
      if (live[k] || !consts.constant[k]) continue;
      if (consts.value[k] !== 0 && !outLink.canFold) continue;
      e.dead[k] = 1;
      e.value[k] = consts.value[k];
    }
  }
}

/** The channels each group keeps: a channel goes when no consumer reads it (rows 0 for every consumer unit), from every producer at once. */
function groupChannelsKept(groups: readonly ChannelGroup[], eff: Map<Layer, Effective>): Map<ChannelGroup, number[]> {
  return new Map(groups.map((g) => {
    const C = g.channels;
    const used = new Uint8Array(C);
    for (const { layer, groups: G } of g.consumers) {
      const c = eff.get(layer)!;
      for (let j = 0; j < C; j++) {
        for (let q = 0; q < G && !used[j]; q++) {
          const base = (q * C + j) * c.cols;
          for (let k = 0; k < c.cols; k++) if (c.kernel[base + k] !== 0) { used[j] = 1; break; }
        }
      }
    }
    if (!used.includes(1)) used[0] = 1; // no zero-sized axis
    // A channel a recurrent producer's own units still read stays, for every producer of the group (until no producer
    // adds one: a channel kept for one can make another's state read).
    for (let changed = true; changed;) {
      changed = false;
      for (const p of g.producers) {
        const e = eff.get(p)!;
        e.unused.set(used.map((v) => 1 - v));
        keepRecurrentFeeders(e);
        for (let j = 0; j < C; j++) if (!e.unused[j] && !used[j]) { used[j] = 1; changed = true; }
      }
    }
    return [g, Array.from(used.keys()).filter((j) => used[j])] as const;
  }));
}

/** Backward: a unit is unused when its rows in the consumer are 0 for every unit the consumer keeps. */
function findUnusedUnits(prunables: readonly Layer[], eff: Map<Layer, Effective>, byProducer: Map<Layer, UnitLink>): void {
  for (const layer of [...prunables].reverse()) {
    const link = byProducer.get(layer);
    if (!link) continue;
    const e = eff.get(layer)!;
    const c = eff.get(link.consumer)!;
    const cOut = c.cols;
    const C = link.channels;
    for (let j = 0; j < C; j++) {
      let used = false;
      for (let g = 0; g < link.groups && !used; g++) {
        const base = (g * C + j) * cOut;
        for (let k = 0; k < cOut; k++) {
          const u = k % c.units; // column k of gate ⌊k / units⌋ belongs to unit k mod units
          if (!c.dead[u] && !c.unused[u] && c.kernel[base + k] !== 0) { used = true; break; }
        }
      }
      // A dead unit that is also unused counts as unused: its folded constant reaches no kept unit.
      if (!used) { e.unused[j] = 1; e.dead[j] = 0; }
    }
    keepRecurrentFeeders(e);
    // Keep at least one unit so that no tensor has a zero-sized axis.
    let kept = 0;
    for (let j = 0; j < C; j++) if (!e.dead[j] && !e.unused[j]) kept++;
    if (kept === 0) {
      let j = e.unused.indexOf(1);
      if (j >= 0) {
        e.unused[j] = 0;
      } else {
        // A dead unit whose constant is already folded: keep it but cut its rows, so nothing counts twice.
        j = 0;
        e.dead[j] = 0;
        for (let g = 0; g < link.groups; g++) c.kernel.fill(0, (g * C + j) * cOut, (g * C + j + 1) * cOut);
      }
    }
  }
}

/** The units a layer keeps: neither dead nor unused. */
function keptUnits(eff: Map<Layer, Effective>, layer: Layer): number[] {
  const e = eff.get(layer)!;
  const keep: number[] = [];
  for (let j = 0; j < e.units; j++) if (!e.dead[j] && !e.unused[j]) keep.push(j);
  return keep;
}

type LayerConfigs = { config: Record<string, unknown> }[];

/**
 * The model's config with the compact sizes: each resized layer's units or filters (`sizes`, by path), and a nested model's
 * declared input shape following what feeds it. A copy: the model's own config is not changed.
 */
function resizedConfig(model: TF.LayersModel, sizes: Map<string, number>, producersOf: (layer: Layer) => Layer[] | undefined, eff: Map<Layer, Effective>): { layers: LayerConfigs } {
  const keepOf = (layer: Layer): number[] => keptUnits(eff, layer);
  const config = model.getConfig() as unknown as { layers: LayerConfigs };
  const resize = (entries: LayerConfigs, prefix: string) => {
    for (const entry of entries) {
      const path = prefix + String(entry.config.name);
      if (Array.isArray(entry.config.layers)) resize(entry.config.layers as LayerConfigs, `${path}/`); // a nested model
      const n = sizes.get(path);
      if (n == null) continue;
      if ('units' in entry.config) entry.config.units = n;
      else entry.config.filters = n;
    }
  };
  resize(config.layers, '');
  // A nested model's input takes the channels of what feeds it: its declared input shape follows (else its own
  // layers would be built for the old width).
  const containers = new Map<string, TF.LayersModel>();
  const findContainers = (layers: Layer[], prefix: string) => {
    for (const l of layers) {
      if (!isContainer(l)) continue;
      containers.set(prefix + l.name, l as unknown as TF.LayersModel);
      findContainers((l as unknown as TF.LayersModel).layers, `${prefix}${l.name}/`);
    }
  };
  findContainers(model.layers, '');
  const reshapeInputs = (entries: LayerConfigs, prefix: string) => {
    for (const entry of entries) {
      const path = prefix + String(entry.config.name);
      const inner = containers.get(path);
      if (!inner || !Array.isArray(entry.config.layers)) continue;
      const innerEntries = entry.config.layers as LayerConfigs;
      inner.inputLayers.forEach((input, k) => {
        const from = producersOf(input);
        if (!from) return;
        // Functional: its InputLayer entries; Sequential: the first layer's batchInputShape.
        const target = innerEntries.find((e) => e.config.name === input.name && Array.isArray(e.config.batchInputShape))
          ?? (k === 0 && Array.isArray(innerEntries[0]?.config.batchInputShape) ? innerEntries[0] : undefined);
        if (!target) return;
        const shape = target.config.batchInputShape as number[];
        // The last axis holds the channels once per position (after a Flatten, positions · channels).
        const C = eff.get(from[0])!.units;
        // A new array: getConfig() hands out the layer's own batchInputShape, and changing it in place changed the
        // pruned model's topology too (a new user's nested Sequential behind a Dense that lost units: the sparse export,
        // written from that topology, no longer matched its weights).
        target.config.batchInputShape = [...shape.slice(0, -1), (shape[shape.length - 1] / C) * keepOf(from[0]).length];
      });
      reshapeInputs(innerEntries, `${path}/`);
    }
  };
  reshapeInputs(config.layers, '');
  return config;
}

/**
 * Builds a physically smaller copy of `model` (the input is not changed). With `masks`, kernels are
 * taken as kernel · mask; without, the model's exact zeros are the pruned weights. The copy's outputs
 * equal the masked model's up to float rounding. Throws ModelError when the model has no Dense/Conv1D/Conv2D.
 */
export function compactModel(model: TF.LayersModel, masks?: PrunableModel): { model: TF.LayersModel; report: CompactReport } {
  // Every layer by its path through nested models ('backbone/conv1'): names are unique only inside one model.
  const pathOf = layerPaths(model);
  const prunables = prunableLeaves(model).map((x) => x.layer);
  if (prunables.length === 0) throw new ModelError(`model '${model.name}' has no Dense, Conv1D or Conv2D layer to compact`);
  const { links, groups, skipped, producersOf } = findUnitLinks(model);
  const byProducer = new Map(links.map((l) => [l.producer, l]));
  const byConsumer = new Map(links.map((l) => [l.consumer, l]));
  /** Consumer → the group it reads, with its kernel rows per channel. */
  const readsGroup = new Map(groups.flatMap((g) => g.consumers.map((c) => [c.layer, { group: g, channels: g.channels, groups: c.groups }] as const)));
  const maskArrays = masks?.maskArrays();
  const eff = new Map(prunables.map((l) => [l, effectiveOf(l, masks, maskArrays)]));

  // Which units go: forward (dead units, their constants folded), per channel group, backward (unused units).
  findDeadUnits(prunables, eff, byConsumer, byProducer);
  const groupKeep = groupChannelsKept(groups, eff);
  findUnusedUnits(prunables, eff, byProducer);
  const keepOf = (layer: Layer): number[] => keptUnits(eff, layer);
  let foldedUnits = 0;

  // New weights per layer name; layers not listed keep theirs.
  const newWeights = new Map<string, { data: Float32Array; shape: number[] }[]>();
  const sizes = new Map<string, number>();
  const layerReports: CompactLayerReport[] = [];
  for (const layer of prunables) {
    const e = eff.get(layer)!;
    const chainIn = byConsumer.get(layer);
    const groupIn = readsGroup.get(layer);
    const inLink = chainIn ?? groupIn;
    const inKeep = chainIn ? keepOf(chainIn.producer) : groupIn ? groupKeep.get(groupIn.group) : undefined;
    const outKeep = keepOf(layer);
    const k = sliceKernel(e, inLink, inKeep, outKeep);
    const cols = columnsOf(e, outKeep);
    // A transposed conv's kernel goes back to its own [kh, kw, filters, inputs].
    const written = isTransposed(layer)
      ? { data: swapLast(k.data, k.shape[k.shape.length - 2], k.shape[k.shape.length - 1]), shape: swapShape(k.shape) }
      : k;
    const list = [written];
    // A separable conv's depthwise kernel [kh, kw, inputs, 1] loses the input channels its pointwise kernel lost (and
    // comes first, as in the layer's weights).
    const dw = e.depthwise && (inLink && inKeep ? sliceChannels(e.depthwise.data, e.depthwise.shape, inLink.channels, inKeep) : e.depthwise);
    if (dw) list.unshift(dw);
    // A recurrent kernel [units, gates · units] loses the removed units' rows and columns.
    if (e.recurrent) list.push({ data: gather(e.recurrent, e.cols, outKeep, cols), shape: [outKeep.length, cols.length] });
    if (e.hasBias) list.push({ data: Float32Array.from(cols, (j) => e.bias[j]), shape: [cols.length] });
    newWeights.set(pathOf.get(layer)!, list);
    if (outKeep.length !== e.units) sizes.set(pathOf.get(layer)!, outKeep.length);
    let removedDead = 0, removedUnused = 0;
    for (let j = 0; j < e.units; j++) {
      if (e.dead[j]) { removedDead++; if (e.value[j] !== 0) foldedUnits++; } else if (e.unused[j]) removedUnused++;
    }
    const inAxis = e.shape.length - 2;
    layerReports.push({
      name: pathOf.get(layer)!, kind: e.kind, unitsBefore: e.units, unitsAfter: outKeep.length, removedDead, removedUnused,
      inputsBefore: e.shape[inAxis], inputsAfter: k.shape[inAxis],
      paramsBefore: e.kernel.length + (e.recurrent?.length ?? 0) + (e.depthwise?.data.length ?? 0) + (e.hasBias ? e.cols : 0),
      paramsAfter: k.data.length + (e.recurrent ? outKeep.length * cols.length : 0) + (dw?.data.length ?? 0) + (e.hasBias ? cols.length : 0),
    });
    // Per-channel layers between this one and its consumer (batch norm, depthwise conv, PReLU) are sliced to the kept units.
    const outLink = byProducer.get(layer);
    if (outLink && outKeep.length !== e.units) {
      for (const b of outLink.between) {
        const sliced = sliceChannelwise(b, outKeep, e.units, masks, maskArrays);
        if (!sliced) continue;
        newWeights.set(pathOf.get(b)!, sliced);
        layerReports.push(channelwiseReport(b, sliced, e.units, outKeep.length, pathOf.get(b)!, pathOf.get(layer)!));
      }
    }
  }

  for (const g of groups) {
    const keep = groupKeep.get(g)!;
    if (keep.length === g.channels) continue;
    for (const b of g.channelwise) {
      const sliced = sliceChannelwise(b, keep, g.channels, masks, maskArrays)!;
      newWeights.set(pathOf.get(b)!, sliced);
      layerReports.push(channelwiseReport(b, sliced, g.channels, keep.length, pathOf.get(b)!, g.producers.map((m) => pathOf.get(m)!).join(' + ')));
    }
  }

  const config = resizedConfig(model, sizes, producersOf, eff);
  const cls = (model.getClassName() === 'Sequential' ? tf.Sequential : tf.LayersModel) as unknown as {
    fromConfig(cls: unknown, config: unknown): TF.LayersModel;
  };
  let compact: TF.LayersModel;
  try {
    compact = quietInitializersSync(() => cls.fromConfig(cls, config));
  } catch (err) {
    throw new ModelError(`cannot rebuild model '${model.name}' for compaction: ${(err as Error).message.split('\n')[0]}`);
  }
  const oldByPath = new Map([...pathOf].map(([l, p]) => [p, l]));
  tf.tidy(() => {
    for (const [l, path] of layerPaths(compact)) {
      if (l.weights.length === 0) continue;
      const fresh = newWeights.get(path);
      if (fresh) l.setWeights(fresh.map((w) => tf.tensor(w.data, w.shape, 'float32')));
      else l.setWeights(oldByPath.get(path)!.getWeights());
    }
  });
  const params = (m: TF.LayersModel) => m.weights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
  return {
    model: compact,
    report: { layers: layerReports, skipped, paramsBefore: params(model), paramsAfter: params(compact), foldedUnits },
  };
}
