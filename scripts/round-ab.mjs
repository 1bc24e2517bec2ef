// Channel rounding A/B on one model: whole units pruned to a compute target with L1 unit scores, `roundTo` 1 vs 8,
// each compacted; batch-256 predict timed in alternation with the dense model (median of 40).
// docs/compaction.md, "Rounding does not help every model".
//   npm run build && node scripts/round-ab.mjs ~/.cache/autoprune/models/<cnn-…>  [target, default 0.9]
// (a LeNet-5 the benchmark cached: `ls ~/.cache/autoprune/models`; any model folder with a 28×28×1 input works)
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { PrunableModel } = await import('../dist/pruning/prunable-model.js');
const { pruneUnits, unitL1Scores } = await import('../dist/pruning/units.js');
const { compactModel } = await import('../dist/pruning/compact.js');
const { loadModel } = await import('../dist/models/io.js');
const [dir, target = '0.9'] = process.argv.slice(2);
if (!dir) throw new Error('usage: node scripts/round-ab.mjs MODEL_DIR [TARGET]');
const models = {};
for (const [name, roundTo] of [['odd', 1], ['x8', 8]]) {
  const m = await loadModel(dir);
  const pm = new PrunableModel(m);
  const r = pruneUnits(pm, unitL1Scores(pm), Number(target), { objective: 'flops', roundTo });
  const { model: c } = compactModel(m, pm);
  console.log(`roundTo ${roundTo}: compute removed ${(100 * r.progress).toFixed(1)} %, units ${c.layers.filter((l) => l.weights.length).map((l) => l.weights[0].shape.at(-1)).join('/')}`);
  models[name] = c;
  if (name === 'odd') models.dense = m;
}
const x = tf.randomUniform([256, ...models.dense.inputs[0].shape.slice(1)]);
const once = (mm) => { const t0 = process.hrtime.bigint(); const y = mm.predict(x); y.dataSync(); y.dispose(); return Number(process.hrtime.bigint() - t0) / 1e6; };
const med = (v) => v.sort((p, q) => p - q)[v.length >> 1];
const names = Object.keys(models);
for (const n of names) { once(models[n]); once(models[n]); }
const t = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < 40; i++) for (const n of names) t[n].push(once(models[n]));
console.log(`batch-256 ms: ${names.map((n) => `${n} ${med(t[n]).toFixed(2)}`).join(' | ')}`);
