/**
 * autoprune on models and data it has not seen: a user's saved tfjs model, a tabular CSV with string
 * labels, a binary sigmoid output, tanh/elu activations, and a CNN of another shape — through the
 * learned default policy, as a user would run it.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AgentEvent } from '../src/agent/events.js';
import { accuracy, autoprune, buildModel, loadCsv, loadModel, saveModel, train, tf } from '../src/index.js';
import { Rng } from '../src/util/random.js';
import { tempDir } from './helpers.js';
import { PACKAGE_ROOT } from '../src/backend/tf.js';
import { latencyLine } from '../src/report/console.js';
import { speedUpText } from '../src/report/report.js';

/** A seeded tabular task: `informative` columns carry the class, the rest is noise. */
function writeCsv(file: string, rows: number, features: number, classes: string[], seed: number): void {
  const rng = new Rng(seed);
  // Class means on the first half of the columns; the second half is pure noise (prunable inputs).
  const means = classes.map(() => Array.from({ length: features }, (_, i) => (i < features / 2 ? 0.8 * rng.normal() : 0)));
  const lines = [[...Array.from({ length: features }, (_, i) => `f${i}`), 'label'].join(',')];
  for (let r = 0; r < rows; r++) {
    const c = r % classes.length;
    const x = Array.from({ length: features }, (_, i) => means[c][i] + rng.normal());
    lines.push([...x.map((v) => v.toFixed(4)), classes[c]].join(','));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

describe('user models and data', () => {
  it('prunes a saved tanh MLP with a binary sigmoid output on a CSV with string labels', async () => {
    const dir = tempDir();
    const csv = join(dir, 'churn.csv');
    writeCsv(csv, 900, 24, ['no', 'yes'], 1);
    const data = loadCsv({ path: csv, standardize: false });
    const model = buildModel({ family: 'mlp', inputShape: [24], hidden: [48, 24], activation: 'tanh', numClasses: 2, binaryOutput: true, seed: 3 });
    train(model, data.train, { epochs: 20, batchSize: 32 });
    await saveModel(model, join(dir, 'model'));
    data.dispose();
    model.dispose();
    const { model: pruned, report } = await autoprune({
      target: 0.7, model: join(dir, 'model', 'model.json'), data: csv, maxDrop: 3, budgetEpochs: 8, force: true,
    });
    expect(report.final.sparsity).toBeGreaterThanOrEqual(0.7 - 1e-3);
    // The user's model gets the file's values as they are (it was trained on them), not z-scores: the
    // dense accuracy autoprune starts from is the model's own on the raw validation rows.
    expect(report.config.standardize).toBe(false);
    const raw = loadCsv({ path: csv, standardize: false });
    const original = await loadModel(join(dir, 'model'));
    expect(report.dense.valAccuracy).toBe(accuracy(original, raw.val));
    original.dispose();
    raw.dispose();
    expect(report.dense.valAccuracy).toBeGreaterThan(0.75);
    expect(report.final.testAccuracy).toBeGreaterThan(report.dense.testAccuracy - 0.1);
    expect(pruned.outputs[0].shape).toEqual([null, 1]);
    pruned.dispose();
  });

  it('prunes an elu CNN of another shape (8×8×2 inputs from 128 CSV columns)', async () => {
    const dir = tempDir();
    const csv = join(dir, 'img.csv');
    writeCsv(csv, 900, 128, ['a', 'b', 'c'], 2);
    const data = loadCsv({ path: csv, standardize: false });
    const model = buildModel({ family: 'cnn', inputShape: [8, 8, 2], convs: [{ filters: 6, kernel: 3 }], dense: [16], activation: 'elu', numClasses: 3, seed: 4 });
    const images = tf.reshape(data.train.x, [-1, 8, 8, 2]);
    train(model, { x: images, labels: data.train.labels }, { epochs: 15, batchSize: 32 });
    images.dispose();
    await saveModel(model, join(dir, 'cnn'));
    data.dispose();
    model.dispose();
    const { model: pruned, report } = await autoprune({ target: 0.6, model: join(dir, 'cnn'), data: csv, maxDrop: 3, budgetEpochs: 8, force: true });
    expect(report.layers.map((l) => l.kind)).toEqual(['conv2d', 'dense', 'dense']);
    expect(report.final.sparsity).toBeGreaterThanOrEqual(0.6 - 1e-3);
    expect(report.dense.valAccuracy).toBeGreaterThan(0.8);
    expect(report.final.testAccuracy).toBeGreaterThan(report.dense.testAccuracy - 0.1);
    pruned.dispose();

    // Pruning the same CNN for speed: the target counts compute, and the compact model has fewer filters.
    const out = join(dir, 'fast');
    const events: AgentEvent[] = [];
    const fast = await autoprune({
      target: 0.5, objective: 'flops', model: join(dir, 'cnn'), data: csv, maxDrop: 3, budgetEpochs: 8, force: true, out, compact: true,
      onEvent: (e) => events.push(e),
    });
    expect(fast.report.config).toMatchObject({ objective: 'flops', granularity: 'unit' });
    expect(fast.report.final.compute!.reduction).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(fast.report.final.compute!.dense).toBe(3 * 3 * 2 * 6 * 36 + 54 * 16 + 16 * 3);
    const compact = JSON.parse(readFileSync(join(out, 'compact', 'model.json'), 'utf8')) as { modelTopology: unknown };
    const conv = JSON.stringify(compact.modelTopology).match(/"filters":(\d+)/);
    expect(Number(conv![1])).toBeLessThan(6);
    // The run says what compaction did (the same event is a --json line), before 'done'.
    const c = events.find((e) => e.type === 'compact');
    expect(c).toMatchObject({ type: 'compact', path: join(out, 'compact'), skipped: [] });
    expect((c as { unitsRemoved: number[] }).unitsRemoved[0]).toBe(6 - Number(conv![1]));
    // … and how far each stored form's outputs are from the pruned model's, on the run's validation rows.
    const check = c as { maxAbsDiff?: { compact: number; sparse: number; sparseInt8?: number }; probeInputs?: string; compactMacs?: number };
    expect(check.probeInputs).toMatch(/^\d+ validation rows$/);
    expect(check.maxAbsDiff!.compact).toBeLessThan(1e-4);
    expect(check.maxAbsDiff!.sparse).toBeLessThan(1e-4);
    expect(check.maxAbsDiff!.sparseInt8).toBeGreaterThanOrEqual(0);
    expect(check.compactMacs).toBe(fast.report.final.compute!.live);
    // predict timed on this machine, dense and compact (a measurement: only its form is checked), in report.json too.
    const timed = (c as { latency?: { batch: number; runs: number; denseMs: number; compactMs: number; sameRewrites?: true } }).latency;
    expect(timed).toMatchObject({ batch: 32 });
    expect(timed!.runs).toBeGreaterThanOrEqual(3);
    expect(timed!.denseMs).toBeGreaterThan(0);
    expect(timed!.compactMs).toBeGreaterThan(0);
    expect(latencyLine(timed!)).toMatch(/^predict time measured here \(32 samples a call, median of \d+ calls each in alternating turns, this machine's default threads\): pruned at full shape( \(with the compact model's serving rewrites\))? \d+\.\d\d ms → compact \d+\.\d\d ms \(\d+\.\d\d×(, \d+\.\d\d–\d+\.\d\d× over \d+ turns(: within the timing's noise)?)?\)/);
    // The pruned model is timed with the serving rewrites the compact one got (the speed-up is then pruning's alone).
    expect(timed!.sameRewrites ?? false).toBe(((c as { rewrites?: unknown[] }).rewrites ?? []).length > 0);
    expect(latencyLine({ batch: 32, runs: 5, denseMs: 2, compactMs: 1, sameRewrites: true })).toContain("pruned at full shape (with the compact model's serving rewrites) 2.00 ms → compact 1.00 ms (2.00×)");
    expect(latencyLine({ batch: 32, runs: 5, denseMs: 1, compactMs: 0.95 })).toMatch(/\(1\.05×\): not measurably faster at 32 samples a call .*; served in larger batches, time it there: autoprune compact <out> --serving-batch 256$/);
    expect(latencyLine({ batch: 256, runs: 5, denseMs: 1, compactMs: 0.95 })).toMatch(/\(1\.05×\): not measurably faster at 256 samples a call .*a smaller file remain$/);
    // A median speed-up whose turns include one with none (a new user's 1.23×, turns 0.56–1.91×, was 1.00× like for like).
    const noisy = { batch: 256, runs: 25, denseMs: 4.27, compactMs: 3.49, speedUpRange: { low: 0.56, high: 1.91, turns: 5 } };
    expect(speedUpText(noisy)).toBe("1.22×, 0.56–1.91× over 5 turns: within the timing's noise");
    expect(latencyLine(noisy)).toMatch(/\(1\.22×, 0\.56–1\.91× over 5 turns: within the timing's noise\) — not clearly faster: some turns found the compact model no faster/);
    expect(speedUpText({ ...noisy, speedUpRange: { low: 1.02, high: 1.91, turns: 5 } })).toBe('1.22×, 1.02–1.91× over 5 turns');
    // A flat median whose turns straddle 1× says so too (report.html shows this text alone).
    expect(speedUpText({ ...noisy, denseMs: 0.56, compactMs: 0.56, speedUpRange: { low: 0.89, high: 1.12, turns: 5 } })).toBe("1.00×, 0.89–1.12× over 5 turns: within the timing's noise");
    // No unit removed: the same shape, and the line says so rather than "fewer parameters".
    expect(latencyLine({ batch: 32, runs: 5, denseMs: 1, compactMs: 0.95 }, false)).toMatch(/\(1\.05×\): no unit was removed, so the compact model has the pruned model's shape and its time/);
    // report.json says what the compact model runs (the returned report too).
    const written = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { compact: { macs: { dense: number; compact: number; reduction: number }; paramsAfter: number; latency?: unknown }; phases: Record<string, number> };
    // Compaction's seconds are a phase of the run, inside its total.
    expect(written.phases.compact).toBeGreaterThan(0);
    expect(written.phases.total).toBeGreaterThanOrEqual(written.phases.compact);
    expect(written.compact.latency).toEqual(timed);
    expect(written.compact.macs.compact).toBe(check.compactMacs);
    expect(written.compact.macs.reduction).toBeCloseTo(1 - check.compactMacs! / written.compact.macs.dense, 9);
    expect(fast.report.compact).toEqual(written.compact);
    expect(events.at(-1)!.type).toBe('done');
    fast.model.dispose();
  });

  it('a text model saved without a fixed length (an Embedding without inputLength: input [null]) is pruned at the length of the CSV\'s rows, said in a warning', async () => {
    const dir = tempDir();
    const rng = new Rng(5);
    // Token ids: class 1 rows use the upper half of the vocabulary more often.
    const rows = Array.from({ length: 400 }, (_, r) => {
      const c = r % 2;
      return [...Array.from({ length: 12 }, () => Math.floor(rng.next() * 10) + (c === 1 && rng.next() < 0.7 ? 10 : 0)), c];
    });
    const csv = join(dir, 'tokens.csv');
    writeFileSync(csv, `${[...Array.from({ length: 12 }, (_, i) => `t${i}`), 'label'].join(',')}\n${rows.map((r) => r.join(',')).join('\n')}\n`);
    const model = tf.sequential({ layers: [
      tf.layers.embedding({ inputDim: 20, outputDim: 8, inputShape: [null] as unknown as number[], embeddingsInitializer: tf.initializers.randomUniform({ minval: -0.1, maxval: 0.1, seed: 1 }) }),
      tf.layers.globalAveragePooling1d({}),
      tf.layers.dense({ units: 16, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }),
      tf.layers.dense({ units: 2, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
    ] });
    expect(model.inputs[0].shape).toEqual([null, null]);
    model.compile({ optimizer: tf.train.adam(0.02), loss: 'sparseCategoricalCrossentropy' });
    const xs = tf.tensor2d(rows.map((r) => r.slice(0, 12)));
    const ys = tf.tensor1d(rows.map((r) => r[12]));
    await model.fit(xs, ys, { epochs: 20, batchSize: 32, verbose: 0, shuffle: false });
    tf.dispose([xs, ys]);
    await saveModel(model, join(dir, 'model'));
    model.dispose();
    const warnings: string[] = [];
    const out = join(dir, 'out');
    const { model: pruned, report } = await autoprune({
      target: 0.5, model: join(dir, 'model'), data: csv, budgetSteps: 60, force: true, out, policy: 'global-magnitude',
      onEvent: (e: AgentEvent) => { if (e.type === 'warning') warnings.push(e.message); },
    });
    expect(warnings.filter((w) => /input shape \[null\] has an unknown length: the data's rows fix it to \[12\]/.test(w))).toHaveLength(1);
    expect(report.final.sparsity).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(pruned.inputs[0].shape).toEqual([null, 12]);
    const written = JSON.parse(readFileSync(join(out, 'model', 'model.json'), 'utf8')) as { modelTopology: { config: { layers: { config: { batch_input_shape?: unknown } }[] } } };
    expect(written.modelTopology.config.layers[0].config.batch_input_shape).toEqual([null, 12]);
    pruned.dispose();
  }, 60_000);

  it('--objective flops on a model with a recurrent layer warns that its MACs are not its time (the coverage LSTM: −81 % MACs, −4 % time)', async () => {
    const dir = join(PACKAGE_ROOT, 'datasets', 'coverage', 'lstm-text');
    const warnings: string[] = [];
    const stop = new AbortController();
    // Said before any training: the run is stopped at the warning.
    await autoprune({
      target: 0.3, objective: 'flops', model: join(dir, 'model'), data: join(dir, 'data.csv'), signal: stop.signal,
      onEvent: (e: AgentEvent) => { if (e.type === 'warning') { warnings.push(e.message); if (/recurrent layer/.test(e.message)) stop.abort(); } },
    }).then((r) => r.model.dispose(), () => undefined);
    // (Through the API the message names the option, not the flag.)
    expect(warnings.filter((w) => /^objective flops counts multiply-accumulates, and '[^']+' is a recurrent layer, whose time goes mostly to running its time steps/.test(w))).toHaveLength(1);
  }, 60_000);
});
