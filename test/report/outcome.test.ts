/**
 * The warnings about a run's outcome that its guard verdict does not carry: a test drop beyond --max-drop, said
 * with how far the test sample is from the validation one.
 */
import { describe, expect, it } from 'vitest';
import { outcomeWarnings } from '../../src/prune-service.js';
import type { Dataset } from '../../src/data/dataset.js';
import type { RunReport } from '../../src/report/report.js';
import type { TaskInfo } from '../../src/models/task.js';
import { tf } from '../../src/backend/tf.js';

// A regression task: the classifier-only warnings (recall per class, the majority class) need labels this report has not.
const task: TaskInfo = { output: 'regression', units: 1, kind: 'regression', evidence: 'test' };

/** A report of 300 validation and 300 test rows whose guard estimated `valDrop` ± `se` and whose test split lost `testDrop` (fractions). */
function outcome(valDrop: number, se: number, testDrop: number, controlLost = 0, reach?: { config: Record<string, unknown>; sparsity: number; reduction: number; frontier?: unknown[] }): string[] {
  // With `controlLost`, the guard's reference is a fine-tuned control that many points below the dense model.
  const report = {
    config: reach?.config ?? { target: 0.8, granularity: 'connection', objective: 'params' },
    dense: { testAccuracy: 0.8, valAccuracy: 0.8 },
    final: {
      testAccuracy: 0.8 - testDrop, valAccuracy: 0.8 - controlLost - valDrop, targetReached: true,
      sparsity: reach?.sparsity ?? 0.8, compute: { dense: 100, live: 100 * (1 - (reach?.reduction ?? 0.8)), reduction: reach?.reduction ?? 0.8 },
    },
    guard: {
      valRows: 300, finalDrop: valDrop, finalStandardError: se, pointsPerRow: 1 / 3,
      ...(controlLost ? { reference: 'control', controlValAccuracy: 0.8 - controlLost } : { reference: 'dense', controlValAccuracy: 0.8 }),
    },
    samples: { train: 2400, val: 300, test: 300 },
    ...(reach?.frontier ? { frontier: reach.frontier } : {}),
  } as unknown as RunReport;
  const x = tf.zeros([300, 1]);
  try {
    return outcomeWarnings(report, { maxDrop: 1, force: false }, { val: { x } } as unknown as Dataset, task);
  } finally {
    x.dispose();
  }
}

describe('outcome warnings', () => {
  it('a dense model far better on its validation rows than on its test rows is said to have been trained on them', () => {
    // A new user's CNN trained on the whole --data file, given --test-data: 99.50 % on 400 validation rows, 96.10 % on 1,000 test rows.
    const cls: TaskInfo = { output: 'softmax', units: 10, kind: 'classification', evidence: 'test' };
    const of = (val: number, test: number) => {
      const report = {
        config: { target: 0.9, granularity: 'connection', objective: 'params' },
        dense: { valAccuracy: val, testAccuracy: test }, final: { valAccuracy: val, testAccuracy: test, targetReached: true, sparsity: 0.9 },
        samples: { train: 3200, val: 400, test: 1000 },
      } as unknown as RunReport;
      const x = tf.zeros([400, 1]);
      try {
        return outcomeWarnings(report, { maxDrop: 1, force: false }, { val: { x, labels: new Int32Array(400) }, test: { labels: new Int32Array(1000) } } as unknown as Dataset, cls)
          .filter((w) => w.startsWith('the dense model scores'));
      } finally {
        x.dispose();
      }
    };
    const w = of(0.995, 0.961);
    expect(w).toEqual(['the dense model scores 99.50 % on the 400 validation rows and 96.10 % on the 1000 test rows, 3.40 points (4.8 standard errors) apart: ' +
      'the validation rows look like rows it was trained on, and the guard judged on them; give rows the model never saw with --val-data (and --test-data)']);
    // Two samples of held-out rows: a point apart is chance.
    expect(of(0.97, 0.96)).toEqual([]);
  });

  it('a lower target\'s model that lost a class is said per frontier row, as the final model is', () => {
    // A new user's fog model: the 0.8 row answered the common class on every test row, said nowhere (2026-12-08).
    const cls: TaskInfo = { output: 'sigmoid', units: 1, kind: 'classification', evidence: 'test' };
    const classes = (rare: number) => [{ name: '0', testRows: 264, denseRecall: 0.864, recall: 0.98 }, { name: '1', testRows: 29, denseRecall: 10 / 29, recall: rare }];
    const report = {
      config: { target: 0.9, granularity: 'connection', objective: 'params' },
      dense: { valAccuracy: 0.894, testAccuracy: 0.812 }, final: { valAccuracy: 0.89, testAccuracy: 0.9, targetReached: true, sparsity: 0.9 },
      samples: { train: 876, val: 292, test: 293 },
      frontier: [
        { target: 0.5, reached: true, sparsity: 0.5, testAccuracy: 0.89, classes: classes(3 / 29) },
        { target: 0.8, reached: true, sparsity: 0.8, testAccuracy: 0.9, classes: classes(0) },
        { target: 0.9, reached: true, sparsity: 0.9, testAccuracy: 0.9 },
      ],
    } as unknown as RunReport;
    const x = tf.zeros([292, 1]);
    try {
      const w = outcomeWarnings(report, { maxDrop: 1, force: false }, { val: { x, labels: new Int32Array(292) }, test: { labels: new Int32Array(293) } } as unknown as Dataset, cls)
        .filter((m) => m.startsWith('the frontier\'s'));
      expect(w).toEqual([
        "the frontier's 0.5 model: class '1' lost (test recall 34.5 → 10.3 % of its 29 rows), more than the accuracy shows (the report's frontier row, its classes; frontier.json where the run writes one)",
        "the frontier's 0.8 model: class '1' no longer recalled (test recall 34.5 → 0.0 % of its 29 rows), more than the accuracy shows (the report's frontier row, its classes; frontier.json where the run writes one)",
      ]);
    } finally {
      x.dispose();
    }
  });

  it('a test drop within a few standard errors of the guard\'s estimate is said to be sampling; one far beyond it is said not to be', () => {
    // 0.67 ± 1.63 points on validation, 2.5 points on test: 0.8 standard errors apart.
    const near = outcome(0.0067, 0.0163, 0.025);
    expect(near).toHaveLength(1);
    expect(near[0]).toMatch(/^the test split lost 2\.50 points, more than --max-drop 1: the guard's paired estimate on its 300 validation rows was a drop of 0\.67 ± 1\.63 points/);
    expect(near[0]).toContain('whose estimates differ by 0.8 standard errors of their difference (the validation one\'s, combined with the same for ');
    expect(near[0]).toContain('which chance can give: more validation rows');
    // The same estimate and 9 points lost on test (a new user's model trained on most of the file's rows): 3.6 apart.
    const far = outcome(0.0067, 0.0163, 0.09);
    expect(far).toHaveLength(1);
    expect(far[0]).toContain('differ by 3.6 standard errors, more than chance makes likely');
    expect(far[0]).toContain('--val-data and --test-data');
    // The same, the validation and test rows given as files of their own (a new user's time-ordered windows): not told to give them.
    const files = outcome(0.0067, 0.0163, 0.09, 0, { config: { target: 0.8, granularity: 'connection', objective: 'params', valData: 'v.csv', testData: 't.csv' }, sparsity: 0.8, reduction: 0.8 });
    expect(files[0]).toContain('differ by 3.6 standard errors, more than chance makes likely: the validation file may not stand for the test file\'s rows (another period, season or source');
    expect(files[0]).not.toContain('--val-data');
    expect(outcome(0.0067, 0.0163, 0.005)).toEqual([]);
  });

  it('compares like with like where the guard judged against a control that lost to fine-tuning: the validation drop against the dense model', () => {
    // The guard saw the pruned model 2.8 points above a control that lost 4.4 to plain fine-tuning: 1.6 below the dense
    // model on validation, as on test — no gap between the samples (measured on a new user's CNN given 0–255 pixels).
    const w = outcome(-0.028, 0.0131, 0.016, 0.044);
    expect(w).toHaveLength(1);
    // The gain over the control is said as a gain, not as "−2.80 points below" it.
    expect(w[0]).toContain("validation rows was a gain of 2.80 ± 1.31 points (one row = 0.33 points) against the fine-tuned dense control, which itself scored 4.40 points below the dense model there (against the dense model, as the test figure is: a drop of 1.60 points; a control that loses this much");
    expect(w[0]).toContain('whose estimates differ by 0.0 standard errors of their difference');
    // A control 2.65 points below on 113 rows (3 rows: noise or over-fitting) gets no hint about the data's preparation,
    // and a validation gain against the dense model is said as a gain.
    const small = outcome(-0.0353, 0.02, 0.03, 0.0265);
    expect(small[0]).toContain('(against the dense model, as the test figure is: a gain of 0.88 points)');
    expect(small[0]).not.toContain('prepared otherwise');
  });

  it('where no validation row changed it says so, not "0.00 ± 0.00", and weighs the test drop against one row', () => {
    // 1 row of 300 = 0.33 points; 1.5 points lost on test is 3.2 such rows apart, scaled for the two samples.
    const none = outcome(0, 0, 0.015);
    expect(none).toHaveLength(1);
    expect(none[0]).toContain("the guard's paired estimate on its 300 validation rows was 0.00 points (no validation row changed; one row = 0.33 points)");
    expect(none[0]).not.toContain('±');
    expect(none[0]).toContain('differ by 3.2 standard errors');
    expect(outcome(0, 0, 0.012)[0]).toMatch(/whose estimates differ by 2\.\d standard errors of their difference .*which chance can give: /);
  });

  it('says why whole units went far past the target, in the target\'s own measure', () => {
    // A residual CNN's 16-filter convolutions joined by an Add go 8 at a time under --objective flops: 70.7 % for 0.5.
    const flops = outcome(0, 0.01, 0, 0, { config: { target: 0.5, granularity: 'unit', objective: 'flops' }, sparsity: 0.62, reduction: 0.707 });
    expect(flops).toEqual(['reached 70.7 % of the compute removed for a target of 50.0 %: whole units go at once (a convolution\'s filters in blocks of 8 under --objective flops, and layers joined by Add or Concatenate together: docs/compaction.md), so a step can end past the target; report.json layers says what each layer lost']);
    const units = outcome(0, 0.01, 0, 0, { config: { target: 0.8, granularity: 'unit', objective: 'params' }, sparsity: 0.86, reduction: 0.9 });
    expect(units[0]).toMatch(/^reached 86\.0 % sparsity \(of the prunable kernel weights\) for a target of 80\.0 %: whole units go at once \(layers joined by Add or Concatenate together\), .*--granularity connection stops at the target \(rounded up to a whole weight\)$/);
    // A lower target of --targets kept far past it is said too (a new user's 0.3 row at 42.8 %); one within 5 points is not.
    const frontier = outcome(0, 0.01, 0, 0, {
      config: { target: 0.6, granularity: 'unit', objective: 'flops' }, sparsity: 0.5, reduction: 0.62,
      frontier: [{ target: 0.3, reached: true, sparsity: 0.2, compute: { reduction: 0.428 } }, { target: 0.45, reached: true, sparsity: 0.3, compute: { reduction: 0.47 } }, { target: 0.6, reached: true, sparsity: 0.5, compute: { reduction: 0.62 } }],
    });
    expect(frontier).toEqual(["the frontier's target 30.0 % was kept at 42.8 % of the compute removed: the step that crossed it removed whole units at once, and its branch to the lower target did too; frontier.json has the row as reached"]);
    // Within 5 points, or at connection granularity (within one weight by construction): nothing to say.
    expect(outcome(0, 0.01, 0, 0, { config: { target: 0.8, granularity: 'unit', objective: 'params' }, sparsity: 0.84, reduction: 0.9 })).toEqual([]);
    expect(outcome(0, 0.01, 0, 0, { config: { target: 0.8, granularity: 'connection', objective: 'params' }, sparsity: 0.9, reduction: 0.9 })).toEqual([]);
  });

  it('a regression target that lost beyond --max-drop: hidden by the others in the average, or (all lost) not shown by the validation rows', () => {
    const warn = (targets: { name: string; denseTestR2: number; testR2: number }[]) => {
      const report = {
        config: { target: 0.8, granularity: 'connection', objective: 'params' },
        dense: { testAccuracy: 0.8, valAccuracy: 0.8 },
        final: { testAccuracy: 0.8, valAccuracy: 0.8, targetReached: true, sparsity: 0.8, compute: { dense: 100, live: 20, reduction: 0.8 }, targets },
        samples: { train: 2400, val: 300, test: 300 },
      } as unknown as RunReport;
      const x = tf.zeros([300, 1]);
      try {
        return outcomeWarnings(report, { maxDrop: 1, force: false }, { val: { x } } as unknown as Dataset, task).filter((w) => w.includes("target '"));
      } finally {
        x.dispose();
      }
    };
    const hidden = warn([{ name: 'mpg', denseTestR2: 0.89, testR2: 0.864 }, { name: 'hp', denseTestR2: 0.8, testR2: 0.83 }]);
    expect(hidden).toEqual([expect.stringContaining("target 'mpg' lost 0.026 of test R² (0.890 → 0.864), more than --max-drop 1 (0.010 of R²) on its own: the guard judges the average over the 2 targets, where gains on the others hide it")]);
    const smaller = warn([{ name: 'mpg', denseTestR2: 0.89, testR2: 0.864 }, { name: 'hp', denseTestR2: 0.8, testR2: 0.795 }]);
    expect(smaller[0]).toContain('where smaller losses on the others hide it');
    // Both lost (a new user's cars table: −0.026 and −0.022 on test, a gain on validation): nothing hid them.
    const all = warn([{ name: 'mpg', denseTestR2: 0.89, testR2: 0.864 }, { name: 'acc', denseTestR2: 0.6, testR2: 0.578 }]);
    expect(all).toHaveLength(1);
    expect(all[0]).toContain("target 'mpg' lost 0.026 of test R² (0.890 → 0.864), target 'acc' lost 0.022 of test R² (0.600 → 0.578)");
    expect(all[0]).toContain('on their own: the guard judges the average over the 2 targets on the validation rows, where it held: every target lost on the test rows, which the validation rows did not show');
    expect(all[0]).not.toContain('hide');
  });
});

