/**
 * The scale benchmark (`autoprune bench --suite scale`): one agent run to 0.9 with a 2-epoch budget on
 * MLPs 784 → W → W → 10 of growing width, each in its own process (scale-worker.ts): peak resident
 * memory per prunable weight and seconds per weight of feature work (features and scoring, one layer at a
 * time), selection and fine-tuning.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { PACKAGE_ROOT } from '../backend/tf.js';

export interface ScaleRecord {
  width: number;
  /** The agent's granularity (absent in records from before it was varied: connection). */
  granularity?: 'connection' | 'unit' | 'hierarchical';
  prunable: number;
  params: number;
  baseRss: number;
  modelRss: number;
  peakRss: number;
  phases: Record<string, number>;
  seconds: number;
  sparsity: number;
  steps: number;
  /** Feature + scoring passes of the run (absent in records from before gradual steps: one per step). */
  passes?: number;
  /** Peak resident memory after the run's outputs (compactModel, the sparse export), and their seconds and size. */
  exportPeakRss?: number;
  compactSeconds?: number;
  sparseSeconds?: number;
  sparseBytes?: number;
  error?: string;
  /** What the default policy scored the model as (`default@0.25+lamp` where its layers are outside the policy's domain). */
  scoredAs?: string;
}

/** One worker run: the MLP's width and the agent's granularity. */
export interface ScaleRun { width: number; granularity?: 'connection' | 'unit' }

/** The default runs: connection granularity at every width; whole units at ~20 M weights. */
export const SCALE_RUNS: readonly ScaleRun[] = [500, 1000, 2000, 3000, 4000, 6700].map((width) => ({ width })).concat([{ width: 4000, granularity: 'unit' } as ScaleRun]);

/** How the worker marks its error's message on stderr (its stack comes before it). */
export const SCALE_ERROR = 'scale-worker error: ';

/** Whether a width's run failed otherwise than by running out of memory (a defect of the run, not a measurement). */
export const failedRun = (r: ScaleRecord): boolean => r.error != null && r.error !== OUT_OF_MEMORY;
const OUT_OF_MEMORY = 'killed (out of memory?)';

function runWorker({ width, granularity = 'connection' }: ScaleRun): Promise<ScaleRecord> {
  return new Promise((resolveRec) => {
    const child = spawn(process.execPath, [join(PACKAGE_ROOT, 'dist', 'bench', 'scale-worker.js'), String(width), granularity], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (code) => {
      const line = out.trim().split('\n').pop() ?? '';
      try {
        resolveRec(JSON.parse(line) as ScaleRecord);
      } catch {
        const lines = err.trim().split('\n');
        const why = lines.find((l) => l.startsWith(SCALE_ERROR))?.slice(SCALE_ERROR.length) ?? lines.filter((l) => !/^(WARNING|I0000)/.test(l)).slice(-1)[0] ?? `exit ${code}`;
        resolveRec({ width, granularity, prunable: 784 * width + width * width + 10 * width, params: NaN, baseRss: NaN, modelRss: NaN, peakRss: NaN, phases: {}, seconds: NaN, sparsity: NaN, steps: 0, error: code === null ? OUT_OF_MEMORY : why });
      }
    });
  });
}

export async function runScaleBench(runs: readonly ScaleRun[], log: (s: string) => void = () => {}): Promise<ScaleRecord[]> {
  const out: ScaleRecord[] = [];
  for (const run of runs) {
    const r = await runWorker(run);
    const w = `${run.width}${run.granularity && run.granularity !== 'connection' ? ` (${run.granularity})` : ''}`;
    log(r.error ? `width ${w}: ${r.error}` : `width ${w}: ${(r.prunable / 1e6).toFixed(1)} M weights, peak ${(r.peakRss / 1e9).toFixed(2)} GB, features ${(r.phases.features ?? 0).toFixed(1)} s, prune ${(r.phases.prune ?? 0).toFixed(1)} s, fine-tune ${((r.phases.fineTune ?? 0) + (r.phases.control ?? 0)).toFixed(1)} s`);
    out.push(r);
  }
  return out;
}

const gb = (b: number) => (b / 1e9).toFixed(2);

/** The markdown section of docs/benchmarks.md. */
export function scaleSection(records: ScaleRecord[], meta: { date: string; command: string; backend: string }): string {
  const lines = [
    '## Scale: memory and time per pruning step as models grow',
    '',
    `Measured ${meta.date} by \`${meta.command}\` (backend ${meta.backend}), each width in a fresh process. The run is the agent to 0.9 with a 2-epoch fine-tuning budget, \`--force\`, ` +
    'the default policy, on MNIST-10k, for an **untrained** MLP 784 → W → W → 10 (cost only; accuracy is not the point). ' +
    '"Above model + Adam" is the peak resident memory minus the process before the model (runtime, data) minus 16 bytes per prunable weight ' +
    '(the weight, its two Adam moments and its gradient), per prunable weight. "Features" includes scoring (one layer\'s features at a time), ' +
    '"selection" is choosing the connections (`prune` phase), both summed over the run and divided by its scoring passes (a step prunes in ' +
    'four increments, gradual pruning inside the step; below 1 M prunable weights each is re-scored, from 1 M on the later ones use the step\'s first scores: ' +
    'one pass per step, docs/agent.md) and by its attempts (steps). The fine-tune time excludes the increments\' scoring done during it. ' +
    'W marked "unit" is the same run with `--granularity unit` (whole units, scored from the connections\' scores). ' +
    'Bars (issue 18), judged on the models of 5 M prunable weights or more (below, a run\'s fixed costs dominate its per-weight figures, which the smaller rows show as they are): ≤ 100 bytes per weight above model + Adam; features + scoring + selection ≤ 0.5 µs per weight per step.',
    '',
    '| W | prunable weights | peak RSS | above model + Adam, B/weight | attempts (scoring passes) | features + scoring per pass | selection per pass | µs per weight per pass | µs per weight per attempt | fine-tune incl. control (total) | whole run |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
  ];
  const passesOf = (r: ScaleRecord) => Math.max(1, r.passes ?? r.steps);
  const perAttempt = (r: ScaleRecord) => (1e6 * ((r.phases.features ?? 0) + (r.phases.prune ?? 0))) / Math.max(1, r.steps) / r.prunable;
  const label = (r: ScaleRecord) => `${r.width}${r.granularity && r.granularity !== 'connection' ? ` (${r.granularity})` : ''}`;
  const above = (peak: number, r: ScaleRecord) => (peak - r.baseRss - 16 * r.prunable) / r.prunable;
  for (const r of records) {
    if (r.error) {
      lines.push(`| ${label(r)} | ${r.prunable.toLocaleString('en')} | ${r.error} | | | | | | | | |`);
      continue;
    }
    const k = passesOf(r);
    const feat = (r.phases.features ?? 0) / k;
    const sel = (r.phases.prune ?? 0) / k;
    const tune = (r.phases.fineTune ?? 0) + (r.phases.control ?? 0);
    lines.push(`| ${label(r)} | ${r.prunable.toLocaleString('en')} | ${gb(r.peakRss)} GB | ${above(r.peakRss, r).toFixed(0)} | ${r.steps} (${k}) | ${feat.toFixed(2)} s | ${sel.toFixed(2)} s | ` +
      `${((1e6 * (feat + sel)) / r.prunable).toFixed(2)} | ${perAttempt(r).toFixed(2)} | ${tune.toFixed(1)} s | ${r.seconds.toFixed(1)} s |`);
  }
  // The bars, judged on the largest widths (≥ 5 M weights, where fixed costs no longer dominate).
  const big = records.filter((r) => !r.error && r.prunable >= 5e6);
  if (big.length) {
    const worstMem = Math.max(...big.map((r) => above(r.peakRss, r)));
    const worstTime = Math.max(...big.map(perAttempt));
    const worstPass = Math.max(...big.map((r) => (1e6 * ((r.phases.features ?? 0) + (r.phases.prune ?? 0))) / passesOf(r) / r.prunable));
    const largest = records.filter((r) => !r.error).reduce((a, r) => (r.prunable > a ? r.prunable : a), 0);
    lines.push('', `Bars at ≥ 5 M weights: memory ${worstMem.toFixed(0)} B/weight above model + Adam (bar ≤ 100): ${worstMem <= 100 ? '**met**' : '**NOT met**'}; ` +
      `features + scoring + selection ${worstTime.toFixed(2)} µs/weight per step (bar ≤ 0.5): ${worstTime <= 0.5 ? '**met**' : '**NOT met**'} (${worstPass.toFixed(2)} per scoring pass); ` +
      `largest model completed: ${(largest / 1e6).toFixed(1)} M weights (bar: 50 M on a 24 GiB machine): ${largest >= 50e6 ? '**met**' : '**NOT met**'}.`);
    const scoredAs = [...new Set(records.flatMap((r) => (r.scoredAs ? [`W = ${label(r)}: \`${r.scoredAs}\``] : [])))];
    lines.push('', `Where a model's layers lie outside the default policy's domain (10–500 units; docs/agent.md, "Outside the policy's domain"), it runs as a learned correction of LAMP, \`default@0.25+lamp\`${scoredAs.length ? ` (scored as: ${scoredAs.join(', ')})` : ' (these records do not say which ran: the field that says it came after them)'}: the correction adds per-layer rank sorts and LAMP to the policy's own pass (docs/architecture.md). ` +
      'History, measured on the project\'s 2-core machine (the figures of those runs, not of this table): before that rule (2026-12-05) the policy as given took 0.42–0.44 µs/weight per pass, and the per-pass bar was met; on 2026-12-06/07 the correction took 2.6 µs/weight (whole layers\' features at once, comparator sorts) until it was made to stream (2026-12-07: 0.58–0.69). ' +
      'Later that day LAMP took |w|\'s order from the magnitude ranks\' sort and its own order without sorting its scores, and a tree\'s few leaf values were ordered by counting: a large layer is sorted three times a pass instead of five (0.52–0.57 in that day\'s run). What a pass spends (W = 3000, timed once in parts in a build instrumented by hand — not a command of the repo, so a rough guide): the magnitude ranks, LAMP and the rank mixing, about 35–40 %; the calibration pass (a forward and a backward pass over 1,024 rows, three kernel-sized sums per batch of 64) and the per-connection feature columns with the tree, about 20 % each; the selection, the rest (the table\'s column).');
    lines.push('', 'The peak moves between runs of the same code: W = 2000 measured 1.14–1.21 GB in nine runs on 2026-12-03/05 (90–102 B/weight above model + Adam) and 92, 96, 104 in three runs of the scale worker alone on 2026-12-07, so the memory bar at W = 2000 is met or missed by the run\'s noise (the wider models were at 67–80 then, 79–89 on 2026-12-07). ' +
      'Resident memory is not live tensors: TensorFlow\'s CPU allocator (oneDNN\'s pool) keeps what it once held, so a process\'s resident memory stays near its largest moment of live tensors — at W = 2000 in the first step\'s feature extraction, 46 B/weight above the model and data (`node scripts/peak-tensors.mjs 2000`: `tf.memory()` read after every native op) — plus the allocator\'s fragmentation.');
  }
  const outputs = records.filter((r) => !r.error && r.compactSeconds != null);
  if (outputs.length) {
    lines.push('', '### The run\'s outputs on the same models', '',
      'After the run, in the same process: `compactModel` of the pruned model (its exact zeros as the pruned weights) and its sparse export ' +
      '(`model.sparse`, docs/architecture.md). "Peak after" is the process\'s peak resident memory once both are done (the larger of the step\'s ' +
      'and theirs), counted as above.', '',
      '| W | compactModel | sparse export (size) | peak after: RSS, B/weight above model + Adam |', '|---:|---:|---:|---:|');
    for (const r of outputs) {
      lines.push(`| ${label(r)} | ${r.compactSeconds!.toFixed(1)} s | ${r.sparseSeconds!.toFixed(1)} s (${(r.sparseBytes! / 1e6).toFixed(1)} MB) | ` +
        `${gb(r.exportPeakRss!)} GB, ${above(r.exportPeakRss!, r).toFixed(0)} |`);
    }
  }
  return lines.join('\n');
}
