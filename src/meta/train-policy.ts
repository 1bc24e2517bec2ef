import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { DataError, UsageError } from '../errors.js';
import { describeSchema, FEATURE_SCHEMA, sameSchema } from '../features/schema.js';
import type { ConnectionFeatures, FeatureSchema } from '../features/types.js';
import { domainOfRows, kindsOfModels } from '../policy/domain.js';
import { trainCartPolicy } from '../policy/cart-policy.js';
import { CART_DEFAULTS, type CartOptions } from '../policy/cart-train.js';
import { savePolicy } from '../policy/io.js';
import { trainNetPolicy, type TrainNetPolicyOptions } from '../policy/net-policy.js';
import { LinearPolicy, trainLinearPolicy, type TrainLinearPolicyOptions } from '../policy/linear-policy.js';
import type { JsonValue, Policy, PolicyFile, PolicyKind } from '../policy/policy.js';
import { META_COLUMNS, metaSchema, readMeta } from './format.js';
import { meanFinite, topKPrecision, weightedAuc } from './metrics.js';

export interface TrainPolicyOptions {
  /** Meta-dataset header paths (datasets/meta-*.json). */
  meta: string[];
  /** Meta-model kind. Default 'cart'. */
  kind?: PolicyKind;
  /**
   * The feature schema the policy will score with: that of the extractor pruning runs use. A meta-dataset of
   * another schema is refused (its policy could not score). Default: the built-in extractor's (FEATURE_SCHEMA).
   */
  schema?: FeatureSchema;
  /** Output policy path (policies/NAME.json). */
  out: string;
  /** Policy name. Default: the out file's base name. */
  name?: string;
  /** Command line recorded in the policy's provenance. */
  command?: string;
  /** CART settings. Default: maxDepth 10, minLeafSamples 50 (see TRAIN_POLICY_CART_DEFAULTS). */
  cart?: CartOptions;
  /** Policy-net settings (kind 'net'). Default NET_DEFAULTS of the policy module. */
  net?: Omit<TrainNetPolicyOptions, 'weights' | 'schema' | 'name' | 'provenance' | 'metrics'>;
  /** Logistic-regression settings (kind 'linear'). Default LINEAR_DEFAULTS of the policy module. */
  linear?: Omit<TrainLinearPolicyOptions, 'weights' | 'schema' | 'name' | 'provenance' | 'metrics'>;
  /** Run leave-one-model-out and leave-one-family-out validation. Default true. */
  validate?: boolean;
  /** Train with the rows' stratification weights (else every sampled row counts once). Default false. */
  weighted?: boolean;
  /** Give every family the same total weight in training (else a family counts by its row count). Default false. */
  balanceFamilies?: boolean;
  onProgress?: (e: TrainPolicyEvent) => void;
}

export type TrainPolicyEvent =
  | { type: 'loaded'; rows: number; models: number; families: string[] }
  | { type: 'fold'; split: 'model' | 'family'; heldOut: string; auc: number; precisionAtK: number; magnitudeAuc: number; magnitudePrecisionAtK: number }
  /** Something the run could not do and why (a held-out check that needs two models or two families). */
  | { type: 'note'; message: string }
  | { type: 'fitted'; seconds: number; weights?: { feature: string; coef: number }[] }
  | { type: 'written'; path: string };

/**
 * CART defaults for policies: depth 10 (fast scoring stays far above 10 M connections/s) and leaves of
 * ≥ 50 rows, which smooths the graded labels instead of memorising single connections.
 */
export const TRAIN_POLICY_CART_DEFAULTS: CartOptions = Object.freeze({ ...CART_DEFAULTS, maxDepth: 10, minLeafSamples: 50, minNumSamples: 100 });

/** Binarisation threshold of the graded oracle labels for AUC / precision. */
export const LABEL_THRESHOLD = 0.5;

/** All rows of several meta-datasets, column-wise, with grouping keys. */
export interface MetaRows {
  schema: FeatureSchema;
  columns: Float32Array[];
  label: Float32Array;
  weight: Float32Array;
  /** Per row: index into `models`. */
  model: Int32Array;
  stage: Float32Array;
  /** `family/modelId` per model index, with the kinds of its prunable kernels when its meta header lists its layers. */
  models: { key: string; family: string; id: string; kinds?: string[] }[];
  families: string[];
  /**
   * Where the rows came from, for the policy's provenance: each meta-dataset's header path, the sha256 of its header and
   * rows files, the command that built it (its --models, --data, --label …) and each model's file hash or architecture.
   */
  sources: MetaSource[];
}

/** One meta-dataset a policy's rows came from (provenance.sources). */
export interface MetaSource {
  meta: string;
  sha256: { header: string; rows: string };
  family: string;
  command: string;
  createdAt: string;
  models: { id: string; modelHash?: string; args: JsonValue }[];
}

/** Loads and concatenates meta-datasets; they must share one feature schema. */
export function loadMetaRows(paths: string[], expected: FeatureSchema = FEATURE_SCHEMA): MetaRows {
  if (paths.length === 0) throw new UsageError('train-policy needs at least one meta-dataset (--meta datasets/meta-FAMILY.json)');
  // The same file given twice (by any spelling of its path) is said as such, not as a model found in "both" of them.
  const twice = paths.find((p, i) => paths.findIndex((q) => resolve(q) === resolve(p)) !== i);
  if (twice !== undefined) throw new UsageError(`meta-dataset '${twice}' is given twice: pass each meta-dataset once`);
  const sets = paths.map((p) => ({ path: p, ds: readMeta(p) }));
  // A model in two meta-datasets (the same file twice, or a build of m1–m3 beside one of m1–m5) would be
  // counted twice, and its copy would sit in the training rows of its own leave-one-model-out check.
  // A user's model is the same trained model by its bytes (modelHash), however its path or the data's flags were spelled.
  const seen = new Map<string, { set: number; path: string; id: string }>();
  for (const [set, { path, ds }] of sets.entries()) {
    for (const m of ds.header.models) {
      const key = m.modelHash ?? (m.cacheKey || `${ds.header.family}/${m.id}`);
      const first = seen.get(key);
      if (first !== undefined) {
        throw new UsageError(first.set === set
          ? `models '${first.id}' and '${m.id}' of '${path}' are the same trained model (identical model files): its rows would count twice, and its copy would sit in its own held-out check; build the meta-dataset with each model once`
          : `model '${m.id}' is in both '${first.path}' and '${path}' (the same trained model): pass each model's rows once (a build of the whole family replaces a build of part of it)`);
      }
      seen.set(key, { set, path, id: m.id });
    }
  }
  const schema = metaSchema(sets[0].ds);
  for (const s of sets) {
    if (!sameSchema(metaSchema(s.ds), schema)) {
      throw new DataError(`meta-dataset '${s.path}' uses feature schema v${s.ds.header.featureSchema.version}, '${sets[0].path}' uses v${schema.version}; rebuild them with one autoprune version`);
    }
  }
  if (!sameSchema(schema, expected)) {
    throw new DataError(`meta-dataset '${sets[0].path}' uses feature schema ${describeSchema(schema)}, and pruning runs extract ${describeSchema(expected)}: ` +
      'a policy trained on it could not score them; rebuild the meta-dataset with this autoprune (autoprune build-meta)');
  }
  const F = schema.names.length;
  const W = F + META_COLUMNS.length;
  const n = sets.reduce((a, s) => a + s.ds.header.rows, 0);
  const columns = Array.from({ length: F }, () => new Float32Array(n));
  const label = new Float32Array(n), weight = new Float32Array(n), stage = new Float32Array(n);
  const model = new Int32Array(n);
  const models: MetaRows['models'] = [];
  let r = 0;
  for (const { ds } of sets) {
    const base = models.length;
    for (const m of ds.header.models) {
      const layers = (m as { layers?: { kind?: unknown }[] }).layers;
      const kinds = Array.isArray(layers) && layers.length > 0 && layers.every((l) => typeof l.kind === 'string') ? [...new Set(layers.map((l) => l.kind as string))] : undefined;
      models.push({ key: `${ds.header.family}/${m.id}`, family: ds.header.family, id: m.id, ...(kinds ? { kinds } : {}) });
    }
    const d = ds.data;
    for (let i = 0; i < ds.header.rows; i++, r++) {
      const o = i * W;
      for (let c = 0; c < F; c++) columns[c][r] = d[o + c];
      label[r] = d[o + F];
      weight[r] = d[o + F + 1];
      model[r] = base + d[o + F + 2];
      stage[r] = d[o + F + 4];
    }
  }
  const families = [...new Set(models.map((m) => m.family))];
  const sha = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
  const sources: MetaSource[] = sets.map(({ path, ds }) => ({
    meta: path, sha256: { header: sha(path), rows: sha(join(dirname(path), ds.header.data)) }, family: ds.header.family,
    command: ds.header.command, createdAt: ds.header.createdAt,
    models: ds.header.models.map((m) => ({ id: m.id, ...(m.modelHash ? { modelHash: m.modelHash } : {}), args: (m.args ?? null) as JsonValue })),
  }));
  return { schema, columns, label, weight, model, stage, models, families, sources };
}

function subset(rows: MetaRows, keep: (r: number) => boolean): { columns: Float32Array[]; label: Float32Array; weight: Float32Array; idx: Int32Array } {
  const idx: number[] = [];
  for (let r = 0; r < rows.label.length; r++) if (keep(r)) idx.push(r);
  const ix = Int32Array.from(idx);
  return {
    idx: ix,
    columns: rows.columns.map((c) => Float32Array.from(ix, (i) => c[i])),
    label: Float32Array.from(ix, (i) => rows.label[i]),
    weight: Float32Array.from(ix, (i) => rows.weight[i]),
  };
}

/** Fits a policy of `kind` on rows (columns in schema order). */
function fit(kind: PolicyKind, schema: FeatureSchema, name: string, columns: Float32Array[], label: Float32Array, weight: Float32Array | undefined, o: TrainPolicyOptions): Policy {
  if (kind === 'cart') return trainCartPolicy(columns, label, { ...TRAIN_POLICY_CART_DEFAULTS, ...(o.cart ?? {}), weights: weight, schema, name });
  if (kind === 'net') return trainNetPolicy(columns, label, { ...(o.net ?? {}), weights: weight, schema, name });
  if (kind === 'linear') return trainLinearPolicy(columns, label, { ...(o.linear ?? {}), weights: weight, schema, name });
  throw new UsageError(`unknown policy kind '${kind}'; known: cart, net, linear`);
}

/** A policy's raw predictions on meta-dataset rows (wrapped as one pseudo-layer of features). */
function predictRows(p: Policy, schema: FeatureSchema, columns: Float32Array[]): Float32Array {
  const n = columns[0]?.length ?? 0;
  const f: ConnectionFeatures = {
    schema, layers: [{ layer: 0, name: 'meta-rows', count: n, indices: Int32Array.from({ length: n }, (_, i) => i), columns }],
  };
  return p.predict(f)[0];
}

function disposePolicy(p: Policy): void {
  (p as { dispose?: () => void }).dispose?.();
}

/** Per (model, stage) group metrics of a predictor and of global magnitude (small |w| prunes first), averaged. */
function groupMetrics(rows: MetaRows, idx: Int32Array, pred: Float32Array, absW: number) {
  const groups = new Map<string, number[]>();
  idx.forEach((r, k) => {
    const key = `${rows.model[r]}@${rows.stage[r]}`;
    const g = groups.get(key);
    if (g) g.push(k); else groups.set(key, [k]);
  });
  const auc: number[] = [], prec: number[] = [], magAuc: number[] = [], magPrec: number[] = [];
  for (const ks of groups.values()) {
    const s = Float32Array.from(ks, (k) => pred[k]);
    const mag = Float32Array.from(ks, (k) => -rows.columns[absW][idx[k]]);
    const y = Float32Array.from(ks, (k) => rows.label[idx[k]]);
    const w = Float32Array.from(ks, (k) => rows.weight[idx[k]]);
    auc.push(weightedAuc(s, y, w, LABEL_THRESHOLD));
    prec.push(topKPrecision(s, y, w, LABEL_THRESHOLD));
    magAuc.push(weightedAuc(mag, y, w, LABEL_THRESHOLD));
    magPrec.push(topKPrecision(mag, y, w, LABEL_THRESHOLD));
  }
  const r4 = (x: number) => (Number.isFinite(x) ? Number(x.toFixed(4)) : null);
  return {
    rows: idx.length, groups: groups.size,
    auc: r4(meanFinite(auc)), precisionAtK: r4(meanFinite(prec)),
    magnitudeAuc: r4(meanFinite(magAuc)), magnitudePrecisionAtK: r4(meanFinite(magPrec)),
  };
}

type FoldMetrics = ReturnType<typeof groupMetrics> & { heldOut: string };

function meanOf(folds: FoldMetrics[]): Record<string, number | null> {
  const keys = ['auc', 'precisionAtK', 'magnitudeAuc', 'magnitudePrecisionAtK'] as const;
  return Object.fromEntries(keys.map((k) => {
    const m = meanFinite(folds.map((f) => f[k] ?? NaN));
    return [k, Number.isFinite(m) ? Number(m.toFixed(4)) : null];
  }));
}

/**
 * Trains a policy on meta-datasets and writes its policy file (kind, feature schema, model,
 * provenance, validation metrics). Validation: leave-one-model-out (each zoo model held out in turn)
 * and, with ≥ 2 families, leave-one-family-out; per held-out (model, stage) the weighted AUC against
 * binarised oracle labels and the precision of the top-k prunable set, next to global magnitude's.
 */
export function trainPolicy(options: TrainPolicyOptions): { path: string; file: PolicyFile } {
  const kind = options.kind ?? 'cart';
  const rows = loadMetaRows(options.meta, options.schema);
  options.onProgress?.({ type: 'loaded', rows: rows.label.length, models: rows.models.length, families: rows.families });
  const absW = rows.schema.names.indexOf('abs_w');
  if (absW < 0) throw new DataError("meta-dataset has no 'abs_w' feature column (needed for the magnitude comparison)");
  const weighted = options.weighted ?? false;
  const famOfRow = (r: number) => rows.models[rows.model[r]].family;
  /** Training weights of a subset: stratification weights and/or equal total weight per family. */
  const trainWeights = (idx: Int32Array, w: Float32Array): Float32Array | undefined => {
    if (!options.balanceFamilies) return weighted ? w : undefined;
    const count = new Map<string, number>();
    for (const r of idx) count.set(famOfRow(r), (count.get(famOfRow(r)) ?? 0) + 1);
    return Float32Array.from(idx, (r, k) => (weighted ? w[k] : 1) * idx.length / (count.size * count.get(famOfRow(r))!));
  };

  const validate = (split: 'model' | 'family', heldOut: (r: number) => boolean, name: string): FoldMetrics => {
    const tr = subset(rows, (r) => !heldOut(r));
    const te = subset(rows, heldOut);
    const p = fit(kind, rows.schema, 'fold', tr.columns, tr.label, trainWeights(tr.idx, tr.weight), options);
    const m = { heldOut: name, ...groupMetrics(rows, te.idx, predictRows(p, rows.schema, te.columns), absW) };
    disposePolicy(p);
    options.onProgress?.({ type: 'fold', split, heldOut: name, auc: m.auc ?? NaN, precisionAtK: m.precisionAtK ?? NaN, magnitudeAuc: m.magnitudeAuc ?? NaN, magnitudePrecisionAtK: m.magnitudePrecisionAtK ?? NaN });
    return m;
  };
  const metrics: Record<string, JsonValue> = {
    labels: `graded oracle label binarised at ${LABEL_THRESHOLD} (removed at ≥ half of the later targets); metrics averaged over held-out (model, stage) groups, rows weighted by live/sampled`,
  };
  if (options.validate ?? true) {
    if (rows.models.length >= 2) {
      const folds = rows.models.map((m, i) => validate('model', (r) => rows.model[r] === i, m.key));
      metrics.leaveOneModelOut = { mean: meanOf(folds), folds } as unknown as JsonValue;
    } else {
      // One model: no held-out check; the training figures below are no estimate of the policy on another model.
      const message = `no held-out check: leave-one-model-out needs rows of at least 2 models (these have 1); metrics.train is the fit to its own rows, not what the policy does on another model`;
      metrics.validation = message;
      options.onProgress?.({ type: 'note', message });
    }
    if (rows.families.length >= 2) {
      const famOf = rows.models.map((m) => m.family);
      const folds = rows.families.map((fam) => validate('family', (r) => famOf[rows.model[r]] === fam, fam));
      metrics.leaveOneFamilyOut = { mean: meanOf(folds), folds } as unknown as JsonValue;
    }
  }
  const t0 = Date.now();
  const name = options.name ?? options.out.replace(/^.*\//, '').replace(/\.json$/, '');
  const all = subset(rows, () => true);
  const policy = fit(kind, rows.schema, name, all.columns, all.label, trainWeights(all.idx, all.weight), options);
  try {
    // A linear policy's weights are what its score leans on, per standard deviation of each feature: say them.
    options.onProgress?.({ type: 'fitted', seconds: (Date.now() - t0) / 1000, ...(policy instanceof LinearPolicy ? { weights: policy.weights() } : {}) });
    metrics.train = groupMetrics(rows, all.idx, predictRows(policy, rows.schema, all.columns), absW) as unknown as JsonValue;
    policy.metrics = { ...policy.metrics, ...metrics };
    // Which kinds of layer the rows came from (the is_conv feature): a policy that never saw a convolution scores one as
    // it scores the layers it saw, which the run says (prune-service.ts, policyKindsWarning).
    const ci = rows.schema.names.indexOf('is_conv');
    const layerKinds = ci < 0 ? undefined : [...new Set(Array.from(rows.columns[ci], (v) => (v > 0.5 ? 'convolution' : 'other')))].sort();
    // The layers it saw (kind, fan-in and units ranges): outside them the agent lets LAMP allocate (src/policy/domain.ts).
    const domain = domainOfRows(rows.schema, rows.columns, kindsOfModels(rows.models));
    policy.provenance = {
      families: rows.families, models: rows.models.map((m) => m.key), rows: rows.label.length, ...(layerKinds ? { layerKinds } : {}),
      sources: rows.sources as unknown as JsonValue,
      ...(domain ? { domain: domain as unknown as JsonValue } : {}),
      command: options.command ?? `trainPolicy(${JSON.stringify({ meta: options.meta, kind, out: options.out })})`,
    };
    savePolicy(policy, options.out);
    const file = policy.toJSON();
    options.onProgress?.({ type: 'written', path: options.out });
    return { path: options.out, file };
  } finally {
    disposePolicy(policy);
  }
}
