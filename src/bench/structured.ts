import type * as TF from '@tensorflow/tfjs';
import { cpus as cpus_ } from 'node:os';
import { runAgent } from '../agent/loop.js';
import type { Granularity } from '../agent/granularity.js';
import type { Dataset } from '../data/dataset.js';
import { architecture, type ModelArgs } from '../models/families.js';
import { trainedModel } from '../models/cache.js';
import { fitDatasetToModel } from '../models/task.js';
import { accuracy } from '../models/train.js';
import type { Scorer } from '../policy/types.js';
import { compactModel } from '../pruning/compact.js';
import { rewriteForSpeed } from '../pruning/rewrite.js';
import { decodeSparse, encodeSparse, sizeReport, type SizeReport } from '../pruning/sparse-format.js';
import { compareLatencyBySettings, LATENCY_DEFAULTS, RUNTIME_SETTINGS } from './latency.js';
import type { Objective } from '../pruning/prunable-model.js';
import { atLeast } from './paired.js';

/** One structured-pruning measurement: accuracy, size and latency of dense vs pruned forms. */
export interface StructuredRecord {
  model: string;
  seed: number;
  granularity: Granularity;
  /** What the target counted ('params' weights, 'flops' multiply-accumulates, 'latency' predicted time at batch 256). */
  objective: Objective;
  target: number;
  sparsity: number;
  /** Fraction of the prunable kernels' multiply-accumulates removed. */
  computeReduction: number;
  targetReached: boolean;
  denseTest: number;
  prunedTest: number;
  compactTest: number;
  sparseInt8Test: number;
  unitsRemoved: number[];
  bytes: SizeReport;
  /**
   * Medians in ms, each form at its fastest thread setting. `floor`: a model with the same input and output
   * but one hidden unit — the fixed per-call cost of predict, so dense/floor bounds any speed-up compaction can give.
   */
  latencyMs: { dense: { b1: number; b256: number }; compact: { b1: number; b256: number }; floor?: { b1: number; b256: number }; sliced?: { b1: number; b256: number } };
  /** The runtime setting (RUNTIME_SETTINGS' name) each figure of `latencyMs` was measured under (records before it: TensorFlow's defaults). */
  latencySettings?: Forms<Batches<string>>;
  /** The medians under every runtime setting tried. */
  latencyBySetting?: ({ setting: string } & Forms<Batches<number>>)[];
  fineTuneEpochs: number;
  /**
   * One-channel feature maps rewritten for speed (src/pruning/rewrite.ts) in the forms timed, as 'kind: layers'; the same
   * rewrite is offered to the dense model, so that it is timed at its best too (records before it: none made).
   */
  rewrites?: { dense: string[]; compact: string[] };
  /** When and on what CPU the row was measured (rows of one page can come from separate reruns: scripts/structured-rerun.mjs). */
  measured?: { date: string; cpu: string; block?: number };
  /** The agent's fine-tuning budget for this run. */
  budget?: number;
  /** Set when the row was taken from an earlier run's file (`bench --reuse`): that file and when its run finished. */
  reusedFrom?: { file: string; createdAt: string };
}

export interface StructuredOptions {
  models: string[];
  seed: number;
  denseEpochs: number;
  budget: number;
  /** Runs; `budget` (fine-tuning epochs of the agent) defaults to the options' `budget`. */
  runs: { granularity: Granularity; objective?: Objective; target: number; maxDrop: number; force: boolean; budget?: number }[];
  scorer: () => Scorer;
  latencyRuns: number;
  onProgress?: (m: string) => void;
}

/** `sliced`: the compact model before its one-channel rewrites, timed only when it had some. */
type Forms<T> = { dense: T; compact: T; floor: T; sliced?: T };
type Form = keyof Forms<unknown>;
type Batches<T> = { b1: T; b256: T };

/**
 * Batch-1 and batch-256 latency of the full-shape model (as fast as the dense one: tfjs has no sparse
 * kernels, zeros cost the same), of the compact one, of the compact one before its one-channel rewrites
 * (when it had any) and of the floor model, measured in alternating turns (LATENCY_DEFAULTS.block calls each) under each thread setting; each form's
 * figure is its median at its own fastest setting.
 */
async function latency(full: TF.LayersModel, compact: TF.LayersModel, sliced: TF.LayersModel | undefined, shape: number[], runs: number) {
  const models = sliced ? [full, compact, sliced] : [full, compact];
  const measured = await compareLatencyBySettings(models, shape, { batches: [1, 256], runs, settings: RUNTIME_SETTINGS });
  const forms = (sliced ? ['dense', 'compact', 'sliced', 'floor'] : ['dense', 'compact', 'floor']) as Form[];
  const all = measured.map((m) => ({
    setting: m.setting,
    ...Object.fromEntries(forms.map((f, i) => [f, { b1: m.byBatch[1][i].medianMs, b256: m.byBatch[256][i].medianMs }])),
  }) as { setting: string } & Forms<Batches<number>>);
  const best = (f: Form, b: 'b1' | 'b256') => all.reduce((x, y) => (y[f]![b] < x[f]![b] ? y : x));
  const pick = <T>(get: (f: Form, b: 'b1' | 'b256') => T) =>
    Object.fromEntries(forms.map((f) => [f, { b1: get(f, 'b1'), b256: get(f, 'b256') }])) as Forms<Batches<T>>;
  return {
    latencyMs: pick((f, b) => best(f, b)[f]![b]),
    latencySettings: pick((f, b) => best(f, b).setting),
    latencyBySetting: all,
  };
}

/** Structured pruning → compaction → sparse/int8 export, with accuracy, bytes and latency of each form. */
export async function runStructuredBench(data: Dataset, o: StructuredOptions): Promise<StructuredRecord[]> {
  const out: StructuredRecord[] = [];
  for (const name of o.models) {
    const args = { ...architecture(name), seed: o.seed } as ModelArgs;
    for (const run of o.runs) {
      const cached = await trainedModel({ args, train: { epochs: o.denseEpochs, seed: o.seed } }, data);
      const model = cached.model;
      const fitted = fitDatasetToModel(data, model);
      const shape = fitted.inputShape;
      try {
        const denseTest = accuracy(model, fitted.test);
        const r = await runAgent(model, fitted, o.scorer(), {
          target: run.target, maxDrop: run.maxDrop, force: run.force, budgetEpochs: run.budget ?? o.budget, seed: o.seed, granularity: run.granularity,
          objective: run.objective ?? 'params', ...(run.objective === 'latency' ? { servingBatch: 256 } : {}),
        });
        const sliced = compactModel(model, r.masks);
        // What `autoprune compact` writes: the sliced model with its one-channel maps rewritten; the dense model gets the same chance.
        const compact = rewriteForSpeed(sliced.model, { batch: 256 });
        const dense = rewriteForSpeed(model, { batch: 256 });
        const named = (w: typeof compact.rewrites) => w.map((x) => `${x.kind}: ${x.layers.join(' + ')}`);
        const bytes = sizeReport(model, { compact: compact.model });
        const int8 = await decodeSparse(encodeSparse(model, { int8: true }));
        out.push({
          model: name, seed: o.seed, granularity: run.granularity, objective: run.objective ?? 'params', target: run.target,
          sparsity: r.sparsity.global, computeReduction: r.compute.reduction,
          targetReached: r.targetReached, denseTest, prunedTest: r.testAccuracy,
          compactTest: accuracy(compact.model, fitted.test), sparseInt8Test: accuracy(int8, fitted.test),
          unitsRemoved: sliced.report.layers.map((l) => l.unitsBefore - l.unitsAfter),
          bytes, ...(await latency(dense.model, compact.model, compact.rewrites.length ? sliced.model : undefined, shape, o.latencyRuns)),
          measured: { ...machineStamp(), block: LATENCY_DEFAULTS.block }, fineTuneEpochs: r.totals.fineTuneEpochs, rewrites: { dense: named(dense.rewrites), compact: named(compact.rewrites) }, budget: run.budget ?? o.budget,
        });
        o.onProgress?.(`${name} ${run.granularity}${run.objective && run.objective !== 'params' ? ` (${run.objective})` : ''} @${run.target}: sparsity ${(100 * r.sparsity.global).toFixed(1)} %, compute −${(100 * r.compute.reduction).toFixed(1)} %, test ${(100 * r.testAccuracy).toFixed(2)} %`);
        r.masks.dispose();
        if (compact.model !== sliced.model) compact.model.dispose();
        if (dense.model !== model) dense.model.dispose();
        sliced.model.dispose();
        int8.dispose();
      } finally {
        if (fitted !== data) fitted.dispose();
        model.dispose();
      }
    }
  }
  return out;
}

/** ' [dense / compact settings]' of a latency figure, when the record says. */
function settingsNote(r: StructuredRecord, b: 'b1' | 'b256'): string {
  return r.latencySettings ? ` [${r.latencySettings.dense[b]} / ${r.latencySettings.compact[b]}]` : '';
}

/** Today's date and this machine's CPU model and count, as a row's provenance. */
export function machineStamp(): { date: string; cpu: string } {
  const cpus = cpus_();
  return { date: new Date().toISOString().slice(0, 10), cpu: `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}` };
}

/** '; rewritten: …' when a timed form had one-channel maps rewritten. */
function rewritesNote(r: StructuredRecord): string {
  const w = r.rewrites;
  if (!w || (w.dense.length === 0 && w.compact.length === 0)) return '';
  const before = r.latencyMs.sliced ? ` (${r.latencyMs.sliced.b256.toFixed(2)} ms before)` : '';
  return `; rewritten${w.dense.length ? `, dense: ${w.dense.join(', ')}` : ''}${w.compact.length ? `, compact: ${w.compact.join(', ')}${before}` : ''}`;
}

/** Which rows were measured when and where (timings of separate runs are comparable only within a row). */
function provenance(records: StructuredRecord[]): string {
  const by = new Map<string, number>();
  for (const r of records) {
    const k = r.measured ? `${r.measured.date} on ${r.measured.cpu}${r.measured.block ? ` (turns of ${r.measured.block} calls)` : ' (call by call)'}` : 'an earlier run (not recorded)';
    by.set(k, (by.get(k) ?? 0) + 1);
  }
  const reused = new Map<string, number>();
  for (const r of records) if (r.reusedFrom) reused.set(r.reusedFrom.file, (reused.get(r.reusedFrom.file) ?? 0) + 1);
  const taken = [...reused].map(([file, n]) => ` (${n === records.length ? 'all rows' : `${n} rows`} taken from ${file} by \`--reuse\`)`).join('');
  return `Measured ${[...by].map(([k, n]) => `${n === records.length ? 'all rows' : `${n} rows`} ${k}`).join(', ')}${taken}: ` +
    'dense and compact are timed in alternating turns within a row, so a row\'s speed-up holds on its own; absolute times move between machines and runs.';
}

/** Markdown section for docs/benchmarks.md. */
export function structuredSection(records: StructuredRecord[]): string {
  const kb = (b: number | undefined) => (b == null ? '—' : `${(b / 1024).toFixed(0)} KiB`);
  const lines = ['## Structured pruning, compaction and file size', '',
    'Seed 0, the agent loop with the learned policy at each granularity (max drop 1 point unless forced), then `compact` and the sparse exports. ' +
    'At unit granularity (objective `flops` included) the fine-tunes distil from the dense model (half labels, half its probabilities at temperature 4; docs/agent.md), as the CLI does; every unit row here was measured with it. ' +
    'Objective `flops`: the target counts multiply-accumulates removed instead of weights (units taken by prunability per MAC freed). ' +
    'Latency: median of repeated `predict` calls (one call = the whole batch, output read back) on the native backend; "dense" is the pruned model at full shape ' +
    '(the dense kernels: tfjs has no sparse ones, so zeros cost the same), timed in alternating turns with the compact model so that machine load hits both alike: ' +
    'each turn is one untimed call and then 10 timed ones of the same model, as a served model is called again and again with its weights warm in the caches ' +
    '(rows measured before 2026-12-06 alternated call by call, each call just after the other model\'s: "call by call" below). ' +
    'The floor is a model with the same input and output and one hidden unit: what a predict call costs with (almost) no compute, so no compaction can beat dense ÷ floor. ' +
    'Each model is timed under four native runtime settings — TensorFlow\'s defaults ("auto": one intra-op thread per core, oneDNN on), one intra-op thread (`TF_NUM_INTRAOP_THREADS=1`), ' +
    'oneDNN off (`TF_ENABLE_ONEDNN_OPTS=0`), and both — each in a worker process of its own, the workers taking turns in 10 short rounds so that machine load hits every setting alike, ' +
    'and each figure is that model\'s median at its own fastest setting (in brackets: dense / compact): small matrices lose most of a call to thread hand-offs and oneDNN\'s per-call set-up, ' +
    'so the fastest setting is often not the default, for the dense model too. ' +
    'The compact model timed is what `autoprune compact --serving-batch 256` writes: the sliced model with the serving rewrites of docs/compaction.md for 256 samples a call (batch norms and activation layers folded into the layer before them; ' +
    'a one-filter convolution and its 2×2 max pool as a stride-2 convolution of 4 shifted copies of the filter and a max over them; a one-channel pool as a transpose and a 1-D pool); ' +
    'the dense model is offered the same rewrites, and the cell names any made, with the compact model\'s time before them; the batch-1 column times the same models. ' +
    `${provenance(records)}`, '',
    '| model | granularity (objective), fine-tune epochs of budget | target | reached sparsity of the prunable kernel weights (of their MACs removed) | test % dense → pruned (compact, sparse+int8) | units removed per layer (layers in model order) | batch-256 ms dense → compact (speed-up); per-call floor (largest possible speed-up) | batch-1 ms dense → compact | bytes: dense / masked gzip / compact / sparse / sparse+int8 (ratio dense : sparse+int8) |',
    '|---|---|---|---|---|---|---|---|---|'];
  for (const r of records) {
    const b = r.bytes;
    lines.push(`| ${r.model} | ${r.granularity}${r.objective && r.objective !== 'params' ? ` (${r.objective})` : ''}, ${r.fineTuneEpochs}${r.budget ? ` of ${r.budget}` : ''} epochs | ${r.target} | ${(100 * r.sparsity).toFixed(1)} % (${(100 * r.computeReduction).toFixed(1)} %)${r.targetReached ? '' : ' (guard)'} | ` +
      `${(100 * r.denseTest).toFixed(1)} → ${(100 * r.prunedTest).toFixed(1)} (${(100 * r.compactTest).toFixed(1)}, ${(100 * r.sparseInt8Test).toFixed(1)}) | ` +
      `${r.unitsRemoved.join(' / ')} | ${r.latencyMs.dense.b256.toFixed(2)} → ${r.latencyMs.compact.b256.toFixed(2)} (${(r.latencyMs.dense.b256 / r.latencyMs.compact.b256).toFixed(1)}×)${settingsNote(r, 'b256')}` +
      `${r.latencyMs.floor ? `; floor ${r.latencyMs.floor.b256.toFixed(2)} (≤ ${(r.latencyMs.dense.b256 / r.latencyMs.floor.b256).toFixed(1)}×)` : ''}` +
      `${rewritesNote(r)} | ` +
      `${r.latencyMs.dense.b1.toFixed(3)} → ${r.latencyMs.compact.b1.toFixed(3)}${settingsNote(r, 'b1')} | ` +
      `${kb(b.denseFloat32)} / ${kb(b.maskedGzip)} / ${kb(b.compact)} / ${kb(b.sparse)} / ${kb(b.sparseInt8)} (${(b.denseFloat32 / b.sparseInt8).toFixed(1)}×) |`);
  }
  lines.push('');
  const measured = records.filter((r) => r.latencyBySetting?.length);
  if (measured.length) {
    const settings = measured[0].latencyBySetting!.map((x) => x.setting);
    lines.push('Batch-256 medians (ms) under each runtime setting, dense / compact / floor:', '',
      `| model | granularity (objective) @ target | ${settings.join(' | ')} |`,
      `|---|---|${settings.map(() => '---|').join('')}`);
    for (const r of measured) {
      const cells = settings.map((t) => {
        const x = r.latencyBySetting!.find((y) => y.setting === t);
        return x ? `${x.dense.b256.toFixed(2)} / ${x.compact.b256.toFixed(2)} / ${x.floor.b256.toFixed(2)}` : '—';
      });
      lines.push(`| ${r.model} | ${r.granularity}${r.objective && r.objective !== 'params' ? ` (${r.objective})` : ''} @ ${r.target} | ${cells.join(' | ')} |`);
    }
    lines.push('');
  }
  const speed = records.filter((r) => r.granularity !== 'connection' && atLeast(0.01, r.denseTest - r.compactTest));
  for (const m of new Set(records.map((r) => r.model))) {
    const best = speed.filter((r) => r.model === m).sort((a, b) => b.latencyMs.dense.b256 / b.latencyMs.compact.b256 - a.latencyMs.dense.b256 / a.latencyMs.compact.b256)[0];
    const s = best ? best.latencyMs.dense.b256 / best.latencyMs.compact.b256 : NaN;
    lines.push(`- ${best && s >= 3 ? '**met**' : '**NOT met**'} — ${m}: compact batch-256 inference ≥ 3× faster than dense at ≤ 1.0 point test loss (issue 17): ${best ? `${s.toFixed(2)}× (${best.granularity}${best.objective && best.objective !== 'params' ? ` ${best.objective}` : ''} @ ${(100 * best.sparsity).toFixed(1)} % of weights, ${(100 * best.computeReduction).toFixed(1)} % of compute)` : 'no structured run within 1 point'}`);
    const at95 = records.find((r) => r.model === m && r.granularity === 'connection' && Math.abs(r.sparsity - 0.95) < 0.005);
    if (at95) {
      const ratio = at95.bytes.denseFloat32 / at95.bytes.sparseInt8;
      lines.push(`- ${ratio >= 15 ? '**met**' : '**NOT met**'} — ${m}: sparse+int8 file ≥ 15× smaller than dense float32 at 0.95 sparsity: ${ratio.toFixed(1)}×`);
    }
  }
  lines.push('');
  return lines.join('\n');
}

