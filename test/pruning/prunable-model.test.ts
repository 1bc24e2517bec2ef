import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { buildModel, LENET_5 } from '../../src/models/families.js';
import { train, accuracy } from '../../src/models/train.js';
import { fitDatasetToModel } from '../../src/models/task.js';
import { PrunableModel, disposeSnapshot } from '../../src/pruning/prunable-model.js';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { applyMaskJson, loadMasksFrom, masksToJson } from '../../src/pruning/mask-io.js';
import { ModelError } from '../../src/errors.js';
import { numTensors, smallMnist, tempDir } from '../helpers.js';

function mlp(seed = 0) {
  return buildModel({ family: 'mlp', inputShape: [784], hidden: [32, 16], numClasses: 10, seed });
}

/** Prunes the smallest-|w| half of every kernel (a test-only criterion). */
function pruneHalf(pm: PrunableModel): void {
  pm.layers.forEach((l, i) => {
    const w = Float32Array.from(l.kernel.dataSync() as Float32Array, Math.abs);
    const sorted = Float32Array.from(w).sort();
    const thr = sorted[Math.floor(sorted.length / 2)];
    const live = pm.maskArrays()[i];
    pm.setMask(i, tf.tensor(w.map((v, j) => (v >= thr ? live[j] : 0)), l.shape));
  });
}

describe('PrunableModel', () => {
  it('finds Dense and Conv2D kernels but not biases', () => {
    const m = buildModel({ ...LENET_5, seed: 0 });
    const pm = new PrunableModel(m);
    expect(pm.layers.map((l) => l.kind)).toEqual(['conv2d', 'conv2d', 'dense', 'dense']);
    expect(pm.totalPrunable).toBe(430_500);
    expect(pm.layers[0].shape).toEqual([5, 5, 1, 20]);
    expect(pm.layers[0].fanIn).toBe(25);
    pm.dispose();
    m.dispose();
  });

  it('reports sparsity per layer and globally', () => {
    const m = mlp();
    const pm = new PrunableModel(m);
    expect(pm.sparsity().global).toBe(0);
    pruneHalf(pm);
    const s = pm.sparsity();
    expect(s.global).toBeCloseTo(0.5, 2);
    s.layers.forEach((l) => expect(l.sparsity).toBeCloseTo(0.5, 1));
    pm.dispose();
    m.dispose();
  });

  it('keeps pruned weights exactly 0 through training, and optimizer moments do not revive them', () => {
    const data = smallMnist(20);
    const m = mlp();
    const pm = new PrunableModel(m);
    pruneHalf(pm);
    const masks = pm.maskArrays();
    train(m, data.train, { epochs: 3, batchSize: 32, prunable: pm, learningRate: 1e-2 });
    pm.layers.forEach((l, i) => {
      const w = l.kernel.dataSync();
      for (let j = 0; j < w.length; j++) if (masks[i][j] === 0) expect(Math.abs(w[j])).toBe(0);
      // Live weights still train.
      expect(Array.from(w).some((v, j) => masks[i][j] === 1 && v !== 0)).toBe(true);
    });
    expect(pm.sparsity().global).toBeCloseTo(0.5, 2);
    pm.dispose();
    m.dispose();
    data.dispose();
  });

  it('fine-tunes a model with a frozen layer (trainable: false): the frozen kernel stays as it was, only masked', () => {
    const data = smallMnist(10);
    const m = mlp(3);
    m.layers[0].trainable = false;
    const pm = new PrunableModel(m);
    pruneHalf(pm);
    const frozen = Array.from(pm.layers[0].kernel.dataSync());
    const second = Array.from(pm.layers[1].kernel.dataSync());
    train(m, data.train, { epochs: 1, batchSize: 64, prunable: pm, learningRate: 1e-2 });
    expect(Array.from(pm.layers[0].kernel.dataSync())).toEqual(frozen);
    expect(Array.from(pm.layers[1].kernel.dataSync())).not.toEqual(second);
    expect(pm.sparsity().global).toBeCloseTo(0.5, 2);
    pm.dispose();
    m.dispose();
    data.dispose();
  });

  it('frozen: \'exclude\' (the agent) leaves a frozen layer dense and says why; a model all frozen is refused naming the layers', () => {
    const m = mlp(4);
    m.layers[0].trainable = false;
    const pm = new PrunableModel(m, { frozen: 'exclude' });
    expect(pm.layers.map((l) => l.layer)).not.toContain(m.layers[0]);
    expect(pm.frozen.map((k) => k.layer)).toEqual([m.layers[0]]);
    const left = pm.coverage().untouched.find((u) => u.name === m.layers[0].name);
    expect(left?.reason).toMatch(/^frozen \(trainable: false\): fine-tuning trains only trainable layers.*unfreeze it to prune it$/);
    // The default (one-shot, callback) prunes it like the others.
    expect(new PrunableModel(m).layers.map((l) => l.layer)).toContain(m.layers[0]);
    m.trainable = false;
    expect(() => new PrunableModel(m, { frozen: 'exclude' })).toThrow(/every prunable layer of model '.*' is frozen \(trainable: false: .*\).*set trainable to true/);
    pm.dispose();
    m.dispose();
  });

  it('a reloaded model recovers its masks from its zeros, and masks.json round-trips', () => {
    const m = mlp(1);
    const pm = new PrunableModel(m);
    pruneHalf(pm);
    const json = masksToJson(pm);
    const pm2 = new PrunableModel(m);
    expect(pm2.maskArrays()).toEqual(pm.maskArrays());
    const m3 = mlp(2);
    const pm3 = new PrunableModel(m3);
    applyMaskJson(pm3, JSON.parse(JSON.stringify(json)));
    expect(pm3.maskArrays()).toEqual(pm.maskArrays());
    expect(() => applyMaskJson(pm3, { ...json, format: 'nope' } as never)).toThrow(ModelError);
    // An edited file is refused, not half believed: a layer twice, a count its bits do not hold (a new user's audit).
    expect(() => applyMaskJson(pm3, { ...json, layers: [...json.layers, json.layers[0]] })).toThrow(/lists layer '[^']+' twice/);
    expect(() => applyMaskJson(pm3, { ...json, layers: json.layers.map((l, i) => (i === 0 ? { ...l, pruned: -5 } : l)) })).toThrow(/says -5 weights pruned, its bits mark \d+: the file was edited or damaged/);
    // … and an entry for a layer this model has no prunable kernel of (a file of another model) is refused, not ignored.
    expect(() => applyMaskJson(pm3, { ...json, layers: [...json.layers, { ...json.layers[0], name: 'elsewhere' }] })).toThrow(/has a mask for layer 'elsewhere' that this model has no prunable kernel of: the file belongs to another model \(its prunable kernels: /);
    // Read from a folder: a masks.json that links elsewhere is refused (a crafted run folder's link to /etc/passwd was read).
    const dir = tempDir();
    const elsewhere = join(tempDir(), 'secret.txt');
    writeFileSync(elsewhere, 'not yours');
    symlinkSync(elsewhere, join(dir, 'masks.json'));
    expect(() => loadMasksFrom(pm3, dir)).toThrow(/masks\.json' links outside its folder \(to '.*secret\.txt'\)/);
    [pm, pm2, pm3].forEach((p) => p.dispose());
    m.dispose();
    m3.dispose();
  });

  it('snapshot/restore rolls weights and masks back', () => {
    const m = mlp();
    const pm = new PrunableModel(m);
    const before = pm.layers.map((l) => Array.from(l.kernel.dataSync()));
    const snap = pm.snapshot();
    pruneHalf(pm);
    pm.restore(snap);
    disposeSnapshot(snap);
    expect(pm.layers.map((l) => Array.from(l.kernel.dataSync()))).toEqual(before);
    expect(pm.sparsity().global).toBe(0);
    pm.dispose();
    m.dispose();
  });

  it('does not leak tensors across repeated prune / train / evaluate cycles', () => {
    const data = smallMnist(10);
    const m = mlp();
    const pm = new PrunableModel(m);
    const cycle = () => {
      const snap = pm.snapshot();
      pruneHalf(pm);
      train(m, data.train, { epochs: 1, batchSize: 64, prunable: pm, val: data.val, patience: 1 });
      accuracy(m, data.test);
      pm.restore(snap);
      disposeSnapshot(snap);
    };
    cycle();
    const start = numTensors();
    for (let i = 0; i < 3; i++) cycle();
    expect(numTensors()).toBe(start);
    pm.dispose();
    m.dispose();
    data.dispose();
  });
});

describe('training', () => {
  it('is deterministic for a seed and learns real digits', () => {
    const data = smallMnist(60);
    const run = () => {
      const m = mlp(3);
      train(m, data.train, { epochs: 5, batchSize: 32, seed: 5 });
      const acc = accuracy(m, data.test);
      const w = Array.from(m.weights[0].read().dataSync().slice(0, 20));
      m.dispose();
      return { acc, w };
    };
    const a = run();
    const b = run();
    expect(a.w).toEqual(b.w);
    expect(a.acc).toBe(b.acc);
    expect(a.acc).toBeGreaterThan(0.6);
    data.dispose();
  });

  it('is deterministic for a seed with Dropout, GaussianNoise and AlphaDropout layers (their noise is seeded per step), and other seeds differ', () => {
    const data = smallMnist(30);
    const run = (seed: number) => {
      const m = tf.sequential({ layers: [
        tf.layers.dense({ inputShape: [784], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
        tf.layers.dropout({ rate: 0.3 }),
        tf.layers.gaussianNoise({ stddev: 0.1 }),
        tf.layers.alphaDropout({ rate: 0.1 }),
        tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      ] });
      train(m, data.train, { epochs: 2, batchSize: 32, seed });
      const w = Array.from(m.weights[2].read().dataSync()); // the output kernel: every weight is trained
      m.dispose();
      return w;
    };
    const before = Math.random;
    expect(run(5)).toEqual(run(5));
    expect(run(6)).not.toEqual(run(5));
    expect(Math.random).toBe(before); // put back after training
    data.dispose();
  });

  it('reduces the learning rate on a plateau, and stops once it is below a millionth of where it started (lrDecay 0: at the first round without a gain)', () => {
    const data = smallMnist(8);
    const run = (lrDecay?: number) => {
      const m = mlp(1);
      const epochs: { acc: number; improved: boolean; w: number[] }[] = [];
      train(m, data.train, {
        epochs: 30, batchSize: 32, learningRate: 0.01, seed: 2, val: data.val, lrDecay,
        onEpoch: (e) => epochs.push({ acc: e.valAccuracy!, improved: e.improved!, w: Array.from(m.weights[2].read().dataSync().slice(0, 50)) }),
      });
      m.dispose();
      return epochs;
    };
    const decayed = run(0);
    const plain = run();
    // The first epoch that is no gain on the best before it (no more rows right, and not as many at a lower loss).
    const flat = decayed.findIndex((e, i) => i > 0 && !e.improved);
    expect(flat).toBeGreaterThan(0);
    expect(flat).toBeLessThan(29);
    // Identical up to there (same seed); there the decayed run's rate is 0 (below LR_FLOOR of where it started): rounds
    // that could not move a weight are not run. The run without decay goes on, and moves.
    expect(decayed[flat].w).toEqual(plain[flat].w);
    expect(decayed).toHaveLength(flat + 1);
    expect(plain).toHaveLength(30);
    expect(plain[flat + 1].w).not.toEqual(plain[flat].w);
    // A decay that leaves the rate above the floor for the whole run does not stop it (0.9^29 ≈ 0.05).
    expect(run(0.9)).toHaveLength(30);
    data.dispose();
  });

  it('with tieZ, a round within noise of the best is a tie: no learning-rate decay, and the best round\'s weights are still the ones kept', () => {
    const data = smallMnist(8);
    const run = (tieZ?: number) => {
      const m = mlp(1);
      const rounds: { improved: boolean; loss: number; w: number[] }[] = [];
      const r = train(m, data.train, {
        epochs: 12, batchSize: 32, learningRate: 0.01, seed: 2, val: data.val, lrDecay: 0, patience: Number.POSITIVE_INFINITY, tieZ,
        onEpoch: (e) => rounds.push({ improved: e.improved!, loss: e.valLoss!, w: Array.from(m.weights[2].read().dataSync().slice(0, 50)) }),
      });
      const kept = Array.from(m.weights[2].read().dataSync().slice(0, 50));
      m.dispose();
      return { rounds, kept, r };
    };
    const plain = run();
    // Without tieZ: the first round above the best cuts the rate to 0 (lrDecay 0), which ends the fine-tune.
    const flat = plain.rounds.findIndex((e, i) => i > 0 && !e.improved);
    expect(flat).toBeGreaterThan(0);
    expect(plain.rounds).toHaveLength(flat + 1);
    // No round of a few hundred steps is 1e9 standard errors worse: every round is a gain or a tie, so the learning rate
    // is never cut and the weights move in every round; the round kept is still the lowest loss's, its weights restored.
    const tied = run(1e9);
    expect(tied.rounds.some((e, i) => i > 0 && !e.improved)).toBe(true);
    for (let i = 1; i < 12; i++) expect(tied.rounds[i].w).not.toEqual(tied.rounds[i - 1].w);
    const losses = tied.rounds.map((e) => e.loss);
    expect(tied.r.bestEpoch).toBe(losses.indexOf(Math.min(...losses)));
    expect(tied.r.bestValLoss).toBe(Math.min(...losses));
    expect(tied.kept).toEqual(tied.rounds[tied.r.bestEpoch!].w);
    data.dispose();
  });

  it('reshapes flat data for a CNN and rejects data that does not fit', () => {
    const data = smallMnist(5);
    const cnn = buildModel({ ...LENET_5, seed: 0 });
    const fitted = fitDatasetToModel(data, cnn);
    expect(fitted.train.x.shape.slice(1)).toEqual([28, 28, 1]);
    fitted.dispose();
    const small = buildModel({ family: 'mlp', inputShape: [10], hidden: [4], numClasses: 10, seed: 0 });
    expect(() => fitDatasetToModel(data, small)).toThrow(/784 input values per sample.*expects shape \[10\]/);
    const binary = buildModel({ family: 'mlp', inputShape: [784], hidden: [4], numClasses: 2, binaryOutput: true, seed: 0 });
    expect(() => fitDatasetToModel(data, binary)).toThrow(/10 classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\) but the model's output has 1 unit\(s\) \(2 classes\): 8 classes more than it has outputs; remove the rows of the classes the model was not trained on \(in numeric order, the k-th label = output k, that is '2', '3', '4', '5', '6', … \(8 labels\); if they are others, remove their rows and give --label-order/);
    [cnn, small, binary].forEach((m) => m.dispose());
    data.dispose();
  });
});
