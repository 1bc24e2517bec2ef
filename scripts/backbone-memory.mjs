#!/usr/bin/env node
// Memory and time of one agent step on a real backbone's shape: MobileNet-v1 (alpha 1.0, 3.2 M parameters,
// 128×128×3 inputs, 10 classes; untrained, random images: cost only, accuracy is not the point), 640 training
// rows, `target 0.5, budgetSteps 40, force`. Prints the phases and the process's peak resident memory
// (docs/benchmarks.md, "Scale": convolutional backbones).   npm run build && node scripts/backbone-memory.mjs [predict|recalibrate]
import { readFileSync } from 'node:fs';
const { autoprune, tf } = await import(new URL('../dist/index.js', import.meta.url).href);
const vm = (f) => Number(new RegExp(`${f}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status','utf8'))[1]) / 1024;
const alpha = Number(process.env.ALPHA ?? 1), size = Number(process.env.SIZE ?? 128);
const inp = tf.input({ shape: [size, size, 3] });
let x = tf.layers.conv2d({ filters: Math.round(32*alpha), kernelSize: 3, strides: 2, padding: 'same', useBias: false }).apply(inp);
x = tf.layers.batchNormalization().apply(x); x = tf.layers.reLU({ maxValue: 6 }).apply(x);
const blocks = [[64,1],[128,2],[128,1],[256,2],[256,1],[512,2],[512,1],[512,1],[512,1],[512,1],[512,1],[1024,2],[1024,1]];
for (const [f, s] of blocks) {
  x = tf.layers.depthwiseConv2d({ kernelSize: 3, strides: s, padding: 'same', useBias: false }).apply(x);
  x = tf.layers.batchNormalization().apply(x); x = tf.layers.reLU({ maxValue: 6 }).apply(x);
  x = tf.layers.conv2d({ filters: Math.round(f*alpha), kernelSize: 1, padding: 'same', useBias: false }).apply(x);
  x = tf.layers.batchNormalization().apply(x); x = tf.layers.reLU({ maxValue: 6 }).apply(x);
}
x = tf.layers.globalAveragePooling2d({}).apply(x);
const out = tf.layers.dense({ units: 10, activation: 'softmax' }).apply(x);
const model = tf.model({ inputs: inp, outputs: out });
model.compile({ optimizer: 'adam', loss: 'categoricalCrossentropy' });
console.log('params', model.countParams());
const n = Number(process.env.ROWS ?? 640);
const mk = (rows, seed) => { const x = tf.randomUniform([rows, size, size, 3], 0, 1, 'float32', seed); const labels = new Int32Array(rows).map((_, i) => (i * 7 + seed) % 10); return { x, labels }; };
const data = { name: 'random-images', source: 'random', inputShape: [size, size, 3], numClasses: 10, classNames: [...Array(10).keys()].map(String), train: mk(n, 1), val: mk(128, 2), test: mk(128, 3), dispose() {} };
const before = vm('VmRSS');
const t0 = Date.now();
// `predict` or `recalibrate` as argument: that whole-split pass alone on the training rows (peak of the process).
const part = process.argv[2];
if (part === 'predict' || part === 'recalibrate') {
  const { predict } = await import(new URL('../dist/models/train.js', import.meta.url).href);
  const { recalibrateBatchNorm } = await import(new URL('../dist/models/batchnorm.js', import.meta.url).href);
  if (part === 'predict') tf.dispose(predict(model, data.train.x));
  else recalibrateBatchNorm(model, data.train.x);
  console.log(part, 'seconds', (Date.now() - t0) / 1000, 'rss before', before.toFixed(0), 'MB, peak', vm('VmHWM').toFixed(0), 'MB');
  process.exit(0);
}
const { report } = await autoprune({ model, data, target: 0.5, budgetSteps: 40, force: true, maxDrop: 100 });
console.log('seconds', (Date.now() - t0) / 1000, 'rss before', before.toFixed(0), 'MB, peak', vm('VmHWM').toFixed(0), 'MB');
console.log('phases', JSON.stringify(report.phases), 'passes', report.totals.scoringPasses, 'prunable', report.dense.prunable, 'sparsity', report.final.sparsity);
