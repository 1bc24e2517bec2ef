import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import type { Split } from '../data/dataset.js';
import { kernelGradient } from '../models/compiled-chain.js';
import { targetsOf, taskOf } from '../models/task.js';
import type { PrunableModel } from '../pruning/prunable-model.js';

/**
 * Per-weight importance maps (HIGHER = KEEP) the oracle builds its candidate masks from. Full kernel
 * size per layer, flat row-major; pruned weights get -Infinity. These are the oracle's private
 * criteria: they need gradients and activations the oracle computes once per stage, and they must
 * not depend on the policy code whose labels the oracle produces.
 */
export interface Importances {
  magnitude: Float32Array[];
  /** LAMP (Lee et al. 2021): w_u² / Σ_{v ≥ u in its layer's ascending order} w_v². */
  lamp: Float32Array[];
  /** |w|·‖x_in‖ (Wanda, Sun et al. 2023), compared globally. */
  wanda: Float32Array[];
  /** Mean over mini-batches of |w·g_b| (first-order Taylor). */
  taylor: Float32Array[];
  /** w²·E_b[g_b²] (empirical-Fisher / OBD-style second-order cost). */
  fisher: Float32Array[];
}

export interface CriteriaOptions {
  /** Mini-batch size for gradient statistics. Default 64. */
  batchSize?: number;
  /** Calibration samples used (first n of `calib`). Default 1024. */
  maxSamples?: number;
}

const CRITERIA_DEFAULTS = Object.freeze({ batchSize: 64, maxSamples: 1024 });

/** Computes every importance map on calibration data (typically a slice of the training split). */
export function computeImportances(pm: PrunableModel, calib: Split, options: CriteriaOptions = {}): Importances {
  const o = { ...CRITERIA_DEFAULTS, ...options };
  const n = Math.min(o.maxSamples, calib.labels.length);
  const masks = pm.maskArrays();
  const weights = pm.layers.map((l) => l.kernel.dataSync() as Float32Array);
  const task = taskOf(pm.model);
  const L = pm.layers.length;

  // Gradient statistics over mini-batches.
  const gAbsW = pm.layers.map((l) => new Float64Array(l.size));
  const g2 = pm.layers.map((l) => new Float64Array(l.size));
  const kernels = pm.layers.map((l) => l.kernel);
  const gradient = kernelGradient(pm.model, task, kernels);
  let batches = 0;
  for (let s = 0; s < n; s += o.batchSize) {
    const m = Math.min(o.batchSize, n - s);
    // tidy returns the gradient tensors, not their data (tidy would walk returned typed arrays element by element).
    const gs = tf.tidy(() => {
      const xb = tf.slice(calib.x, s, m);
      const yb = targetsOf(calib, task, Int32Array.from({ length: m }, (_, k) => s + k));
      const grads = gradient(xb, yb);
      return kernels.map((k) => grads[k.name]);
    }).map((t) => { const d = t.dataSync() as Float32Array; t.dispose(); return d; });
    for (let i = 0; i < L; i++) {
      const g = gs[i], w = weights[i], a = gAbsW[i], b = g2[i];
      for (let j = 0; j < g.length; j++) { a[j] += Math.abs(w[j] * g[j]); b[j] += g[j] * g[j]; }
    }
    batches++;
  }

  // Input-activation norms of every prunable layer (per input feature / input channel).
  const inNorms = inputNorms(pm, tf.tidy(() => tf.slice(calib.x, 0, n)));

  const dead = (i: number, f: (j: number) => number): Float32Array => {
    const out = new Float32Array(pm.layers[i].size);
    const m = masks[i];
    for (let j = 0; j < out.length; j++) out[j] = m[j] === 0 ? -Infinity : f(j);
    return out;
  };
  const magnitude = pm.layers.map((_, i) => dead(i, (j) => Math.abs(weights[i][j])));
  const taylor = pm.layers.map((_, i) => dead(i, (j) => gAbsW[i][j] / batches));
  const fisher = pm.layers.map((_, i) => dead(i, (j) => weights[i][j] * weights[i][j] * g2[i][j] / batches));
  const wanda = pm.layers.map((l, i) => {
    const out = l.shape[l.shape.length - 1];
    const cin = l.shape[l.shape.length - 2];
    const norms = inNorms[i];
    return dead(i, (j) => Math.abs(weights[i][j]) * norms[Math.floor(j / out) % cin]);
  });
  const lamp = pm.layers.map((_, i) => lampScores(weights[i], masks[i]));
  return { magnitude, lamp, wanda, taylor, fisher };
}

/**
 * LAMP score of each live weight of one layer; -Infinity for pruned ones. Not src/policy/baselines.ts's lampScores (the
 * LAMP baseline and the `+lamp` allocation), on purpose: the oracle's criteria do not depend on the policy code (above),
 * and the two differ on ties. Here the weights are ranked (ties by position) and each sums the squares ranked at or
 * above it, as Lee et al. write it: equal weights get distinct scores, a layer's largest one alone scores 1. There
 * equal weights share one score (their sum includes them all). Without ties they agree to float32 rounding
 * (test/meta/oracle.test.ts); the meta-datasets' labels were built with this one.
 */
export function lampScores(w: Float32Array, mask: Float32Array): Float32Array {
  const liveIdx: number[] = [];
  for (let j = 0; j < w.length; j++) if (mask[j] !== 0) liveIdx.push(j);
  const order = Int32Array.from(liveIdx).sort((a, b) => (w[a] * w[a] - w[b] * w[b]) || (a - b));
  const out = new Float32Array(w.length).fill(-Infinity);
  let suffix = 0;
  for (let r = order.length - 1; r >= 0; r--) {
    const j = order[r];
    const sq = w[j] * w[j];
    suffix += sq;
    out[j] = suffix > 0 ? sq / suffix : 0;
  }
  return out;
}

/**
 * L2 norm over calibration samples (and spatial positions for Conv2D) of each input feature/channel
 * a prunable layer reads. Works for models whose prunable layers have one input (Sequential-like).
 */
export function inputNorms(pm: PrunableModel, x: TF.Tensor): Float32Array[] {
  try {
    const model = pm.model;
    const inputId = (model.inputs[0] as unknown as { id: number }).id;
    const syms = pm.layers.map((l) => l.layer.input as TF.SymbolicTensor);
    const needsModel = syms.map((s) => (s as unknown as { id: number }).id !== inputId);
    const outs = syms.filter((_, i) => needsModel[i]);
    const probe = outs.length ? tf.model({ inputs: model.inputs, outputs: outs }) : undefined;
    const acts = probe ? (probe.predict(x, { batchSize: 256 }) as TF.Tensor | TF.Tensor[]) : [];
    const actList = Array.isArray(acts) ? acts : [acts];
    let k = 0;
    const res = pm.layers.map((l, i) => {
      const a = needsModel[i] ? actList[k++] : x;
      const cin = l.shape[l.shape.length - 2];
      return tf.tidy(() => {
        const flat = tf.reshape(a, [-1, cin]);
        return tf.sqrt(tf.sum(tf.square(flat), 0)).dataSync() as Float32Array;
      });
    });
    actList.forEach((t) => t.dispose());
    return res;
  } finally {
    x.dispose();
  }
}
