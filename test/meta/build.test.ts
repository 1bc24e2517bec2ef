import { fork } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { buildMeta, type BuildEvent } from '../../src/meta/build.js';
import { familyOracle } from '../../src/meta/cli-build-meta.js';
import { metaColumn, readMeta } from '../../src/meta/format.js';
import type { ZooModel } from '../../src/meta/zoo.js';
import { FEATURE_SCHEMA } from '../../src/features/schema.js';
import { tempDir } from '../helpers.js';
import { PACKAGE_ROOT } from '../../src/backend/tf.js';

export const TINY_ZOO: ZooModel[] = [
  { id: 'tiny-a', family: 'mlp', args: { family: 'mlp', inputShape: [784], hidden: [16], numClasses: 10, seed: 100 }, epochs: 2 },
  { id: 'tiny-b', family: 'mlp', args: { family: 'mlp', inputShape: [784], hidden: [12, 8], numClasses: 10, seed: 101 }, epochs: 2 },
];

describe('buildMeta (in process)', () => {
  it('builds a labelled, stratified meta-dataset from a tiny zoo and reuses cached models', async () => {
    const dir = tempDir();
    const events: BuildEvent[] = [];
    const opts = {
      family: 'mlp', models: TINY_ZOO, workers: 1, out: join(dir, 'meta-tiny.json'), cacheDir: join(dir, 'cache'),
      limitPerDigit: 15, oracle: { targets: [0.5, 0.8, 0.9], criteria: ['global-magnitude' as const, 'wanda' as const], factors: [0.5] },
      stages: [0, 0.5], maxRowsPerLayerPerStage: 100, command: 'test', onProgress: (e: BuildEvent) => events.push(e),
    };
    const header = await buildMeta(opts);
    const ds = readMeta(opts.out);
    expect(ds.header.rows).toBe(header.rows);
    expect(ds.header.columns.slice(0, FEATURE_SCHEMA.names.length)).toEqual([...FEATURE_SCHEMA.names]);
    expect(ds.header.models.map((m) => m.id)).toEqual(['tiny-a', 'tiny-b']);
    const label = metaColumn(ds, 'label'), layer = metaColumn(ds, 'layer'), stage = metaColumn(ds, 'stage');
    const model = metaColumn(ds, 'model');
    for (let r = 0; r < ds.header.rows; r++) {
      expect(label[r]).toBeGreaterThanOrEqual(0);
      expect(label[r]).toBeLessThanOrEqual(1);
    }
    // ≤ 100 rows per (model, layer, stage); both stages and both models present.
    const groups = new Map<string, number>();
    for (let r = 0; r < ds.header.rows; r++) { const k = `${model[r]}/${layer[r]}/${stage[r]}`; groups.set(k, (groups.get(k) ?? 0) + 1); }
    for (const n of groups.values()) expect(n).toBeLessThanOrEqual(100);
    expect(new Set(stage)).toEqual(new Set([0, 0.5]));
    expect(new Set(model)).toEqual(new Set([0, 1]));
    expect(events.filter((e) => e.type === 'model-done').length).toBe(2);
    expect(events.some((e) => e.type === 'model-trained' && !e.cached)).toBe(true);
    // A fresh rebuild loads the dense models from the cache, reruns the oracle and gives identical rows.
    const again: BuildEvent[] = [];
    await buildMeta({ ...opts, fresh: true, out: join(dir, 'again.json'), onProgress: (e) => again.push(e) });
    expect(again.filter((e) => e.type === 'model-trained').every((e) => e.type === 'model-trained' && e.cached)).toBe(true);
    expect(again.some((e) => e.type === 'rows-cached')).toBe(false);
    expect(Array.from(readMeta(join(dir, 'again.json')).data)).toEqual(Array.from(ds.data));
    // Without --fresh the finished rows are reused (no oracle run); other settings miss the cache.
    const resumed: BuildEvent[] = [];
    await buildMeta({ ...opts, out: join(dir, 'resumed.json'), onProgress: (e) => resumed.push(e) });
    expect(resumed.filter((e) => e.type === 'rows-cached').map((e) => e.type === 'rows-cached' && e.model)).toEqual(['tiny-a', 'tiny-b']);
    expect(resumed.some((e) => e.type === 'oracle-stage')).toBe(false);
    expect(Array.from(readMeta(join(dir, 'resumed.json')).data)).toEqual(Array.from(ds.data));
    const other: BuildEvent[] = [];
    await buildMeta({ ...opts, models: TINY_ZOO.slice(0, 1), maxRowsPerLayerPerStage: 50, out: join(dir, 'other.json'), onProgress: (e) => other.push(e) });
    expect(other.some((e) => e.type === 'rows-cached')).toBe(false);
  });
});

describe('per-family oracle settings of build-meta', () => {
  it('judges cnn candidates on loss over full epochs and keeps the mlp defaults; an explicit sample count wins', () => {
    expect(familyOracle('cnn')).toEqual({ judge: 'loss' });
    expect(familyOracle('mlp')).toBeUndefined();
    expect(familyOracle('cnn', 4000)).toEqual({ judge: 'loss', candidateSamples: 4000 });
    expect(familyOracle('mlp', 500)).toEqual({ candidateSamples: 500 });
  });
});

describe('build-meta worker process', () => {
  it('exits cleanly when told to exit twice (the parent tells an idle worker, then every worker at the end)', async () => {
    const child = fork(join(PACKAGE_ROOT, 'dist', 'meta', 'worker.js'), [], { serialization: 'advanced', stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    const code = await new Promise<number | null>((done) => {
      child.on('exit', done);
      child.on('spawn', () => {
        child.send({ type: 'exit' });
        if (child.connected) child.send({ type: 'exit' });
      });
    });
    // It used to die inside Node (ERR_IPC_DISCONNECTED, or a null channel), a stack trace among --json's lines.
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});
