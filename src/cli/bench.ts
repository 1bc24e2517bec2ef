import { execFileSync } from 'node:child_process';
import { makeDirs } from '../util/make-dirs.js';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { cacheDir } from '../models/cache.js';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { selectBackend, PACKAGE_ROOT } from '../backend/tf.js';
import { renderBenchPage, BASELINES } from '../bench/page.js';
import { runBench, type BenchOptions, type ReuseSource } from '../bench/run.js';
import { UsageError } from '../errors.js';
import { runStructuredBench, structuredSection, type StructuredOptions, type StructuredRecord } from '../bench/structured.js';
import { SCORERS } from '../policy/baselines.js';
import { benchScoring } from '../policy/bench-scoring.js';
import { loadPolicy, oneShotScorer } from '../policy/io.js';
import type { Scorer } from '../policy/types.js';
import { atomicWriteFile } from '../report/write.js';
import { parseFlags } from './flags.js';

const list = (what: string) => z.string().transform((s, ctx) => {
  const v = s.split(',').map((x) => x.trim()).filter(Boolean);
  if (!v.length) ctx.addIssue({ code: 'custom', message: `needs at least one ${what}` });
  return v;
});

const BenchFlags = z.object({
  quick: z.boolean().optional(),
  out: z.string().min(1),
  models: list('model'),
  seeds: list('seed').pipe(z.array(z.coerce.number().int().min(0))),
  targets: list('target').pipe(z.array(z.coerce.number().gt(0).lt(1))),
  fresh: z.boolean().optional(),
  cnnSeeds: list('seed').pipe(z.array(z.coerce.number().int().min(0))).optional(),
  reuse: z.string().min(1).optional(),
  suite: z.enum(['mnist', 'small', 'coverage', 'scale', 'ecosystem', 'speed', 'retrain', 'extreme', 'imbalanced']),
  widths: list('width').pipe(z.array(z.coerce.number().int().min(1))).optional(),
});

const SMALL = { start: '<!-- small-suite:start (autoprune bench --suite small) -->', end: '<!-- small-suite:end -->' };
const SCALE = { start: '<!-- scale:start (autoprune bench --suite scale) -->', end: '<!-- scale:end -->' };
const ECOSYSTEM = { start: '<!-- ecosystem:start (autoprune bench --suite ecosystem) -->', end: '<!-- ecosystem:end -->' };
const SPEED = { start: '<!-- speed:start (autoprune bench --suite speed) -->', end: '<!-- speed:end -->' };
const EXTREME = { start: '<!-- extreme:start (autoprune bench --suite extreme) -->', end: '<!-- extreme:end -->' };
const RETRAIN = { start: '<!-- retrain:start (autoprune bench --suite retrain) -->', end: '<!-- retrain:end -->' };
const IMBALANCED = { start: '<!-- imbalanced:start (autoprune bench --suite imbalanced) -->', end: '<!-- imbalanced:end -->' };
type Markers = { start: string; end: string };

/** `page` with a suite's marked block of `old` (or `block`) in place: each suite rewrites only its own part. */
function withBlock(page: string, block: string | undefined, mk: Markers = SMALL): string {
  if (!block) return page;
  const at = page.indexOf(mk.start);
  if (at < 0) return `${page.trimEnd()}\n\n${block}\n`;
  const end = page.indexOf(mk.end, at);
  return `${page.slice(0, at)}${block}${end < 0 ? '' : page.slice(end + mk.end.length)}`;
}

function blockOf(page: string, mk: Markers = SMALL): string | undefined {
  const at = page.indexOf(mk.start);
  const end = page.indexOf(mk.end, at);
  return at < 0 || end < 0 ? undefined : page.slice(at, end + mk.end.length);
}

/**
 * Writes one suite's section into `out` between its markers (the rest of the page kept) and its raw records
 * to `<out name>-<suffix>.json` beside it.
 */
async function writeSection<R>(out: string, mk: Markers, suffix: string, what: string, records: R[], argv: string[],
  render: (records: R[], meta: { date: string; command: string; backend: string }) => string): Promise<number> {
  const { backendInfo } = await import('../backend/tf.js');
  const command = `autoprune ${argv.join(' ')}`.trim();
  const b = backendInfo();
  const block = `${mk.start}\n${render(records, { date: new Date().toISOString().slice(0, 10), command, backend: `${b.tfBackend}${b.native ? ' (native)' : ''}` })}\n${mk.end}`;
  const old = existsSync(out) ? readFileSync(out, 'utf8') : '# Benchmarks\n';
  makeDirs(dirname(out));
  await atomicWriteFile(join(dirname(out), `${basename(out, '.md')}-${suffix}.json`), `${JSON.stringify({ format: `autoprune-bench-${suffix}`, command, records }, null, 1)}\n`);
  await atomicWriteFile(out, withBlock(old, block, mk));
  process.stderr.write(`bench: wrote the ${what} section of ${out}\n`);
  return 0;
}

/** `autoprune bench --suite scale`: memory and time of one agent run on MLPs of growing width → its section of docs/benchmarks.md. */
async function scaleCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { failedRun, runScaleBench, scaleSection, SCALE_RUNS } = await import('../bench/scale.js');
  const runs = f.widths ? f.widths.map((width) => ({ width })) : f.quick ? [{ width: 500 }, { width: 1000 }, { width: 1000, granularity: 'unit' as const }] : SCALE_RUNS;
  const records = await runScaleBench(runs, (m) => process.stderr.write(`bench: ${m}\n`));
  const code = await writeSection(resolve(f.out), SCALE, 'scale', 'scale', records, argv, scaleSection);
  // A width that failed (not by memory, which is a measurement) is a defect: its row says why, and the command fails.
  const failed = records.filter(failedRun);
  if (failed.length === 0) return code;
  process.stderr.write(`autoprune: error: bench: the scale run failed at width ${failed.map((r) => r.width).join(', ')} (the section's rows say why)\n`);
  return 1;
}

/** `autoprune bench --suite ecosystem`: PruningCallback vs the agent, one frontier run vs separate runs → its section of docs/benchmarks.md. */
async function ecosystemCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runEcosystemBench, ecosystemSection } = await import('../bench/ecosystem.js');
  const records = await runEcosystemBench(f.quick ? f.seeds.slice(0, 1) : f.seeds, (m) => process.stderr.write(`bench: ${m}\n`));
  return writeSection(resolve(f.out), ECOSYSTEM, 'ecosystem', 'ecosystem', records, argv, ecosystemSection);
}

/** `autoprune bench --suite extreme`: the agent at 0.98 and 0.99 vs magnitude at its epochs → its section of docs/benchmarks.md. */
async function extremeCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runExtremeBench, extremeSection, EXTREME_TARGETS } = await import('../bench/extreme.js');
  // --targets' default is the MNIST suite's: this suite's own unless the user named targets (those above 0.95).
  const given = argv.includes('--targets') ? f.targets.filter((t) => t > 0.95) : [];
  const records = await runExtremeBench({
    models: f.models, seeds: f.quick ? f.seeds.slice(0, 1) : f.seeds, targets: f.quick ? [0.99] : given.length ? given : EXTREME_TARGETS,
    log: (m) => process.stderr.write(`bench: ${m}\n`),
  });
  return writeSection(resolve(f.out), EXTREME, 'extreme', 'highest-sparsity', records, argv, extremeSection);
}

/**
 * `autoprune bench --suite imbalanced`: the CLI defaults with and without `--class-weight balanced` on an imbalanced
 * table whose model was trained balanced → its section of docs/benchmarks.md.
 */
async function imbalancedCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runImbalancedBench, imbalancedSection } = await import('../bench/imbalanced.js');
  // --targets' default is the MNIST suite's: this suite's own (0.8, 0.9, 0.95) unless the user named targets.
  const targets = argv.includes('--targets') ? f.targets : [0.8, 0.9, 0.95];
  const records = await runImbalancedBench({ targets: f.quick ? [0.9] : targets, seeds: f.quick ? f.seeds.slice(0, 1) : f.seeds, log: (m) => process.stderr.write(`bench: ${m}\n`) });
  return writeSection(resolve(f.out), IMBALANCED, 'imbalanced', 'imbalanced-table', records, argv, imbalancedSection);
}

/** `autoprune bench --suite speed`: fine-tuning epochs against PyTorch on this machine → its section of docs/benchmarks.md. */
async function speedCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runSpeedBench, speedSection } = await import('../bench/speed.js');
  const result = await runSpeedBench({ models: f.models, rounds: f.quick ? 1 : 3, epochs: f.quick ? 1 : 3, log: (m) => process.stderr.write(`bench: ${m}\n`) });
  return writeSection(resolve(f.out), SPEED, 'speed', 'speed', [result], argv, (records, meta) => speedSection(records[0], meta));
}

/** `autoprune bench --suite small`: the small-data suite → its section of docs/benchmarks.md + benchmarks-small.json. */
async function smallSuiteCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runSmallSuite, smallSuiteSection } = await import('../bench/small-suite.js');
  const out = resolve(f.out);
  const seeds = f.quick ? f.seeds.slice(0, 1) : f.seeds;
  const targets = f.targets.filter((t) => t === 0.8 || t === 0.9).length ? f.targets.filter((t) => t === 0.8 || t === 0.9) : [0.8, 0.9];
  const records = await runSmallSuite({ targets: f.quick ? [0.9] : targets, seeds, log: (m) => process.stderr.write(`bench: ${m}\n`) });
  return writeSection(out, SMALL, 'small', 'small-data', records, argv, smallSuiteSection);
}

/**
 * `autoprune bench --suite coverage`: every coverage-suite model at 0.8 → docs/coverage.md + coverage.json beside --out.
 * With `--models` naming some cases, only those are rerun and merged into the coverage.json there (the other cases'
 * records kept, each run listed on the page with the cases it measured).
 */
async function coverageSuiteCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runCoverageSuite, coveragePage, coverageCases, earlierCoverage } = await import('../bench/coverage-suite.js');
  const { backendInfo } = await import('../backend/tf.js');
  const out = join(dirname(resolve(f.out)), 'coverage.md');
  const jsonPath = join(dirname(out), 'coverage.json');
  const target = f.targets.length === 1 ? f.targets[0] : 0.8;
  const command = `autoprune ${argv.join(' ')}`.trim();
  const date = new Date().toISOString().slice(0, 10);
  const commit = gitCommit();
  const b = backendInfo();
  makeDirs(dirname(out));
  // --models names coverage cases here (default: every case).
  const cases = f.models.join(',') === 'lenet-300-100,lenet-5' ? undefined : f.models;
  type Records = Awaited<ReturnType<typeof runCoverageSuite>>;
  const { kept, runs } = cases && existsSync(jsonPath)
    ? earlierCoverage(JSON.parse(readFileSync(jsonPath, 'utf8')), cases, target, statSync(jsonPath).mtime.toISOString().slice(0, 10))
    : { kept: [] as Records, runs: [] };
  const order = coverageCases().map((c) => c.name);
  // The page is rewritten after every case: a long run that is stopped keeps what it measured.
  const write = async (fresh: Records) => {
    const records = [...kept.filter((k) => !fresh.some((r) => r.case === k.case)), ...fresh].sort((a, b2) => order.indexOf(a.case) - order.indexOf(b2.case));
    const allRuns = [...runs, { command, date, ...(commit ? { commit } : {}), cases: fresh.map((r) => r.case) }].filter((r) => r.cases.length > 0);
    await atomicWriteFile(jsonPath, `${JSON.stringify({ format: 'autoprune-bench-coverage', command, date, runs: allRuns, records }, null, 1)}\n`);
    await atomicWriteFile(out, coveragePage(records, { date, command, runs: allRuns, backend: `${b.tfBackend}${b.native ? ' (native)' : ''}` }));
  };
  await runCoverageSuite({ target, cases, flops: !f.quick, log: (m) => process.stderr.write(`bench: ${m}\n`), onRecord: write });
  process.stderr.write(`bench: wrote ${out}\n`);
  return 0;
}

/**
 * The checkout's commit (short), when autoprune runs from a git checkout, with "+ uncommitted changes" when the
 * code or policies differ from it (figures measured on a working tree are not that commit's); undefined otherwise.
 */
function gitCommit(): string | undefined {
  const git = (args: string[]) => execFileSync('git', args, { cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  let sha: string;
  try {
    sha = git(['rev-parse', '--short', 'HEAD']).trim();
  } catch {
    return undefined;
  }
  if (!sha) return undefined;
  try {
    git(['diff', '--quiet', 'HEAD', '--', 'src', 'policies', 'package.json']);
    return sha;
  } catch {
    return `${sha} + uncommitted changes`;
  }
}

/**
 * Cases of the small-data suite the retrain suite uses by default: two small tables, and zipcodes-state, whose 500 test
 * rows (0.2 points a row) can show a difference between policies that the others' 39–146 rows cannot.
 */
const RETRAIN_CASES = ['seattle-weather', 'cars-origin', 'zipcodes-state'];

/**
 * `--suite retrain`: a policy retrained on a new family with the documented two commands, against the default
 * policy and global magnitude on a held-out model of that family; its section of docs/policy.md (beside --out).
 */
async function retrainCommand(f: z.infer<typeof BenchFlags>, argv: string[]): Promise<number> {
  const { runRetrainBench, retrainSection } = await import('../bench/retrain.js');
  const cases = f.models.join(',') === 'lenet-300-100,lenet-5' ? RETRAIN_CASES : f.models;
  const targets = f.targets.join(',') === '0.5,0.8,0.9,0.95,0.98' ? [0.9, 0.95] : f.targets;
  const workDir = join(cacheDir(), 'bench', 'retrain');
  const results = await runRetrainBench({
    cases: f.quick ? cases.slice(0, 1) : cases, targets: f.quick ? targets.slice(0, 1) : targets, seeds: f.quick ? f.seeds.slice(0, 1) : f.seeds,
    workDir, workers: 1, log: (m) => process.stderr.write(`bench: ${m}\n`),
  });
  const out = join(dirname(resolve(f.out)), 'policy.md');
  return writeSection(out, RETRAIN, 'retrain', 'retrain', results, argv, retrainSection);
}

/** An earlier run's benchmarks.json for `--reuse`, checked to be one. */
function readReuse(file: string): ReuseSource {
  let results: ReuseSource['results'] & { format?: string };
  try {
    results = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UsageError(`--reuse: cannot read '${file}' as JSON (${(err as Error).message.split('\n')[0]})`);
  }
  if (results?.format !== 'autoprune-bench' || !Array.isArray(results.records) || !Array.isArray(results.dense) || !results.options) {
    throw new UsageError(`--reuse: '${file}' is not the raw results of autoprune bench (benchmarks.json)`);
  }
  return { file, results };
}

/**
 * Hash of what the policy methods' records depend on besides the dense model and the budgets: the
 * shipped policy files and the code that runs them (features, policies, pruning, the agent, training).
 * Those records are reused only while it is unchanged, so a change to the agent reruns them.
 */
function methodFingerprint(): string {
  const h = createHash('sha256');
  for (const n of ['default', 'no-cnn', 'no-mlp']) {
    try { h.update(readFileSync(policyFile(n))); } catch { h.update(`missing ${n}`); }
  }
  // The build this command runs from (dist/ or, under vitest, src/).
  const root = fileURLToPath(new URL('..', import.meta.url));
  const code = ['agent', 'features', 'policy', 'pruning']
    .flatMap((d) => readdirSync(join(root, d)).filter((f) => /\.[jt]s$/.test(f) && !f.endsWith('.d.ts')).map((f) => join(d, f)))
    .concat(readdirSync(join(root, 'models')).filter((f) => /^(train|compiled-chain|flat-adam)\.[jt]s$/.test(f)).map((f) => join('models', f)))
    .sort();
  for (const f of code) h.update(`${f}\0`).update(readFileSync(join(root, f)));
  return h.digest('hex').slice(0, 12);
}

/** The structured rows' runs per model: one quick unit run, or the page's sweep. */
function structuredRuns(quick: boolean): StructuredOptions['runs'] {
  return quick
    ? [{ granularity: 'unit', target: 0.5, maxDrop: 1, force: false }]
    : [
      { granularity: 'unit', target: 0.8, maxDrop: 1, force: false },
      // Pruning for speed: a compute-target sweep with twice the budget (2 dense trainings).
      ...[0.8, 0.85, 0.9].map((target) => ({ granularity: 'unit' as const, objective: 'flops' as const, target, maxDrop: 1, force: false, budget: 30 })),
      { granularity: 'hierarchical', target: 0.9, maxDrop: 1, force: false },
      { granularity: 'connection', target: 0.95, maxDrop: 2, force: true },
    ];
}

/**
 * An earlier run's structured rows of `model` (`--reuse`), where they are this run's: the same policy files and code
 * (fingerprint), the same dense and agent budgets, and one row per planned run (granularity, objective, target, budget);
 * otherwise undefined and the rows are measured anew.
 */
function reusableStructured(src: ReuseSource, model: string, runs: StructuredOptions['runs'], o: Pick<BenchOptions, 'fingerprint' | 'denseEpochs' | 'agentBudget'>): StructuredRecord[] | undefined {
  const old = (src.results.structured ?? []).filter((r) => r.model === model);
  const same = src.results.fingerprint === o.fingerprint && src.results.options.denseEpochs === o.denseEpochs && src.results.options.agentBudget === o.agentBudget;
  const id = (r: { granularity: string; objective?: string; target: number; budget?: number }) => `${r.granularity}|${r.objective ?? 'params'}|${r.target}|${r.budget ?? o.agentBudget}`;
  const want = runs.map(id).sort().join(',');
  if (!same || old.map(id).sort().join(',') !== want) return undefined;
  return old.map((r) => ({ ...r, reusedFrom: r.reusedFrom ?? { file: src.file, createdAt: src.results.createdAt } }));
}

const policyFile = (name: string) => join(PACKAGE_ROOT, 'policies', `${name}.json`);

/** `autoprune bench`: the benchmark protocol → docs/benchmarks.md (+ benchmarks.json, plots). */
export async function benchCommand(raw: Record<string, unknown>, argv: string[]): Promise<number> {
  const f = parseFlags(BenchFlags, raw);
  selectBackend();
  if (f.suite === 'small') return smallSuiteCommand(f, argv);
  if (f.suite === 'coverage') return coverageSuiteCommand(f, argv);
  if (f.suite === 'scale') return scaleCommand(f, argv);
  if (f.suite === 'ecosystem') return ecosystemCommand(f, argv);
  if (f.suite === 'speed') return speedCommand(f, argv);
  if (f.suite === 'retrain') return retrainCommand(f, argv);
  if (f.suite === 'extreme') return extremeCommand(f, argv);
  if (f.suite === 'imbalanced') return imbalancedCommand(f, argv);
  const quick = f.quick ?? false;
  const learned = (name: string) => () => loadPolicy(policyFile(name)) as Scorer;
  const methods: Record<string, () => Scorer> = {};
  for (const b of BASELINES) methods[b] = () => SCORERS[b]();
  // One-shot rows: the policy of a single cut (ONE_SHOT_POLICY in policy/io.ts, what pruneOnce uses), the same correction of LAMP
  // for the leave-one-family-out policies; the agent and the structured rows: the agent's default policy.
  const oneShot = (name: string) => () => oneShotScorer(policyFile(name), `${name}@0.25+lamp`);
  methods.learned = oneShot('default');
  const out = resolve(f.out);
  const opts: BenchOptions = {
    models: f.models,
    seeds: quick ? f.seeds.slice(0, 1) : f.seeds,
    seedsFor: f.cnnSeeds && !quick ? { 'lenet-5': f.cnnSeeds } : undefined,
    targets: quick ? [0.9, 0.95] : f.targets,
    methods,
    lofo: { mlp: oneShot('no-mlp'), cnn: oneShot('no-cnn') },
    agentScorer: learned('default'),
    agentTargets: quick ? [0.9] : undefined,
    denseEpochs: quick ? 3 : 15,
    fineTuneEpochs: quick ? 1 : 5,
    agentBudget: quick ? 4 : 15,
    recordDir: f.fresh ? undefined : join(cacheDir(), 'bench', quick ? 'quick' : 'full'),
    fingerprint: methodFingerprint(),
    reuse: f.reuse ? readReuse(f.reuse) : undefined,
    onProgress: (m) => process.stderr.write(`bench: ${m}\n`),
  };
  const results = await runBench(opts);
  // Structured pruning → compaction → sparse files (issue: real size and speed gains).
  const { loadMnist10k } = await import('../data/mnist.js');
  const data = loadMnist10k({ seed: 0 });
  const structured: StructuredRecord[] = [];
  for (const model of f.models) {
    // Cached like the other records, per model, so a rerun or a parallel per-model run reuses it.
    const file = opts.recordDir ? join(opts.recordDir, `structured-${model}-${opts.fingerprint}.json`) : undefined;
    if (file && existsSync(file)) {
      structured.push(...(JSON.parse(readFileSync(file, 'utf8')) as StructuredRecord[]));
      continue;
    }
    const reused = opts.reuse && reusableStructured(opts.reuse, model, structuredRuns(quick), opts);
    if (reused) {
      opts.onProgress?.(`${model}: ${reused.length} structured rows taken from ${opts.reuse!.file}`);
      structured.push(...reused);
      continue;
    }
    const recs = await runStructuredBench(data, {
      models: [model], seed: 0, denseEpochs: opts.denseEpochs, budget: opts.agentBudget, scorer: learned('default'),
      latencyRuns: quick ? 5 : 200, onProgress: opts.onProgress,
      runs: structuredRuns(quick),
    });
    if (file) await atomicWriteFile(file, JSON.stringify(recs));
    structured.push(...recs);
  }
  data.dispose();
  const command = `autoprune ${argv.join(' ')}`.trim();
  const plotName = (model: string) => `${basename(out, '.md')}-${model}.svg`;
  const page = await renderBenchPage(results, { command, plotFile: plotName, jsonFile: `${basename(out, '.md')}.json` });
  page.markdown += `\n${structuredSection(structured)}`;
  // Scoring throughput of a compiled depth-12 tree (one thread), the hot path of every agent step.
  const sc = benchScoring({});
  page.markdown += `\n## Scoring throughput\n\nA depth-${sc.depth} CART policy (${sc.leaves} leaves, ${sc.usedFeatures} of ${sc.features} features used) compiled to flat arrays scores ` +
    `**${(sc.scorePerSecond / 1e6).toFixed(1)} million connections per second** on one thread (tree alone ${(sc.treePerSecond / 1e6).toFixed(1)} M/s; ` +
    `${(sc.scorePerCpuSecond / 1e6).toFixed(1)} M per CPU-second) over ${sc.rows.toLocaleString('en')} connections. ` +
    `Bar: ≥ 10 M/s — ${sc.scorePerSecond >= 10e6 ? '**met**' : '**NOT met**'}.\n`;
  makeDirs(dirname(out));
  for (const [file, svg] of Object.entries(page.plots)) await atomicWriteFile(join(dirname(out), file), svg);
  await atomicWriteFile(join(dirname(out), `${basename(out, '.md')}.json`), `${JSON.stringify({ ...results, structured, command }, null, 1)}\n`);
  // The other suites' sections are their own commands': kept as their last runs wrote them.
  const before = existsSync(out) ? readFileSync(out, 'utf8') : '';
  const kept = [SMALL, SCALE, ECOSYSTEM, SPEED, EXTREME].reduce((page, mk) => withBlock(page, blockOf(before, mk), mk), `${page.markdown}\n`);
  await atomicWriteFile(out, kept);
  process.stderr.write(`bench: wrote ${out}\n`);
  return 0;
}
