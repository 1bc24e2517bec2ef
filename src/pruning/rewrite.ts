/**
 * Exact rewrites of a model for serving on TensorFlow's CPU kernels (docs/compaction.md, "Serving rewrites"):
 * the same outputs (up to float rounding) with fewer or cheaper ops.
 *
 * **Folding.** A BatchNormalization right after a Dense, Conv1D, Conv2D, DepthwiseConv2D or Conv2DTranspose with a linear activation
 * (the only reader of its output) is folded into that layer's kernel and bias (w·γ/√(σ²+ε) per output channel,
 * (b − μ)·γ/√(σ²+ε) + β), and a ReLU / Activation layer right after it becomes the layer's own activation, so one
 * fused op does what three did (MobileNet's conv → BN → ReLU). tfjs runs an inference batch norm as separate
 * broadcast ops that cost per position: MobileNet-style models ran 1.2–3.6× faster folded (docs/compaction.md).
 *
 * **One-channel feature maps.**
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
 * - **one-channel pool**: any other MaxPooling2D (pool = strides, valid) of one channel over at least 12×12 positions
 *   becomes Reshape → Permute → the 1-D max pool of the window's p·q values → Reshape.
 * Both pay per call only at large batches (the few extra ops cost what they save at 32 samples a call and more below):
 * they are made when the model is to be served at ≥ 128 samples per call (`RewriteOptions.batch`; docs/compaction.md).
 *
 * Only standard tfjs layers are used, so the rewritten model loads anywhere the original does. Layers keep
 * their names where they keep their role: the phase convolution has the convolution's name, the final Reshape
 * the pool's (so every layer that read the pool reads it still); the layers in between are named after the pool.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { ModelError, UsageError } from '../errors.js';
import { isContainer, layerPaths } from './layer-kinds.js';
import { quietInitializersSync } from '../util/quiet-initializers.js';

type Layer = TF.layers.Layer;

/** One rewrite made, with the multiply-accumulates per sample of the layers it replaced and of their replacement. */
export interface Rewrite {
  kind: 'fold-batchnorm' | 'fuse-activation' | 'phase-conv' | 'one-channel-pool';
  /** Paths of the layers replaced ('backbone/conv1'). */
  layers: string[];
  macsBefore: number;
  macsAfter: number;
}

/** One line for a person: what was rewritten and what it costs. */
export function describeRewrite(w: Rewrite): string {
  if (w.kind === 'fold-batchnorm' || w.kind === 'fuse-activation') {
    const [layer, ...gone] = w.layers;
    const into = w.kind === 'fuse-activation' ? 'its activation' : gone.length > 1 ? 'its kernel, bias and activation' : 'its kernel and bias';
    return `${gone.map((g) => `'${g}'`).join(' and ')} folded into '${layer}' (${into}): same outputs, ${gone.length} op${gone.length > 1 ? 's' : ''} fewer per call`;
  }
  return w.kind === 'phase-conv'
    ? `'${w.layers[0]}' (one filter) and its 2×2 max pool '${w.layers[1]}' rewritten as one stride-2 convolution of 4 filters and a max over them: ` +
      `same outputs, fewer positions (faster on TensorFlow's CPU kernels at large batches), ${w.macsBefore.toLocaleString('en')} → ${w.macsAfter.toLocaleString('en')} MACs per sample`
    : `'${w.layers[0]}' (a max pool of one channel) rewritten as a transpose and a 1-D pool: same outputs, faster on TensorFlow's CPU kernels at large batches`;
}

/** Activations f with max(f(a), f(b)) = f(max(a, b)): a max pool of them is the activation of a max pool. */
const NON_DECREASING = new Set(['linear', 'relu', 'relu6', 'elu', 'selu', 'sigmoid', 'hardSigmoid', 'tanh', 'softplus', 'softsign', 'exponential']);
/**
 * A one-channel max pool is rewritten from this many input positions (measured: 24×24 1.6–1.8×, 12×12 1.1–1.3×, 8×8
 * 0.8–0.9× the speed). Average pools are not: one channel is not a slow path for them (a new-user trial measured
 * the rewrite 1.4–1.9× slower).
 */
const MIN_POOL_POSITIONS = 144;
/** The phase convolution from this many convolution output positions (LeNet-5's 24×24: 2.1×; a trial measured 10×10 slower). */
const MIN_PHASE_POSITIONS = 400;

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
  if (p.getClassName() !== 'MaxPooling2D' || !isChannelsLast(p) || p.inboundNodes.length !== 1) return false;
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
  const [, h, w] = shape(conv, 'out');
  if (h == null || w == null || h * w < MIN_PHASE_POSITIONS) return undefined;
  return pc.padding === 'valid' && same(pc.poolSize, 2) && same(pc.strides ?? pc.poolSize, 2) ? pool : undefined;
}

/** A layer as a config entry: its class name and config (what tfjs itself serialises for it). */
interface Item {
  className: string;
  config: Cfg;
}
const item = (l: Layer): Item => ({ className: l.getClassName(), config: l.getConfig() as Cfg });

/** The layers after a 4-D map [H', W', K] (K window values per position, one channel): the K-way pool, back to [H', W', 1]. */
function reduceWindow(name: string, ho: number, wo: number, k: number, positionsFirst: boolean, fresh: (base: string) => string): Item[] {
  const L = tf.layers;
  const out: Layer[] = [];
  // [positions, K] → [K, positions]; or already [K, positions] (the pool rewrite's permute puts the window first).
  if (positionsFirst) {
    out.push(L.reshape({ targetShape: [ho * wo, k], name: fresh(`${name}_positions`) }));
    out.push(L.permute({ dims: [2, 1], name: fresh(`${name}_window_first`) }));
  }
  out.push(L.maxPooling1d({ poolSize: k, strides: k, padding: 'valid', name: fresh(`${name}_window`) }));
  out.push(L.reshape({ targetShape: [ho, wo, 1], name }));
  return out.map(item);
}

/** Every layer name of a model, nested models' included. */
function allNames(model: TF.LayersModel): Set<string> {
  const names = new Set<string>();
  const walk = (layers: Layer[]) => {
    for (const l of layers) {
      names.add(l.name);
      if (isContainer(l)) walk((l as unknown as TF.LayersModel).layers);
    }
  };
  walk(model.layers);
  return names;
}

interface Plan {
  rewrites: Rewrite[];
  /** Path of a replaced layer → the layers replacing it (the first takes its inputs, the last its name). */
  replace: Map<string, Item[]>;
  /** Path of a phase convolution → its new weights. */
  weights: Map<string, TF.Tensor[]>;
}

function plan(model: TF.LayersModel): Plan {
  const p: Plan = { rewrites: [], replace: new Map(), weights: new Map() };
  const taken = new Set<Layer>();
  // New layers' names must not clash with a user's (tfjs refuses a model with a name twice).
  const used = allNames(model);
  const fresh = (base: string) => {
    let name = base;
    for (let k = 2; used.has(name); k++) name = `${base}_${k}`;
    used.add(name);
    return name;
  };
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
      p.replace.set(prefix + pool.name, reduceWindow(pool.name, ho, wo, 4, true, fresh));
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
      if (h % ph || w % pw) chain.push(L.cropping2D({ cropping: [[0, h % ph], [0, w % pw]], name: fresh(`${l.name}_crop`) }));
      chain.push(L.reshape({ targetShape: [ho, ph, wo, pw], name: fresh(`${l.name}_split`) }));
      chain.push(L.permute({ dims: [2, 4, 1, 3], name: fresh(`${l.name}_window_first`) }));
      chain.push(L.reshape({ targetShape: [ph * pw, ho * wo], name: fresh(`${l.name}_positions`) }));
      p.replace.set(prefix + l.name, [...chain.map(item), ...reduceWindow(l.name, ho, wo, ph * pw, false, fresh)]);
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

/**
 * Layers whose output channels a per-channel scale folds into: the kernel's last axis (depthwise: last two, flattened),
 * or a Conv2DTranspose's third ([kh, kw, filters, inputs]).
 */
const FOLD_INTO = new Set(['Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv2D', 'Conv2DTranspose']);

/** The activation a standalone activation layer applies, when a layer's own `activation` can say it. */
function activationOf(l: Layer): string | undefined {
  const c = cfg(l);
  if (l.getClassName() === 'Activation') return String(c.activation);
  if (l.getClassName() === 'ReLU') return c.maxValue == null ? 'relu' : c.maxValue === 6 ? 'relu6' : undefined;
  return undefined;
}

/** A layer the fold may remove: called once and none of its container's outputs (every reader then reads the producer). */
function removable(l: Layer, outputs: Set<Layer>): boolean {
  return l.inboundNodes.length === 1 && l.outboundNodes.length >= 1 && !outputs.has(l);
}

interface Fold {
  /** Path of a removed layer → the name of the layer whose output replaces it (in the same container). */
  removed: Map<string, string>;
  /** Path of a layer folded into → its config changes. */
  edits: Map<string, Cfg>;
  weights: Map<string, TF.Tensor[]>;
  rewrites: Rewrite[];
}

/** How many of the model's batch norms `autoprune compact` folds into the layer before them (right after a linear conv or Dense layer). */
export function foldableBatchNorms(model: TF.LayersModel): number {
  const f = planFold(model);
  for (const ws of f.weights.values()) tf.dispose(ws);
  return f.rewrites.filter((w) => w.kind === 'fold-batchnorm').length;
}

/**
 * How many one-channel maps of the model the serving rewrites would rewrite at a serving batch of ONE_CHANNEL_MIN_BATCH
 * or more (a one-filter convolution and its 2×2 max pool, a one-channel pool): what `compact --serving-batch 256` adds.
 */
export function oneChannelRewrites(model: TF.LayersModel): number {
  const p = plan(model);
  for (const ws of p.weights.values()) tf.dispose(ws);
  return p.rewrites.length;
}

function planFold(model: TF.LayersModel): Fold {
  const f: Fold = { removed: new Map(), edits: new Map(), weights: new Map(), rewrites: [] };
  const walk = (container: TF.LayersModel, prefix: string) => {
    const outputs = new Set(container.outputLayers as Layer[]);
    for (const l of container.layers) {
      if (isContainer(l)) { walk(l as unknown as TF.LayersModel, `${prefix}${l.name}/`); continue; }
      if (!FOLD_INTO.has(l.getClassName()) || (cfg(l).activation ?? 'linear') !== 'linear' || l.inboundNodes.length !== 1) continue;
      if (l.getClassName() !== 'Dense' && !isChannelsLast(l)) continue;
      let next = soleReader(l);
      let bn: Layer | undefined;
      if (next?.getClassName() === 'BatchNormalization' && removable(next, outputs)) {
        const axis = Number(cfg(next).axis ?? -1);
        const rank = shape(next, 'in').length;
        if (axis === -1 || axis === rank - 1) {
          bn = next;
          next = soleReader(next);
        }
      }
      // (after a batch norm, `next` is its sole reader: the norm itself is read by nothing else)
      const act = next && removable(next, outputs) ? activationOf(next) : undefined;
      if (!bn && !act) continue;
      const gone = [bn, act ? next : undefined].filter((x): x is Layer => x != null);
      for (const g of gone) f.removed.set(prefix + g.name, l.name);
      const edit: Cfg = {};
      if (act) edit.activation = act;
      if (bn) {
        edit.useBias = true;
        f.weights.set(prefix + l.name, foldedWeights(l, bn));
      }
      f.edits.set(prefix + l.name, edit);
      f.rewrites.push({ kind: bn ? 'fold-batchnorm' : 'fuse-activation', layers: [prefix + l.name, ...gone.map((g) => prefix + g.name)], macsBefore: 0, macsAfter: 0 });
    }
  };
  walk(model, '');
  return f;
}

/** The kernel and bias of `l` with batch norm `bn` folded in (per output channel: the kernel's last axis, flattened with the one before for a depthwise conv). */
function foldedWeights(l: Layer, bn: Layer): TF.Tensor[] {
  const c = cfg(bn);
  const eps = Number(c.epsilon ?? 1e-3);
  const w = bn.getWeights().map((t) => t.dataSync());
  let k = 0;
  const gamma = c.scale === false ? undefined : w[k++];
  const beta = c.center === false ? undefined : w[k++];
  const [mean, variance] = [w[k], w[k + 1]];
  const [kernel, bias] = l.getWeights();
  const kv = kernel.dataSync();
  const C = mean.length;
  const scale = Float32Array.from({ length: C }, (_, j) => (gamma ? gamma[j] : 1) / Math.sqrt(variance[j] + eps));
  const out = new Float32Array(kv.length);
  // A transposed conv's output channel is its kernel's third axis: index i is (… · C + channel) · inputs + input.
  const inputs = l.getClassName() === 'Conv2DTranspose' ? kernel.shape[kernel.shape.length - 1] : 1;
  for (let i = 0; i < kv.length; i++) out[i] = kv[i] * scale[Math.floor(i / inputs) % C];
  const b = bias?.dataSync();
  const newBias = Float32Array.from({ length: C }, (_, j) => ((b ? b[j] : 0) - mean[j]) * scale[j] + (beta ? beta[j] : 0));
  return [tf.tensor(out, kernel.shape, 'float32'), tf.tensor1d(newBias)];
}

/** The config with the fold's layers removed (their readers read the layer folded into) and its edits made, nested models' too. */
function foldConfig(entries: Entries, functional: boolean, prefix: string, f: Fold): Entries {
  const rename = new Map<string, string>();
  for (const e of entries) {
    const name = String((e.config as Cfg).name);
    const to = f.removed.get(prefix + name);
    if (to != null) rename.set(name, to);
  }
  const out: Entries = [];
  for (const e of entries) {
    const c = e.config as Cfg;
    const name = String(c.name);
    if (f.removed.has(prefix + name)) continue;
    let x: Cfg = e;
    if (Array.isArray(c.layers)) {
      x = { ...e, config: { ...c, layers: foldConfig(c.layers as Entries, e.className !== 'Sequential', `${prefix}${name}/`, f) } };
    }
    const edit = f.edits.get(prefix + name);
    if (edit) x = { ...x, config: { ...(x.config as Cfg), ...edit } };
    if (functional && rename.size && Array.isArray(x.inboundNodes)) {
      // A removed layer's readers read the layer folded into (a chain of removed layers ends at that layer).
      x = { ...x, inboundNodes: (x.inboundNodes as unknown[][][]).map((node) => node.map((ref) => [rename.get(String(ref[0])) ?? ref[0], ...ref.slice(1)])) };
    }
    out.push(x);
  }
  return out;
}

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

/** Rebuilds `model` from `config` (its class kept) and gives every layer its weights: `fresh` by path, else the old layer's. */
function rebuild(model: TF.LayersModel, config: unknown, fresh: Map<string, TF.Tensor[]>, what: string): TF.LayersModel {
  const cls = (model.getClassName() === 'Sequential' ? tf.Sequential : tf.LayersModel) as unknown as { fromConfig(cls: unknown, config: unknown): TF.LayersModel };
  let out: TF.LayersModel;
  try {
    out = quietInitializersSync(() => cls.fromConfig(cls, config));
  } catch (err) {
    throw new ModelError(`cannot rebuild model '${model.name}' with ${what}: ${(err as Error).message.split('\n')[0]}`);
  }
  const old = new Map([...layerPaths(model)].map(([l, path]) => [path, l]));
  for (const [l, path] of layerPaths(out)) {
    if (l.weights.length === 0) continue;
    l.setWeights(fresh.get(path) ?? old.get(path)!.getWeights());
  }
  return out;
}

/** One pass: `model` rebuilt from its config as `edit` changes it, with `fresh` weights by path (disposed here); `model` itself when nothing is to be rewritten. */
function applyPass(
  model: TF.LayersModel, rewrites: Rewrite[], fresh: Map<string, TF.Tensor[]>, what: string,
  edit: (entries: Entries, functional: boolean) => Entries,
): { model: TF.LayersModel; rewrites: Rewrite[] } {
  try {
    if (rewrites.length === 0) return { model, rewrites };
    const config = model.getConfig() as unknown as { layers: Entries };
    config.layers = edit(config.layers, model.getClassName() !== 'Sequential');
    return { model: rebuild(model, config, fresh, what), rewrites };
  } finally {
    for (const w of fresh.values()) tf.dispose(w);
  }
}

const foldPass = (model: TF.LayersModel) => {
  const f = planFold(model);
  return applyPass(model, f.rewrites, f.weights, 'its batch norms folded', (entries, functional) => foldConfig(entries, functional, '', f));
};

const oneChannelPass = (model: TF.LayersModel) => {
  const p = plan(model);
  return applyPass(model, p.rewrites, p.weights, 'its one-channel maps rewritten', (entries, functional) => rewriteConfig(entries, functional, '', p));
};

export interface RewriteOptions {
  /**
   * Samples per `predict` call the model will be served with. The one-channel rewrites add a few small ops per call
   * and pay only from ONE_CHANNEL_MIN_BATCH samples (measured on LeNet-5's compact shape: 0.84–0.88× the speed at
   * batch 1–8, even at 32–64, 1.14–1.47× at 128–256; `node scripts/rewrite-batches.mjs`); folding pays at every batch.
   * Default 32, tfjs `predict`'s own batch size.
   */
  batch?: number;
}

export const SERVING_BATCH_DEFAULT = 32;
/** The one-channel rewrites from this serving batch on. */
export const ONE_CHANNEL_MIN_BATCH = 128;

/**
 * The model with its batch norms and activation layers folded and, when served at large batches, its one-channel
 * feature maps rewritten (see the file comment), and what was rewritten. When nothing applies, `model` is the model given (not a copy) and
 * `rewrites` is empty; otherwise a new model the caller owns. The outputs are the same up to float rounding.
 */
export function rewriteForSpeed(model: TF.LayersModel, opts: RewriteOptions = {}): { model: TF.LayersModel; rewrites: Rewrite[] } {
  const batch = opts.batch ?? SERVING_BATCH_DEFAULT;
  if (!(Number.isInteger(batch) && batch >= 1)) throw new UsageError(`the serving batch must be a whole number ≥ 1, got ${batch}`);
  const folded = foldPass(model);
  if (batch < ONE_CHANNEL_MIN_BATCH) return folded;
  let second: { model: TF.LayersModel; rewrites: Rewrite[] };
  try {
    second = oneChannelPass(folded.model);
  } catch (err) {
    if (folded.model !== model) folded.model.dispose();
    throw err;
  }
  // The folded model is only a step when the second pass rebuilt it again.
  if (second.model !== folded.model && folded.model !== model) folded.model.dispose();
  return { model: second.model, rewrites: [...folded.rewrites, ...second.rewrites] };
}
