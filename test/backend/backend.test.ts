import { describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { backendInfo, PACKAGE_ROOT, selectBackend, signalGuardActive, tf } from '../../src/backend/tf.js';
import { UsageError } from '../../src/errors.js';
import { gpuHint } from '../../src/cli/doctor.js';

describe('backend', () => {
  it('runs on native TensorFlow after npm install', () => {
    const info = backendInfo();
    expect(info.native).toBe(true);
    expect(info.name).toBe('tensorflow');
    expect(tf.getBackend()).toBe('tensorflow');
  });

  it('keeps the asynchronous signals off the thread TensorFlow computes on (the signal guard npm install builds), and a child process still gets them', async () => {
    const addon = join(PACKAGE_ROOT, '.native', 'signal-guard', 'signal_guard.node');
    expect(existsSync(addon)).toBe(true);
    expect(signalGuardActive()).toBe(true);
    expect((createRequire(import.meta.url)(addon) as { blocked(): boolean }).blocked()).toBe(true);
    // A child starts with its mask reset (libuv clears it before exec): SIGTERM still ends it.
    const { spawn } = await import('node:child_process');
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const exit = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, sig) => resolve(sig)));
    child.kill('SIGTERM');
    expect(await exit).toBe('SIGTERM');
  });

  it('refuses to switch backends inside one process', () => {
    expect(() => selectBackend('cpu')).toThrow(UsageError);
  });

  it('importing the library chooses no backend: selectBackend() as a user\'s first call picks it', async () => {
    const { execFileSync } = await import('node:child_process');
    const root = new URL('../..', import.meta.url).pathname;
    // The package's entry (dist, built by npm test) loads every module, PruningCallback's class included.
    const script = "const m = await import('./dist/index.js'); const i = m.selectBackend('cpu'); console.log(JSON.stringify({ name: i.name, tf: m.tf.getBackend() }));";
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ name: 'cpu', tf: 'cpu' });
  }, 60_000);
});

describe('AUTOPRUNE_BACKEND', () => {
  it('picks the backend of a CLI run (the default model cached without tfjs-node\'s file handler) and of doctor, which does not blame a missing native backend', async () => {
    const { cli } = await import('../cli/cli-helpers.js');
    const { tempDir } = await import('../helpers.js');
    const { existsSync } = await import('node:fs');
    const { join } = await import('node:path');
    const cache = tempDir('ap-cpu-cache-');
    const out = join(tempDir(), 'out');
    const env = { AUTOPRUNE_BACKEND: 'cpu', AUTOPRUNE_CACHE_DIR: cache };
    const run = await cli(['--data', 'synthetic', '--target', '0.5', '--budget-steps', '40', '--force', '--out', out, '--policy', 'global-magnitude'], { env });
    expect(run.stderr).not.toMatch(/cannot switch/);
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/non-native 'cpu' backend/);
    // Said once on the console, and kept in report.json's warnings (the run's own warning event: what an API caller gets).
    expect(run.stderr.match(/non-native 'cpu' backend/g)).toHaveLength(1);
    const { readFileSync } = await import('node:fs');
    const report = JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')) as { warnings: string[] };
    expect(report.warnings.filter((w) => /^running on the non-native 'cpu' backend, as asked/.test(w))).toHaveLength(1);
    expect(existsSync(join(out, 'model', 'model.json'))).toBe(true);
    const plain = await cli(['doctor'], { env });
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/backend\s*│ cpu \(NOT native: training about 30–50x slower\)/);
    // A pure-JS epoch (~15 s) is not spent by a health check: a few batches are timed and scaled to the epoch.
    expect(plain.stdout).toMatch(/training speed\s*│ [\d.]+ s per epoch \(LeNet-300-100, 8,006 MNIST digits, batch 128; scaled from 12 of its 63 batches\)/);
    expect(plain.stderr).toMatch(/WARNING the 'cpu' backend was asked for \(--backend or AUTOPRUNE_BACKEND\)/);
    expect(plain.stderr).not.toMatch(/no native backend/);
  }, 240_000);

  it('picks the backend of autoprune() too, wasm included (whose start is asynchronous)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { tempDir } = await import('../helpers.js');
    const root = new URL('../..', import.meta.url).pathname;
    const script = "const m = await import('./dist/index.js'); const r = await m.autoprune({ target: 0.5, data: 'synthetic', policy: 'global-magnitude', budgetSteps: 20, force: true });" +
      ' r.model.dispose(); console.log(JSON.stringify({ report: r.report.backend.name, tf: m.tf.getBackend() }));';
    const env = { ...process.env, AUTOPRUNE_BACKEND: 'wasm', AUTOPRUNE_CACHE_DIR: tempDir('ap-wasm-cache-') };
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: root, env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    expect(JSON.parse(out.trim().split('\n').pop()!)).toEqual({ report: 'wasm', tf: 'wasm' });
  }, 240_000);
});

describe('backend start-up log', () => {
  it('never follows a symlink planted at a predictable temp name (the start-up log goes to a private folder)', async () => {
    const { execFileSync } = await import('node:child_process');
    const { mkdtempSync, readFileSync, writeFileSync, rmSync } = await import('node:fs');
    const { join } = await import('node:path');
    const { tmpdir } = await import('node:os');
    const dir = mkdtempSync(join(tmpdir(), 'ap-symlink-'));
    try {
      const precious = join(dir, 'precious.txt');
      writeFileSync(precious, 'IMPORTANT\n');
      // The old name was /tmp/autoprune-tf-start-<pid>.log: plant it for the very process that loads the backend.
      const link = `${tmpdir()}/autoprune-tf-start-$$.log`;
      const script = `ln -s '${precious}' "${link}"; echo "${link}" > '${dir}/link'; exec node bin/autoprune.js doctor >/dev/null 2>&1`;
      try {
        execFileSync('bash', ['-c', script], { cwd: new URL('../..', import.meta.url).pathname, stdio: 'ignore' });
      } catch {
        // doctor's own exit code is not the point here
      }
      expect(readFileSync(precious, 'utf8')).toBe('IMPORTANT\n');
      rmSync(readFileSync(join(dir, 'link'), 'utf8').trim(), { force: true });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('doctor on a machine with a GPU', () => {
  it('says what the GPU backend needs when an NVIDIA device is present and training runs on the CPU, and nothing otherwise', () => {
    expect(gpuHint('tensorflow', ["tensorflow-gpu: Cannot find module '@tensorflow/tfjs-node-gpu'"])).toMatch(/NVIDIA device is present.*CUDA 11\.2 and cuDNN 8\.1.*docs\/gpu\.md/);
    expect(gpuHint('tensorflow', ['tensorflow-gpu: no CUDA device'])).toBeUndefined();
    expect(gpuHint('tensorflow-gpu', [])).toBeUndefined();
    expect(gpuHint('tensorflow', [])).toBeUndefined();
  });
});
