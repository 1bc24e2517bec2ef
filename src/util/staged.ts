/**
 * Runs a chain of tensor ops with bounded memory: `first()`, then each stage on the previous result, each in
 * its own tidy, every intermediate freed as soon as the next stage has read it. The peak is one stage's input
 * and outputs, not the whole chain's (one tidy around a chain holds every intermediate until it ends: on a
 * layer of millions of weights, tens of bytes per weight; docs/benchmarks.md, scale). Same ops, same values.
 */
import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';

export function staged(first: () => TF.Tensor, ...stages: ((t: TF.Tensor) => TF.Tensor)[]): TF.Tensor {
  let t = tf.tidy(first);
  for (const f of stages) {
    const next = tf.tidy(() => f(t));
    if (next !== t) t.dispose();
    t = next;
  }
  return t;
}
