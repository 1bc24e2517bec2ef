// Reruns some rows of the MNIST page's structured section (docs/benchmarks.md, "Structured pruning, compaction and
// file size") with the current build, keeps the others as docs/benchmarks.json records them, and rewrites that
// section (and the JSON's records). For a change that moves only some rows (e.g. channel rounding under
// --objective flops moves LeNet-5's flops rows), without the hours of a full `autoprune bench`.
// A fourth argument adds rows at more targets (the same granularity and objective, budget 30 epochs as the flops rows).
//   npm run build && node scripts/structured-rerun.mjs lenet-5 flops [granularity] [extra targets, e.g. 0.93,0.95]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { selectBackendAsync } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { runStructuredBench, structuredSection } = await import('../dist/bench/structured.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const [model = 'lenet-5', objective = 'flops', granularity, extra] = process.argv.slice(2);
const jsonPath = `${root}docs/benchmarks.json`;
const pagePath = `${root}docs/benchmarks.md`;
const json = JSON.parse(readFileSync(jsonPath, 'utf8'));
const redo = json.structured.filter((r) => r.model === model && r.objective === objective && (!granularity || r.granularity === granularity));
if (redo.length === 0) throw new Error(`no structured rows of ${model} with objective ${objective}`);
for (const target of (extra ?? '').split(',').filter(Boolean).map(Number)) {
  if (!redo.some((r) => r.target === target)) redo.push({ ...redo[0], target, budget: redo[0].budget ?? 30 });
}
const data = loadMnist10k({ seed: 0 });
const fresh = await runStructuredBench(data, {
  models: [model], seed: 0, denseEpochs: 15, budget: 15, scorer: () => loadPolicy('default'), latencyRuns: 200,
  onProgress: (m) => process.stderr.write(`rerun: ${m}\n`),
  runs: redo.map((r) => ({ granularity: r.granularity, objective: r.objective, target: r.target, maxDrop: 1, force: false, budget: r.budget ?? 30 })),
});
data.dispose();
const same = (f, r) => f.model === r.model && f.objective === r.objective && f.target === r.target && f.granularity === r.granularity;
json.structured = json.structured.map((r) => fresh.find((f) => same(f, r)) ?? r);
// New targets go after the rows of the same model, granularity and objective, in target order.
for (const f of fresh.filter((x) => !json.structured.some((r) => same(x, r)))) {
  const at = json.structured.findLastIndex((r) => r.model === f.model && r.objective === f.objective && r.granularity === f.granularity && r.target < f.target);
  json.structured.splice(at + 1, 0, f);
}
writeFileSync(jsonPath, `${JSON.stringify(json, null, 1)}\n`);
const page = readFileSync(pagePath, 'utf8');
const start = page.indexOf('## Structured pruning, compaction and file size');
const end = page.indexOf('## Scoring throughput');
writeFileSync(pagePath, `${page.slice(0, start)}${structuredSection(json.structured)}\n${page.slice(end)}`);
console.log(fresh.map((r) => `${r.model} ${r.granularity} ${r.objective} ${r.target}: sparsity ${r.sparsity.toFixed(3)}, compute ${r.computeReduction.toFixed(3)}, test ${r.denseTest} → ${r.prunedTest}`).join('\n'));
