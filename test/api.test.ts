import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { autoprune, compactPruned, createContainer, DataError, InterruptedError, loadSynthetic, TOKENS, UsageError, type AgentEvent, type CompactOptions, type DataSource, type Dataset, type DatasetInput, type FeatureExtractor } from '../src/index.js';
import { PACKAGE_ROOT, tf } from '../src/backend/tf.js';
import type { BudgetEvent, CheckpointEvent, CompactEvent, DoneEvent, EpochEvent, ErrorEvent, FrontierEvent, PhaseEvent, PolishEvent, RollbackEvent, StartEvent, StepEvent, WarningEvent } from '../src/index.js';

// Every event of the AgentEvent union is exported by name (PhaseEvent was not): one left out makes this type not `never`
// and the file fail to typecheck.
type UnexportedEvent = Exclude<AgentEvent, BudgetEvent | CheckpointEvent | CompactEvent | DoneEvent | EpochEvent | ErrorEvent | FrontierEvent | PhaseEvent | PolishEvent | RollbackEvent | StartEvent | StepEvent | WarningEvent>;
const everyEventExported: [UnexportedEvent] extends [never] ? true : false = true;
import { checkpointDirFor } from '../src/output-dir.js';
import { FEATURE_SCHEMA } from '../src/features/schema.js';
import { FEATURE_CHUNK } from '../src/features/extract.js';
import type { Scorer } from '../src/policy/types.js';
import { numTensors, tempDir } from './helpers.js';

process.env.AUTOPRUNE_CACHE_DIR = tempDir('autoprune-api-cache-');

describe('library API', () => {
  it('prunes a model given as data only, returns the model and a typed report, and emits events', async () => {
    const events: AgentEvent[] = [];
    const { model, report } = await autoprune({
      target: 0.6, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 6,
      onEvent: (e) => events.push(e),
    });
    expect(report.format).toBe('autoprune-report');
    expect(report.final.sparsity).toBeGreaterThanOrEqual(0.6 - 1e-3);
    expect(report.final.targetReached).toBe(true);
    // Each class's test recall, dense and pruned, over the test rows of that class.
    const classes = report.final.classes!;
    expect(classes.map((c) => c.name)).toEqual(report.task.classNames);
    expect(classes.reduce((a, c) => a + c.testRows, 0)).toBe(report.samples!.test);
    const right = classes.reduce((a, c) => a + (c.recall ?? 0) * c.testRows, 0);
    expect(right / report.samples!.test).toBeCloseTo(report.final.testAccuracy, 6);
    // And its precision (of the rows predicted as it, the share that are): the same right rows, over the rows predicted as
    // each class, which add up to every test row.
    for (const c of classes) {
      expect(c.recall! > 0 ? c.precision! > 0 && c.precision! <= 1 : c.precision == null || c.precision === 0).toBe(true);
      expect(c.densePrecision === null || (c.densePrecision! >= 0 && c.densePrecision! <= 1)).toBe(true);
    }
    const predicted = classes.reduce((a, c) => a + (c.precision ? ((c.recall ?? 0) * c.testRows) / c.precision : 0), 0);
    expect(predicted).toBeLessThanOrEqual(report.samples!.test + 1e-6);
    // Epoch events of the default model's first-use training may come first, then the control's phase and rounds; then the run starts.
    expect(events.find((e) => e.type !== 'epoch')).toMatchObject({ type: 'phase', phase: 'control' });
    expect(events.find((e) => e.type !== 'epoch' && e.type !== 'phase')!.type).toBe('start');
    // The loss every "loss" figure holds is named (a softmax's is not the cross-entropy Keras logs), in the start event and the report.
    const start = events.find((e) => e.type === 'start')!;
    expect(start.type === 'start' && start.loss).toMatch(/^the sum over classes of the binary log-loss/);
    expect(report.task.loss).toBe(start.type === 'start' ? start.loss : undefined);
    expect(events.at(-1)!.type).toBe('done');
    expect(events.filter((e) => e.type === 'step').length).toBe(report.totals.accepted);
    // The phases do not count any time twice: they add up to at most the run's wall time.
    const { total, ...named } = report.phases;
    expect(Object.values(named).reduce((a, b) => a + b, 0)).toBeLessThanOrEqual((total ?? 0) + 0.05);
    expect(named).not.toHaveProperty('scoring');
    // The built-in model's first training is its own phase where it ran (a cache miss), not part of loading.
    const trained = events.some((e) => e.type === 'epoch' && e.phase === 'dense');
    if (trained) expect(named.denseTraining).toBeGreaterThan(0); else expect(named).not.toHaveProperty('denseTraining');
    // The keys report.ts documents, and no others.
    for (const k of Object.keys(named)) expect(['load', 'denseTraining', 'control', 'features', 'scoring', 'prune', 'evaluate', 'fineTune', 'checkpoint', 'write']).toContain(k);
    // Pruned weights are exactly zero in the returned model.
    const kernel = model.layers[0].getWeights()[0].dataSync();
    const zeros = kernel.filter((v) => v === 0).length;
    expect(zeros / kernel.length).toBeGreaterThan(0.3);
    model.dispose();
  });

  it('gives each event handler its own copy: sorting or rescaling an event for display leaves the report and report.json as they were', async () => {
    const out = join(tempDir(), 'out');
    const opts = { target: 0.6, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 4 } as const;
    const plain = await autoprune(opts);
    const { model, report } = await autoprune({
      ...opts, out,
      onEvent: (e) => {
        if (e.type === 'done') {
          e.classes?.sort((a, b) => (a.recall ?? 0) - (b.recall ?? 0));
          e.classes?.splice(0, 1);
          if (e.compute) e.compute.dense /= 1e6;
        }
        if (e.type === 'start') e.floor = -1;
      },
    });
    expect(plain.report.final.classes!.length).toBeGreaterThan(1);
    expect(report.final.classes).toEqual(plain.report.final.classes);
    expect(report.final.compute).toEqual(plain.report.final.compute);
    const written = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { final: { classes: unknown; compute: unknown } };
    expect(written.final.classes).toEqual(plain.report.final.classes);
    expect(written.final.compute).toEqual(plain.report.final.compute);
    model.dispose();
    plain.model.dispose();
  });

  it('hands a staged scorer (X@a+Y) to its own extractor staged, to a substituted one that does not say it runs the second stage whole', async () => {
    const { TensorFeatureExtractor } = await import('../src/container.js');
    const seen = async (stagedScoring: boolean) => {
      const c = createContainer();
      const own = new TensorFeatureExtractor();
      const got: { finish: boolean; chunk: number }[] = [];
      const spy: FeatureExtractor = {
        schema: own.schema,
        ...(stagedScoring ? { stagedScoring } : {}),
        extract: (pm, calib) => own.extract(pm, calib),
        extractScored: (pm, calib, score) => {
          got.push({ finish: typeof (score as { finish?: unknown }).finish === 'object', chunk: score.chunk ?? Infinity });
          return own.extractScored(pm, calib, score);
        },
      };
      c.rebind<FeatureExtractor>(TOKENS.FeatureExtractor).toConstantValue(spy);
      const { model } = await autoprune({ target: 0.5, data: 'synthetic', policy: 'default@0.25+lamp', maxDrop: 5, budgetSteps: 40, force: true }, c);
      model.dispose();
      expect(got.length).toBeGreaterThan(0);
      return got[0];
    };
    expect(new TensorFeatureExtractor().stagedScoring).toBe(true);
    expect(await seen(true)).toEqual({ finish: true, chunk: FEATURE_CHUNK });
    expect(await seen(false)).toEqual({ finish: false, chunk: Infinity });
  });

  it('refuses a substituted extractor\'s features that leave a layer out or miscount it, and an async scorer, in one line', async () => {
    const { TensorFeatureExtractor } = await import('../src/container.js');
    const own = new TensorFeatureExtractor();
    const run = async (ex: FeatureExtractor, policy?: Scorer) => {
      const c = createContainer();
      c.rebind<FeatureExtractor>(TOKENS.FeatureExtractor).toConstantValue(ex);
      return autoprune({ target: 0.5, data: 'synthetic', policy: policy ?? 'global-magnitude', maxDrop: 5, budgetSteps: 40, force: true }, c).catch((e: unknown) => e);
    };
    const dropped = await run({ extract: (pm, calib) => { const f = own.extract(pm, calib); return { ...f, layers: f.layers.slice(0, 1) }; } });
    expect(dropped).toBeInstanceOf(UsageError);
    expect((dropped as Error).message).toMatch(/^feature extractor: it gave 1 layer\(s\); it must describe every prunable layer \(\d+: /);
    const miscounted = await run({ extract: (pm, calib) => { const f = own.extract(pm, calib); return { ...f, layers: f.layers.map((l, i) => (i === 0 ? { ...l, count: 5 } : l)) }; } });
    expect((miscounted as Error).message).toMatch(/^feature extractor: layer '[^']+': count 5 but \d+ indices/);
    const swapped = await run({ extract: (pm, calib) => { const f = own.extract(pm, calib); return { ...f, layers: [...f.layers].reverse() }; } });
    expect((swapped as Error).message).toMatch(/^feature extractor: its entry 0 is for layer \d+, not 0 \('[^']+'\)/);
    const shortColumn = await run({ extract: (pm, calib) => { const f = own.extract(pm, calib); return { ...f, layers: f.layers.map((l, i) => (i === 0 ? { ...l, columns: l.columns.map((c, j) => (j === 2 ? c.subarray(1) : c)) } : l)) }; } });
    expect((shortColumn as Error).message).toMatch(/^feature extractor: layer '[^']+': column 2 holds \d+ values for \d+ connections/);
    const fewScores = await run({
      extractScored: (pm, calib, score) => { const r = own.extractScored(pm, calib, score); return { ...r, scores: r.scores.map((s, i) => (i === 0 ? s.subarray(1) : s)) }; },
      extract: (pm, calib) => own.extract(pm, calib),
    });
    expect((fewScores as Error).message).toMatch(/^feature extractor: layer '[^']+': \d+ scores for \d+ connections/);
    const asyncScorer = await run(own, { name: 'later', score: (() => Promise.resolve([])) as unknown as Scorer['score'] });
    expect((asyncScorer as Error).message).toMatch(/policy 'later': score\(\) returned a Promise; it must be synchronous/);
    // One that rejects: refused the same, its rejection handled (an unhandled one would end the caller's process).
    const unhandled: unknown[] = [];
    const onUnhandled = (r: unknown) => unhandled.push(r);
    process.on('unhandledRejection', onUnhandled);
    try {
      const rejecting = await run(own, { name: 'fails', score: (() => Promise.reject(new Error('scorer boom'))) as unknown as Scorer['score'] });
      expect((rejecting as Error).message).toMatch(/policy 'fails': score\(\) returned a Promise/);
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    const badIndices = await run({ extract: (pm, calib) => { const f = own.extract(pm, calib); return { ...f, layers: f.layers.map((l, i) => (i === 0 ? { ...l, indices: Array.from(l.indices) as unknown as Int32Array } : l)) }; } });
    expect((badIndices as Error).message).toMatch(/^feature extractor: layer '[^']+': its indices must be an Int32Array \(got Array\)/);
  });

  it('lets an integration substitute a data source through the container', async () => {
    const c = createContainer();
    let asked = '';
    const source: DataSource = {
      load(spec): Dataset {
        asked = spec;
        return loadSynthetic({ samples: 600, features: 10, classes: 2, seed: 9 });
      },
    };
    c.rebind<DataSource>(TOKENS.DataSource).toConstantValue(source);
    const { model, report } = await autoprune({ target: 0.5, data: 'feature-store://table', policy: 'lamp', maxDrop: 5, budgetEpochs: 4 }, c);
    expect(asked).toBe('feature-store://table');
    expect(report.dense.prunable).toBeGreaterThan(0);
    model.dispose();
  });

  it('rejects a target outside (0, 1) before doing anything', async () => {
    const before = numTensors();
    await expect(autoprune({ target: 1 })).rejects.toThrow(UsageError);
    await expect(autoprune({ target: -0.1 })).rejects.toThrow(/target must be a number strictly between 0 and 1/);
    expect(numTensors()).toBe(before);
  });

  it('rejects an out that is not a folder path (a number, an object, an empty string) as one UsageError', async () => {
    await expect(autoprune({ target: 0.5, out: 5 as never })).rejects.toThrow(/^out must be a folder path, got '5'$/);
    await expect(autoprune({ target: 0.5, out: { path: 'x' } as never })).rejects.toThrow(/^out must be a folder path, got '\{"path":"x"\}'$/);
    await expect(autoprune({ target: 0.5, out: '' })).rejects.toThrow(UsageError);
  });
});

describe('policy by path', () => {
  it('reports the policy\'s own name, its file, and the path as given', async () => {
    const path = new URL('../policies/default.json', import.meta.url).pathname;
    const starts: StartEvent[] = [];
    const { model, report } = await autoprune({ target: 0.5, data: 'synthetic', policy: path, budgetSteps: 20, force: true, onEvent: (e) => { if (e.type === 'start') starts.push(e); } });
    model.dispose();
    expect(report.policy).toMatchObject({ name: 'default', kind: 'cart' });
    expect(report.policy.file).toMatch(/default\.json$/);
    expect(report.config.policy).toBe(path);
    // The start event says which file the name came from (a retrained file's name is the one inside it).
    expect(starts[0]).toMatchObject({ policy: 'default', policyFile: report.policy.file });
    const byName = await autoprune({ target: 0.5, data: 'synthetic', policy: 'default', budgetSteps: 20, force: true, onEvent: (e) => { if (e.type === 'start') starts.push(e); } });
    byName.model.dispose();
    expect(starts[1].policyFile).toBeUndefined();
  }, 120_000);
});

describe('API errors', () => {
  it('name the options as autoprune() spells them (the CLI names its flags), same class and exit code', async () => {
    const err = await autoprune({ target: 0.8, granularity: 'connection', objective: 'flops' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UsageError);
    expect((err as UsageError).exitCode).toBe(2);
    expect((err as Error).message).toMatch(/^objective flops needs granularity unit/);
    expect((err as Error).message).not.toMatch(/--/);
    // The stack too: Node prints it (message first) for an uncaught error.
    expect((err as Error).stack!.split('\n')[0]).toBe(`UsageError: ${(err as Error).message}`);
    expect((err as Error).stack).toMatch(/\n\s+at /);
    await expect(autoprune({ target: 0.8, resume: true })).rejects.toThrow(/^resume: true needs the out folder/);
    // Values of the wrong type are shown as what they are, not as text that reads like a valid value.
    await expect(autoprune({ target: 0.8, frontier: '0.5' as never })).rejects.toThrow(/^frontier must be a list of targets strictly between 0 and target \(0.8\), got string '0.5'$/);
    await expect(autoprune({ target: 0.8, policy: { kind: 'cart' } as never })).rejects.toThrow(/^policy must be a policy name, a policy file or a Scorer \(an object with a score function\), got an object without score \(keys: kind\)$/);
  });

  it('the returned report\'s advice names options, not flags, as the done event\'s does (report.json keeps the CLI\'s words)', async () => {
    const out = join(tempDir(), 'short');
    const events: AgentEvent[] = [];
    const { model, report } = await autoprune({ target: 0.99, data: 'synthetic', budgetSteps: 60, maxDrop: 0, policy: 'global-magnitude', out, onEvent: (e) => events.push(e) });
    model.dispose();
    const done = events.find((e) => e.type === 'done');
    expect(done?.type === 'done' && done.advice).toBe(report.final.advice);
    expect(report.final.exitCode).toBe(3);
    // (A budget too small for a step of the schedule is spent on one try at the target: the advice names its loss too.)
    expect(report.final.advice).toMatch(/rerun with budgetSteps \d+( maxDrop \d+\.\d \((twice the budget|the default budget for this data, more than twice this one)[^)]*\), or budgetSteps \d+ alone to keep the guard \(it may stop short again\)| \(it may stop short again\), a lower target)?, or force: true/);
    // Its first suggestion as the options a caller sets again (the done event carries the same).
    expect(report.final.retry?.options.budgetSteps).toBeGreaterThanOrEqual(120);
    expect(done?.type === 'done' && done.retry).toEqual(report.final.retry);
    // The per-class recall rides along as in report.json final (a class the pruned model lost shows in --json too).
    expect(report.final.classes?.length).toBeGreaterThan(1);
    expect(done?.type === 'done' && done.classes).toEqual(report.final.classes);
    expect(report.final.advice).not.toMatch(/--/);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).final.advice).toMatch(/--budget-steps \d+/);
  }, 120_000);

  it('refuses options that are not an object, and a Dataset object missing what the run reads, naming it', async () => {
    expect(everyEventExported).toBe(true);
    await expect(autoprune(null as never)).rejects.toThrow(/^options must be an object/);
    const x = tf.zeros([2, 2]);
    await expect(autoprune({ target: 0.5, data: { train: { x, labels: new Int32Array(2) } } as never }))
      .rejects.toThrow(/^data: a Dataset needs val, test, numClasses \(a whole number: the classes, or 0 where the targets are values, each split's y\), inputShape \(an array\)/);
    // A freed tensor is named (tfjs said "Tensor is disposed", no split named).
    const gone = tf.zeros([2, 2]);
    gone.dispose();
    const labels = new Int32Array(2);
    await expect(autoprune({ target: 0.5, data: { name: 'd', source: 'mem', inputShape: [2], numClasses: 2, train: { x, labels }, val: { x, labels }, test: { x: gone, labels } } }))
      .rejects.toThrow(/^data: the Dataset's test\.x tensor was disposed: pass tensors that are not \(dispose them after the run\)$/);
    x.dispose();
    // A string where a number belongs is said to be one (not "out of range").
    await expect(autoprune({ target: 0.5, data: 'synthetic', maxDrop: '1' as never })).rejects.toThrow(/^maxDrop must be a number in \[0, 100\] percentage points, got string '1'$/);
    await expect(autoprune({ target: '0.5' as never })).rejects.toThrow(/^target must be a number strictly between 0 and 1, got string '0\.5'$/);
    await expect(autoprune({ target: 0.5, budgetEpochs: '3' as never })).rejects.toThrow(/^budgetEpochs must be a whole number ≥ 1, got string '3'$/);
    await expect(autoprune({ target: 1.5 })).rejects.toThrow(/^target must be a number strictly between 0 and 1, got 1\.5$/);
    // A file another option names is said to be that option's (as autoprune() spells it).
    await expect(autoprune({ target: 0.5, data: join(PACKAGE_ROOT, 'datasets', 'small', 'iris', 'data.csv'), valData: '/nonexistent/val.csv' }))
      .rejects.toThrow(/^the valData file '\/nonexistent\/val\.csv' does not exist$/);
    await expect(autoprune({ target: 0.5, data: 'synthetic', compact: true })).rejects.toThrow(/^compact writes the compact model and sparse files into the output folder: give out too$/);
    // A batch larger than the training split is not refused (one step per pass is a valid choice) but said.
    const { model, report } = await autoprune({ target: 0.5, data: 'synthetic', policy: 'global-magnitude', batchSize: 100_000, budgetSteps: 4 });
    model.dispose();
    expect(report.warnings?.filter((w) => /^batchSize 100000 is larger than the \d+ training rows: every optimizer step is one pass over them all/.test(w))).toHaveLength(1);
  });

  it('a Dataset with just what README names (splits of x and labels, numClasses, inputShape) runs: name and class names get defaults', async () => {
    const full = loadSynthetic({ samples: 300, features: 8, classes: 3, seed: 2 });
    try {
      const split = (s: Dataset['train']) => ({ x: s.x, labels: s.labels });
      const bare: DatasetInput = { train: split(full.train), val: split(full.val), test: split(full.test), numClasses: 3, inputShape: [8] };
      // A Scorer object of the caller's own (−|w|): the report names it and says it is a custom one.
      const absW = FEATURE_SCHEMA.names.indexOf('abs_w');
      const mine: Scorer = { name: 'my-magnitude', score: (f) => f.layers.map((l) => Float32Array.from(l.columns[absW], (v) => -v)) };
      const { model, report } = await autoprune({ target: 0.5, data: bare, policy: mine, budgetSteps: 20 });
      model.dispose();
      expect(report.config.data).toBe('dataset');
      expect(report.policy).toMatchObject({ name: 'my-magnitude', kind: 'custom' });
      expect(report.final.sparsity).toBeGreaterThanOrEqual(0.5 - 1e-3);
      // Class names of the wrong count are refused, naming the field.
      await expect(autoprune({ target: 0.5, data: { ...bare, classNames: ['a'] } as Dataset })).rejects.toThrow(/a Dataset needs classNames and numClasses to agree \(optional classNames: one name per class; here 1 name for numClasses 3\)/);
    } finally {
      full.dispose();
    }
  });
});

describe('an in-memory Dataset is checked against the model as a CSV is', () => {
  it('refuses labels coded in another order than the outputs, and regression targets in another order, in the API\'s words', async () => {
    const full = loadSynthetic({ samples: 600, features: 8, classes: 2, seed: 4 });
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [8], units: 16, activation: 'relu' }), tf.layers.dense({ units: 2, activation: 'softmax' })] });
    model.compile({ optimizer: tf.train.adam(0.01), loss: 'categoricalCrossentropy' });
    const y = tf.oneHot(tf.tensor1d(full.train.labels, 'int32'), 2);
    await model.fit(full.train.x, y, { epochs: 30, batchSize: 32, verbose: 0 });
    y.dispose();
    const flip = (s: Dataset['train']) => ({ x: s.x, labels: Int32Array.from(s.labels, (v) => 1 - v) });
    try {
      // The same rows with 0 and 1 swapped: fine-tuning would retrain the model to the opposite meaning of its outputs.
      const flipped: DatasetInput = { train: flip(full.train), val: flip(full.val), test: flip(full.test), numClasses: 2, inputShape: [8] };
      const err = await autoprune({ model, target: 0.5, data: flipped, budgetSteps: 20 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message).toMatch(/^dataset 'dataset': the model's accuracy on the validation split is \d+\.\d % \(chance 50\.0 %(, always the most common class \d+\.\d %)?, \d+ rows\) with the dataset's labels as class indices \(label k = output k\), but \d+\.\d % with the labels in the order 1, 0: .*pass the labels recoded to the model's output order \(label 1 as 0, 0 as 1, …\)$/);
      // As given, it runs.
      const ok = await autoprune({ model, target: 0.5, data: { train: full.train, val: full.val, test: full.test, numClasses: 2, inputShape: [8] }, budgetSteps: 20 });
      ok.model.dispose();
    } finally {
      full.dispose();
      model.dispose();
    }
    // A two-target regression model given its targets' columns swapped.
    const x = tf.randomNormal([400, 3], 0, 1, 'float32', 5);
    const t = tf.tidy(() => tf.concat([x.slice([0, 0], [-1, 1]).mul(3), x.slice([0, 1], [-1, 1]).sub(x.slice([0, 2], [-1, 1]))], 1));
    const reg = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 16, activation: 'tanh' }), tf.layers.dense({ units: 2 })] });
    reg.compile({ optimizer: tf.train.adam(0.02), loss: 'meanSquaredError' });
    await reg.fit(x, t, { epochs: 40, batchSize: 32, verbose: 0 });
    const swapped = tf.tidy(() => tf.reverse(t, 1));
    const part = (a: number, b: number) => ({ x: x.slice([a, 0], [b - a, -1]), labels: new Int32Array(b - a), y: swapped.slice([a, 0], [b - a, -1]) });
    const splits = { train: part(0, 300), val: part(300, 350), test: part(350, 400) };
    try {
      const err = await autoprune({ model: reg, task: 'regression', target: 0.5, data: { ...splits, numClasses: 0, inputShape: [3] }, budgetSteps: 20 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(DataError);
      expect((err as Error).message).toMatch(/^dataset 'dataset': the model's outputs fit the columns target 2, target 1 in that order \(validation R² 0\.\d+\) far better than the targets given, target 1, target 2 .*give each split's y with its columns in that order$/);
      // In their order it runs, and each target's R² is reported under the name the errors get (the Dataset names none).
      const right = (a: number, b: number) => ({ x: x.slice([a, 0], [b - a, -1]), labels: new Int32Array(b - a), y: t.slice([a, 0], [b - a, -1]) });
      const ordered = { train: right(0, 300), val: right(300, 350), test: right(350, 400) };
      const { model: out, report } = await autoprune({ model: reg, task: 'regression', target: 0.5, data: { ...ordered, numClasses: 0, inputShape: [3] }, budgetSteps: 20 });
      out.dispose();
      expect(report.final.targets?.map((r) => r.name)).toEqual(['target 1', 'target 2']);
      expect(report.final.testErrors?.values.map((v) => v.name)).toEqual(['target 1', 'target 2']);
      for (const o of Object.values(ordered)) tf.dispose([o.x, o.y]);
    } finally {
      for (const s of Object.values(splits)) tf.dispose([s.x, s.y]);
      tf.dispose([x, t, swapped]);
      reg.dispose();
    }
  });
});

describe('abort', () => {
  it('an already aborted signal rejects before anything is loaded, with the signal\'s reason as cause', async () => {
    const c = new AbortController();
    const reason = new Error('the AutoML trial was cancelled');
    c.abort(reason);
    let loaded = false;
    const container = createContainer();
    container.rebind<DataSource>(TOKENS.DataSource).toConstantValue({ load(): Dataset { loaded = true; throw new Error('not reached'); } });
    const err = await autoprune({ target: 0.5, data: 'anything', signal: c.signal }, container).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as Error).message).toBe('interrupted before the run started: the AutoML trial was cancelled');
    expect((err as Error).cause).toBe(reason);
    expect(loaded).toBe(false);
  });

  it('an abort during fine-tuning stops after the current batch with the reason (an AbortError by default)', async () => {
    const c = new AbortController();
    const err = await autoprune({
      target: 0.6, data: 'synthetic', policy: 'global-magnitude', budgetEpochs: 6, signal: c.signal,
      onEvent: (e) => { if (e.type === 'start') c.abort(); },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect(((err as Error).cause as Error).name).toBe('AbortError');
    expect((err as Error).message).toBe('interrupted; without out nothing was checkpointed (with out, an interrupted run continues with resume: true)');
  });

  it('an interrupted run with out says where its checkpoint is and that resume: true continues it, which it does', async () => {
    const out = join(tempDir(), 'run');
    const c = new AbortController();
    const opts = { target: 0.9, data: 'synthetic', policy: 'global-magnitude', budgetEpochs: 6, maxDrop: 50, out } as const;
    const err = await autoprune({ ...opts, signal: c.signal, onEvent: (e) => { if (e.type === 'checkpoint') c.abort(); } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    expect((err as Error).message).toMatch(/^interrupted; the last accepted step is checkpointed in .*: call autoprune\(\) again with the same options and resume: true to continue/);
    // A file of the user's put into the folder meanwhile: the resume would replace the folder, so it is refused, naming it.
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'NOTES.txt'), 'mine');
    await expect(autoprune({ ...opts, resume: true })).rejects.toThrow(/holds an entry autoprune does not write \(NOTES\.txt\), which the resumed run's outputs would replace/);
    expect(readFileSync(join(out, 'NOTES.txt'), 'utf8')).toBe('mine');
    rmSync(join(out, 'NOTES.txt'));
    const again = await autoprune({ ...opts, resume: true });
    expect(again.report.config.resumed).toBe(true);
    again.model.dispose();
  });

  it('an abort while --compact works stops the run (resumable), and the resume writes the compact outputs', async () => {
    const out = join(tempDir(), 'run');
    const opts = { target: 0.6, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 4, granularity: 'unit', objective: 'flops', compact: true, out } as const;
    const c = new AbortController();
    // The polish event is the agent's last: the abort lands after the pruned outputs are written, while compacting
    // (a new user's Ctrl-C there was announced as a stop, and the run went on to exit 0).
    const before = numTensors();
    const err = await autoprune({ ...opts, signal: c.signal, onEvent: (e) => { if (e.type === 'polish') c.abort(); } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    // Nothing left behind by the stop (the masks and the frontier's states were, 12 tensors a stop).
    expect(numTensors()).toBe(before);
    expect((err as Error).message).toMatch(/^interrupted while compacting; the last accepted step is checkpointed in .*resume: true to continue/);
    // The pruned outputs look finished: a plain rerun is pointed at the resume that completes them.
    await expect(autoprune(opts)).rejects.toThrow(/already exists; pass overwrite: true or choose another out \(an interrupted run of it left a checkpoint: resume: true finishes that run\)/);
    const again = await autoprune({ ...opts, resume: true });
    expect(again.report.final.exitCode).toBe(0);
    expect(again.report.compact).toBeDefined();
    expect(existsSync(join(out, 'compact', 'model.json'))).toBe(true);
    again.model.dispose();
  });

  it('a resume refuses a policy file replaced at the same path since the checkpoint (a family policy retrained in place)', async () => {
    const dir = tempDir();
    const policy = join(dir, 'family.json');
    copyFileSync(join(PACKAGE_ROOT, 'policies', 'linear.json'), policy);
    const out = join(dir, 'run');
    const c = new AbortController();
    const opts = { target: 0.9, data: 'synthetic', policy, budgetEpochs: 6, maxDrop: 50, out } as const;
    const err = await autoprune({ ...opts, signal: c.signal, onEvent: (e) => { if (e.type === 'checkpoint') c.abort(); } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InterruptedError);
    copyFileSync(join(PACKAGE_ROOT, 'policies', 'linear-no-cnn.json'), policy);
    // A checkpoint without a saved reference nor a digest of its state (written before 2026-12-07): a resume would
    // fine-tune the control first.
    const stateFile = join(checkpointDirFor(out), 'state.json');
    const saved = readFileSync(stateFile, 'utf8');
    const st = JSON.parse(saved) as { state: { reference?: unknown }; stateSha256?: string };
    delete st.state.reference;
    delete st.stateSha256;
    writeFileSync(stateFile, JSON.stringify(st));
    const before: string[] = [];
    await expect(autoprune({ ...opts, resume: true, onEvent: (e) => { if (e.type !== 'warning') before.push(e.type); } })).rejects.toThrow(/^cannot resume: checkpoint .* belongs to another run \(the policy file was changed since \(sha256 [0-9a-f]{12}… → [0-9a-f]{12}…\): its steps were scored by another policy\)/);
    // Refused before any work: no control fine-tuned, nothing said but warnings (the console holds those, then prints the error alone).
    expect(before).toEqual([]);
    writeFileSync(stateFile, saved);
    // The file as it was: the run continues.
    copyFileSync(join(PACKAGE_ROOT, 'policies', 'linear.json'), policy);
    const again = await autoprune({ ...opts, resume: true });
    expect(again.report.config.resumed).toBe(true);
    again.model.dispose();
  });

  it('an abort while the built-in model trains (nothing cached yet) stops it after the current batch (Ctrl-C)', async () => {
    const saved = process.env.AUTOPRUNE_CACHE_DIR;
    process.env.AUTOPRUNE_CACHE_DIR = tempDir('autoprune-fresh-cache-');
    try {
      const c = new AbortController();
      let denseEpochs = 0;
      const err = await autoprune({
        target: 0.6, data: 'synthetic', policy: 'global-magnitude', budgetEpochs: 2, signal: c.signal,
        onEvent: (e) => { if (e.type === 'epoch' && e.phase === 'dense') { denseEpochs++; c.abort(); } },
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InterruptedError);
      expect(denseEpochs).toBe(1); // the other 14 epochs never ran
      const models = join(process.env.AUTOPRUNE_CACHE_DIR, 'models');
      expect(existsSync(models) ? readdirSync(models) : []).toEqual([]); // nothing half-cached
    } finally {
      if (saved === undefined) delete process.env.AUTOPRUNE_CACHE_DIR;
      else process.env.AUTOPRUNE_CACHE_DIR = saved;
    }
  });

  it('an async event handler that rejects fails the run with its error (never an unhandled rejection), and frees what the run held', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => { unhandled.push(reason); };
    process.on('unhandledRejection', onUnhandled);
    const before = numTensors();
    try {
      const boom = new Error('logger down');
      let after = 0;
      const err = await autoprune({
        target: 0.6, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 6,
        // An async handler, as an AutoML loop's logger is (typed `=> void`, which TypeScript lets a promise through).
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        onEvent: async (e) => {
          if (e.type === 'step') throw boom;
          if (e.type === 'done') after++;
        },
      }).catch((e: unknown) => e);
      expect(err).toBe(boom);
      expect(after).toBe(0); // the run stopped at the event after the failed one
      // Also when the handler fails on the last event: the run waits for its handlers before it returns.
      const last = await autoprune({
        target: 0.6, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 6,
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        onEvent: (e) => (e.type === 'done' ? Promise.reject(boom) : undefined),
      }).catch((e: unknown) => e);
      expect(last).toBe(boom);
      await new Promise((r) => setImmediate(r));
      expect(unhandled).toEqual([]);
      // A synchronous throw on a step's event (the step's snapshot was held then): the run fails, nothing is left.
      const sync = await autoprune({
        target: 0.6, data: 'synthetic', policy: 'global-magnitude', maxDrop: 5, budgetEpochs: 6,
        onEvent: (e) => { if (e.type === 'step') throw boom; },
      }).catch((e: unknown) => e);
      expect(sync).toBe(boom);
      // The pruned model of the run whose handler rejected at 'done' is freed too: the caller never got it.
      expect(numTensors()).toBe(before);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});

describe('compactPruned (the library form of autoprune compact)', () => {
  it('refuses an unknown option and names its own options, not the CLI flags, in its errors', async () => {
    const dir = tempDir();
    const m = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu' }), tf.layers.dense({ units: 3, activation: 'softmax' })] });
    await m.save(`file://${join(dir, 'm')}`);
    m.dispose();
    await expect(compactPruned(join(dir, 'm'), { int8bit: true } as unknown as CompactOptions)).rejects.toThrow(/^unknown option 'int8bit'; compactPruned\(\) takes out, int8, seed, rewrite, servingBatch, probe, data, timeBudgetMs$/);
    const err = await compactPruned(join(dir, 'm')).then(() => undefined, (e: unknown) => e as Error);
    expect(err).toBeInstanceOf(UsageError);
    expect(err!.message).toMatch(/compact writes nothing into a model's own folder; give out$/);
    expect(err!.message).not.toMatch(/--out/);
    const r = await compactPruned(join(dir, 'm'), { out: join(dir, 'c'), int8: true });
    expect(r.files).toContain(join(dir, 'c', 'model.int8.sparse'));
  });
});
