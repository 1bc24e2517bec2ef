import type * as TF from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';
import { callsOf, isContainer, LAYER_HANDLERS, outerCalls } from './layer-kinds.js';

/**
 * The unit graph: which layer's units (Dense columns, filters, recurrent units) feed which kernel rows or channels of
 * the next prunable layer, through the layers in between (pooling, flatten, activations, per-channel layers), residual
 * merges (channel groups) and nested models; and why a layer's units cannot go where they cannot. Whole-unit pruning
 * (units.ts), granularity (agent/granularity.ts) and compaction (compact.ts) read it.
 */

type Layer = TF.layers.Layer;

export interface SkippedLayer {
  layer: string;
  reason: string;
}

export function kernelAndBias(layer: Layer): { kernel: TF.Tensor; recurrent?: TF.Tensor; depthwise?: TF.Tensor; bias?: TF.Tensor } {
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
export const RECURRENT_GATES: Readonly<Record<string, number>> = Object.freeze({ LSTM: 4, GRU: 3, SimpleRNN: 1 });
const PRUNABLE = new Set(['Dense', 'Conv1D', 'Conv2D', 'SeparableConv2D', 'Conv2DTranspose', ...Object.keys(RECURRENT_GATES)]);
/**
 * A Conv2DTranspose kernel is [kh, kw, filters, inputs]: compaction works on it as a convolution's [kh, kw, inputs,
 * filters] (its input channels are its rows, its filters its units) and writes it back in its own order.
 */
export const isTransposed = (layer: Layer) => layer.getClassName() === 'Conv2DTranspose';
/** A shape with its last two axes swapped. */
export const swapShape = (s: readonly number[]) => [...s.slice(0, -2), s[s.length - 1], s[s.length - 2]];
/** A kernel's shape as compaction views it: [..., inputs, units] (a transposed conv's last two axes swapped). */
export function kernelShape(layer: Layer): number[] {
  const shape = kernelAndBias(layer).kernel.shape.slice();
  return isTransposed(layer) ? swapShape(shape) : shape;
}
/**
 * Why a separable conv cannot read the producer's channels one to one, or undefined: with depth multiplier m its
 * pointwise kernel reads channel c at rows c·m … c·m + m − 1 (m = 1: row c, as a 1×1 Conv2D does).
 */
const separableProblem = (layer: Layer) => {
  const m = (layer as unknown as { depthMultiplier?: number }).depthMultiplier ?? 1;
  return layer.getClassName() === 'SeparableConv2D' && m !== 1 ? `'${layer.name}' (SeparableConv2D) has depth multiplier ${String(m)}, so its channels are not the producer's` : undefined;
};
export const isRecurrent = (layer: Layer) => Object.prototype.hasOwnProperty.call(RECURRENT_GATES, layer.getClassName());
/** Layers whose kernel rows are its inputs' features, one row per channel and position (not a convolution's taps). */
const readsRows = (layer: Layer) => layer.getClassName() === 'Dense' || isRecurrent(layer);
/** Identity at inference or elementwise: never mix channels, keep constants constant. */
// (SpatialDropout drops whole channels in training and is the identity when serving: channel c stays channel c; a new
// user's Conv1D kept every filter before one. Rescaling multiplies and adds scalars.)
const ELEMENTWISE = new Set([
  'Dropout', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout', 'SpatialDropout1D', 'SpatialDropout2D', 'SpatialDropout3D',
  'ReLU', 'LeakyReLU', 'ELU', 'ThresholdedReLU', 'Activation', 'Rescaling',
]);
/** Per-channel over positions (pooling, padding, cropping, nearest/bilinear upsampling): channel c stays channel c. */
const SPATIAL = new Set([
  'MaxPooling2D', 'AveragePooling2D', 'GlobalAveragePooling2D', 'GlobalMaxPooling2D',
  'MaxPooling1D', 'AveragePooling1D', 'GlobalAveragePooling1D', 'GlobalMaxPooling1D',
  'ZeroPadding2D', 'Cropping2D', 'UpSampling2D',
]);

export function cfgOf(layer: Layer): Record<string, unknown> {
  return layer.getConfig() as Record<string, unknown>;
}

function isPrunable(layer: Layer): boolean {
  return PRUNABLE.has(layer.getClassName());
}

export function outShape(layer: Layer): (number | null)[] {
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
export const CHANNELWISE = new Set(['BatchNormalization', 'DepthwiseConv2D', 'PReLU']);

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
export function prunableLeaves(model: TF.LayersModel, connectionOnly?: { layer: Layer; path: string }[]): { layer: Layer; path: string; containers: Layer[] }[] {
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

