import type * as TF from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { ModelError } from '../../src/errors.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { decodeSparse, encodeSparse, inspectSparse, sizeReport } from '../../src/pruning/sparse-format.js';
import { Rng } from '../../src/util/random.js';

/**
 * A small pruned model: d1 very sparse with a long zero run (varint gaps > 127 → index deltas),
 * d2 lightly pruned (bitmask is smaller), plus batch norm (raw weights) and random biases.
 */
function prunedModel(): TF.LayersModel {
  const model = tf.sequential({ layers: [
    tf.layers.dense({ inputShape: [200], units: 30, activation: 'relu', name: 'd1' }),
    tf.layers.batchNormalization({ name: 'bn' }),
    tf.layers.dense({ units: 12, activation: 'tanh', name: 'd2' }),
    tf.layers.dense({ units: 5, activation: 'softmax', name: 'out' }),
  ] });
  const rng = new Rng(3);
  for (const l of model.layers) {
    for (const w of l.weights) {
      const n = w.originalName ?? w.name;
      if (/kernel/.test(n)) continue;
      const size = (w.shape as number[]).reduce((a, b) => a * b, 1);
      w.write(tf.tensor(Float32Array.from({ length: size }, () => 0.5 + rng.next()), w.shape as number[]));
    }
  }
  const pm = new PrunableModel(model);
  const keep = [0.04, 0.7, 0.9];
  pm.setMaskArrays(pm.layers.map((l, i) => Float32Array.from({ length: l.size }, (_, j) => (i === 0 && j < 900 ? 0 : rng.next() < keep[i] ? 1 : 0))));
  pm.dispose();
  return model;
}

function weightsOf(m: TF.LayersModel): Float32Array[] {
  return m.weights.map((w) => w.read().dataSync() as Float32Array);
}

describe('sparse format', () => {
  it('round-trips float32 exactly (weights and outputs)', async () => {
    const model = prunedModel();
    const bytes = encodeSparse(model);
    const back = await decodeSparse(bytes);
    expect(back.layers.map((l) => l.name)).toEqual(model.layers.map((l) => l.name));
    const a = weightsOf(model), b = weightsOf(back);
    expect(b.length).toBe(a.length);
    // (−0 from masking and +0 are the same weight.)
    a.forEach((w, i) => expect(Array.from(b[i], (v) => v + 0)).toEqual(Array.from(w, (v) => v + 0)));
    const x = tf.randomUniform([4, 200], 0, 1, 'float32', 1);
    const ya = model.predict(x) as TF.Tensor, yb = back.predict(x) as TF.Tensor;
    expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
    tf.dispose([x, ya, yb]);
    // Both position encodings were used.
    const positions = inspectSparse(bytes).weights.map((w) => (w.enc === 'sparse' ? w.positions : 'raw'));
    expect(positions).toEqual(['deltas', 'raw', 'raw', 'raw', 'raw', 'raw', 'bitmask', 'raw', 'bitmask', 'raw']);
    back.dispose();
    model.dispose();
  });

  it('stores the pruned kernels of every layer type sparse (Embedding, LSTM, Conv1D, nested), exactly, and unpruned ones whole', async () => {
    const inner = tf.sequential({ name: 'backbone', layers: [tf.layers.conv1d({ inputShape: [12, 8], filters: 6, kernelSize: 3, name: 'c1' })] });
    const seq = tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: 40, outputDim: 8, inputLength: 12, name: 'emb' }),
      inner,
      tf.layers.lstm({ units: 5, name: 'rnn' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ] });
    const pm = new PrunableModel(seq);
    const rng = new Rng(5);
    // The output layer stays dense: whole, as float32 (a sparse form would be larger).
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, () => (l.name.startsWith('out') || rng.next() < 0.2 ? 1 : 0))));
    pm.dispose();
    const encodings = (b: Uint8Array) => Object.fromEntries(inspectSparse(b).weights.map((w) => [`${w.layer}:${w.index}`, w.enc === 'sparse' ? w.values : 'raw']));
    const bytes = encodeSparse(seq);
    expect(encodings(bytes)).toMatchObject({ 'emb:0': 'float32', 'backbone:0': 'float32', 'rnn:0': 'float32', 'rnn:1': 'float32', 'out:0': 'raw' });
    // int8 only where the last axis is the output unit (top-level Dense/Conv2D): the others stay exact.
    expect(encodings(encodeSparse(seq, { int8: true }))).toMatchObject({ 'emb:0': 'float32', 'backbone:0': 'float32', 'rnn:0': 'float32', 'out:0': 'int8' });
    const back = await decodeSparse(bytes);
    const a = weightsOf(seq), b = weightsOf(back);
    a.forEach((w, i) => expect(Array.from(b[i], (v) => v + 0)).toEqual(Array.from(w, (v) => v + 0)));
    expect(bytes.length).toBeLessThan(0.6 * a.reduce((n, w) => n + 4 * w.length, 0));
    back.dispose();
    seq.dispose();
  });

  it('int8: zeros stay zero, kernels within half a quantisation step, the rest exact', async () => {
    const model = prunedModel();
    const back = await decodeSparse(encodeSparse(model, { int8: true }));
    model.layers.forEach((l, li) => {
      l.weights.forEach((w, wi) => {
        const a = w.read().dataSync();
        const b = back.layers[li].weights[wi].read().dataSync();
        if (!/kernel/.test(w.originalName ?? w.name)) {
          expect(Array.from(b, (v) => v + 0)).toEqual(Array.from(a, (v) => v + 0));
          return;
        }
        const units = w.shape.at(-1)!;
        const colMax = new Float32Array(units);
        a.forEach((v, j) => { colMax[j % units] = Math.max(colMax[j % units], Math.abs(v)); });
        a.forEach((v, j) => {
          if (v === 0) expect(b[j]).toBe(0);
          expect(Math.abs(b[j] - v)).toBeLessThanOrEqual(colMax[j % units] / 254 + 1e-7);
        });
      });
    });
    back.dispose();
    model.dispose();
  });

  it('reports sizes: sparse < gzip < raw, int8 smaller still', () => {
    const model = prunedModel();
    const s = sizeReport(model);
    const params = model.weights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
    expect(s.denseFloat32).toBe(params * 4);
    expect(s.maskedRaw).toBe(params * 4);
    expect(s.maskedGzip).toBeLessThan(s.maskedRaw);
    expect(s.sparse).toBeLessThan(s.maskedGzip);
    expect(s.sparseInt8).toBeLessThan(s.sparse);
    expect(s.compact).toBeUndefined();
    model.dispose();
  });

  it('int8 keeps a kernel float32 where its per-unit scales would cost more than they save: the int8 file is never the larger', async () => {
    // 6 → 64 with 8 non-zeros: 64 scales (256 bytes) + 8 bytes against 32 bytes of float32 values.
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 64, name: 'wide' }), tf.layers.dense({ units: 3, name: 'out' })] });
    const pm = new PrunableModel(model);
    pm.setMaskArrays(pm.layers.map((l, i) => Float32Array.from({ length: l.size }, (_, j) => (i === 1 || j % 48 === 0 ? 1 : 0))));
    pm.dispose();
    const plain = encodeSparse(model);
    const int8 = encodeSparse(model, { int8: true });
    expect(int8.length).toBeLessThanOrEqual(plain.length);
    const wide = inspectSparse(int8).weights.find((e) => e.layer === 'wide' && e.enc === 'sparse');
    expect(wide).toMatchObject({ values: 'float32', nnz: 8 });
    const back = await decodeSparse(int8);
    expect(Array.from(back.layers[0].weights[0].read().dataSync(), (v) => v + 0)).toEqual(Array.from(model.layers[0].weights[0].read().dataSync(), (v) => v + 0));
    back.dispose();
    model.dispose();
  });

  it('a corrupt, truncated or foreign file is a ModelError, never a model', async () => {
    const model = prunedModel();
    const bytes = encodeSparse(model);
    model.dispose();
    const flip = (at: number) => { const c = bytes.slice(); c[at] ^= 0x10; return c; };
    const cases: [Uint8Array, RegExp][] = [
      [flip(bytes.length - 7), /corrupt: checksum/],
      [flip(40), /corrupt: checksum/], // inside the JSON header
      [flip(6), /corrupt: checksum/], // the flags
      [bytes.slice(0, bytes.length - 100), /corrupt: .*truncated/],
      [bytes.slice(0, 10), /not an autoprune sparse model file/],
      [flip(0), /not an autoprune sparse model file/],
      [new Uint8Array(0), /not an autoprune sparse model file/],
    ];
    for (const [b, re] of cases) {
      const err = await decodeSparse(b, 'm.sparse').catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ModelError);
      expect((err as Error).message).toMatch(re);
      expect((err as Error).message).toContain("'m.sparse'");
    }
  });

  it('decodes an LSTM model without tfjs\'s console warning about its orthogonal initialiser (the weights are read, not initialised); other warnings pass', async () => {
    const m = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [5, 3], units: 32 }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    const bytes = encodeSparse(m);
    const warned: string[] = [];
    const warn = console.warn;
    console.warn = (...args: unknown[]) => { warned.push(String(args[0])); };
    try {
      const decoded = await decodeSparse(bytes);
      decoded.dispose();
      console.warn('another warning');
    } finally {
      console.warn = warn;
    }
    expect(warned).toEqual(['another warning']);
    m.dispose();
  });
});
