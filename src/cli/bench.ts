import { mkdirSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { z } from 'zod';
import { selectBackend, PACKAGE_ROOT } from '../backend/tf.js';
import { renderBenchPage, BASELINES } from '../bench/page.js';
import { runBench, type BenchOptions } from '../bench/run.js';
import { runStructuredBench, structuredSection } from '../bench/structured.js';
import { SCORERS } from '../policy/baselines.js';
import { loadPolicy } from '../policy/io.js';
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
});

const policyFile = (name: string) => join(PACKAGE_ROOT, 'policies', `${name}.json`);

/** `autoprune bench`: the benchmark protocol → docs/benchmarks.md (+ benchmarks.json, plots). */
export async function benchCommand(raw: Record<string, unknown>, argv: string[]): Promise<number> {
  const f = parseFlags(BenchFlags, raw);
  selectBackend();
  const quick = f.quick ?? false;
  const learned = (name: string) => () => loadPolicy(policyFile(name)) as Scorer;
  const methods: Record<string, () => Scorer> = {};
  for (const b of BASELINES) methods[b] = () => SCORERS[b]();
  methods.learned = learned('default');
  const out = resolve(f.out);
  const opts: BenchOptions = {
    models: f.models,
    seeds: quick ? f.seeds.slice(0, 1) : f.seeds,
    targets: quick ? [0.9, 0.95] : f.targets,
    methods,
    lofo: { mlp: learned('no-mlp'), cnn: learned('no-cnn') },
    agentScorer: learned('default'),
    agentTargets: quick ? [0.9] : undefined,
    denseEpochs: quick ? 3 : 15,
    fineTuneEpochs: quick ? 1 : 5,
    agentBudget: quick ? 4 : 15,
    partialFile: join(dirname(out), `.${basename(out)}.partial.json`),
    onProgress: (m) => process.stderr.write(`bench: ${m}\n`),
  };
  const results = await runBench(opts);
  // Structured pruning → compaction → sparse files (issue: real size and speed gains).
  const { loadMnist10k } = await import('../data/mnist.js');
  const data = loadMnist10k({ seed: 0 });
  const structured = await runStructuredBench(data, {
    models: f.models, seed: 0, denseEpochs: opts.denseEpochs, budget: opts.agentBudget, scorer: learned('default'),
    latencyRuns: quick ? 5 : 30, onProgress: opts.onProgress,
    runs: quick
      ? [{ granularity: 'unit', target: 0.5, maxDrop: 1, force: false }]
      : [
        { granularity: 'unit', target: 0.8, maxDrop: 1, force: false },
        { granularity: 'hierarchical', target: 0.9, maxDrop: 1, force: false },
        { granularity: 'connection', target: 0.95, maxDrop: 2, force: true },
      ],
  });
  data.dispose();
  const command = `autoprune ${argv.join(' ')}`.trim();
  const plotName = (model: string) => `${basename(out, '.md')}-${model}.svg`;
  const page = await renderBenchPage(results, { command, plotFile: plotName });
  page.markdown += `\n${structuredSection(structured)}`;
  mkdirSync(dirname(out), { recursive: true });
  for (const [file, svg] of Object.entries(page.plots)) await atomicWriteFile(join(dirname(out), file), svg);
  await atomicWriteFile(join(dirname(out), `${basename(out, '.md')}.json`), `${JSON.stringify({ ...results, structured, command }, null, 1)}\n`);
  await atomicWriteFile(out, `${page.markdown}\n`);
  rmSync(opts.partialFile!, { force: true });
  process.stderr.write(`bench: wrote ${out}\n`);
  return 0;
}
