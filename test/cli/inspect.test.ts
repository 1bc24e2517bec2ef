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
    two.dispose();
    plain.dispose();
  });
});
