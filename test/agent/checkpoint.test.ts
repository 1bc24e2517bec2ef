import { existsSync, readdirSync, renameSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Checkpointer, type AgentState } from '../../src/agent/checkpoint.js';
import { buildModel } from '../../src/models/families.js';
import { PrunableModel } from '../../src/pruning/prunable-model.js';
import { tempDir } from '../helpers.js';

const state = (step: number): AgentState => ({ step, sparsity: 0.1 * step, rate: 0.5, stepsUsed: step, denseValAccuracy: 0.9, steps: [] });

describe('Checkpointer', () => {
  it('round-trips weights, masks and state, and survives a kill between the two renames of a save', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [4], numClasses: 2, seed: 1 });
    const pm = new PrunableModel(model);
    pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, (_, j) => (j % 3 === 0 ? 0 : 1))));
    const weights = model.weights.map((w) => Array.from(w.read().dataSync()));
    const dir = join(tempDir(), '.out.checkpoint');
    const ck = new Checkpointer(dir);
    expect(ck.exists()).toBe(false);
    await ck.save(pm, state(1));
    await ck.save(pm, state(2));
    expect(readdirSync(dirname(dir))).toEqual([basename(dir)]);

    // Killed after `dir → dir.old-PID` and before `tmp → dir`: only the moved-aside one and a temp folder are left.
    renameSync(dir, `${dir}.old-999999`);
    mkdirSync(join(dirname(dir), `.${basename(dir)}.tmp-999998`));
    const again = new Checkpointer(dir);
    expect(again.exists()).toBe(true);
    expect(readdirSync(dirname(dir))).toEqual([basename(dir)]);

    const fresh = buildModel({ family: 'mlp', inputShape: [6], hidden: [4], numClasses: 2, seed: 2 });
    const pm2 = new PrunableModel(fresh);
    const s = await again.restore(pm2);
    expect(s.step).toBe(2);
    expect(fresh.weights.map((w) => Array.from(w.read().dataSync()))).toEqual(weights);
    expect(pm2.sparsity().pruned).toBe(pm.sparsity().pruned);
    again.remove();
    expect(existsSync(dir)).toBe(false);
    for (const p of [pm, pm2]) { p.dispose(); p.model.dispose(); }
  });
});
