import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';

/**
 * tf.variableGrads of `f` over `vars`, frozen variables included. tfjs records reads of trainable variables only, so
 * a kernel of a layer the user froze (`layer.trainable = false` on a model never compiled after) would get no
 * gradient; the features and criteria need every kernel's gradient, frozen or not. The flags are restored after.
 */
export function kernelGrads(f: () => TF.Scalar, vars: readonly TF.Variable[]): { value: TF.Scalar; grads: TF.NamedTensorMap } {
  const frozen = vars.filter((v) => !v.trainable);
  frozen.forEach((v) => { v.trainable = true; });
  try {
    return tf.variableGrads(f, vars as TF.Variable[]);
  } finally {
    frozen.forEach((v) => { v.trainable = false; });
  }
}
