// One-shot check of a policy file on the benchmark's models (seeds 0/1/2, targets 0.9/0.95; one-shot +
// 5 fine-tune epochs, the protocol of docs/benchmarks.md), without rerunning the whole benchmark.
// Usage: npm run build && node scripts/check-policy.mjs policies/default-v2.json lenet-5,lenet-300-100 0,1,2
const { selectBackendAsync } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { runBench } = await import('../dist/bench/run.js');
const { loadPolicy } = await import('../dist/policy/io.js');
const [policy, models = 'lenet-5,lenet-300-100', seeds = '0,1,2'] = process.argv.slice(2);
if (!policy) { console.error('usage: node scripts/check-policy.mjs POLICY [MODELS] [SEEDS]'); process.exit(2); }
const r = await runBench({
  models: models.split(','), seeds: seeds.split(',').map(Number), targets: [0.9, 0.95],
  methods: { learned: () => loadPolicy(policy) }, denseEpochs: 15, fineTuneEpochs: 5, agentBudget: 15,
  onProgress: (m) => console.error(m),
});
for (const rec of r.records) {
  console.log(JSON.stringify({ model: rec.model, seed: rec.seed, target: rec.target, test: rec.testAfter, layers: rec.layerSparsity.map((x) => +x.toFixed(3)) }));
}
