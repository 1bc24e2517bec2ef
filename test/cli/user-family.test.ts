/**
 * Retraining a policy on the user's own model family, end to end through the CLI: their trained
 * models (a binary sigmoid MLP on a tabular CSV) → build-meta → train-policy → a pruning run with
 * the new policy. Nothing of it is MNIST or a built-in zoo.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { spawn } from 'node:child_process';
import { BIN, CACHE, churnFamily, cli, expectCleanUsageError } from './cli-helpers.js';
import { PACKAGE_ROOT } from '../../src/backend/tf.js';

describe('a policy for the user\'s own family', () => {
  it('build-meta on their models and CSV, train-policy, then prune with it', async () => {
    const cwd = tempDir();
    await churnFamily(cwd, [['m1', [24, 12], 1], ['m2', [16], 2]]);
    const weightsBefore = readFileSync(join(cwd, 'm1', 'weights.bin'));

    const b = await cli(['build-meta', '--family', 'churn-mlp', '--models', 'm1', 'm2/model.json', '--data', 'churn.csv', '--label', 'churn',
      '--workers', '1', '--out', 'meta/churn.json'], { cwd });
    expect(b.code, b.stderr).toBe(0);
    // Both files are named (the rows file train-policy reads with the header was written in silence).
    expect(b.stderr + b.stdout).toMatch(/wrote meta\/churn\.json and its rows meta\/churn\.bin\.gz \(\d+ rows, \d+ s; keep them together: train-policy reads both\)/);
    const header = JSON.parse(readFileSync(join(cwd, 'meta', 'churn.json'), 'utf8'));
    expect(header.family).toBe('churn-mlp');
    expect(header.models.map((m: { id: string }) => m.id)).toEqual(['m1', 'm2']);
    expect(header.oracle.judge).toBe('loss');
    expect(header.rows).toBeGreaterThan(100);
    expect(readFileSync(join(cwd, 'm1', 'weights.bin')).equals(weightsBefore)).toBe(true);

    const t = await cli(['train-policy', '--meta', 'meta/churn.json', '--kind', 'cart', '--out', 'policies/churn.json', '--json'], { cwd });
    expect(t.code, t.stderr).toBe(0);
    // --json: the progress stream is JSON lines to its end (no plain "wrote" line after them).
    const lines = t.stderr.split('\n').filter((l) => l.startsWith('{'));
    expect(lines.map((l) => JSON.parse(l).type)).toContain('written');
    expect(t.stderr).not.toMatch(/^train-policy: wrote/m);
    // The same rows twice would count each model twice and leak it into its own leave-one-model-out check.
    expectCleanUsageError(await cli(['train-policy', '--meta', 'meta/churn.json', 'meta/churn.json', '--out', 'policies/twice.json'], { cwd }),
      /meta-dataset 'meta\/churn.json' is given twice: pass each meta-dataset once/);
    expect(existsSync(join(cwd, 'policies', 'twice.json'))).toBe(false);
    // The same trained model under another path, in one build: refused before any work.
    expectCleanUsageError(await cli(['build-meta', '--family', 'churn-mlp', '--models', 'm1', 'm1/model.json', '--data', 'churn.csv', '--label', 'churn', '--workers', '1', '--out', 'meta/dup.json'], { cwd }),
      /--models lists the same trained model twice: 'm1' and 'm1\/model.json' have identical model files/);
    expect(existsSync(join(cwd, 'meta', 'dup.json'))).toBe(false);
    // Built again with the label left to its default (the last column, the same one): still the same model for train-policy.
    const m1 = await cli(['build-meta', '--family', 'churn-mlp', '--models', 'm1', '--data', 'churn.csv', '--workers', '1', '--out', 'meta/m1.json'], { cwd });
    expect(m1.code, m1.stderr).toBe(0);
    expectCleanUsageError(await cli(['train-policy', '--meta', 'meta/churn.json', 'meta/m1.json', '--out', 'policies/overlap.json'], { cwd }),
      /model 'm1' is in both 'meta\/churn.json' and 'meta\/m1.json' \(the same trained model\)/);
    const policy = JSON.parse(readFileSync(join(cwd, 'policies', 'churn.json'), 'utf8'));
    expect(policy.provenance.families).toEqual(['churn-mlp']);

    const p = await cli(['--target', '0.6', '--model', 'm1', '--data', 'churn.csv', '--label', 'churn', '--policy', 'policies/churn.json',
      '--budget', '6', '--max-drop', '5', '--force', '--out', 'out', '--json'], { cwd });
    expect(p.code, p.stderr).toBe(0);
    const report = JSON.parse(readFileSync(join(cwd, 'out', 'report.json'), 'utf8'));
    expect(report.final.sparsity).toBeGreaterThanOrEqual(0.6 - 1e-3);
    expect(report.policy.file).toContain('churn.json');

    // The same path with other rows is other data: its rows are rebuilt, not served from the cache.
    const again = await cli(['build-meta', '--family', 'churn-mlp', '--models', 'm2', '--data', 'churn.csv', '--label', 'churn', '--workers', '1', '--out', 'meta/same.json'], { cwd });
    expect(again.stderr).toMatch(/rows from the cache/);
    writeFileSync(join(cwd, 'churn.csv'), readFileSync(join(cwd, 'churn.csv'), 'utf8').split('\n').slice(0, 400).join('\n'));
    const changed = await cli(['build-meta', '--family', 'churn-mlp', '--models', 'm2', '--data', 'churn.csv', '--label', 'churn', '--workers', '1', '--out', 'meta/changed.json'], { cwd });
    expect(changed.code, changed.stderr).toBe(0);
    expect(changed.stderr).not.toMatch(/rows from the cache/);
  }, 300_000);

  it('Ctrl-C during an in-process build-meta stops after the model in hand and says what is cached; nothing is written', async () => {
    const cwd = tempDir();
    await churnFamily(cwd, [['m1', [24, 12], 1], ['m2', [16], 2]]);
    const child = spawn(process.execPath, [BIN, 'build-meta', '--family', 'churn-mlp', '--models', 'm1', 'm2', '--data', 'churn.csv', '--label', 'churn',
      '--workers', '1', '--fresh', '--out', 'meta/int.json'], { cwd, env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE }, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      // The first model's rows are done: interrupt during the second.
      if (/m1: \d+ rows in \d+ s {2}\[1\/2\]/.test(err) && !child.killed) child.kill('SIGINT');
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(code, err).toBe(130);
    expect(err).toMatch(/autoprune: interrupted: [12] of 2 models' rows were built and are cached \(the same command reuses them\); meta\/int\.json was not written/);
    expect(existsSync(join(cwd, 'meta', 'int.json'))).toBe(false);
  }, 300_000);

  it('build-meta refuses a model that does not fit the labels (swapped yes/no) and takes --label-order, --split-seed, --val-data', async () => {
    const cwd = tempDir();
    await churnFamily(cwd, [['m1', [16], 1]]);
    const swapped = readFileSync(join(cwd, 'churn.csv'), 'utf8').replace(/,yes$/gm, ',TMP').replace(/,no$/gm, ',yes').replace(/,TMP$/gm, ',no');
    writeFileSync(join(cwd, 'swapped.csv'), swapped);
    const args = ['build-meta', '--family', 'churn-mlp', '--models', 'm1', '--data', 'swapped.csv', '--label', 'churn', '--workers', '1', '--out', 'meta/s.json'];
    expectCleanUsageError(await cli(args, { cwd }), /^autoprune: error: build-meta: model 'm1': the model's accuracy on the validation split is \d+\.\d % .*pass --label-order/);
    expect(existsSync(join(cwd, 'meta'))).toBe(false);
    // The wrong order given explicitly is the user's to answer for, but said (it used to pass silently): the warning reaches stderr.
    const told = await cli([...args, '--label-order', 'no,yes', '--out', 'meta/w.json'], { cwd });
    expect(told.stderr).toMatch(/autoprune: warning: build-meta: model 'm1': .* with --label-order no,yes; with the names in the order yes, no it would be \d+\.\d %: if the model was trained with that order, pass --label-order yes,no/);
    const ok = await cli([...args, '--label-order', 'yes,no', '--split-seed', '0'], { cwd });
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, 'meta', 's.json'), 'utf8')).rows).toBeGreaterThan(0);
    expect(ok.stderr.match(/wrote /g)).toHaveLength(1);
    expectCleanUsageError(await cli(['build-meta', '--family', 'mlp', '--val-data', 'v.csv', '--out', 'meta/x.json'], { cwd }), /--val-data, --test-data, --split-seed and --standardize describe the data of --models/);
    // A model trained on z-scores (loadCsv's default), given the raw columns: refused naming the model and --standardize,
    // which build-meta takes as autoprune does (a new user's z-scored family could not be built at all).
    const sw = join(PACKAGE_ROOT, 'datasets', 'small', 'seattle-weather');
    const lines = readFileSync(join(sw, 'data.csv'), 'utf8').trim().split('\n');
    writeFileSync(join(cwd, 'raw.csv'), `${[lines[0], ...lines.slice(1).map((l) => l.split(',').map((v, j, a) => (j < a.length - 1 ? (12 + 4 * Number(v)).toFixed(3) : v)).join(','))].join('\n')}\n`);
    const zArgs = ['build-meta', '--family', 'weather', '--models', join(sw, 'model'), '--data', 'raw.csv', '--workers', '1', '--quick', '--out', 'meta/z.json'];
    expectCleanUsageError(await cli(zArgs, { cwd }), /^autoprune: error: build-meta: model '.*model': raw\.csv: .* with them standardized .*pass --standardize$/);
    // A held-out file prepared otherwise than the data file (the raw columns beside z-scores): refused as autoprune refuses it.
    expectCleanUsageError(await cli(['build-meta', '--family', 'weather', '--models', join(sw, 'model'), '--data', join(sw, 'data.csv'), '--val-data', 'raw.csv', '--workers', '1', '--quick', '--out', 'meta/v.json'], { cwd }),
      /^autoprune: error: build-meta: model '.*model': raw\.csv: \d+ of its \d+ input columns lie far from the training rows' .*its validation rows are scaled or prepared otherwise than .*data\.csv's; give --val-data rows prepared as the training rows$/);
    const z = await cli([...zArgs, '--standardize'], { cwd });
    expect(z.code, z.stderr).toBe(0);
    expect(JSON.parse(readFileSync(join(cwd, 'meta', 'z.json'), 'utf8')).rows).toBeGreaterThan(0);
  }, 180_000);

  it.each([
    [['--family', 'mine'], /--family 'mine' has no built-in zoo .*--models/],
    [['--family', 'mine', '--data', 'x.csv'], /--models is missing: family 'mine' has no built-in zoo \(mlp, cnn\)/],
    [['--family', 'mlp', '--data', 'x.csv'], /--data, --label, --ignore-columns, --label-order, --val-data, --test-data, --split-seed and --standardize describe the data of --models/],
    [['--family', 'mine', '--models', 'no/such'], /model file 'no\/such' does not exist/],
    [['--family', 'mine', '--models', 'm', '--data', 'nope.csv'], /data file 'nope.csv' does not exist/],
    [['--family', 'bad name', '--models', 'm'], /--family must be a name/],
    [['--family', 'mlp', '--models', 'm'], /--family 'mlp' is a built-in zoo's name \(mlp, cnn\); name your own family otherwise/],
    [['--family', 'mine', '--models', '.'], /model folder '\.' holds no model\.json; give each model's model\.json \(or its folder\) to --models/],
    [['--family', 'mine', '--models', ''], /--models needs model paths, got an empty one/],
    [['--family', 'mine', '--models', '--data', 'x.csv'], /--models took '--data', an option, as a model path/],
    // --out checked before the oracle's work (the last --out wins: this one is not a .json header path).
    [['--family', 'mine', '--models', 'm', '--out', 'meta/x.json', '--out', 'meta'], /--out is the meta-dataset's header file and must end in \.json/],
  ])('build-meta bad input %j → one clear line, exit 2, nothing written', async (args, pattern) => {
    const cwd = tempDir();
    expectCleanUsageError(await cli(['build-meta', ...(args.includes('--out') ? args : [...args, '--out', 'meta/x.json'])], { cwd }), pattern);
    expect(existsSync(join(cwd, 'meta'))).toBe(false);
  });
});
