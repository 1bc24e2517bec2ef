import type * as TF from '@tensorflow/tfjs';
import { z } from 'zod';
import { tf } from '../backend/tf.js';
import { PolicyError } from '../errors.js';
import { FEATURE_SCHEMA } from '../features/schema.js';
import type { ConnectionFeatures, FeatureSchema } from '../features/types.js';
import { Rng } from '../util/random.js';
import { checkTrainingData } from './cart-train.js';
import { formatIssues } from './cart-policy.js';
import {
  checkSchema, emptyProvenance, float32ArrayToJson, float32ToJson, type Policy, type PolicyFile, type PolicyMetrics,
  type PolicyProvenance, type StandardisedTrainOptions, TIE_BREAK_FEATURE, tieBreak, policyFile,
} from './policy.js';

/** `model` of a 'net' policy file: an MLP on standardised, clipped features with one sigmoid output. */
export interface NetModelJSON {
  /** Widths of the hidden ReLU layers. */
  hidden: number[];
  activation: 'relu';
  /** Per-feature mean and standard deviation used to standardise inputs. */
  mean: number[];
  std: number[];
  /** Standardised inputs are clipped to ±inputClip. */
  inputClip: number;
  tieBreak: { feature: string; epsilon: number };
  /** Kernel and bias of every layer in order: [W1, b1, …, Wout, bout]; values row-major. */
  weights: { shape: number[]; values: number[] }[];
  training: { epochs: number; batchSize: number; learningRate: number; seed: number };
}

export interface TrainNetPolicyOptions extends StandardisedTrainOptions {
  /** Hidden layer widths. Default [32, 16]. */
  hidden?: number[];
  /** Passes over the rows. Default 8. */
  epochs?: number;
  /** Default 512. */
  batchSize?: number;
  /** Adam learning rate. Default 3e-3. */
  learningRate?: number;
  /** Seed of the initial weights and the batch order. Default 0. */
  seed?: number;
}

export const NET_DEFAULTS = Object.freeze({ hidden: [32, 16], epochs: 8, batchSize: 512, learningRate: 3e-3, seed: 0, inputClip: 5 });

/** Tie-break weight: sigmoid outputs are continuous, this only separates exact (saturated) ties. */
const NET_TIE_EPSILON = 1e-6;

interface NetParams {
  hidden: number[];
  mean: Float32Array;
  std: Float32Array;
  inputClip: number;
  weights: { shape: number[]; values: Float32Array }[];
  tieBreak: { feature: string; epsilon: number };
  training: NetModelJSON['training'];
}

function forward(x: TF.Tensor2D, params: TF.Tensor[]): TF.Tensor2D {
  let h = x;
  for (let i = 0; i < params.length; i += 2) {
    const z = tf.add(tf.matMul(h, params[i] as TF.Tensor2D), params[i + 1]) as TF.Tensor2D;
    h = i + 2 < params.length ? tf.relu(z) : z;
  }
  return h; // logits [n, 1]
}

function standardise(x: TF.Tensor2D, mean: TF.Tensor, std: TF.Tensor, clip: number): TF.Tensor2D {
  return tf.clipByValue(tf.div(tf.sub(x, mean), std), -clip, clip) as TF.Tensor2D;
}

function stackColumns(columns: readonly Float32Array[]): TF.Tensor2D {
  return tf.tidy(() => tf.stack(columns.map((c) => tf.tensor1d(c, 'float32')), 1) as TF.Tensor2D);
}

/** A small MLP policy (tfjs). Holds tensors: call dispose() when done. */
export class NetPolicy implements Policy {
  /** Each connection is scored from its own feature row. */
  readonly rowwise = true;
  readonly kind = 'net' as const;
  private tensors: TF.Tensor[];
  private mean: TF.Tensor;
  private std: TF.Tensor;
  private readonly tieColumn: number;

  constructor(
    readonly name: string,
    readonly schema: FeatureSchema,
    readonly params: NetParams,
    public provenance: PolicyProvenance = emptyProvenance(),
    public metrics: PolicyMetrics = {},
  ) {
    const F = schema.names.length;
    const problem = checkNetShapes(params, F);
    if (problem) throw new PolicyError(`policy '${name}': malformed net: ${problem}`);
    this.tensors = params.weights.map((w) => tf.tensor(w.values, w.shape, 'float32'));
    this.mean = tf.tensor1d(params.mean, 'float32');
    this.std = tf.tensor1d(params.std, 'float32');
    this.tieColumn = schema.names.indexOf(params.tieBreak.feature);
  }

  /** Predicted prunability (sigmoid output) per live connection. */
  predict(features: ConnectionFeatures): Float32Array[] {
    checkSchema(this.name, this.schema, features.schema);
    return features.layers.map((lf) => {
      if (lf.count === 0) return new Float32Array(0);
      // Read the data outside tidy: tidy walks a returned typed array element by element.
      const p = tf.tidy(() => {
        const x = standardise(stackColumns(lf.columns), this.mean, this.std, this.params.inputClip);
        return tf.sigmoid(forward(x, this.tensors)).reshape([-1]);
      });
      const out = p.dataSync() as Float32Array;
      p.dispose();
      return out;
    });
  }

  score(features: ConnectionFeatures): Float32Array[] {
    const eps = this.tieColumn >= 0 ? this.params.tieBreak.epsilon : 0;
    return this.predict(features).map((p, i) => tieBreak(p, features.layers[i].columns[this.tieColumn], eps));
  }

  toJSON(): PolicyFile<NetModelJSON> {
    const p = this.params;
    return policyFile(this, {
      hidden: [...p.hidden],
      activation: 'relu',
      mean: float32ArrayToJson(p.mean),
      std: float32ArrayToJson(p.std),
      inputClip: p.inputClip,
      tieBreak: { ...p.tieBreak },
      weights: p.weights.map((w) => ({ shape: [...w.shape], values: float32ArrayToJson(w.values) })),
      training: { ...p.training },
    });
  }

  dispose(): void {
    this.tensors.forEach((t) => t.dispose());
    this.mean.dispose();
    this.std.dispose();
    this.tensors = [];
  }

  static fromJSON(file: PolicyFile, source: string): NetPolicy {
    const parsed = NET_MODEL.safeParse(file.model);
    if (!parsed.success) throw new PolicyError(`policy file ${source}: invalid 'net' model: ${formatIssues(parsed.error)}`);
    const m = parsed.data;
    const schema: FeatureSchema = Object.freeze({ version: file.featureSchema.version, names: Object.freeze([...file.featureSchema.names]) });
    const params: NetParams = {
      hidden: m.hidden, mean: Float32Array.from(m.mean), std: Float32Array.from(m.std), inputClip: m.inputClip,
      weights: m.weights.map((w) => ({ shape: w.shape, values: Float32Array.from(w.values) })),
      tieBreak: m.tieBreak, training: m.training,
    };
    const problem = checkNetShapes(params, schema.names.length);
    if (problem) throw new PolicyError(`policy file ${source}: malformed 'net' model: ${problem}`);
    return new NetPolicy(file.name, schema, params, file.provenance, file.metrics);
  }
}

function checkNetShapes(p: NetParams, F: number): string | undefined {
  if (p.mean.length !== F || p.std.length !== F) return `mean/std have ${p.mean.length}/${p.std.length} entries for ${F} features`;
  if (!p.std.every((s) => s > 0 && Number.isFinite(s))) return 'std must be finite and > 0';
  if (!p.mean.every(Number.isFinite)) return 'mean must be finite';
  const widths = [F, ...p.hidden, 1];
  if (p.weights.length !== 2 * (widths.length - 1)) return `expected ${2 * (widths.length - 1)} weight tensors, got ${p.weights.length}`;
  for (let l = 0; l + 1 < widths.length; l++) {
    const W = p.weights[2 * l], b = p.weights[2 * l + 1];
    if (W.shape.join('x') !== `${widths[l]}x${widths[l + 1]}`) return `layer ${l} kernel has shape [${W.shape}], expected [${widths[l]}, ${widths[l + 1]}]`;
    if (b.shape.join('x') !== `${widths[l + 1]}`) return `layer ${l} bias has shape [${b.shape}], expected [${widths[l + 1]}]`;
    for (const w of [W, b]) {
      if (w.values.length !== w.shape.reduce((a, c) => a * c, 1)) return `layer ${l}: ${w.values.length} values for shape [${w.shape}]`;
      if (!w.values.every(Number.isFinite)) return `layer ${l} has non-finite weights`;
    }
  }
  return undefined;
}

const NET_MODEL = z.object({
  hidden: z.array(z.number().int().positive()),
  activation: z.literal('relu'),
  mean: z.array(z.number()),
  std: z.array(z.number()),
  inputClip: z.number().positive(),
  tieBreak: z.object({ feature: z.string(), epsilon: z.number().nonnegative().finite() }),
  weights: z.array(z.object({ shape: z.array(z.number().int().positive()), values: z.array(z.number()) })),
  training: z.object({ epochs: z.number(), batchSize: z.number(), learningRate: z.number(), seed: z.number() }),
}).strict();

/**
 * Trains a policy net: inputs standardised with the training rows' mean/std and clipped, ReLU hidden
 * layers (Glorot-uniform from the seeded Rng), one sigmoid output, (weighted) binary cross-entropy
 * against labels in [0, 1], Adam with a seeded batch order. Deterministic for a given seed.
 */
export function trainNetPolicy(columns: Float32Array[], labels: Float32Array, opts: TrainNetPolicyOptions = {}): NetPolicy {
  const o = { ...NET_DEFAULTS, ...opts };
  const schema = o.schema ?? FEATURE_SCHEMA;
  if (columns.length !== schema.names.length) {
    throw new PolicyError(`trainNetPolicy got ${columns.length} feature columns but schema v${schema.version} has ${schema.names.length}`);
  }
  const n = checkTrainingData(columns, labels, o.weights);
  const F = columns.length;
  const rng = new Rng(o.seed);
  const widths = [F, ...o.hidden, 1];

  const X = stackColumns(columns);
  const Y = tf.tensor2d(labels, [n, 1], 'float32');
  const Wt = o.weights ? tf.tensor2d(o.weights, [n, 1], 'float32') : undefined;
  const { mean, std } = tf.tidy(() => {
    const mom = tf.moments(X, 0);
    const s = tf.sqrt(mom.variance);
    return { mean: mom.mean, std: tf.where(tf.greater(s, 1e-12), s, tf.onesLike(s)) };
  });
  const Xs = tf.tidy(() => standardise(X, mean, std, o.inputClip));
  X.dispose();
  const vars: TF.Variable[] = [];
  for (let l = 0; l + 1 < widths.length; l++) {
    const limit = Math.sqrt(6 / (widths[l] + widths[l + 1]));
    const w = new Float32Array(widths[l] * widths[l + 1]);
    for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * limit;
    vars.push(tf.tidy(() => tf.variable(tf.tensor2d(w, [widths[l], widths[l + 1]]), true)));
    vars.push(tf.tidy(() => tf.variable(tf.zeros([widths[l + 1]]), true)));
  }
  const optimizer = tf.train.adam(o.learningRate);
  let lastLoss = NaN;
  try {
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      const perm = rng.permutation(n);
      let lossSum = 0;
      let batches = 0;
      for (let start = 0; start < n; start += o.batchSize) {
        const idx = perm.subarray(start, Math.min(n, start + o.batchSize));
        const loss = tf.tidy(() => {
          const ib = tf.tensor1d(idx, 'int32');
          const xb = tf.gather(Xs, ib) as TF.Tensor2D;
          const yb = tf.gather(Y, ib);
          const wb = Wt ? tf.gather(Wt, ib) : undefined;
          const { value, grads } = tf.variableGrads(
            () => tf.losses.sigmoidCrossEntropy(yb, forward(xb, vars), wb) as TF.Scalar, vars);
          optimizer.applyGradients(grads as unknown as Parameters<typeof optimizer.applyGradients>[0]);
          return value.dataSync()[0];
        });
        lossSum += loss;
        batches++;
      }
      lastLoss = lossSum / batches;
    }
    const params: NetParams = {
      hidden: [...o.hidden],
      mean: Float32Array.from(mean.dataSync()),
      std: Float32Array.from(std.dataSync()),
      inputClip: o.inputClip,
      weights: vars.map((v) => ({ shape: v.shape.slice(), values: Float32Array.from(v.dataSync()) })),
      tieBreak: schema.names.includes(TIE_BREAK_FEATURE) ? { feature: TIE_BREAK_FEATURE, epsilon: NET_TIE_EPSILON } : { feature: '', epsilon: 0 },
      training: { epochs: o.epochs, batchSize: o.batchSize, learningRate: o.learningRate, seed: o.seed },
    };
    const provenance = { ...emptyProvenance(), rows: n, ...opts.provenance } as PolicyProvenance;
    return new NetPolicy(o.name ?? 'net', schema, params, provenance, { trainRows: n, trainLoss: float32ToJson(lastLoss), ...opts.metrics });
  } finally {
    optimizer.dispose();
    vars.forEach((v) => v.dispose());
    [Xs, Y, mean, std].forEach((t) => t.dispose());
    Wt?.dispose();
  }
}
