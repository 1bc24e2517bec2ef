import { z } from 'zod';
import { PolicyError } from '../errors.js';
import { FEATURE_SCHEMA } from '../features/schema.js';
import type { ConnectionFeatures, FeatureSchema } from '../features/types.js';
import { CART_DEFAULTS, type CartEngine, type CartOptions, fitCart, type MlCartRegressor, toMlCart } from './cart-train.js';
import { CompiledTree, treeDepth, type TreeArrays, validateTree } from './compiled-tree.js';
import {
  checkSchema, emptyProvenance, float32ArrayToJson, float32ToJson, type Policy, type PolicyFile, type PolicyMetrics,
  type PolicyProvenance, TIE_BREAK_FEATURE, policyFile, tieColumnOf,
} from './policy.js';

/** `model` of a 'cart' policy file. Node i is a leaf when left[i] = −1. */
export interface CartModelJSON {
  engine: CartEngine;
  options: { maxDepth: number; minNumSamples: number; minLeafSamples: number };
  depth: number;
  /** Feature used to order equal leaf values, and its weight (see policy.ts tieBreak). */
  tieBreak: { feature: string; epsilon: number };
  /** Share of the total squared-error reduction per feature (features with 0 left out). */
  importance: Record<string, number>;
  nodes: { feature: number[]; threshold: number[]; left: number[]; right: number[]; value: number[]; samples?: number[] };
}

export interface TrainCartPolicyOptions extends CartOptions {
  /** Policy name (file name without .json). Default 'cart'. */
  name?: string;
  /** Schema of the columns. Default FEATURE_SCHEMA. */
  schema?: FeatureSchema;
  provenance?: Partial<PolicyProvenance>;
  metrics?: PolicyMetrics;
}

/** Largest tie-break weight: far below any meaningful difference in predicted prunability. */
const MAX_TIE_EPSILON = 1e-3;

/** Half-gap rule: epsilon < (smallest gap between distinct leaf values) / 2. */
function tieEpsilon(values: Float32Array): number {
  const distinct = Array.from(new Set(values)).sort((a, b) => a - b);
  let gap = Infinity;
  for (let i = 1; i < distinct.length; i++) gap = Math.min(gap, distinct[i] - distinct[i - 1]);
  return float32ToJson(Math.min(MAX_TIE_EPSILON, gap / 4));
}

/** A CART regression tree over connection features, scored through a compiled flat tree. */
export class CartPolicy implements Policy {
  /** Each connection is scored from its own feature row. */
  readonly rowwise = true;
  readonly kind = 'cart' as const;
  readonly compiled: CompiledTree;
  /** The features the tree splits on, and the tie-break's: the only columns scoring reads. */
  readonly needs: readonly string[];
  private readonly tieColumn: number;

  constructor(
    readonly name: string,
    readonly schema: FeatureSchema,
    readonly tree: TreeArrays,
    readonly info: Omit<CartModelJSON, 'nodes' | 'depth'> & { samples?: Int32Array },
    public provenance: PolicyProvenance = emptyProvenance(),
    public metrics: PolicyMetrics = {},
  ) {
    const problem = validateTree(tree, schema.names.length);
    if (problem) throw new PolicyError(`policy '${name}': malformed tree: ${problem}`);
    this.compiled = new CompiledTree(tree);
    this.tieColumn = tieColumnOf(name, schema, info.tieBreak.feature);
    const used = new Set<number>();
    for (let k = 0; k < tree.value.length; k++) if (tree.left[k] >= 0) used.add(tree.feature[k]);
    if (this.tieColumn >= 0) used.add(this.tieColumn);
    this.needs = Object.freeze([...used].sort((a, b) => a - b).map((f) => schema.names[f]));
  }

  get depth(): number {
    return this.compiled.depth;
  }

  /** Predicted prunability (leaf value) per live connection. */
  predict(features: ConnectionFeatures): Float32Array[] {
    checkSchema(this.name, this.schema, features.schema);
    return features.layers.map((lf) => this.compiled.evaluate(lf.columns));
  }

  /** predict() plus the tie-break (policy.ts tieBreak), fused into the tree pass. */
  score(features: ConnectionFeatures): Float32Array[] {
    checkSchema(this.name, this.schema, features.schema);
    const eps = this.tieColumn >= 0 ? this.info.tieBreak.epsilon : 0;
    return features.layers.map((lf) =>
      this.compiled.evaluate(lf.columns, undefined, eps > 0 ? { column: lf.columns[this.tieColumn], epsilon: eps } : undefined));
  }

  /** An ml-cart DecisionTreeRegression with the same splits (row-wise; for cross-checks). */
  toMlCart(): MlCartRegressor {
    return toMlCart(this.tree);
  }

  toJSON(): PolicyFile<CartModelJSON> {
    const t = this.tree;
    return policyFile(this, {
      engine: this.info.engine,
      options: { ...this.info.options },
      depth: this.depth,
      tieBreak: { ...this.info.tieBreak },
      importance: { ...this.info.importance },
      nodes: {
        feature: Array.from(t.feature),
        threshold: float32ArrayToJson(t.threshold),
        left: Array.from(t.left),
        right: Array.from(t.right),
        value: float32ArrayToJson(t.value),
        ...(this.info.samples ? { samples: Array.from(this.info.samples) } : {}),
      },
    });
  }

  /** Builds a CartPolicy from a checked policy file envelope; validates the model. */
  static fromJSON(file: PolicyFile, source: string): CartPolicy {
    const parsed = CART_MODEL.safeParse(file.model);
    if (!parsed.success) {
      throw new PolicyError(`policy file ${source}: invalid 'cart' model: ${formatIssues(parsed.error)}`);
    }
    const m = parsed.data;
    const nodes = m.nodes;
    const tree: TreeArrays = {
      feature: Int32Array.from(nodes.feature),
      threshold: Float32Array.from(nodes.threshold),
      left: Int32Array.from(nodes.left),
      right: Int32Array.from(nodes.right),
      value: Float32Array.from(nodes.value),
    };
    const schema: FeatureSchema = Object.freeze({ version: file.featureSchema.version, names: Object.freeze([...file.featureSchema.names]) });
    const problem = validateTree(tree, schema.names.length);
    if (problem) throw new PolicyError(`policy file ${source}: malformed 'cart' tree: ${problem}`);
    if (treeDepth(tree) !== m.depth) {
      throw new PolicyError(`policy file ${source}: 'cart' model says depth ${m.depth} but its tree has depth ${treeDepth(tree)}`);
    }
    if (nodes.samples && nodes.samples.length !== tree.value.length) {
      throw new PolicyError(`policy file ${source}: 'samples' has ${nodes.samples.length} entries for ${tree.value.length} nodes`);
    }
    return new CartPolicy(file.name, schema, tree, {
      engine: m.engine, options: m.options, tieBreak: m.tieBreak, importance: m.importance,
      samples: nodes.samples ? Int32Array.from(nodes.samples) : undefined,
    }, file.provenance, file.metrics);
  }
}

const intArray = z.array(z.number().int());
const CART_MODEL = z.object({
  engine: z.enum(['fast', 'ml-cart']),
  options: z.object({ maxDepth: z.number().int().nonnegative(), minNumSamples: z.number().nonnegative(), minLeafSamples: z.number().nonnegative() }),
  depth: z.number().int().nonnegative(),
  tieBreak: z.object({ feature: z.string(), epsilon: z.number().nonnegative().finite() }),
  importance: z.record(z.number()),
  nodes: z.object({
    feature: intArray, threshold: z.array(z.number()), left: intArray, right: intArray, value: z.array(z.number().finite()),
    samples: intArray.optional(),
  }),
}).strict();

export function formatIssues(err: z.ZodError): string {
  return err.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ') +
    (err.issues.length > 5 ? `; … ${err.issues.length - 5} more` : '');
}

/**
 * Trains a CART policy on connection features (`columns`, one Float32Array per schema feature) and
 * prunability labels in [0, 1] (1 = prune). See CartOptions for the engines and stopping rules.
 */
export function trainCartPolicy(columns: Float32Array[], labels: Float32Array, opts: TrainCartPolicyOptions = {}): CartPolicy {
  const schema = opts.schema ?? FEATURE_SCHEMA;
  if (columns.length !== schema.names.length) {
    throw new PolicyError(`trainCartPolicy got ${columns.length} feature columns but schema v${schema.version} has ${schema.names.length}`);
  }
  const o = { ...CART_DEFAULTS, ...opts };
  const fitted = fitCart(columns, labels, o);
  const importance: Record<string, number> = {};
  fitted.importance.forEach((v, f) => { if (v > 0) importance[schema.names[f]] = float32ToJson(v); });
  const tieFeature = schema.names.includes(TIE_BREAK_FEATURE) ? TIE_BREAK_FEATURE : '';
  const name = opts.name ?? 'cart';
  const policy = new CartPolicy(name, schema, fitted.tree, {
    engine: o.engine,
    options: { maxDepth: o.maxDepth, minNumSamples: o.minNumSamples, minLeafSamples: o.minLeafSamples },
    tieBreak: { feature: tieFeature, epsilon: tieFeature ? tieEpsilon(fitted.tree.value) : 0 },
    importance,
    samples: fitted.samples,
  }, { ...emptyProvenance(), rows: labels.length, ...opts.provenance } as PolicyProvenance);
  const pred = policy.compiled.evaluate(columns);
  let se = 0;
  for (let i = 0; i < labels.length; i++) se += (pred[i] - labels[i]) ** 2;
  let leaves = 0;
  for (let k = 0; k < fitted.tree.left.length; k++) if (fitted.tree.left[k] < 0) leaves++;
  policy.metrics = { trainRows: fitted.rows, trainMse: float32ToJson(se / labels.length), depth: policy.depth, leaves, ...opts.metrics };
  return policy;
}
