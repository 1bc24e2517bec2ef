import { describe, expect, it } from 'vitest';
import type { Scalar, SymbolicTensor, Tensor } from '@tensorflow/tfjs';
import { tf } from '../src/backend/tf.js';
import { autoprune, PolicyError, PruningCallback, pruneOnce, scheduledSparsity, type Scorer } from '../src/index.js';
import { ONE_SHOT_POLICY } from '../src/policy/io.js';
import { loadSynthetic } from '../src/data/synthetic.js';
import { numTensors } from './helpers.js';

function userModel() {
  const init = (seed: number) => ({ kernelInitializer: tf.initializers.glorotUniform({ seed }) });
  const m = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [20], units: 48, activation: 'tanh', ...init(1) }),
    tf.layers.dense({ units: 24, activation: 'tanh', ...init(2) }),
    tf.layers.dense({ units: 3, activation: 'softmax', ...init(3) }),
  ] });
  // The user's own optimizer: SGD with momentum, not autoprune's Adam.
  m.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
  return m;
}

const kernels = (m: ReturnType<typeof userModel>) => m.layers.map((l) => l.getWeights()[0].dataSync());

/** The guard tests' start: the user's model trained dense for 4 epochs on 900 synthetic rows, with one-hot train and validation targets. */
async function denseTrainedWithValidation() {
  const data = loadSynthetic({ samples: 900, features: 20, classes: 3, seed: 4 });
  const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
  const yVal = tf.oneHot(tf.tensor1d(data.val.labels, 'int32'), 3).toFloat();
  const model = userModel();
  // The user's dense training; tfjs shuffles with Math.random unless told not to, and the tests below must not vary.
  await model.fit(data.train.x, y, { epochs: 4, batchSize: 32, verbose: 0, shuffle: false });
  return { data, y, yVal, model };
}

/** The messages of the AutopruneWarnings (Node warnings) emitted while `run` runs, delivered a tick after it. */
async function warningsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const warnings: string[] = [];
  const onWarning = (w: Error) => { if (w.name === 'AutopruneWarning') warnings.push(w.message); };
  process.on('warning', onWarning);
  try {
    await run();
    await new Promise((r) => setImmediate(r));
  } finally {
    process.off('warning', onWarning);
  }
  return warnings;
}

describe('pruning inside the user\'s training', () => {
  it('the cubic schedule starts at the initial sparsity, is steepest first and ends at the target', () => {
    const o = { initial: 0.1, target: 0.9, beginStep: 10, endStep: 110 };
    expect(scheduledSparsity(0, o)).toBe(0.1);
    expect(scheduledSparsity(110, o)).toBe(0.9);
    expect(scheduledSparsity(500, o)).toBe(0.9);
    const a = scheduledSparsity(35, o) - scheduledSparsity(10, o);
    const b = scheduledSparsity(110, o) - scheduledSparsity(85, o);
    expect(a).toBeGreaterThan(5 * b);
  });

  it('a callback in the user\'s model.fit (own optimizer, own loop) reaches the target with pruned weights exactly 0, and strip() frees everything', async () => {
    const data = loadSynthetic({ samples: 900, features: 20, classes: 3, seed: 4 });
    const model = userModel();
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const before = numTensors();
    const pruner = new PruningCallback(model, { target: 0.8, calibration: { x: data.train.x, y }, policy: 'default' });
    const h = await model.fit(data.train.x, y, { epochs: 6, batchSize: 32, callbacks: [pruner], verbose: 0 });
    // The target at two thirds of the fit's optimizer steps, then fine-tuning at it.
    const steps = 6 * Math.ceil(data.train.labels.length / 32);
    expect(pruner.history.at(-1)!.step).toBe(Math.round((2 / 3) * steps) - 1);
    expect(pruner.history.length).toBeGreaterThanOrEqual(8);
    for (let i = 1; i < pruner.history.length; i++) expect(pruner.history[i].sparsity).toBeGreaterThan(pruner.history[i - 1].sparsity);
    expect(pruner.sparsity().global).toBeCloseTo(0.8, 3);
    const masks = pruner.masks.maskArrays();
    const stripped = pruner.strip();
    expect(stripped).toBe(model);
    expect(() => pruner.sparsity()).toThrow(/sparsity\(\) after strip\(\)/);
    const ks = kernels(model);
    let zeros = 0;
    masks.forEach((m, i) => m.forEach((v, j) => { if (v === 0) { expect(ks[i][j] === 0).toBe(true); zeros++; } }));
    expect(zeros).toBeGreaterThan(0.79 * masks.reduce((a, m) => a + m.length, 0));
    // It trained: the last epoch's loss is below the first.
    expect(Number(h.history.loss.at(-1))).toBeLessThan(Number(h.history.loss[0]));
    // Nothing of autoprune's is left; the user's optimizer holds its own state until they free it. (tfjs-layers
    // frees one scalar of model.compile during the first fit, hence ≤; the guard test below, whose model has
    // been fitted before, counts exactly.)
    model.optimizer.dispose();
    expect(numTensors()).toBeLessThanOrEqual(before);
    expect(numTensors()).toBeGreaterThanOrEqual(before - 1);
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('the fit\'s own validation figures (history val_loss / val_acc, what EarlyStopping watches) are the masked model\'s', async () => {
    // tfjs validates inside an epoch's last batch, before onBatchEnd: masks applied only there would leave every
    // validation to weights the optimizer (Adam's momentum) had just moved off 0.
    const data = loadSynthetic({ samples: 600, features: 20, classes: 3, seed: 6 });
    const model = userModel();
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy', metrics: ['accuracy'] });
    const opt = model.optimizer;
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const yv = tf.oneHot(tf.tensor1d(data.val.labels, 'int32'), 3).toFloat();
    const pruner = new PruningCallback(model, { target: 0.9, calibration: { x: data.train.x, y }, policy: 'global-magnitude', endStep: 40 });
    const h = await model.fit(data.train.x, y, { epochs: 4, batchSize: 32, callbacks: [pruner], validationData: [data.val.x, yv], verbose: 0 });
    // The model as the fit left it, evaluated on the same rows: the same loss as the fit's last validation.
    const [loss] = model.evaluate(data.val.x, yv, { batchSize: 32 }) as Scalar[];
    expect(Number(h.history.val_loss.at(-1))).toBeCloseTo(loss.dataSync()[0], 5);
    loss.dispose();
    // Pruned weights are 0 without onBatchEnd's help, and the user's optimizer is theirs again after the fit.
    const m = pruner.masks.maskArrays();
    kernels(model).forEach((k, i) => k.forEach((v, j) => { if (m[i][j] === 0) expect(v === 0).toBe(true); }));
    expect(Object.prototype.hasOwnProperty.call(opt, 'applyGradients')).toBe(false);
    pruner.strip();
    y.dispose(); yv.dispose(); model.optimizer.dispose(); model.dispose(); data.dispose();
  });

  it('a user\'s Scorer that returns scores for too few layers, of the wrong length or NaN is refused in one line naming it', async () => {
    const data = loadSynthetic({ samples: 300, features: 20, classes: 3, seed: 5 });
    const model = userModel();
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const cases: [Scorer, RegExp][] = [
      [{ name: 'short', score: (f) => f.layers.slice(1).map((l) => new Float32Array(l.count)) }, /^policy 'short': score\(\) returned \d+ score arrays for \d+ layer\(s\)/],
      [{ name: 'length', score: (f) => f.layers.map((l) => new Float32Array(l.count - 1)) }, /^policy 'length': score\(\) returned \d+ scores for layer '.+', which has \d+ live connection\(s\)/],
      [{ name: 'nan', score: (f) => f.layers.map((l) => new Float32Array(l.count).fill(NaN)) }, /^policy 'nan': score\(\) returned NaN for connection 0 of layer/],
    ];
    for (const [policy, message] of cases) {
      expect(() => pruneOnce(model, { target: 0.5, calibration: data.train, policy })).toThrow(PolicyError);
      expect(() => pruneOnce(model, { target: 0.5, calibration: data.train, policy })).toThrow(message);
      await expect(autoprune({ model, data, target: 0.5, budgetSteps: 20, policy })).rejects.toThrow(message);
    }
    // Nothing was pruned by the refused scorers.
    kernels(model).forEach((k) => expect(k.every((v) => v !== 0)).toBe(true));
    y.dispose(); model.dispose(); data.dispose();
  });

  it('pruneOnce + applyMasks in a custom loop keeps the pruned weights at 0', () => {
    const data = loadSynthetic({ samples: 300, features: 20, classes: 3, seed: 5 });
    const model = userModel();
    const pm = pruneOnce(model, { target: 0.5, calibration: data.train, policy: 'lamp' });
    expect(pm.sparsity().global).toBeCloseTo(0.5, 3);
    const opt = tf.train.sgd(0.1);
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    for (let i = 0; i < 3; i++) {
      opt.minimize(() => tf.losses.softmaxCrossEntropy(y, model.predict(data.train.x) as Tensor) as Scalar);
      pm.applyMasks();
    }
    const m = pm.maskArrays();
    kernels(model).forEach((k, i) => k.forEach((v, j) => { if (m[i][j] === 0) expect(v === 0).toBe(true); }));
    pm.dispose();
    opt.dispose();
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('pruneOnce without a policy cuts with the one-shot policy (the default policy correcting LAMP), not the agent\'s default', () => {
    const data = loadSynthetic({ samples: 300, features: 20, classes: 3, seed: 5 });
    const masksWith = (policy?: string) => {
      const model = userModel();
      const pm = pruneOnce(model, { target: 0.8, calibration: data.train, ...(policy ? { policy } : {}) });
      const m = pm.maskArrays().map((a) => Array.from(a));
      pm.dispose();
      model.dispose();
      return m;
    };
    const implicit = masksWith();
    expect(implicit).toEqual(masksWith(ONE_SHOT_POLICY));
    expect(ONE_SHOT_POLICY).toBe('default@0.25+lamp');
    // LAMP's allocation: each layer keeps what LAMP keeps there, whatever the order inside it.
    const lamp = masksWith('lamp');
    expect(implicit.map((k) => k.filter((v) => v === 1).length)).toEqual(lamp.map((k) => k.filter((v) => v === 1).length));
    expect(implicit).not.toEqual(masksWith('default'));
    data.dispose();
  });

  it('pruneOnce prunes a model with a layer frozen after compile (its kernel variable is not trainable: tfjs records no gradient for it)', () => {
    const data = loadSynthetic({ samples: 120, features: 20, classes: 3, seed: 6 });
    for (const policy of [undefined, 'default', 'taylor']) {
      const model = userModel();
      model.layers[0].trainable = false;
      const pm = pruneOnce(model, { target: 0.5, calibration: data.train, ...(policy ? { policy } : {}) });
      expect(pm.sparsity().global, String(policy)).toBeCloseTo(0.5, 2);
      expect(model.layers[0].trainable).toBe(false);
      expect(model.layers[0].trainableWeights).toHaveLength(0);
      pm.dispose();
      model.dispose();
    }
    data.dispose();
  });

  it('refuses a bad target or schedule in one line', () => {
    const data = loadSynthetic({ samples: 120, features: 20, classes: 3, seed: 6 });
    const model = userModel();
    expect(() => new PruningCallback(model, { target: 1.2, calibration: data.train })).toThrow(/target must be a number strictly between 0 and 1/);
    expect(() => new PruningCallback(model, { target: 0.5, calibration: data.train, frequency: 0 })).toThrow(/frequency must be a whole number ≥ 1/);
    expect(() => new PruningCallback(model, { target: 0.5 } as never)).toThrow(/calibration is required/);
    model.dispose();
    data.dispose();
  });

  it('refuses, in one line before any fit, unknown options, calibration rows of the wrong shape and a model of another tfjs copy', () => {
    const model = userModel();
    const before = numTensors();
    const x = tf.zeros([8, 20]);
    const oneHot = tf.tidy(() => tf.oneHot(tf.zeros([8], 'int32'), 3));
    const [x7, x5, y2, ids] = [tf.zeros([8, 7]), tf.zeros([8, 5]), tf.zeros([8, 2]), tf.fill([8], 5)];
    const freed = tf.zeros([8, 20]);
    freed.dispose();
    const bad = [
      [{ target: 0.5, calibration: { x, y: oneHot }, begin_step: 4 }, /unknown option 'begin_step' \(did you mean 'beginStep'\?\); PruningCallback takes target, /],
      [{ target: 0.5, calibration: { x: x7, y: oneHot } }, /calibration.x has rows of shape \[7\], but the model takes \[20\]/],
      [{ target: 0.5, calibration: { x: freed, y: oneHot } }, /^calibration\.x: the tensor was disposed: pass tensors that are not$/],
      [{ target: 0.5, calibration: { x, y: y2 } }, /calibration.y has one-hot rows of 2 classes, but the model has 3 outputs/],
      [{ target: 0.5, calibration: { x, y: ids } }, /calibration.y holds class 5, but the model has 3 classes/],
      [{ target: 0.5, calibration: { x, y: oneHot }, guard: { validation: { x: x5, y: oneHot } } }, /guard.validation.x has rows of shape \[5\]/],
      // A guard without its rows is told what the guard's rows are (not the calibration's description).
      [{ target: 0.5, calibration: { x, y: oneHot }, guard: { maxDrop: 1 } }, /^guard.validation is required: the validation rows the guard scores the model on after each pruning step/],
      [{ target: 0.5, calibration: { x, y: oneHot }, guard: { validation: { x, y: oneHot }, maxDrop: '1' } }, /^guard.maxDrop must be a number in \[0, 100\] percentage points, got string '1'$/],
      // Inside guard too, a typo is refused (it silently kept the default maxDrop); beside it, maxDrop is pointed there.
      [{ target: 0.5, calibration: { x, y: oneHot }, guard: { validation: { x, y: oneHot }, maxdrop: 2 } }, /^unknown option 'maxdrop' \(did you mean 'maxDrop'\?\); PruningCallback's guard takes validation, maxDrop, classWeight$/],
      // Class weights by output index (the callback has no class names): one the model does not have is named.
      [{ target: 0.5, calibration: { x, y: oneHot }, guard: { validation: { x, y: oneHot }, classWeight: { 3: 2 } } }, /^guard.classWeight: '3' is no class of the data \(its classes: '0', '1', '2'; or an output index 0…2\)$/],
      [{ target: 0.5, calibration: { x, y: oneHot }, maxDrop: 2 }, /^unknown option 'maxDrop' \(did you mean 'guard.maxDrop'\?\)/],
      [{ target: 0.5, calibration: { x, y: oneHot }, exclude: 'fc1' }, /^exclude must be a list of glob patterns of kernel names, e.g. \['dense_1', 'conv\*'\], got string 'fc1'$/],
      [{ target: 0.5, calibration: { x, y: oneHot }, task: 'clasify' }, /^task must be one of classification, multilabel, regression, autoencoder, got string 'clasify'$/],
      [{ target: 0.5, calibration: { x, y: oneHot }, onPrune: 3 }, /^onPrune must be a function, got 3$/],
      [{ calibration: { x, y: oneHot } }, /^target must be a number strictly between 0 and 1, got nothing$/],
      [{ target: 0.5, calibration: { x, y: oneHot }, frequency: 0 }, /^frequency must be a whole number ≥ 1, got 0$/],
    ] as const;
    for (const [options, message] of bad) expect(() => new PruningCallback(model, options as never)).toThrow(message);
    expect(() => pruneOnce(model, { target: 0.5, calibration: { x, y: oneHot }, frequency: 3 } as never)).toThrow(/unknown option 'frequency'; pruneOnce takes/);
    // A typo gets the name it was meant to be; rows of the input's size in another layout, the reshape.
    expect(() => pruneOnce(model, { target: 0.5, calibration: { x, y: oneHot }, polcy: 'lamp' } as never)).toThrow(/unknown option 'polcy' \(did you mean 'policy'\?\)/);
    const x45 = tf.zeros([8, 4, 5]);
    expect(() => pruneOnce(model, { target: 0.5, calibration: { x: x45, y: oneHot } })).toThrow(/calibration.x has rows of shape \[4, 5\], but the model takes \[20\]: the same 20 values per row, so reshape them first \(x.reshape\(\[-1, 20\]\)\)/);
    x45.dispose();
    // A model of another tfjs copy is not an instance of this copy's LayersModel (its variables live in another engine).
    const foreign = Object.create({ predict: () => null }) as never;
    expect(() => new PruningCallback(foreign, { target: 0.5, calibration: { x, y: oneHot } })).toThrow(/another copy of @tensorflow\/tfjs/);
    tf.dispose([x, oneHot, x7, x5, y2, ids]);
    // A regression model compiled with a loss function of the user's own reads as a binary classifier from its one linear
    // output: targets that are no class index say so and name task: 'regression'. tfjs's own loss functions say the task.
    const reg = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 1 })] });
    reg.compile({ optimizer: 'adam', loss: (a: Tensor, b: Tensor) => tf.losses.huberLoss(a, b) });
    const [x3, values] = [tf.zeros([8, 3]), tf.tidy(() => tf.linspace(-0.5, 6.25, 8).reshape([8, 1]))];
    expect(() => new PruningCallback(reg, { target: 0.5, calibration: { x: x3, y: values } })).toThrow(
      /^calibration.y holds values that are not class indices \(-0.5 to 6.25, not whole numbers\): the model reads as a classifier \(output 1 linear unit; its loss is a function of your own, which does not say the task\): for a model that predicts values, pass task: 'regression'; for class targets give their indices, or one-hot rows$/);
    new PruningCallback(reg, { target: 0.5, calibration: { x: x3, y: values }, task: 'regression' }).strip();
    // A model of two outputs is refused here, not by tfjs from inside the fit; a disposed model names the model.
    const inp = tf.input({ shape: [3] });
    const two = tf.model({ inputs: inp, outputs: [tf.layers.dense({ units: 2 }).apply(inp) as SymbolicTensor, tf.layers.dense({ units: 1 }).apply(inp) as SymbolicTensor] });
    expect(() => new PruningCallback(two, { target: 0.5, calibration: { x: x3, y: values } })).toThrow(/^PruningCallback: model '.+' has 1 input\(s\) and 2 output\(s\); autoprune prunes models with one input and one output$/);
    two.dispose();
    const gone = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 1 })] });
    gone.dispose();
    expect(() => pruneOnce(gone, { target: 0.5, calibration: { x: x3, y: values } })).toThrow(/^pruneOnce: the model: the model '.+' was disposed \(its weight .+ is freed\): pass a model that is not, e.g. loaded again$/);
    const mse = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 1 })] });
    mse.compile({ optimizer: 'adam', loss: tf.losses.meanSquaredError });
    new PruningCallback(mse, { target: 0.5, calibration: { x: x3, y: values } }).strip();
    tf.dispose([x3, values]);
    reg.dispose();
    mse.dispose();
    expect(kernels(model).every((k) => k.every((v) => v !== 0))).toBe(true);
    expect(numTensors()).toBeLessThanOrEqual(before);
    model.dispose();
  });

  it('a fit that throws leaves the optimizer free: the next plain fit moves pruned weights, as after a fit that ended', async () => {
    const data = loadSynthetic({ samples: 240, features: 20, classes: 3, seed: 5 });
    const model = userModel();
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    let calls = 0;
    const pruner = new PruningCallback(model, { target: 0.5, calibration: { x: data.train.x, y }, policy: 'global-magnitude', onPrune: () => { if (++calls === 2) throw new Error('stop here'); } });
    await expect(model.fit(data.train.x, y, { epochs: 2, batchSize: 32, callbacks: [pruner], verbose: 0 })).rejects.toThrow('stop here');
    const zerosBefore = kernels(model).reduce((a, k) => a + k.filter((v) => v === 0).length, 0);
    expect(zerosBefore).toBeGreaterThan(0);
    // No callback now: the user's optimizer trains every weight, the pruned ones too.
    await model.fit(data.train.x, y, { epochs: 1, batchSize: 32, verbose: 0 });
    const zerosAfter = kernels(model).reduce((a, k) => a + k.filter((v) => v === 0).length, 0);
    expect(zerosAfter).toBeLessThan(zerosBefore / 10);
    pruner.strip();
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('a scorer that throws mid-fit fails the fit with its error, leaves no tensor of the fit behind and trains nothing after the failure (fit and fitDataset)', async () => {
    // Thrown from the batch, it left the epoch's row order and running loss and metric sums, and History's figures, allocated.
    const { data, y, yVal, model } = await denseTrainedWithValidation();
    const batches = Math.ceil(data.train.labels.length / 32);
    const opt = model.optimizer;
    const before = numTensors();
    // The kernels as each batch begins (listed before the pruner: before its prune): the failed batch must not move them.
    let atBatch: ReturnType<typeof kernels> = [];
    const watch = new (class extends tf.Callback { override async onBatchBegin() { atBatch = kernels(model); } })();
    // A scorer that fails at the prune numbered `at` (1-based; it is called once per layer).
    const failing = (at: number): { policy: Scorer; onPrune: () => void } => {
      let prunes = 0;
      return {
        policy: { name: 'failing', score: (f) => {
          if (prunes === at - 1) throw new Error(`scorer failed at prune ${at}`);
          return f.layers.map((l) => Float32Array.from({ length: l.count }, (_, i) => i));
        } },
        onPrune: () => { prunes++; },
      };
    };
    // A prune at the start of each epoch after the first (step 0 is the schedule's start, at the initial sparsity): the
    // third fails as the fourth epoch begins, after History recorded three (with validation).
    const pruner = new PruningCallback(model, { target: 0.8, calibration: { x: data.train.x, y }, ...failing(3), endStep: 4 * batches, frequency: batches });
    await expect(model.fit(data.train.x, y, { epochs: 5, batchSize: 32, callbacks: [watch, pruner], validationData: [data.val.x, yVal], verbose: 0, shuffle: false }))
      .rejects.toThrow('scorer failed at prune 3');
    expect(pruner.history.map((h) => h.step)).toEqual([batches, 2 * batches]);
    expect(kernels(model)).toEqual(atBatch);
    expect(Object.prototype.hasOwnProperty.call(opt, 'applyGradients')).toBe(false);
    pruner.strip();
    expect(numTensors()).toBe(before);
    // fitDataset: its batch's tensors, too.
    const rows = data.train.labels.length;
    const dataset = tf.data.generator(function* () {
      for (let at = 0; at < rows; at += 32) {
        const n = Math.min(32, rows - at);
        yield { xs: tf.slice(data.train.x, at, n), ys: tf.slice(y, at, n) };
      }
    });
    const again = new PruningCallback(model, { target: 0.8, calibration: { x: data.train.x, y }, ...failing(2), endStep: 2 * batches, frequency: 3 });
    await expect(model.fitDataset(dataset, { epochs: 1, callbacks: [watch, again], verbose: 0 })).rejects.toThrow('scorer failed at prune 2');
    expect(again.history.map((h) => h.step)).toEqual([3]);
    expect(kernels(model)).toEqual(atBatch);
    again.strip();
    expect(numTensors()).toBe(before);
    model.optimizer.dispose();
    tf.dispose([y, yVal]);
    model.dispose();
    data.dispose();
  });

  it('an onPrune handler that throws after a prune fails the fit the same way: its error, nothing of the fit left, the optimizer the user\'s', async () => {
    const { data, y, yVal, model } = await denseTrainedWithValidation();
    const batches = Math.ceil(data.train.labels.length / 32);
    const opt = model.optimizer;
    const before = numTensors();
    let calls = 0;
    const pruner = new PruningCallback(model, {
      target: 0.8, calibration: { x: data.train.x, y }, policy: 'global-magnitude', endStep: 4 * batches, frequency: batches,
      onPrune: () => { if (++calls === 2) throw new Error('handler failed'); },
    });
    await expect(model.fit(data.train.x, y, { epochs: 5, batchSize: 32, callbacks: [pruner], validationData: [data.val.x, yVal], verbose: 0, shuffle: false }))
      .rejects.toThrow('handler failed');
    expect(calls).toBe(2);
    expect(Object.prototype.hasOwnProperty.call(opt, 'applyGradients')).toBe(false);
    pruner.strip();
    expect(numTensors()).toBe(before);
    model.optimizer.dispose();
    tf.dispose([y, yVal]);
    model.dispose();
    data.dispose();
  });

  it('warns (a Node warning) when endStep is after the fit\'s last step: that fit never reaches the target', async () => {
    const data = loadSynthetic({ samples: 120, features: 20, classes: 3, seed: 7 });
    const model = userModel();
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3);
    const pruner = new PruningCallback(model, { target: 0.5, calibration: { x: data.train.x, y }, policy: 'global-magnitude', endStep: 10_000 });
    const warnings = await warningsDuring(() => model.fit(data.train.x, y, { epochs: 1, batchSize: 32, callbacks: [pruner], verbose: 0 }));
    expect(warnings.join('\n')).toMatch(/endStep 10000 is after this fit's last optimizer step \(\d+\)/);
    // Stripped there, short of the target: said at the strip (the fit's end was silent, as a loop's first fit's).
    expect(await warningsDuring(async () => pruner.strip())).toEqual([expect.stringMatching(/^PruningCallback: stripped at sparsity 0\.\d{3}, short of the target 0\.5: its fits ran \d+ optimizer steps of the 10000 the schedule needs/)]);
    y.dispose();
    model.dispose();
    data.dispose();
  });
  it('reaches the target by the fit\'s last batch when endStep is the fit\'s step count, and plans a fit resumed at initialEpoch over the epochs it runs', async () => {
    const data = loadSynthetic({ samples: 120, features: 20, classes: 3, seed: 7 });
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3);
    const steps = 3 * Math.ceil(data.train.labels.length / 32);
    // endStep = the fit's optimizer steps (0 … steps − 1): the target's prune comes before the last batch.
    const model = userModel();
    model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const exact = new PruningCallback(model, { target: 0.8, calibration: { x: data.train.x, y }, policy: 'global-magnitude', endStep: steps, frequency: 4 });
    const w1 = await warningsDuring(() => model.fit(data.train.x, y, { epochs: 3, batchSize: 32, callbacks: [exact], verbose: 0 }));
    expect(w1).toEqual([]);
    expect(exact.sparsity().global).toBeCloseTo(0.8, 2);
    expect(exact.history.at(-1)!.step).toBe(steps - 1);
    exact.strip();
    // A fit from epoch 3 of 9 runs 6 epochs: the default schedule ends at two thirds of those, and the last third fine-tunes at the target.
    const resumed = userModel();
    resumed.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });
    const pruner = new PruningCallback(resumed, { target: 0.8, calibration: { x: data.train.x, y }, policy: 'global-magnitude' });
    const w2 = await warningsDuring(() => resumed.fit(data.train.x, y, { epochs: 9, initialEpoch: 3, batchSize: 32, callbacks: [pruner], verbose: 0 }));
    expect(w2).toEqual([]);
    expect(pruner.sparsity().global).toBeCloseTo(0.8, 2);
    expect(pruner.history.at(-1)!.step).toBe(Math.round((2 / 3) * 2 * steps) - 1);
    pruner.strip();
    y.dispose();
    model.dispose();
    resumed.dispose();
    data.dispose();
  });

  it('with a guard on the user\'s validation rows, an epoch that drops too far is undone and the schedule holds the last sparsity that held', async () => {
    const { data, y, yVal, model } = await denseTrainedWithValidation();
    const before = numTensors();
    // 0.995 of the weights cannot hold a zero-point guard: the guard must undo and hold below it.
    const undone: number[] = [];
    const pruner = new PruningCallback(model, {
      target: 0.995, calibration: { x: data.train.x, y }, policy: 'global-magnitude',
      guard: { validation: { x: data.val.x, y: yVal }, maxDrop: 0 }, onRollback: (e) => undone.push(e.epoch),
    });
    const warnings = await warningsDuring(() => model.fit(data.train.x, y, { epochs: 6, batchSize: 32, callbacks: [pruner], verbose: 0, shuffle: false }));
    // Ending short of the target is said, with the guard's figures.
    expect(warnings.filter((w) => /^PruningCallback: the fit ended at sparsity 0\.\d+, short of the target 0\.995: the guard undid \d+ epoch\(s\) \(the last at sparsity 0\.\d+: -?\d+\.\d+ validation points below the reference, \d+\.\d+ allowed\)/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => w.includes('the guard\'s reference'))).toEqual([]); // a trained model's reference: nothing to say
    expect(pruner.rollbacks.length).toBeGreaterThanOrEqual(1);
    expect(undone).toEqual(pruner.rollbacks.map((r) => r.epoch));
    const first = pruner.rollbacks[0];
    expect(first.reference - first.metric).toBeGreaterThan(0);
    expect(first.drop).toBeGreaterThan(first.allowedDrop); // paired, row for row, beyond what the rows' noise allows
    expect(first.restoredSparsity).toBeLessThan(first.sparsity);
    // The schedule stopped at the restored sparsity: no prune after the first undo went past it.
    const final = pruner.sparsity().global;
    expect(final).toBeCloseTo(pruner.rollbacks.at(-1)!.restoredSparsity, 6);
    expect(final).toBeLessThan(0.995);
    // history's last entry is the sparsity now: each undo adds the sparsity it went back to.
    expect(pruner.history.filter((h) => h.rolledBack)).toHaveLength(pruner.rollbacks.length);
    expect(pruner.history.at(-1)!.sparsity).toBeCloseTo(final, 6);
    pruner.strip();
    expect(numTensors()).toBe(before); // the user's optimizer state existed before (dense fit) and still does
    model.optimizer.dispose();
    y.dispose();
    yVal.dispose();
    model.dispose();
    data.dispose();
  });

  it('a loop of one-epoch fits with endStep the steps of all of them reaches the target by its last step, warned once that the first fit ends short', async () => {
    // README's pattern for a training loop of fit({ epochs: 1 }): a new user's six fits ended at 0.898 of 0.9, the last
    // prune at step 105 of 120, and seven warnings — one per fit — where one fit of six epochs warned nothing.
    const data = loadSynthetic({ samples: 600, features: 20, classes: 3, seed: 6 });
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const batches = Math.ceil(data.train.labels.length / 32);
    const model = userModel();
    const pruner = new PruningCallback(model, { target: 0.9, calibration: data.train, policy: 'global-magnitude', endStep: 6 * batches });
    const warnings: string[] = [];
    for (let e = 0; e < 6; e++) warnings.push(...await warningsDuring(() => model.fit(data.train.x, y, { epochs: 1, batchSize: 32, callbacks: [pruner], verbose: 0 })));
    expect(pruner.sparsity().global).toBeCloseTo(0.9, 3);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(new RegExp(`^PruningCallback: endStep ${6 * batches} is after this fit's last optimizer step \\(${batches}\\): .*fit on with this callback to continue the schedule \\(a loop of fits\\)`));
    expect(await warningsDuring(async () => pruner.strip())).toEqual([]);
    // A loop one step short of its endStep ends short of the target: its fits but the first are silent, strip() says so.
    const short = userModel();
    const shortPruner = new PruningCallback(short, { target: 0.9, calibration: data.train, policy: 'global-magnitude', endStep: 6 * batches + 1 });
    for (let e = 0; e < 6; e++) await warningsDuring(() => short.fit(data.train.x, y, { epochs: 1, batchSize: 32, callbacks: [shortPruner], verbose: 0 }));
    expect(shortPruner.sparsity().global).toBeLessThan(0.9);
    expect(await warningsDuring(async () => shortPruner.strip())).toEqual([expect.stringMatching(new RegExp(`^PruningCallback: stripped at sparsity 0\\.\\d{3}, short of the target 0\\.9: its fits ran ${6 * batches} optimizer steps of the ${6 * batches + 1} the schedule needs; fit on before stripping`))]);
    short.optimizer.dispose();
    short.dispose();
    model.optimizer.dispose();
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('two callbacks of one model in one fit are refused (each masked by its own masks; one reported 0.5 of a model at 0.8); the next fit runs', async () => {
    const data = loadSynthetic({ samples: 300, features: 20, classes: 3, seed: 6 });
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const model = userModel();
    const a = new PruningCallback(model, { target: 0.5, calibration: data.train, policy: 'global-magnitude' });
    const b = new PruningCallback(model, { target: 0.8, calibration: data.train, policy: 'global-magnitude' });
    await expect(model.fit(data.train.x, y, { epochs: 2, batchSize: 32, callbacks: [a, b], verbose: 0 }))
      .rejects.toThrow(/^PruningCallback: this fit has two PruningCallbacks of model '[^']+' \(targets 0\.5 and 0\.8\): .*; pass one$/);
    await model.fit(data.train.x, y, { epochs: 2, batchSize: 32, callbacks: [b], verbose: 0 });
    expect(b.sparsity().global).toBeCloseTo(0.8, 2);
    // … with its masks applied inside every update: the weights are 0 where it pruned before strip() (the refused
    // callback's wrapper, left on the optimizer, deleted this fit's and the pruned weights trained freely).
    const zeros = kernels(model).reduce((n, k) => n + k.filter((v) => v === 0).length, 0);
    expect(zeros).toBeGreaterThanOrEqual(b.sparsity().pruned);
    // A fit refused before it planned anything (endStep before beginStep) leaves no callback behind to refuse the next one.
    const bad = new PruningCallback(model, { target: 0.9, calibration: data.train, policy: 'global-magnitude', beginStep: 5, endStep: 3 });
    await expect(model.fit(data.train.x, y, { epochs: 1, batchSize: 32, callbacks: [bad], verbose: 0 })).rejects.toThrow(/endStep \(3\) must be after beginStep \(5\)/);
    const good = new PruningCallback(model, { target: 0.9, calibration: data.train, policy: 'global-magnitude', endStep: 1 });
    await model.fit(data.train.x, y, { epochs: 1, batchSize: 32, callbacks: [good], verbose: 0 });
    // endStep 1 (one step after beginStep 0): the target at the fit's first step.
    expect(good.history[0]).toMatchObject({ step: 0 });
    expect(good.sparsity().global).toBeCloseTo(0.9, 2);
    good.strip();
    bad.strip();
    a.strip();
    b.strip();
    model.optimizer.dispose();
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('says so when the fit ends before the schedule does (early stopping), short of the target', async () => {
    const data = loadSynthetic({ samples: 600, features: 20, classes: 3, seed: 6 });
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const model = userModel();
    const pruner = new PruningCallback(model, { target: 0.8, calibration: data.train, policy: 'global-magnitude' });
    // Another callback stops the fit after its first epoch, as EarlyStopping does.
    const stop = new (class extends tf.Callback { override async onEpochEnd() { model.stopTraining = true; } })();
    const warnings = await warningsDuring(() => model.fit(data.train.x, y, { epochs: 6, batchSize: 32, callbacks: [pruner, stop], verbose: 0 }));
    const s = pruner.sparsity().global;
    expect(s).toBeLessThan(0.8);
    expect(warnings.filter((w) => /^PruningCallback: the fit ended at step \d+ of the \d+ the schedule needs \(early stopping, .*\), at sparsity 0\.\d{3}, short of the target 0\.8: fit on with this callback/.test(w))).toHaveLength(1);
    pruner.strip();
    // A fit that stops one step before endStep: the target's prune (before step endStep − 1) never came — said too
    // (a new user's EarlyStopping ended at 0.899 of 0.9 in silence).
    const exact = userModel();
    const batches = Math.ceil(data.train.labels.length / 32);
    const atEnd = new PruningCallback(exact, { target: 0.8, calibration: data.train, policy: 'global-magnitude', endStep: batches + 1 });
    const stopExact = new (class extends tf.Callback { override async onEpochEnd() { exact.stopTraining = true; } })();
    const atEndWarnings = await warningsDuring(() => exact.fit(data.train.x, y, { epochs: 6, batchSize: 32, callbacks: [atEnd, stopExact], verbose: 0 }));
    expect(atEnd.sparsity().global).toBeLessThan(0.8);
    expect(atEndWarnings.filter((w) => w.startsWith(`PruningCallback: the fit ended at step ${batches} of the ${batches + 1} the schedule needs`))).toHaveLength(1);
    atEnd.strip();
    // One that stops after exactly endStep steps trained its last step at the target: nothing to say.
    const onTime = userModel();
    const inTime = new PruningCallback(onTime, { target: 0.8, calibration: data.train, policy: 'global-magnitude', endStep: batches });
    const stopOnTime = new (class extends tf.Callback { override async onEpochEnd() { onTime.stopTraining = true; } })();
    const onTimeWarnings = await warningsDuring(() => onTime.fit(data.train.x, y, { epochs: 6, batchSize: 32, callbacks: [inTime, stopOnTime], verbose: 0 }));
    expect(inTime.sparsity().global).toBeCloseTo(0.8, 2);
    expect(onTimeWarnings).toEqual([]);
    inTime.strip();
    onTime.optimizer.dispose();
    onTime.dispose();
    exact.optimizer.dispose();
    exact.dispose();
    model.optimizer.dispose();
    y.dispose();
    model.dispose();
    data.dispose();
  });

  it('when the guard had held the schedule before the fit stopped early, it says fitting on stays there (not "fit on")', async () => {
    const { data, y, yVal, model } = await denseTrainedWithValidation();
    // 0.995 by step 85 cannot hold a zero-point guard; the fit stops after 4 epochs (80 steps), before it, as EarlyStopping does.
    const pruner = new PruningCallback(model, { target: 0.995, endStep: 85, calibration: { x: data.train.x, y }, policy: 'global-magnitude', guard: { validation: { x: data.val.x, y: yVal }, maxDrop: 0 } });
    let epochs = 0;
    const stop = new (class extends tf.Callback { override async onEpochEnd() { if (++epochs === 4) model.stopTraining = true; } })();
    const warnings = await warningsDuring(() => model.fit(data.train.x, y, { epochs: 9, batchSize: 32, callbacks: [pruner, stop], verbose: 0, shuffle: false }));
    expect(pruner.rollbacks.length).toBeGreaterThan(0);
    expect(warnings.filter((w) => /the guard had held the schedule at 0\.\d{3} .*fitting on with this callback stays at that sparsity/.test(w))).toHaveLength(1);
    expect(warnings.filter((w) => /fit on with this callback to continue/.test(w))).toHaveLength(0);
    pruner.strip();
    model.optimizer.dispose();
    tf.dispose([y, yVal]);
    model.dispose();
    data.dispose();
  });

  it('a guard that always holds changes nothing: the target is reached, nothing undone; a reference no better than the common class is warned about', async () => {
    const data = loadSynthetic({ samples: 600, features: 20, classes: 3, seed: 5 });
    const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3).toFloat();
    const model = userModel();
    const pruner = new PruningCallback(model, { target: 0.7, calibration: data.train, policy: 'global-magnitude', guard: { validation: data.val, maxDrop: 100 } });
    // The model is not trained yet (the README's pattern of pruning during training): its guard has nothing to hold, said.
    const warnings = await warningsDuring(() => model.fit(data.train.x, y, { epochs: 3, batchSize: 32, callbacks: [pruner], verbose: 0 }));
    expect(warnings.filter((w) => /^PruningCallback: the guard's reference, the model before this fit, scores accuracy \d+\.\d % on the \d+ validation rows, no better than always answering the most common class \(\d+\.\d %\): .*train it first and prune in a later fit, or fit without the guard$/.test(w))).toHaveLength(1);
    expect(pruner.rollbacks).toEqual([]);
    expect(pruner.sparsity().global).toBeCloseTo(0.7, 3);
    pruner.strip();
    model.optimizer.dispose();
    y.dispose();
    model.dispose();
    data.dispose();
  });
});
