// Times tfjs training epochs (8,006 random 28x28 or 32x32x3 inputs, batch 128, Adam, model.fit) on a chosen
// backend, for docs/gpu.md: `webgpu` (a GPU through Dawn's WebGPU for Node and Vulkan; needs the optional
// packages `webgpu` and `@tensorflow/tfjs-backend-webgpu`, bundled with esbuild by scripts/webgpu-probe.sh for
// the GPU machine) or `tensorflow` (autoprune's native CPU backend, from dist/). Also checks whether a
// GPU-resident tensor can be read synchronously (dataSync), which autoprune's code does in ~60 places.
//   node scripts/webgpu-probe.mjs tensorflow        # on this machine
const which = process.argv[2] ?? 'webgpu';
let tf;
if (which === 'webgpu') {
  const { create, globals } = await import('webgpu');
  Object.assign(globalThis, globals);
  globalThis.navigator = { gpu: create([]) };
  tf = await import('@tensorflow/tfjs');
  await import('@tensorflow/tfjs-backend-webgpu'); // registers itself only when navigator.gpu exists
  const ad = await globalThis.navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
  console.log('adapter', ad ? JSON.stringify({ vendor: ad.info?.vendor, desc: ad.info?.description }) : null);
  console.log('setBackend', await tf.setBackend('webgpu'), tf.getBackend());
} else {
  const b = await import('../dist/backend/tf.js');
  b.selectBackend(which);
  tf = b.tf;
}
const N = Number(process.env.N ?? 8006);
const dense = (units, activation = 'relu') => tf.layers.dense({ units, activation });
const models = {
  'lenet-300-100': () => tf.sequential({ layers: [tf.layers.flatten({ inputShape: [28, 28, 1] }), dense(300), dense(100), dense(10, 'softmax')] }),
  'lenet-5 (6-16-120-84)': () => tf.sequential({ layers: [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 6, kernelSize: 5, padding: 'same', activation: 'relu' }), tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.conv2d({ filters: 16, kernelSize: 5, activation: 'relu' }), tf.layers.maxPooling2d({ poolSize: 2 }),
    tf.layers.flatten(), dense(120), dense(84), dense(10, 'softmax')] }),
  'vgg-style (32x32x3, 2.2 M)': () => {
    const layers = [];
    for (const [i, f] of [64, 128, 256].entries()) {
      layers.push(tf.layers.conv2d({ ...(i === 0 ? { inputShape: [32, 32, 3] } : {}), filters: f, kernelSize: 3, padding: 'same', activation: 'relu' }),
        tf.layers.conv2d({ filters: f, kernelSize: 3, padding: 'same', activation: 'relu' }), tf.layers.maxPooling2d({ poolSize: 2 }));
    }
    return tf.sequential({ layers: [...layers, tf.layers.flatten(), dense(256), dense(10, 'softmax')] });
  },
};
for (const [name, make] of Object.entries(models)) {
  const m = make();
  m.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
  const shape = m.inputs[0].shape.slice(1);
  const x = tf.randomUniform([N, ...shape]);
  const y = tf.oneHot(tf.randomUniform([N], 0, 10, 'int32'), 10);
  const epochs = name.startsWith('vgg') ? 4 : 6;
  const secs = [];
  for (let e = 0; e < epochs; e++) {
    const t0 = performance.now();
    await m.fit(x, y, { epochs: 1, batchSize: 128, verbose: 0 });
    secs.push(+((performance.now() - t0) / 1000).toFixed(4));
  }
  const warm = secs.slice(1).sort((a, b) => a - b);
  console.log(JSON.stringify({ model: name, backend: tf.getBackend(), params: m.countParams(), samples: N, epochSeconds: secs, median: warm[Math.floor(warm.length / 2)] }));
  tf.dispose([x, y]);
  m.dispose();
}
try {
  const big = tf.matMul(tf.ones([256, 256]), tf.ones([256, 256]));
  console.log('dataSync of a GPU-resident tensor:', big.dataSync()[0]);
} catch (e) {
  console.log('dataSync of a GPU-resident tensor fails:', String(e.message).split('\n')[0]);
}
process.exit(0);
