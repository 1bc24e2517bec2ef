import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';
import { guardWarnings } from '../../src/agent/loop.js';
import { createConsoleReporter, lossText, PHASE_NOTICE_MS, PROGRESS_SILENCE_MS, SCORING_SAID_AT_ONCE } from '../../src/report/console.js';
import type { BackendInfo } from '../../src/backend/tf.js';
import { relativeChange, type RunReport } from '../../src/report/report.js';

const sample = (): RunReport =>
  JSON.parse(readFileSync(new URL('../fixtures/report/sample-report.json', import.meta.url), 'utf8')) as RunReport;

/** The summary lines `finished` prints for `report`. */
function summary(report: RunReport): string {
  let out = '';
  const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
  createConsoleReporter({ json: false, target: report.config.target, stream }).finished(report, '/tmp/out');
  return out;
}

describe('console summary', () => {
  it('prints the test-accuracy change with its sign, and an unchanged accuracy (float residue) as ±0.00', () => {
    const r = sample();
    r.dense.testAccuracy = 0.8166666666666667;
    r.final.testAccuracy = 0.8166666666666668; // the same 49/60, computed another way
    expect(summary(r)).toContain('81.67 % dense → 81.67 % pruned (±0.00 points)');
    r.final.testAccuracy = 0.8;
    expect(summary(r)).toContain('(−1.67 points)');
    r.final.testAccuracy = 0.85;
    expect(summary(r)).toContain('(+3.33 points)');
  });

  it('a frontier\'s final row says its steps are the run\'s, an undone polish\'s included (the model is an earlier step\'s)', () => {
    const r = sample();
    r.frontier = [{ target: r.config.target, reached: true, sparsity: r.final.sparsity, sparsityOfAllParams: 0.5, valAccuracy: 0.9, testAccuracy: 0.9, fineTuneSteps: 945, path: '' }];
    r.polish = { kept: false, steps: 630, valLossBefore: 0.1, bestValLoss: 0.12, bestRound: 3, message: 'undone: …' };
    expect(summary(r)).toMatch(/after 945 fine-tune steps \(the final model: the run's steps, its undone polish's 630 included\)/);
    r.polish = { ...r.polish, kept: true };
    expect(summary(r)).toMatch(/after 945 fine-tune steps \(the final model\)/);
  });

  it('says what the dense model scores fine-tuned alone where that is far above the model as given (the guard held the pruned model to the latter)', () => {
    const r = sample();
    r.dense.valAccuracy = 0.926;
    r.final.valAccuracy = 0.98;
    r.guard = { rule: 'paired', valRows: 500, finalStandardError: 0.005, maxDrop: 1, z: 1.64, finerThanData: false, reference: 'dense', controlValAccuracy: 0.926, fineTunedControlValAccuracy: 0.982, finalDrop: -0.054, finalAllowedDrop: 0.012 } as NonNullable<RunReport['guard']>;
    expect(summary(r)).toMatch(/validation accuracy 92\.60 % dense → 98\.00 % pruned \(the guard's paired drop vs the dense model: none, a gain of 5\.40 points, allowed 1\.20 = --max-drop 1 \+ 0\.20 for the validation rows' noise \(1\.64 s\.e\. of this estimate\); fine-tuned alone, unpruned, the dense model scores 98\.20 %: the guard held the pruned model to the model as given, not to that\)/);
    // Within --max-drop of the model as given: nothing to add.
    r.guard.fineTunedControlValAccuracy = 0.93;
    expect(summary(r)).not.toContain('fine-tuned alone');
  });

  it('says what the control scores where it is the guard\'s reference (fine-tuning alone cost more than --max-drop)', () => {
    const r = sample();
    r.dense.valAccuracy = 0.9024;
    r.final.valAccuracy = 0.878;
    r.guard = { rule: 'paired', valRows: 41, finalStandardError: 0.005, maxDrop: 1, z: 1.64, finerThanData: false, reference: 'control', controlValAccuracy: 0.878, fineTunedControlValAccuracy: 0.878, finalDrop: 0, finalAllowedDrop: 0.01 } as NonNullable<RunReport['guard']>;
    // "90.24 % dense → 87.80 % pruned" beside a drop of 0.00 points read as a broken guard to a new user.
    expect(summary(r)).toMatch(/90\.24 % dense → 87\.80 % pruned \(the guard's paired drop vs the fine-tuned dense control: 0\.00 points, allowed 1\.00; the control, the dense model fine-tuned alone \(unpruned\), scores 87\.80 %: what fine-tuning itself cost is not counted as pruning's\)/);
  });

  it('claims compute removed only at unit granularity: at hierarchical or connection the nonzero weights\' count is not what the model runs', () => {
    const r = sample();
    r.final.compute = { dense: 14528, live: 2398, reduction: 0.835 };
    r.config.granularity = 'unit';
    expect(summary(r)).toContain("83.5 % of the prunable kernels' multiply-accumulates pruned");
    for (const g of ['hierarchical', 'connection']) {
      r.config.granularity = g;
      expect(summary(r)).not.toContain('multiply-accumulates');
    }
  });

  it("gives a regression's RMSE per target, and an autoencoder's MSE per value, in the targets' own units", () => {
    const r = sample();
    r.final.testErrors = { metric: 'rmse', values: [{ name: 'mpg', dense: 2.66411567, pruned: 2.7555971 }] };
    expect(summary(r)).toContain("  test RMSE, in the target's units: 2.664 → 2.756 (+3.4 %) (dense → pruned)\n");
    r.final.testErrors = { metric: 'rmse', values: [{ name: 'mpg', dense: 2.5, pruned: 2.75 }, { name: 'hp', dense: 10, pruned: 12.25 }] };
    expect(summary(r)).toContain("  test RMSE, in the targets' units: mpg 2.500 → 2.750 (+10.0 %), hp 10.00 → 12.25 (+22.5 %) (dense → pruned)\n");
    // The pruned figure to the dense one's decimals (a new user read 2.664 → 2.77 as mixed precision).
    r.final.testErrors = { metric: 'rmse', values: [{ name: 'y', dense: 2.66411567, pruned: 2.7699 }] };
    expect(summary(r)).toContain("  test RMSE, in the target's units: 2.664 → 2.770 (+4.0 %) (dense → pruned)\n");
    r.final.testErrors = { metric: 'mse', values: [{ name: 'reconstruction', dense: 0.0052684, pruned: 0.0047441 }] };
    expect(summary(r)).toContain('  test MSE per output value: 0.005268 → 0.004744 (−10.0 %) (dense → pruned)\n');
    // The change in percent of the dense error: an R² near 1 moves in its third decimal where the error grows by a quarter.
    r.final.testErrors = { metric: 'rmse', values: [{ name: 'co2', dense: 0.5241, pruned: 0.6561 }] };
    expect(summary(r)).toContain("  test RMSE, in the target's units: 0.5241 → 0.6561 (+25.2 %) (dense → pruned)\n");
    r.final.testErrors = { metric: 'rmse', values: [{ name: 'y', dense: 2, pruned: 2.0001 }] };
    expect(summary(r)).toContain('2.000 → 2.000 (±0.0 %)');
    expect([relativeChange(-0.9996), relativeChange(-1), relativeChange(2.5), relativeChange(Number.NaN), relativeChange(Number.POSITIVE_INFINITY), relativeChange(-0)])
      .toEqual(['−100 %', '−100 %', '+250 %', '—', '—', '±0.0 %']);
    delete r.final.testErrors;
    expect(summary(r)).not.toContain('RMSE');
  });

  it('says how many test rows the figures come from, and what one row is worth on a small test split', () => {
    const r = sample();
    r.samples = { train: 240, val: 30, test: 60 };
    expect(summary(r)).toMatch(/points; 60 test rows: 1 row = 1\.67 points\)/);
    r.samples.test = 1;
    expect(summary(r)).toMatch(/points; 1 test row: 1 row = 100\.00 points\)/);
    r.samples.test = 997;
    expect(summary(r)).toMatch(/points; 997 test rows\)/);
    r.task = { kind: 'regression', metric: 'R²', evidence: 'output 1 linear unit' };
    r.samples.test = 60;
    expect(summary(r)).toMatch(/; 60 test rows\)/);
    // A user's model scored on rows split from its CSV: said to be held out from the fine-tuning only.
    r.config = { ...r.config, model: 'm/model.json', data: 'd.csv' };
    expect(summary(r)).toMatch(/; 60 test rows, split from d\.csv: rows your model may have trained on unless you held them out \(--test-data gives rows it never saw\)\)/);
    expect(summary({ ...r, config: { ...r.config, testData: 'test.csv' } })).toMatch(/; 60 test rows\)/);
    expect(summary({ ...r, config: { ...r.config, model: 'mlp 4-16-8-3 (built-in, trained on the data and cached)' } })).toMatch(/; 60 test rows\)/);
  });
});

describe('console summary: validation and an already-pruned input', () => {
  it("prints the validation figures the guard judged beside the test ones, with the guard's paired drop and allowance", () => {
    const r = sample();
    r.dense.valAccuracy = 0.9231;
    r.final.valAccuracy = 0.8718;
    r.guard = { ...r.guard!, reference: 'control', finalDrop: 0.0256, finalAllowedDrop: 0.0613 };
    r.guard.maxDrop = 1;
    // The allowance is split into what the user set and what the rows' noise adds.
    expect(summary(r)).toContain('validation accuracy 92.31 % dense → 87.18 % pruned (the guard\'s paired drop vs the fine-tuned dense control: 2.56 points, allowed 6.13 = --max-drop 1 + 5.13 for the validation rows\' noise)');
    // … and what that part is: the standard errors of this estimate, up to the cap the start line gives ("up to 6.13").
    r.guard = { ...r.guard, z: 1.64, noiseCap: 5.13 };
    expect(summary(r)).toContain("allowed 6.13 = --max-drop 1 + 5.13 for the validation rows' noise (1.64 s.e. of this estimate, at most 5.13))");
    r.guard.finalAllowedDrop = 0.01;
    expect(summary(r)).toContain('2.56 points, allowed 1.00)');
    // Above the reference: said as a gain, not as a drop of "−1.75 points".
    r.guard.finalDrop = -0.0175;
    expect(summary(r)).toContain("(the guard's paired drop vs the fine-tuned dense control: none, a gain of 1.75 points, allowed 1.00)");
  });

  it('says at the start when the model as given is already sparse, so that "dense" is read as that model', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const c = createConsoleReporter({ json: false, target: 0.97, stream });
    const start = { type: 'start', target: 0.97, objective: 'params', maxDrop: 1, policy: 'default', backend: 'tensorflow', native: true, prunable: 688, denseValAccuracy: 1, floor: 0.99, resumed: false } as const;
    c.event({ ...start, sparsity: 0.901 });
    expect(out).toContain('already 90.1 % sparse');
    out = '';
    c.event({ ...start, sparsity: 0 });
    expect(out).not.toContain('already');
    // A resume says where it goes on from.
    out = '';
    c.event({ ...start, sparsity: 0.75, resumed: true });
    expect(out).toContain("autoprune: resuming from 75.0 % (the checkpoint's last accepted step) to 97.0 % sparsity");
    expect(out).not.toContain('already');
    // A resumed run of a model pruned before still says so (its "dense" is that model).
    out = '';
    c.event({ ...start, sparsity: 0.75, given: 0.5, resumed: true });
    expect(out).toContain('already 50.0 % sparse');
    // Under --objective flops its zeros are MACs counted as removed, not all of which compaction takes out: said so.
    out = '';
    c.event({ ...start, objective: 'flops', sparsity: 0.9 });
    expect(out).toContain("the model as given has 90.0 % of the prunable kernels' multiply-accumulates on zero weights, counted as removed (they stay zero; compaction takes out only those of whole units");
  });
});

describe('console progress figures', () => {
  it('give a loss below 0.001 in significant digits (rounds of a near-perfect autoencoder all read 0.0001 while still improving)', () => {
    expect(lossText(0.14834)).toBe('0.1483');
    expect(lossText(0.0001234)).toBe('0.000123');
    expect(lossText(0.00009160)).toBe('0.0000916');
    expect(lossText(0)).toBe('0.0000');
    expect(lossText(Number.NaN)).toBe('NaN');
  });
});

describe('console compact lines', () => {
  it('say what the units removed and the compact model\'s compute are out of', () => {
    let out = '';
    const stream = { isTTY: false, write: (t: string) => { out += t; return true; } } as unknown as NodeJS.WriteStream;
    const c = createConsoleReporter({ json: false, target: 0.8, stream });
    c.event({ type: 'compact', path: '/tmp/out/compact', paramsBefore: 2753, paramsAfter: 1400, unitsRemoved: [17, 14, 0], unitsBefore: [32, 16, 1], layers: ['hidden1', 'hidden2', 'out'], skipped: [], compactMacs: 1287, denseMacs: 2656 });
    expect(out).toContain('autoprune: compacted: 2,753 → 1,400 parameters (units removed: hidden1 17 of 32, hidden2 14 of 16) in /tmp/out/compact');
    expect(out).toContain("the compact model runs 1,287 multiply-accumulates per sample of the dense model's 2,656 (51.5 % removed; its kernels' own shapes)");
    // Kernels the run left out (frozen, excluded) are in the model the line speaks of: counted, and the prunable ones' figure beside.
    out = '';
    c.event({ type: 'compact', path: '/tmp/out/compact', paramsBefore: 2753, paramsAfter: 1400, unitsRemoved: [17, 14, 0], unitsBefore: [32, 16, 1], layers: ['hidden1', 'hidden2', 'out'], skipped: [], compactMacs: 780, denseMacs: 2080, allKernelsMacs: { dense: 2528, compact: 1228 } });
    expect(out).toContain("the compact model runs 1,228 multiply-accumulates per sample in every kernel (the frozen and excluded ones included) of the dense model's 2,528 (51.4 % removed; its kernels' own shapes); in the prunable kernels 780 of 2,080 (62.5 % removed)");
  });
});

describe('console: a compact model with no unit removed', () => {
  it('says why: no step accepted, whole-unit steps that took none, or single connections pruned', () => {
    const start = { type: 'start', target: 0.5, objective: 'params', maxDrop: 1, policy: 'default', backend: 'tensorflow', native: true, prunable: 688, denseValAccuracy: 1, floor: 0.99, resumed: false, sparsity: 0 } as const;
    const compact = { type: 'compact' as const, path: '/o/compact', paramsBefore: 700, paramsAfter: 700, unitsRemoved: [0, 0], skipped: [] };
    const step = { type: 'step', step: 1, fromSparsity: 0, toSparsity: 0.3, valAccuracy: 1, fineTuneEpochs: 1, totalEpochs: 1, seconds: 1 } as const;
    const run = (events: readonly Parameters<ReturnType<typeof createConsoleReporter>['event']>[0][]) => {
      let out = '';
      const stream = { isTTY: false, write: (t: string) => { out += t; return true; } } as unknown as NodeJS.WriteStream;
      const c = createConsoleReporter({ json: false, target: 0.5, stream });
      for (const e of events) c.event(e);
      return out;
    };
    // A unit run (--objective flops) whose every step the guard rolled back: not "use --granularity unit", which it did.
    expect(run([{ ...start, objective: 'flops' }, compact])).toContain('no unit was removed: the guard accepted no step, so the compact model is the dense one');
    expect(run([{ ...start, objective: 'flops' }, step, compact])).toContain('no whole unit was removed: the steps the guard accepted took none');
    expect(run([start, step, compact])).toContain('no whole unit could go: pruning single connections (the default granularity)');
    expect(run([{ ...start, granularity: 'unit' }, step, compact])).toContain('no whole unit was removed: the steps the guard accepted took none');
  });
});

describe('console rollback lines', () => {
  it('says why a step was rolled back: the drop against what the guard allowed, or a fall to the majority class', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const r = createConsoleReporter({ json: false, target: 0.95, stream });
    const base = { type: 'rollback' as const, step: 2, fromSparsity: 0.75, toSparsity: 0.951, valAccuracy: 0.95, floor: 0.945, drop: 0.015, allowedDrop: 0.02,
      controlValAccuracy: 0.965, reference: 'control' as const, fineTuneEpochs: 1, totalEpochs: 2, next: 'retry with a smaller step', seconds: 1, reason: 'val drop 2.50 points > allowed 2.00' };
    r.event({ ...base, valAccuracy: 0.94, drop: 0.025 });
    expect(out).toContain('val 94.00 %, 2.50 points below the fine-tuned dense control (96.50 %) on the same rows > allowed 2.00: rolled back; retry with a smaller step');
    // Figures that round alike get the decimals that tell them apart (it printed "1.20 > allowed 1.20").
    r.event({ ...base, drop: 0.012036, allowedDrop: 0.011958 });
    expect(out).toContain('1.204 points below the fine-tuned dense control (96.50 %) on the same rows > allowed 1.196');
    // The last try's allowance is --max-drop alone, smaller than the steps': said where it is shown.
    r.event({ ...base, drop: 0.3613, allowedDrop: 0.01, reason: 'last try at the target: val drop 36.13 points > allowed 1.00 (--max-drop alone: after a guard stop the jump gets no allowance for the validation rows\' noise)' });
    expect(out).toContain('36.13 points below the fine-tuned dense control (96.50 %) on the same rows > allowed 1.00 (--max-drop alone: after a guard stop the jump to the target gets no allowance for the validation rows\' noise): rolled back');
    // A step fine-tuned longer before its verdict says so.
    r.event({ ...base, drop: 0.025, fineTuneSteps: 252, reason: 'val drop 2.50 points > allowed 2.00; judged after a longer fine-tune, as it was refused within the noise cap while still improving' });
    expect(out).toContain('> allowed 2.00 (judged after a longer fine-tune: 252 steps): rolled back');
    // A last try after a budget stop keeps the allowance: nothing said.
    out = '';
    r.event({ ...base, drop: 0.1176, allowedDrop: 0.0492, reason: 'last try at the target with the whole budget left: val drop 11.76 points > allowed 4.92' });
    expect(out).not.toContain('--max-drop alone');
    r.event({ ...base, collapsedTo: 0.95 });
    expect(out).toContain('val 95.00 %, no better than always answering the most common class (95.00 % of the validation rows; the fine-tuned dense control scores 96.50 %): rolled back');
  });
});

describe('a non-native backend under --json', () => {
  it('is a warning event on stdout (a pipeline reads events only)', () => {
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    try {
      createConsoleReporter({ json: true, target: 0.8 }).backend({ name: 'cpu', native: false, source: 'fallback' } as never);
      const lines = spy.mock.calls.map((c) => JSON.parse(String(c[0])) as { type: string; message: string });
      expect(lines).toHaveLength(1);
      expect(lines[0].type).toBe('warning');
      expect(lines[0].message).toMatch(/^running on the non-native 'cpu' backend: training is .* slower.*setup-native/);
      // Asked for by name: said, without the advice to set up what the user chose not to use.
      createConsoleReporter({ json: true, target: 0.8 }).backend({ name: 'cpu', requested: 'cpu', native: false, source: 'fallback' } as never);
      const asked = JSON.parse(String(spy.mock.calls[1][0])) as { message: string };
      expect(asked.message).toMatch(/^running on the non-native 'cpu' backend, as asked \(--backend or AUTOPRUNE_BACKEND\): training is .* slower than on the native one/);
      expect(asked.message).not.toMatch(/setup-native/);
      // The run's own warning event with the same words (for report.json and API handlers) is not written a second time.
      const r = createConsoleReporter({ json: true, target: 0.8 });
      r.backend({ name: 'cpu', native: false, source: 'fallback' } as never);
      const written = spy.mock.calls.length;
      r.event({ type: 'warning', message: lines[0].message });
      expect(spy.mock.calls.length).toBe(written);
      r.event({ type: 'warning', message: 'another warning' });
      expect(spy.mock.calls.length).toBe(written + 1);
    } finally {
      spy.mockRestore();
    }
  });
});

describe('console verbosity', () => {
  const run = (verbosity: 'quiet' | 'normal' | 'verbose') => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const r = createConsoleReporter({ json: false, target: 0.8, stream, verbosity });
    r.event({ type: 'epoch', step: 1, epoch: 0, loss: 0.25, valAccuracy: 0.9 });
    r.event({ type: 'step', step: 1, fromSparsity: 0, toSparsity: 0.5, valAccuracy: 0.9, fineTuneEpochs: 1, totalEpochs: 1, seconds: 1 });
    r.event({ type: 'warning', message: 'a warning' });
    r.finished(sample(), '/tmp/out');
    return out;
  };

  it('--quiet keeps warnings and the final status only; --verbose adds every fine-tune round', () => {
    const q = run('quiet');
    expect(q).toContain('autoprune: warning: a warning');
    expect(q).not.toContain('step 1:');
    expect(q).toMatch(/^autoprune: (target reached|target NOT reached)/m);
    expect(q).not.toContain('wrote /tmp/out');
    const n = run('normal');
    expect(n).toContain('step 1: sparsity 0.0 % → 50.0 %');
    expect(n).not.toContain('fine-tune round');
    expect(n).toContain('wrote /tmp/out');
    expect(run('verbose')).toContain('step 1 fine-tune round 1: loss 0.2500, val 90.00 %');
    expect(n).toContain('wrote /tmp/out/ (model/, masks.json, report.json, report.html)');
  });

  it('--quiet keeps the advice on exit 3: the status line points to it', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const r = createConsoleReporter({ json: false, target: 0.8, stream, verbosity: 'quiet' });
    const report = sample();
    Object.assign(report.final, { targetReached: false, stopReason: 'budget', exitCode: 3, advice: 'the fine-tuning budget (900 optimizer steps) ran out at 70.0 % sparsity: rerun with --budget-steps 1800, or --force to take the target with what is left' });
    r.finished(report, '/tmp/out');
    expect(out).toContain('the advice below says what to rerun with');
    expect(out).toContain('  to go further: the fine-tuning budget (900 optimizer steps) ran out at 70.0 % sparsity: rerun with --budget-steps 1800');
    expect(out).not.toContain('wrote /tmp/out');
  });

  it('--verbose gives each round its own steps: the last one what is left of the training (70 steps of 63-step rounds: 63, then 7)', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const r = createConsoleReporter({ json: false, target: 0.8, stream, verbosity: 'verbose' });
    for (const epoch of [0, 1]) r.event({ type: 'epoch', phase: 'fine-tune', epochs: 2, step: 1, epoch, roundSteps: 63, steps: 70, loss: 0.25 });
    expect(out).toContain('fine-tune round 1 (63 steps): loss');
    expect(out).toContain('fine-tune round 2 (7 steps): loss');
    // A validated round gives its validation loss too: with distillation the training loss is another measure, and it alone looked stalled.
    r.event({ type: 'epoch', phase: 'polish', epochs: 3, step: 2, epoch: 0, roundSteps: 63, steps: 189, loss: 2.0671, valLoss: 0.9304, valAccuracy: 0.9 });
    expect(out).toContain('polish round 1 of up to 3 (63 steps): loss 2.0671, val loss 0.9304, val 90.00 %');
  });

  it("the guard's reference (the dense control, before the start line) says its rounds after 10 s without a line, even in a terminal", () => {
    vi.useFakeTimers();
    try {
      let out = '';
      const stream = { isTTY: true, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
      const r = createConsoleReporter({ json: false, target: 0.8, stream });
      r.event({ type: 'epoch', phase: 'control', epochs: 2, step: 0, epoch: 0, roundSteps: 57, steps: 114, loss: 0.2294, valLoss: 0.1086 });
      expect(out).toBe('');
      vi.advanceTimersByTime(PROGRESS_SILENCE_MS + 1000);
      r.event({ type: 'epoch', phase: 'control', epochs: 2, step: 0, epoch: 1, roundSteps: 57, steps: 114, loss: 0.1483, valLoss: 0.1187 });
      expect(out).toBe("autoprune: the guard's reference, the dense model fine-tuned like one step (unpruned, put back after): round 2 of 2 (57 steps): loss 0.1483, val loss 0.1187\n");
    } finally {
      vi.useRealTimers();
    }
  });

  it('the control says what it is (with the backend line, which waits for the first event) once it has run 3 s, and nothing where it ends sooner', () => {
    vi.useFakeTimers();
    try {
      let out = '';
      const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
      const quick = createConsoleReporter({ json: false, target: 0.8, stream });
      quick.backend({ name: 'tensorflow', native: true, source: '/x/.native/tfjs-node' } as BackendInfo);
      quick.event({ type: 'phase', phase: 'control', steps: 126, batchSize: 128 });
      expect(out).toBe('autoprune: backend tensorflow (native, built from a local TensorFlow wheel)\n');
      vi.advanceTimersByTime(PHASE_NOTICE_MS - 500);
      quick.event({ type: 'warning', message: 'the control is over: the run goes on' });
      vi.advanceTimersByTime(PHASE_NOTICE_MS);
      expect(out).not.toContain('fine-tuning the dense model');
      out = '';
      const slow = createConsoleReporter({ json: false, target: 0.8, stream });
      slow.event({ type: 'phase', phase: 'control', steps: 126, batchSize: 128 });
      // Its own first round, within the 3 s, leaves the notice armed: the control is still running.
      vi.advanceTimersByTime(PHASE_NOTICE_MS - 500);
      slow.event({ type: 'epoch', phase: 'control', epochs: 2, step: 0, epoch: 0, roundSteps: 63, steps: 126, loss: 0.2, valLoss: 0.1 });
      vi.advanceTimersByTime(510);
      expect(out).toBe("autoprune: fine-tuning the dense model like one step (up to 126 optimizer steps at batch 128, unpruned, put back after) as the guard's reference…\n");
      slow.close();
      // A step and the polish that take more than 3 s say so as they run (a large model's step began with half a minute
      // of silence); a quick one says nothing more than its result line.
      out = '';
      const run = createConsoleReporter({ json: false, target: 0.9, stream });
      run.event({ type: 'start', target: 0.9, objective: 'flops', maxDrop: 1, policy: 'default', backend: 'tensorflow', native: true, prunable: 688, denseValAccuracy: 1, floor: 0.99, resumed: false, sparsity: 0 });
      out = '';
      run.event({ type: 'phase', phase: 'step', step: 1, to: 0.5, batchSize: 32 });
      vi.advanceTimersByTime(PHASE_NOTICE_MS + 10);
      // Compute removed takes whole units: the line says units, not connections (a new user's GRU run read "connections").
      expect(out).toBe('  step 1: scoring the units and pruning to 50.0 % (compute removed), then fine-tuning…\n');
      // A model whose scoring takes seconds (and holds the event loop, so that no timer fires) says it at once.
      out = '';
      const big = createConsoleReporter({ json: false, target: 0.9, stream });
      big.event({ type: 'start', target: 0.9, objective: 'params', maxDrop: 1, policy: 'default', backend: 'tensorflow', native: true, prunable: SCORING_SAID_AT_ONCE, denseValAccuracy: 1, floor: 0.99, resumed: false, sparsity: 0 });
      out = '';
      big.event({ type: 'phase', phase: 'step', step: 1, to: 0.5, batchSize: 32 });
      expect(out).toBe('  step 1: scoring the connections and pruning to 50.0 % sparsity, then fine-tuning…\n');
      vi.advanceTimersByTime(PHASE_NOTICE_MS + 10);
      expect(out.match(/scoring/g)).toHaveLength(1);
      big.close();
      out = '';
      run.event({ type: 'phase', phase: 'polish', steps: 400, batchSize: 32 });
      vi.advanceTimersByTime(PHASE_NOTICE_MS + 10);
      run.event({ type: 'epoch', phase: 'polish', epochs: 8, step: 2, epoch: 0, roundSteps: 50, steps: 400, loss: 0.2, valLoss: 0.1 });
      expect(out.match(/polish: fine-tuning the final model/g)).toHaveLength(1);
      expect(out).toMatch(/^ {2}polish: fine-tuning the final model \(up to 400 optimizer steps\)…\n/);
      out = '';
      run.event({ type: 'phase', phase: 'step', step: 3, to: 0.6, batchSize: 32 });
      vi.advanceTimersByTime(PHASE_NOTICE_MS - 500);
      run.event({ type: 'warning', message: 'over' });
      vi.advanceTimersByTime(PHASE_NOTICE_MS);
      expect(out).not.toContain('step 3');
      run.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('without a progress bar (a log, a pipe), a fine-tune round is printed at the default verbosity after 10 s without a line', () => {
    vi.useFakeTimers();
    try {
      let out = '';
      const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
      const r = createConsoleReporter({ json: false, target: 0.8, stream });
      r.event({ type: 'epoch', phase: 'polish', epochs: 11, step: 2, epoch: 0, loss: 0.3, valAccuracy: 0.9 });
      expect(out).toContain('polish: fine-tuning the final model (11 rounds in the budget)…');
      // That line comes at the first round's end: with its figures (a large model's log said round 2 first, a minute on).
      expect(out).toContain('    polish round 1 of up to 11: loss 0.3000, val 90.00 %');
      vi.advanceTimersByTime(PROGRESS_SILENCE_MS - 1000);
      r.event({ type: 'epoch', phase: 'polish', epochs: 11, step: 2, epoch: 1, loss: 0.2, valAccuracy: 0.91 });
      expect(out).not.toContain('polish round 2');
      vi.advanceTimersByTime(2000);
      r.event({ type: 'epoch', phase: 'polish', epochs: 11, step: 2, epoch: 2, loss: 0.1, valAccuracy: 0.92 });
      expect(out).toContain('    polish round 3 of up to 11: loss 0.1000, val 92.00 %');
      // The clock starts again at that line.
      r.event({ type: 'epoch', phase: 'polish', epochs: 11, step: 2, epoch: 3, loss: 0.1, valAccuracy: 0.92 });
      expect(out).not.toContain('polish round 4');
    } finally {
      vi.useRealTimers();
    }
  });

  it('points a model with batch norms at `autoprune compact` (it folds them for serving), unless the run compacted', () => {
    const withBn = (foldable?: number): RunReport => {
      const r = sample();
      r.dense.untouched = [{ name: 'bn1', className: 'BatchNormalization', params: 64, reason: 'normalization' }, { name: 'bn2', className: 'BatchNormalization', params: 64, reason: 'normalization' }];
      if (foldable != null) r.dense.foldableBatchNorms = foldable;
      return r;
    };
    const print = (compact: boolean, foldable?: number) => {
      let out = '';
      const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
      const r = createConsoleReporter({ json: false, target: 0.8, stream });
      if (compact) r.event({ type: 'compact', path: '/tmp/out/compact', paramsBefore: 100, paramsAfter: 60, unitsRemoved: [2], skipped: [] });
      r.finished(withBn(foldable), '/tmp/out');
      return out;
    };
    expect(print(false)).toContain('for serving: the model keeps 2 batch norms; `autoprune compact /tmp/out` folds them into the layer before');
    expect(print(false, 2)).toContain('folds them into the layer before');
    expect(print(false, 1)).toContain('folds 1 of them (those right after a linear conv or Dense layer) into the layer before');
    // Batch norms after a ReLU layer cannot be folded: no hint (a new user's nested model was pointed at compact for nothing).
    expect(print(false, 0)).not.toContain('for serving');
    expect(print(true)).not.toContain('for serving');
    expect(run('normal')).not.toContain('for serving');
  });

  it('lists the compact files with the outputs when the run compacted (--compact)', () => {
    let out = '';
    const stream = { isTTY: false, write: (s: string) => { out += s; return true; } } as unknown as NodeJS.WriteStream;
    const r = createConsoleReporter({ json: false, target: 0.8, stream });
    r.event({ type: 'compact', path: '/tmp/out/compact', paramsBefore: 100, paramsAfter: 60, unitsRemoved: [2], skipped: [] });
    const report = sample();
    report.final.compute = { dense: 14528, live: 2398, reduction: 0.835 };
    report.config.granularity = 'unit';
    r.finished(report, '/tmp/out');
    expect(out).toContain('wrote /tmp/out/ (model/, masks.json, report.json, report.html, compact/, model.sparse, model.int8.sparse)');
    // It compacted: the summary points at the compact model's count above, not at a command to run.
    expect(out).toContain("83.5 % of the prunable kernels' multiply-accumulates pruned (the compact model's own count is above)");
    expect(out).not.toContain('`autoprune compact` measures');
    expect(summary(report)).toContain('(`autoprune compact` measures what the compact model runs)');
    // With the compact model's own count in the report, the summary says it (with --quiet the lines above are not shown).
    let quiet = '';
    const q = createConsoleReporter({ json: false, target: 0.8, verbosity: 'quiet', stream: { isTTY: false, write: (t: string) => { quiet += t; return true; } } as unknown as NodeJS.WriteStream });
    q.event({ type: 'compact', path: '/tmp/out/compact', paramsBefore: 100, paramsAfter: 60, unitsRemoved: [2], skipped: [] });
    q.finished({ ...report, compact: { macs: { dense: 14528, compact: 2398, reduction: 0.835 } } } as unknown as RunReport, '/tmp/out');
    expect(quiet).not.toContain('autoprune: compacted');
    expect(quiet).toContain("83.5 % of the prunable kernels' multiply-accumulates pruned (the compact model runs 2,398 of the dense 14,528: 83.5 % removed)");
  });
});

describe('console start line and totals', () => {
  const out = (f: (r: ReturnType<typeof createConsoleReporter>) => void) => {
    let text = '';
    const stream = { isTTY: false, write: (x: string) => { text += x; return true; } } as unknown as NodeJS.WriteStream;
    f(createConsoleReporter({ json: false, target: 0.8, stream }));
    return text;
  };
  const start = (metric: string, valRows: number) => ({
    type: 'start' as const, target: 0.8, objective: 'params' as const, maxDrop: 1, policy: 'default', backend: 'tensorflow', native: true,
    prunable: 1000, metric, denseValAccuracy: 0.9, floor: 0.89, sparsity: 0, resumed: false, valRows, pointsPerRow: 100 / valRows, budgetSteps: 900, batchSize: 16,
  });

  it('warns (a warning event, which the console prints) that R² on a few validation rows is a noisy guard, and a max drop finer than a row', () => {
    const [noisy] = guardWarnings(3, 1, 'R²');
    expect(noisy).toMatch(/^R² on 3 validation rows is a noisy signal/);
    expect(guardWarnings(100, 1, 'R²')).toEqual([]);
    expect(guardWarnings(46, 1, 'accuracy')).toEqual([expect.stringMatching(/^--max-drop 1 is finer than one validation row \(2\.17 points\)/)]);
    expect(guardWarnings(200, 1, 'accuracy')).toEqual([]);
    expect(out((r) => { r.event(start('R²', 3)); r.event({ type: 'warning', message: noisy }); })).toContain(`autoprune: warning: ${noisy}`);
  });

  it("states the guard's cap in the metric's own terms: rows for 0/1 scores, twice max drop for R²", () => {
    // With the figure it comes to on these rows: max drop 1 + two rows of 68 (1.47 points each).
    expect(out((r) => r.event(start('accuracy', 68)))).toContain('at most two validation rows more: up to 3.94 points on these 68 rows)');
    const r2 = out((r) => r.event(start('R²', 39)));
    expect(r2).toContain('(0.01 of R² each)');
    expect(r2).toContain('at most twice max drop)');
    expect(r2).not.toContain('validation rows more');
  });

  it('says when the fine-tunes distil, with the mix as written (no float noise), and nothing when they do not', () => {
    expect(out((r) => r.event({ ...start('accuracy', 100), distill: { weight: 0.7, temperature: 2 } })))
      .toContain('fine-tuning distils from the model as given: targets 0.3 × labels + 0.7 × its probabilities at temperature 2');
    expect(out((r) => r.event(start('accuracy', 100)))).not.toContain('distils');
  });

  it('says why a step is not an ordinary one (the last try at the target)', () => {
    const text = out((r) => r.event({ type: 'step', step: 8, fromSparsity: 0.605, toSparsity: 0.7, valAccuracy: 0.9, fineTuneEpochs: 2, totalEpochs: 9, fineTuneSteps: 100, seconds: 1, reason: 'last try at the target with half the reserve' }));
    expect(text).toContain('step 8: sparsity 60.5 % → 70.0 %, val 90.00 %, accepted (100 fine-tune steps, 1.0 s; last try at the target with half the reserve)');
  });

  it('says a small step\'s sparsities with the decimals that tell them apart (a new user\'s 98.6 % → 98.6 %)', () => {
    const step = { step: 15, fromSparsity: 0.98586, toSparsity: 0.98643, valAccuracy: 0.9, fineTuneEpochs: 2, totalEpochs: 9, fineTuneSteps: 100, seconds: 1 };
    expect(out((r) => r.event({ type: 'step', ...step }))).toContain('step 15: sparsity 98.59 % → 98.64 %, val 90.00 %');
    expect(out((r) => r.event({ type: 'rollback', ...step, floor: 0.89, next: 'retry', reason: 'val drop' }))).toContain('step 15: sparsity 98.59 % → 98.64 %, val 90.00 %');
  });

  it('with objective flops, a frontier target is said in compute removed first, the weights\' sparsity beside it', () => {
    const e = { type: 'frontier' as const, target: 0.8, sparsity: 0.561, computeRemoved: 0.831, valAccuracy: 0.98, testAccuracy: 0.97, fineTuneSteps: 900 };
    const flops = out((r) => { r.event({ ...start('accuracy', 100), objective: 'flops' }); r.event(e); });
    expect(flops).toContain("frontier: target 80.0 % reached and kept (83.10 % of the prunable kernels' compute removed, sparsity 56.10 % of the prunable kernel weights,");
    const params = out((r) => { r.event(start('accuracy', 100)); r.event(e); });
    expect(params).toContain('frontier: target 80.0 % reached and kept (sparsity 56.10 % of the prunable kernel weights,');
    const r = sample();
    r.config.objective = 'flops';
    r.frontier = [{ target: 0.5, reached: true, sparsity: 0.5267, sparsityOfAllParams: 0.52, testAccuracy: 0.97, compute: { dense: 100, live: 32, reduction: 0.68 }, fineTuneSteps: 400, path: 'frontier/0.5/' }];
    expect(summary(r)).toContain("    50.0 %: 68.00 % of the prunable kernels' compute removed, sparsity 52.67 % (52.00 % of all parameters)");
  });

  it('says where a frontier row is the crossing step\'s model beyond its target, and writes no frontier/ folder claim where none was kept', () => {
    const r = sample();
    r.config.target = 0.8;
    r.final.sparsity = 0.75;
    r.frontier = [
      { target: 0.5, reached: true, sparsity: 0.62, sparsityOfAllParams: 0.6, testAccuracy: 0.9, fineTuneSteps: 300, path: 'frontier/0.5/', beyond: 'its branch lost 3.10 validation points, more than the 2.42 allowed: the model of the step that crossed it' },
      { target: 0.6, reached: false },
      { target: 0.8, reached: false, sparsity: 0.75, path: '' },
    ];
    const text = summary(r);
    expect(text).toContain('    50.0 %: sparsity 62.00 % (60.00 % of all parameters), test accuracy 90.00 %, after 300 fine-tune steps (beyond the target: its branch lost 3.10 validation points, more than the 2.42 allowed: the model of the step that crossed it) → frontier/0.5/');
    expect(text).toContain('    60.0 %: not reached (the run stopped, or jumped past it, before a step landed on or crossed it)');
    expect(text).toContain('    80.0 %: not reached; the final model stopped at sparsity 75.00 %');
    expect(text).not.toContain('not reached as its own step');
    r.frontier = r.frontier.slice(1);
    expect(summary(r)).toMatch(/report\.html, frontier\.json\)/);
  });

  it('says which fine-tune steps went to the frontier\'s branches, on top of the budget', () => {
    const r = sample();
    r.totals.fineTuneSteps = 1100;
    r.totals.frontierSteps = 200;
    r.config.budgetSteps = 900;
    expect(summary(r)).toContain('1100 fine-tune steps');
    expect(summary(r)).toContain('; 200 of them on the branches to the lower --targets, on top of the 900 budget)');
  });
});
