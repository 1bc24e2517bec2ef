import { PolicyError } from '../errors.js';
import { describeSchema, sameSchema } from '../features/schema.js';
import type { ConnectionFeatures, FeatureSchema } from '../features/types.js';
import type { Scorer } from './types.js';

/** Learned policy kinds; io.ts keeps the frozen kind → loader table. */
export type PolicyKind = 'cart' | 'net' | 'linear';

export const POLICY_FORMAT = 'autoprune-policy';
export const POLICY_FILE_VERSION = 1;

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** Where a policy's training data came from. */
export interface PolicyProvenance {
  /** Model families of the zoo, e.g. ['mlp']. */
  families: string[];
  /** Models (zoo members) the rows came from. */
  models: string[];
  /** Training rows (connections). */
  rows: number;
  /** The command line (or API call) that trained it. */
  command: string;
  [extra: string]: JsonValue;
}

/** Free-form training / validation metrics (JSON values). */
export type PolicyMetrics = Record<string, JsonValue>;

/** Options every learned policy's trainer on standardised features takes. */
export interface StandardisedTrainOptions {
  /** Standardised inputs are clipped to ±inputClip. Default 5. */
  inputClip?: number;
  /** Per-row loss weights. Default: all 1. */
  weights?: Float32Array;
  /** Policy name. Default: the kind. */
  name?: string;
  /** Schema of the columns. Default FEATURE_SCHEMA. */
  schema?: FeatureSchema;
  provenance?: Partial<PolicyProvenance>;
  metrics?: PolicyMetrics;
}

/** A policy file (policies/NAME.json). `model` is kind-specific. */
export interface PolicyFile<M = unknown> {
  format: typeof POLICY_FORMAT;
  version: typeof POLICY_FILE_VERSION;
  kind: PolicyKind;
  name: string;
  featureSchema: { version: number; names: string[] };
  model: M;
  provenance: PolicyProvenance;
  metrics: PolicyMetrics;
}

/**
 * A learned scorer. `predict` gives the raw predicted prunability in [0, 1] per live connection;
 * `score` adds a tiny deterministic tie-break (see tieBreak) and checks the feature schema.
 */
export interface Policy extends Scorer {
  readonly kind: PolicyKind;
  readonly name: string;
  readonly schema: FeatureSchema;
  provenance: PolicyProvenance;
  metrics: PolicyMetrics;
  predict(features: ConnectionFeatures): Float32Array[];
  score(features: ConnectionFeatures): Float32Array[];
  toJSON(): PolicyFile;
}

/** The file envelope of any policy around its kind-specific `model`. */
export function policyFile<M>(p: Policy, model: M): PolicyFile<M> {
  return {
    format: POLICY_FORMAT,
    version: POLICY_FILE_VERSION,
    kind: p.kind,
    name: p.name,
    featureSchema: { version: p.schema.version, names: [...p.schema.names] },
    model,
    provenance: p.provenance,
    metrics: p.metrics,
  };
}

export function emptyProvenance(): PolicyProvenance {
  return { families: [], models: [], rows: 0, command: '' };
}

/** Throws PolicyError unless the extracted features use exactly the schema the scorer was trained on. */
export function checkSchema(scorer: string, trained: FeatureSchema, produced: FeatureSchema): void {
  if (sameSchema(trained, produced)) return;
  const at = trained.names.findIndex((n, i) => n !== produced.names[i]);
  const where = at >= 0
    ? `; first difference at column ${at}: '${trained.names[at]}' vs '${produced.names[at] ?? '(none)'}'`
    : produced.names.length > trained.names.length ? `; the extractor adds ${produced.names.slice(trained.names.length).map((n) => `'${n}'`).join(', ')}` : '';
  throw new PolicyError(
    `policy '${scorer}' was trained on feature schema v${trained.version} [${trained.names.join(', ')}] ` +
    `but the extractor produces v${produced.version} [${produced.names.join(', ')}]${where}. ` +
    'Retrain the policy on features of this version (autoprune train-policy) or use the autoprune version it was trained with.');
}

/** Column indices of `names` in `schema`; PolicyError naming what is missing. */
export function requireFeatures(scorer: string, schema: FeatureSchema, names: readonly string[]): number[] {
  const idx = names.map((n) => schema.names.indexOf(n));
  const missing = names.filter((_, i) => idx[i] < 0);
  if (missing.length) {
    throw new PolicyError(`scorer '${scorer}' needs feature(s) ${missing.join(', ')}, which schema ${describeSchema(schema)} lacks`);
  }
  return idx;
}

/** Feature column used to break ties: the within-layer |w| percentile (smaller weights prune first). */
export const TIE_BREAK_FEATURE = 'abs_w_pct_layer';

/**
 * The schema column of a policy's tie-break feature, or −1 for none (''). Any other name must be a feature of the
 * schema: a typo in a policy file would otherwise silently drop the tie-break.
 */
export function tieColumnOf(policy: string, schema: FeatureSchema, feature: string): number {
  const column = schema.names.indexOf(feature);
  if (feature !== '' && column < 0) throw new PolicyError(`policy '${policy}': tie-break feature '${feature}' is not in the policy's feature schema`);
  return column;
}

/**
 * score = prediction + epsilon · (1 − tie column). With epsilon below half the smallest gap between
 * distinct predictions, the tie-break never reorders different predictions; among equal ones the
 * smaller weight (by layer percentile) goes first. Ties float32 cannot resolve are broken by the
 * consumer's deterministic (layer, index) order.
 */
export function tieBreak(pred: Float32Array, tie: Float32Array | undefined, epsilon: number): Float32Array {
  if (!tie || epsilon === 0) return pred;
  const out = new Float32Array(pred.length);
  for (let i = 0; i < pred.length; i++) out[i] = pred[i] + epsilon * (1 - tie[i]);
  return out;
}

/**
 * The shortest decimal that reads back as the same float32 (e.g. 0.1 instead of 0.10000000149011612),
 * so policy files stay short and diffable and still round-trip exactly.
 */
export function float32ToJson(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const v = Number(f.toPrecision(p));
    if (Math.fround(v) === f) return v;
  }
  return f;
}

export function float32ArrayToJson(a: ArrayLike<number>): number[] {
  return Array.from(a, float32ToJson);
}
