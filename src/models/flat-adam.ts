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
 * bit-identical results (test/models/flat-adam.test.ts). An optional flat mask multiplies the
 * gradient (pruned weights get a zero gradient); `maskMoments` zeroes the moments of newly pruned
 * weights, after which their update is exactly 0 and they stay 0 without re-masking after each step.
 */
export class FlatAdam {
  learningRate: number;
  private readonly beta1 = 0.9;
  private readonly beta2 = 0.999;
  private readonly epsilon: number;
  private readonly sizes: number[];
  private readonly m: TF.Variable;
  private readonly v: TF.Variable;
  private readonly accBeta1: TF.Variable;
  private readonly accBeta2: TF.Variable;

  constructor(private readonly vars: readonly TF.Variable[], learningRate: number) {
    this.learningRate = learningRate;
    this.epsilon = tf.backend().epsilon();
    this.sizes = vars.map((v) => v.size);
    const total = this.sizes.reduce((a, b) => a + b, 0);
    // tidy disposes the initial values; the variables (never tracked by tidy) live on.
    this.m = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.v = tf.tidy(() => tf.variable(tf.zeros([total]), false));
    this.accBeta1 = tf.tidy(() => tf.variable(tf.scalar(this.beta1), false));
    this.accBeta2 = tf.tidy(() => tf.variable(tf.scalar(this.beta2), false));
  }

  /** Total elements over the variables (the length of a flat mask). */
  get size(): number {
    return this.m.size;
  }

  /** The variables' values laid end to end (flat, in the constructor's order). */
  flatten(parts: readonly TF.Tensor[]): TF.Tensor1D {
    return tf.tidy(() => (parts.length === 1 ? tf.reshape(parts[0], [-1]) : tf.concat(parts.map((p) => tf.reshape(p, [-1])), 0)) as TF.Tensor1D);
  }

  /**
   * One Adam step. `grads[i]` is the gradient of `vars[i]` (a missing one counts as zero: the variable
   * does not reach the loss); `mask`, when given, multiplies the flat gradient.
   *
   * Staged so that at most a few full-length temporaries exist at once (each stage frees its inputs as soon as
   * the next has read them): one tidy around the whole update would hold all ~15 of them, 60 bytes per weight
   * at the step's peak (docs/benchmarks.md, scale). The ops and their order are tf.train.adam's, so the values
   * are identical. `consume`: the gradients are disposed once flattened (the caller no longer needs them).
   */
  step(grads: readonly (TF.Tensor | undefined)[], mask?: TF.Tensor1D, consume = false): void {
    const g = tf.tidy(() => {
      const flat = this.flatten(grads.map((gr, i) => gr ?? tf.zeros(this.vars[i].shape)));
      return mask ? tf.mul(flat, mask) : flat;
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
      let offset = 0;
      this.vars.forEach((v, i) => {
        const size = this.sizes[i];
        tf.tidy(() => {
          const part = this.vars.length === 1 ? delta : tf.slice(delta, offset, size);
          v.assign(tf.add(tf.reshape(part, v.shape), v));
        });
        offset += size;
      });
    } finally {
      delta.dispose();
    }
    tf.tidy(() => {
      this.accBeta1.assign(tf.mul(this.accBeta1, this.beta1));
      this.accBeta2.assign(tf.mul(this.accBeta2, this.beta2));
    });
  }

  /** Zeroes the moments where `mask` is 0 (call when weights are newly pruned mid-training). */
  maskMoments(mask: TF.Tensor1D): void {
    tf.tidy(() => {
      this.m.assign(tf.mul(this.m, mask));
      this.v.assign(tf.mul(this.v, mask));
    });
  }

  dispose(): void {
    tf.dispose([this.m, this.v, this.accBeta1, this.accBeta2]);
  }
}
