import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { tempDir } from '../helpers.js';

export const BIN = join(import.meta.dirname, '..', '..', 'bin', 'autoprune.js');
/** One model cache for all CLI tests of a run, so the default model is trained once. */
export const CACHE = tempDir('autoprune-cli-cache-');

export interface CliResult { code: number; stdout: string; stderr: string }

export function cli(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: opts.cwd, encoding: 'utf8', env: { ...process.env, AUTOPRUNE_CACHE_DIR: CACHE, ...opts.env }, timeout: 300_000,
  });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
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

/** The --json event lines, without the epoch progress events of the default model's first-use training. */
export function events(stdout: string): Record<string, unknown>[] {
  return stdout.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((e) => !(e.type === 'epoch' && e.phase === 'dense'));
}
