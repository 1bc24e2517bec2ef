// Pruning inside your own training loop: your model, optimizer and model.fit; autoprune's policy decides which
// connections go on a cubic schedule and keeps them at 0 after every batch.
// Run after `npm install`: node examples/callback.mjs
import { PruningCallback, loadMnist10k, tf } from 'autoprune';

const data = loadMnist10k({ seed: 0 });
const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 10).toFloat();
const yVal = tf.oneHot(tf.tensor1d(data.val.labels, 'int32'), 10).toFloat();
const model = tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [784], units: 300, activation: 'relu' }),
  tf.layers.dense({ units: 100, activation: 'relu' }),
  tf.layers.dense({ units: 10, activation: 'softmax' }),
] });
model.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
await model.fit(data.train.x, y, { epochs: 5, batchSize: 128, verbose: 0 }); // your dense training

const pruner = new PruningCallback(model, {
  target: 0.9, calibration: data.train,
  onPrune: (e) => console.log(`step ${e.step}: ${(100 * e.sparsity).toFixed(1)} % of the prunable weights pruned`),
});
const h = await model.fit(data.train.x, y, { epochs: 6, batchSize: 128, validationData: [data.val.x, yVal], callbacks: [pruner], verbose: 0 });
const s = pruner.sparsity();
const pruned = pruner.strip(); // a plain LayersModel; pruned weights are exactly 0
console.log(`sparsity ${(100 * s.global).toFixed(1)} % of the prunable kernels (${(100 * s.ofAllParams).toFixed(1)} % of all parameters); val accuracy ${(100 * h.history.val_acc.at(-1)).toFixed(2)} %`);
await pruned.save('file://./pruned-by-callback');
