// Batch-256 latency of LeNet-300-100 shapes (random weights) through three call paths: predict, apply, and the
// fused MatMul kernels called directly; dense 784-300-100-10, compact 784-29-98-10, floor 784-1-10; median of 101
// alternating calls + read-back. Run under each runtime setting, e.g.
//   npm run build && TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/predict-paths.mjs
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const build = (n, h2) => tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [784], units: n, activation: 'relu' }),
  ...(h2 ? [tf.layers.dense({ units: h2, activation: 'relu' })] : []),
  tf.layers.dense({ units: 10, activation: 'softmax' }),
] });
const models = [['dense', build(300, 100)], ['compact', build(29, 98)], ['floor', build(1, 0)]];
const x = tf.randomUniform([256, 784]);
const direct = (m) => { const ws = m.layers.map((l) => l.getWeights()); return () => tf.tidy(() => { let h = x; ws.forEach(([k, b], i) => { h = tf.fused.matMul({ a: h, b: k, bias: b, activation: i < ws.length - 1 ? 'relu' : 'linear' }); }); return tf.softmax(h); }); };
const variants = [];
for (const [n, m] of models) { variants.push([`${n}/predict`, () => m.predict(x, { batchSize: 256 })]); variants.push([`${n}/apply`, () => m.apply(x)]); variants.push([`${n}/direct`, direct(m)]); }
const once = (f) => { const t0 = process.hrtime.bigint(); const y = f(); y.dataSync(); y.dispose(); return Number(process.hrtime.bigint() - t0) / 1e6; };
for (const [, f] of variants) for (let i = 0; i < 10; i++) once(f);
const t = variants.map(() => []);
for (let r = 0; r < 101; r++) variants.forEach(([, f], i) => t[i].push(once(f)));
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
console.log(`threads ${process.env.TF_NUM_INTRAOP_THREADS ?? 'auto'} oneDNN ${process.env.TF_ENABLE_ONEDNN_OPTS ?? 'on'}: ` + variants.map(([n], i) => `${n} ${med(t[i]).toFixed(3)}`).join(' | '));
