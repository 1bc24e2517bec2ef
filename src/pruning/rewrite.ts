/**
 * Exact rewrites of one-channel feature maps for serving on TensorFlow's CPU kernels (docs/compaction.md,
 * "One-channel feature maps").
 *
 * Unit pruning for speed often leaves a convolution with a single filter (LeNet-5's first one under
 * `--objective flops`). TensorFlow's CPU convolution and pooling cost per spatial position, not per channel, and
 * a one-channel max pool is a slow path of its own: at batch 256, a 2×2 pool of 24×24×1 takes about as long as
 * one of 24×24×20 and longer than one of 24×24×2 (`node scripts/rewrite-crossover.mjs`). Two rewrites give the
 * same outputs with fewer, wider positions:
 *
 * - **phase convolution**: a one-filter Conv2D (stride 1, valid, no dilation, a non-decreasing activation) read
 *   only by a 2×2/2 max pool becomes one stride-2 Conv2D with 4 filters of (kh+1)×(kw+1) — filter 2·dr + dc is
 *   the kernel shifted by (dr, dc), so it computes the conv at the pool window's position (dr, dc) — followed by
 *   the maximum over those 4 channels (Reshape → Permute → MaxPooling1D → Reshape). A max pool of a
 *   non-decreasing activation is the activation of the max, so the outputs are the same. It costs
 *   (kh+1)(kw+1)/(kh·kw) times the layer's multiply-accumulates (1.44× for 5×5), reported.
 * - **one-channel pool**: any other MaxPooling2D / AveragePooling2D (pool = strides, valid) of one channel over at
 *   least 12×12 positions becomes Reshape → Permute → the 1-D pool of the window's p·q values → Reshape.
 *
 * Only standard tfjs layers are used, so the rewritten model loads anywhere the original does. Layers keep
 * their names where they keep their role: the phase convolution has the convolution's name, the final Reshape
 * the pool's (so every layer that read the pool reads it still); the layers in between are named after the pool.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { ModelError } from '../errors.js';
import { isContainer } from './layer-kinds.js';
import { quietInitializersSync } from '../util/quiet-initializers.js';

type Layer = TF.layers.Layer;

/** One rewrite made, with the multiply-accumulates per sample of the layers it replaced and of their replacement. */
export interface Rewrite {
  kind: 'phase-conv' | 'one-channel-pool';
  /** Paths of the layers replaced ('backbone/conv1'). */
  layers: string[];
  macsBefore: number;
  macsAfter: number;
}

/** One line for a person: what was rewritten and what it costs. */
export function describeRewrite(w: Rewrite): string {
  return w.kind === 'phase-conv'
    ? `'${w.layers[0]}' (one filter) and its 2×2 max pool '${w.layers[1]}' rewritten as one stride-2 convolution of 4 filters and a max over them: ` +
      `same outputs, fewer positions (faster on TensorFlow's CPU kernels), ${w.macsBefore.toLocaleString('en')} → ${w.macsAfter.toLocaleString('en')} MACs per sample`
    : `'${w.layers[0]}' (a pool of one channel) rewritten as a transpose and a 1-D pool: same outputs, faster on TensorFlow's CPU kernels`;
}

/** Activations f with max(f(a), f(b)) = f(max(a, b)): a max pool of them is the activation of a max pool. */
const NON_DECREASING = new Set(['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softplus', 'softsign', 'exponential']);
const POOLS_2D: Readonly<Record<string, string>> = { MaxPooling2D: 'MaxPooling1D', AveragePooling2D: 'AveragePooling1D' };
/** A one-channel pool is rewritten from this many input positions (measured: 24×24 1.8×, 12×12 1.3×, 8×8 0.9× the time). */
const MIN_POOL_POSITIONS = 144;

interface Cfg {
  [k: string]: unknown;
}
const cfg = (l: Layer) => l.getConfig() as Cfg;
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);
const same = (a: unknown, b: unknown) => JSON.stringify(pair(a)) === JSON.stringify(pair(b));
const shape = (l: Layer, which: 'in' | 'out') => (which === 'in' ? (l.input as TF.SymbolicTensor).shape : l.outputShape) as (number | null)[];
/** The one layer reading `l`'s output, if exactly one does and `l` is called once. */
function soleReader(l: Layer): Layer | undefined {
  if (l.inboundNodes.length !== 1 || l.outboundNodes.length !== 1) return undefined;
  return l.outboundNodes[0].outboundLayer as Layer;
}

function isChannelsLast(l: Layer): boolean {
  return (cfg(l).dataFormat ?? 'channelsLast') === 'channelsLast';
}

function poolSite(p: Layer): boolean {
  if (!(p.getClassName() in POOLS_2D) || !isChannelsLast(p) || p.inboundNodes.length !== 1) return false;
  const c = cfg(p);
  const s = shape(p, 'in');
  return c.padding === 'valid' && same(c.poolSize, c.strides ?? c.poolSize) && s.length === 4 && s[3] === 1
    && s[1] != null && s[2] != null && s[1] * s[2] >= MIN_POOL_POSITIONS;
}

function phaseSite(conv: Layer): Layer | undefined {
  if (conv.getClassName() !== 'Conv2D' || !isChannelsLast(conv)) return undefined;
  const c = cfg(conv);
  if (c.filters !== 1 || c.padding !== 'valid' || !same(c.strides, 1) || !same(c.dilationRate ?? 1, 1)) return undefined;
  if (!NON_DECREASING.has(String(c.activation ?? 'linear'))) return undefined;
  const pool = soleReader(conv);
  if (!pool || pool.getClassName() !== 'MaxPooling2D' || !isChannelsLast(pool) || pool.inboundNodes.length !== 1) return undefined;
  const pc = cfg(pool);
  return pc.padding === 'valid' && same(pc.poolSize, 2) && same(pc.strides ?? pc.poolSize, 2) ? pool : undefined;
}

/** A layer as a config entry: its class name and config (what tfjs itself serialises for it). */
interface Item {
  className: string;
  config: Cfg;
}
const item = (l: Layer): Item => ({ className: l.getClassName(), config: l.getConfig() as Cfg });

/** The layers after a 4-D map [H', W', K] (K window values per position, one channel): the K-way pool, back to [H', W', 1]. */
function reduceWindow(name: string, ho: number, wo: number, k: number, pool1d: string, positionsFirst: boolean): Item[] {
  const L = tf.layers;
  const out: Layer[] = [];
  // [positions, K] → [K, positions]; or already [K, positions] (the pool rewrite's permute puts the window first).
  if (positionsFirst) {
    out.push(L.reshape({ targetShape: [ho * wo, k], name: `${name}_positions` }));
    out.push(L.permute({ dims: [2, 1], name: `${name}_window_first` }));
  }
  const args = { poolSize: k, strides: k, padding: 'valid' as const, name: `${name}_window` };
  out.push(pool1d === 'MaxPooling1D' ? L.maxPooling1d(args) : L.averagePooling1d(args));
  out.push(L.reshape({ targetShape: [ho, wo, 1], name }));
  return out.map(item);
}

interface Plan {
  rewrites: Rewrite[];
  /** Path of a replaced layer → the layers replacing it (the first takes its inputs, the last its name). Empty: removed. */
  replace: Map<string, Item[]>;
  /** Path of a phase convolution → its new weights. */
  weights: Map<string, TF.Tensor[]>;
}

function plan(model: TF.LayersModel): Plan {
  const p: Plan = { rewrites: [], replace: new Map(), weights: new Map() };
  const taken = new Set<Layer>();
  const walk = (layers: Layer[], prefix: string) => {
    for (const l of layers) {
      if (isContainer(l)) { walk((l as unknown as TF.LayersModel).layers, `${prefix}${l.name}/`); continue; }
      const pool = phaseSite(l);
      if (!pool || taken.has(l)) continue;
      taken.add(l).add(pool);
      const c = cfg(l);
      const [kh, kw] = pair(c.kernelSize);
      const cin = shape(l, 'in')[3]!;
      const [, ho, wo] = shape(pool, 'out') as number[];
      const [, h1, w1] = shape(l, 'out') as number[];
      const phase: Item = { className: 'Conv2D', config: { ...c, filters: 4, kernelSize: [kh + 1, kw + 1], strides: [2, 2] } };
      p.replace.set(prefix + l.name, [phase]);
      p.replace.set(prefix + pool.name, reduceWindow(pool.name, ho, wo, 4, 'MaxPooling1D', true));
      p.weights.set(prefix + l.name, phaseWeights(l, kh, kw, cin));
      p.rewrites.push({
        kind: 'phase-conv', layers: [prefix + l.name, prefix + pool.name],
        macsBefore: kh * kw * cin * h1 * w1, macsAfter: (kh + 1) * (kw + 1) * cin * 4 * ho * wo,
      });
    }
    for (const l of layers) {
      if (isContainer(l) || taken.has(l) || !poolSite(l)) continue;
      taken.add(l);
      const c = cfg(l);
      const [ph, pw] = pair(c.poolSize);
      const [, h, w] = shape(l, 'in') as number[];
      const [ho, wo] = [Math.floor(h / ph), Math.floor(w / pw)];
      const L = tf.layers;
      const chain: Layer[] = [];
      if (h % ph || w % pw) chain.push(L.cropping2D({ cropping: [[0, h % ph], [0, w % pw]], name: `${l.name}_crop` }));
      chain.push(L.reshape({ targetShape: [ho, ph, wo, pw], name: `${l.name}_split` }));
      chain.push(L.permute({ dims: [2, 4, 1, 3], name: `${l.name}_window_first` }));
      chain.push(L.reshape({ targetShape: [ph * pw, ho * wo], name: `${l.name}_positions` }));
      p.replace.set(prefix + l.name, [...chain.map(item), ...reduceWindow(l.name, ho, wo, ph * pw, POOLS_2D[l.getClassName()], false)]);
      p.rewrites.push({ kind: 'one-channel-pool', layers: [prefix + l.name], macsBefore: 0, macsAfter: 0 });
    }
  };
  walk(model.layers, '');
  return p;
}

/** Kernel [kh+1, kw+1, cin, 4]: filter 2·dr + dc is the one-filter kernel shifted by (dr, dc); the bias repeated. */
function phaseWeights(conv: Layer, kh: number, kw: number, cin: number): TF.Tensor[] {
  const [kernel, bias] = conv.getWeights();
  const k = kernel.dataSync();
  const out = new Float32Array((kh + 1) * (kw + 1) * cin * 4);
  for (let dr = 0; dr < 2; dr++) {
    for (let dc = 0; dc < 2; dc++) {
      const f = 2 * dr + dc;
      for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let c = 0; c < cin; c++) {
        out[(((i + dr) * (kw + 1) + (j + dc)) * cin + c) * 4 + f] = k[(i * kw + j) * cin + c];
      }
    }
  }
  const w: TF.Tensor[] = [tf.tensor4d(out, [kh + 1, kw + 1, cin, 4])];
  if (bias) w.push(tf.tidy(() => tf.tile(bias as TF.Tensor1D, [4])));
  return w;
}

type Entries = Cfg[];

/** The config with every planned layer replaced, nested models' too. */
function rewriteConfig(entries: Entries, functional: boolean, prefix: string, p: Plan): Entries {
  const out: Entries = [];
  for (const e of entries) {
    const c = e.config as Cfg;
    const name = String(c.name);
    if (Array.isArray(c.layers)) {
      const inner = e.className !== 'Sequential';
      out.push({ ...e, config: { ...c, layers: rewriteConfig(c.layers as Entries, inner, `${prefix}${name}/`, p) } });
      continue;
    }
    const chain = p.replace.get(prefix + name);
    if (!chain) { out.push(e); continue; }
    chain.forEach((l, i) => {
      const config: Cfg = { ...l.config };
      // A Sequential's first layer carries the model's input shape.
      if (i === 0 && c.batchInputShape) { config.batchInputShape = c.batchInputShape; config.dtype = c.dtype; }
      const x: Cfg = { className: l.className, config };
      if (functional) {
        x.name = config.name;
        x.inboundNodes = i === 0 ? e.inboundNodes : [[[String(chain[i - 1].config.name), 0, 0, {}]]];
      }
      out.push(x);
    });
  }
  return out;
}

function leafPaths(model: TF.LayersModel): Map<string, Layer> {
  const out = new Map<string, Layer>();
  const walk = (layers: Layer[], prefix: string) => {
    for (const l of layers) {
      if (isContainer(l)) walk((l as unknown as TF.LayersModel).layers, `${prefix}${l.name}/`);
      else if (!out.has(prefix + l.name)) out.set(prefix + l.name, l);
    }
  };
  walk(model.layers, '');
  return out;
}

/**
 * The model with its one-channel feature maps rewritten (see the file comment), and what was rewritten. When
 * nothing applies, `model` is the model given (not a copy) and `rewrites` is empty; otherwise a new model the
 * caller owns. The outputs are the same up to float rounding.
 */
export function rewriteForSpeed(model: TF.LayersModel): { model: TF.LayersModel; rewrites: Rewrite[] } {
  const p = plan(model);
  try {
    if (p.rewrites.length === 0) return { model, rewrites: [] };
    const config = model.getConfig() as unknown as { layers: Entries };
    const sequential = model.getClassName() === 'Sequential';
    config.layers = rewriteConfig(config.layers, !sequential, '', p);
    const cls = (sequential ? tf.Sequential : tf.LayersModel) as unknown as { fromConfig(cls: unknown, config: unknown): TF.LayersModel };
    let out: TF.LayersModel;
    try {
      out = quietInitializersSync(() => cls.fromConfig(cls, config));
    } catch (err) {
      throw new ModelError(`cannot rebuild model '${model.name}' with its one-channel maps rewritten: ${(err as Error).message.split('\n')[0]}`);
    }
    const old = leafPaths(model);
    for (const [path, l] of leafPaths(out)) {
      if (l.weights.length === 0) continue;
      const fresh = p.weights.get(path);
      l.setWeights(fresh ?? old.get(path)!.getWeights());
    }
    return { model: out, rewrites: p.rewrites };
  } finally {
    for (const w of p.weights.values()) tf.dispose(w);
  }
}
