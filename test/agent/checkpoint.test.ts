import { existsSync, readdirSync, readFileSync, renameSync, mkdirSync, writeFileSync } from 'node:fs';
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

  it('refuses a resume of another run (settings, model or data hash), naming what differs, and names a truncated checkpoint', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [4], numClasses: 2, seed: 1 });
    const pm = new PrunableModel(model);
    const dir = join(tempDir(), '.out.checkpoint');
    const run = { target: 0.8, maxDrop: 1, model: 'aaaa', data: 'bbbb' };
    const ck = new Checkpointer(dir);
    await ck.save(pm, state(1), run);
    await expect(ck.restore(pm, { ...run, target: 0.9 })).rejects.toThrow(/belongs to another run \(target 0\.8 → 0\.9\)/);
    await expect(ck.restore(pm, { ...run, model: 'cccc' })).rejects.toThrow(/model "aaaa" → "cccc"/);
    await expect(ck.restore(pm, run)).resolves.toMatchObject({ step: 1 });
    const w = join(dir, 'weights.bin');
    const good = readFileSync(w);
    // One weight turned into NaN (same length): caught by the checksum saved with it, not resumed into a broken run.
    const bad = Buffer.from(good);
    bad.writeFloatLE(Number.NaN, 8);
    writeFileSync(w, bad);
    await expect(ck.restore(pm, run)).rejects.toThrow(/checkpoint file '.*weights\.bin' is damaged \(its checksum differs from the one saved with it\); rerun without --resume/);
    writeFileSync(join(dir, 'masks.json'), readFileSync(join(dir, 'masks.json'), 'utf8').replace('"format"', ' "format"'));
    writeFileSync(w, good);
    await expect(ck.restore(pm, run)).rejects.toThrow(/masks\.json' is damaged/);
    writeFileSync(w, good.subarray(0, 12));
    await expect(ck.restore(pm, run)).rejects.toThrow(/weights\.bin' is truncated or corrupt \(12 of \d+ bytes\)/);
    pm.dispose();
    model.dispose();
  });

  it('a checkpoint that cannot be written (disk full) leaves no temp folder and keeps the previous one', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [4], numClasses: 2, seed: 1 });
    const pm = new PrunableModel(model);
    const dir = join(tempDir(), '.out.checkpoint');
    const ck = new Checkpointer(dir);
    await ck.save(pm, state(1));
    // The weights cannot be read out for writing, as when the device fills up mid-write.
    const full = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const broken = { model: { weights: [{ name: 'w', shape: [1], read: () => ({ data: () => Promise.reject(full) }) }] } } as unknown as PrunableModel;
    await expect(ck.save(broken, state(2))).rejects.toThrow(/cannot write checkpoint .*\(ENOSPC\); the previous checkpoint is kept/);
    expect(readdirSync(dirname(dir))).toEqual([basename(dir)]);
    await expect(new Checkpointer(dir).restore(pm)).resolves.toMatchObject({ step: 1 });
    pm.dispose();
    model.dispose();
  });
});
