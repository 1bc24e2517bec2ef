/** Honest denominators: what sparsity is a fraction of, and every layer left dense, in events and report.json. */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { autoprune } from '../../src/api.js';
import type { AgentEvent } from '../../src/agent/events.js';
import { smallCasePaths } from '../../src/bench/small-suite.js';

describe('coverage of the prunable layers', () => {
  it('reports the share of all parameters that is prunable, the layers left dense and why, and sparsity of all parameters', async () => {
    const m = tf.sequential({ layers: [
      tf.layers.reshape({ inputShape: [4], targetShape: [4, 1] }),
      tf.layers.conv1d({ filters: 16, kernelSize: 2, activation: 'relu', name: 'conv1d' }),
      tf.layers.prelu({ name: 'prelu' }),
      tf.layers.batchNormalization({ name: 'bn' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 3, activation: 'softmax', name: 'out' }),
    ] });
    const events: AgentEvent[] = [];
    const { model, report } = await autoprune({
      // An untrained model (at chance): the explicit label order says its outputs are meant as these classes.
      model: m, data: smallCasePaths('iris').data, labelOrder: ['setosa', 'versicolor', 'virginica'], target: 0.5, budgetSteps: 10, policy: 'global-magnitude', force: true,
      onEvent: (e) => events.push(e),
    });
    const params = m.countParams();
    expect(report.dense.params).toBe(params);
    const prunable = 2 * 16 + 48 * 3; // the Conv1D kernel [2, 1, 16] and the Dense kernel [48, 3]
    expect(report.dense.prunable).toBe(prunable);
    expect(report.dense.prunableFraction).toBeCloseTo(prunable / params);
    expect(report.layers.map((l) => [l.name, l.kind])).toEqual([['conv1d', 'conv1d'], ['out', 'dense']]);
    expect(report.dense.untouched!.map((u) => [u.name, u.className, u.params])).toEqual([['prelu', 'PReLU', 48], ['bn', 'BatchNormalization', 64]]);
    expect(report.dense.untouched![0].reason).toMatch(/PReLU layers have no pruning handler/);
    expect(report.dense.untouched![1].reason).toMatch(/normalization weights are never pruned/);
    const pruned = Math.round(report.final.sparsity * prunable);
    expect(report.final.sparsityOfAllParams).toBeCloseTo(pruned / params);
    const start = events.find((e) => e.type === 'start');
    expect(start).toMatchObject({ params, untouched: [{ name: 'prelu' }, { name: 'bn' }] });
    expect(events.find((e) => e.type === 'done')).toMatchObject({ sparsityOfAllParams: report.final.sparsityOfAllParams, prunableFraction: report.dense.prunableFraction });
    model.dispose();
    m.dispose();
  });
});
