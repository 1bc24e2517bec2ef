// Batch-256 latency of LeNet-300-100 shapes (random weights) through four call paths: predict, apply, the fused MatMul
// op called directly, and the raw TensorFlow kernels through the binding (MatMul, BiasAdd, Relu / Softmax: what is left
// without tfjs); dense 784-300-100-10, compact 784-29-98-10, floor 784-1-10; median of 101 alternating calls +
// read-back. `--fused-kernel` first replaces tfjs-node's `_FusedMatMul` kernel with one that calls BatchMatMulV2,
// BiasAdd and the activation directly (tried 2026-12-06, not kept: docs/compaction.md). Run under each runtime setting:
//   npm run build && TF_NUM_INTRAOP_THREADS=1 TF_ENABLE_ONEDNN_OPTS=0 node scripts/predict-paths.mjs [--fused-kernel]
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const be = tf.backend();
const b = be.binding;
const T = { name: 'T', type: b.TF_ATTR_TYPE, value: b.TF_FLOAT };
const bool = (name, value) => ({ name, type: b.TF_ATTR_BOOL, value });
if (process.argv.includes('--fused-kernel')) {
  const stock = tf.getKernel('_FusedMatMul', 'tensorflow');
  const ACT = { relu: 'Relu', relu6: 'Relu6', elu: 'Elu', sigmoid: 'Sigmoid' };
  tf.unregisterKernel('_FusedMatMul', 'tensorflow');
  tf.registerKernel({ kernelName: '_FusedMatMul', backendName: 'tensorflow', kernelFunc: (args) => {
    const { a, b: w, bias, preluActivationWeights } = args.inputs;
    const act = args.attrs.activation ?? 'linear';
    if (preluActivationWeights || !(act === 'linear' || act in ACT) || (bias && bias.shape.length !== 1)) return stock.kernelFunc(args);
    let y = be.executeSingleOutput('BatchMatMulV2', [T, bool('adj_x', args.attrs.transposeA), bool('adj_y', args.attrs.transposeB)], [a, w]);
    if (bias) { const z = be.executeSingleOutput('BiasAdd', [T], [y, bias]); y.dispose(); y = z; }
    if (act !== 'linear') { const z = be.executeSingleOutput(ACT[act], [T], [y]); y.dispose(); y = z; }
    return y;
  } });
}
const build = (n, h2) => tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [784], units: n, activation: 'relu' }),
  ...(h2 ? [tf.layers.dense({ units: h2, activation: 'relu' })] : []),
  tf.layers.dense({ units: 10, activation: 'softmax' }),
] });
const models = [['dense', build(300, 100)], ['compact', build(29, 98)], ['floor', build(1, 0)]];
const x = tf.randomUniform([256, 784]);
const direct = (m) => { const ws = m.layers.map((l) => l.getWeights()); return () => tf.tidy(() => { let h = x; ws.forEach(([k, bias], i) => { h = tf.fused.matMul({ a: h, b: k, bias, activation: i < ws.length - 1 ? 'relu' : 'linear' }); }); return tf.softmax(h); }); };
const raw = (m) => {
  const ws = m.layers.map((l) => l.getWeights());
  return () => {
    let h = x;
    ws.forEach(([k, bias], i) => {
      const z = be.executeSingleOutput('MatMul', [T, bool('transpose_a', false), bool('transpose_b', false)], [h, k]);
      const zb = be.executeSingleOutput('BiasAdd', [T], [z, bias]);
      z.dispose();
      const a = be.executeSingleOutput(i < ws.length - 1 ? 'Relu' : 'Softmax', [T], [zb]);
      zb.dispose();
      if (h !== x) h.dispose();
      h = a;
    });
    return h;
  };
};
const variants = [];
for (const [n, m] of models) {
  variants.push([`${n}/predict`, () => m.predict(x, { batchSize: 256 })]);
  variants.push([`${n}/apply`, () => m.apply(x)]);
  variants.push([`${n}/direct`, direct(m)]);
  variants.push([`${n}/raw`, raw(m)]);
}
const once = (f) => { const t0 = process.hrtime.bigint(); const y = f(); y.dataSync(); y.dispose(); return Number(process.hrtime.bigint() - t0) / 1e6; };
for (const [, f] of variants) for (let i = 0; i < 10; i++) once(f);
const t = variants.map(() => []);
for (let r = 0; r < 101; r++) variants.forEach(([, f], i) => t[i].push(once(f)));
const med = (v) => [...v].sort((p, q) => p - q)[v.length >> 1];
const m = Object.fromEntries(variants.map(([n], i) => [n, med(t[i])]));
console.log(`threads ${process.env.TF_NUM_INTRAOP_THREADS ?? 'auto'} oneDNN ${process.env.TF_ENABLE_ONEDNN_OPTS ?? 'on'}${process.argv.includes('--fused-kernel') ? ', _FusedMatMul replaced' : ''}: ` +
  variants.map(([n]) => `${n} ${m[n].toFixed(3)}`).join(' | '));
console.log(['predict', 'direct', 'raw'].map((p) => `dense ÷ compact via ${p}: ${(m[`dense/${p}`] / m[`compact/${p}`]).toFixed(2)}×`).join(', '));
