import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    setupFiles: ['test/setup.ts'],
    // Two test files at a time: most of a test's time is per-op dispatch, process starts and file I/O, which one
    // core does, so two forks on a 2-core machine take ~445 s where one at a time took ~740 s (2026-12-07). Each fork
    // is its own process with its own native TensorFlow (no shared state); the trained-model cache is written
    // atomically (saveModel renames a finished folder into place), so two files that train the same default model agree.
    fileParallelism: true,
    pool: 'forks',
    maxWorkers: 2,
    minWorkers: 1,
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
