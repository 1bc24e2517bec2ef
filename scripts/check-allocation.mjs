// One-shot check that separates a scorer's order inside each layer from its allocation across layers
// (docs/oracle.md, "order + allocation"): "X+Y" keeps X's order inside every layer and Y's per-layer counts
// (a rank transplant: the connection X ranks k-th most prunable in a layer gets Y's k-th highest score of
// that layer). The benchmark's protocol: dense models of the benchmark (seeds), one-shot + 5 fine-tune epochs.
// Usage: npm run build && node scripts/check-allocation.mjs lenet-5 0,1,2 0.9,0.95,0.98 default+lamp,default-v2+lamp
//   (a name is a baseline scorer or a shipped policy; the results print one JSON line per run)
const { selectBackendAsync } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { runBench } = await import('../dist/bench/run.js');
const [model = 'lenet-5', seeds = '0,1,2', targets = '0.9,0.95,0.98', methods = 'default+lamp'] = process.argv.slice(2);

const { resolveScorer: resolveScorerSpec } = await import('../dist/policy/io.js');
const r = await runBench({
  models: [model], seeds: seeds.split(',').map(Number), targets: targets.split(',').map(Number),
  methods: Object.fromEntries(methods.split(',').map((m) => [m, () => resolveScorerSpec(m)])), denseEpochs: 15, fineTuneEpochs: 5, agentBudget: 15,
  onProgress: (m) => console.error(m),
});
for (const rec of r.records) {
  console.log(JSON.stringify({ model: rec.model, seed: rec.seed, method: rec.method, target: rec.target, test: rec.testAfter, val: rec.valAfter, layers: rec.layerSparsity.map((x) => +x.toFixed(3)) }));
}
