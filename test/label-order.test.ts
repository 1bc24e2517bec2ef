/** Which order of the class names explains a model's predictions (the --label-order warning). */
import { describe, expect, it } from 'vitest';
import { majorityShare } from '../src/agent/guard.js';
import { csvNames, nameList } from '../src/data/csv.js';
import { bestLabelOrder, checkLabelOrder, classRecallLosses, otherOrderFits } from '../src/run-checks.js';
import { tf } from '../src/backend/tf.js';
import { loadSynthetic } from '../src/data/synthetic.js';
import type { AgentEvent } from '../src/agent/events.js';

describe('bestLabelOrder', () => {
  it('finds the order a model was trained with from its confusion counts', () => {
    // Three classes; the model outputs label a at output 1, b at 2, c at 0, 90 % of the time.
    const labels = Int32Array.from({ length: 300 }, (_, i) => i % 3);
    const outputOf = [1, 2, 0];
    const predicted = Int32Array.from(labels, (l, i) => (i % 10 === 0 ? l : outputOf[l]));
    const r = bestLabelOrder(labels, predicted, 3);
    expect(r.identity).toBe(30);
    expect(r.best).toBe(270);
    // order[output] = label: output 0 holds c (2), output 1 holds a (0), output 2 holds b (1).
    expect(r.order).toEqual([2, 0, 1]);
  });

  it('says nothing better exists for a weak model in the right order (72 % on two classes)', () => {
    const labels = Int32Array.from({ length: 145 }, (_, i) => (i < 77 ? 0 : 1));
    const predicted = Int32Array.from(labels, (l, i) => (i % 7 < 2 ? 1 - l : l));
    const r = bestLabelOrder(labels, predicted, 2);
    expect(r.best).toBe(r.identity);
    expect(r.order).toEqual([0, 1]);
  });

  it('among orders a row apart, takes the one whose probabilities fit (two rare classes the model seldom predicts)', () => {
    // 100 rows: 90 of class 0 (all right), 5 of class 1 and 5 of class 2; the model predicts output 2 for one row of
    // class 1 and output 0 otherwise, so swapping 1 and 2 gets one more row right by its argmax.
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 90 ? 0 : i < 95 ? 1 : 2));
    const predicted = Int32Array.from(labels, (l, i) => (i === 90 ? 2 : 0));
    expect(bestLabelOrder(labels, predicted, 3).order).toEqual([0, 2, 1]);
    // Its probabilities put class 1's rows on output 1 and class 2's on output 2 (log-likelihoods per label and output).
    const logLik = [Float64Array.of(-9, -200, -200), Float64Array.of(-40, -12, -30), Float64Array.of(-40, -30, -12)];
    const r = bestLabelOrder(labels, predicted, 3, logLik);
    expect(r.order).toEqual([0, 1, 2]);
    expect(r.best).toBe(r.identity);
  });

  it('uses a greedy assignment beyond seven classes', () => {
    const k = 10;
    const labels = Int32Array.from({ length: 500 }, (_, i) => i % k);
    const predicted = Int32Array.from(labels, (l) => (l + 3) % k);
    const r = bestLabelOrder(labels, predicted, k);
    expect(r.identity).toBe(0);
    expect(r.best).toBe(500);
    expect(r.order).toEqual(Array.from({ length: k }, (_, o) => (o - 3 + k) % k));
  });
});

describe('otherOrderFits', () => {
  it('sees a weak binary model coded the other way round (27.5 % as given, 72.5 % swapped): never halfway from chance, but far apart', () => {
    // A new user's rain/dry model on 240 validation rows with the 0/1 labels swapped.
    expect(otherOrderFits(66, 174, 240, 0.5, 151)).toBe(true);
    // A good model swapped: most rows right in the other order.
    expect(otherOrderFits(5, 235, 240, 0.5, 130)).toBe(true);
  });

  it('does not see another order in a weak model in its own order, nor in a gain a search over orders finds by chance', () => {
    // 12 classes, 30 % right as given, a permutation finds 4 more rows of 200 (2 %): noise.
    expect(otherOrderFits(60, 64, 200, 1 / 12, 30)).toBe(false);
    // 10 % more rows but few rows in all: below z 4.
    expect(otherOrderFits(10, 16, 40, 1 / 3, 15)).toBe(false);
    // The given order is the best one.
    expect(otherOrderFits(150, 150, 240, 0.5, 130)).toBe(false);
    // A model that answers one class (untrained): some order matches the most common label, no order is its own.
    expect(otherOrderFits(60, 120, 240, 1 / 3, 120)).toBe(false);
  });
});

describe('majorityShare', () => {
  it('gives the most common label and what always answering it scores', () => {
    expect(majorityShare(Int32Array.from([1, 0, 1, 1, 2]))).toEqual({ label: 1, count: 3, share: 0.6 });
    expect(majorityShare([])).toEqual({ label: 0, count: 0, share: 0 });
  });
});

describe('classRecallLosses', () => {
  it('flags a class (10+ test rows) whose recall fell by more than the accuracy drop plus max(10 points, 2 × max drop)', () => {
    const classes = [
      { name: 'no', testRows: 224, denseRecall: 0.99, recall: 0.995 },
      { name: 'yes', testRows: 26, denseRecall: 0.874, recall: 0.337 },
      { name: 'rare', testRows: 5, denseRecall: 1, recall: 0 },
      { name: 'empty', testRows: 0, denseRecall: null, recall: null },
    ];
    expect(classRecallLosses(classes, 0.056, 1).map((c) => c.name)).toEqual(['yes']);
    // Within the accuracy's own drop plus the margin: not flagged.
    expect(classRecallLosses([{ name: 'a', testRows: 50, denseRecall: 0.9, recall: 0.75 }], 0.06, 1)).toEqual([]);
  });

  it('also flags a rare class that kept less than half of the recall the dense model had, 3+ rows lost (9 → 2 of 73 rows)', () => {
    const rare = { name: '1', testRows: 73, denseRecall: 9 / 73, recall: 2 / 73 };
    expect(classRecallLosses([rare], -0.004, 1).map((c) => c.name)).toEqual(['1']);
    // Two rows lost out of three found: not flagged on so few rows.
    expect(classRecallLosses([{ name: '2', testRows: 40, denseRecall: 3 / 40, recall: 1 / 40 }], 0, 1)).toEqual([]);
  });

  it('flags a class whose rows are no longer predicted as it at all, however few the dense model found (1 of 13 → 0)', () => {
    expect(classRecallLosses([{ name: 'Minor', testRows: 13, denseRecall: 1 / 13, recall: 0 }], 0, 1).map((c) => c.name)).toEqual(['Minor']);
    // Fewer than 10 test rows, or none found by the dense model either: nothing to say.
    expect(classRecallLosses([{ name: 'a', testRows: 9, denseRecall: 1 / 9, recall: 0 }, { name: 'b', testRows: 20, denseRecall: 0, recall: 0 }], 0, 1)).toEqual([]);
  });
});

describe('csvNames', () => {
  it('writes names as --label-order reads them back (nameList): quoted where they hold a comma, a quote or edge spaces', () => {
    expect(csvNames(['a', 'b'])).toBe('a,b');
    expect(csvNames(['Gentoo', 'Adelie, penguin', 'Chin "strap"', ' x'])).toBe('Gentoo,"Adelie, penguin","Chin ""strap"""," x"');
    expect(nameList(csvNames(['Gentoo', 'Adelie, penguin', 'Chin "strap"']), '--label-order')).toEqual(['Gentoo', 'Adelie, penguin', 'Chin "strap"']);
  });
});

describe('checkLabelOrder: classes without rows', () => {
  it('warns that fine-tuning on labels of 2 of a 3-class model\'s classes teaches it never to answer the third', () => {
    const data = loadSynthetic({ samples: 300, features: 4, informative: 4, classes: 2, seed: 3 });
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 3, activation: 'softmax' })] });
    const warnings: string[] = [];
    const onEvent = (e: AgentEvent) => { if (e.type === 'warning') warnings.push(e.message); };
    try {
      checkLabelOrder(model, data, { data: 'd.csv', model: 'm', labelOrder: ['0', '1'], onEvent });
      expect(warnings.some((w) => /the training rows have labels of 2 of the model's 3 classes: fine-tuning on them teaches it never to answer the other 1/.test(w))).toBe(true);
    } finally {
      model.dispose();
      data.dispose();
    }
  });
});
