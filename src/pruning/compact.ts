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
import { callsOf, isContainer, LAYER_HANDLERS, layerPaths, outerCalls } from './layer-kinds.js';
import { quietInitializersSync } from '../util/quiet-initializers.js';
import type { PrunableModel } from './prunable-model.js';

type Layer = TF.layers.Layer;

/** A layer compaction left as it was, and why. */
export interface SkippedLayer {
  layer: string;
  reason: string;
}

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

/**
 * How the output channels of one prunable layer reach the next prunable layer. The consumer's kernel,
 * viewed as [groups · channels, consumer units] (Dense) or [kh · kw · channels, filters] (Conv2D),
 * reads producer channel c at rows g · channels + c for g < groups.
 */
export interface UnitLink {
  producer: Layer;
  consumer: Layer;
  /** Layers in between (pooling, dropout, activation, batch norm, depthwise conv, flatten), in order. */
  between: Layer[];
  /** Producer units (= channels of the tensor the consumer reads per position). */
  channels: number;
  /** Consumer kernel rows per producer channel: kh·kw for Conv2D, flattened positions for Dense after Flatten, else 1. */
  groups: number;
  /** Whether a constant producer channel can be folded exactly into the consumer's bias. */
  canFold: boolean;
}

/** Gates per unit of the recurrent layers whose units compaction removes (a kernel column per gate, a recurrent row). */
const RECURRENT_GATES: Readonly<Record<string, number>> = Object.freeze({ LSTM: 4, GRU: 3, SimpleRNN: 1 });
const PRUNABLE = new Set(['Dense', 'Conv1D', 'Conv2D', 'SeparableConv2D', 'Conv2DTranspose', ...Object.keys(RECURRENT_GATES)]);
/**
 * A Conv2DTranspose kernel is [kh, kw, filters, inputs]: compaction works on it as a convolution's [kh, kw, inputs,
 * filters] (its input channels are its rows, its filters its units) and writes it back in its own order.
 */
const isTransposed = (layer: Layer) => layer.getClassName() === 'Conv2DTranspose';
/** A shape with its last two axes swapped. */
const swapShape = (s: readonly number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
/** A kernel's shape as compaction views it: [..., inputs, units] (a transposed conv's last two axes swapped). */
function kernelShape(layer: Layer): number[] {
  const shape = kernelAndBias(layer).kernel.shape.slice();
  return isTransposed(layer) ? swapShape(shape) : shape;
}
/** Swaps the last two axes of a row-major [..., a, b] array. */
function swapLast(d: Float32Array, a: number, b: number): Float32Array {
  const out = new Float32Array(d.length);
  const block = a * b;
  for (let o = 0; o < d.length; o += block) for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out[o + j * a + i] = d[o + i * b + j];
  return out;
}
/**
 * Why a separable conv cannot read the producer's channels one to one, or undefined: with depth multiplier m its
 * pointwise kernel reads channel c at rows c·m … c·m + m − 1 (m = 1: row c, as a 1×1 Conv2D does).
 */
const separableProblem = (layer: Layer) => {
  const m = (layer as unknown as { depthMultiplier?: number }).depthMultiplier ?? 1;
  return layer.getClassName() === 'SeparableConv2D' && m !== 1 ? `'${layer.name}' (SeparableConv2D) has depth multiplier ${String(m)}, so its channels are not the producer's` : undefined;
};
const isRecurrent = (layer: Layer) => Object.prototype.hasOwnProperty.call(RECURRENT_GATES, layer.getClassName());
/** Layers whose kernel rows are its inputs' features, one row per channel and position (not a convolution's taps). */
const readsRows = (layer: Layer) => layer.getClassName() === 'Dense' || isRecurrent(layer);
/** Identity at inference or elementwise: never mix channels, keep constants constant. */
const ELEMENTWISE = new Set(['Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Activation']);
/** Per-channel over positions (pooling, padding, cropping, nearest/bilinear upsampling): channel c stays channel c. */
const SPATIAL = new Set([
  'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'MaxPooling1D', 'AveragePooling1D', 'GlobalAveragePooling1D', 'GlobalMaxPooling1D',
  'ZeroPadding2D', 'Cropping2D', 'UpSampling2D',
]);

function cfgOf(layer: Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

function isPrunable(layer: Layer): boolean {
  return PRUNABLE.has(layer.getClassName());
}

function outShape(layer: Layer): (number | null)[] {
  const o = layer.output as TF.SymbolicTensor | TF.SymbolicTensor[];
  return (Array.isArray(o) ? o[0] : o).shape;
}

function channelsFirst(layer: Layer): boolean {
  return cfgOf(layer).dataFormat === 'channelsFirst';
}

/**
 * Layers with weights per channel, sliced with the channels they sit on: batch norm (vectors), depthwise conv (multiplier
 * 1), PReLU (its alpha, per position and channel, or shared along sharedAxes).
 */
const CHANNELWISE = new Set(['BatchNormalization', 'DepthwiseConv2D', 'PReLU']);

/** Why `layer` cannot sit between two linked prunable layers, or undefined when it can. */
function betweenProblem(layer: Layer, afterFlatten: boolean): string | undefined {
  const cls = layer.getClassName();
  const cfg = cfgOf(layer);
  if (cls === 'Activation' && cfg.activation === 'softmax') return `'${layer.name}' (softmax activation) mixes channels`;
  if (ELEMENTWISE.has(cls)) return undefined;
  if (SPATIAL.has(cls) || cls === 'Flatten' || CHANNELWISE.has(cls)) {
    if (afterFlatten) return `'${layer.name}' (${cls}) after a Flatten cannot be sliced per channel`;
    if (channelsFirst(layer)) return `'${layer.name}' (${cls}) uses channels-first data`;
    if (cls === 'DepthwiseConv2D') {
      if ((cfg.depthMultiplier ?? 1) !== 1) return `'${layer.name}' (DepthwiseConv2D) has depth multiplier ${cfg.depthMultiplier}, so its channels are not the producer's`;
      if (layer.inboundNodes.length !== 1) return `'${layer.name}' is shared (called ${layer.inboundNodes.length} times)`;
      return undefined;
    }
    if (cls === 'BatchNormalization') {
      const axis = cfg.axis as number;
      const rank = (layer.input as TF.SymbolicTensor).shape.length;
      if (axis !== -1 && axis !== rank - 1) return `'${layer.name}' (BatchNormalization) normalises axis ${axis}, not the channel axis`;
    }
    return undefined;
  }
  return `'${layer.name}' (${cls}) cannot be sliced`;
}

/**
 * Channels shared by several prunable layers (Torch-Pruning's dependency groups): the outputs of the
 * `producers` are merged elementwise (Add, Multiply, …: a residual block's shortcut and branch) and/or read by
 * several `consumers` (a branch), through per-channel layers only. Channel c of every producer is one unit:
 * it goes from all producers, every per-channel layer and every consumer's kernel rows at once. Never folded
 * (a dead channel of one producer is not dead in the sum): a channel goes when no consumer reads it.
 */
export interface ChannelGroup {
  producers: Layer[];
  /** Prunable layers reading the channels, with their kernel rows per channel (as UnitLink.groups). */
  consumers: { layer: Layer; groups: number }[];
  /** Per-channel layers with weights (batch norm, depthwise conv of multiplier 1), sliced with the group. */
  channelwise: Layer[];
  channels: number;
}

const MERGES = new Set(['Add', 'Multiply', 'Average', 'Maximum', 'Minimum', 'Subtract']);

/**
 * The channel spaces of a model's top-level graph: a prunable layer's output starts one; per-channel layers
 * (elementwise, pooling, batch norm, depthwise of multiplier 1, a Flatten before a Dense) continue it;
 * elementwise merges join the spaces of their inputs. A space is blocked (with the first reason found)
 * when anything else reads it, when it is a model output ('' reason) or when a shared layer touches it.
 */
function channelSpaces(model: TF.LayersModel): { groups: ChannelGroup[]; blocked: Map<Layer, string>; producersOf: (layer: Layer) => Layer[] | undefined } {
  const parent: number[] = [];
  const spaceOf = new Map<Layer, number>();
  // blockedFor: the producers of the space when it was blocked; merges: the elementwise merges that joined it (a producer
  // joined later is kept because a merge ties its units to those, which the report says rather than the first reason alone).
  const info: { producers: Layer[]; consumers: { layer: Layer; groups: number }[]; channelwise: Layer[]; channels: number; blocked?: string; blockedFor?: Layer[]; merges: string[] }[] = [];
  const flat = new Set<Layer>();
  const outputLayers = new Set<Layer>(model.outputs.map((o) => o.sourceLayer as Layer));
  const find = (i: number): number => { while (parent[i] !== i) { parent[i] = parent[parent[i]]; i = parent[i]; } return i; };
  const fresh = (channels: number): number => {
    parent.push(parent.length);
    info.push({ producers: [], consumers: [], channelwise: [], channels, merges: [] });
    return parent.length - 1;
  };
  const block = (id: number, reason: string) => {
    const r = find(id);
    if (info[r].blocked == null) { info[r].blocked = reason; info[r].blockedFor = [...info[r].producers]; }
  };
  const union = (a: number, b: number): number => {
    const [x, y] = [find(a), find(b)];
    if (x === y) return x;
    parent[y] = x;
    const [p, q] = [info[x], info[y]];
    p.producers.push(...q.producers);
    p.consumers.push(...q.consumers);
    p.channelwise.push(...q.channelwise);
    p.merges.push(...q.merges);
    if (p.blocked == null && q.blocked != null) { p.blocked = q.blocked; p.blockedFor = q.blockedFor; }
    return x;
  };
  const visit = (layer: Layer): void => {
    const cls = layer.getClassName();
    const nodes = callsOf(layer);
    const ins = nodes.length === 1 ? nodes[0].inboundLayers : nodes.flatMap((n) => n.inboundLayers);
    const inIds = ins.map((l) => spaceOf.get(l)).filter((v): v is number => v != null);
    if (spaceOf.has(layer)) return; // a nested model's input layer, given the space of what feeds the model
    // (Called once, or not at all: a Sequential's first layer takes the model's input as its own.)
    if (isContainer(layer) && nodes.length <= 1) {
      // A nested model (a backbone used as a layer): its graph continues the outer one, its inputs taking the
      // spaces of what feeds it and its output the space of its output layer.
      const inner = layer as unknown as TF.LayersModel;
      inner.inputLayers.forEach((l, k) => { const id = spaceOf.get(ins[k]); if (id != null) spaceOf.set(l, id); });
      for (const l of inner.layers) visit(l);
      const outs = inner.outputLayers;
      const id = outs.length === 1 ? spaceOf.get(outs[0]) : undefined;
      if (id != null) spaceOf.set(layer, id);
      else for (const i of inIds) block(i, `the nested model '${layer.name}' has several outputs`);
      return;
    }
    if (nodes.length !== 1) {
      for (const id of inIds) block(id, `'${layer.name}' is shared (called ${nodes.length} times)`);
      return;
    }
    if (isPrunable(layer)) {
      if (ins.length === 1 && inIds.length === 1) {
        const C = info[find(inIds[0])].channels;
        const rows = kernelShape(layer).slice(0, -1);
        const dense = readsRows(layer);
        const perChannel = dense ? rows[0] : rows.slice(0, -1).reduce((a, b) => a * b, 1);
        const separable = separableProblem(layer);
        if (channelsFirst(layer)) block(inIds[0], `'${layer.name}' uses channels-first data`);
        else if (separable) block(inIds[0], separable);
        else if (!dense && flat.has(ins[0])) block(inIds[0], `'${layer.name}' (${cls}) reads a flattened tensor`);
        else if ((dense ? perChannel % C : rows.at(-1)! - C) !== 0) block(inIds[0], `'${layer.name}' reads ${rows.at(-1)} inputs, expected a multiple of ${C}`);
        else info[find(inIds[0])].consumers.push({ layer, groups: dense ? perChannel / C : perChannel });
      }
      const states = isRecurrent(layer) && (cfgOf(layer).returnState || cfgOf(layer).stateful);
      if (!channelsFirst(layer) && cfgOf(layer).activation !== 'softmax' && !states) {
        const id = fresh(outShape(layer).at(-1) as number);
        info[id].producers.push(layer);
        spaceOf.set(layer, id);
      }
      return;
    }
    if (MERGES.has(cls) && ins.length >= 2) {
      if (inIds.length === ins.length && !ins.some((l) => flat.has(l))) {
        const id = inIds.reduce((a, b) => union(a, b));
        info[find(id)].merges.push(`'${layer.name}' (${cls})`);
        spaceOf.set(layer, id);
      } else {
        for (const id of inIds) block(id, `'${layer.name}' (${cls}) merges channels with a tensor no prunable layer produces`);
      }
      return;
    }
    if (ins.length !== 1 || inIds.length !== 1) {
      for (const id of inIds) block(id, ins.length > 1 ? `'${layer.name}' (${cls}) merges several inputs` : `'${layer.name}' (${cls}) cannot be sliced`);
      return;
    }
    // A weightless output layer (a Softmax or Activation layer after the logits) carries the output's units: the
    // space is the model output's, marked below, not blocked by the layer.
    if (outputLayers.has(layer) && layer.countParams() === 0) {
      spaceOf.set(layer, inIds[0]);
      return;
    }
    const problem = betweenProblem(layer, flat.has(ins[0]));
    if (problem || (cls === 'Flatten' && (layer.input as TF.SymbolicTensor).shape.slice(1).some((d) => d == null))) {
      block(inIds[0], problem ?? `'${layer.name}' (Flatten) has an input of unknown size`);
      return;
    }
    spaceOf.set(layer, inIds[0]);
    if (cls === 'Flatten' || flat.has(ins[0])) flat.add(layer);
    if (CHANNELWISE.has(cls)) info[find(inIds[0])].channelwise.push(layer);
  };
  for (const layer of model.layers) visit(layer);
  for (const o of model.outputs) {
    const id = spaceOf.get(o.sourceLayer as Layer);
    if (id != null) block(id, '');
  }
  const groups: ChannelGroup[] = [];
  const blocked = new Map<Layer, string>();
  parent.forEach((_, i) => {
    if (find(i) !== i) return;
    const g = info[i];
    if (g.blocked != null) {
      const at = g.blockedFor ?? [];
      for (const p of g.producers) {
        const tied = g.blocked !== '' && at.length > 0 && !at.includes(p) && g.merges.length > 0;
        blocked.set(p, tied ? `${g.merges.join(', ')} ties its units to ${at.map((l) => `'${l.name}'`).join(', ')}, kept because ${g.blocked}` : g.blocked);
      }
    }
    else if (g.producers.length > 0 && g.consumers.length > 0) groups.push({ producers: g.producers, consumers: g.consumers, channelwise: g.channelwise, channels: g.channels });
  });
  /** The producers whose channels a layer's output carries (undefined: not a channel space). */
  const producersOf = (layer: Layer) => {
    const id = spaceOf.get(layer);
    return id == null ? undefined : info[find(id)].producers;
  };
  return { groups, blocked, producersOf };
}

/**
 * The producer→consumer links between prunable layers along which units can be removed, the channel groups
 * (several producers merged, or several consumers) whose channels go together, and, for every prunable layer
 * in neither (other than output layers), why not.
 */
export function findUnitLinks(model: TF.LayersModel): {
  links: UnitLink[]; groups: ChannelGroup[]; skipped: SkippedLayer[]; producersOf: (layer: Layer) => Layer[] | undefined;
} {
  const outputLayers = new Set<Layer>(model.outputs.map((o) => o.sourceLayer as Layer));
  const links: UnitLink[] = [];
  const skipped: SkippedLayer[] = [];
  const spaces = channelSpaces(model);
  // A chain (one producer, one reader, no merge) is a link, whose dead units can also be folded; any other space
  // with readers is a group.
  for (const producer of model.layers) {
    if (!isPrunable(producer) || outputLayers.has(producer)) continue;
    const r = linkFrom(producer, outputLayers);
    if (typeof r !== 'string') links.push(r);
  }
  const linked = new Set(links.map((k) => k.producer));
  const groups = spaces.groups.filter((g) => !g.producers.some((p) => linked.has(p)));
  const grouped = new Set(groups.flatMap((g) => g.producers));
  const connectionOnly: { layer: Layer; path: string }[] = [];
  for (const { layer, path, containers } of prunableLeaves(model, connectionOnly)) {
    if (outputLayers.has(layer) || linked.has(layer) || grouped.has(layer)) continue;
    const nested = containers.length > 0;
    const shared = containers.find((c) => outerCalls(c) > 1);
    const chain = nested ? '' : linkFrom(layer, outputLayers);
    const reason = shared
      ? `the nested model '${shared.name}' is called ${outerCalls(shared)} times, and its units serve every call`
      : spaces.blocked.get(layer) || (typeof chain === 'string' ? chain : '') || (nested ? 'no prunable layer reads its units' : '');
    if (reason !== '') skipped.push({ layer: path, reason: `units kept: ${reason}` });
  }
  // Layers pruned connection by connection whose units compaction never takes out (Conv3D, separable and transposed
  // convolutions, Embedding, wrapped layers): kept whole, and said so. (A depthwise conv's channels go with its producer's.)
  for (const { layer, path } of connectionOnly) {
    if (outputLayers.has(layer)) continue;
    skipped.push({ layer: path, reason: `units kept: compaction does not remove units of ${/^[AEIOU]/.test(layer.getClassName()) ? 'an' : 'a'} ${layer.getClassName()} layer (its pruned connections stay zeros in the full shape)` });
  }
  return { links, groups, skipped, producersOf: spaces.producersOf };
}

/** The prunable layers of a model, nested models' included (in graph order), with their paths ('backbone/conv1'). */
function prunableLeaves(model: TF.LayersModel, connectionOnly?: { layer: Layer; path: string }[]): { layer: Layer; path: string; containers: Layer[] }[] {
  const out: { layer: Layer; path: string; containers: Layer[] }[] = [];
  const seen = new Set<Layer>();
  const walk = (layers: Layer[], prefix: string, containers: Layer[]) => {
    for (const l of layers) {
      if (seen.has(l)) continue;
      seen.add(l);
      if (isContainer(l)) walk((l as unknown as TF.LayersModel).layers, `${prefix}${l.name}/`, [...containers, l]);
      else if (isPrunable(l)) out.push({ layer: l, path: prefix + l.name, containers });
      else if (connectionOnly && l.getClassName() !== 'DepthwiseConv2D' && (Object.hasOwn(LAYER_HANDLERS, l.getClassName()) || ['TimeDistributed', 'Bidirectional'].includes(l.getClassName()))) {
        connectionOnly.push({ layer: l, path: prefix + l.name });
      }
    }
  };
  walk(model.layers, '', []);
  return out;
}

/** The link from `producer`, or a reason ('' = it feeds the model output: nothing to report). */
function linkFrom(producer: Layer, outputLayers: Set<Layer>): UnitLink | string {
  if (producer.inboundNodes.length !== 1) return `'${producer.name}' is shared (called ${producer.inboundNodes.length} times)`;
  if (channelsFirst(producer)) return `'${producer.name}' uses channels-first data`;
  if (cfgOf(producer).activation === 'softmax') return `'${producer.name}' has a softmax activation, which couples its units`;
  if (isRecurrent(producer) && (cfgOf(producer).returnState || cfgOf(producer).stateful)) return `'${producer.name}' returns its states or is stateful`;
  const channels = outShape(producer).at(-1) as number;
  const between: Layer[] = [];
  let cur = producer;
  let flatten = false;
  let positions = 1;
  for (;;) {
    if (cur !== producer && outputLayers.has(cur)) return '';
    const outs = cur.outboundNodes;
    if (outs.length === 0) return `the output of '${cur.name}' is not used by any layer`;
    if (outs.length > 1) return `'${cur.name}' feeds ${outs.length} layers (a branch)`;
    const next = outs[0].outboundLayer;
    if (next.inboundNodes.length !== 1) return `'${next.name}' is shared (called ${next.inboundNodes.length} times)`;
    if (outs[0].inboundLayers.length !== 1) return `'${next.name}' (${next.getClassName()}) merges several inputs`;
    // A weightless output layer (a Softmax or Activation after the logits): the units are the model's outputs.
    if (outputLayers.has(next) && next.countParams() === 0) return '';
    if (isPrunable(next)) {
      const ks = kernelShape(next);
      const cls = next.getClassName();
      const cfg = cfgOf(next);
      if (cls === 'Conv2D' || cls === 'Conv1D' || cls === 'SeparableConv2D' || cls === 'Conv2DTranspose') {
        if (flatten) return `'${next.name}' (${cls}) reads a flattened tensor`;
        if (channelsFirst(next)) return `'${next.name}' uses channels-first data`;
        const separable = separableProblem(next);
        if (separable) return separable;
        const cin = ks.at(-2)!;
        if (cin !== channels) return `'${next.name}' reads ${cin} channels, expected ${channels}`;
        return {
          producer, consumer: next, between, channels, groups: ks.slice(0, -2).reduce((a, b) => a * b, 1),
          // 'same' and 'causal' padding add zeros at the border: a constant input channel is not constant there. A
          // separable conv's kernel here is its pointwise one, after the depthwise taps, and a transposed conv spreads
          // each input over overlapping taps: a constant is folded into neither.
          canFold: cfg.useBias !== false && cfg.padding === 'valid' && cls !== 'SeparableConv2D' && cls !== 'Conv2DTranspose',
        };
      }
      const groups = flatten ? positions : 1;
      if (ks[0] !== groups * channels) return `'${next.name}' reads ${ks[0]} inputs, expected ${groups * channels}`;
      return { producer, consumer: next, between, channels, groups, canFold: cfg.useBias !== false };
    }
    const problem = betweenProblem(next, flatten);
    if (problem) return problem;
    if (next.getClassName() === 'Flatten') {
      const inShape = (next.input as TF.SymbolicTensor).shape.slice(1);
      if (inShape.some((d) => d == null)) return `'${next.name}' (Flatten) has an input of unknown size`;
      positions = (inShape as number[]).slice(0, -1).reduce((a, b) => a * b, 1);
      flatten = true;
    }
    if (outShape(next).at(-1) !== channels && next.getClassName() !== 'Flatten') {
      return `'${next.name}' changes the number of channels`;
    }
    between.push(next);
    cur = next;
  }
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

function kernelAndBias(layer: Layer): { kernel: TF.Tensor; recurrent?: TF.Tensor; depthwise?: TF.Tensor; bias?: TF.Tensor } {
  let kernel: TF.Tensor | undefined;
  let recurrent: TF.Tensor | undefined;
  let depthwise: TF.Tensor | undefined;
  let bias: TF.Tensor | undefined;
  for (const w of layer.weights) {
    const n = w.originalName ?? w.name;
    if (/recurrent_kernel/.test(n)) recurrent = w.read();
    else if (/depthwise_kernel/.test(n)) depthwise = w.read();
    else if (/kernel/.test(n)) kernel = w.read();
    else if (/bias/.test(n)) bias = w.read();
  }
  if (!kernel) throw new ModelError(`layer '${layer.name}' has no kernel`);
  return { kernel, recurrent, depthwise, bias };
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
