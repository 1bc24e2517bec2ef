import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { compileChain, chainObstacle } from '../../src/models/compiled-chain.js';
import { buildModel } from '../../src/models/families.js';
import { lossOf, taskOf, type TaskInfo } from '../../src/models/task.js';
import { train } from '../../src/models/train.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { withSeededRandom } from '../../src/util/seeded-random.js';
import { numTensors, smallMnist } from '../helpers.js';

const varsOf = (m: TF.LayersModel) => m.trainableWeights.map((w) => w.read() as TF.Variable);

/** Largest |compiled − tape| over every gradient, relative to the gradient's largest entry, and the two losses. */
function compare(model: TF.LayersModel, task: TaskInfo, x: TF.Tensor, y: TF.Tensor): { worst: number; loss: [number, number]; names: string[] } {
  const vars = varsOf(model);
  const compiled = compileChain(model, task, vars);
  expect(compiled, 'the model should compile').toBeDefined();
  return tf.tidy(() => {
    const tape = tf.variableGrads(() => lossOf(model.apply(x, { training: true }) as TF.Tensor, y, task), vars);
    const fast = compiled!.valueAndGrads(x, y);
    let worst = 0;
    for (const v of vars) {
      const scale = Math.max(1e-6, tf.max(tf.abs(tape.grads[v.name])).dataSync()[0]);
      worst = Math.max(worst, tf.max(tf.abs(tf.sub(tape.grads[v.name], fast.grads[v.name]))).dataSync()[0] / scale);
    }
    return { worst, loss: [tape.value.dataSync()[0], fast.value.dataSync()[0]], names: Object.keys(fast.grads).sort() };
  });
}

/** compare() on a classifier: gradients and loss equal to `tol`, one for every trained variable, nothing leaked; disposes x and y. */
function expectLikeTape(model: TF.LayersModel, x: TF.Tensor, y: TF.Tensor, tol: number): void {
  const before = numTensors();
  const r = compare(model, taskOf(model), x, y);
  expect(numTensors()).toBe(before);
  expect(r.worst).toBeLessThan(tol);
  expect(Math.abs(r.loss[0] - r.loss[1])).toBeLessThan(1e-5 * Math.abs(r.loss[0]));
  expect(r.names).toEqual(varsOf(model).map((v) => v.name).sort());
  tf.dispose([x, y]);
}

describe('compiled chain gradient', () => {
  it('equals the tape on an MLP with a softmax output (Flatten first), and leaks nothing', () => {
    const model = tf.sequential({ layers: [
      tf.layers.flatten({ inputShape: [4, 5] }),
      tf.layers.dense({ units: 12, activation: 'relu' }),
      tf.layers.dense({ units: 8, activation: 'relu' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ] });
    const x = tf.randomNormal([32, 4, 5], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 3), 'int32'), 3).toFloat();
    expectLikeTape(model, x, y, 1e-5);
    model.dispose();
  });

  it.each(['tanh', 'sigmoid', 'elu', 'selu', 'relu6', 'linear'])('equals the tape with %s hidden units, a regression output and a sigmoid output', (activation) => {
    for (const output of ['regression', 'sigmoid'] as const) {
      const model = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [6], units: 10, activation: activation as 'tanh' }),
        tf.layers.dense({ units: 7, activation: activation as 'tanh', useBias: false }),
        tf.layers.dense({ units: 1, activation: output === 'sigmoid' ? 'sigmoid' : 'linear' }),
      ] });
      const x = tf.randomNormal([24, 6], 0, 2, 'float32', 2);
      const y = output === 'sigmoid' ? tf.cast(tf.greater(tf.randomUniform([24, 1], 0, 1, 'float32', 3), 0.5), 'float32') : tf.randomNormal([24, 1], 0, 1, 'float32', 3);
      const task: TaskInfo = output === 'sigmoid'
        ? { output: 'sigmoid', units: 1, kind: 'classification', evidence: 'test' }
        : { output: 'regression', units: 1, kind: 'regression', evidence: 'test' };
      const r = compare(model, task, x, y);
      expect(r.worst, `${activation}, ${output}`).toBeLessThan(1e-5);
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('equals the tape on CNNs: Conv2D (valid and same padding, strides), max-pooling, Flatten, a frozen first conv', () => {
    const build = (frozen: boolean) => {
      const m = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [12, 12, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 5, kernelSize: [3, 2], strides: [1, 2], padding: 'same', activation: 'tanh' }),
        tf.layers.maxPooling2d({ poolSize: 3, strides: 1, padding: 'same' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 6, activation: 'elu' }),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      if (frozen) m.layers[0].trainable = false;
      return m;
    };
    for (const frozen of [false, true]) {
      const model = buildModel({ family: 'cnn', inputShape: [12, 12, 2], convs: [{ filters: 3, kernel: 3 }], dense: [5], numClasses: 3, seed: 2 });
      for (const m of [model, build(frozen)]) {
        const x = tf.randomNormal([16, 12, 12, 2], 0, 1, 'float32', 6);
        const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32'), 3).toFloat();
        const before = numTensors();
        const r = compare(m, taskOf(m), x, y);
        expect(numTensors()).toBe(before);
        expect(r.worst, `frozen ${frozen}`).toBeLessThan(1e-5);
        expect(r.names).toEqual(varsOf(m).map((v) => v.name).sort());
        tf.dispose([x, y]);
        m.dispose();
      }
    }
  });

  it('equals the tape where a ReLU before max pooling runs after it, with pooling windows that tie (a blank background, positive and negative biases)', () => {
    for (const sign of [1, -1]) {
      const m = tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [10, 10, 1], filters: 3, kernelSize: 3, activation: 'relu', biasInitializer: tf.initializers.constant({ value: 0.2 * sign }) }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ] });
      // Mostly exact zeros: every window over the background ties (at the bias, or at 0 after the ReLU).
      const x = tf.tidy(() => tf.mul(tf.randomNormal([8, 10, 10, 1], 0, 1, 'float32', 3), tf.cast(tf.greater(tf.randomUniform([8, 10, 10, 1], 0, 1, 'float32', 4), 0.8), 'float32')));
      const y = tf.oneHot(tf.tensor1d([0, 1, 2, 0, 1, 2, 0, 1], 'int32'), 3).toFloat();
      expectLikeTape(m, x, y, 1e-5);
      m.dispose();
    }
  });

  it('equals the tape on 1-D convnets and with weightless layers (pooling, padding, LeakyReLU, a softplus Activation)', () => {
    const conv1d = tf.sequential({ layers: [
      tf.layers.conv1d({ inputShape: [20, 3], filters: 6, kernelSize: 3, activation: 'relu' }),
      tf.layers.conv1d({ filters: 5, kernelSize: 4, strides: 2, padding: 'same', activation: 'selu' }),
      tf.layers.maxPooling1d({ poolSize: 2 }),
      tf.layers.conv1d({ filters: 4, kernelSize: 2, useBias: false }),
      tf.layers.globalMaxPooling1d(),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ] });
    const cnn = tf.sequential({ layers: [
      tf.layers.zeroPadding2d({ inputShape: [8, 8, 2], padding: 1 }),
      tf.layers.conv2d({ filters: 4, kernelSize: 3 }),
      tf.layers.leakyReLU({ alpha: 0.2 }),
      tf.layers.averagePooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 3, kernelSize: 2, activation: 'sigmoid' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 5 }),
      tf.layers.activation({ activation: 'softplus' }),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ] });
    for (const [m, shape] of [[conv1d, [16, 20, 3]], [cnn, [16, 8, 8, 2]]] as const) {
      const x = tf.randomNormal([...shape], 0, 1, 'float32', 8);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32'), 3).toFloat();
      const before = numTensors();
      const r = compare(m, taskOf(m), x, y);
      expect(numTensors()).toBe(before);
      expect(r.worst, m.layers[0].name).toBeLessThan(1e-5);
      expect(r.names).toEqual(varsOf(m).map((v) => v.name).sort());
      tf.dispose([x, y]);
      m.dispose();
    }
  });

  it('equals the tape with Activation, ReLU and Dropout layers (the same dropout noise from the same seed)', () => {
    const model = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [10], units: 16 }),
      tf.layers.reLU(),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.dense({ units: 12 }),
      tf.layers.activation({ activation: 'tanh' }),
      tf.layers.dropout({ rate: 0 }),
      tf.layers.dense({ units: 4 }),
      tf.layers.activation({ activation: 'softmax' }),
    ] });
    const task = taskOf(model);
    const vars = varsOf(model);
    const compiled = compileChain(model, task, vars)!;
    expect(compiled).toBeDefined();
    const x = tf.randomNormal([32, 10], 0, 1, 'float32', 7);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 32 }, (_, i) => i % 4), 'int32'), 4).toFloat();
    tf.tidy(() => {
      const tape = withSeededRandom(42, () => tf.variableGrads(() => lossOf(model.apply(x, { training: true }) as TF.Tensor, y, task), vars));
      const fast = withSeededRandom(42, () => compiled.valueAndGrads(x, y));
      for (const v of vars) {
        const scale = tf.max(tf.abs(tape.grads[v.name])).dataSync()[0];
        expect(tf.max(tf.abs(tf.sub(tape.grads[v.name], fast.grads[v.name]))).dataSync()[0] / scale, v.name).toBeLessThan(1e-5);
      }
      // Dropout really dropped: some rows of the first kernel's gradient differ from the noise-free gradient.
      const clean = tf.variableGrads(() => lossOf(model.apply(x, { training: false }) as TF.Tensor, y, task), vars);
      expect(tf.max(tf.abs(tf.sub(clean.grads[vars[0].name], fast.grads[vars[0].name]))).dataSync()[0]).toBeGreaterThan(1e-4);
    });
    tf.dispose([x, y]);
    model.dispose();
  });

  it('matches tfjs where TensorFlow\'s kernels differ: selu at exactly 0, channels-first Flatten, dropout rate ≥ 1, a rank-3 softmax output', () => {
    const zeroBackground = tf.tidy(() => tf.concat([tf.zeros([8, 8, 4, 1]), tf.randomNormal([8, 8, 4, 1], 0, 1, 'float32', 9)], 2));
    const cases: [string, TF.LayersModel, TF.Tensor, number[]][] = [
      ['selu at 0', tf.sequential({ layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 3, kernelSize: 3, padding: 'same', activation: 'selu' }),
        tf.layers.activation({ activation: 'selu' }),
        tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })] }), zeroBackground, [8, 3]],
      ['channels-first Flatten', tf.sequential({ layers: [
        tf.layers.flatten({ inputShape: [4, 5], dataFormat: 'channelsFirst' }),
        tf.layers.dense({ units: 6, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] }), tf.randomNormal([8, 4, 5], 0, 1, 'float32', 10), [8, 3]],
      ['dropout rate 1', tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [5], units: 6 }), tf.layers.dropout({ rate: 1 }), tf.layers.dense({ units: 3, activation: 'softmax' })] }), tf.randomNormal([8, 5], 0, 1, 'float32', 11), [8, 3]],
      ['rank-3 softmax', tf.sequential({ layers: [
        tf.layers.conv1d({ inputShape: [10, 3], filters: 4, kernelSize: 3 }),
        tf.layers.conv1d({ filters: 3, kernelSize: 1, activation: 'softmax' })] }), tf.randomNormal([8, 10, 3], 0, 1, 'float32', 12), [8, 8, 3]],
    ];
    for (const [what, model, x, yShape] of cases) {
      const y = tf.tidy(() => tf.oneHot(tf.reshape(tf.tensor1d(Array.from({ length: yShape.slice(0, -1).reduce((a, b) => a * b, 1) }, (_, i) => i % 3), 'int32'), yShape.slice(0, -1)), 3).toFloat());
      const task = taskOf(model);
      const compiled = compileChain(model, task, varsOf(model))!;
      expect(compiled, what).toBeDefined();
      const before = numTensors();
      const r = compare(model, task, x, y);
      expect(numTensors(), what).toBe(before);
      expect(r.worst, what).toBeLessThan(1e-5);
      expect(Number.isFinite(r.loss[1]), what).toBe(true);
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('gives gradients only for the trained variables (a frozen layer is passed through, not trained)', () => {
    const model = buildModel({ family: 'mlp', inputShape: [20], hidden: [16, 8], numClasses: 4, seed: 1 });
    model.layers[0].trainable = false;
    const x = tf.randomNormal([16, 20], 0, 1, 'float32', 4);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 4), 'int32'), 4).toFloat();
    const r = compare(model, taskOf(model), x, y);
    expect(r.worst).toBeLessThan(1e-5);
    expect(r.names).toHaveLength(4);
    tf.dispose([x, y]);
    model.dispose();
  });

  it.each([
    ['GRU, hard sigmoid gates', () => tf.layers.gru({ units: 6, recurrentActivation: 'hardSigmoid' })],
    ['GRU, sigmoid gates, no bias', () => tf.layers.gru({ units: 5, recurrentActivation: 'sigmoid', useBias: false })],
    ['LSTM, hard sigmoid gates', () => tf.layers.lstm({ units: 6, recurrentActivation: 'hardSigmoid' })],
    ['LSTM, sigmoid gates', () => tf.layers.lstm({ units: 4, recurrentActivation: 'sigmoid' })],
    ['SimpleRNN, tanh', () => tf.layers.simpleRNN({ units: 7 })],
    ['SimpleRNN, relu', () => tf.layers.simpleRNN({ units: 7, activation: 'relu' })],
  ] as const)('equals the tape on Embedding → %s → Dense, and on stacked layers returning sequences', (_what, rnn) => {
    for (const stacked of [false, true]) {
      const layers: TF.layers.Layer[] = [tf.layers.embedding({ inputDim: 11, outputDim: 4, inputLength: 9 })];
      if (stacked) layers.push(tf.layers.lstm({ units: 3, returnSequences: true, recurrentActivation: 'sigmoid' }));
      layers.push(rnn(), tf.layers.dense({ units: 3, activation: 'softmax' }));
      const model = tf.sequential({ layers });
      // Larger weights than the initializers give, so that hard-sigmoid gates saturate on some rows.
      model.setWeights(model.getWeights().map((w, i) => tf.randomNormal(w.shape, 0, 0.8, 'float32', 10 + i)));
      const x = tf.floor(tf.randomUniform([12, 9], 0, 11, 'float32', 5));
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 12 }, (_, i) => i % 3), 'int32'), 3).toFloat();
      expect(chainObstacle(model)).toBeUndefined();
      const before = numTensors();
      const r = compare(model, taskOf(model), x, y);
      expect(numTensors()).toBe(before);
      expect(r.worst).toBeLessThan(1e-4);
      expect(Math.abs(r.loss[0] - r.loss[1])).toBeLessThan(1e-5 * Math.abs(r.loss[0]));
      expect(r.names).toEqual(varsOf(model).map((v) => v.name).sort());
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('equals the tape on Bidirectional layers (an LSTM with halves side by side, a GRU sequence with halves summed), a backwards SimpleRNN and a TimeDistributed Dense', () => {
    const cases: TF.layers.Layer[][] = [
      [tf.layers.embedding({ inputDim: 9, outputDim: 3, inputLength: 6 }), tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 4 }) as TF.RNN }), tf.layers.dense({ units: 3, activation: 'softmax' })],
      [tf.layers.bidirectional({ layer: tf.layers.gru({ units: 3, returnSequences: true }) as TF.RNN, mergeMode: 'sum', inputShape: [6, 2] }), tf.layers.globalMaxPooling1d({}), tf.layers.dense({ units: 3, activation: 'softmax' })],
      [tf.layers.simpleRNN({ units: 5, goBackwards: true, returnSequences: true, inputShape: [6, 2] }), tf.layers.flatten(), tf.layers.dense({ units: 3, activation: 'softmax' })],
      // A new user's model: flat CSV columns reshaped to steps, a Dense per step, a bidirectional LSTM.
      [tf.layers.reshape({ targetShape: [6, 2], inputShape: [12] }), tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4, activation: 'relu' }) }),
        tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 3 }) as TF.RNN }), tf.layers.dense({ units: 3, activation: 'softmax' })],
    ];
    for (const [i, layers] of cases.entries()) {
      const model = tf.sequential({ layers });
      model.setWeights(model.getWeights().map((w, k) => tf.randomNormal(w.shape, 0, 0.7, 'float32', 20 + k)));
      const x = i === 0 ? tf.floor(tf.randomUniform([10, 6], 0, 9, 'float32', 8)) : tf.randomNormal(i === 3 ? [10, 12] : [10, 6, 2], 0, 1, 'float32', 8);
      const y = tf.oneHot(tf.tensor1d(Array.from({ length: 10 }, (_, k) => k % 3), 'int32'), 3).toFloat();
      expect(chainObstacle(model)).toBeUndefined();
      const r = compare(model, taskOf(model), x, y);
      expect(r.worst).toBeLessThan(1e-4);
      expect(r.names).toEqual(varsOf(model).map((v) => v.name).sort());
      tf.dispose([x, y]);
      model.dispose();
    }
  });

  it('equals the tape on a GRU returning its sequence into a Conv1D and pooling (a numeric sequence, no Embedding)', () => {
    const model = tf.sequential({ layers: [
      tf.layers.gru({ inputShape: [7, 3], units: 5, returnSequences: true }),
      tf.layers.conv1d({ filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.globalMaxPooling1d({}),
      tf.layers.dense({ units: 1, activation: 'linear' }),
    ] });
    const x = tf.randomNormal([10, 7, 3], 0, 1, 'float32', 6);
    const y = tf.randomNormal([10, 1], 0, 1, 'float32', 7);
    const r = compare(model, taskOf(model), x, y);
    expect(r.worst).toBeLessThan(1e-4);
    tf.dispose([x, y]);
    model.dispose();
  });

  it('equals the tape on a MobileNet-style chain (DepthwiseConv2D, BatchNormalization, ReLU6 layers) in training and inference mode, moving statistics included', () => {
    const build = () => tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [10, 10, 2], filters: 4, kernelSize: 3, strides: 2, padding: 'same', useBias: false }),
      tf.layers.batchNormalization({ momentum: 0.9 }),
      tf.layers.reLU({ maxValue: 6 }),
      tf.layers.depthwiseConv2d({ kernelSize: 3, padding: 'same', useBias: false, depthMultiplier: 2 }),
      tf.layers.batchNormalization(),
      tf.layers.activation({ activation: 'relu' }),
      tf.layers.depthwiseConv2d({ kernelSize: [3, 2], strides: [2, 1], activation: 'relu' }),
      tf.layers.conv2d({ filters: 5, kernelSize: 1, useBias: false }),
      tf.layers.batchNormalization({ epsilon: 0.01 }),
      tf.layers.reLU(),
      tf.layers.globalAveragePooling2d({}),
      // No bias before a batch norm (its gradient is zero to rounding: nothing to compare), as such models are built.
      tf.layers.dense({ units: 6, useBias: false }),
      tf.layers.batchNormalization(),
      tf.layers.dense({ units: 3, activation: 'softmax' }),
    ] });
    const x = tf.randomNormal([16, 10, 10, 2], 0, 1, 'float32', 4);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 16 }, (_, i) => i % 3), 'int32'), 3).toFloat();
    const model = build();
    // Seeded weights (tfjs's initialisers are not): the comparison is the same on every run.
    model.weights.forEach((w, i) => { if (!/moving/.test(w.name)) w.write(tf.randomNormal(w.read().shape, 0, 0.5, 'float32', 100 + i)); });
    const twin = build();
    twin.setWeights(model.getWeights());
    // Moving statistics away from their initial 0 / 1, so that inference mode reads something.
    for (const m of [model, twin]) for (const w of m.weights.filter((v) => /moving/.test(v.name))) w.write(tf.add(w.read(), tf.randomUniform(w.read().shape, 0.1, 0.5, 'float32', 9)));
    const before = numTensors();
    const r = compare(model, taskOf(model), x, y);
    expect(r.worst).toBeLessThan(1e-4);
    expect(Math.abs(r.loss[0] - r.loss[1])).toBeLessThan(1e-5 * Math.abs(r.loss[0]));
    expect(r.names).toEqual(varsOf(model).map((v) => v.name).sort());
    // The tape's forward pass moved the moving statistics once, the compiled one once more: two updates from the
    // same batch, the twin's done twice by tfjs itself.
    for (let i = 0; i < 2; i++) tf.tidy(() => { twin.apply(x, { training: true }); });
    const moving = (m: TF.LayersModel) => m.weights.filter((v) => /moving/.test(v.name)).map((v) => v.read().dataSync());
    moving(model).forEach((a, i) => a.forEach((v, j) => expect(v).toBeCloseTo(moving(twin)[i][j], 5)));
    expect(numTensors()).toBe(before);
    // Inference mode (what the features read): the moving statistics are constants.
    const vars = varsOf(model);
    const compiled = compileChain(model, taskOf(model), vars, { training: false })!;
    const worst = tf.tidy(() => {
      const tape = tf.variableGrads(() => lossOf(model.apply(x, { training: false }) as TF.Tensor, y, taskOf(model)), vars);
      const fast = compiled.valueAndGrads(x, y);
      return Math.max(...vars.map((v) => tf.max(tf.abs(tf.sub(tape.grads[v.name], fast.grads[v.name]))).dataSync()[0] / Math.max(1e-6, tf.max(tf.abs(tape.grads[v.name])).dataSync()[0])));
    });
    expect(worst).toBeLessThan(1e-4);
    tf.dispose([x, y]);
    model.dispose();
    twin.dispose();
  });

  it('equals the tape on graphs: ResNet-style residual blocks (Add, a 1×1 projection), Concatenate, Multiply, Average, an output read four times', () => {
    const input = tf.input({ shape: [8, 8, 3] });
    const conv = (filters: number, strides = 1, kernelSize = 3) => tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false });
    const bnRelu = (t: TF.SymbolicTensor) => tf.layers.activation({ activation: 'relu' }).apply(tf.layers.batchNormalization().apply(t)) as TF.SymbolicTensor;
    const stem = bnRelu(conv(4).apply(input) as TF.SymbolicTensor);
    // Identity block: stem + f(stem).
    const f1 = tf.layers.batchNormalization().apply(conv(4).apply(bnRelu(conv(4).apply(stem) as TF.SymbolicTensor))) as TF.SymbolicTensor;
    const res1 = tf.layers.reLU().apply(tf.layers.add().apply([stem, f1])) as TF.SymbolicTensor;
    // Projection block: strided 1×1 shortcut.
    const f2 = tf.layers.batchNormalization().apply(conv(6).apply(bnRelu(conv(6, 2).apply(res1) as TF.SymbolicTensor))) as TF.SymbolicTensor;
    const proj = tf.layers.batchNormalization().apply(conv(6, 2, 1).apply(res1)) as TF.SymbolicTensor;
    const res2 = tf.layers.reLU().apply(tf.layers.add().apply([f2, proj])) as TF.SymbolicTensor;
    const pooled = tf.layers.globalAveragePooling2d({}).apply(res2) as TF.SymbolicTensor;
    // Dense branches joined every other way; `pooled` is read by four layers.
    const a = tf.layers.dense({ units: 5, activation: 'tanh' }).apply(pooled) as TF.SymbolicTensor;
    const b = tf.layers.dense({ units: 5, activation: 'sigmoid' }).apply(pooled) as TF.SymbolicTensor;
    const joined = tf.layers.concatenate().apply([
      tf.layers.multiply().apply([a, b]) as TF.SymbolicTensor,
      tf.layers.average().apply([a, b, tf.layers.dense({ units: 5 }).apply(pooled) as TF.SymbolicTensor]) as TF.SymbolicTensor,
      pooled,
    ]) as TF.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: tf.layers.dense({ units: 3, activation: 'softmax' }).apply(joined) as TF.SymbolicTensor });
    expect(chainObstacle(model)).toBeUndefined();
    // Seeded weights (tfjs's initialisers are not): the comparison is the same on every run.
    model.weights.forEach((w, i) => { if (!/moving/.test(w.name)) w.write(tf.randomNormal(w.read().shape, 0, 0.5, 'float32', 200 + i)); });
    const x = tf.randomNormal([12, 8, 8, 3], 0, 1, 'float32', 6);
    const y = tf.oneHot(tf.tensor1d(Array.from({ length: 12 }, (_, i) => i % 3), 'int32'), 3).toFloat();
    expectLikeTape(model, x, y, 1e-4);
    model.dispose();
  });

  it('declines models that are not a plain Dense chain, naming why', () => {
    const cases: [string, TF.LayersModel][] = [
      ['seeded dropout', tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4 }), tf.layers.dropout({ rate: 0.5, seed: 7 }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['noise shape', tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4 }), tf.layers.dropout({ rate: 0.5, noiseShape: [1, 4] }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['BatchNormalization on another axis than the last', tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [4, 4, 2], filters: 2, kernelSize: 1 }), tf.layers.batchNormalization({ axis: 1 }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['BatchNormalization without scale', tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4 }), tf.layers.batchNormalization({ scale: false }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['depthwise regularizer', tf.sequential({ layers: [tf.layers.depthwiseConv2d({ inputShape: [6, 6, 2], kernelSize: 3, depthwiseRegularizer: 'l1l2' }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['regularizer', tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4, kernelRegularizer: 'l1l2' }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['softplus', tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4, activation: 'softplus' }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['dilated', tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 2, kernelSize: 3, dilationRate: 2 }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['Gaussian noise', tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 4 }), tf.layers.gaussianNoise({ stddev: 0.1 }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['causal Conv1D', tf.sequential({ layers: [tf.layers.conv1d({ inputShape: [8, 2], filters: 2, kernelSize: 3, padding: 'causal' }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['rank-3', tf.sequential({ layers: [tf.layers.dense({ inputShape: [3, 4], units: 4 }), tf.layers.flatten(), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['masked zeros', tf.sequential({ layers: [tf.layers.embedding({ inputDim: 5, outputDim: 2, inputLength: 4, maskZero: true }), tf.layers.gru({ units: 2 }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['recurrent dropout', tf.sequential({ layers: [tf.layers.lstm({ inputShape: [4, 2], units: 2, recurrentDropout: 0.2 }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['softplus recurrent activation', tf.sequential({ layers: [tf.layers.gru({ inputShape: [4, 2], units: 2, recurrentActivation: 'softplus' }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['Masking', tf.sequential({ layers: [tf.layers.masking({ inputShape: [4, 2] }), tf.layers.gru({ units: 2 }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
      ['Bidirectional merging by product', tf.sequential({ layers: [tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2 }) as TF.RNN, inputShape: [4, 2], mergeMode: 'mul' }), tf.layers.dense({ units: 2, activation: 'softmax' })] })],
    ];
    const input = tf.input({ shape: [4] });
    const shared = tf.layers.dense({ units: 4, activation: 'relu' });
    const twice = shared.apply(shared.apply(input)) as TF.SymbolicTensor;
    cases.push(['a shared layer', tf.model({ inputs: input, outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(twice) as TF.SymbolicTensor })]);
    const [p, q] = [tf.input({ shape: [4] }), tf.input({ shape: [4] })];
    cases.push(['two inputs', tf.model({ inputs: [p, q], outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(tf.layers.add().apply([p, q])) as TF.SymbolicTensor })]);
    const wide = tf.input({ shape: [4] });
    const narrow = tf.layers.dense({ units: 1 }).apply(wide) as TF.SymbolicTensor;
    cases.push(['a broadcast Add', tf.model({ inputs: wide, outputs: tf.layers.dense({ units: 2, activation: 'softmax' }).apply(tf.layers.add().apply([wide, narrow])) as TF.SymbolicTensor })]);
    for (const [what, model] of cases) {
      expect(chainObstacle(model), what).toBeDefined();
      expect(compileChain(model, taskOf(model), varsOf(model)), what).toBeUndefined();
      model.dispose();
    }
  });

  it('trains as the tape does: the same weights after masked fine-tuning, to float rounding', () => {
    const data = smallMnist(10);
    const runs = (['auto', 'tape'] as const).map((gradient) => {
      const model = buildModel({ family: 'mlp', inputShape: [784], hidden: [32, 16], numClasses: 10, seed: 5 });
      const pm = new PrunableModel(model);
      pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, i) => ((i * 7919) % 10 < 7 ? 0 : 1))));
      const r = train(model, data.train, { epochs: 2, batchSize: 32, prunable: pm, gradient });
      const w = model.getWeights().map((t) => Array.from(t.dataSync()));
      const zeros = pm.maskArrays().map((m) => m.filter((v) => v === 0).length);
      pm.dispose();
      model.dispose();
      return { loss: r.finalLoss, w, zeros };
    });
    expect(Math.abs(runs[0].loss - runs[1].loss)).toBeLessThan(1e-4);
    const worst = Math.max(...runs[0].w.map((ws, i) => Math.max(...ws.map((v, j) => Math.abs(v - runs[1].w[i][j])))));
    expect(worst).toBeLessThan(1e-4);
    // Pruned weights stay exactly zero on the compiled path too.
    expect(runs[0].w[0].filter((v) => v === 0).length).toBeGreaterThanOrEqual(runs[0].zeros[0]);
    data.dispose();
  });
});
