/** `inspect` says when `autoprune --model` would refuse a model whose kernels it can otherwise list. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { inspectModel } from '../../src/cli/inspect.js';
import { tempDir } from '../helpers.js';

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
});
