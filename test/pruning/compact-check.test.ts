/**
 * The compact model is checked against the pruned model before anything is written: a compaction that changes the
 * outputs (a defect; here injected by a serving rewrite that shifts a bias) is refused with exit 1, nothing written.
 */
import type * as TF from '@tensorflow/tfjs';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { compactPruned } from '../../src/compact-service.js';
import { AutopruneError, exitCodeOf } from '../../src/errors.js';
import { saveModel } from '../../src/models/io.js';
import { tempDir } from '../helpers.js';

const fault = vi.hoisted(() => ({ shift: 0 }));
vi.mock('../../src/pruning/rewrite.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/pruning/rewrite.js')>();
  return {
    ...real,
    rewriteForSpeed: (model: TF.LayersModel, opts?: Parameters<typeof real.rewriteForSpeed>[1]) => {
      const r = real.rewriteForSpeed(model, opts);
      if (fault.shift !== 0) {
        const bias = r.model.layers.at(-1)!.getWeights()[1];
        r.model.layers.at(-1)!.setWeights([r.model.layers.at(-1)!.getWeights()[0], tf.add(bias, fault.shift)]);
      }
      return r;
    },
  };
});

describe('compactPruned checks its outputs', () => {
  it('refuses a compact model whose outputs are not the pruned model\'s, writing nothing; float rounding passes', async () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu' }), tf.layers.dense({ units: 2 })] });
    const dir = tempDir();
    await saveModel(model, join(dir, 'model'));
    model.dispose();
    fault.shift = 1e-7; // rounding-sized: written
    const ok = await compactPruned(join(dir, 'model'), { out: join(dir, 'ok') });
    expect(ok.maxAbsDiff.compact).toBeGreaterThan(0);
    expect(readdirSync(join(dir, 'ok')).sort()).toEqual(['compact', 'model.sparse']);
    fault.shift = 0.01;
    const err = await compactPruned(join(dir, 'model'), { out: join(dir, 'bad') }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AutopruneError);
    expect(exitCodeOf(err)).toBe(1);
    expect((err as Error).message).toMatch(/^the compact model does not reproduce the pruned model '.*model\.json': its outputs differ by up to 1\.00e-2 on 32 random inputs in \[0, 1\) \(float rounding stays under [0-9.]+e-4\); nothing is written/);
    expect(readdirSync(dir).sort()).toEqual(['model', 'ok']);
  });
});

describe('autoprune compact on a folder a prune run is writing', () => {
  it('refuses to write into another run\'s output folder (its compact/ would be this model\'s, beside files that describe its own)', async () => {
    const dir = tempDir();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
    await saveModel(model, join(dir, 'm'));
    model.dispose();
    const other = join(dir, 'other-run');
    mkdirSync(other);
    writeFileSync(join(other, 'masks.json'), JSON.stringify({ format: 'autoprune-masks', version: 1, layers: [] }));
    await expect(compactPruned(join(dir, 'm'), { out: other })).rejects.toThrow(/^output folder '.*other-run' is another autoprune run's output .*; choose another --out$/);
    expect(readdirSync(other)).toEqual(['masks.json']);
  });

  it('is refused while the run holds the folder\'s lock, and runs once it is released', async () => {
    const { compactCommand } = await import('../../src/cli/compact.js');
    const { lockOutDir } = await import('../../src/output-dir.js');
    const dir = tempDir();
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
    await saveModel(model, join(dir, 'm'));
    model.dispose();
    const out = join(dir, 'out');
    const release = lockOutDir(out);
    try {
      await expect(compactCommand(join(dir, 'm'), { out, json: true })).rejects.toThrow(/^output folder '.*out' is in use by another autoprune run in this process/);
    } finally {
      release();
    }
  });
});
