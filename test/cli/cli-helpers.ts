import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { buildModel, loadCsv, saveModel, train } from '../../src/index.js';
import { Rng } from '../../src/util/random.js';
import { tempDir } from '../helpers.js';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'autoprune.js');
/** One model cache for all CLI tests of a run, so the default model is trained once. */
export const CACHE = tempDir('autoprune-cli-cache-');

export interface CliResult { code: number; stdout: string; stderr: string }

/**
 * Runs the CLI to completion. Asynchronous on purpose: a synchronous spawn would block the vitest worker's
 * event loop for the whole run, and vitest reports an RPC timeout when that passes a minute.
 */
export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: opts.cwd, env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 300_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Starts the CLI and resolves once `until(line)` is true for a stdout line, handing back the child. */
export function cliUntil(args: string[], until: (line: string) => boolean, opts: { cwd?: string } = {}) {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: opts.cwd, env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE }, stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const seen = new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.split('\n').some(until)) resolve();
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('exit', (code) => reject(new Error(`exited ${code} before the expected line:\n${out}\n${err}`)));
  });
  const exited = new Promise<CliResult>((resolve) => child.on('exit', (code, signal) => resolve({ code: code ?? (signal ? 128 + 9 : -1), stdout: out, stderr: err })));
  return { child, seen, exited };
}

/** The --json event lines, without the progress events before `start` (the default model's first-use training, the guard's control and its `phase` event). */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => e.type !== 'phase' && !(e.type === 'epoch' && (e.phase === 'dense' || e.phase === 'control')));
}

/** A bad-input failure as users must see it: exit code 2 and exactly one `autoprune: error` line matching `pattern`. */
export function expectCleanUsageError(r: { code: number; stderr: string }, pattern: RegExp): void {
  expect(r.code).toBe(2);
  // One line: the error, nothing before it (the native backend's line waits for the run's first event).
  const lines = r.stderr.trim().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^autoprune: error/);
  expect(lines[0]).toMatch(pattern);
  // Quoted file contents never reach the terminal raw (escape codes) or as lines of their own.
  expect(r.stderr).not.toMatch(/[\u0000-\u0008\u000b-\u001f\u007f]/); // eslint-disable-line no-control-regex
}

/**
 * A user's own model family in `cwd`: churn.csv (500 rows, 8 features, a yes/no label) and binary
 * sigmoid MLPs trained on it, saved as tfjs model folders named by `models` ([name, hidden, seed]).
 */
export async function churnFamily(cwd: string, models: readonly (readonly [string, readonly number[], number])[]): Promise<void> {
  const rng = new Rng(5);
  const lines = ['a,b,c,d,e,f,g,h,churn'];
  for (let r = 0; r < 500; r++) {
    const x = Array.from({ length: 8 }, () => rng.normal());
    lines.push([...x.map((v) => v.toFixed(4)), x[0] + 0.5 * x[1] - x[2] > 0 ? 'yes' : 'no'].join(','));
  }
  writeFileSync(join(cwd, 'churn.csv'), `${lines.join('\n')}\n`);
  const data = loadCsv({ path: join(cwd, 'churn.csv'), standardize: false });
  for (const [name, hidden, seed] of models) {
    const model = buildModel({ family: 'mlp', inputShape: [8], hidden: [...hidden], numClasses: 2, binaryOutput: true, seed });
    train(model, data.train, { epochs: 10, batchSize: 32, seed });
    await saveModel(model, join(cwd, name));
    model.dispose();
  }
  data.dispose();
}
