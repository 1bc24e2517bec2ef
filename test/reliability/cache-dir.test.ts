import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/errors.js';
import { cacheDir } from '../../src/models/cache.js';
import { checkCacheDir } from '../../src/output-dir.js';
import { modelCacheDir } from '../../src/meta/zoo.js';
import { tempDir } from '../helpers.js';

const saved = { cache: process.env.AUTOPRUNE_CACHE_DIR, xdg: process.env.XDG_CACHE_HOME };
afterEach(() => {
  for (const [k, v] of [['AUTOPRUNE_CACHE_DIR', saved.cache], ['XDG_CACHE_HOME', saved.xdg]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('the cache folder', () => {
  it('an empty AUTOPRUNE_CACHE_DIR (a pipeline\'s ${X:-}) means unset, never the working folder', () => {
    process.env.AUTOPRUNE_CACHE_DIR = '';
    delete process.env.XDG_CACHE_HOME;
    expect(cacheDir()).toBe(join(homedir(), '.cache', 'autoprune'));
    process.env.AUTOPRUNE_CACHE_DIR = 'rel/cache';
    expect(cacheDir()).toBe(join(process.cwd(), 'rel', 'cache'));
  });

  it('build-meta caches its models in the same folder as every run (models/ of it), XDG_CACHE_HOME and an empty variable included', () => {
    const xdg = tempDir('autoprune-xdg-');
    process.env.AUTOPRUNE_CACHE_DIR = '';
    process.env.XDG_CACHE_HOME = xdg;
    expect(modelCacheDir()).toBe(join(xdg, 'autoprune', 'models'));
    process.env.AUTOPRUNE_CACHE_DIR = join(xdg, 'mine');
    expect(modelCacheDir()).toBe(join(xdg, 'mine', 'models'));
  });

  it('is checked before any work: a file, or a read-only folder, is one clear UsageError', () => {
    const dir = tempDir('autoprune-cachedir-');
    writeFileSync(join(dir, 'file'), 'x');
    process.env.AUTOPRUNE_CACHE_DIR = join(dir, 'file');
    expect(() => checkCacheDir()).toThrow(UsageError);
    expect(() => checkCacheDir()).toThrow(/the cache folder '.*file' is a file, or a folder above it is; set AUTOPRUNE_CACHE_DIR to a writable folder/);
    process.env.AUTOPRUNE_CACHE_DIR = join(dir, 'file', 'below');
    expect(() => checkCacheDir()).toThrow(/is a file, or a folder above it is/);
    if (process.getuid?.() !== 0) {
      mkdirSync(join(dir, 'ro'));
      chmodSync(join(dir, 'ro'), 0o500);
      process.env.AUTOPRUNE_CACHE_DIR = join(dir, 'ro');
      expect(() => checkCacheDir()).toThrow(/cannot write the cache folder .* is not writable \(EACCES: no permission\)/);
      chmodSync(join(dir, 'ro'), 0o700);
    }
    process.env.AUTOPRUNE_CACHE_DIR = join(dir, 'fresh', 'cache');
    expect(() => checkCacheDir()).not.toThrow();
  });
});
