/**
 * A learned policy's domain (the kinds, fan-ins and units of the layers it was trained on): recorded from its rows,
 * checked against a model's layers; outside it the agent lets LAMP allocate and the policy correct the order inside
 * each layer (docs/agent.md, "Outside the policy's domain").
 */
import { describe, expect, it } from 'vitest';
import { tf } from '../../src/backend/tf.js';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import { domainOf, domainOfRows, kindsOfModels, outsideDomain } from '../../src/policy/domain.js';
import { BUILTIN_POLICY_DIR, loadPolicy, policyFromJSON } from '../../src/policy/io.js';
import { PolicyError } from '../../src/errors.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { globalMagnitudeScorer } from '../../src/policy/baselines.js';
import { withinDomain } from '../../src/agent/loop.js';
import { withinReach } from '../../src/agent/guard.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { numTensors } from '../helpers.js';
import { loadModel } from '../../src/models/io.js';
import { smallCasePaths, smallSuiteCases } from '../../src/bench/small-suite.js';

const rowsOf = (layers: { fanIn: number; fanOut: number; conv: boolean }[]) => {
  const names = FEATURE_SCHEMA.names as readonly string[];
  const columns = names.map(() => new Float32Array(layers.length));
  layers.forEach((l, r) => {
    columns[names.indexOf('log_fan_in')][r] = Math.log(l.fanIn);
    columns[names.indexOf('log_fan_out')][r] = Math.log(l.fanOut);
    columns[names.indexOf('is_conv')][r] = l.conv ? 1 : 0;
  });
  return columns;
};

const mlp = (inputs: number, hidden: number[], outputs: number) => tf.sequential({ layers: [
  ...hidden.map((units, i) => tf.layers.dense({ ...(i === 0 ? { inputShape: [inputs] } : {}), units, activation: 'relu', name: `h${i + 1}` })),
  tf.layers.dense({ units: outputs, activation: 'softmax', name: 'out' }),
] });

describe('a policy\'s domain', () => {
  it('is the range of fan-ins and units per kind of layer over its training rows', () => {
    const d = domainOfRows(FEATURE_SCHEMA, rowsOf([
      { fanIn: 784, fanOut: 300, conv: false }, { fanIn: 300, fanOut: 100, conv: false }, { fanIn: 100, fanOut: 10, conv: false },
      { fanIn: 25, fanOut: 20, conv: true }, { fanIn: 500, fanOut: 50, conv: true },
    ]));
    expect(d).toEqual({ other: { fanIn: [100, 784], fanOut: [10, 300] }, convolution: { fanIn: [25, 500], fanOut: [20, 50] } });
    // With the kinds of its models' kernels (from their meta headers), sorted; none where a model does not say.
    expect(domainOfRows(FEATURE_SCHEMA, rowsOf([{ fanIn: 50, fanOut: 10, conv: false }]), ['dense', 'conv2d'])!.kinds).toEqual(['conv2d', 'dense']);
    expect(kindsOfModels([{ kinds: ['dense'] }, { kinds: ['conv2d', 'dense'] }])).toEqual(['conv2d', 'dense']);
    expect(kindsOfModels([{ kinds: ['dense'] }, {}])).toBeUndefined();
    // A schema without the layer columns records none.
    expect(domainOfRows({ version: 1, names: ['abs_w'] }, [new Float32Array(1)])).toBeUndefined();
  });

  it('names a kernel of a kind its models did not have, whatever its shape; a recurrent kernel\'s columns as gates × units', () => {
    const domain = { other: { fanIn: [4, 800] as [number, number], fanOut: [1, 600] as [number, number] }, kinds: ['dense'] };
    expect(outsideDomain(domain, [
      { name: 'lstm', kind: 'lstm', conv: false, fanIn: 16, fanOut: 256, gates: 4 },
      { name: 'dw/depthwise_kernel', kind: 'depthwise_conv2d', conv: true, fanIn: 576, fanOut: 1 },
      { name: 'out', kind: 'dense', conv: false, fanIn: 64, fanOut: 3 },
    ])).toEqual([
      { layer: 'lstm', why: 'an LSTM kernel: it saw Dense kernels only' },
      { layer: 'dw/depthwise_kernel', why: 'a depthwise kernel: it saw Dense kernels only' },
    ]);
    // Without a kinds record the shape decides; a gated kernel's columns are said as gates × units.
    expect(outsideDomain({ other: { fanIn: [4, 800], fanOut: [1, 500] } }, [{ name: 'gru', kind: 'gru', conv: false, fanIn: 16, fanOut: 510, gates: 3 }]))
      .toEqual([{ layer: 'gru', why: '510 columns (3 gates × 170 units), outside 1–500' }]);
  });

  it('names each layer outside it and why: a fan-in or a unit count out of range, a kind it never saw', () => {
    const domain = { other: { fanIn: [50, 800] as [number, number], fanOut: [10, 500] as [number, number] } };
    expect(outsideDomain(domain, [
      { name: 'h1', conv: false, fanIn: 11, fanOut: 64 },
      { name: 'h2', conv: false, fanIn: 64, fanOut: 32 },
      { name: 'out', conv: false, fanIn: 32, fanOut: 1 },
      { name: 'c1', conv: true, fanIn: 27, fanOut: 16 },
    ])).toEqual([
      { layer: 'h1', why: 'fan-in 11, outside 50–800' },
      { layer: 'out', why: 'fan-in 32, outside 50–800, 1 unit, outside 10–500' },
      { layer: 'c1', why: 'a convolution: it saw none' },
    ]);
  });

  it('of the shipped default policy holds both LeNets; a table\'s MLP is outside, and the run scores it with LAMP\'s allocation', () => {
    const before = numTensors();
    const policy = loadPolicy('default');
    expect(domainOf(policy)).toEqual({ other: { fanIn: [50, 800], fanOut: [10, 500] }, convolution: { fanIn: [9, 500], fanOut: [10, 50] }, kinds: ['conv2d', 'dense'] });
    const lenet = mlp(784, [300, 100], 10);
    const table = mlp(11, [64, 32], 3);
    const pmL = new PrunableModel(lenet, {});
    const pmT = new PrunableModel(table, {});
    try {
      const inside = withinDomain(policy, pmL);
      expect(inside.scorer).toBe(policy);
      expect(inside.outsideDomain).toBeUndefined();
      const outside = withinDomain(policy, pmT);
      expect(outside.scorer.name).toBe('default@0.25+lamp');
      expect(outside.outsideDomain!.map((x) => x.layer)).toEqual(['h1', 'out']);
      // Off by option, and a scorer with no recorded domain (a baseline), prune as given.
      expect(withinDomain(policy, pmT, false).scorer).toBe(policy);
      const magnitude = globalMagnitudeScorer();
      expect(withinDomain(magnitude, pmT).scorer).toBe(magnitude);
    } finally {
      pmL.dispose();
      pmT.dispose();
      lenet.dispose();
      table.dispose();
    }
    expect(numTensors()).toBe(before);
  });

  it('is checked when the policy file is read: a malformed one is refused naming the field, not ignored', () => {
    const file = JSON.parse(readFileSync(join(BUILTIN_POLICY_DIR, 'default.json'), 'utf8'));
    const withDomain = (domain: unknown) => ({ ...file, provenance: { ...file.provenance, domain } });
    expect(domainOf(policyFromJSON(withDomain({ other: { fanIn: [4, 800], fanOut: [1, 600] } }))))
      .toEqual({ other: { fanIn: [4, 800], fanOut: [1, 600] } });
    for (const [bad, where] of [
      [{ other: { fanIn: [800, 4], fanOut: [1, 600] } }, 'provenance.domain.other.fanIn'],
      [{ other: { fanIn: [4], fanOut: [1, 600] } }, 'provenance.domain.other.fanIn'],
      [{ dense: { fanIn: [4, 800], fanOut: [1, 600] } }, 'provenance.domain'],
      [{ kinds: 'dense' }, 'provenance.domain.kinds'],
    ] as const) {
      expect(() => policyFromJSON(withDomain(bad), 'p.json')).toThrow(PolicyError);
      expect(() => policyFromJSON(withDomain(bad), 'p.json')).toThrow(new RegExp(`p\\.json is malformed: .*${where.replace(/\./g, '\\.')}`));
    }
  });
});

describe('the small-data suite', () => {
  it('has layers outside the default policy\'s domain in every case (what its benchmark section says), first among them the first layer', async () => {
    const policy = loadPolicy('default');
    for (const c of smallSuiteCases()) {
      const model = await loadModel(smallCasePaths(c.name).model);
      const pm = new PrunableModel(model, {});
      try {
        const { scorer, outsideDomain: outside } = withinDomain(policy, pm);
        expect(scorer.name).toBe('default@0.25+lamp');
        expect(outside![0]).toMatchObject({ layer: pm.layers[0].name, why: expect.stringMatching(/^fan-in ([2-9]|1[0-7]), outside 50–800/) });
      } finally {
        pm.dispose();
        model.dispose();
      }
    }
  });
});

describe('a refused last try within reach', () => {
  it('misses the allowance by at most the allowance or the noise of its paired estimate', () => {
    // 68 validation rows: two rows short of a 1-point allowance, s.e. 2.9 points: within reach.
    expect(withinReach({ drop: 0.0294, allowed: 0.01, se: 0.029 })).toBe(true);
    // 1,000 rows: 2.5 points against 1 allowed, s.e. 0.5 points: out of reach; 1.9 points: within the allowance's reach.
    expect(withinReach({ drop: 0.025, allowed: 0.01, se: 0.005 })).toBe(false);
    expect(withinReach({ drop: 0.019, allowed: 0.01, se: 0.005 })).toBe(true);
    // 256 rows, 21 points down, s.e. 3 points: far off.
    expect(withinReach({ drop: 0.21, allowed: 0.01, se: 0.03 })).toBe(false);
  });
});
