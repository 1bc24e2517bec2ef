/**
 * A hand-written gradient for the commonest models users bring: a chain of Dense, Conv1D, Conv2D, DepthwiseConv2D,
 * BatchNormalization, pooling, Flatten, Activation / ReLU, Dropout and other weightless layers (MLPs, LeNet-style
 * CNNs, MobileNet-v1-style depthwise-separable CNNs, 1-D convnets).
 *
 * tfjs's autodiff (`tf.variableGrads`) dispatches ~140 native kernels for one LeNet-300-100 step, most of them
 * Identity / Reshape / Cast bookkeeping of the tape, each a round trip through the engine and the binding; on a
 * small model that dispatch, not arithmetic, is most of a fine-tuning step (docs/benchmarks.md, speed). Its ReLU
 * gradient is dy·step(x), three element-wise passes where TensorFlow has one kernel, and its bias gradient a
 * generic Sum. Here the forward and backward passes are the kernels a compiled TensorFlow graph runs — MatMul /
 * Conv2D, BiasAdd, the activation, and their own gradient kernels (Conv2DBackpropFilter / Input, ReluGrad,
 * TanhGrad, BiasAddGrad, MaxPoolGrad, …) — called directly on the native backend. The loss stays autoprune's
 * (models/task.ts `lossOf`, on the output layer's activation, under tfjs's autodiff for that last part), except for
 * a softmax output, whose loss gradient is written out (the same formula, ~20 kernels instead of ~70).
 *
 * Branches are fine where they meet in an Add, Average, Multiply or Concatenate layer (ResNet-style residual blocks):
 * the layers run in an order where each comes after those it reads, and an output read by several layers gets the sum
 * of their gradients. The gradients equal the tape's to float rounding (test/models/compiled-chain.test.ts). Models
 * that are not such a graph (shared layers, several inputs or outputs, merges that broadcast, nested models, layers with weights other than Dense / Conv1D / Conv2D / DepthwiseConv2D /
 * BatchNormalization / the recurrent layers of compiled-rnn.ts, random layers other than Dropout, regularizers, a hidden activation without a native gradient kernel,
 * channels-first, dilated or causal convolutions, a capped ReLU, dropout with a noise shape or a seed), and backends other than
 * native TensorFlow, get `undefined` from `compileChain` and train on the tape as before.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import type { TaskInfo } from './task.js';
import { SEQUENCE_HANDLERS } from './compiled-rnn.js';
import { lossOf } from './task.js';
import { kernelGrads } from '../util/kernel-grads.js';

type Layer = TF.layers.Layer;
type Config = Record<string, unknown>;

/** The raw side of tfjs-node's backend: TensorFlow ops by name (nodejs_kernel_backend.ts). */
interface NativeBackend {
  binding: { TF_ATTR_TYPE: number; TF_ATTR_BOOL: number; TF_ATTR_STRING: number; TF_ATTR_INT: number; TF_FLOAT: number };
  executeSingleOutput(name: string, attrs: object[], inputs: TF.Tensor[]): TF.Tensor;
}

function nativeBackend(): NativeBackend | undefined {
  const be = tf.backend() as unknown as Partial<NativeBackend>;
  return typeof be.executeSingleOutput === 'function' && be.binding ? (be as NativeBackend) : undefined;
}

type Activation = { op: string; grad: string; from: 'features' | 'outputs'; order: 'dy-first' | 'y-first' } | { op: string; custom: (dy: TF.Tensor, z: TF.Tensor) => TF.Tensor };

// tfjs's SELU constants (tfjs-core selu_util).
const SELU_SCALE = 1.0507009873554805;
const SELU_SCALE_ALPHA = 1.7580993408473768;

/** Hidden activations with a native forward kernel and a native gradient kernel, and how the gradient is called. */
const ACTIVATIONS: Readonly<Record<string, Activation | null>> = {
  linear: null,
  relu: { op: 'Relu', grad: 'ReluGrad', from: 'features', order: 'dy-first' },
  relu6: { op: 'Relu6', grad: 'Relu6Grad', from: 'features', order: 'dy-first' },
  elu: { op: 'Elu', grad: 'EluGrad', from: 'outputs', order: 'dy-first' },
  // TensorFlow's SeluGrad takes the positive branch at exactly 0, tfjs's gradient the negative one (and exact zeros
  // are common: a zero bias on a zero background, a pruned unit), so tfjs's formula: dy·(z > 0 ? λ : λα·eᶻ).
  selu: { op: 'Selu', custom: (dy, z) => tf.where(tf.greater(z, 0), tf.mul(dy, SELU_SCALE), tf.mul(tf.mul(dy, SELU_SCALE_ALPHA), tf.exp(z))) },
  tanh: { op: 'Tanh', grad: 'TanhGrad', from: 'outputs', order: 'y-first' },
  sigmoid: { op: 'Sigmoid', grad: 'SigmoidGrad', from: 'outputs', order: 'y-first' },
};

/** The gradient through `act` of the output gradient `dy`, given its input `z` and output `h`. */
function activationGrad(act: Activation, dy: TF.Tensor, z: TF.Tensor, h: TF.Tensor, ops: Ops): TF.Tensor {
  if ('custom' in act) return act.custom(dy, z);
  return act.order === 'y-first' ? ops.op(act.grad, [ops.T], [h, dy]) : ops.op(act.grad, [ops.T], [dy, act.from === 'features' ? z : h]);
}

/** What a layer's forward pass keeps for its backward pass (`extra`: a layer's own, e.g. a recurrent layer's steps). */
export interface Saved { x: TF.Tensor; z?: TF.Tensor; h: TF.Tensor; extra?: unknown }

export interface CompiledLayer {
  /** The layer's output (a hidden layer's after its activation; the output layer's before it: the loss applies it). */
  forward(x: TF.Tensor): Saved;
  /** Gradients of the trained variables into `grads`; the gradient of the input when `needInput`. */
  backward(dy: TF.Tensor, s: Saved, needInput: boolean, grads: Record<string, TF.Tensor>): TF.Tensor | undefined;
}

export interface Ops {
  op(name: string, attrs: object[], inputs: TF.Tensor[]): TF.Tensor;
  /** Training mode (Dropout drops) or inference mode (the model as `predict` runs it). */
  training: boolean;
  T: object;
  str(name: string, value: string): object;
  ints(name: string, value: number[]): object;
  bool(name: string, value: boolean): object;
}

interface WeightedLayer extends Layer {
  kernel: TF.LayerVariable;
  bias?: TF.LayerVariable | null;
  activation: { apply(t: TF.Tensor): TF.Tensor };
}

interface BatchNormLayer extends Layer {
  gamma: TF.LayerVariable;
  beta: TF.LayerVariable;
  movingMean: TF.LayerVariable;
  movingVariance: TF.LayerVariable;
}

const NHWC = 'NHWC';

/** A layer with a kernel, a bias and an activation: forward z = f(x, W) + b, h = act(z); backward through act, then f. */
function weighted(layer: WeightedLayer, ops: Ops, activation: string | undefined, trained: ReadonlySet<string>, kernel: {
  apply(x: TF.Tensor, w: TF.Tensor): TF.Tensor;
  gradW(x: TF.Tensor, w: TF.Tensor, dz: TF.Tensor): TF.Tensor;
  gradX(x: TF.Tensor, w: TF.Tensor, dz: TF.Tensor): TF.Tensor;
}): CompiledLayer {
  const { op, T } = ops;
  const dataFormat = ops.str('data_format', NHWC);
  const act = activation ? ACTIVATIONS[activation] : null;
  return {
    forward(x) {
      let z = kernel.apply(x, layer.kernel.read());
      if (layer.bias) z = op('BiasAdd', [T, dataFormat], [z, layer.bias.read()]);
      return { x, z, h: act ? op(act.op, [T], [z]) : z };
    },
    backward(dh, s, needInput, grads) {
      let dz = dh;
      if (act) dz = activationGrad(act, dh, s.z!, s.h, ops);
      const w = layer.kernel.read() as TF.Variable;
      if (trained.has(w.name)) grads[w.name] = kernel.gradW(s.x, w, dz);
      const b = layer.bias?.read() as TF.Variable | undefined;
      if (b && trained.has(b.name)) grads[b.name] = op('BiasAddGrad', [T, dataFormat], [dz]);
      return needInput ? kernel.gradX(s.x, w, dz) : undefined;
    },
  };
}

/** A layer that only applies an activation (Activation, ReLU). */
function activationLayer(act: Activation | null, ops: Ops): CompiledLayer {
  return {
    forward: (x) => ({ x, h: act ? ops.op(act.op, [ops.T], [x]) : x }),
    backward(dy, s, needInput) {
      if (!needInput) return undefined;
      return act ? activationGrad(act, dy, s.x, s.h, ops) : dy;
    },
  };
}

/** 'valid' / 'same' as TensorFlow spells it, or undefined for anything else. */
const paddingOf = (c: Config): string | undefined => (c.padding === 'valid' ? 'VALID' : c.padding === 'same' ? 'SAME' : undefined);
const pair = (v: unknown): [number, number] => (Array.isArray(v) ? [Number(v[0]), Number(v[1] ?? v[0])] : [Number(v), Number(v)]);

/** Why a 2-D convolution (Conv2D, DepthwiseConv2D) cannot be compiled: not NHWC, dilated, or another padding. */
function conv2dObstacle(l: Layer, c: Config, rank: number): string | undefined {
  if (rank !== 4) return `'${l.name}' reads a rank-${rank} input`;
  if (c.dataFormat === 'channelsFirst') return `'${l.name}' is channels-first`;
  if (pair(c.dilationRate ?? 1).some((d) => d !== 1)) return `'${l.name}' is dilated`;
  return paddingOf(c) ? undefined : `'${l.name}' has padding ${String(c.padding)}`;
}

/** TensorFlow's kernels of a 2-D convolution `op` (Conv2D, DepthwiseConv2dNative) and its two gradients (`op`BackpropFilter / Input). */
function conv2dKernels(ops: Ops, c: Config, op: 'Conv2D' | 'DepthwiseConv2dNative', extra: object[] = []) {
  const [sh, sw] = pair(c.strides ?? 1);
  const attrs = [ops.T, ops.ints('strides', [1, sh, sw, 1]), ops.str('padding', paddingOf(c)!), ops.str('data_format', NHWC), ...extra, ops.ints('dilations', [1, 1, 1, 1])];
  const shape = (t: TF.Tensor) => tf.tensor1d(t.shape, 'int32');
  return {
    apply: (x: TF.Tensor, w: TF.Tensor) => ops.op(op, attrs, [x, w]),
    gradW: (x: TF.Tensor, w: TF.Tensor, dz: TF.Tensor) => ops.op(`${op}BackpropFilter`, attrs, [x, shape(w), dz]),
    gradX: (x: TF.Tensor, w: TF.Tensor, dz: TF.Tensor) => ops.op(`${op}BackpropInput`, attrs, [shape(x), w, dz]),
  };
}

/** Per layer type: why it cannot be compiled (or undefined), and its compiled form. */
export interface LayerHandler {
  obstacle(layer: Layer, c: Config, inputRank: number): string | undefined;
  compile(layer: Layer, c: Config, ops: Ops, activation: string | undefined, trained: ReadonlySet<string>): CompiledLayer;
}

const HANDLERS: Readonly<Record<string, LayerHandler>> = {
  // Embedding, SimpleRNN, GRU, LSTM: models/compiled-rnn.ts.
  ...SEQUENCE_HANDLERS,
  Dense: {
    obstacle: (l, c, rank) => (rank !== 2 ? `'${l.name}' reads a rank-${rank} input` : undefined),
    compile(layer, _c, ops, activation, trained) {
      const mm = (a: boolean, b: boolean) => [ops.T, ops.bool('transpose_a', a), ops.bool('transpose_b', b)];
      const [plain, ta, tb] = [mm(false, false), mm(true, false), mm(false, true)];
      return weighted(layer as WeightedLayer, ops, activation, trained, {
        apply: (x, w) => ops.op('MatMul', plain, [x, w]),
        gradW: (x, _w, dz) => ops.op('MatMul', ta, [x, dz]),
        gradX: (_x, w, dz) => ops.op('MatMul', tb, [dz, w]),
      });
    },
  },
  Conv2D: {
    obstacle: conv2dObstacle,
    compile: (layer, c, ops, activation, trained) =>
      weighted(layer as WeightedLayer, ops, activation, trained, conv2dKernels(ops, c, 'Conv2D', [ops.bool('use_cudnn_on_gpu', true)])),
  },
  Conv1D: {
    obstacle(l, c, rank) {
      if (rank !== 3) return `'${l.name}' reads a rank-${rank} input`;
      if (c.dataFormat === 'channelsFirst') return `'${l.name}' is channels-first`;
      if (pair(c.dilationRate ?? 1)[0] !== 1) return `'${l.name}' is dilated`;
      return paddingOf(c) ? undefined : `'${l.name}' has padding ${String(c.padding)}`;
    },
    compile(layer, c, ops, activation, trained) {
      // TensorFlow has no 1-D convolution kernel either: [batch, steps, channels] is a 2-D image one row high.
      const stride = pair(c.strides ?? 1)[0];
      const attrs = [ops.T, ops.ints('strides', [1, 1, stride, 1]), ops.str('padding', paddingOf(c)!), ops.str('data_format', NHWC),
        ops.bool('use_cudnn_on_gpu', true), ops.ints('dilations', [1, 1, 1, 1])];
      const image = (x: TF.Tensor) => tf.expandDims(x, 1);
      const filter = (w: TF.Tensor) => tf.expandDims(w, 0);
      return weighted(layer as WeightedLayer, ops, activation, trained, {
        apply: (x, w) => tf.squeeze(ops.op('Conv2D', attrs, [image(x), filter(w)]), [1]),
        gradW: (x, w, dz) => tf.reshape(ops.op('Conv2DBackpropFilter', attrs, [image(x), tf.tensor1d([1, ...w.shape], 'int32'), image(dz)]), w.shape),
        gradX: (x, w, dz) => tf.squeeze(ops.op('Conv2DBackpropInput', attrs, [tf.tensor1d([x.shape[0], 1, ...x.shape.slice(1)], 'int32'), filter(w), image(dz)]), [1]),
      });
    },
  },
  DepthwiseConv2D: {
    obstacle: conv2dObstacle,
    compile(layer, c, ops, activation, trained) {
      // tfjs keeps the filter as `depthwiseKernel` ([kh, kw, channels, multiplier], TensorFlow's own layout).
      const l = layer as unknown as WeightedLayer & { depthwiseKernel: TF.LayerVariable };
      const view = { name: l.name, kernel: l.depthwiseKernel, bias: l.bias, activation: l.activation } as unknown as WeightedLayer;
      return weighted(view, ops, activation, trained, conv2dKernels(ops, c, 'DepthwiseConv2dNative'));
    },
  },
  BatchNormalization: {
    obstacle(l, c, rank) {
      const axis = Number(c.axis ?? -1);
      if (axis !== -1 && axis !== rank - 1) return `'${l.name}' normalizes axis ${axis}, not the last`;
      if (c.center === false || c.scale === false) return `'${l.name}' has no ${c.center === false ? 'offset (center: false)' : 'scale (scale: false)'}`;
      if (c.betaRegularizer || c.gammaRegularizer) return `'${l.name}' has a regularizer`;
      return rank >= 2 ? undefined : `'${l.name}' reads a rank-${rank} input`;
    },
    compile(layer, c, ops, _activation, trained) {
      // As tfjs-layers computes it. Training: the batch's mean and (biased) variance over every axis but the last,
      // x̂ = (x − μ)/√(σ² + ε), y = γx̂ + β, and the moving statistics m ← m − (m − batch)(1 − momentum); the input
      // gradient goes through μ and σ² too: dx = (1/√(σ²+ε))·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·γ.
      // Inference: the moving statistics are constants, dx = dy·γ/√(m_σ² + ε).
      const bn = layer as BatchNormLayer;
      const eps = Number(c.epsilon ?? 1e-3);
      const decay = 1 - Number(c.momentum ?? 0.99);
      const axesOf = (t: TF.Tensor) => Array.from({ length: t.rank - 1 }, (_, i) => i);
      return {
        forward(x) {
          const axes = axesOf(x);
          let mean: TF.Tensor;
          let variance: TF.Tensor;
          if (ops.training) {
            ({ mean, variance } = tf.moments(x, axes));
            for (const [v, batch] of [[bn.movingMean, mean], [bn.movingVariance, variance]] as const) {
              const old = v.read();
              v.write(tf.sub(old, tf.mul(tf.sub(old, batch), decay)));
            }
          } else {
            mean = bn.movingMean.read();
            variance = bn.movingVariance.read();
          }
          const inv = tf.rsqrt(tf.add(variance, eps));
          const xhat = tf.mul(tf.sub(x, mean), inv);
          return { x, z: xhat, h: tf.add(tf.mul(xhat, bn.gamma.read()), bn.beta.read()), extra: inv };
        },
        backward(dy, s, needInput, grads) {
          const axes = axesOf(dy);
          const xhat = s.z!;
          const gamma = bn.gamma.read() as TF.Variable;
          const beta = bn.beta.read() as TF.Variable;
          if (trained.has(gamma.name)) grads[gamma.name] = tf.sum(tf.mul(dy, xhat), axes);
          if (trained.has(beta.name)) grads[beta.name] = tf.sum(dy, axes);
          if (!needInput) return undefined;
          const dxhat = tf.mul(dy, gamma);
          const inv = s.extra as TF.Tensor;
          if (!ops.training) return tf.mul(dxhat, inv);
          return tf.mul(tf.sub(tf.sub(dxhat, tf.mean(dxhat, axes)), tf.mul(xhat, tf.mean(tf.mul(dxhat, xhat), axes))), inv);
        },
      };
    },
  },
  MaxPooling2D: {
    obstacle(l, c, rank) {
      if (rank !== 4) return `'${l.name}' reads a rank-${rank} input`;
      if (c.dataFormat === 'channelsFirst') return `'${l.name}' is channels-first`;
      return paddingOf(c) ? undefined : `'${l.name}' has padding ${String(c.padding)}`;
    },
    compile(_layer, c, ops, activation) {
      const [kh, kw] = pair(c.poolSize ?? 2);
      const [sh, sw] = pair(c.strides ?? c.poolSize ?? 2);
      const attrs = [ops.T, ops.ints('ksize', [1, kh, kw, 1]), ops.ints('strides', [1, sh, sw, 1]), ops.str('padding', paddingOf(c)!), ops.str('data_format', NHWC)];
      // `activation`: the layer below's ReLU, applied here after the pooling (compileChain).
      const act = activation ? ACTIVATIONS[activation] : null;
      return {
        forward(x) {
          const z = ops.op('MaxPool', attrs, [x]);
          return { x, z, h: act ? ops.op(act.op, [ops.T], [z]) : z };
        },
        backward: (dy, s, needInput) => (needInput ? ops.op('MaxPoolGrad', attrs, [s.x, s.z!, act ? activationGrad(act, dy, s.z!, s.h, ops) : dy]) : undefined),
      };
    },
  },
  Activation: {
    // Any activation: as the output layer the loss applies it; hidden, its native kernels or tfjs's gradient of the layer.
    obstacle: () => undefined,
    // A hidden activation without native kernels (softplus, swish, …) goes through tfjs's gradient of the layer alone.
    compile: (l, _c, ops, activation) => (activation && !(activation in ACTIVATIONS) ? weightless(l) : activationLayer(activation ? ACTIVATIONS[activation] : null, ops)),
  },
  ReLU: {
    obstacle: () => undefined,
    // Capped (ReLU6 in MobileNets): tfjs clips, and its gradient passes at exactly 0 and at the cap, where
    // TensorFlow's Relu6Grad does not (exact zeros are common in a pruned model): tfjs's gradient of the layer.
    compile: (l, c, ops) => (c.maxValue == null ? activationLayer(ACTIVATIONS.relu, ops) : weightless(l)),
  },
  Dropout: {
    // A seeded tfjs Dropout draws the same noise at every call (its seed is the random generator's); the tape keeps that.
    obstacle: (l, c) => (c.noiseShape != null ? `'${l.name}' has a noise shape` : c.seed != null ? `'${l.name}' has a seed` : undefined),
    compile(_l, c, ops) {
      const rate = ops.training ? Number(c.rate ?? 0) : 0;
      // Training-mode dropout as tfjs applies it (tf.dropout): multiplier = floor(u + keep) / keep, u uniform in [0, 1),
      // op for op; a rate outside (0, 1) leaves the input as it is (tfjs's Dropout layer does nothing then). The noise
      // is drawn from Math.random's seed, which the training loop fixes per step (util/seeded-random.ts).
      return {
        forward(x) {
          if (!(rate > 0 && rate < 1)) return { x, h: x };
          const keep = 1 - rate;
          const multiplier = tf.div(tf.floor(tf.add(tf.randomUniform(x.shape, 0, 1, 'float32'), keep)), keep);
          return { x, z: multiplier, h: tf.mul(x, multiplier) };
        },
        backward: (dy, s, needInput) => (needInput ? (s.z ? tf.mul(dy, s.z) : dy) : undefined),
      };
    },
  },
  TimeDistributed: {
    // A Dense applied at every time step (the common case): the steps are rows of one Dense, [B·T, F] → [B·T, U].
    obstacle(l, _c, rank) {
      const inner = (l as unknown as { layer?: Layer }).layer;
      if (!inner || inner.getClassName() !== 'Dense') return `'${l.name}' wraps a ${inner?.getClassName() ?? 'layer'}, not a Dense`;
      const ic = inner.getConfig() as Config;
      if (rank < 3) return `'${l.name}' reads a rank-${rank} input`;
      if (ic.kernelRegularizer || ic.biasRegularizer || ic.activityRegularizer) return `'${l.name}' has a regularizer`;
      return String(ic.activation ?? 'linear') in ACTIVATIONS ? undefined : `'${l.name}' has activation ${String(ic.activation)}`;
    },
    compile(l, _c, ops, _a, trained) {
      const inner = (l as unknown as { layer: Layer }).layer;
      const ic = inner.getConfig() as Config;
      const dense = HANDLERS.Dense.compile(inner, ic, ops, String(ic.activation ?? 'linear'), trained);
      const rows = (t: TF.Tensor) => tf.reshape(t, [-1, t.shape[t.rank - 1]]);
      return {
        forward(x) {
          const s = dense.forward(rows(x));
          return { x, h: tf.reshape(s.h, [...x.shape.slice(0, -1), s.h.shape[s.h.rank - 1]]), extra: s };
        },
        backward(dy, s, needInput, grads) {
          const dx = dense.backward(rows(dy), s.extra as Saved, needInput, grads);
          return dx ? tf.reshape(dx, s.x.shape) : undefined;
        },
      };
    },
  },
  Flatten: {
    obstacle: () => undefined,
    // Channels-first, tfjs moves the channel axis last before flattening: that goes through the layer's own gradient.
    compile: (l, c) => (c.dataFormat === 'channelsFirst' ? weightless(l) : {
      forward: (x) => ({ x, h: tf.reshape(x, [x.shape[0], -1]) }),
      backward: (dy, s, needInput) => (needInput ? tf.reshape(dy, s.x.shape) : undefined),
    }),
  },
};

const WEIGHTED = new Set(['Dense', 'Conv1D', 'Conv2D', 'DepthwiseConv2D']);

/**
 * Any other layer without weights that computes the same output every call (pooling, global pooling, padding,
 * reshaping, LeakyReLU, …): its forward pass is the layer's own, and its backward pass tfjs's gradient of that
 * layer alone (a small tape around one cheap layer, recomputing its forward pass). Random layers (dropout and noise
 * variants other than Dropout) and layers with weights are not.
 */
function weightless(layer: Layer): CompiledLayer {
  const f = (t: TF.Tensor) => layer.apply(t, { training: true }) as TF.Tensor;
  const grad = tf.grad(f);
  return {
    forward: (x) => ({ x, h: f(x) }),
    backward: (dy, s, needInput) => (needInput ? grad(s.x, dy) : undefined),
  };
}

function weightlessObstacle(layer: Layer): string | undefined {
  const kind = layer.getClassName();
  if (layer.weights.length > 0) return `a ${kind} layer ('${layer.name}')`;
  if (/Dropout|Noise/.test(kind)) return `a random ${kind} layer ('${layer.name}')`;
  if (/Sequential|Model|Functional|RNN|LSTM|GRU|Bidirectional|TimeDistributed|Embedding|Lambda|Masking/.test(kind)) return `a ${kind} layer ('${layer.name}')`;
  return undefined;
}
/** Layers whose `activation` is applied by the compiled layer when hidden, and by the loss when they are the output. */
const ACTIVATED = new Set([...WEIGHTED, 'Activation']);

/** A layer that merges several inputs (Add, Concatenate, …): forward on all of them, backward to each. */
interface CompiledMerge {
  forward(xs: TF.Tensor[]): TF.Tensor;
  backward(dy: TF.Tensor, xs: TF.Tensor[], h: TF.Tensor): TF.Tensor[];
}

interface MergeHandler {
  obstacle(layer: Layer, c: Config, shapes: (number | null)[][]): string | undefined;
  compile(layer: Layer, c: Config, shapes: (number | null)[][]): CompiledMerge;
}

const sameShapes = (l: Layer, _c: Config, shapes: (number | null)[][]): string | undefined =>
  shapes.every((s) => s.length === shapes[0].length && s.every((d, i) => d === shapes[0][i])) ? undefined : `'${l.name}' merges inputs of different shapes (broadcast)`;

/** Merge layers, by class name: the residual and multi-branch joins of ResNet- and Inception-style models. */
const MERGES: Readonly<Record<string, MergeHandler>> = {
  Add: {
    obstacle: sameShapes,
    compile: () => ({ forward: (xs) => xs.reduce((a, b) => tf.add(a, b)), backward: (dy, xs) => xs.map(() => dy) }),
  },
  Average: {
    obstacle: sameShapes,
    compile: () => ({ forward: (xs) => tf.div(xs.reduce((a, b) => tf.add(a, b)), xs.length), backward: (dy, xs) => xs.map(() => tf.div(dy, xs.length)) }),
  },
  Multiply: {
    obstacle: sameShapes,
    compile: () => ({
      forward: (xs) => xs.reduce((a, b) => tf.mul(a, b)),
      backward: (dy, xs) => xs.map((_, i) => xs.reduce((acc, x, j) => (j === i ? acc : tf.mul(acc, x)), dy)),
    }),
  },
  Concatenate: {
    obstacle: (l, c, shapes) => (shapes.every((s) => s.length === shapes[0].length) ? undefined : `'${l.name}' joins inputs of different ranks`),
    compile(_l, c, shapes) {
      const rank = shapes[0].length;
      const axis = ((Number(c.axis ?? -1) % rank) + rank) % rank;
      return {
        forward: (xs) => tf.concat(xs, axis),
        backward: (dy, xs) => tf.split(dy, xs.map((x) => x.shape[axis]), axis),
      };
    },
  },
};

/** One layer call of the model: its layer and the nodes it reads (-1: the model's input). */
interface GraphNode {
  layer: Layer;
  inputs: number[];
}

/** What stops a model from using the compiled gradient, or undefined when it can. */
export function chainObstacle(model: TF.LayersModel): string | undefined {
  if (!nativeBackend()) return 'not on the native TensorFlow backend';
  return graphOf(model).obstacle;
}

/**
 * The model's layers in an order where every layer comes after the ones it reads, the output last: a chain, or a
 * graph with branches joined by merge layers (ResNet's Add, Concatenate, …) and outputs read by several layers.
 * Every layer is called once (no shared layers), on the model's one input or other layers' outputs.
 */
function graphOf(model: TF.LayersModel): { nodes: GraphNode[]; obstacle?: string } {
  const fail = (obstacle: string) => ({ nodes: [], obstacle });
  if (model.inputs.length !== 1 || model.outputs.length !== 1) return fail('several inputs or outputs');
  const inputLayer = model.inputs[0].sourceLayer as Layer;
  const index = new Map<Layer, number>();
  const nodes: GraphNode[] = [];
  const visiting = new Set<Layer>();
  // Depth-first from the output, each layer placed after its inputs (an explicit stack: a deep model must not overflow).
  const stack: { layer: Layer; expanded: boolean }[] = [{ layer: model.outputs[0].sourceLayer as Layer, expanded: false }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1];
    const layer = top.layer;
    if (index.has(layer)) { stack.pop(); continue; }
    if (layer.inboundNodes.length !== 1) return fail(`'${layer.name}' is called more than once`);
    const inbound = layer.inboundNodes[0].inboundLayers as Layer[];
    if (top.expanded) {
      stack.pop();
      visiting.delete(layer);
      index.set(layer, nodes.length);
      nodes.push({ layer, inputs: inbound.map((l) => (l === inputLayer ? -1 : index.get(l)!)) });
      continue;
    }
    if (inbound.length === 0) return fail(`'${layer.name}' reads no layer`);
    if (inbound.length > 1 && !MERGES[layer.getClassName()]) return fail(`'${layer.name}' (${layer.getClassName()}) reads several inputs`);
    top.expanded = true;
    visiting.add(layer);
    for (const l of inbound) {
      if (l === inputLayer || index.has(l)) continue;
      if (visiting.has(l)) return fail(`'${l.name}' is in a cycle`);
      if (l.getClassName() === 'InputLayer') return fail(`'${l.name}' is a second input`);
      stack.push({ layer: l, expanded: false });
    }
  }
  if (model.layers.filter((l) => l.getClassName() !== 'InputLayer').length !== nodes.length) return fail('layers that do not lead to the output');
  const out = nodes.length - 1;
  for (const [i, { layer: l }] of nodes.entries()) {
    const kind = l.getClassName();
    const c = l.getConfig() as Config;
    if (c.kernelRegularizer || c.biasRegularizer || c.activityRegularizer || c.depthwiseRegularizer) return fail(`'${l.name}' has a regularizer`);
    const shapes = l.inboundNodes[0].inputShapes as (number | null)[] | (number | null)[][];
    const merge = MERGES[kind];
    let why: string | undefined;
    if (merge) why = merge.obstacle(l, c, shapes as (number | null)[][]);
    else {
      const handler = HANDLERS[kind];
      const rank = (Array.isArray(shapes[0]) ? shapes[0] : shapes).length;
      why = handler ? handler.obstacle(l, c, rank) : weightlessObstacle(l);
    }
    if (why) return fail(why);
    if (WEIGHTED.has(kind) && i !== out && !(String(c.activation ?? 'linear') in ACTIVATIONS)) return fail(`'${l.name}' has activation ${String(c.activation)}`);
    if (i === out && !ACTIVATED.has(kind)) return fail(`the output layer is a ${kind}`);
  }
  return { nodes };
}

export interface CompiledGradient {
  /** Native kernels called directly so far (tf.profile does not see them; the speed benchmark adds them to its count). */
  readonly rawKernels: number;
  /**
   * The mean loss over the batch and its gradient for each trained variable (by variable name), as tf.variableGrads
   * gives. Call it inside tf.tidy (as the training loop does): its intermediates belong to the caller's scope. (A
   * tf.tidy of its own around the body corrupted the native heap in long runs — glibc aborted a benchmark with
   * "corrupted size vs. prev_size" three times in three, and never without it; not understood, so not done.)
   */
  valueAndGrads(x: TF.Tensor, y: TF.Tensor): { value: TF.Scalar; grads: Record<string, TF.Tensor> };
}

/**
 * The compiled gradient of `model`'s loss for `task` with respect to `vars` (the trained variables), or undefined
 * when the model is not such a chain on the native backend (then use tf.variableGrads).
 */
export function compileChain(model: TF.LayersModel, task: TaskInfo, vars: readonly TF.Variable[], opts: { training?: boolean } = {}): CompiledGradient | undefined {
  const be = nativeBackend();
  if (!be) return undefined;
  const { nodes, obstacle } = graphOf(model);
  if (obstacle) return undefined;
  const b = be.binding;
  let rawKernels = 0;
  const ops: Ops = {
    op: (name, attrs, inputs) => {
      rawKernels++;
      return be.executeSingleOutput(name, attrs, inputs);
    },
    T: { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    str: (name, value) => ({ name, type: b.TF_ATTR_STRING, value }),
    ints: (name, value) => ({ name, type: b.TF_ATTR_INT, value }),
    bool: (name, value) => ({ name, type: b.TF_ATTR_BOOL, value }),
    training: opts.training ?? true,
  };
  const trained = new Set(vars.map((v) => v.name));
  const out = nodes.length - 1;
  const readers = nodes.map(() => [] as number[]);
  nodes.forEach((n, j) => n.inputs.forEach((i) => { if (i >= 0) readers[i].push(j); }));
  // relu(maxpool(z)) = maxpool(relu(z)), and the gradient reaches the same weights (an argmax of relu(z) that is not
  // one of z's is a tie at 0, whose gradient the ReLU stops either way): a ReLU read only by a max pooling runs after
  // it, on a quarter of the elements (2×2 pools), forward and backward.
  const deferredRelu = (i: number) => i < out && WEIGHTED.has(nodes[i].layer.getClassName()) && (nodes[i].layer.getConfig() as Config).activation === 'relu' &&
    readers[i].length === 1 && nodes[readers[i][0]].layer.getClassName() === 'MaxPooling2D';
  const compiled = nodes.map(({ layer: l, inputs }, i): { single: CompiledLayer } | { merge: CompiledMerge } => {
    const c = l.getConfig() as Config;
    const merge = MERGES[l.getClassName()];
    if (merge) return { merge: merge.compile(l, c, l.inboundNodes[0].inputShapes as (number | null)[][]) };
    const hidden = deferredRelu(i) ? undefined
      : l.getClassName() === 'MaxPooling2D' && inputs[0] >= 0 && deferredRelu(inputs[0]) ? 'relu'
      : i < out && ACTIVATED.has(l.getClassName()) ? String(c.activation ?? 'linear') : undefined;
    const handler = HANDLERS[l.getClassName()];
    return { single: handler ? handler.compile(l, c, ops, hidden, trained) : weightless(l) };
  });
  const output = nodes[out].layer as Layer & { activation: WeightedLayer['activation'] };
  const outputActivation = String((output.getConfig() as Config).activation ?? 'linear');
  const lossGrad = outputActivation === 'softmax' && task.output === 'softmax'
    ? softmaxLossGrad
    : (z: TF.Tensor, y: TF.Tensor) => tf.valueAndGrad((t: TF.Tensor) => lossOf(output.activation.apply(t), y, task))(z);
  // A layer needs its input's gradient only where a layer below it trains something (any weight asked for, frozen or
  // not: the features want a frozen kernel's gradient too).
  const trains = nodes.map(({ layer }) => layer.weights.some((w) => trained.has((w.read() as TF.Variable).name)));
  const below: boolean[] = [];
  for (const [i, n] of nodes.entries()) below[i] = n.inputs.some((j) => j >= 0 && (trains[j] || below[j]));

  const inputShape = model.inputs[0].shape.slice(1);
  return {
    get rawKernels() {
      return rawKernels;
    },
    valueAndGrads(x, y) {
      // A raw TensorFlow kernel given a wrong shape aborts the process (a failed CHECK), where tfjs would throw.
      if (x.rank !== inputShape.length + 1 || inputShape.some((d, i) => d != null && d !== x.shape[i + 1])) {
        throw new Error(`compiled gradient: input of shape [${x.shape.join(', ')}] for a model that reads [null, ${inputShape.join(', ')}]`);
      }
      const x0 = x.dtype === 'float32' ? x : tf.cast(x, 'float32');
      const outs: TF.Tensor[] = [];
      const saved: (Saved | TF.Tensor[])[] = [];
      for (const [i, n] of nodes.entries()) {
        const xs = n.inputs.map((j) => (j < 0 ? x0 : outs[j]));
        const c = compiled[i];
        if ('merge' in c) {
          saved.push(xs);
          outs.push(c.merge.forward(xs));
        } else {
          const s = c.single.forward(xs[0]);
          saved.push(s);
          outs.push(s.h);
        }
      }
      const { value, grad } = lossGrad(outs[out], y);
      const grads: Record<string, TF.Tensor> = {};
      // Each node's output gradient, summed over the layers that read it.
      const dys: (TF.Tensor | undefined)[] = new Array(nodes.length);
      dys[out] = grad;
      const give = (j: number, d: TF.Tensor | undefined) => {
        if (j < 0 || !d) return;
        dys[j] = dys[j] ? tf.add(dys[j]!, d) : d;
      };
      for (let i = out; i >= 0; i--) {
        const dy = dys[i];
        if (!dy) continue;
        const c = compiled[i];
        const n = nodes[i];
        if ('merge' in c) {
          if (!below[i]) continue;
          const dxs = c.merge.backward(dy, saved[i] as TF.Tensor[], outs[i]);
          n.inputs.forEach((j, k) => give(j, dxs[k]));
        } else {
          give(n.inputs[0], c.single.backward(dy, saved[i] as Saved, below[i], grads));
        }
      }
      return { value, grads };
    },
  };
}

/**
 * lossOf's softmax loss and its gradient with respect to the logits, written out: with p = softmax(z),
 * L = −mean over rows of Σ_c [y log(p + ε) + (1 − y) log(1 − p + ε)] (tf.losses.logLoss summed over the classes),
 * ∂L/∂p = [(1 − y)/(1 − p + ε) − y/(p + ε)] / rows, and ∂L/∂z = p ⊙ (∂L/∂p − Σ_c ∂L/∂p ⊙ p).
 */
function softmaxLossGrad(z: TF.Tensor, y: TF.Tensor): { value: TF.Scalar; grad: TF.Tensor } {
  const EPS = 1e-7;
  const p = tf.softmax(z);
  const notY = tf.sub(1, y);
  const a = tf.add(p, EPS);
  const c = tf.add(tf.sub(1, p), EPS);
  const value = tf.neg(tf.mean(tf.sum(tf.add(tf.mul(y, tf.log(a)), tf.mul(notY, tf.log(c))), -1))) as TF.Scalar;
  // lossOf averages over every axis but the classes: rows = all elements / classes.
  const dp = tf.div(tf.sub(tf.div(notY, c), tf.div(y, a)), z.size / z.shape[z.rank - 1]);
  const grad = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
  return { value, grad };
}

/**
 * The gradient of `model`'s loss for `task` with respect to `kernels` (frozen ones included), the model in inference
 * mode as `predict` runs it: what the features, the criteria and unit scoring read on calibration batches. The
 * compiled gradient where the model is such a chain (a quarter of the kernels on a recurrent model), else the tape
 * (util/kernel-grads.ts). Call the returned function inside tf.tidy.
 */
export function kernelGradient(model: TF.LayersModel, task: TaskInfo, kernels: readonly TF.Variable[]): (x: TF.Tensor, y: TF.Tensor) => TF.NamedTensorMap {
  const compiled = compileChain(model, task, kernels, { training: false });
  if (compiled) return (x, y) => compiled.valueAndGrads(x, y).grads;
  return (x, y) => kernelGrads(() => lossOf(model.apply(x, { training: false }) as TF.Tensor, y, task), kernels).grads;
}
