import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { staged } from '../util/staged.js';

/**
 * Adam over all trainable variables at once: the gradients are concatenated into one vector, the
 * moments are one vector each, and the update is one chain of ~12 element-wise ops instead of ~12 per
 * variable (tf.train.adam's). On a small model most of a training step is per-op dispatch, not
 * arithmetic, so this is where the time goes (docs/benchmarks.md, speed section).
 *
 * The arithmetic is tf.train.adam's, op for op, on the same float32 values: every element gets
 * bit-identical results (test/models/flat-adam.test.ts). A pruning mask (setMask) multiplies the
 * gradient and zeroes the moments of pruned weights, after which their update is exactly 0 and they stay 0
 * without re-masking after each step. When at most three quarters of the weights are kept, the moments and
 * every element-wise op cover the kept weights alone (gathered from the gradients, scattered into the
 * weights): at 80 % sparsity a fifth of the memory traffic, which is what an element-wise op costs at this size.
 */
export class FlatAdam {
  learningRate: number;
  private readonly beta1 = 0.9;
  private readonly beta2 = 0.999;
  private readonly epsilon: number;
  private readonly sizes: number[];
  private readonly total: number;
  /** The moments: one entry per weight, or (compact) one per kept weight, in the variables' order. */
  private m: TF.Variable;
  private v: TF.Variable;
  private readonly accBeta1: TF.Variable;
  private readonly accBeta2: TF.Variable;
  /** Full path: the flat mask multiplying the gradient (none: dense). */
  private mask?: TF.Tensor1D;
  /**
   * Compact path: per variable, the flat positions of its kept weights as a [k, 1] index (undefined: all
   * kept), and k. Set when at most COMPACT_BELOW of the weights are kept.
   */
  private kept?: { index: (TF.Tensor2D | undefined)[]; counts: number[] };
  /**
   * Compact path: the kept weights laid end to end, and the data each variable held when they were last
   * written to it (a variable written by anything else since is read again).
   */
  private keptWeights?: { values: TF.Tensor1D; written: unknown[] };

  constructor(private readonly vars: readonly TF.Variable[], learningRate: number) {
    this.learningRate = learningRate;
    this.epsilon = tf.backend().epsilon();
    this.sizes = vars.map((v) => v.size);
    this.total = this.sizes.reduce((a, b) => a + b, 0);
    // tidy disposes the initial values; the variables (never tracked by tidy) live on.
    this.m = tf.tidy(() => tf.variable(tf.zeros([this.total]), false));
    this.v = tf.tidy(() => tf.variable(tf.zeros([this.total]), false));
    this.accBeta1 = tf.tidy(() => tf.variable(tf.scalar(this.beta1), false));
    this.accBeta2 = tf.tidy(() => tf.variable(tf.scalar(this.beta2), false));
  }

  /** Total elements over the variables (the length of a flat mask). */
  get size(): number {
    return this.total;
  }

  /** Whether updates run over the kept weights only (the compact path). */
  get compact(): boolean {
    return this.kept !== undefined;
  }

  /** The variables' values laid end to end (flat, in the constructor's order). */
  flatten(parts: readonly TF.Tensor[]): TF.Tensor1D {
    return tf.tidy(() => (parts.length === 1 ? tf.reshape(parts[0], [-1]) : tf.concat(parts.map((p) => tf.reshape(p, [-1])), 0)) as TF.Tensor1D);
  }

  /**
   * Sets the pruning mask (flat, 1 = kept; undefined: none). The moments of weights it prunes become 0, so
   * their update is exactly 0 and a pruned weight that is 0 stays 0 without re-masking after each step.
   * Where few weights are kept the moments shrink to the kept ones and every update runs over those alone.
   */
  setMask(mask: TF.Tensor1D | undefined): void {
    let kept: FlatAdam['kept'];
    let multiplier = mask;
    if (mask) {
      const index: (TF.Tensor2D | undefined)[] = [];
      const counts: number[] = [];
      let offset = 0;
      for (const size of this.sizes) {
        // One variable's mask at a time on the host, a byte per weight: the kept positions, not a full copy of the mask.
        const part = tf.tidy(() => tf.cast(tf.slice(mask, offset, size), 'bool'));
        const values = part.dataSync() as Uint8Array;
        part.dispose();
        let k = 0;
        for (let i = 0; i < size; i++) if (values[i] !== 0) k++;
        counts.push(k);
        if (k === size) index.push(undefined);
        else {
          const positions = new Int32Array(k);
          for (let i = 0, j = 0; i < size; i++) if (values[i] !== 0) positions[j++] = i;
          index.push(tf.keep(tf.tensor2d(positions, [k, 1], 'int32')));
        }
        offset += size;
      }
      const keptTotal = counts.reduce((a, b) => a + b, 0);
      if (keptTotal <= COMPACT_BELOW * this.total) kept = { index, counts };
      else index.forEach((t) => t?.dispose());
      // Nothing pruned: no mask to multiply by (×1 changes no value).
      if (keptTotal === this.total) multiplier = undefined;
    }
    // Each moment in turn (one full-length copy at a time): expanded from the old state, then masked or gathered.
    const remap = (moment: TF.Variable): TF.Variable => {
      const full = this.expand(moment);
      moment.dispose();
      const next = tf.tidy(() => (kept ? this.gatherKept(full, kept) : multiplier ? tf.mul(full, multiplier) : full.clone()));
      full.dispose();
      const variable = tf.variable(next, false);
      next.dispose();
      return variable;
    };
    this.m = remap(this.m);
    this.v = remap(this.v);
    this.kept?.index.forEach((t) => t?.dispose());
    this.kept = kept;
    this.mask?.dispose();
    this.mask = multiplier && !kept ? tf.keep(multiplier.clone()) : undefined;
    this.keptWeights?.values.dispose();
    this.keptWeights = undefined;
  }

  /**
   * One Adam step. `grads[i]` is the gradient of `vars[i]` (a missing one counts as zero: the variable
   * does not reach the loss); the mask (setMask) multiplies it, or (compact) only kept weights are updated.
   *
   * Staged so that at most a few full-length temporaries exist at once (each stage frees its inputs as soon as
   * the next has read them): one tidy around the whole update would hold all ~15 of them, 60 bytes per weight
   * at the step's peak (docs/benchmarks.md, scale). The ops and their order are tf.train.adam's, so the values
   * are identical. `consume`: the gradients are disposed once flattened (the caller no longer needs them).
   */
  step(grads: readonly (TF.Tensor | undefined)[], consume = false): void {
    const g = tf.tidy(() => {
      const parts = grads.map((gr, i) => gr ?? tf.zeros(this.vars[i].shape));
      if (this.kept) return this.gatherKept(parts);
      const flat = this.flatten(parts);
      return this.mask ? tf.mul(flat, this.mask) : flat;
    });
    if (consume) grads.forEach((gr) => gr?.dispose());
    try {
      tf.tidy(() => { this.m.assign(tf.add(tf.mul(this.m, this.beta1), tf.mul(g, 1 - this.beta1))); });
      tf.tidy(() => { this.v.assign(tf.add(tf.mul(this.v, this.beta2), tf.mul(tf.square(g), 1 - this.beta2))); });
    } finally {
      g.dispose();
    }
    // m̂ / (√v̂ + ε) · −lr, one op at a time: two full-length temporaries at once instead of six.
    const denominator = staged(
      () => tf.div(this.v, tf.sub(1, this.accBeta2)),
      (biasCorrectedSecondMoment) => tf.sqrt(biasCorrectedSecondMoment),
      (root) => tf.add(root, this.epsilon),
    );
    const delta = staged(
      () => {
        try {
          return tf.div(tf.div(this.m, tf.sub(1, this.accBeta1)), denominator);
        } finally {
          denominator.dispose();
        }
      },
      (ratio) => tf.mul(ratio, -this.learningRate),
    );
    try {
      if (this.kept) this.writeKept(delta);
      else {
        let offset = 0;
        this.vars.forEach((v, i) => {
          const size = this.sizes[i];
          tf.tidy(() => v.assign(tf.add(tf.reshape(this.vars.length === 1 ? delta : tf.slice(delta, offset, size), v.shape), v)));
          offset += size;
        });
      }
    } finally {
      delta.dispose();
    }
    tf.tidy(() => {
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
  }

  dispose(): void {
    tf.dispose([this.m, this.v, this.accBeta1, this.accBeta2]);
    this.mask?.dispose();
    this.kept?.index.forEach((t) => t?.dispose());
    this.keptWeights?.values.dispose();
  }

  /** Adds `delta` (one entry per kept weight) to the kept weights and writes them back (0 elsewhere). */
  private writeKept(delta: TF.Tensor): void {
    const kept = this.kept!;
    let w = this.keptWeights;
    if (!w || this.vars.some((v, i) => v.dataId !== w!.written[i])) {
      w?.values.dispose();
      w = { values: tf.keep(this.gatherKept(this.vars)), written: [] };
    }
    // Kept across steps: tf.keep, since the caller's tidy would dispose them.
    const values = tf.keep(tf.tidy(() => tf.add(delta, w!.values) as TF.Tensor1D));
    w.values.dispose();
    this.keptWeights = { values, written: [] };
    let offset = 0;
    this.vars.forEach((v, i) => {
      tf.tidy(() => v.assign(tf.reshape(this.spread(values, i, offset, kept), v.shape)));
      this.keptWeights!.written.push(v.dataId);
      offset += kept.counts[i];
    });
  }

  /** The kept entries of per-variable tensors (or of one flat tensor over all variables), laid end to end. */
  private gatherKept(x: TF.Tensor | readonly TF.Tensor[], kept = this.kept!): TF.Tensor1D {
    return tf.tidy(() => {
      let offset = 0;
      const parts = this.sizes.map((size, i) => {
        const flat = Array.isArray(x) ? tf.reshape(x[i] as TF.Tensor, [-1]) : tf.slice(x as TF.Tensor, offset, size);
        offset += size;
        const index = kept.index[i];
        return index ? tf.gatherND(flat, index) : flat;
      });
      return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as TF.Tensor1D;
    });
  }

  /** A moment as one entry per weight (from the compact state: 0 where pruned); a new tensor. */
  private expand(x: TF.Tensor): TF.Tensor1D {
    const kept = this.kept;
    if (!kept) return x.clone() as TF.Tensor1D;
    return tf.tidy(() => {
      let offset = 0;
      const parts = this.sizes.map((_, i) => {
        const part = this.spread(x, i, offset, kept);
        offset += kept.counts[i];
        return part;
      });
      return (parts.length === 1 ? parts[0] : tf.concat(parts, 0)) as TF.Tensor1D;
    });
  }

  /** Variable i's entries of a compact vector (its kept weights from `offset`) as one per weight, 0 where pruned. */
  private spread(x: TF.Tensor, i: number, offset: number, kept: NonNullable<FlatAdam['kept']>): TF.Tensor {
    const part = this.vars.length === 1 ? x : tf.slice(x, offset, kept.counts[i]);
    const index = kept.index[i];
    return index ? tf.sparseToDense(index, part, [this.sizes[i]]) : part;
  }
}

/** The compact path pays off once this fraction of the weights or fewer is kept (docs/benchmarks.md, speed). */
const COMPACT_BELOW = 0.75;
