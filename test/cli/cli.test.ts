import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync, statSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { PACKAGE_ROOT, tf } from '../../src/backend/tf.js';
import { BIN, CACHE, cli, cliUntil, events, expectCleanUsageError } from './cli-helpers.js';

/** A fast run: synthetic data (the default model for it is a small MLP), a baseline policy, a small budget. */
const FAST = ['--data', 'synthetic', '--policy', 'global-magnitude', '--budget', '8', '--max-drop', '5'];

describe('autoprune CLI', () => {
  it('--help explains the commands and flags; --version prints the version', async () => {
    const h = await cli(['--help']);
    expect(h.code).toBe(0);
    for (const cmd of ['prune', 'doctor', 'inspect', 'build-meta', 'train-policy', 'bench']) expect(h.stdout).toContain(cmd);
    // The environment variables are named, with where the whole list is; that list names every one the code reads.
    expect(h.stdout).toMatch(/Environment: AUTOPRUNE_CACHE_DIR .*README\.md, "Environment variables", has the whole list/s);
    const readme = readFileSync(join(PACKAGE_ROOT, 'README.md'), 'utf8');
    const env = readme.slice(readme.indexOf('Environment variables:'));
    const read = new Set<string>();
    const scan = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.isDirectory()) scan(join(dir, e.name));
        else if (e.name.endsWith('.ts')) for (const m of readFileSync(join(dir, e.name), 'utf8').matchAll(/AUTOPRUNE_[A-Z_]+/g)) read.add(m[0]);
      }
    };
    scan(join(PACKAGE_ROOT, 'src'));
    // … and the install step's (npm install runs it), by what it reads from process.env.
    for (const m of readFileSync(join(PACKAGE_ROOT, 'scripts', 'setup-native.mjs'), 'utf8').matchAll(/process\.env\.(AUTOPRUNE_[A-Z_]+)/g)) read.add(m[1]);
    expect(read.size).toBeGreaterThanOrEqual(11);
    for (const name of read) expect(env.slice(0, 2500), name).toContain(name);
    const p = await cli(['prune', '--help']);
    for (const flag of ['--target', '--model', '--data', '--max-drop', '--policy', '--out', '--resume', '--force', '--json']) expect(p.stdout).toContain(flag);
    const v = await cli(['--version']);
    expect(v.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
  });

  it.each([
    [['--target', '1.5'], /--target must be a number strictly between 0 and 1.*got '1.5'/],
    [['--target', '0'], /--target must be a number strictly between 0 and 1 \(e\.g\. 0\.8\), got '0'$/m],
    // Seeds are named by their flag with the value as typed, before anything loads (not 'seed … got 1e+23').
    [['--target', '0.5', '--seed', '99999999999999999999999'], /--seed must be at most 4294967295, got '99999999999999999999999'$/m],
    [['--target', '0.5', '--split-seed', '1e30'], /--split-seed must be at most 4294967295, got '1e30'$/m],
    [['--target', '90'], /--target must be a number strictly between 0 and 1 \(e\.g\. 0\.8\); 90 % would be 0\.9, got '90'$/m],
    [['--target', '0.5', '--label', 'lab\x1b[2J\nline'], /^autoprune: error: --label 'lab\\x1b\[2J ⏎ line' holds a line break; give the names on one line$/m],
    [['--target', '80%'], /--target must be a number strictly between 0 and 1 \(e\.g\. 0\.8\), not a percentage; 80 % would be 0\.8, got '80%'$/m],
    [['--targets', '80%,90%'], /--targets must be comma-separated fractions strictly between 0 and 1 \(e\.g\. 0\.5,0\.8,0\.9\), not percentages \(80%,90% would be 0\.8,0\.9\)/],
    [['--target', '0.8%'], /--target must be a number strictly between 0 and 1 \(e\.g\. 0\.8\), not a percentage; 0\.8 % would be 0\.008, got '0\.8%'$/m],
    [['--target', '0.5', '--model', 'file://m/model.json'], /model file 'file:\/\/m\/model\.json' does not exist: give a path, not a file:\/\/ URL \(m\/model\.json\)$/m],
    [['--target', ''], /--target must be a number strictly between 0 and 1 \(e\.g\. 0\.8\), got ''$/m],
    [['--target', 'abc'], /--target/],
    [['--target', '0.5', '--max-drop', '-1'], /--max-drop/],
    [['--target', '0.5', '--seed', 'x'], /^autoprune: error: --seed must be a number, got 'x'$/m],
    [['--target', '0.5', '--model', 'no/such/model.json'], /model file 'no\/such\/model.json' does not exist/],
    [['--target', '0.5', '--data', 'nope.csv'], /data file 'nope.csv' does not exist/],
    [['--target', '0.5', '--data', 'imagenet'], /unknown dataset 'imagenet'/],
    [['--target', '0.5', '--policy', 'no-such-policy'], /no policy 'no-such-policy'/],
    [['--target', '0.5', '--objective', 'flops', '--granularity', 'connection'], /--objective flops needs --granularity unit/],
    [['--target', '0.5', '--targets', '0.3,0.5'], /give --target or --targets, not both/],
    [['--targets', '0.5,1.2'], /--targets must be comma-separated fractions strictly between 0 and 1/],
    [['--targets', '0.5,0.5'], /--targets needs at least two different targets for a frontier \(got 0.5,0.5\); for one target use --target 0.5/],
    [['--target', '0.5', '--data', 'synthetic', '--exclude', 'nomatch_*'], /exclude pattern 'nomatch_\*' matches no prunable kernel; they are: /],
    [['--target', '0.5', '--x\x1b[2J\nline'], /unknown option '--x\\x1b\[2J ⏎ line' \(run autoprune --help for usage\)$/m],
  ])('bad input %j → one clear line, exit 2, no output folder', async (args, pattern) => {
    const cwd = tempDir();
    const r = await cli([...args, '--out', 'out'], { cwd });
    expectCleanUsageError(r, pattern);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
  });

  it('rejects data that does not fit the model, a corrupt policy, and a corrupt model, without touching the model', async () => {
    const cwd = tempDir();
    // A trained model of the synthetic task (20 inputs) from a first run.
    const ok = await cli(['--target', '0.5', ...FAST, '--out', 'first', '--json'], { cwd });
    expect(ok.code).toBe(0);
    const modelDir = join(cwd, 'first', 'model');
    const before = readFileSync(join(modelDir, 'weights.bin'));
    const mtime = statSync(join(modelDir, 'weights.bin')).mtimeMs;
    const r = await cli(['--target', '0.5', '--model', modelDir, '--data', 'mnist-10k', '--out', 'o2'], { cwd });
    expectCleanUsageError(r, /784 input values per sample .*expects shape \[20\]/);
    writeFileSync(join(cwd, 'bad-policy.json'), '{"format": "autoprune-policy", ');
    expectCleanUsageError(await cli(['--target', '0.5', '--policy', 'bad-policy.json', '--out', 'o3'], { cwd }), /bad-policy.json/);
    mkdirSync(join(cwd, 'broken'));
    writeFileSync(join(cwd, 'broken', 'model.json'), '{"modelTopology": {}, "weightsManifest": [{"paths": ["w.bin"], "weights": []}]}');
    expectCleanUsageError(await cli(['--target', '0.5', '--model', 'broken', '--out', 'o4'], { cwd }), /refers to weights file 'w.bin', which is missing/);
    // An --out that holds the input model (or data) is refused even with --overwrite: replacing it would delete them.
    expectCleanUsageError(await cli(['--target', '0.5', ...FAST, '--model', modelDir, '--out', 'first', '--overwrite'], { cwd }),
      /output folder 'first' holds the input model '.*first[/\\]model', which writing the outputs would delete/);
    writeFileSync(join(cwd, 'first', 'd.csv'), 'a,b\n1,0\n');
    expectCleanUsageError(await cli(['--target', '0.5', '--data', 'first/d.csv', '--out', 'first', '--overwrite'], { cwd }),
      /output folder 'first' holds the data file 'first\/d.csv'/);
    expect(readFileSync(join(modelDir, 'weights.bin')).equals(before)).toBe(true);
    expect(statSync(join(modelDir, 'weights.bin')).mtimeMs).toBe(mtime);
    for (const o of ['o2', 'o3', 'o4']) expect(existsSync(join(cwd, o))).toBe(false);
  });

  it('prunes to the target, writes model, masks and reports, and emits JSON events', async () => {
    const cwd = tempDir();
    const r = await cli(['--target', '0.7', ...FAST, '--out', 'out', '--json'], { cwd });
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev[0].type).toBe('start');
    expect(ev.at(-1)!.type).toBe('done');
    expect(ev.some((e) => e.type === 'step')).toBe(true);
    expect(ev.some((e) => e.type === 'checkpoint')).toBe(true);
    const done = ev.at(-1)! as { sparsity: number; targetReached: boolean };
    expect(done.targetReached).toBe(true);
    expect(done.sparsity).toBeGreaterThanOrEqual(0.7 - 1e-3);
    expect(readdirSync(join(cwd, 'out')).sort()).toEqual(['masks.json', 'model', 'report.html', 'report.json']);
    const report = JSON.parse(readFileSync(join(cwd, 'out', 'report.json'), 'utf8'));
    expect(report.format).toBe('autoprune-report');
    expect(report.final.sparsity).toBeCloseTo(done.sparsity, 6);
    expect(report.steps.length).toBeGreaterThan(0);
    expect(report.backend.native).toBe(true);
    // The saved model's pruned weights are exactly zero: inspect reads the same sparsity back.
    const ins = await cli(['inspect', join(cwd, 'out', 'model'), '--json']);
    expect(ins.code).toBe(0);
    const inspected = JSON.parse(ins.stdout) as { global: number; compute: { dense: number; reduction: number } };
    expect(inspected.global).toBeCloseTo(done.sparsity, 6);
    // The output folder itself (model/ + masks.json), as `compact` takes it: the same figures.
    const insOut = await cli(['inspect', join(cwd, 'out'), '--json']);
    expect(insOut.code).toBe(0);
    expect((JSON.parse(insOut.stdout) as { global: number; masksFile: boolean })).toMatchObject({ global: inspected.global, masksFile: true });
    // The table, piped: no terminal colour codes.
    const table = await cli(['inspect', join(cwd, 'out', 'model')]);
    expect(table.stdout).toContain('live MACs / sample');
    expect(table.stdout).not.toContain('\x1b[');
    // An all-Dense model: one MAC per weight, so compute removed = weight sparsity.
    expect(inspected.compute.dense).toBe(report.dense.prunable);
    expect(inspected.compute.reduction).toBeCloseTo(report.final.compute.reduction, 9);
    expect(inspected.compute.reduction).toBeCloseTo(inspected.global, 9);
    // The report a person opens: both plots rendered with this run's data (headless Chromium, where installed).
    if (existsSync('/usr/bin/chromium')) {
      const browser = await chromium.launch({
        executablePath: '/usr/bin/chromium',
        args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      });
      try {
        const page = await browser.newPage();
        await page.goto(pathToFileURL(join(cwd, 'out', 'report.html')).href);
        const accepted = report.steps.filter((x: { accepted: boolean }) => x.accepted).length;
        const rolledBack = report.steps.length - accepted;
        expect(await page.locator('#chart-accuracy g.accepted_points_marks > path').count()).toBe(accepted);
        expect(await page.locator('#chart-accuracy g.rolled_back_points_marks > path').count()).toBe(rolledBack);
        expect(await page.locator('#chart-layers g.layer_bars_marks > path').count()).toBe(report.layers.length);
        const box = await page.locator('#chart-accuracy svg').boundingBox();
        expect(box!.width).toBeGreaterThan(300);
      } finally {
        await browser.close();
      }
    }
    // An existing --out is never silently overwritten.
    const again = await cli(['--target', '0.7', ...FAST, '--out', 'out'], { cwd });
    expectCleanUsageError(again, /output folder 'out' already exists; pass --overwrite/);
  });

  it('CSV data: --split fractions and separate --val-data/--test-data files decide the splits', async () => {
    const cwd = tempDir();
    // Three classes in 6 columns, separable: the default model learns it in a few epochs.
    const rows = (n: number, offset: number) => Array.from({ length: n }, (_, i) => {
      const c = (i + offset) % 3;
      return [...Array.from({ length: 6 }, (_, j) => (j === 2 * c ? 2 : 0) + Math.sin(7 * i + j + offset)), `k${c}`].join(',');
    });
    const header = 'a,b,c,d,e,f,kind';
    writeFileSync(join(cwd, 'all.csv'), [header, ...rows(300, 0)].join('\n'));
    writeFileSync(join(cwd, 'val.csv'), [header, ...rows(45, 1)].join('\n'));
    writeFileSync(join(cwd, 'test.csv'), [header, ...rows(60, 2)].join('\n'));
    const common = ['--target', '0.5', '--data', 'all.csv', '--policy', 'global-magnitude', '--budget', '4', '--force'];
    const split = await cli([...common, '--split', '0.6,0.2,0.2', '--out', 'split'], { cwd });
    expect(split.code, split.stderr).toBe(0);
    const r1 = JSON.parse(readFileSync(join(cwd, 'split', 'report.json'), 'utf8'));
    expect(r1.samples).toEqual({ train: 180, val: 60, test: 60 });
    expect(r1.config.split).toEqual([0.6, 0.2, 0.2]);
    // Which lines of the file the validation and test rows are (header on line 1): 120 of the 300 data lines, none twice.
    const lines1 = [...r1.rows.val.lines, ...r1.rows.test.lines] as number[];
    expect(r1.rows.val.file).toBe('all.csv'); // as given, as config.data
    expect([r1.rows.val.lines.length, r1.rows.test.lines.length]).toEqual([60, 60]);
    expect(new Set(lines1).size).toBe(120);
    expect(lines1.every((l) => l >= 2 && l <= 301)).toBe(true);
    // The built-in default model is trained on z-scored features; --no-standardize feeds the values as they are.
    expect(r1.config.standardize).toBe(true);
    const files = await cli([...common, '--val-data', 'val.csv', '--test-data', 'test.csv', '--no-standardize', '--out', 'files'], { cwd });
    expect(files.code, files.stderr).toBe(0);
    const r2 = JSON.parse(readFileSync(join(cwd, 'files', 'report.json'), 'utf8'));
    expect(r2.samples).toEqual({ train: 300, val: 45, test: 60 });
    expect(r2.rows).toEqual({ val: { file: 'val.csv', lines: Array.from({ length: 45 }, (_, i) => i + 2) }, test: { file: 'test.csv', lines: Array.from({ length: 60 }, (_, i) => i + 2) } });
    expect(r2.config.standardize).toBe(false);
    // An ID column and a text column left out, the label column named: the same six inputs.
    writeFileSync(join(cwd, 'ids.csv'), [`id,note,${header}`, ...rows(300, 0).map((r, i) => `${1000 + i},"row ${i}",${r}`)].join('\n'));
    const onIds = common.map((a) => (a === 'all.csv' ? 'ids.csv' : a));
    const ids = await cli([...onIds, '--ignore-columns', 'id,note', '--label', 'kind', '--out', 'ids'], { cwd });
    expect(ids.code, ids.stderr).toBe(0);
    const r3 = JSON.parse(readFileSync(join(cwd, 'ids', 'report.json'), 'utf8'));
    expect(r3.config).toMatchObject({ ignoreColumns: ['id', 'note'], label: 'kind' });
    expect(r3.columns).toEqual({ inputs: ['a', 'b', 'c', 'd', 'e', 'f'], targets: ['kind'] });
    expect(r3.samples).toEqual({ train: 240, val: 30, test: 30 });
    expectCleanUsageError(await cli([...onIds, '--out', 'b4'], { cwd }), /ids\.csv line 2, column 'note': 'row 0' is not a number; the label column is 'kind' \(another: --label\); columns that are not inputs are left out with --ignore-columns, and a categorical input is given as the model was trained on it/);
    expectCleanUsageError(await cli(['--target', '0.5', '--data', 'synthetic', '--ignore-columns', 'id', '--out', 'b5'], { cwd }),
      /--ignore-columns applies only to CSV data/);
    // Bad split flags, CSV-only flags on built-in data, a separate file with other columns: one line, exit 2.
    expectCleanUsageError(await cli([...common, '--split', '0.8,0.2', '--out', 'b1'], { cwd }), /--split must be three non-negative fractions/);
    expectCleanUsageError(await cli(['--target', '0.5', '--data', 'synthetic', '--val-data', 'val.csv', '--out', 'b2'], { cwd }),
      /--val-data applies only to CSV data; 'synthetic' is built in/);
    writeFileSync(join(cwd, 'narrow.csv'), ['a,b,kind', '1,2,k0', '2,1,k1'].join('\n'));
    expectCleanUsageError(await cli([...common, '--test-data', 'narrow.csv', '--out', 'b3'], { cwd }), /narrow\.csv/);
    for (const o of ['b1', 'b2', 'b3', 'b4', 'b5']) expect(existsSync(join(cwd, o))).toBe(false);
  });

  it('a small CSV and no model: the built-in model gets the fine-tuning budget\'s steps, and a constant column is said to be fed as 0', async () => {
    const cwd = tempDir();
    // 60 rows, three separable classes, a constant column: 15 epochs at batch 128 were 15 optimizer steps here (a model worse than chance).
    const rows = Array.from({ length: 60 }, (_, i) => {
      const c = i % 3;
      return [...Array.from({ length: 4 }, (_, j) => (j === c ? 3 : 0) + 0.3 * Math.sin(5 * i + j)), 7, `k${c}`].join(',');
    });
    writeFileSync(join(cwd, 'tiny.csv'), ['a,b,c,d,const,kind', ...rows].join('\n'));
    const r = await cli(['--target', '0.5', '--data', 'tiny.csv', '--policy', 'global-magnitude', '--force', '--out', 'o'], { cwd });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/training the default model on first use \(cached afterwards\): 900 optimizer steps in \d+ rounds/);
    expect(r.stderr).toMatch(/std 0: 'const' is constant over the training rows and fed as 0/);
    const report = JSON.parse(readFileSync(join(cwd, 'o', 'report.json'), 'utf8'));
    expect(report.standardization.std[4]).toBe(0);
    // Separable classes, enough steps: the dense model gets every validation row right.
    expect(report.dense.valAccuracy).toBe(1);
  });

  it('run from inside a model\'s folder, --model . and --model model.json both write --out there (the working folder is no model folder to protect)', async () => {
    const dir = tempDir();
    // (An untrained model unsure of every class, deterministically: its random first layer seeded, its output layer 0. An
    // unseeded one was now and then sure of one class, and the run rightly refused it as trained for something else.)
    const m = tf.sequential({ layers: [
      tf.layers.dense({ inputShape: [4], units: 6, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dense({ units: 3, activation: 'softmax', kernelInitializer: 'zeros' }),
    ] });
    await m.save(`file://${join(dir, 'model')}`);
    m.dispose();
    writeFileSync(join(dir, 'model', 'd.csv'), `a,b,c,d,y\n${Array.from({ length: 150 }, (_, i) => `${i % 7},${i % 3},${i % 5},${i % 2},${i % 3}`).join('\n')}\n`);
    const cwd = join(dir, 'model');
    for (const [spec, out] of [['.', 'p1'], ['model.json', 'p2']]) {
      const r = await cli(['--model', spec, '--data', 'd.csv', '--target', '0.5', '--budget-steps', '20', '--force', '--policy', 'global-magnitude', '--out', out], { cwd });
      expect(r.code, r.stderr).toBe(0);
      expect(existsSync(join(cwd, out, 'model', 'model.json'))).toBe(true);
    }
  });

  it('an unwritable --out fails before any work', async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, 'file'), 'x');
    expectCleanUsageError(await cli(['--target', '0.5', ...FAST, '--out', 'file/sub'], { cwd }), /'.*file' is not a folder/);
    chmodSync(cwd, 0o755);
  });

  it('kill -9 mid-run, then --resume reaches the same target', async () => {
    const cwd = tempDir();
    const args = ['--target', '0.9', ...FAST, '--budget', '12', '--out', 'out', '--json'];
    const run = cliUntil(args, (l) => l.includes('"type":"checkpoint"'), { cwd });
    await run.seen;
    run.child.kill('SIGKILL');
    await run.exited;
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    const r = await cli([...args, '--resume'], { cwd });
    expect(r.code).toBe(0);
    const ev = events(r.stdout);
    expect(ev[0]).toMatchObject({ type: 'start', resumed: true });
    expect(ev.at(-1)).toMatchObject({ type: 'done', targetReached: true });
    expect(existsSync(join(cwd, 'out', 'report.json'))).toBe(true);
    // The resumed run's totals count the work before the kill too: as an uninterrupted run's.
    const ref = await cli([...args.slice(0, -3), '--out', 'ref', '--json'], { cwd });
    expect(ref.code).toBe(0);
    const totals = (dir: string) => JSON.parse(readFileSync(join(cwd, dir, 'report.json'), 'utf8')).totals;
    expect(totals('out')).toMatchObject({ scoringPasses: totals('ref').scoringPasses, criteria: totals('ref').criteria, fineTuneSteps: totals('ref').fineTuneSteps });
  });

  // SIGTERM is how a job scheduler or container stops a run: it ends the run as Ctrl-C does.
  it.each(['SIGINT', 'SIGTERM'] as const)('%s leaves a resumable state and says how to resume', async (signal) => {
    const cwd = tempDir();
    const args = ['--target', '0.9', ...FAST, '--budget', '12', '--out', 'out', '--json'];
    const run = cliUntil(args, (l) => l.includes('"type":"checkpoint"'), { cwd });
    await run.seen;
    run.child.kill(signal);
    // `timeout N autoprune …` delivers its SIGTERM twice (to the command and its process group): still one graceful stop.
    if (signal === 'SIGTERM') run.child.kill(signal);
    const r = await run.exited;
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/Resume with: autoprune .*--resume/);
    expect(events(r.stdout).at(-1)).toMatchObject({ type: 'error', exitCode: 130 });
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    const resumed = await cli([...args, '--resume'], { cwd });
    expect(resumed.code).toBe(0);
    expect(events(resumed.stdout)[0]).toMatchObject({ type: 'start', resumed: true });
  });

  it('started by npm (npx: npm → sh → node), a run whose launcher is killed stops as on SIGTERM, resumable (it ran on and wrote its output)', async () => {
    const { spawn } = await import('node:child_process');
    const cwd = tempDir();
    const args = ['--target', '0.9', ...FAST, '--budget', '12', '--out', 'out', '--json'];
    // The shell stands for npm and its `sh -c`: killing it hands node to another parent, as a SIGTERM to npx does.
    const shell = spawn('sh', ['-c', `"${process.execPath}" "${BIN}" ${args.join(' ')}; true`], { cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE, npm_command: 'exec' } });
    let out = '';
    let err = '';
    const closed = new Promise<void>((r) => shell.stdout.on('close', () => r()));
    shell.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    await new Promise<void>((r) => shell.stdout.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('"type":"checkpoint"')) r(); }));
    shell.kill('SIGKILL');
    await closed; // node, the pipe's last writer, has exited
    expect(events(out).at(-1)).toMatchObject({ type: 'error', exitCode: 130 });
    expect(err).toMatch(/the process that started this command \(npm\) is gone/);
    expect(existsSync(join(cwd, 'out'))).toBe(false);
    const resumed = await cli([...args, '--resume'], { cwd });
    expect(resumed.code, resumed.stderr).toBe(0);
  }, 120_000);

  it('a SIGTERM while the CLI is still loading TensorFlow exits 130 with a line, not 143 in silence', async () => {
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, [BIN, '--target', '0.5', '--data', 'synthetic', '--out', join(tempDir(), 'o'), '--json'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGTERM');
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(130);
    expect(err).toMatch(/autoprune: (error: )?interrupted before/);
    // --json: the interruption is an error event on stdout too.
    expect(out.trim().split('\n').map((l) => JSON.parse(l) as { type: string }).at(-1)).toMatchObject({ type: 'error', exitCode: 130 });
  }, 60_000);

  it('doctor says when the cache folder is one every run refuses', async () => {
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'not a folder');
    const r = await cli(['doctor'], { env: { AUTOPRUNE_CACHE_DIR: file } });
    // A health check: exit 1, so that a CI job does not pass a machine where every default run fails.
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/model cache\s*│ .*a-file \(UNUSABLE: every run refuses it\)/);
    expect(r.stderr).toMatch(/WARNING the cache folder '.*a-file' is a file, or a folder above it is; set AUTOPRUNE_CACHE_DIR to a writable folder/);
  }, 120_000);
});
