/** `inspect` says when `autoprune --model` would refuse a model whose kernels it can otherwise list. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { compactPruned } from '../../src/compact-service.js';
import { inspectCommand, inspectModel } from '../../src/cli/inspect.js';
import { modelFiles } from '../../src/models/io.js';
import { masksToJson, type MaskFile } from '../../src/pruning/mask-io.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { tempDir } from '../helpers.js';
import { cli } from './cli-helpers.js';

describe('inspect', () => {
  it('lists a two-input model\'s kernels and says the prune command would refuse it; a plain model has no such note', async () => {
    const dir = tempDir();
    const a = tf.input({ shape: [2] });
    const b = tf.input({ shape: [2] });
    const joined = tf.layers.concatenate().apply([a, b]) as ReturnType<typeof tf.input>;
    const out = tf.layers.dense({ units: 3, activation: 'softmax' }).apply(tf.layers.dense({ units: 8 }).apply(joined)) as ReturnType<typeof tf.input>;
    const two = tf.model({ inputs: [a, b], outputs: out });
    await two.save(`file://${join(dir, 'two')}`);
    const plain = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8 }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    await plain.save(`file://${join(dir, 'plain')}`);
    const r = await inspectModel(join(dir, 'two'));
    expect(r.layers.length).toBe(2);
    expect(r.refused).toMatch(/has 2 input\(s\) .* autoprune prunes models with one input and one output/);
    expect((await inspectModel(join(dir, 'plain'))).refused).toBeUndefined();
    // The command's page: the refusal, and no capacity figure for a model the run would not prune (it read as if it could).
    const page = await cli(['inspect', join(dir, 'two')]);
    expect(page.code).toBe(0);
    expect(page.stdout).toMatch(/^warning: autoprune --model would refuse this model: .*has 2 input\(s\)/m);
    expect(page.stdout).not.toContain('--objective flops');
    expect((await cli(['inspect', join(dir, 'plain')])).stdout).toMatch(/^--objective flops \(whole units\) can remove up to/m);
    // A fully convolutional model (input of any size): refused by --model, and its per-sample MACs are not real figures.
    const fcn = tf.sequential({ layers: [tf.layers.conv2d({ inputShape: [null, null, 1] as unknown as number[], filters: 4, kernelSize: 3 }), tf.layers.globalAveragePooling2d({}), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    await fcn.save(`file://${join(dir, 'fcn')}`);
    expect((await inspectModel(join(dir, 'fcn'))).refused).toMatch(/input shape \[null, null, 1\] has unknown \(null\) dimensions beside the batch.*count each unknown dimension as 1$/);
    two.dispose();
    plain.dispose();
    fcn.dispose();
  });

  it('says how much compute whole units can remove, and which layers keep theirs and why', async () => {
    const dir = tempDir();
    const x = tf.input({ shape: [6] });
    const a = tf.layers.dense({ units: 8, activation: 'relu', name: 'a' }).apply(x) as ReturnType<typeof tf.input>;
    const b = tf.layers.dense({ units: 8, activation: 'relu', name: 'b' }).apply(x) as ReturnType<typeof tf.input>;
    const cat = tf.layers.concatenate({ name: 'cat' }).apply([a, b]) as ReturnType<typeof tf.input>;
    const h = tf.layers.dense({ units: 5, activation: 'relu', name: 'h' }).apply(cat) as ReturnType<typeof tf.input>;
    const m = tf.model({ inputs: x, outputs: tf.layers.dense({ units: 2, name: 'out' }).apply(h) as ReturnType<typeof tf.input> });
    await m.save(`file://${join(dir, 'm')}`);
    const r = await inspectModel(join(dir, 'm'));
    expect(r.unitsKept.map((k) => k.layer)).toEqual(['a', 'b']);
    expect(r.unitsKept[0].reason).toMatch(/'cat' \(Concatenate\) merges several inputs/);
    // Only h's units can go (h's 16·5 + 5·2 MACs of the 2·6·8 + 16·5 + 5·2 = 186), all but its floor of one unit.
    expect(r.maxComputeRemovable).toBeCloseTo((4 * (16 + 2)) / 186, 6);
    m.dispose();
  });

  it('a pruned model with no unit that can go whole (a Bidirectional wrapper, then the output) reports no more compute removable than its zeros remove', async () => {
    const dir = tempDir();
    const m = tf.sequential({ layers: [
      tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 4 }) as never, inputShape: [5, 3] }),
      tf.layers.dense({ units: 2, activation: 'softmax', name: 'out' }),
    ] });
    const pm = new PrunableModel(m);
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, j) => (j % 2))));
    const zeros = pm.compute().reduction;
    pm.dispose();
    await m.save(`file://${join(dir, 'bi')}`);
    m.dispose();
    const r = await inspectModel(join(dir, 'bi'));
    // Before, the dry run counted the zeros as removable: "up to 50 %" for a model --objective flops refuses.
    expect(zeros).toBeGreaterThan(0.4);
    expect(r.maxComputeRemovable).toBeCloseTo(zeros, 9);
    expect(r.unitsKept[0].reason).toMatch(/inside a Bidirectional wrapper/);
    // Those zeros lie inside units that stay: a compact model runs them, and --objective flops refuses the model (said).
    expect(r.zerosCompactKeeps).toBeCloseTo(zeros, 6);
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((t) => { out.push(String(t)); return true; });
    try {
      await inspectCommand(join(dir, 'bi'), {});
    } finally {
      write.mockRestore();
    }
    expect(out.join('')).toMatch(/--objective flops would be refused: \d+\.\d % of the prunable kernels' MACs are on zero weights its compact model would still run/);
  });

  it('a frozen layer, left dense by the agent, is listed in masks.json; inspect and compact read such an output (and one written before the list)', async () => {
    const out = tempDir();
    const m = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', name: 'frozen_fc' }),
      tf.layers.dense({ units: 8, activation: 'relu', name: 'fc2' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ] });
    m.layers[0].trainable = false;
    // What the agent writes: the frozen kernel is not one of its prunable layers; fc2 loses its first 4 units.
    const pm = new PrunableModel(m, { frozen: 'exclude' });
    expect(pm.layers.map((l) => l.name)).toEqual(['fc2', 'out']);
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, j) => (l.name === 'fc2' && j % 8 < 4 ? 0 : 1))));
    const masks = masksToJson(pm);
    expect(masks.frozen).toEqual(['frozen_fc']);
    for (const f of await modelFiles(m, 'model/')) {
      mkdirSync(dirname(join(out, f.relPath)), { recursive: true });
      writeFileSync(join(out, f.relPath), f.data);
    }
    writeFileSync(join(out, 'masks.json'), JSON.stringify(masks));
    const check = async () => {
      const r = await inspectModel(out);
      expect(r.masksFile).toBe(true);
      // As the prune command counts: the frozen layer left dense, with why.
      expect(r.layers.map((l) => l.name)).toEqual(['fc2', 'out']);
      expect(r.pruned).toBe(32);
      expect(r.coverage.untouched.find((u) => u.name === 'frozen_fc')?.reason).toMatch(/^frozen \(trainable: false\)/);
      const c = await compactPruned(out, { out });
      // Its figures count what the run counted: fc2 and out (64 + 24 weights, 32 pruned), not the frozen layer.
      expect(c.sparsity).toBeCloseTo(32 / 88, 10);
      // (Compact: fc2 keeps its 8 inputs and 4 of its units, out the rows of those 4: 8·4 + 4·3.)
      expect(c.compute).toMatchObject({ dense: 88, live: 56, compact: 8 * 4 + 4 * 3 });
      // fc2's 4 dead units are gone; the frozen layer is kept whole.
      expect(c.compact.layers.find((l) => l.name === 'fc2')).toMatchObject({ unitsBefore: 8, unitsAfter: 4 });
      expect(c.compact.layers.find((l) => l.name === 'frozen_fc')).toMatchObject({ unitsBefore: 8, unitsAfter: 8 });
    };
    await check();
    // A masks.json written before frozen kernels were listed: the layer's own flag (saved in model.json) tells.
    const old = JSON.parse(readFileSync(join(out, 'masks.json'), 'utf8')) as MaskFile;
    delete old.frozen;
    writeFileSync(join(out, 'masks.json'), JSON.stringify(old));
    await check();
    pm.dispose();
    m.dispose();
  });

  it('a layer the run left out with --exclude: inspect and compact count the prunable kernels as the run did', async () => {
    const out = tempDir();
    const m = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu', name: 'fc1' }),
      tf.layers.dense({ units: 8, activation: 'relu', name: 'fc2' }),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ] });
    const pm = new PrunableModel(m, { exclude: ['fc1'] });
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, j) => (l.name === 'fc2' && j % 8 < 4 ? 0 : 1))));
    const masks = masksToJson(pm);
    expect(masks.excluded).toEqual(['fc1']);
    for (const f of await modelFiles(m, 'model/')) {
      mkdirSync(dirname(join(out, f.relPath)), { recursive: true });
      writeFileSync(join(out, f.relPath), f.data);
    }
    writeFileSync(join(out, 'masks.json'), JSON.stringify(masks));
    const r = await inspectModel(out);
    expect(r.layers.map((l) => l.name)).toEqual(['fc2', 'out']);
    expect(r.coverage.untouched.find((u) => u.name === 'fc1')?.reason).toMatch(/^excluded/);
    const c = await compactPruned(out, { out });
    expect(c.sparsity).toBeCloseTo(32 / 88, 10); // fc2 and out (64 + 24 weights, 32 pruned), as the run counted
    pm.dispose();
    m.dispose();
  });

  it('refuses masks.json that calls weights pruned which the model holds as nonzero (a model trained further after pruning)', async () => {
    const out = tempDir();
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, name: 'fc' }), tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' })] });
    // The masks of a pruned copy, the weights of the dense model (its kernels have no zeros).
    const copy = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 8, name: 'fc' }), tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' })] });
    const pm = new PrunableModel(copy);
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, j) => (j % 2 === 0 ? 0 : 1))));
    for (const f of await modelFiles(m, 'model/')) {
      mkdirSync(dirname(join(out, f.relPath)), { recursive: true });
      writeFileSync(join(out, f.relPath), f.data);
    }
    writeFileSync(join(out, 'masks.json'), JSON.stringify(masksToJson(pm)));
    const why = /masks\.json' marks 28 weight\(s\) as pruned that the model holds as nonzero \(16 in 'fc', 12 in 'out'\): the weights were changed after pruning/;
    await expect(inspectModel(out)).rejects.toThrow(why);
    await expect(compactPruned(out, { out })).rejects.toThrow(why);
    pm.dispose();
    [m, copy].forEach((x) => x.dispose());
  });
});
