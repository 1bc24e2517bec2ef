import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PACKAGE_ROOT } from '../../src/backend/tf.js';
import { tempDir } from '../temp.js';

describe('the automatic backend without native TensorFlow', () => {
  it('falls back to wasm before cpu, as README says (the synchronous choice could not start wasm and took cpu)', () => {
    const dir = tempDir();
    // A machine where the native binding cannot load (another user than the installer, a missing libtensorflow).
    const hook = join(dir, 'no-native.cjs');
    writeFileSync(hook, "const M = require('module'); const load = M._load; M._load = function (r, ...a) { if (/tfjs-node/.test(r)) throw new Error('no native binding here'); return load.call(this, r, ...a); };\n");
    const r = spawnSync(process.execPath, ['-r', hook, join(PACKAGE_ROOT, 'bin', 'autoprune.js'), 'doctor', '--json'], {
      encoding: 'utf8', timeout: 120_000, env: { ...process.env, AUTOPRUNE_CACHE_DIR: join(dir, 'cache'), AUTOPRUNE_BACKEND: '' },
    });
    const doctor = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { backend: string; native: boolean; requested: string; skipped: string[] };
    expect(doctor).toMatchObject({ backend: 'wasm', native: false, requested: 'auto' });
    expect(doctor.skipped.some((s) => s.startsWith('tensorflow: '))).toBe(true);
  }, 150_000);
});
