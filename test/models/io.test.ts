import type * as TF from '@tensorflow/tfjs';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT, tf } from '../../src/backend/tf.js';
import { ModelError } from '../../src/errors.js';
import { trainedModel } from '../../src/models/cache.js';
import { buildModel, LENET_300_100, LENET_5 } from '../../src/models/families.js';
import { compileSettingsDropped, loadModel, quantizedStorage, saveModel } from '../../src/models/io.js';
import { loadSynthetic } from '../../src/data/synthetic.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { quantizeUint8, tempDir } from '../helpers.js';

describe('model families', () => {
  it('LeNet-300-100 and LeNet-5 have the protocol\'s prunable weight counts', () => {
    for (const [args, n] of [[LENET_300_100, 266_200], [LENET_5, 430_500]] as const) {
      const m = buildModel({ ...args, seed: 0 });
      const pm = new PrunableModel(m);
      expect(pm.totalPrunable).toBe(n);
      pm.dispose();
      m.dispose();
    }
  });

  it('builds other shapes and activations, including a binary sigmoid output', () => {
    const m = buildModel({ family: 'cnn', inputShape: [16, 16, 3], convs: [{ filters: 8, kernel: 3 }], dense: [12], activation: 'tanh', numClasses: 2, binaryOutput: true, seed: 1 });
    expect(m.outputs[0].shape).toEqual([null, 1]);
    expect((m.layers[0].getConfig() as { activation: string }).activation).toBe('tanh');
    m.dispose();
  });
});

describe('model io', () => {
  it('round-trips through the tfjs format with identical outputs', async () => {
    const dir = join(tempDir(), 'm');
    const m = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(m, dir);
    const back = await loadModel(join(dir, 'model.json'));
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 3);
    expect(Array.from((back.predict(x) as TF.Tensor).dataSync())).toEqual(Array.from((m.predict(x) as TF.Tensor).dataSync()));
    [m, back].forEach((k) => k.dispose());
    x.dispose();
  });

  it('keeps a SeparableConv2D depth multiplier through save and reload (tfjs-layers leaves it out of the config)', async () => {
    const dir = join(tempDir(), 'sep');
    const m = tf.sequential({ layers: [
      tf.layers.separableConv2d({ inputShape: [6, 6, 3], filters: 4, kernelSize: 3, depthMultiplier: 2, name: 'sep' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 2 }),
    ] });
    await saveModel(m, dir);
    expect(JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')).modelTopology.config.layers[0].config.depth_multiplier).toBe(2);
    const back = await loadModel(join(dir, 'model.json'));
    expect(back.getLayer('sep').weights[0].shape).toEqual([3, 3, 3, 2]);
    const x = tf.randomNormal([2, 6, 6, 3], 0, 1, 'float32', 3);
    expect(Array.from((back.predict(x) as TF.Tensor).dataSync())).toEqual(Array.from((m.predict(x) as TF.Tensor).dataSync()));
    // As plain tfjs saves it (no depth_multiplier): read from the depthwise kernel's shape in the weights manifest.
    const file = join(dir, 'model.json');
    const json = JSON.parse(readFileSync(file, 'utf8'));
    delete json.modelTopology.config.layers[0].config.depth_multiplier;
    writeFileSync(file, JSON.stringify(json));
    const plain = await loadModel(file);
    expect(plain.getLayer('sep').weights[0].shape).toEqual([3, 3, 3, 2]);
    expect(Array.from((plain.predict(x) as TF.Tensor).dataSync())).toEqual(Array.from((m.predict(x) as TF.Tensor).dataSync()));
    // Saved by an editor that starts UTF-8 with a byte-order mark: read as the CSV loader reads such a file.
    writeFileSync(file, `\uFEFF${JSON.stringify(json)}`);
    const marked = await loadModel(file);
    expect(marked.getLayer('sep').weights[0].shape).toEqual([3, 3, 3, 2]);
    [m, back, plain, marked, x].forEach((k) => k.dispose());
  });

  it('names the file and the problem for bad model files', async () => {
    const dir = tempDir();
    await expect(loadModel(join(dir, 'none.json'))).rejects.toThrow(/model file '.*none.json' does not exist/);
    writeFileSync(join(dir, 'bad.json'), '{nope');
    await expect(loadModel(join(dir, 'bad.json'))).rejects.toThrow(ModelError);
    writeFileSync(join(dir, 'graph.json'), '{"format": "graph-model"}');
    await expect(loadModel(join(dir, 'graph.json'))).rejects.toThrow(/is a tfjs graph model .*LayersModel/);
    writeFileSync(join(dir, 'plain.json'), '{"weightsManifest": []}');
    await expect(loadModel(join(dir, 'plain.json'))).rejects.toThrow(/not a tfjs LayersModel/);
    // autoprune's own files given as a model: what each is and where it goes (not "convert it with tensorflowjs_converter").
    await expect(loadModel(join(PACKAGE_ROOT, 'policies', 'default.json'))).rejects.toThrow(/is autoprune's pruning policy, not a model: give it with --policy$/);
    writeFileSync(join(dir, 'meta.json'), '{"format": "autoprune-meta", "version": 1}');
    await expect(loadModel(join(dir, 'meta.json'))).rejects.toThrow(/is autoprune's meta-dataset \(policy training rows\), not a model: give it to autoprune train-policy --meta$/);
    writeFileSync(join(dir, 'report.json'), '{"format": "autoprune-report"}');
    await expect(loadModel(join(dir, 'report.json'))).rejects.toThrow(/is autoprune's run report, not a model: the pruned model is the model\/ folder beside it$/);
    mkdirSync(join(dir, 'folder'));
    await expect(loadModel(join(dir, 'folder'))).rejects.toThrow(/model folder '.*folder' holds no model\.json/);
  });

  it('loads weights a converter stored quantized (uint8) and says so, so that the float32 output is not a surprise', async () => {
    const dir = join(tempDir(), 'q');
    const m = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(m, dir);
    expect(quantizedStorage(await loadModel(dir))).toBeUndefined();
    const bytes = quantizeUint8(dir);
    const back = await loadModel(dir);
    expect(quantizedStorage(back)).toEqual({ dtypes: ['uint8'], weightBytes: bytes });
    const x = tf.randomNormal([4, 6], 0, 1, 'float32', 3);
    const [a, b] = [m, back].map((k) => Array.from((k.predict(x) as TF.Tensor).dataSync()));
    a.forEach((v, i) => expect(b[i]).toBeCloseTo(v, 1));
    [m, back, x].forEach((k) => k.dispose());
  });

  it('refuses quantized weights that are not finite once dequantized (float16 Infinity, a uint8 scale past float32), as float32 ones', async () => {
    const dir = join(tempDir(), 'f16');
    const m = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(m, dir);
    m.dispose();
    // --quantize_float16 of a weight above 65504: the half-precision Infinity (0x7c00) at index 3 of the first kernel.
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const n = json.weightsManifest[0].weights.reduce((a: number, w: { shape: number[] }) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    const half = new Uint16Array(n).fill(0x3c00); // 1.0
    half[3] = 0x7c00;
    for (const w of json.weightsManifest[0].weights) w.quantization = { dtype: 'float16' };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(half.buffer));
    const first = json.weightsManifest[0].weights[0].name;
    await expect(loadModel(dir)).rejects.toThrow(new RegExp(`weight '${first}' holds a non-finite value \\(Infinity once dequantized from float16\\) at index 3$`));
    half[3] = 0x3c00;
    writeFileSync(join(dir, 'weights.bin'), new Uint8Array(half.buffer));
    (await loadModel(dir)).dispose();

    const dir8 = join(tempDir(), 'u8');
    const m8 = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(m8, dir8);
    m8.dispose();
    quantizeUint8(dir8);
    const j8 = JSON.parse(readFileSync(join(dir8, 'model.json'), 'utf8'));
    j8.weightsManifest[0].weights[0].quantization.scale = 1e39;
    writeFileSync(join(dir8, 'model.json'), JSON.stringify(j8));
    await expect(loadModel(dir8)).rejects.toThrow(/holds a non-finite value \((-)?Infinity once dequantized from uint8\) at index \d+$/);
  });

  it('says a weights file longer than its manifest is mismatched, not truncated', async () => {
    const dir = join(tempDir(), 'extra');
    const m = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(m, dir);
    m.dispose();
    writeFileSync(join(dir, 'weights.bin'), Buffer.concat([readFileSync(join(dir, 'weights.bin')), Buffer.from('XXXX')]));
    await expect(loadModel(dir)).rejects.toThrow(/hold \d+ bytes but the manifest's weights need \d+ \(4 bytes more than the manifest describes: mismatched weights\)$/);
  });

  it("keeps a Keras-converted model's optimizer settings and metrics where tfjs has them, and says which it could not keep", async () => {
    const dir = join(tempDir(), 'keras');
    const m = buildModel({ family: 'mlp', inputShape: [6], hidden: [5], numClasses: 3, seed: 2 });
    await saveModel(m, dir);
    m.dispose();
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8'));
    const asKeras = (optimizer: unknown, metrics: unknown = [['accuracy']]) => writeFileSync(join(dir, 'model.json'), JSON.stringify({
      ...json, trainingConfig: undefined,
      modelTopology: { keras_version: '2.15.0', backend: 'tensorflow', model_config: json.modelTopology, training_config: { loss: 'sparse_categorical_crossentropy', metrics, optimizer_config: optimizer } },
    }));
    // A metric as the converter writes it, an object: kept by its name (it was dropped without a word).
    asKeras({ class_name: 'Adam', config: { learning_rate: 0.003 } }, [[{ class_name: 'MeanMetricWrapper', config: { name: 'accuracy', dtype: 'float32', fn: 'sparse_categorical_accuracy' } }]]);
    const wrapped = await loadModel(dir);
    expect((wrapped as unknown as { getTrainingConfig(): { metrics: unknown } }).getTrainingConfig().metrics).toEqual(['accuracy']);
    wrapped.dispose();
    // One tfjs cannot compile (a Keras metric class's own name) stays out, and the optimizer's settings stay in.
    asKeras({ class_name: 'Adam', config: { learning_rate: 0.003 } }, [[{ class_name: 'SparseCategoricalAccuracy', config: { name: 'sparse_categorical_accuracy' } }]]);
    const unknownMetric = await loadModel(dir);
    const utc = (unknownMetric as unknown as { getTrainingConfig(): { metrics: unknown; optimizer_config: { config: Record<string, number> } } }).getTrainingConfig();
    expect(utc.metrics).toEqual([]);
    expect(utc.optimizer_config.config.learningRate).toBe(0.003);
    unknownMetric.dispose();
    asKeras({ class_name: 'Adam', config: { learning_rate: 0.003, beta_1: 0.8 } });
    const adam = await loadModel(dir);
    const tc = (adam as unknown as { getTrainingConfig(): { metrics: unknown; optimizer_config: { class_name: string; config: Record<string, number> } } }).getTrainingConfig();
    expect(tc.metrics).toEqual(['accuracy']);
    expect(tc.optimizer_config.class_name).toBe('Adam');
    expect(tc.optimizer_config.config).toMatchObject({ learningRate: 0.003, beta1: 0.8, beta2: 0.999 });
    expect(compileSettingsDropped(adam)).toBeUndefined();
    // Written again (the pruned model.json): the same settings, as tfjs reads them.
    const out = join(tempDir(), 'again');
    await saveModel(adam, out);
    expect(JSON.parse(readFileSync(join(out, 'model.json'), 'utf8')).trainingConfig.optimizer_config.config.learningRate).toBe(0.003);
    adam.dispose();
    asKeras({ class_name: 'Nadam', config: { learning_rate: 0.003 } });
    const nadam = await loadModel(dir);
    expect(compileSettingsDropped(nadam)).toEqual({ settings: 'optimizer Nadam (learning rate 0.003)' });
    nadam.dispose();
    // Keras spells RMSprop (tfjs: RMSProp), and its SGD with momentum is tfjs' Momentum: both kept, settings included.
    const kept = async (optimizer: unknown) => {
      asKeras(optimizer);
      const k = await loadModel(dir);
      const c = (k as unknown as { getTrainingConfig(): { optimizer_config: unknown } }).getTrainingConfig().optimizer_config;
      const lost = compileSettingsDropped(k);
      k.dispose();
      return { c, lost };
    };
    expect(await kept({ class_name: 'RMSprop', config: { learning_rate: 0.002, rho: 0.8 } }))
      .toEqual({ c: { class_name: 'RMSProp', config: { learningRate: 0.002, decay: 0.8, momentum: 0, epsilon: 1e-7, centered: false } }, lost: undefined });
    expect(await kept({ class_name: 'SGD', config: { learning_rate: 0.02, momentum: 0.9, nesterov: true } }))
      .toEqual({ c: { class_name: 'Momentum', config: { learningRate: 0.02, momentum: 0.9, useNesterov: true } }, lost: undefined });
    expect(await kept({ class_name: 'SGD', config: { learning_rate: 0.02, momentum: 0 } }))
      .toEqual({ c: { class_name: 'SGD', config: { learningRate: 0.02 } }, lost: undefined });
    // A loss tfjs cannot compile (Huber): no training config at all is written, so the settings it had are said lost.
    writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...json, trainingConfig: { loss: 'huber', metrics: ['mae'], optimizer_config: { class_name: 'Adam', config: { learning_rate: 0.005 } } } }));
    const huber = await loadModel(dir);
    expect(compileSettingsDropped(huber)).toEqual({ settings: 'optimizer Adam (learning rate 0.005), metrics mae', loss: 'huber' });
    huber.dispose();
  });

  it('caches trained default models so repeated runs do not retrain', async () => {
    process.env.AUTOPRUNE_CACHE_DIR = tempDir();
    const data = loadSynthetic({ samples: 300, seed: 4 });
    const spec = { args: { family: 'mlp' as const, inputShape: [20], hidden: [8], numClasses: 3, seed: 0 }, train: { epochs: 2 } };
    const a = await trainedModel(spec, data);
    const b = await trainedModel(spec, data);
    expect(a.fromCache).toBe(false);
    expect(b.fromCache).toBe(true);
    expect(Array.from(b.model.weights[0].read().dataSync())).toEqual(Array.from(a.model.weights[0].read().dataSync()));
    // A damaged cache entry (weights overwritten) is retrained, not used.
    const w = join(a.dir, 'weights.bin');
    writeFileSync(w, Buffer.alloc(readFileSync(w).length, 7));
    const c = await trainedModel(spec, data);
    expect(c.fromCache).toBe(false);
    expect(Array.from(c.model.weights[0].read().dataSync())).toEqual(Array.from(a.model.weights[0].read().dataSync()));
    c.model.dispose();
    [a.model, b.model].forEach((m) => m.dispose());
    data.dispose();
    delete process.env.AUTOPRUNE_CACHE_DIR;
  });
});

describe('models saved with their loss', () => {
  it('load with the loss (the task) and leave no tensor behind when disposed, copies included', async () => {
    const { cloneModel } = await import('../../src/models/io.js');
    const { PACKAGE_ROOT } = await import('../../src/backend/tf.js');
    const before = tf.memory().numTensors;
    const m = await loadModel(join(PACKAGE_ROOT, 'datasets', 'coverage', 'regression', 'model', 'model.json'));
    expect((m as unknown as { loss: unknown }).loss).toBe('meanSquaredError');
    const copy = await cloneModel(m);
    expect((copy as unknown as { loss: unknown }).loss).toBe('meanSquaredError');
    copy.dispose();
    m.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('reads a Keras-converted model\'s loss (training_config inside the topology, Keras names and optimizer) and saves one plain tfjs loads', async () => {
    const { modelFiles, lossNameOf } = await import('../../src/models/io.js');
    const { taskOf } = await import('../../src/models/task.js');
    expect(lossNameOf('mse')).toBe('mean_squared_error');
    expect(lossNameOf({ module: 'keras.losses', class_name: 'MeanSquaredError', config: { name: 'mean_squared_error' } })).toBe('mean_squared_error');
    expect(lossNameOf({ class_name: 'Huber', config: {} })).toBe('huber');
    const plain = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4, activation: 'relu' }), tf.layers.dense({ units: 1 })] });
    const files = await modelFiles(plain);
    const json = JSON.parse(files[0].data as string);
    const write = (name: string, loss: unknown) => {
      const dir = join(tempDir(), name);
      mkdirSync(dir);
      // As tensorflowjs_converter writes it: the training config inside the topology, Keras' snake_case optimizer.
      const topo = { ...json.modelTopology, training_config: { loss, metrics: ['mae'], optimizer_config: { class_name: 'Adam', config: { learning_rate: 0.001, beta_1: 0.9, use_ema: false } } } };
      writeFileSync(join(dir, 'model.json'), JSON.stringify({ ...json, modelTopology: topo }));
      writeFileSync(join(dir, 'weights.bin'), files[1].data);
      return dir;
    };
    for (const [loss, name] of [['mse', 'mean_squared_error'], [{ class_name: 'Huber', config: { name: 'huber_loss' } }, 'huber_loss']] as const) {
      const m = await loadModel(write(`keras-${name}`, loss));
      expect(taskOf(m).kind).toBe('regression');
      // The pruned model keeps the loss: a training config tfjs compiles, or (a loss tfjs lacks) autoprune's metadata.
      const saved = JSON.parse((await modelFiles(m))[0].data as string);
      if (name === 'mean_squared_error') expect(saved.trainingConfig.loss).toBe(name);
      else expect(saved.userDefinedMetadata).toEqual({ autoprune: { loss: name } });
      const dir = join(tempDir(), `again-${name}`);
      mkdirSync(dir);
      const again = await modelFiles(m);
      writeFileSync(join(dir, 'model.json'), again[0].data);
      writeFileSync(join(dir, 'weights.bin'), again[1].data);
      const reloaded = await loadModel(dir);
      expect(taskOf(reloaded).kind).toBe('regression');
      if (name === 'mean_squared_error') {
        // Plain tfjs compiles it as saved.
        const weightData = (again[1].data as Uint8Array).slice().buffer;
        const viaTfjs = await tf.loadLayersModel(tf.io.fromMemory({ modelTopology: saved.modelTopology, weightSpecs: saved.weightsManifest[0].weights, weightData, trainingConfig: saved.trainingConfig }));
        expect((viaTfjs as unknown as { loss: unknown }).loss).toBe('meanSquaredError');
        viaTfjs.dispose();
      }
      reloaded.dispose();
      m.dispose();
    }
    plain.dispose();
  });

  it('loads Keras 3 exports (batch_shape, {args, kwargs} call nodes, flat input_layers, dtype policies) as their Keras 2 form, with the loss', async () => {
    const { taskOf } = await import('../../src/models/task.js');
    const { kerasCompatible } = await import('../../src/models/io.js');
    const dir = new URL('../fixtures/keras3/', import.meta.url).pathname;
    const before = tf.memory().numTensors;
    const k3 = await loadModel(join(dir, 'func_k3'));
    const k2 = await loadModel(join(dir, 'func'));
    const x = tf.randomNormal([16, 4], 0, 1, 'float32', 5);
    const diff = tf.tidy(() => tf.max(tf.abs(tf.sub(k3.predict(x) as TF.Tensor, k2.predict(x) as TF.Tensor))).dataSync()[0]);
    expect(diff).toBe(0);
    expect(k3.layers.map((l) => l.getClassName())).toEqual(k2.layers.map((l) => l.getClassName()));
    const reg = await loadModel(join(dir, 'reg_k3'));
    expect(taskOf(reg)).toMatchObject({ kind: 'regression' });
    expect(taskOf(reg).evidence).toMatch(/loss (mean_squared_error|mse|meanSquaredError)/);
    // Keras 2 topologies come back as they were; Keras 3's L2 regularizer and 'silu' become tfjs' L1L2 and 'swish'.
    const k2json = JSON.parse(readFileSync(join(dir, 'func', 'model.json'), 'utf8')).modelTopology;
    expect(kerasCompatible(k2json)).toEqual(k2json);
    expect(kerasCompatible({ class_name: 'Dense', config: { activation: 'silu', kernel_regularizer: { class_name: 'L2', config: { l2: 0.01 } } } }))
      .toEqual({ class_name: 'Dense', config: { activation: 'swish', kernel_regularizer: { class_name: 'L1L2', config: { l1: 0, l2: 0.01 } } } });
    [k3, k2, reg, x].forEach((t) => t.dispose());
    // The loads that failed on the Keras training config (before the simpler one held) left nothing behind.
    expect(tf.memory().numTensors).toBe(before);
    // A Keras class tfjs-layers lacks: tfjs' reason in one line, without its dangling list of causes.
    const unknownDir = join(tempDir(), 'unknown');
    mkdirSync(unknownDir);
    const text = readFileSync(join(dir, 'func', 'model.json'), 'utf8').replace('"class_name": "Concatenate"', '"class_name": "Normalization"');
    expect(text).toContain('Normalization');
    writeFileSync(join(unknownDir, 'model.json'), text);
    writeFileSync(join(unknownDir, 'group1-shard1of1.bin'), readFileSync(join(dir, 'func', 'group1-shard1of1.bin')));
    await expect(loadModel(unknownDir)).rejects.toThrow(/: Unknown layer: Normalization: a Keras class tfjs-layers does not implement; remove it .*through the library API, register a JavaScript implementation with autoprune's tf \(tf\.serialization\.registerClass\) before calling autoprune\(\) \(the CLI loads the classes tfjs-layers has\)$/);
  });

  it('a copy keeps a loss given as a function (model.json saves it as {}), so the returned model still trains', async () => {
    const { cloneModel } = await import('../../src/models/io.js');
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 4 }), tf.layers.dense({ units: 2 })] });
    const myLoss = (yt: TF.Tensor, yp: TF.Tensor) => tf.losses.softmaxCrossEntropy(yt, yp);
    m.compile({ optimizer: tf.train.adam(0.01), loss: myLoss as never });
    const copy = await cloneModel(m);
    expect((copy as unknown as { loss: unknown }).loss).toBe(myLoss);
    const x = tf.randomNormal([8, 3], 0, 1, 'float32', 1);
    const y = tf.oneHot(tf.tensor1d([0, 1, 0, 1, 0, 1, 0, 1], 'int32'), 2);
    const h = await copy.fit(x, y, { epochs: 1, verbose: 0 });
    expect(Number.isFinite(h.history.loss[0] as number)).toBe(true);
    [x, y].forEach((t) => t.dispose());
    copy.dispose();
    m.dispose();
  });

  it('loads a model file saved with a loss function of its own (`loss: {}`) without tfjs\'s "missing from loss dictionary" warning', async () => {
    const dir = tempDir();
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2, activation: 'softmax', name: 'out' })] });
    await m.save(`file://${dir}`);
    // What tfjs writes for a model compiled with a loss function (and saved with includeOptimizer).
    const json = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as Record<string, unknown>;
    json.trainingConfig = { loss: {}, metrics: ['accuracy'], optimizer_config: { class_name: 'Adam', config: { learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } } };
    writeFileSync(join(dir, 'model.json'), JSON.stringify(json));
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => { warnings.push(args.join(' ')); };
    try {
      const loaded = await loadModel(join(dir, 'model.json'));
      expect(loaded.layers.map((l) => l.name)).toEqual(['out']);
      loaded.dispose();
    } finally {
      console.warn = warn;
    }
    expect(warnings.filter((w) => /missing from loss dictionary/.test(w))).toEqual([]);
    m.dispose();
  });
});

