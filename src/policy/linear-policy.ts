import { CholeskyDecomposition, Matrix } from 'ml-matrix';
import { z } from 'zod';
import { PolicyError } from '../errors.js';
import { FEATURE_SCHEMA } from '../features/schema.js';
import type { ConnectionFeatures, FeatureSchema } from '../features/types.js';
import { checkTrainingData } from './cart-train.js';
import { formatIssues } from './cart-policy.js';
import {
  checkSchema, emptyProvenance, float32ToJson, type Policy, type PolicyFile, type PolicyMetrics,
  type PolicyProvenance, type StandardisedTrainOptions, TIE_BREAK_FEATURE, tieBreak, tieColumnOf, policyFile,
} from './policy.js';

/**
 * `model` of a 'linear' policy file: L2-regularised logistic regression on standardised, clipped features.
 * p = σ(intercept + Σ coef_j · clip((x_j − mean_j) / std_j, ±inputClip)). Coefficients are per standard
 * deviation of their feature; correlated features share a criterion between them (docs/policy.md, "Kinds").
 */
export interface LinearModelJSON {
  mean: number[];
  std: number[];
  inputClip: number;
  coef: number[];
  intercept: number;
  tieBreak: { feature: string; epsilon: number };
  training: { l2: number; iterations: number; converged: boolean };
}

export interface TrainLinearPolicyOptions extends StandardisedTrainOptions {
  /** L2 penalty on the coefficients (not the intercept), per unit of total row weight. Default 1e-4. */
  l2?: number;
  /** Most Newton (IRLS) iterations. Default 25. */
  iterations?: number;
}

export const LINEAR_DEFAULTS = Object.freeze({ l2: 1e-4, iterations: 25, inputClip: 5 });

/** Tie-break weight: predictions are continuous, this only separates exact (saturated) ties. */
const LINEAR_TIE_EPSILON = 1e-6;

interface LinearParams {
  mean: Float64Array;
  std: Float64Array;
  inputClip: number;
  coef: Float64Array;
  intercept: number;
  tieBreak: { feature: string; epsilon: number };
  training: LinearModelJSON['training'];
}

const sigmoid = (t: number) => 1 / (1 + Math.exp(-t));

/** A logistic-regression policy: scores a connection from its own feature row, on the host (no tensors). */
export class LinearPolicy implements Policy {
  readonly rowwise = true;
  readonly kind = 'linear' as const;
  /** Only the columns with a non-zero coefficient are read (and the tie-break column). */
  readonly needs: readonly string[];
  private readonly tieColumn: number;

  constructor(
    readonly name: string,
    readonly schema: FeatureSchema,
    readonly params: LinearParams,
    public provenance: PolicyProvenance = emptyProvenance(),
    public metrics: PolicyMetrics = {},
  ) {
    const problem = checkLinearShapes(params, schema.names.length);
    if (problem) throw new PolicyError(`policy '${name}': malformed linear model: ${problem}`);
    this.tieColumn = tieColumnOf(name, schema, params.tieBreak.feature);
    this.needs = schema.names.filter((n, j) => params.coef[j] !== 0 || j === this.tieColumn);
  }

  /** Predicted prunability σ(intercept + coef · standardised features) per live connection. */
  predict(features: ConnectionFeatures): Float32Array[] {
    checkSchema(this.name, this.schema, features.schema);
    const { mean, std, coef, intercept, inputClip } = this.params;
    const used = Array.from(coef.keys()).filter((j) => coef[j] !== 0);
    return features.layers.map((lf) => {
      const eta = new Float64Array(lf.count).fill(intercept);
      for (const j of used) {
        const col = lf.columns[j];
        const m = mean[j], s = std[j], c = coef[j];
        for (let i = 0; i < lf.count; i++) eta[i] += c * Math.max(-inputClip, Math.min(inputClip, (col[i] - m) / s));
      }
      return Float32Array.from(eta, sigmoid);
    });
  }

  score(features: ConnectionFeatures): Float32Array[] {
    const eps = this.tieColumn >= 0 ? this.params.tieBreak.epsilon : 0;
    return this.predict(features).map((p, i) => tieBreak(p, features.layers[i].columns[this.tieColumn], eps));
  }

  /** The coefficients by feature name, largest magnitude first: what the policy weighs, per standard deviation. */
  weights(): { feature: string; coef: number }[] {
    return this.schema.names.map((feature, j) => ({ feature, coef: this.params.coef[j] }))
      .filter((w) => w.coef !== 0).sort((a, b) => Math.abs(b.coef) - Math.abs(a.coef));
  }

  toJSON(): PolicyFile<LinearModelJSON> {
    const p = this.params;
    return policyFile(this, {
      mean: Array.from(p.mean), std: Array.from(p.std), inputClip: p.inputClip,
      coef: Array.from(p.coef), intercept: p.intercept,
      tieBreak: { ...p.tieBreak }, training: { ...p.training },
    });
  }

  static fromJSON(file: PolicyFile, source: string): LinearPolicy {
    const parsed = LINEAR_MODEL.safeParse(file.model);
    if (!parsed.success) throw new PolicyError(`policy file ${source}: invalid 'linear' model: ${formatIssues(parsed.error)}`);
    const m = parsed.data;
    const schema: FeatureSchema = Object.freeze({ version: file.featureSchema.version, names: Object.freeze([...file.featureSchema.names]) });
    const params: LinearParams = {
      mean: Float64Array.from(m.mean), std: Float64Array.from(m.std), inputClip: m.inputClip,
      coef: Float64Array.from(m.coef), intercept: m.intercept, tieBreak: m.tieBreak, training: m.training,
    };
    const problem = checkLinearShapes(params, schema.names.length);
    if (problem) throw new PolicyError(`policy file ${source}: malformed 'linear' model: ${problem}`);
    return new LinearPolicy(file.name, schema, params, file.provenance, file.metrics);
  }
}

function checkLinearShapes(p: LinearParams, F: number): string | undefined {
  if (p.mean.length !== F || p.std.length !== F || p.coef.length !== F) {
    return `mean/std/coef have ${p.mean.length}/${p.std.length}/${p.coef.length} entries for ${F} features`;
  }
  if (!p.std.every((s) => s > 0 && Number.isFinite(s))) return 'std must be finite and > 0';
  if (!p.mean.every(Number.isFinite) || !p.coef.every(Number.isFinite) || !Number.isFinite(p.intercept)) return 'mean, coef and intercept must be finite';
  return undefined;
}

const LINEAR_MODEL = z.object({
  mean: z.array(z.number()),
  std: z.array(z.number()),
  inputClip: z.number().positive(),
  coef: z.array(z.number()),
  intercept: z.number(),
  tieBreak: z.object({ feature: z.string(), epsilon: z.number().nonnegative().finite() }),
  training: z.object({ l2: z.number().nonnegative(), iterations: z.number().int().nonnegative(), converged: z.boolean() }),
}).strict();

/**
 * Fits the logistic regression by Newton's method (iteratively reweighted least squares): each iteration solves
 * (XᵀWX + λ·W̄·I) Δ = Xᵀ(s ⊙ (y − p)) − λ·W̄·β with ml-matrix's Cholesky decomposition, on the standardised,
 * clipped rows with a column of ones (the intercept, not penalised). W = s ⊙ p(1 − p) with s the row weights,
 * W̄ their sum; labels in [0, 1] (soft labels allowed). Deterministic: no sampling, no random start.
 */
export function trainLinearPolicy(columns: Float32Array[], labels: Float32Array, opts: TrainLinearPolicyOptions = {}): LinearPolicy {
  const o = { ...LINEAR_DEFAULTS, ...opts };
  const schema = o.schema ?? FEATURE_SCHEMA;
  if (columns.length !== schema.names.length) {
    throw new PolicyError(`trainLinearPolicy got ${columns.length} feature columns but schema v${schema.version} has ${schema.names.length}`);
  }
  const n = checkTrainingData(columns, labels, o.weights);
  const F = columns.length;
  const s = o.weights ?? new Float32Array(n).fill(1);
  let total = 0;
  for (let i = 0; i < n; i++) total += s[i];
  // Weighted mean and standard deviation per feature; a constant feature gets std 1 (and, standardised to 0, no say).
  const mean = new Float64Array(F), std = new Float64Array(F);
  for (let j = 0; j < F; j++) {
    const c = columns[j];
    let m = 0;
    for (let i = 0; i < n; i++) m += s[i] * c[i];
    m /= total;
    let v = 0;
    for (let i = 0; i < n; i++) v += s[i] * (c[i] - m) ** 2;
    const sd = Math.sqrt(v / total);
    mean[j] = m;
    std[j] = sd > 1e-12 ? sd : 1;
  }
  // Standardised rows, feature-major, with the intercept's column of ones last.
  const D = F + 1;
  const z = Array.from({ length: F }, (_, j) => Float64Array.from(columns[j], (x) => Math.max(-o.inputClip, Math.min(o.inputClip, (x - mean[j]) / std[j]))));
  const beta = new Float64Array(D);
  const eta = new Float64Array(n);
  const lambda = o.l2 * total;
  let iterations = 0;
  let converged = false;
  while (iterations < o.iterations && !converged) {
    iterations++;
    const H = new Float64Array(D * D);
    const g = new Float64Array(D);
    const row = new Float64Array(D);
    row[F] = 1;
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < F; j++) row[j] = z[j][i];
      const p = sigmoid(eta[i]);
      const w = s[i] * Math.max(p * (1 - p), 1e-10);
      const r = s[i] * (labels[i] - p);
      for (let a = 0; a < D; a++) {
        const wa = w * row[a];
        g[a] += r * row[a];
        for (let b = a; b < D; b++) H[a * D + b] += wa * row[b];
      }
    }
    const A = new Matrix(D, D);
    for (let a = 0; a < D; a++) {
      for (let b = a; b < D; b++) {
        A.set(a, b, H[a * D + b]);
        A.set(b, a, H[a * D + b]);
      }
      if (a < F) {
        A.set(a, a, A.get(a, a) + lambda);
        g[a] -= lambda * beta[a];
      }
    }
    const chol = new CholeskyDecomposition(A);
    if (!chol.isPositiveDefinite()) throw new PolicyError('trainLinearPolicy: the rows do not determine the coefficients (a singular system); raise l2');
    const delta = chol.solve(Matrix.columnVector(Array.from(g))).getColumn(0);
    let largest = 0;
    for (let a = 0; a < D; a++) {
      beta[a] += delta[a];
      largest = Math.max(largest, Math.abs(delta[a]));
    }
    for (let i = 0; i < n; i++) {
      let e = beta[F];
      for (let j = 0; j < F; j++) e += beta[j] * z[j][i];
      eta[i] = e;
    }
    converged = largest < 1e-6;
  }
  let loss = 0;
  for (let i = 0; i < n; i++) {
    const p = Math.min(1 - 1e-7, Math.max(1e-7, sigmoid(eta[i])));
    loss -= s[i] * (labels[i] * Math.log(p) + (1 - labels[i]) * Math.log(1 - p));
  }
  const params: LinearParams = {
    mean, std, inputClip: o.inputClip, coef: beta.slice(0, F), intercept: beta[F],
    tieBreak: schema.names.includes(TIE_BREAK_FEATURE) ? { feature: TIE_BREAK_FEATURE, epsilon: LINEAR_TIE_EPSILON } : { feature: '', epsilon: 0 },
    training: { l2: o.l2, iterations, converged },
  };
  const provenance = { ...emptyProvenance(), rows: n, ...opts.provenance } as PolicyProvenance;
  return new LinearPolicy(o.name ?? 'linear', schema, params, provenance, { trainRows: n, trainLoss: float32ToJson(loss / total), ...opts.metrics });
}
