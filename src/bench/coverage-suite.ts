/**
 * The coverage suite (`autoprune bench --suite coverage`): everyday tfjs model types (MobileNet- and
 * ResNet-style CNNs, separable and transposed convs, Embedding + LSTM / GRU, Conv1D, a nested backbone,
 * Dense regression, multi-label and an autoencoder; datasets/coverage/, built by
 * `node scripts/build-coverage-suite.mjs`), each pruned with the CLI's defaults to 0.8 — what share of
 * ALL its weights ends up zero and what its task's metric does — and, where whole units can go, with
 * `--objective flops`: the compute the report claims against the MACs the compact model really has, the
 * compact model's predictions against the masked model's, and both models' latency.
 */
import type * as TF from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autoprune } from '../api.js';
import { PACKAGE_ROOT, tf } from '../backend/tf.js';
import { loadDataset } from '../data/registry.js';
import { csvTargetsOf, fitDatasetToModel, taskOf, type TaskKind } from '../models/task.js';
import { loadModel } from '../models/io.js';
import { globalMagnitudeScorer } from '../policy/baselines.js';
import { compactModel } from '../pruning/compact.js';
import { rewriteForSpeed } from '../pruning/rewrite.js';
import { maxComputeRemovable } from '../agent/granularity.js';
import { AGENT_DEFAULTS } from '../agent/loop.js';
import { oneShot } from './one-shot.js';
import { PrunableModel } from '../pruning/prunable-model.js';

export interface CoverageCase {
  name: string;
  description: string;
  source: string;
  /** 'mnist' (the built-in MNIST-10k), or a CSV relative to the case's folder (gru-text reads lstm-text's: `../lstm-text/data.csv`). */
  data: string;
  task: TaskKind;
  flags?: string[];
  params: number;
  layerTypes: string[];
}

export interface CoverageRecord {
  case: string;
  task: string;
  metric: string;
  params: number;
  prunableFraction: number;
  kinds: string[];
  untouched: string[];
  target: number;
  exitCode: number;
  sparsity: number;
  sparsityOfAllParams: number;
  denseTest: number;
  prunedTest: number;
  allowedDrop: number;
  steps: number;
  seconds: number;
  /**
   * The small suite's baseline on the same model and data: global magnitude straight to the target (of the
   * prunable weights), then fine-tuning at the agent's optimizer steps and batch size (best validation round kept).
   */
  magnitude?: { test: number; sparsityOfAllParams: number };
  /** --objective flops (unit granularity), then compaction; absent when the model has no removable units. */
  flops?: {
    /** The compute target of the run: the suite's target, or the most the removable units allow when less (older records: absent). */
    target?: number;
    exitCode: number;
    claimedReduction: number;
    claimedLiveMacs: number;
    compactMacs: number;
    denseMacs: number;
    maxAbsDiff: number;
    /** Both as `autoprune compact` writes a model: with the serving rewrites (src/pruning/rewrite.ts: batch norms folded, …). */
    denseMs: number;
    compactMs: number;
    /** The same two without the rewrites (older records: absent). */
    plainMs?: { dense: number; compact: number };
    /** The rewrites made to the dense / compact model (older records: absent). */
    rewrites?: { dense: number; compact: number };
    skipped: string[];
    error?: string;
  };
}

export const COVERAGE_SUITE_DIR = join(PACKAGE_ROOT, 'datasets', 'coverage');

export function coverageCases(): CoverageCase[] {
  return (JSON.parse(readFileSync(join(COVERAGE_SUITE_DIR, 'suite.json'), 'utf8')) as { cases: CoverageCase[] }).cases;
}

export function coveragePaths(c: CoverageCase): { model: string; data: string } {
  return { model: join(COVERAGE_SUITE_DIR, c.name, 'model', 'model.json'), data: c.data === 'mnist' ? 'mnist-10k' : join(COVERAGE_SUITE_DIR, c.name, c.data) };
}

/** The API options a case's CLI flags stand for (`--task`, `--label`). */
function caseOptions(c: CoverageCase): { task?: TaskKind; label?: string } {
  const f = c.flags ?? [];
  const at = (flag: string) => { const i = f.indexOf(flag); return i >= 0 ? f[i + 1] : undefined; };
  const task = at('--task') as TaskKind | undefined;
  const label = at('--label');
  return { ...(task ? { task } : {}), ...(label ? { label } : {}) };
}

/**
 * Median ms of a batched predict (output read back) of each model, timed in alternation (a, b, c, a, b, c, …) after a
 * warm-up of each, so that a change in machine load hits all alike.
 */
function latencyMs(models: TF.LayersModel[], x: TF.Tensor, runs = 9): number[] {
  const once = (m: TF.LayersModel) => {
    const t = process.hrtime.bigint();
    tf.tidy(() => { (m.predict(x) as TF.Tensor).dataSync(); });
    return Number(process.hrtime.bigint() - t) / 1e6;
  };
  models.forEach(once);
  const times = models.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) models.forEach((m, k) => times[k].push(once(m)));
  return times.map((v) => v.sort((p, q) => p - q)[Math.floor(v.length / 2)]);
}

/** Multiply-accumulates per sample of every kernel a layer handler knows, from the model's own shapes. */
function kernelMacs(model: TF.LayersModel): number {
  const pm = new PrunableModel(model);
  try {
    return pm.layers.reduce((a, l) => a + l.size * l.macsPerWeight, 0);
  } finally {
    pm.dispose();
  }
}

/** A case's data as the CLI reads it for this model (CSV targets and label from the model's task and the case's flags). */
function caseData(c: CoverageCase, model: TF.LayersModel) {
  const p = coveragePaths(c);
  const targets = csvTargetsOf(taskOf(model));
  const label = caseOptions(c).label;
  return loadDataset(p.data, { seed: 0, ...(p.data.endsWith('.csv') ? { standardize: false, ...(targets != null ? { targets } : {}), ...(label ? { label } : {}) } : {}) });
}

/** Global magnitude one-shot to `target`, fine-tuned at the agent's optimizer steps and batch (equal budget). */
async function magnitudeCase(c: CoverageCase, target: number, steps: number, batchSize: number, roundSteps: number): Promise<NonNullable<CoverageRecord['magnitude']>> {
  const model = await loadModel(coveragePaths(c).model);
  const data = caseData(c, model);
  const fitted = fitDatasetToModel(data, model, taskOf(model));
  try {
    const r = oneShot(model, fitted, globalMagnitudeScorer(), {
      target, seed: 7919,
      fineTune: { steps, batchSize, roundSteps, val: true, ...AGENT_DEFAULTS.polish },
    });
    const pm = new PrunableModel(model);
    const all = pm.sparsity().pruned / Math.max(1, pm.coverage().params);
    pm.dispose();
    return { test: r.testAfter, sparsityOfAllParams: all };
  } finally {
    if (fitted !== data) fitted.dispose();
    data.dispose();
    model.dispose();
  }
}

/** The most compute `--objective flops` can remove from the dense model at `path`, rounded down to 0.1 %. */
async function reachableCompute(path: string): Promise<number> {
  const dense = await loadModel(path);
  const pm = new PrunableModel(dense);
  try {
    return Math.floor(1000 * maxComputeRemovable(pm)) / 1000;
  } finally {
    pm.dispose();
    dense.dispose();
  }
}

async function flopsCheck(c: CoverageCase, target: number, log: (s: string) => void): Promise<CoverageRecord['flops']> {
  const p = coveragePaths(c);
  const { model, report } = await autoprune({ model: p.model, data: p.data, target, objective: 'flops', ...caseOptions(c) });
  const pm = new PrunableModel(model);
  const task = taskOf(model);
  const data = caseData(c, model);
  const claim = {
    target,
    exitCode: report.final.exitCode,
    claimedReduction: report.final.compute?.reduction ?? 0,
    claimedLiveMacs: report.final.compute?.live ?? 0,
    denseMacs: report.final.compute?.dense ?? 0,
  };
  const owned: { dispose(): void }[] = [pm, model, data];
  try {
    const { model: cm, report: cr } = compactModel(model, pm);
    const fitted = fitDatasetToModel(data, model, task);
    const x = tf.slice(fitted.test.x, 0, Math.min(256, fitted.test.x.shape[0]));
    owned.push(cm, x, ...(fitted !== data ? [fitted] : []));
    // Timed as `autoprune compact` writes a model (batch norms folded, …), the dense one offered the same rewrites, and both without.
    const rd = rewriteForSpeed(model);
    const rc = rewriteForSpeed(cm);
    if (rd.model !== model) owned.push(rd.model);
    if (rc.model !== cm) owned.push(rc.model);
    // The compact model, sliced and as written, against the masked one.
    const diff = tf.tidy(() => {
      const y = model.predict(x) as TF.Tensor;
      return tf.maximum(tf.max(tf.abs(tf.sub(y, cm.predict(x) as TF.Tensor))), tf.max(tf.abs(tf.sub(y, rc.model.predict(x) as TF.Tensor))));
    });
    owned.push(diff);
    const [denseMs, compactMs, plainDense, plainCompact] = latencyMs([rd.model, rc.model, model, cm], x);
    return {
      ...claim,
      compactMacs: kernelMacs(cm),
      maxAbsDiff: diff.dataSync()[0],
      denseMs,
      compactMs,
      plainMs: { dense: plainDense, compact: plainCompact },
      rewrites: { dense: rd.rewrites.length, compact: rc.rewrites.length },
      // Layers compaction left whole, then those whose own units the run could not take (their inputs still shrink).
      skipped: [...cr.skipped.map((k) => `${k.layer}: ${k.reason}`), ...(report.final.unitsKept ?? []).map((k) => `${k.layer}: its units stay (${k.reason})`)],
    };
  } catch (err) {
    const error = (err as Error).message.split('\n')[0];
    log(`${c.name} flops: ${error}`);
    return { ...claim, compactMacs: NaN, maxAbsDiff: NaN, denseMs: NaN, compactMs: NaN, skipped: [], error };
  } finally {
    owned.reverse().forEach((t) => t.dispose());
  }
}

export async function runCoverageSuite(o: { target: number; cases?: string[]; flops?: boolean; baseline?: boolean; log?: (s: string) => void; onRecord?: (done: CoverageRecord[]) => Promise<void> }): Promise<CoverageRecord[]> {
  const log = o.log ?? (() => {});
  const out: CoverageRecord[] = [];
  for (const c of coverageCases().filter((k) => !o.cases || o.cases.includes(k.name))) {
    const p = coveragePaths(c);
    const t0 = Date.now();
    const { model, report } = await autoprune({ model: p.model, data: p.data, target: o.target, ...caseOptions(c) });
    const structured = new PrunableModel(model);
    const removable = structured.layers.filter((l, i) => l.structured && i < structured.layers.length - 1).length > 0;
    structured.dispose();
    // --objective flops refuses a target its removable units cannot reach: the check runs at the most they allow,
    // measured on the dense model (the pruned one's zeros would count as removed already).
    const flopsTarget = removable ? Math.min(o.target, await reachableCompute(p.model)) : 0;
    model.dispose();
    const rec: CoverageRecord = {
      case: c.name, task: report.task?.kind ?? 'classification', metric: report.task?.metric ?? 'accuracy',
      params: report.dense.params, prunableFraction: report.dense.prunableFraction ?? 0,
      kinds: [...new Set(report.layers.map((l) => l.kind))], untouched: (report.dense.untouched ?? []).map((u) => `${u.name} (${u.className})`),
      target: o.target, exitCode: report.final.exitCode, sparsity: report.final.sparsity, sparsityOfAllParams: report.final.sparsityOfAllParams ?? 0,
      denseTest: report.dense.testAccuracy, prunedTest: report.final.testAccuracy, allowedDrop: report.config.maxDrop as number,
      steps: report.totals.fineTuneSteps ?? 0, seconds: (Date.now() - t0) / 1000,
    };
    log(`${c.name}: exit ${rec.exitCode}, ${(100 * rec.sparsityOfAllParams).toFixed(1)} % of all weights zero, test ${rec.metric} ${rec.denseTest.toFixed(4)} → ${rec.prunedTest.toFixed(4)}, ${rec.seconds.toFixed(0)} s`);
    if (o.baseline !== false) {
      rec.magnitude = await magnitudeCase(c, o.target, rec.steps, Number(report.config.batchSize), Number(report.config.roundSteps));
      log(`${c.name} magnitude+FT at ${rec.steps} steps: ${(100 * rec.magnitude.sparsityOfAllParams).toFixed(1)} % of all weights zero, test ${rec.magnitude.test.toFixed(4)}`);
    }
    if (o.flops !== false && removable && flopsTarget > 0) {
      rec.flops = await flopsCheck(c, flopsTarget, log);
      const f = rec.flops!;
      log(`${c.name} flops: claimed ${(100 * f.claimedReduction).toFixed(1)} % (live ${f.claimedLiveMacs}), compact ${f.compactMacs} MACs, max |Δ| ${f.maxAbsDiff.toExponential(1)}, ${f.denseMs.toFixed(2)} → ${f.compactMs.toFixed(2)} ms`);
    }
    out.push(rec);
    await o.onRecord?.(out);
  }
  return out;
}

const fmtMetric = (metric: string, v: number) => (metric === 'R²' ? v.toFixed(3) : `${(100 * v).toFixed(2)} %`);
const fmtDrop = (metric: string, d: number) => (metric === 'R²' ? `${d.toFixed(3)} of R²` : `${(100 * d).toFixed(2)} points`);

/** The coverage bar: ≥ 75 % of all weights zero, test metric at most the guard's allowed drop below dense. */
function meetsBar(r: CoverageRecord, sparsityOfAllParams: number, test: number): boolean {
  return sparsityOfAllParams >= 0.75 && r.denseTest - test <= r.allowedDrop / 100 + 1e-9;
}

/** One run of the coverage bench: its command line, date and the cases it measured. */
export interface CoverageRun { command: string; date: string; commit?: string; cases: string[] }

/**
 * What a rerun of `cases` keeps of an earlier coverage.json (`prev`): the other cases' records at the same target,
 * and the earlier runs with the cases they still stand for (a file without run records counts as one run, dated
 * `fileDate`). Nothing when `prev` is not a coverage.json.
 */
export function earlierCoverage(prev: unknown, cases: readonly string[], target: number, fileDate: string): { kept: CoverageRecord[]; runs: CoverageRun[] } {
  const p = prev as { format?: string; command?: string; date?: string; runs?: CoverageRun[]; records?: CoverageRecord[] } | null;
  if (p?.format !== 'autoprune-bench-coverage' || !Array.isArray(p.records)) return { kept: [], runs: [] };
  const kept = p.records.filter((r) => !cases.includes(r.case) && r.target === target);
  const earlier = p.runs ?? [{ command: p.command ?? '(unknown)', date: p.date ?? fileDate, cases: p.records.map((r) => r.case) }];
  const runs = earlier.map((r) => ({ ...r, cases: r.cases.filter((c) => kept.some((k) => k.case === c)) })).filter((r) => r.cases.length > 0);
  return { kept, runs };
}

/** docs/coverage.md, whole (`runs`: the runs its records come from, named on the page when more than one). */
export function coveragePage(
  records: CoverageRecord[], meta: { date: string; command: string; backend: string; runs?: CoverageRun[] },
): string {
  const cases = new Map(coverageCases().map((c) => [c.name, c]));
  const runs = meta.runs ?? [];
  const by = runs.length > 1
    ? `Generated by ${runs.length} runs, each rerunning the cases named: ${runs.map((r) => `\`${r.command}\` on ${r.date}${r.commit ? ` at ${r.commit}` : ''} (${r.cases.join(', ')})`).join('; ')}`
    : `Generated ${meta.date} by \`${meta.command}\``;
  const lines = [
    '# Coverage: the tfjs models users have',
    '',
    `${by} (backend ${meta.backend}); do not edit by hand. Every model is a small tfjs model of an everyday type, trained by ` +
    '`node scripts/build-coverage-suite.mjs` on real data (MNIST digits from the `mnist` package, tables from `vega-datasets`) and committed under `datasets/coverage/`. ' +
    `Each row is \`autoprune --model M --data D --target ${records[0]?.target ?? 0.8}\` with the case's flags only (no budget, guard or schedule set): the default policy, budget and guard (a default budget that runs out while steps are still accepted is extended, on small data more than once: "fine-tune steps" says what was used; docs/agent.md). ` +
    '"Zero weights" counts **all** the model\'s parameters (biases and normalisation included), not only the kernels autoprune prunes. The metric is the task\'s own: accuracy, exact-match accuracy (multi-label: every label right), or R² (regression, autoencoder). ' +
    'Exit 0: target reached within the guard; 3: stopped short, at the last sparsity that held the guard (the guard rejected every smaller step, or the fine-tuning budget ran out first).',
    '',
    '"Bar": at least 75 % of all weights zero and the test metric at most the default guard (`--max-drop 1`: 1 point of accuracy, 0.01 of R²) below dense. ' +
    '"Magnitude + FT" is the small suite\'s baseline on the same model and data: global magnitude straight to the target (of the prunable weights), fine-tuned for the agent\'s optimizer steps at its batch size, with the agent\'s polish settings (validation rounds, reduce on plateau, best validation round kept): magnitude and a fine-tune as careful as the agent\'s, with the same budget.',
    '',
    '| model | layer types | task (flags) | params | prunable | zero weights (of all) | test metric dense → pruned | exit | bar | magnitude + FT: zero (of all), test | fine-tune steps | time |',
    '|---|---|---|---:|---:|---:|---|---:|---|---|---:|---:|',
  ];
  for (const r of records) {
    const c = cases.get(r.case);
    const flags = (c?.flags ?? []).join(' ');
    lines.push(`| ${r.case} | ${(c?.layerTypes ?? r.kinds).join(', ')} | ${r.task}${flags ? ` (\`${flags}\`)` : ''} | ${r.params.toLocaleString('en')} | ${(100 * r.prunableFraction).toFixed(1)} % | ` +
      `${(100 * r.sparsityOfAllParams).toFixed(1)} % | ${r.metric} ${fmtMetric(r.metric, r.denseTest)} → ${fmtMetric(r.metric, r.prunedTest)} | ${r.exitCode} | ${meetsBar(r, r.sparsityOfAllParams, r.prunedTest) ? 'met' : '**not met**'} | ` +
      `${r.magnitude ? `${(100 * r.magnitude.sparsityOfAllParams).toFixed(1)} %, ${fmtMetric(r.metric, r.magnitude.test)}` : '—'} | ${r.steps} | ${r.seconds.toFixed(0)} s |`);
  }
  const short = records.filter((r) => !meetsBar(r, r.sparsityOfAllParams, r.prunedTest));
  if (short.length) {
    lines.push('', `Below the bar: ${short.map((r) => {
      // Every cause: the target reached but short of 75 % of all weights (the target counts the prunable kernels
      // only), and a test drop beyond the guard, against what magnitude + FT does with the same steps.
      const why: string[] = [];
      if (r.exitCode === 0 && r.sparsityOfAllParams < 0.75) {
        why.push(`the target (${(100 * r.target).toFixed(0)} % of the prunable kernel weights, ${(100 * r.prunableFraction).toFixed(1)} % of the parameters) is ${(100 * r.sparsityOfAllParams).toFixed(1)} % of all weights: the rest (normalisation, biases) is never pruned`);
      }
      const drop = r.denseTest - r.prunedTest;
      if (drop > r.allowedDrop / 100 + 1e-9 || r.exitCode !== 0) {
        // A drop that rounds to the allowed one is printed finer (10 rows of 997 are 1.003 points, not "1.00 > 1").
        const fine = r.metric !== 'R²' && Math.abs(100 * drop - r.allowedDrop) < 0.005 ? `${(100 * drop).toFixed(3)} points` : fmtDrop(r.metric, drop);
        const lost = r.exitCode === 0 ? `the test ${r.metric} drops ${fine}, beyond the guard's ${r.metric === 'R²' ? `${(r.allowedDrop / 100).toFixed(2)} of R²` : `${r.allowedDrop} point`} (the guard judged the validation rows)` : 'it stops short of the target';
        if (!r.magnitude) why.push(`${lost} (no baseline run)`);
        else {
          const held = r.denseTest - r.magnitude.test <= r.allowedDrop / 100 + 1e-9;
          why.push(`${lost}; magnitude + FT at the same steps ${held ? 'holds the guard at the target, so the agent falls short of what the budget allows' : `loses ${fmtDrop(r.metric, r.denseTest - r.magnitude.test)} at the target, so the target is out of reach within the guard at this budget for the baseline too`}`);
        }
      }
      return `${r.case} — ${why.join('; and ')}`;
    }).join('; ')}.`);
  }
  const untouched = records.filter((r) => r.untouched.length);
  lines.push('', untouched.length
    ? `Layers left dense: ${untouched.map((r) => `${r.case}: ${r.untouched.join(', ')}`).join('; ')}.`
    : 'Layers left dense: none with weights other than biases and normalisation (listed per run in report.json `dense.untouched`).');
  const fl = records.filter((r) => r.flops);
  if (fl.length) {
    lines.push('', '## Compute: the claim against the compact model',
      '',
      'Where whole units can go (Dense, Conv1D, Conv2D, SeparableConv2D, LSTM/GRU units, inside nested models too, other than the output; channels summed by an Add or passing a depthwise conv go together: docs/compaction.md), the same case with `--objective flops` (unit granularity), then `compactModel`. ' +
      '"compute target" is the suite\'s target, or, where the units compaction can take out hold less compute, the most they allow (`--objective flops` refuses an unreachable target). ' +
      '"claimed" is report.json `final.compute`: multiply-accumulates per sample of the live kernel weights, as a fraction removed of the prunable kernels\' MACs. ' +
      '"compact" counts the MACs of every kernel the compact model has, from its own shapes. Max |Δ| compares the compact model\'s outputs (sliced, and as written with the rewrites below) with the masked model\'s on 256 test rows. ' +
      'Latency: median of 9 batched predictions of those 256 rows (output read back), the four forms timed in alternation, this machine: dense and compact as `autoprune compact` writes a model ' +
      '(the serving rewrites of docs/compaction.md: batch norms and activation layers folded into the layer before them, one-channel maps rewritten; the dense model gets the same; the count of rewrites in brackets), ' +
      'and both without them. The MACs are those of the sliced compact model (folding adds none).',
      '',
      '| model | compute target | exit | claimed removed | claimed live MACs | compact model MACs | match | max abs Δ | dense → compact latency (rewrites) | without the rewrites | left intact by compaction, or whose units stay |',
      '|---|---:|---:|---:|---:|---:|---|---:|---|---|---|');
    for (const r of fl) {
      const f = r.flops!;
      const rel = Math.abs(f.compactMacs - f.claimedLiveMacs) / Math.max(1, f.claimedLiveMacs);
      lines.push(`| ${r.case} | ${f.target != null ? `${(100 * f.target).toFixed(1)} %` : `${(100 * r.target).toFixed(1)} %`} | ${f.exitCode} | ${(100 * f.claimedReduction).toFixed(1)} % | ${f.claimedLiveMacs.toLocaleString('en')} | ${Number.isFinite(f.compactMacs) ? f.compactMacs.toLocaleString('en') : f.error ?? '—'} | ` +
        `${Number.isFinite(rel) ? (rel <= 0.01 ? 'within 1 %' : `**off by ${(100 * rel).toFixed(1)} %**`) : '—'} | ${Number.isFinite(f.maxAbsDiff) ? f.maxAbsDiff.toExponential(1) : '—'} | ` +
        `${Number.isFinite(f.denseMs) ? `${f.denseMs.toFixed(2)} → ${f.compactMs.toFixed(2)} ms${f.rewrites ? ` (${f.rewrites.dense} / ${f.rewrites.compact})` : ''}` : '—'} | ` +
        `${f.plainMs ? `${f.plainMs.dense.toFixed(2)} → ${f.plainMs.compact.toFixed(2)} ms` : '— (not measured then)'} | ${f.skipped.length ? f.skipped.join('; ') : '—'} |`);
    }
  }
  return `${lines.join('\n')}\n`;
}
