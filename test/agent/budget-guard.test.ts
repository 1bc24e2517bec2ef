import { describe, expect, it } from 'vitest';
import { defaultBatchSize, extendBudget, EXTENSION_SAMPLES, MAX_BUDGET_EXTENSIONS, resolveBudget } from '../../src/agent/budget.js';
import { GUARD_Z, judge, majorityShare, noiseCap, resolution, withCollapseCheck } from '../../src/agent/guard.js';
import { resolveRunOptions } from '../../src/options.js';
import { UsageError } from '../../src/errors.js';
import { advise, maxDropAccepting, RETRY_MAX_DROP } from '../../src/prune-service.js';
import type { AgentResult } from '../../src/agent/loop.js';

const rows = (n: number, ones: number) => Uint8Array.from({ length: n }, (_, i) => (i < ones ? 1 : 0));

describe('fine-tuning budget in optimizer steps', () => {
  it('keeps MNIST-10k at 15 epochs of batch 128 (945 steps) and gives small tables more passes and smaller batches', () => {
    const mnist = resolveBudget(8000, {});
    expect(mnist).toMatchObject({ batchSize: 128, stepsPerEpoch: 63, budgetSteps: 945, roundSteps: 63, source: 'default' });
    const table = resolveBudget(1168, {});
    expect(table.batchSize).toBe(32);
    expect(table.budgetSteps).toBeGreaterThan(4 * 15 * Math.ceil(1168 / 128));
    expect(table.roundSteps).toBe(50);
    const tiny = resolveBudget(120, {});
    expect(tiny.batchSize).toBe(16);
    expect(tiny.budgetSteps).toBe(900);
  });

  it("takes the user's epochs or steps as given, steps first", () => {
    expect(resolveBudget(8000, { budgetEpochs: 2 }).budgetSteps).toBe(126);
    expect(resolveBudget(8000, { budgetEpochs: 2, budgetSteps: 10 })).toMatchObject({ budgetSteps: 10, source: 'steps' });
    expect(resolveBudget(1000, { batchSize: 100, budgetEpochs: 3 })).toMatchObject({ batchSize: 100, budgetSteps: 30, source: 'epochs' });
    expect(defaultBatchSize(100_000)).toBe(128);
  });

  it('extends a default budget by its own steps, again only while the run sees at most EXTENSION_SAMPLES samples, and never a budget the user set', () => {
    const base = resolveBudget(8000, {});
    const more = extendBudget(base, base.budgetSteps)!;
    expect(more).toMatchObject({ budgetSteps: 2 * 945, extensions: 1, source: 'default', batchSize: 128, roundSteps: 63 });
    // MNIST-10k: 945 steps at batch 128 are 120,960 samples; four budgets are 483,840 ≤ 500,000, five would not be.
    const grown = [more];
    for (let b = extendBudget(more, 945); b; b = extendBudget(b, 945)) grown.push(b);
    expect(grown.map((b) => b.budgetSteps)).toEqual([2, 3, 4].map((k) => k * 945));
    expect(grown[grown.length - 1].budgetSteps * 128).toBeLessThanOrEqual(EXTENSION_SAMPLES);
    // Large data: the first extension only (its default already sees more than EXTENSION_SAMPLES).
    const large = resolveBudget(100_000, {});
    expect(extendBudget(extendBudget(large, large.budgetSteps)!, large.budgetSteps)).toBeUndefined();
    // A small table: up to MAX_BUDGET_EXTENSIONS (zipcodes-state's 4,000 rows: 945 steps at batch 64, eight budgets).
    let small = resolveBudget(4000, {});
    const steps = small.budgetSteps;
    for (let b = extendBudget(small, steps); b; b = extendBudget(b, steps)) small = b;
    expect(small).toMatchObject({ batchSize: 64, budgetSteps: (MAX_BUDGET_EXTENSIONS + 1) * 945, extensions: MAX_BUDGET_EXTENSIONS });
    expect(extendBudget(resolveBudget(8000, { budgetSteps: 945 }), 945)).toBeUndefined();
    expect(extendBudget(resolveBudget(8000, { budgetEpochs: 15 }), 945)).toBeUndefined();
  });
});

describe('accuracy guard: paired, with the split resolution', () => {
  it('does not reject a step for one row on a 46-row split, but rejects a loss of several rows', () => {
    const dense = rows(46, 46);
    expect(judge(dense, rows(46, 45), 0.01).accepted).toBe(true);
    const big = judge(dense, rows(46, 40), 0.01);
    expect(big).toMatchObject({ accepted: false, lost: 6, gained: 0 });
    expect(big.drop).toBeCloseTo(6 / 46);
  });

  it('holds the estimated drop to maxDrop + two rows on 1,000 rows, however many rows flip both ways', () => {
    // 20 rows changed each way: no net drop, s.e. ≈ 0.63 points, so Z·s.e. ≈ 1.04 points: capped at two rows (0.2).
    const dense = Uint8Array.from({ length: 1000 }, (_, i) => (i < 950 ? 1 : 0));
    const pruned = Uint8Array.from(dense, (v, i) => (i < 20 ? 0 : i >= 950 && i < 970 ? 1 : v));
    const v = judge(dense, pruned, 0.01);
    expect(v.drop).toBe(0);
    expect(v.se).toBeCloseTo(Math.sqrt(40) / 1000, 9);
    expect(v.cap).toBeCloseTo(0.002, 12);
    expect(v.allowed).toBeCloseTo(0.012, 9);
    // 12 more rows lost (1.2 points) is at the allowance; 13 (1.3 points, inside maxDrop + 1.64 s.e.) is beyond it.
    const lose = (k: number) => Uint8Array.from(pruned, (v2, i) => (i >= 20 && i < 20 + k ? 0 : v2));
    expect(judge(dense, lose(12), 0.01).accepted).toBe(true);
    const over = judge(dense, lose(13), 0.01);
    expect(over.drop).toBeLessThan(0.01 + GUARD_Z * over.se);
    expect(over.accepted).toBe(false);
  });

  it('does not let noise excuse more than two rows (a row or two never decides a step on a tiny split)', () => {
    // 300 rows, 16 lost and 8 gained: 2.67 points, s.e. 1.63 — inside maxDrop + 1.64 s.e. (3.67), beyond the cap (two rows: 0.67).
    const dense = Uint8Array.from({ length: 300 }, (_, i) => (i < 250 || i >= 292 ? 1 : 0));
    const pruned = Uint8Array.from(dense, (v, i) => (i < 16 ? 0 : i >= 250 && i < 258 ? 1 : v));
    const v = judge(dense, pruned, 0.01);
    expect(v).toMatchObject({ lost: 16, gained: 8, accepted: false });
    expect(v.drop + GUARD_Z * v.se).toBeGreaterThan(0.0366);
    expect(v.allowed).toBeCloseTo(0.01 + 2 / 300, 9);
    expect(noiseCap(0.01, 300, true)).toBeCloseTo(2 / 300, 12);
    // On 46 rows two rows (4.3 points) are the cap: two lost rows pass, three do not.
    const d46 = rows(46, 46);
    expect(noiseCap(0.01, 46, true)).toBeCloseTo(2 / 46, 12);
    expect(judge(d46, rows(46, 44), 0.01).accepted).toBe(true);
    expect(judge(d46, rows(46, 43), 0.01).accepted).toBe(false);
    // Continuous per-row scores (R² shares) have no coarse rows: the cap is maxDrop.
    const r2 = Float32Array.from({ length: 200 }, (_, i) => 0.9 + 0.05 * Math.sin(i));
    const lower = Float32Array.from(r2, (x, i) => x - 0.022 + 0.2 * Math.sin(3 * i));
    const c = judge(r2, lower, 0.01);
    expect(GUARD_Z * c.se).toBeGreaterThan(0.01);
    expect(c.allowed).toBeCloseTo(0.02, 6);
    expect(c.drop).toBeGreaterThan(0.02);
    expect(c.drop).toBeLessThan(0.01 + GUARD_Z * c.se); // the uncapped rule would have accepted it
    expect(c.accepted).toBe(false);
  });

  it('refuses a classifier that fell to always answering the most common class, however small its drop', () => {
    // 200 rows, 190 of class 0 (95 %): the reference gets 193 right, the pruned model answers 0 everywhere (190 right).
    const labels = Int32Array.from({ length: 200 }, (_, i) => (i < 190 ? 0 : 1));
    expect(majorityShare(labels)).toEqual({ label: 0, count: 190, share: 0.95 });
    const ref = Float32Array.from({ length: 200 }, (_, i) => (i < 188 || i >= 195 ? 1 : 0)); // 193 right
    const collapsed = Float32Array.from({ length: 200 }, (_, i) => (i < 190 ? 1 : 0)); // 190 right
    const v = judge(ref, collapsed, 0.01);
    expect(v.accepted).toBe(true); // 1.5 points, within the 1-point guard and its two-row allowance
    const c = withCollapseCheck(v, 0.95, 0.965, 0.95, 200);
    expect(c).toMatchObject({ accepted: false, collapsedTo: 0.95, drop: v.drop });
    // One row above the majority share is not a collapse; nor is anything when the reference was no better than it.
    expect(withCollapseCheck(v, 0.955, 0.965, 0.95, 200)).toBe(v);
    expect(withCollapseCheck(v, 0.95, 0.955, 0.95, 200)).toBe(v);
  });

  it('says what one validation row is worth and when --max-drop is finer', () => {
    expect(resolution(46, 1)).toEqual({ pointsPerRow: 100 / 46, finerThanData: true });
    expect(resolution(1000, 1).finerThanData).toBe(false);
  });
});

describe('resolveRunOptions: one place for every default', () => {
  it('treats undefined as the default, never as a value', () => {
    const r = resolveRunOptions({ target: 0.8, budgetEpochs: undefined, maxDrop: undefined, seed: undefined });
    expect(r).toMatchObject({ maxDrop: 1, seed: 0, splitSeed: 0, budgetEpochs: undefined, policy: 'default', granularity: 'connection', objective: 'params' });
    expect(resolveRunOptions({ target: 0.8, objective: 'flops' }).granularity).toBe('unit');
    // The split stays put across a sweep over seeds (a user's model is judged on rows it was not trained on).
    expect(resolveRunOptions({ target: 0.8, seed: 3 }).splitSeed).toBe(0);
    expect(resolveRunOptions({ target: 0.8, seed: 3, splitSeed: 2 }).splitSeed).toBe(2);
    // distill: undefined leaves the agent's default (on at unit granularity); false and a setting pass through.
    expect(resolveRunOptions({ target: 0.8 }).distill).toBeUndefined();
    expect(resolveRunOptions({ target: 0.8, distill: false }).distill).toBe(false);
    expect(resolveRunOptions({ target: 0.8, distill: { weight: 0.3, temperature: 2 } }).distill).toEqual({ weight: 0.3, temperature: 2 });
  });

  it.each([
    [{ target: 0.8, data: 42 }, /data must be/],
    [{ target: 0.8, seed: -1 }, /seed must be a whole number/],
    [{ target: 0.8, budgetSteps: 0.5 }, /budgetSteps must be/],
    [{ target: 0.8, force: 'yes' }, /force must be true or false/],
    [{ target: '0.8' }, /target must be a number/],
    [{ target: 0.8, maxdrop: 3 }, /unknown option 'maxdrop' \(did you mean 'maxDrop'\?\)/],
    [{ target: 0.8, onEvent: 5 }, /onEvent must be a function/],
    [{ target: 0.8, signal: true }, /signal must be an AbortSignal/],
    [{ target: 0.8, distill: { weight: 2, temperature: 4 } }, /distill must be false or \{ weight: 0..1, temperature: > 0 \}/],
    [{ target: 0.8, distill: true }, /distill must be false or/],
    // CSV options copied from the command line as strings instead of lists (a new user's API run, 2026-12-05).
    [{ target: 0.8, labelOrder: 'Adelie,Chinstrap,Gentoo' }, /labelOrder must be a list of the label names/],
    [{ target: 0.8, ignoreColumns: 'mass' }, /ignoreColumns must be a list of column names/],
    [{ target: 0.8, label: 4 }, /label must be a column name or 0-based index as a string/],
    [{ target: 0.8, split: '0.8,0.1,0.1' }, /split must be \[train, val, test\] fractions/],
    [{ target: 0.8, split: [0.8, 0.2] }, /split must be/],
    [{ target: 0.8, valData: 3 }, /valData must be a CSV path/],
    // 32-bit generators: 2^32 ran as seed 0 while report.json recorded 4294967296.
    [{ target: 0.8, seed: 2 ** 32 }, /^seed must be a whole number from 0 to 4294967295, got 4294967296$/],
  ])('rejects %j with one UsageError', (o, msg) => {
    expect(() => resolveRunOptions(o as never)).toThrow(UsageError);
    expect(() => resolveRunOptions(o as never)).toThrow(msg);
  });
});
describe('advice after a guard stop', () => {
  const stopped = (drops: number[]) => ({
    stopReason: 'guard', sparsity: { global: 0.3 }, budget: resolveBudget(1000, {}),
    steps: drops.map((drop, i) => ({ step: i + 1, fromSparsity: 0.3, toSparsity: 0.5, valAccuracy: 0.5, accepted: false, fineTuneEpochs: 1, drop, allowedDrop: 0.01 })),
  }) as unknown as AgentResult;

  it('names the --max-drop that accepts the step that lost least, and none beyond what --max-drop takes (an R² that fell by 8.5)', () => {
    expect(advise(stopped([0.05, 0.0353]), 1, 1000).text).toMatch(/^the rejected step nearest to the guard lost 3\.53 validation points: rerun with --max-drop 3\.6, the smallest /);
    expect(advise(stopped([8.48, 9.1]), 1, 1000).text).toMatch(/^the rejected step nearest to the guard lost 848\.00 validation points, more than any --max-drop \(at most 100\) accepts: --force/);
    expect(advise(stopped([8.48, 9.1]), 1, 1000).retry).toBeUndefined();
  });

  it('offers no retry that loosens the guard by more than RETRY_MAX_DROP points: an AutoML loop taking it would get a model that lost most of what it did', () => {
    // A guard stop whose nearest step lost 20 points: named, not offered as the retry.
    const far = advise(stopped([0.3, 0.2]), 1, 1000);
    expect(far.retry).toBeUndefined();
    expect(far.text).toMatch(/^the rejected step nearest to the guard lost 20\.00 validation points, more than a retry loosens the guard by \(10 points\): a lower --target, or --force .*a --max-drop of 20\.0,/);
    // Within it, the retry is that --max-drop.
    expect(advise(stopped([0.3, 0.08]), 1, 1000).retry?.options).toEqual({ maxDrop: 8 });
    // A budget stop whose last try at the target lost 47 points: the retry is the budget alone, which keeps the guard.
    const budget = { ...stopped([]), stopReason: 'budget', steps: [{ step: 1, fromSparsity: 0.3, toSparsity: 0.98, valAccuracy: 0.5, accepted: false, fineTuneEpochs: 1, fineTuneSteps: 300, drop: 0.47, allowedDrop: 0.01, reason: 'last try at the target with half the budget left' }] } as unknown as AgentResult;
    const b = advise(budget, 0.5, 1000);
    expect(b.retry?.options.maxDrop).toBeUndefined();
    expect(b.retry?.options.budgetSteps).toBeGreaterThan(0);
    expect(b.text).toMatch(/its last try at the target lost 47\.00 validation points \(allowed 1\.00\), more than a retry loosens the guard by \(10 points\): rerun with --budget-steps \d+ \(it may stop short again\)/);
    // A guard stop whose last try at the target lost 36 points, after smaller steps that lost 3.3: the target's cost is
    // said and no retry offered (the nearest step's --max-drop 2.3 led a new user's regression to another stop, 0.1 further).
    const guard = { ...stopped([0.05, 0.0329]) } as unknown as AgentResult;
    guard.steps.push({ step: 3, fromSparsity: 0.3, toSparsity: 0.95, valAccuracy: 0.4, accepted: false, fineTuneEpochs: 9, fineTuneSteps: 900, drop: 0.3613, allowedDrop: 0.01, reason: 'last try at the target with half the budget left' } as unknown as AgentResult['steps'][number]);
    const g = advise(guard, 1, 1000);
    expect(g.retry).toBeUndefined();
    expect(g.text).toMatch(/^the steps became too small to try, and a last try at the target \(900 fine-tune steps\) lost 36\.13 validation points \(allowed 1\.00\), more than a retry loosens the guard by \(10 points\): a lower --target, or --force/);
    expect(RETRY_MAX_DROP).toBe(10);
  });

  it('the --max-drop named is the smallest under which the guard accepts the step, not its drop (the noise\'s share comes on top)', () => {
    // Right/wrong rows: the share (0.45 points here) does not grow with --max-drop: 1.55 − 0.45.
    expect(maxDropAccepting(0.0155, 0.0145, 1)).toBe(1.1);
    // R²: the share is capped at --max-drop, so it may grow with it; half the drop is always enough: max(3.09 − 1, 3.09 / 2).
    expect(maxDropAccepting(0.0309, 0.02, 1)).toBe(2.1);
    expect(maxDropAccepting(0.05, 0.045, 1)).toBe(2.5);
    // No share: the drop itself.
    expect(maxDropAccepting(0.0353, 0.01, 1)).toBe(3.6);
  });

  it('a budget stop says where it stopped in the target\'s own measure: compute removed under --objective flops', () => {
    const r = { ...stopped([0.05]), stopReason: 'budget', sparsity: { global: 0.795 }, compute: { dense: 100, live: 21.4, reduction: 0.786 } } as unknown as AgentResult;
    expect(advise(r, 1, 1000).text).toMatch(/^the fine-tuning budget \(\d+ optimizer steps\) ran out at 79\.5 % sparsity: /);
    expect(advise(r, 1, 1000, 'flops').text).toMatch(/^the fine-tuning budget \(\d+ optimizer steps\) ran out at 78\.6 % of the prunable kernels' compute removed: /);
  });
});

