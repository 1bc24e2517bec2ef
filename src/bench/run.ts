import type * as TF from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpus } from 'node:os';
import { runAgent } from '../agent/loop.js';
import { backendInfo, tf } from '../backend/tf.js';
import { loadMnist10k } from '../data/mnist.js';
import { architecture, type ModelArgs } from '../models/families.js';
import { trainedModel } from '../models/cache.js';
import { fitDatasetToModel } from '../models/task.js';
import { accuracy } from '../models/train.js';
import { PrunableModel } from '../pruning/prunable-model.js';
import type { Scorer } from '../policy/types.js';
import { gradualPrune, oneShot } from './one-shot.js';
import type { StructuredRecord } from './structured.js';

/** The benchmark protocol of shared/BENCHMARKS.md, with knobs for a quick smoke run. */
export interface BenchOptions {
  models: string[];
  seeds: number[];
  /** Seeds per model where they differ from `seeds` (e.g. fewer for the costlier LeNet-5). */
  seedsFor?: Record<string, number[]>;
  targets: number[];
  /** Baseline and learned scorers by method name (the same selection rule and budget for all). */
  methods: Record<string, () => Scorer>;
  /** Leave-one-family-out policy per model family (a policy trained without that family). */
  lofo?: Record<string, () => Scorer>;
  /** Scorer the agent loop uses. */
  agentScorer?: () => Scorer;
  /** Targets at which the agent loop runs (default: targets ≥ 0.9). */
  agentTargets?: number[];
  denseEpochs: number;
  fineTuneEpochs: number;
  /** Fine-tuning budget of the agent loop. */
  agentBudget: number;
  /**
   * Folder of finished records, one JSON file per (model, seed, method, target, budgets, policy
   * files): a rerun (or another process benchmarking another model) reuses them, so long runs resume.
   */
  recordDir?: string;
  /**
   * Mixed into the keys of records that depend on the learned policies (POLICY_METHODS): changes
   * when a policy file or the code running it changes, so those rerun while the baselines' records are reused.
   */
  fingerprint?: string;
  /**
   * Records of an earlier run (its benchmarks.json) to take instead of recomputing: only where the
   * budgets are the same, the dense model of that (model, seed) has the same validation and test
   * accuracy here (same weights), and, for POLICY_METHODS, the fingerprint is the same.
   */
  reuse?: ReuseSource;
  onProgress?: (msg: string) => void;
}

/** An earlier run's raw results, as `--reuse` reads them. */
export interface ReuseSource {
  /** File the results came from, for the page. */
  file: string;
  results: Pick<BenchResults, 'createdAt' | 'options' | 'dense' | 'records'> & { fingerprint?: string; structured?: StructuredRecord[] };
}

export interface BenchRecord {
  model: string;
  seed: number;
  method: string;
  target: number;
  sparsity: number;
  testBefore: number;
  testAfter: number;
  /** Validation accuracy after fine-tuning (one-shot methods): what a method or setting may be chosen by, unlike test. */
  valAfter?: number;
  fineTuneEpochs: number;
  layerSparsity: number[];
  seconds: Record<string, number>;
  /** Set when the record was taken from an earlier run's file (`--reuse`): that file and when its run finished. */
  reusedFrom?: { file: string; createdAt: string };
}

export interface DenseRecord {
  model: string;
  seed: number;
  valAccuracy: number;
  testAccuracy: number;
  trainSeconds: number;
  prunable: number;
}

export interface BenchResults {
  format: 'autoprune-bench';
  version: 1;
  createdAt: string;
  machine: string;
  backend: string;
  options: Omit<BenchOptions, 'methods' | 'lofo' | 'agentScorer' | 'onProgress' | 'recordDir' | 'fingerprint'> & { methods: string[] };
  dense: DenseRecord[];
  records: BenchRecord[];
  peakRssMiB: number;
  /** The fingerprint (policy files and their code) of the policy methods' records (see BenchOptions.fingerprint). */
  fingerprint?: string;
}

export function machineLine(): string {
  const c = cpus();
  return `${c.length} × ${c[0]?.model ?? 'cpu'}, Node ${process.version}, ${process.platform}`;
}

/** Methods whose result depends on the policy files (the agent's epochs set the last one's budget). */
export const POLICY_METHODS: readonly string[] = Object.freeze(['learned', 'learned-lofo', 'agent', 'global-magnitude@agent-epochs', 'gradual-magnitude@agent-epochs']);

const key = (r: { model: string; seed: number; method: string; target: number }) => `${r.model}|${r.seed}|${r.method}|${r.target}`;

/** Runs the protocol. Every method of a (model, seed, target) starts from the same dense weights and fine-tunes with the same seed and budget. */
export async function runBench(o: BenchOptions): Promise<BenchResults> {
  const log = o.onProgress ?? (() => {});
  const partial: { dense: DenseRecord[]; records: BenchRecord[] } = { dense: [], records: [] };
  const budgets = `d${o.denseEpochs}-ft${o.fineTuneEpochs}-a${o.agentBudget}`;
  const fileOf = (rec: { model: string; seed: number; method: string; target: number }) => {
    const policy = POLICY_METHODS.includes(rec.method) ? (o.fingerprint ?? '') : 'baseline';
    return join(o.recordDir!, `${createHash('sha256').update(`${key(rec)}|${budgets}-${policy}`).digest('hex').slice(0, 24)}.json`);
  };
  // Records finished by an earlier (or a parallel) run.
  const done = new Set<string>();
  // (model, seed) pairs whose dense model matches the reused file's, so its records for them are valid here.
  const reusable = new Set<string>();
  const lookup = (rec: { model: string; seed: number; method: string; target: number }) => {
    const k = key(rec);
    if (done.has(k)) return true;
    if (o.recordDir && existsSync(fileOf(rec))) {
      partial.records.push(JSON.parse(readFileSync(fileOf(rec), 'utf8')) as BenchRecord);
      done.add(k);
      return true;
    }
    const old = reusable.has(`${rec.model}|${rec.seed}`) && (!POLICY_METHODS.includes(rec.method) || o.reuse!.results.fingerprint === o.fingerprint)
      ? o.reuse!.results.records.find((x) => key(x) === k) : undefined;
    if (old) {
      // Marked, also in the record cache, so a later run that finds it there still says where it came from.
      partial.records.push({ ...old, reusedFrom: old.reusedFrom ?? { file: o.reuse!.file, createdAt: o.reuse!.results.createdAt } });
      done.add(k);
      save();
      return true;
    }
    return false;
  };
  const sameBudgets = (x: BenchResults['options']) =>
    x.denseEpochs === o.denseEpochs && x.fineTuneEpochs === o.fineTuneEpochs && x.agentBudget === o.agentBudget;
  const save = () => {
    if (!o.recordDir) return;
    mkdirSync(o.recordDir, { recursive: true });
    const last = partial.records[partial.records.length - 1];
    const tmp = `${fileOf(last)}.tmp-${process.pid}`;
    writeFileSync(tmp, JSON.stringify(last));
    renameSync(tmp, fileOf(last));
  };
  const data = loadMnist10k({ seed: 0 });
  try {
    for (const modelName of o.models) {
      const arch = architecture(modelName);
      for (const seed of o.seedsFor?.[modelName] ?? o.seeds) {
        const args = { ...arch, seed } as ModelArgs;
        const cached = await trainedModel({ args, train: { epochs: o.denseEpochs, seed } }, data);
        const model = cached.model;
        const fitted = fitDatasetToModel(data, model);
        const dense = snapshot(model);
        try {
          if (!partial.dense.some((d) => d.model === modelName && d.seed === seed)) {
            partial.dense.push({
              model: modelName, seed, valAccuracy: accuracy(model, fitted.val), testAccuracy: accuracy(model, fitted.test),
              trainSeconds: cached.seconds, prunable: countPrunable(model),
            });
          }
          const here = partial.dense.find((d) => d.model === modelName && d.seed === seed)!;
          const there = o.reuse?.results.dense.find((d) => d.model === modelName && d.seed === seed);
          if (there && sameBudgets(o.reuse!.results.options) && there.valAccuracy === here.valAccuracy && there.testAccuracy === here.testAccuracy) {
            reusable.add(`${modelName}|${seed}`);
          } else if (o.reuse) {
            log(`${modelName} seed ${seed}: nothing reused from ${o.reuse.file} (${there ? 'other budgets or another dense model' : 'not in it'})`);
          }
          const run = (method: string, target: number, scorer: () => Scorer, fineTuneEpochs = o.fineTuneEpochs) => {
            const rec = { model: modelName, seed, method, target };
            if (lookup(rec)) return;
            restore(model, dense);
            const t0 = Date.now();
            const r = oneShot(model, fitted, scorer(), { target, fineTuneEpochs, seed: 1000 + seed });
            partial.records.push({
              ...rec, sparsity: r.sparsity, testBefore: r.testBefore, testAfter: r.testAfter, valAfter: r.valAfter, fineTuneEpochs: r.fineTuneEpochs,
              layerSparsity: r.layerSparsity, seconds: { ...r.seconds, total: (Date.now() - t0) / 1000 },
            });
            done.add(key(rec));
            save();
            log(`${modelName} seed ${seed} ${method} @${target}: ${(100 * r.testBefore).toFixed(1)} → ${(100 * r.testAfter).toFixed(2)} %`);
          };
          for (const target of o.targets) {
            for (const [method, scorer] of Object.entries(o.methods)) run(method, target, scorer);
            const family = (arch as ModelArgs).family;
            if (o.lofo?.[family]) run('learned-lofo', target, o.lofo[family]);
          }
          // The agent loop, then global magnitude one-shot at the agent's own number of fine-tuning epochs.
          for (const target of o.agentTargets ?? o.targets.filter((t) => t >= 0.9)) {
            if (!o.agentScorer) break;
            const rec = { model: modelName, seed, method: 'agent', target };
            if (!lookup(rec)) {
              restore(model, dense);
              const t0 = Date.now();
              const r = await runAgent(model, fitted, o.agentScorer(), { target, budgetEpochs: o.agentBudget, seed, force: true });
              partial.records.push({
                ...rec, sparsity: r.sparsity.global, testBefore: NaN, testAfter: r.testAccuracy, fineTuneEpochs: r.totals.fineTuneEpochs,
                layerSparsity: r.sparsity.layers.map((l) => l.sparsity), seconds: { ...r.phases, total: (Date.now() - t0) / 1000 },
              });
              r.masks.dispose();
              done.add(key(rec));
              save();
              log(`${modelName} seed ${seed} agent @${target}: ${(100 * r.testAccuracy).toFixed(2)} % in ${r.totals.fineTuneEpochs} epochs`);
            }
            const agentRec = partial.records.find((x) => key(x) === key(rec))!;
            const gm = o.methods['global-magnitude'];
            if (gm) run('global-magnitude@agent-epochs', target, gm, agentRec.fineTuneEpochs);
            // Gradual magnitude (Zhu & Gupta) with the agent's epochs: what the agent has to beat at equal budget.
            const grec = { model: modelName, seed, method: 'gradual-magnitude@agent-epochs', target };
            if (gm && !lookup(grec)) {
              restore(model, dense);
              const t0 = Date.now();
              const g = await gradualPrune(model, fitted, gm(), { target, fineTuneEpochs: agentRec.fineTuneEpochs, seed: 1000 + seed });
              partial.records.push({ ...grec, sparsity: g.sparsity, testBefore: NaN, testAfter: g.testAfter, fineTuneEpochs: g.fineTuneEpochs, layerSparsity: g.layerSparsity, seconds: { ...g.seconds, total: (Date.now() - t0) / 1000 } });
              done.add(key(grec));
              save();
              log(`${modelName} seed ${seed} gradual magnitude @${target}: ${(100 * g.testAfter).toFixed(2)} %`);
            }
          }
        } finally {
          dense.forEach((t) => t.dispose());
          if (fitted !== data) fitted.dispose();
          model.dispose();
        }
      }
    }
  } finally {
    data.dispose();
  }
  const info = backendInfo();
  return {
    format: 'autoprune-bench', version: 1, createdAt: new Date().toISOString(), machine: machineLine(),
    backend: `${info.name}${info.native ? ' (native)' : ''}`,
    options: {
      models: o.models, seeds: o.seeds, seedsFor: o.seedsFor, targets: o.targets, methods: Object.keys(o.methods), agentTargets: o.agentTargets,
      denseEpochs: o.denseEpochs, fineTuneEpochs: o.fineTuneEpochs, agentBudget: o.agentBudget,
    },
    dense: partial.dense,
    records: partial.records.filter((r) => o.targets.includes(r.target)),
    peakRssMiB: process.resourceUsage().maxRSS / 1024,
    fingerprint: o.fingerprint,
  };
}

function countPrunable(model: TF.LayersModel): number {
  const pm = new PrunableModel(model);
  const n = pm.totalPrunable;
  pm.dispose();
  return n;
}

function snapshot(model: TF.LayersModel): TF.Tensor[] {
  return tf.tidy(() => model.weights.map((w) => tf.keep(w.read().clone())));
}

function restore(model: TF.LayersModel, weights: TF.Tensor[]): void {
  tf.tidy(() => model.weights.forEach((w, i) => (w.read() as TF.Variable).assign(weights[i])));
}
