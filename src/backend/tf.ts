/**
 * The only module that imports a TensorFlow.js backend package. Everything else imports `tf` from here.
 *
 * Preference order: tfjs-node-gpu (when CUDA is usable) → tfjs-node (npm's, or the one
 * scripts/setup-native.mjs built from a local TensorFlow wheel: .native/tfjs-node, its libraries shared
 * per machine in ~/.cache/autoprune/native) → wasm → cpu.
 * `AUTOPRUNE_BACKEND` or `selectBackend(name)` overrides the choice.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as TF from '@tensorflow/tfjs';
import { UsageError } from '../errors.js';

// Quieten TensorFlow's C++ start-up banner unless the user asked for it (libtensorflow ≤ 2.16 honours
// this; the 2.21 wheel the fallback is built from logs through absl, see requireQuietly).
process.env.TF_CPP_MIN_LOG_LEVEL ??= '2';

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

/**
 * How much slower training is on a non-native backend than on native TensorFlow, as measured with `autoprune doctor`'s
 * epoch (LeNet-300-100, 8,006 MNIST digits) on the project's 2-core machines (2026-12-05; README): the pure-JS `cpu`
 * backend 28–54×, `wasm` about 5–9× (2.51 s against 0.51 s, 3.49 s against 0.39 s on another day).
 */
export function slowdownOf(backend: string): string {
  return backend === 'wasm' ? 'about 5–9x' : 'about 30–50x';
}
export const BACKEND_NAMES: readonly BackendName[] = Object.freeze(['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu']);

export interface BackendInfo {
  /** What autoprune asked for: a name or 'auto'. */
  requested: BackendName | 'auto';
  /** The backend in use. */
  name: BackendName;
  /** The tfjs backend name reported by tf.getBackend(). */
  tfBackend: string;
  /** Whether training runs on native TensorFlow. */
  native: boolean;
  /** Where the backend package was loaded from. */
  source: string;
  /** Backends tried before this one and why they were not used. */
  skipped: string[];
}

/**
 * What a run on a non-native backend is told (the CLI on stderr at its start, every run as a `warning` event and in
 * report.json's warnings); undefined on the native one. Asked for by name (--backend, AUTOPRUNE_BACKEND): said, without
 * advice to install what the user chose not to use.
 */
export function slowBackendWarning(info: BackendInfo): string | undefined {
  if (info.native) return undefined;
  return info.requested === info.name
    ? `running on the non-native '${info.name}' backend, as asked (--backend or AUTOPRUNE_BACKEND): training is ${slowdownOf(info.name)} slower than on the native one (README)`
    : `running on the non-native '${info.name}' backend: training is ${slowdownOf(info.name)} slower (README). ` +
      'Run `npx autoprune setup-native` (it builds or reuses the native TensorFlow backend) or check `autoprune doctor`.';
}

const require = createRequire(import.meta.url);
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const NATIVE_FALLBACK_DIR = join(PACKAGE_ROOT, '.native', 'tfjs-node');

type TfModule = typeof TF;

/** Whether the main thread blocks the asynchronous signals (the signal guard), set once before TensorFlow starts. */
let signalsGuarded = false;

/**
 * Blocks SIGCHLD, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGWINCH and SIGUSR2 on this (the main) thread before TensorFlow
 * starts, through the small addon scripts/setup-native.mjs builds (.native/signal-guard): TensorFlow's threads inherit
 * the mask, so a signal is never delivered to a thread while it runs a TensorFlow kernel — which corrupts the native
 * heap (docs/reliability.md, "Signals") — but to one of Node's other threads, whose handler passes it on to the event
 * loop as before (Ctrl-C, a child's exit). AUTOPRUNE_SIGNAL_GUARD=0 leaves the mask alone.
 */
function guardSignals(): void {
  if (signalsGuarded || process.env.AUTOPRUNE_SIGNAL_GUARD === '0') return;
  const file = join(PACKAGE_ROOT, '.native', 'signal-guard', 'signal_guard.node');
  if (!existsSync(file)) return;
  try {
    signalsGuarded = (require(file) as { block(): boolean }).block();
  } catch {
    // An addon built for another Node: the process runs unguarded, as without it.
  }
}

/** Whether this process's main thread blocks the asynchronous signals while TensorFlow computes (doctor reports it). */
export function signalGuardActive(): boolean {
  return signalsGuarded;
}

function loadNative(gpu: boolean): { tf: TfModule; source: string } {
  guardSignals();
  if (gpu) {
    const tf = require('@tensorflow/tfjs-node-gpu') as TfModule;
    return { tf, source: '@tensorflow/tfjs-node-gpu' };
  }
  // npm's tfjs-node without its native binding (its install script failed or never ran: `--ignore-scripts`)
  // is not even required: its index registers ~150 kernels before the binding fails to load, and the
  // fallback's registration would then print one "already registered" line per kernel.
  if (npmBindingPresent()) {
    try {
      return { tf: require('@tensorflow/tfjs-node') as TfModule, source: '@tensorflow/tfjs-node' };
    } catch (err) {
      if (!existsSync(NATIVE_FALLBACK_DIR)) throw err;
    }
  }
  if (!existsSync(NATIVE_FALLBACK_DIR)) {
    throw new Error('@tensorflow/tfjs-node has no native binding and no fallback is built (run `npx autoprune setup-native`)');
  }
  return { tf: requireQuietly(NATIVE_FALLBACK_DIR), source: NATIVE_FALLBACK_DIR };
}

/** TensorFlow's INFO lines and absl's preamble about them; anything else from the load is passed on. */
const TF_STARTUP_NOISE = [/^WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR$/, /^I\d{4} [\d:.]+\s+\d+ \S+:\d+\] /];

/**
 * Requires the fallback binding with stderr (fd 2) in a temporary file, through the small addon
 * scripts/setup-native.mjs builds next to it: TensorFlow 2.21 logs through absl, which ignores
 * TF_CPP_MIN_LOG_LEVEL at start-up and would print two INFO lines before anything of ours. Those are
 * dropped; any other line (warnings, errors) is written to stderr after the load. AUTOPRUNE_TF_LOG=1
 * (the CLI's `--verbose`) loads it plainly.
 */
function requireQuietly(dir: string): TfModule {
  const guardFile = join(dir, 'lib', 'stderr_guard.node');
  if (process.env.AUTOPRUNE_TF_LOG === '1' || !existsSync(guardFile)) return require(dir) as TfModule;
  const guard = require(guardFile) as { redirect(path: string): boolean; restore(): void };
  // A fresh private folder (mode 0700, unpredictable name) for the log: a fixed name in /tmp could be a
  // planted symlink, which the addon's open(O_CREAT|O_TRUNC) would follow and truncate its target.
  let logDir: string;
  try {
    logDir = mkdtempSync(join(tmpdir(), 'autoprune-tf-start-'));
  } catch {
    return require(dir) as TfModule;
  }
  const logFile = join(logDir, 'stderr.log');
  if (!guard.redirect(logFile)) {
    rmSync(logDir, { recursive: true, force: true });
    return require(dir) as TfModule;
  }
  try {
    return require(dir) as TfModule;
  } finally {
    guard.restore();
    let text = '';
    try {
      text = readFileSync(logFile, 'utf8');
    } catch {
      // Nothing was logged or the file is gone: nothing to pass on.
    }
    rmSync(logDir, { recursive: true, force: true });
    const kept = text.split('\n').filter((l) => l.trim() !== '' && !TF_STARTUP_NOISE.some((re) => re.test(l)));
    if (kept.length > 0) process.stderr.write(`${kept.join('\n')}\n`);
  }
}

/** Whether npm's @tensorflow/tfjs-node is installed with a built binding (lib/napi-v<N>/tfjs_binding.node). */
function npmBindingPresent(): boolean {
  let pkg: string;
  try {
    pkg = require.resolve('@tensorflow/tfjs-node/package.json');
  } catch {
    return false;
  }
  const lib = join(dirname(pkg), 'lib');
  if (!existsSync(lib)) return false;
  return readdirSync(lib).some((d) => d.startsWith('napi-v') && existsSync(join(lib, d, 'tfjs_binding.node')));
}

function cudaUsable(): boolean {
  if (process.env.CUDA_VISIBLE_DEVICES === '' || process.env.CUDA_VISIBLE_DEVICES === '-1') return false;
  return ['/dev/nvidiactl', '/dev/nvidia0'].some((p) => existsSync(p));
}

function shortReason(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0].slice(0, 160);
}

let state: { tf: TfModule; info: BackendInfo } | undefined;

function init(requested: BackendName | 'auto'): { tf: TfModule; info: BackendInfo } {
  const order: BackendName[] = requested === 'auto' ? [...BACKEND_NAMES] : [requested];
  const skipped: string[] = [];
  for (const name of order) {
    try {
      if (name === 'tensorflow-gpu' && requested === 'auto' && !cudaUsable()) {
        skipped.push('tensorflow-gpu: no CUDA device');
        continue;
      }
      if (name === 'tensorflow-gpu' || name === 'tensorflow') {
        const { tf, source } = loadNative(name === 'tensorflow-gpu');
        if (tf.getBackend() !== 'tensorflow') throw new Error(`backend is ${tf.getBackend()}`);
        return { tf, info: { requested, name, tfBackend: 'tensorflow', native: true, source, skipped } };
      }
      const tf = require('@tensorflow/tfjs') as TfModule;
      if (name === 'wasm') {
        require('@tensorflow/tfjs-backend-wasm');
        // setBackend is async for wasm; callers that need wasm use selectBackendAsync.
        throw new Error('wasm needs selectBackendAsync');
      }
      void tf.setBackend('cpu');
      return { tf, info: { requested, name, tfBackend: 'cpu', native: false, source: '@tensorflow/tfjs', skipped } };
    } catch (err) {
      skipped.push(`${name}: ${shortReason(err)}`);
    }
  }
  throw new UsageError(`backend '${requested}' is not available (${skipped.join('; ')})`);
}

function requestedFromEnv(): BackendName | 'auto' {
  const env = process.env.AUTOPRUNE_BACKEND;
  if (!env || env === 'auto') return 'auto';
  if (!(BACKEND_NAMES as readonly string[]).includes(env)) {
    throw new UsageError(`AUTOPRUNE_BACKEND='${env}' is not a backend; use one of: auto, ${BACKEND_NAMES.join(', ')}`);
  }
  return env as BackendName;
}

/**
 * Chooses the backend (once per process). Later calls with another name throw: tfjs keeps one
 * engine per process and mixing backends mid-run would silently move tensors.
 */
export function selectBackend(requested?: BackendName | 'auto'): BackendInfo {
  if (state) {
    if (requested != null && requested !== 'auto' && requested !== state.info.name) {
      throw new UsageError(`backend already initialised as '${state.info.name}', cannot switch to '${requested}' in the same process`);
    }
    return state.info;
  }
  // 'auto' (the CLI's --backend default) or nothing: AUTOPRUNE_BACKEND where set, else native first.
  state = init(requested == null || requested === 'auto' ? requestedFromEnv() : requested);
  return state.info;
}

/** Like selectBackend, and also able to start the wasm backend (whose initialisation is async). */
export async function selectBackendAsync(given?: BackendName | 'auto'): Promise<BackendInfo> {
  // Once chosen, the backend stays: selectBackend returns it, or refuses another name (wasm included).
  if (state) return selectBackend(given);
  const requested = given == null || given === 'auto' ? requestedFromEnv() : given;
  if (requested !== 'wasm' && requested !== 'auto') return selectBackend(requested);
  const skipped: string[] = [];
  if (requested === 'auto') {
    // The README's order, native → wasm → cpu: the synchronous choice cannot start wasm and fell to cpu, about 5×
    // slower than wasm (a CI user without the installer's native build got cpu).
    for (const name of ['tensorflow-gpu', 'tensorflow'] as const) {
      if (name === 'tensorflow-gpu' && !cudaUsable()) {
        skipped.push('tensorflow-gpu: no CUDA device');
        continue;
      }
      try {
        const info = selectBackend(name);
        info.requested = 'auto';
        info.skipped = [...skipped, ...info.skipped];
        return info;
      } catch (err) {
        skipped.push(`${name}: ${shortReason(err)}`);
      }
    }
  }
  try {
    const tf = require('@tensorflow/tfjs') as TfModule;
    require('@tensorflow/tfjs-backend-wasm');
    const ok = await tf.setBackend('wasm');
    if (!ok) throw new UsageError('backend wasm failed to initialise');
    state = { tf, info: { requested, name: 'wasm', tfBackend: 'wasm', native: false, source: '@tensorflow/tfjs-backend-wasm', skipped } };
    return state.info;
  } catch (err) {
    if (requested !== 'auto') throw err;
    skipped.push(`wasm: ${shortReason(err)}`);
  }
  const info = selectBackend('cpu');
  info.requested = 'auto';
  info.skipped = [...skipped, ...info.skipped];
  return info;
}

export function backendInfo(): BackendInfo {
  return selectBackend();
}

/**
 * tfjs-layers' Callback base class, without choosing a backend: a class that extends it (PruningCallback) is defined
 * when its module loads, and `tf.Callback` there would start the backend before a library user's selectBackend().
 * Every backend package re-exports this one tfjs-layers, so `model.fit` sees the same class.
 */
export const TfCallback = (require('@tensorflow/tfjs-layers') as { Callback: typeof TF.Callback }).Callback;

/**
 * tfjs-layers' SeparableConv2D leaves `depthMultiplier` out of getConfig() (tfjs-layers 4.22): a model with a
 * multiplier other than 1 (a Keras-converted one, whose model.json says `depth_multiplier`) loads, but every copy,
 * save and compaction of it is rebuilt with multiplier 1 and fails ("Shape mismatch: [3,3,4,1] vs. [3,3,4,2]").
 * The config gets it back, once per process (no backend needed: a layer object holds no tensors until built).
 */
function keepSeparableDepthMultiplier(): void {
  const layers = (require('@tensorflow/tfjs-layers') as typeof TF).layers;
  const proto = Object.getPrototypeOf(layers.separableConv2d({ filters: 1, kernelSize: 1 })) as {
    getConfig(this: { depthMultiplier?: number }): Record<string, unknown>;
  };
  const own = proto.getConfig;
  if ((own as { keepsDepthMultiplier?: boolean }).keepsDepthMultiplier) return;
  const patched = function (this: { depthMultiplier?: number }) {
    const config = own.call(this);
    if (config.depthMultiplier == null && this.depthMultiplier != null) config.depthMultiplier = this.depthMultiplier;
    return config;
  };
  Object.assign(patched, { keepsDepthMultiplier: true });
  proto.getConfig = patched;
}
keepSeparableDepthMultiplier();

/**
 * The tfjs namespace of the chosen backend. A Proxy so that `import { tf }` works everywhere while the
 * backend is chosen lazily (the CLI's --backend flag runs before the first tensor op).
 */
export const tf: TfModule = new Proxy({} as TfModule, {
  get(_t, prop) {
    if (!state) selectBackend();
    return (state!.tf as unknown as Record<string | symbol, unknown>)[prop];
  },
});
