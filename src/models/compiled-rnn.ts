/**
 * The compiled gradient (models/compiled-chain.ts) for text and sequence models: Embedding, SimpleRNN, GRU and LSTM.
 *
 * tfjs runs a recurrent layer as a JavaScript loop over the time steps, each a dozen tfjs ops, and its autodiff adds
 * about three times as many in the backward pass, most of them Identity / Reshape / Cast bookkeeping: one training
 * step of a 64-unit GRU over 49 steps dispatches ~7,900 native kernels (docs/benchmarks.md, speed), and at tens of
 * microseconds each that dispatch, not arithmetic, is the step. Here the forward pass computes the input projection
 * of every time step in one MatMul (x·W + b for all steps at once) and runs only the recurrent part per step; the
 * backward pass is backpropagation through time written out (the gate derivatives, TanhGrad / SigmoidGrad kernels),
 * and the kernel gradients are one MatMul each over all steps (Σₜ xₜᵀ·δₜ as one product of the stacked rows) — about
 * a quarter of the kernels. The arithmetic is tfjs's own cell (tfjs-layers recurrent.ts, "implementation 2"):
 *   SimpleRNN  h = act(x·W + b + h₋·R)
 *   GRU        [z r] = σ(x·W_zr + b_zr + h₋·R_zr),  ĥ = tanh(x·W_h + b_h + (r ⊙ h₋)·R_h),  h = z ⊙ h₋ + (1 − z) ⊙ ĥ
 *   LSTM       [i f c̃ o] = x·W + h₋·R + b,  c = σ(f) ⊙ c₋ + σ(i) ⊙ tanh(c̃),  h = σ(o) ⊙ tanh(c)
 * with σ the layer's recurrent activation (tfjs's default hard sigmoid clip(0.2x + 0.5, 0, 1), or the sigmoid) and a
 * zero initial state; reversed time (goBackwards) and Bidirectional pairs (merged by concatenation or sum) as tfjs
 * runs them. The gradients equal the tape's to float rounding (test/models/compiled-chain.test.ts). Layers with
 * dropout, masking, a state carried between calls, returned states, a reset-after GRU, regularizers, or other
 * activations are an obstacle: such models train on the tape as before.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import type { CompiledLayer, LayerHandler, Ops, Saved } from './compiled-chain.js';

type Layer = TF.layers.Layer;
type Config = Record<string, unknown>;

interface RecurrentCell {
  units: number;
  kernel: TF.LayerVariable;
  recurrentKernel: TF.LayerVariable;
  bias?: TF.LayerVariable | null;
}

/** A gate activation: its output, and what its gradient needs from the forward pass. */
interface GateOut { y: TF.Tensor; d?: TF.Tensor }
interface Gate {
  forward(pre: TF.Tensor): GateOut;
  grad(dy: TF.Tensor, g: GateOut): TF.Tensor;
}

function gateOf(kind: string, ops: Ops): Gate | undefined {
  if (kind === 'sigmoid') {
    return {
      forward: (pre) => ({ y: ops.op('Sigmoid', [ops.T], [pre]) }),
      grad: (dy, g) => ops.op('SigmoidGrad', [ops.T], [g.y, dy]),
    };
  }
  if (kind === 'hardSigmoid') {
    // tfjs: clip(0.5 + 0.2x, 0, 1); the tape's gradient passes where 0 ≤ 0.5 + 0.2x ≤ 1 (both ends included), times 0.2.
    return {
      forward(pre) {
        const lin = tf.add(0.5, tf.mul(0.2, pre));
        const y = tf.clipByValue(lin, 0, 1);
        return { y, d: tf.mul(tf.cast(tf.equal(lin, y), 'float32'), 0.2) };
      },
      grad: (dy, g) => tf.mul(dy, g.d!),
    };
  }
  return undefined;
}

/** The state activation (tanh, or relu for a SimpleRNN): forward and gradient from its output. */
interface Act { forward(pre: TF.Tensor): TF.Tensor; grad(dy: TF.Tensor, y: TF.Tensor): TF.Tensor }
function actOf(kind: string, ops: Ops): Act | undefined {
  if (kind === 'tanh') return { forward: (p) => ops.op('Tanh', [ops.T], [p]), grad: (dy, y) => ops.op('TanhGrad', [ops.T], [y, dy]) };
  // ReluGrad(dy, y) is dy·(y > 0) = dy·(pre > 0): the tape's step(pre) with step(0) = 0.
  if (kind === 'relu') return { forward: (p) => ops.op('Relu', [ops.T], [p]), grad: (dy, y) => ops.op('ReluGrad', [ops.T], [dy, y]) };
  if (kind === 'linear') return { forward: (p) => p, grad: (dy) => dy };
  return undefined;
}

/** One step of a cell: the new state and what its backward pass needs. */
interface Stepped<S> { state: S; saved: Record<string, TF.Tensor | GateOut> }
/** One step backward: the gradient of the previous state (undefined at the first step), of the step's input projection, and the (input, gradient) pairs of each recurrent product. */
interface SteppedBack<D> { prev?: D; dxw: TF.Tensor; pairs: [TF.Tensor, TF.Tensor][] }

interface CellKind<S, D> {
  /** Columns of W, R and b per unit (SimpleRNN 1, GRU 3, LSTM 4). */
  gates: number;
  init(batch: number): S;
  /** The layer's output at a step: the state (SimpleRNN, GRU) or its h (LSTM). */
  output(s: S): TF.Tensor;
  /** The recurrent kernel split into the parts its per-step products use (GRU: R_zr and R_h). */
  parts(r: TF.Tensor): TF.Tensor[];
  step(xw: TF.Tensor, s: S, parts: TF.Tensor[]): Stepped<S>;
  /** The state gradient that the layer's output gradient `dh` is, at the last step. */
  fromOutput(dh: TF.Tensor): D;
  /** Adds the output gradient of an earlier step (returnSequences) to the state gradient. */
  addOutput(d: D, dh: TF.Tensor): D;
  back(d: D, saved: Stepped<S>['saved'], parts: TF.Tensor[], first: boolean): SteppedBack<D>;
}

const tr = (ops: Ops, a: boolean, b: boolean) => [ops.T, ops.bool('transpose_a', a), ops.bool('transpose_b', b)];

function simpleCell(units: number, act: Act, ops: Ops): CellKind<TF.Tensor, TF.Tensor> {
  const [mm, mmT] = [tr(ops, false, false), tr(ops, false, true)];
  return {
    gates: 1,
    init: (b) => tf.zeros([b, units]),
    output: (h) => h,
    parts: (r) => [r],
    step(xw, h, [r]) {
      const y = act.forward(tf.add(xw, ops.op('MatMul', mm, [h, r])));
      return { state: y, saved: { h, y } };
    },
    fromOutput: (dh) => dh,
    addOutput: (d, dh) => tf.add(d, dh),
    back(dh, s, [r], first) {
      const dpre = act.grad(dh, s.y as TF.Tensor);
      return { prev: first ? undefined : ops.op('MatMul', mmT, [dpre, r]), dxw: dpre, pairs: [[s.h as TF.Tensor, dpre]] };
    },
  };
}

function gruCell(units: number, gate: Gate, act: Act, ops: Ops): CellKind<TF.Tensor, TF.Tensor> {
  const [mm, mmT] = [tr(ops, false, false), tr(ops, false, true)];
  return {
    gates: 3,
    init: (b) => tf.zeros([b, units]),
    output: (h) => h,
    parts: (r) => tf.split(r, [2 * units, units], 1),
    step(xw, h, [rzr, rh]) {
      const [xzr, xh] = tf.split(xw, [2 * units, units], 1);
      const g = gate.forward(tf.add(xzr, ops.op('MatMul', mm, [h, rzr])));
      const [z, r] = tf.split(g.y, 2, 1);
      const rHprev = tf.mul(r, h);
      const hh = act.forward(tf.add(xh, ops.op('MatMul', mm, [rHprev, rh])));
      // z ⊙ h₋ + (1 − z) ⊙ ĥ, as tfjs computes it.
      const next = tf.add(tf.mul(z, h), tf.mul(tf.add(1, tf.neg(z)), hh));
      return { state: next, saved: { h, g, z, r, rHprev, hh } };
    },
    fromOutput: (dh) => dh,
    addOutput: (d, dh) => tf.add(d, dh),
    back(dh, s, [rzr, rh], first) {
      const [h, z, r, hh] = [s.h, s.z, s.r, s.hh] as TF.Tensor[];
      const dhh = act.grad(tf.mul(dh, tf.sub(1, z)), hh);
      const drh = ops.op('MatMul', mmT, [dhh, rh]);
      const dzr = gate.grad(tf.concat([tf.mul(dh, tf.sub(h, hh)), tf.mul(drh, h)], 1), s.g as GateOut);
      const prev = first ? undefined : tf.addN([tf.mul(dh, z), tf.mul(drh, r), ops.op('MatMul', mmT, [dzr, rzr])]);
      return { prev, dxw: tf.concat([dzr, dhh], 1), pairs: [[h, dzr], [s.rHprev as TF.Tensor, dhh]] };
    },
  };
}

interface LstmState { h: TF.Tensor; c: TF.Tensor }
function lstmCell(units: number, gate: Gate, act: Act, ops: Ops): CellKind<LstmState, LstmState> {
  const [mm, mmT] = [tr(ops, false, false), tr(ops, false, true)];
  return {
    gates: 4,
    init: (b) => ({ h: tf.zeros([b, units]), c: tf.zeros([b, units]) }),
    output: (s) => s.h,
    parts: (r) => [r],
    step(xw, { h, c }, [r]) {
      const [pi, pf, pc, po] = tf.split(tf.add(xw, ops.op('MatMul', mm, [h, r])), 4, 1);
      const g = gate.forward(tf.concat([pi, pf, po], 1));
      const [i, f, o] = tf.split(g.y, 3, 1);
      const cc = act.forward(pc);
      const cNext = tf.add(tf.mul(f, c), tf.mul(i, cc));
      const tc = act.forward(cNext);
      return { state: { h: tf.mul(o, tc), c: cNext }, saved: { h, c, g, i, f, o, cc, tc } };
    },
    fromOutput: (dh) => ({ h: dh, c: tf.zerosLike(dh) }),
    addOutput: (d, dh) => ({ h: tf.add(d.h, dh), c: d.c }),
    back(d, s, [r], first) {
      const [c, i, f, o, cc, tc] = [s.c, s.i, s.f, s.o, s.cc, s.tc] as TF.Tensor[];
      const dc = tf.add(d.c, act.grad(tf.mul(d.h, o), tc));
      const difo = gate.grad(tf.concat([tf.mul(dc, cc), tf.mul(dc, c), tf.mul(d.h, tc)], 1), s.g as GateOut);
      const [di, df, dO] = tf.split(difo, 3, 1);
      const dpre = tf.concat([di, df, act.grad(tf.mul(dc, i), cc), dO], 1);
      const prev = first ? undefined : { h: ops.op('MatMul', mmT, [dpre, r]), c: tf.mul(dc, f) };
      return { prev, dxw: dpre, pairs: [[s.h as TF.Tensor, dpre]] };
    },
  };
}

/** Why a recurrent layer cannot be compiled, or undefined. */
function recurrentObstacle(l: Layer, c: Config, rank: number): string | undefined {
  if (rank !== 3) return `'${l.name}' reads a rank-${rank} input`;
  if (Number(c.dropout ?? 0) > 0 || Number(c.recurrentDropout ?? 0) > 0) return `'${l.name}' has dropout`;
  if (c.returnState || c.stateful) return `'${l.name}' returns its state or is stateful`;
  if (c.resetAfter) return `'${l.name}' is a reset-after GRU`;
  if (c.recurrentRegularizer) return `'${l.name}' has a regularizer`;
  const kind = l.getClassName();
  const act = String(c.activation ?? 'tanh');
  if (kind === 'SimpleRNN' ? !['tanh', 'relu', 'linear'].includes(act) : act !== 'tanh') return `'${l.name}' has activation ${act}`;
  if (kind !== 'SimpleRNN' && !['sigmoid', 'hardSigmoid'].includes(String(c.recurrentActivation))) return `'${l.name}' has recurrent activation ${String(c.recurrentActivation)}`;
  return undefined;
}

function recurrent<S, D>(layer: Layer, c: Config, ops: Ops, trained: ReadonlySet<string>, make: (units: number) => CellKind<S, D>): CompiledLayer {
  const cell = (layer as unknown as { cell: RecurrentCell }).cell;
  const units = cell.units;
  const kind = make(units);
  const sequences = Boolean(c.returnSequences);
  // Reversed time (a Bidirectional layer's backward half): the steps run from the last, and a returned sequence is in
  // that order, as tfjs's K.rnn gives it.
  const backwards = Boolean(c.goBackwards);
  const dataFormat = ops.str('data_format', 'NHWC');
  const [mm, mmTa, mmTb] = [tr(ops, false, false), tr(ops, true, false), tr(ops, false, true)];
  interface Extra { x2: TF.Tensor; steps: Stepped<S>['saved'][]; parts: TF.Tensor[] }
  return {
    forward(x) {
      const [batch, steps, features] = x.shape;
      const x2 = tf.reshape(x, [batch * steps, features]);
      let xw = ops.op('MatMul', mm, [x2, cell.kernel.read()]);
      if (cell.bias) xw = ops.op('BiasAdd', [ops.T, dataFormat], [xw, cell.bias.read()]);
      const xs = tf.unstack(tf.reshape(xw, [batch, steps, kind.gates * units]), 1);
      if (backwards) xs.reverse();
      const parts = kind.parts(cell.recurrentKernel.read());
      let state = kind.init(batch);
      const saved: Stepped<S>['saved'][] = [];
      const outs: TF.Tensor[] = [];
      for (const xt of xs) {
        const r = kind.step(xt, state, parts);
        saved.push(r.saved);
        state = r.state;
        if (sequences) outs.push(kind.output(state));
      }
      const extra: Extra = { x2, steps: saved, parts };
      return { x, h: sequences ? tf.stack(outs, 1) : kind.output(state), extra };
    },
    backward(dy, s, needInput, grads) {
      const { x2, steps, parts } = s.extra as Extra;
      const T = steps.length;
      const dys = sequences ? tf.unstack(dy, 1) : undefined;
      let d = kind.fromOutput(dys ? dys[T - 1] : dy);
      const dxws: TF.Tensor[] = new Array<TF.Tensor>(T);
      const pairs: [TF.Tensor, TF.Tensor][][] = [];
      for (let t = T - 1; t >= 0; t--) {
        const r = kind.back(d, steps[t], parts, t === 0);
        dxws[t] = r.dxw;
        pairs.push(r.pairs);
        if (r.prev) d = dys ? kind.addOutput(r.prev, dys[t - 1]) : r.prev;
      }
      if (backwards) dxws.reverse();
      const dxw = tf.reshape(tf.stack(dxws, 1), [x2.shape[0], kind.gates * units]);
      const w = cell.kernel.read() as TF.Variable;
      if (trained.has(w.name)) grads[w.name] = ops.op('MatMul', mmTa, [x2, dxw]);
      const b = cell.bias?.read() as TF.Variable | undefined;
      if (b && trained.has(b.name)) grads[b.name] = ops.op('BiasAddGrad', [ops.T, dataFormat], [dxw]);
      const rk = cell.recurrentKernel.read() as TF.Variable;
      if (trained.has(rk.name)) {
        // Σₜ h₋ₜᵀ·δₜ per recurrent product, as one MatMul over the stacked steps; the parts side by side, as R is.
        const perPart = pairs[0].map((_, k) => ops.op('MatMul', mmTa, [tf.concat(pairs.map((p) => p[k][0]), 0), tf.concat(pairs.map((p) => p[k][1]), 0)]));
        grads[rk.name] = perPart.length === 1 ? perPart[0] : tf.concat(perPart, 1);
      }
      return needInput ? tf.reshape(ops.op('MatMul', mmTb, [dxw, w]), s.x.shape) : undefined;
    },
  };
}

const act = (c: Config, ops: Ops) => actOf(String(c.activation ?? 'tanh'), ops)!;
const gate = (c: Config, ops: Ops) => gateOf(String(c.recurrentActivation), ops)!;

/** The compiled form of a recurrent layer of one of the kinds below. */
function compileRecurrent(l: Layer, c: Config, ops: Ops, trained: ReadonlySet<string>): CompiledLayer {
  const kind = l.getClassName();
  if (kind === 'GRU') return recurrent(l, c, ops, trained, (u) => gruCell(u, gate(c, ops), act(c, ops), ops));
  if (kind === 'LSTM') return recurrent(l, c, ops, trained, (u) => lstmCell(u, gate(c, ops), act(c, ops), ops));
  return recurrent(l, c, ops, trained, (u) => simpleCell(u, act(c, ops), ops));
}

const RECURRENT = new Set(['SimpleRNN', 'GRU', 'LSTM']);
interface Wrapped { forwardLayer: Layer; backwardLayer: Layer; mergeMode: string | null }

/** Handlers of compiled-chain.ts's registry for the sequence layers. */
export const SEQUENCE_HANDLERS: Readonly<Record<string, LayerHandler>> = {
  Embedding: {
    obstacle: (l, c) => (c.maskZero ? `'${l.name}' masks zeros` : c.embeddingsRegularizer ? `'${l.name}' has a regularizer` : undefined),
    compile(layer, c, _ops, _a, trained) {
      const table = (layer as unknown as { embeddings: TF.LayerVariable }).embeddings;
      const rows = Number(c.inputDim);
      const dim = Number(c.outputDim);
      return {
        forward(x) {
          const idx = tf.reshape(tf.cast(x, 'int32'), [-1]);
          const w = table.read();
          return { x, h: tf.reshape(tf.gather(w, idx), [...x.shape, dim]), extra: idx };
        },
        backward(dy, s, _needInput, grads) {
          // The indices are integers: no input gradient. The table's is the tape's (GatherV2's): a segment sum of the rows.
          const w = table.read() as TF.Variable;
          if (trained.has(w.name)) grads[w.name] = tf.unsortedSegmentSum(tf.reshape(dy, [-1, dim]), s.extra as TF.Tensor1D, rows);
          return undefined;
        },
      };
    },
  },
  SimpleRNN: { obstacle: recurrentObstacle, compile: (l, c, ops, _a, trained) => compileRecurrent(l, c, ops, trained) },
  GRU: { obstacle: recurrentObstacle, compile: (l, c, ops, _a, trained) => compileRecurrent(l, c, ops, trained) },
  LSTM: { obstacle: recurrentObstacle, compile: (l, c, ops, _a, trained) => compileRecurrent(l, c, ops, trained) },
  Bidirectional: {
    // Its two halves run the sequence forwards and backwards, their outputs side by side (mergeMode 'concat', the
    // default) or summed ('sum'), as tfjs's wrapper does (a returned sequence of the backward half put back in time order).
    obstacle(l, c, rank) {
      const w = l as unknown as Wrapped;
      if (!w.forwardLayer || !w.backwardLayer || !RECURRENT.has(w.forwardLayer.getClassName())) return `'${l.name}' wraps a layer that is not recurrent`;
      if (w.mergeMode !== 'concat' && w.mergeMode !== 'sum') return `'${l.name}' merges its halves by ${String(w.mergeMode)}`;
      return recurrentObstacle(w.forwardLayer, w.forwardLayer.getConfig() as Config, rank) ?? recurrentObstacle(w.backwardLayer, w.backwardLayer.getConfig() as Config, rank) ??
        (c.returnState ? `'${l.name}' returns its state` : undefined);
    },
    compile(l, _c, ops, _a, trained) {
      const w = l as unknown as Wrapped;
      const [fwd, bwd] = [w.forwardLayer, w.backwardLayer].map((h) => compileRecurrent(h, h.getConfig() as Config, ops, trained));
      const sequences = Boolean((w.forwardLayer.getConfig() as Config).returnSequences);
      const concat = w.mergeMode === 'concat';
      const inTime = (t: TF.Tensor) => (sequences ? tf.reverse(t, 1) : t);
      return {
        forward(x) {
          const [sf, sb] = [fwd.forward(x), bwd.forward(x)];
          const yb = inTime(sb.h);
          return { x, h: concat ? tf.concat([sf.h, yb], -1) : tf.add(sf.h, yb), extra: [sf, sb] };
        },
        backward(dy, s, needInput, grads) {
          const [sf, sb] = s.extra as Saved[];
          const [df, db] = concat ? tf.split(dy, 2, -1) : [dy, dy];
          const dxf = fwd.backward(df, sf, needInput, grads);
          const dxb = bwd.backward(inTime(db), sb, needInput, grads);
          return needInput && dxf && dxb ? tf.add(dxf, dxb) : undefined;
        },
      };
    },
  },
};
