import { describe, expect, it } from 'vitest';
import type * as TF from '@tensorflow/tfjs';
import { compareLatency, compareLatencyBySettings, floorModel, RUNTIME_SETTINGS, sampleLatency } from '../../src/bench/latency.js';
import { tf } from '../../src/backend/tf.js';
import { numTensors } from '../helpers.js';

const mlp = (hidden: number) => tf.sequential({
  layers: [tf.layers.dense({ units: hidden, activation: 'relu', inputShape: [12] }), tf.layers.dense({ units: 3, activation: 'softmax' })],
});

describe('latency', () => {
  it('times models in alternation without leaking tensors', () => {
    const [a, b] = [mlp(16), mlp(2)];
    const before = numTensors();
    const r = compareLatency([a, b], [12], { batch: 8, runs: 5, warmup: 1 });
    expect(numTensors()).toBe(before);
    expect(r).toHaveLength(2);
    for (const x of r) {
      expect(x.runs).toBe(5);
      expect(x.batch).toBe(8);
      expect(x.medianMs).toBeGreaterThan(0);
      expect(x.p90Ms).toBeGreaterThanOrEqual(x.medianMs);
    }
    a.dispose();
    b.dispose();
  });

  it('times each model in turns of `block` consecutive calls, each turn after one untimed call; block 1 alternates call by call', () => {
    const calls: string[] = [];
    const fake = (id: string) => ({ predict: () => { calls.push(id); return tf.zeros([1]); } }) as unknown as TF.LayersModel;
    const [a, b] = [fake('a'), fake('b')];
    const blocks = sampleLatency([a, b], [3], { runs: 5, block: 2, warmup: 1 });
    expect(blocks.map((t) => t.length)).toEqual([5, 5]);
    // warm-up a b; turns of 2 timed (after 1 untimed) until 5 are timed: the last turn times 1.
    expect(calls.join('')).toBe(`ab${'aaabbb'.repeat(2)}aabb`);
    calls.length = 0;
    sampleLatency([a, b], [3], { runs: 3, block: 1, warmup: 0 });
    expect(calls.join('')).toBe('ababab');
    expect(() => sampleLatency([a], [3], { block: 0 })).toThrow(/latency block must be a whole number ≥ 1, got 0/);
  });

  it('floor model: the same input and output, one hidden unit, for flat and image inputs', () => {
    const flat = floorModel([12], 3);
    expect(flat.inputs[0].shape).toEqual([null, 12]);
    expect(flat.outputs[0].shape).toEqual([null, 3]);
    const img = floorModel([6, 6, 2], 4);
    expect(img.inputs[0].shape).toEqual([null, 6, 6, 2]);
    expect(img.outputs[0].shape).toEqual([null, 4]);
    expect(img.countParams()).toBe(72 + 1 + 4 + 4);
    flat.dispose();
    img.dispose();
  });

  it('compareLatencyBySettings: every runtime setting in its own worker process, taking turns, each model and the floor per batch size', async () => {
    const [a, b] = [mlp(16), mlp(2)];
    const settings = [RUNTIME_SETTINGS[0], RUNTIME_SETTINGS[3]];
    const r = await compareLatencyBySettings([a, b], [12], { batches: [1, 4], runs: 3, settings });
    expect(r.map((x) => x.setting)).toEqual(['auto', '1 thread, no oneDNN']);
    for (const x of r) {
      for (const batch of [1, 4]) {
        expect(x.byBatch[batch]).toHaveLength(3);
        for (const m of x.byBatch[batch]) {
          expect(m.batch).toBe(batch);
          expect(m.runs).toBe(3);
          expect(m.medianMs).toBeGreaterThan(0);
          expect(m.backend).toBe(tf.getBackend());
        }
      }
    }
    a.dispose();
    b.dispose();
  });
});
