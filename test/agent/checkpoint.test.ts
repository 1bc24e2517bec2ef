import { existsSync, readdirSync, readFileSync, renameSync, mkdirSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { exitCodeOf } from '../../src/errors.js';
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
    await expect(ck.restore(pm, { ...run, target: 0.9 })).rejects.toThrow(/belongs to another run \(--target 0\.8 → 0\.9\)/);
    // Named by the CLI's flags (the library's messages turn them into its options); another model by its weights.
    await expect(ck.restore(pm, { ...run, maxDrop: 2 })).rejects.toThrow(/belongs to another run \(--max-drop 1 → 2\)/);
    await expect(ck.restore(pm, { ...run, model: 'ffff' })).rejects.toThrow(/belongs to another run \(it was made for another model: the model's weights differ \(aaaa… → ffff…\)\)/);
    await expect(ck.restore(pm, { ...run, model: 'cccc' })).rejects.toThrow(/it was made for another model: the model.s weights differ \(aaaa… → cccc…\)/);
    // The data's hash is no setting to recognise: what changes it is named (a resume with --standardize added said only hashes).
    await expect(ck.restore(pm, { ...run, data: 'dddd' })).rejects.toThrow(/belongs to another run \(the data as the run reads it differ \(bbbb… → dddd…: the file's contents, or the columns, split, --standardize or --input-scale it is read with\)\)/);
    // A setting the resume adds or leaves out differs too (class weights given to one run only).
    await expect(ck.restore(pm, { ...run, classWeight: 'balanced' })).rejects.toThrow(/belongs to another run \(--class-weight null → "balanced"\)/);
    const ck3 = new Checkpointer(join(tempDir(), '.out3.checkpoint'));
    await ck3.save(pm, state(1), { ...run, classWeight: 'balanced' });
    await expect(ck3.restore(pm, run)).rejects.toThrow(/belongs to another run \(--class-weight "balanced" → null\)/);
    await expect(ck.restore(pm, run)).resolves.toMatchObject({ step: 1 });
    // Another policy named: said as that, not as its file "changed since" (the contents of another file differ, of course).
    const dir2 = join(tempDir(), '.out2.checkpoint');
    const withPolicy = { ...run, policy: 'default', policyContents: 'f'.repeat(64) };
    const ck2 = new Checkpointer(dir2);
    await ck2.save(pm, state(1), withPolicy);
    await expect(ck2.restore(pm, { ...withPolicy, policy: 'linear', policyContents: 'e'.repeat(64) })).rejects.toThrow(/belongs to another run \(--policy "default" → "linear"\); rerun/);
    await expect(ck2.restore(pm, { ...withPolicy, policyContents: 'e'.repeat(64) })).rejects.toThrow(/belongs to another run \(the policy file was changed since/);
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

  it('an edited state.json is one UsageError naming the file: no read outside the checkpoint, no crash, no endless run', async () => {
    const model = buildModel({ family: 'mlp', inputShape: [6], hidden: [4], numClasses: 2, seed: 1 });
    const pm = new PrunableModel(model);
    const dir = join(tempDir(), '.out.checkpoint');
    const ck = new Checkpointer(dir);
    await ck.save(pm, state(1));
    const file = join(dir, 'state.json');
    const good = readFileSync(file, 'utf8');
    const edit = (f: (j: Record<string, any>) => void) => { const j = JSON.parse(good); f(j); writeFileSync(file, JSON.stringify(j)); }; // eslint-disable-line @typescript-eslint/no-explicit-any
    const cases: [(j: Record<string, any>) => void, RegExp][] = [ // eslint-disable-line @typescript-eslint/no-explicit-any
      [(j) => { j.sha256['../../../../etc/hostname'] = '00'; }, /checksum of '\.\.\/\.\.\/\.\.\/\.\.\/etc\/hostname', not a checkpoint file/],
      [(j) => { j.sha256 = { '/dev/zero': '00' }; }, /checksum of '\/dev\/zero', not a checkpoint file/],
      [(j) => { delete j.state; }, /no loop state/],
      [(j) => { j.state.steps = null; }, /state\.steps/],
      [(j) => { j.state.stepsUsed = -1e9; }, /state\.stepsUsed/],
      [(j) => { j.state.sparsity = 7; }, /state\.sparsity/],
      [(j) => { j.milestones = [{ target: 0.5 }]; }, /no checksum of 'milestone-0\.bin'/],
      [(j) => { j.milestones = {}; }, /milestones: not a list/],
      [(j) => { delete j.weights; }, /weights: not a list of shapes/],
      // In range, but not what was written (a flipped byte): the loop state's own checksum (a new user's edit resumed another run).
      [(j) => { j.state.stepsUsed += 8; }, /its loop state's checksum differs from the one saved with it/],
      [(j) => { j.state.sparsity = 0.35; }, /its loop state's checksum differs/],
      [(j) => { j.state.reference = { kind: 'control', accuracy: 7.5, correct: [1, 0] }; }, /state\.reference/],
    ];
    for (const [f, re] of cases) {
      edit(f);
      await expect(ck.restore(pm)).rejects.toThrow(re);
      await expect(ck.restore(pm)).rejects.toThrow(/^cannot resume: checkpoint '.*state\.json' is damaged \(.*\); rerun without --resume$/);
    }
    // A NaN weight with its checksum recomputed: refused as damaged, not resumed into a run that "diverges".
    const w = join(dir, 'weights.bin');
    const bytes = readFileSync(w);
    const nan = Buffer.from(bytes);
    nan.writeFloatLE(Number.NaN, 4);
    writeFileSync(w, nan);
    edit((j) => { j.sha256['weights.bin'] = createHash('sha256').update(nan).digest('hex'); });
    await expect(ck.restore(pm)).rejects.toThrow(/weights\.bin' is damaged \(a non-finite weight at value 1\)/);
    // masks.json that is not JSON, its checksum recomputed: one line, not a raw parser error.
    writeFileSync(w, bytes);
    writeFileSync(join(dir, 'masks.json'), '{oops');
    edit((j) => { j.sha256['masks.json'] = createHash('sha256').update('{oops').digest('hex'); });
    await expect(ck.restore(pm)).rejects.toThrow(/^cannot resume: checkpoint '.*' is damaged \(.*JSON.*\); rerun without --resume$/);
    await ck.save(pm, state(1));
    await expect(ck.restore(pm)).resolves.toMatchObject({ step: 1 });
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
    const err = await ck.save(broken, state(2)).then(() => undefined, (e: unknown) => e as Error);
    expect(err!.message).toMatch(/cannot write checkpoint .*\(ENOSPC\); the previous checkpoint is kept/);
    // The machine's state, not bad input: exit 1, not 2 ("fix the input").
    expect(exitCodeOf(err)).toBe(1);
    expect(readdirSync(dirname(dir))).toEqual([basename(dir)]);
    await expect(new Checkpointer(dir).restore(pm)).resolves.toMatchObject({ step: 1 });
    pm.dispose();
    model.dispose();
  });
});
