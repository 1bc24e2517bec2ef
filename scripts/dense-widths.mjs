// Batch-256 latency of LeNet-300-100 shapes with a narrower first hidden layer (784 -> N -> H2 -> 10, random
// weights; median of 31 alternating predict calls + read back): how the compact model's time moves with N, and
// whether a width that is a multiple of 8 is faster than its neighbours. Run it under each runtime setting, e.g.
//   npm run build && TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/dense-widths.mjs 20,24,28,29,32 98
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const widths = (process.argv[2] ?? '16,20,24,28,29,30,31,32,40,300').split(',').map(Number);
const h2 = Number(process.argv[3] ?? 100);
const build = (n) => tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [784], units: n, activation: 'relu' }),
  tf.layers.dense({ units: h2, activation: 'relu' }),
  tf.layers.dense({ units: 10, activation: 'softmax' }),
] });
const floor = tf.sequential({ layers: [tf.layers.dense({ inputShape: [784], units: 1, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })] });
const models = [...widths.map((n) => [`${n}`, build(n)]), ['floor', floor]];
const x = tf.randomUniform([256, 784]);
const once = (m) => { const t0 = process.hrtime.bigint(); const y = m.predict(x, { batchSize: 256 }); y.dataSync(); y.dispose(); return Number(process.hrtime.bigint() - t0) / 1e6; };
for (const [, m] of models) for (let i = 0; i < 5; i++) once(m);
const t = models.map(() => []);
for (let r = 0; r < 31; r++) models.forEach(([, m], i) => t[i].push(once(m)));
const med = (v) => [...v].sort((a, b) => a - b)[v.length >> 1];
const env = `threads ${process.env.TF_NUM_INTRAOP_THREADS ?? 'auto'}, oneDNN ${process.env.TF_ENABLE_ONEDNN_OPTS === '0' ? 'off' : 'on'}`;
console.log(`${env}, second layer ${h2}: ${models.map(([n], i) => `${n} ${med(t[i]).toFixed(3)}`).join(' | ')} ms`);
