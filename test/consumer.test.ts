/**
 * autoprune as a TypeScript user gets it: `npm pack` → `npm install <tarball>` into a fresh project (npm's cache first,
 * the registry for what it lacks) → `npx autoprune setup-native` → a strict
 * TypeScript file (strict + exactOptionalPropertyTypes) that uses only the package's public exports: the
 * PruningCallback in the user's own model.fit with the user's optimizer, a custom Scorer typed by name, a
 * frontier sweep, and abort. It must compile without casts and run on the native backend.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from './helpers.js';

const root = new URL('..', import.meta.url).pathname;

const CONSUMER_TS = `import {
  autoprune, PruningCallback, loadSynthetic, tf, InterruptedError, type TF,
  type AgentEvent, type AutopruneResult, type ConnectionFeatures, type Scorer, type StopReason,
} from 'autoprune';
import { decodeSparse } from 'autoprune/sparse';

const data = loadSynthetic({ samples: 600, features: 12, classes: 3, seed: 1 });

// 1. The user's own model, optimizer and model.fit; autoprune's callback prunes on its schedule.
const model = tf.sequential({ layers: [
  tf.layers.dense({ inputShape: [12], units: 48, activation: 'relu' }),
  tf.layers.dense({ units: 3, activation: 'softmax' }),
] });
model.compile({ optimizer: tf.train.momentum(0.05, 0.9), loss: 'categoricalCrossentropy' });
const y = tf.oneHot(tf.tensor1d(data.train.labels, 'int32'), 3);
const pruner = new PruningCallback(model, { target: 0.6, calibration: data.train });
await model.fit(data.train.x, y, { epochs: 3, batchSize: 32, callbacks: [pruner], verbose: 0 });
const callbackSparsity = pruner.sparsity().global;
const plain: TF.LayersModel = pruner.strip();
const probe: TF.Tensor = tf.zeros([1, 12]);
probe.dispose();

// 2. A custom criterion, typed by the package's own names.
const byMagnitude: Scorer = {
  name: 'my-magnitude',
  rowwise: true,
  score(features: ConnectionFeatures): Float32Array[] {
    const col = features.schema.names.indexOf('abs_w');
    return features.layers.map((l) => Float32Array.from(l.columns[col] ?? [], (v) => -v));
  },
};

// 3. A frontier sweep: 0.5 recorded on the way to 0.8 in one run, on a dataset of the form README describes
// (splits, numClasses, inputShape: no name, class names or dispose).
const events: AgentEvent[] = [];
const result: AutopruneResult = await autoprune({
  target: 0.8, frontier: [0.5], data: { train: data.train, val: data.val, test: data.test, numClasses: 3, inputShape: [12] }, policy: byMagnitude, maxDrop: 5, budgetEpochs: 4,
  onEvent: (e) => { events.push(e); },
});
const stop: StopReason | undefined = result.report.final.stopReason;

// 4. Abort: an already aborted signal rejects with its reason as the cause, before loading anything.
const controller = new AbortController();
controller.abort(new Error('trial cancelled'));
const aborted = await autoprune({ target: 0.5, data, signal: controller.signal }).then(() => undefined, (e: unknown) => e);

console.log(JSON.stringify({
  backend: tf.getBackend(),
  callbackSparsity,
  plainLayers: plain.layers.length,
  finalSparsity: result.report.final.sparsity,
  frontier: (result.report.frontier ?? []).map((f) => f.target),
  stop,
  events: events.filter((e) => e.type === 'step').length,
  abortedIsInterrupted: aborted instanceof InterruptedError,
  abortCause: aborted instanceof Error && aborted.cause instanceof Error ? aborted.cause.message : null,
  decodeSparse: typeof decodeSparse,
}));
result.model.dispose();
`;

describe('a strict TypeScript consumer of the packed package', () => {
  it('installs the tarball, reuses the native backend and compiles and runs a file using only public exports', () => {
    const dir = tempDir('autoprune-consumer-');
    const packDir = join(dir, 'pack');
    mkdirSync(packDir);
    const tgz = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', packDir], { cwd: root, encoding: 'utf8' }).trim().split('\n').pop()!;
    const app = join(dir, 'app');
    mkdirSync(app);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    const env = { ...process.env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
    execFileSync('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-package-lock', join(packDir, tgz)], { cwd: app, env, stdio: 'pipe', timeout: 300_000 });
    // What a user runs after --ignore-scripts: links the machine's native build (or builds it).
    const setup = spawnSync(process.execPath, [join(app, 'node_modules', 'autoprune', 'bin', 'autoprune.js'), 'setup-native'], { cwd: app, env, encoding: 'utf8', timeout: 300_000 });
    expect(setup.status, setup.stderr).toBe(0);
    writeFileSync(join(app, 'consumer.ts'), CONSUMER_TS);
    // @types/node as a Node user has it; skipLibCheck off so that autoprune's own .d.ts are checked too.
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'],
        typeRoots: [join(root, 'node_modules', '@types')], types: ['node'],
        strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, skipLibCheck: false, outDir: 'out',
      },
      files: ['consumer.ts'],
    }));
    const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, encoding: 'utf8' });
    // tfjs' own declarations do not pass exactOptionalPropertyTypes (not ours to fix); ours and the consumer's must.
    const errors = tsc.stdout.split('\n').filter((l) => /error TS/.test(l));
    expect(errors.filter((l) => !l.startsWith('node_modules/@tensorflow/')), tsc.stdout).toEqual([]);
    expect(readFileSync(join(app, 'consumer.ts'), 'utf8')).not.toMatch(/\bas\s+(unknown|any|[A-Z])/); // no casts
    const run = spawnSync(process.execPath, [join(app, 'out', 'consumer.js')], { cwd: app, encoding: 'utf8', timeout: 300_000 });
    expect(run.status, run.stderr).toBe(0);
    const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(out.backend).toBe('tensorflow');
    expect(out.callbackSparsity).toBeGreaterThan(0.59);
    expect(out.plainLayers).toBe(2);
    expect(out.frontier).toEqual([0.5, 0.8]); // the recorded target on the way, then the final one
    expect(out.finalSparsity as number).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(['target', 'guard', 'budget', 'stalled', 'forced']).toContain(out.stop);
    expect(out.events as number).toBeGreaterThan(0);
    expect(out.abortedIsInterrupted).toBe(true);
    expect(out.abortCause).toBe('trial cancelled');
    expect(out.decodeSparse).toBe('function');
    expect(run.stderr).not.toMatch(/oneDNN|already registered/);
  }, 600_000);
});
