// One or more rows of the MNIST page's structured section (docs/benchmarks.md, "Structured pruning, compaction and file
// size"), printed and not written anywhere: e.g. whether a forced unit/flops run at a higher target stays within the
// speed bar's 1 point (issue 17). Each run is runStructuredBench's (agent, compact, latency). Default: LeNet-300-100,
// seed 0; MODELS and SEEDS (comma-separated) run others, e.g. MODELS=lenet-5 SEEDS=0,1,2.
//   npm run build && node scripts/structured-row.mjs '[{"granularity":"unit","objective":"flops","target":0.93,"maxDrop":1,"force":true,"budget":30}]' [latency runs, default 200]
const { selectBackendAsync } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadMnist10k } = await import('../dist/data/mnist.js');
const { runStructuredBench } = await import('../dist/bench/structured.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const runs = JSON.parse(process.argv[2]);
const models = (process.env.MODELS ?? 'lenet-300-100').split(',');
for (const seed of (process.env.SEEDS ?? '0').split(',').map(Number)) {
  const data = loadMnist10k({ seed });
  const rows = await runStructuredBench(data, {
    models, seed, denseEpochs: 15, budget: 15, scorer: () => loadPolicy('default'), latencyRuns: Number(process.argv[3] ?? 200),
    onProgress: (m) => process.stderr.write(`row: ${m}\n`), runs,
  });
  data.dispose();
  for (const r of rows) {
    const b = r.latencyMs;
    console.log(JSON.stringify({ model: r.model, seed, objective: r.objective, target: r.target, sparsity: r.sparsity, computeRemoved: r.computeReduction, unitsRemoved: r.unitsRemoved, denseTest: r.denseTest, prunedTest: r.prunedTest,
      batch256Ms: { dense: b.dense.b256, compact: b.compact.b256, floor: b.floor.b256 }, speedUp: b.dense.b256 / b.compact.b256, settings: r.latencySettings }));
  }
}
