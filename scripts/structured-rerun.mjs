// Reruns some rows of the MNIST page's structured section (docs/benchmarks.md, "Structured pruning, compaction and
// file size") with the current build, keeps the others as docs/benchmarks.json records them, and rewrites that
// section (and the JSON's records). For a change that moves only some rows (e.g. channel rounding under
// --objective flops moves LeNet-5's flops rows), without the hours of a full `autoprune bench`.
//   npm run build && node scripts/structured-rerun.mjs lenet-5 flops [granularity]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { selectBackendAsync } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { runStructuredBench, structuredSection } = await import('../dist/bench/structured.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const [model = 'lenet-5', objective = 'flops', granularity] = process.argv.slice(2);
const jsonPath = `${root}docs/benchmarks.json`;
const pagePath = `${root}docs/benchmarks.md`;
const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
const redo = json.structured.filter((r) => r.model === model && r.objective === objective && (!granularity || r.granularity === granularity));
if (redo.length === 0) throw new Error(`no structured rows of ${model} with objective ${objective}`);
const data = loadMnist10k({ seed: 0 });
const fresh = await runStructuredBench(data, {
  models: [model], seed: 0, denseEpochs: 15, budget: 15, scorer: () => loadPolicy('default'), latencyRuns: 200,
  onProgress: (m) => process.stderr.write(`rerun: ${m}\n`),
  runs: redo.map((r) => ({ granularity: r.granularity, objective: r.objective, target: r.target, maxDrop: 1, force: false, budget: r.budget ?? 30 })),
});
data.dispose();
json.structured = json.structured.map((r) => fresh.find((f) => f.model === r.model && f.objective === r.objective && f.target === r.target && f.granularity === r.granularity) ?? r);
writeFileSync(jsonPath, `${JSON.stringify(json, null, 1)}\n`);
const page = readFileSync(pagePath, 'utf8');
const start = page.indexOf('## Structured pruning, compaction and file size');
const end = page.indexOf('## Scoring throughput');
writeFileSync(pagePath, `${page.slice(0, start)}${structuredSection(json.structured)}\n${page.slice(end)}`);
console.log(fresh.map((r) => `${r.model} ${r.granularity} ${r.objective} ${r.target}: sparsity ${r.sparsity.toFixed(3)}, compute ${r.computeReduction.toFixed(3)}, test ${r.denseTest} → ${r.prunedTest}`).join('\n'));
