import { consoleTable } from './table.js';
import { selectBackendAsync, signalGuardActive, slowdownOf, type BackendName } from '../backend/tf.js';
import { loadMnist10k } from '../data/mnist.js';
import { buildModel, LENET_300_100 } from '../models/families.js';
import { train } from '../models/train.js';
import { cacheDir } from '../models/cache.js';
import { checkCacheDir } from '../output-dir.js';
import { VERSION } from '../version.js';

export interface DoctorResult {
  version: string;
  node: string;
  backend: string;
  native: boolean;
  source: string;
  skipped: string[];
  /** What was asked for: 'auto' (native first), or a backend named by --backend or AUTOPRUNE_BACKEND. */
  requested: BackendName | 'auto';
  /** Seconds for one epoch of LeNet-300-100 on the 8,006 MNIST-10k training digits (batch 128). */
  epochSeconds: number;
  /**
   * How many of the epoch's batches were timed: all of them where an epoch is quick (native TensorFlow), else
   * PROBE_STEPS of them, scaled to the epoch (a pure-JS backend's epoch is ~15 s that a health check need not spend).
   */
  timedBatches: number;
  epochBatches: number;
  cacheDir: string;
  /** Why a run would refuse that cache folder (a file, not writable), if it would. */
  cacheProblem?: string;
  /** Whether signals are kept off the threads TensorFlow computes on (docs/reliability.md, "Signals"). */
  signalGuard: boolean;
}

/** The check every run makes of the cache folder (it creates it), as a problem to report rather than throw. */
function cacheCheck(): { cacheProblem?: string } {
  try {
    checkCacheDir();
    return {};
  } catch (err) {
    return { cacheProblem: err instanceof Error ? err.message : String(err) };
  }
}

/** Batches timed first; the whole epoch is timed only where these say it takes under EPOCH_TIMED_UNDER_S. */
const PROBE_STEPS = 12;
const BATCH = 128;
const EPOCH_TIMED_UNDER_S = 3;

/** Which backend is active and how fast it trains. */
export async function doctor(backend: BackendName | 'auto' = 'auto'): Promise<DoctorResult> {
  const info = await selectBackendAsync(backend);
  const data = loadMnist10k();
  const model = buildModel({ ...LENET_300_100, seed: 0 });
  try {
    const epochBatches = Math.ceil(data.train.labels.length / BATCH);
    train(model, data.train, { steps: 2, batchSize: BATCH }); // warm-up: kernels, the optimizer's slots
    const probe = train(model, data.train, { steps: PROBE_STEPS, batchSize: BATCH });
    const estimate = (probe.seconds * epochBatches) / PROBE_STEPS;
    const timedBatches = estimate < EPOCH_TIMED_UNDER_S ? epochBatches : PROBE_STEPS;
    const epochSeconds = timedBatches === epochBatches ? train(model, data.train, { epochs: 1, batchSize: BATCH }).seconds : estimate;
    return {
      version: VERSION, node: process.version, backend: info.name, native: info.native, source: info.source,
      skipped: info.skipped, requested: info.requested, epochSeconds, timedBatches, epochBatches, cacheDir: cacheDir(), ...cacheCheck(),
      signalGuard: signalGuardActive(),
    };
  } finally {
    model.dispose();
    data.dispose();
  }
}

/**
 * A line for a machine with an NVIDIA device that trains on the CPU anyway (tensorflow-gpu was tried and did not
 * load): what it needs and where that is written down. Undefined when no GPU was seen or the GPU backend runs.
 */
export function gpuHint(backend: string, skipped: readonly string[]): string | undefined {
  if (backend === 'tensorflow-gpu') return undefined;
  const gpu = skipped.find((s) => s.startsWith('tensorflow-gpu:'));
  if (!gpu || /no CUDA device/.test(gpu)) return undefined;
  return 'an NVIDIA device is present but training runs on the CPU: @tensorflow/tfjs-node-gpu 4.x needs CUDA 11.2 and cuDNN 8.1 ' +
    '(npm install @tensorflow/tfjs-node-gpu@4.22.0); docs/gpu.md says what was tried on newer CUDA';
}

export async function doctorCommand(opts: { backend: string; json?: boolean }): Promise<number> {
  const r = await doctor(opts.backend as BackendName | 'auto');
  // A health check a CI job can act on: 1 where every run would fail (an unusable cache) or train without native
  // TensorFlow though none was asked for; a pure-JS backend asked for by name is the user's choice (0).
  const code = r.cacheProblem || (!r.native && r.requested === 'auto') ? 1 : 0;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return code;
  }
  const t = consoleTable();
  t.push(
    { autoprune: r.version }, { node: r.node },
    { backend: `${r.backend}${r.native ? ' (native TensorFlow)' : ` (NOT native: training ${slowdownOf(r.backend)} slower)`}` },
    { 'loaded from': r.source },
    ...(r.skipped.length ? [{ 'not used': r.skipped.join('; ') }] : []),
    { 'training speed': `${r.epochSeconds.toFixed(2)} s per epoch (LeNet-300-100, 8,006 MNIST digits, batch 128` +
      `${r.timedBatches < r.epochBatches ? `; scaled from ${r.timedBatches} of its ${r.epochBatches} batches` : ''})` },
    { 'model cache': r.cacheProblem ? `${r.cacheDir} (UNUSABLE: every run refuses it)` : r.cacheDir },
    ...(r.native ? [{ 'signal guard': r.signalGuard ? 'on: signals are kept off the threads TensorFlow computes on'
      : 'off: a signal arriving while TensorFlow computes can abort the process (docs/reliability.md, "Signals"; `npx autoprune setup-native` builds the guard)' }] : []),
  );
  process.stdout.write(`${t.toString()}\n`);
  if (r.cacheProblem) process.stderr.write(`autoprune: WARNING ${r.cacheProblem}\n`);
  const hint = gpuHint(r.backend, r.skipped);
  if (hint) process.stderr.write(`autoprune: ${hint}\n`);
  // A pure-JS backend asked for by name is the user's choice, not a missing native one.
  if (!r.native && r.requested !== 'auto') process.stderr.write(`autoprune: WARNING the '${r.backend}' backend was asked for (--backend or AUTOPRUNE_BACKEND): training is ${slowdownOf(r.backend)} slower than on native TensorFlow, which autoprune uses by default where it loads\n`);
  else if (!r.native) process.stderr.write('autoprune: WARNING no native backend; run `npx autoprune setup-native --force --verbose`\n');
  return code;
}
