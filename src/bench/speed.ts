/**
 * `autoprune bench --suite speed`: training speed of the fine-tuning loop (src/models/train.ts) against
 * PyTorch on the same machine, side by side: LeNet-300-100 and LeNet-5, the 8,006 MNIST-10k training
 * digits, batch 128, Adam 1e-3, one epoch at a time; dense and masked (80 % of every kernel pruned at
 * random, gradients masked: a fine-tuning epoch of a pruned model). Rounds alternate the two frameworks
 * so that drift of the machine hits both; each round runs one untimed warm-up epoch and `epochs` timed
 * ones; the figure is the median over rounds × epochs.
 *
 * PyTorch runs only when `python3` can import `torch` (scripts/speed-torch.py); otherwise its columns say
 * so. Also: a profile of one masked step (kernels dispatched, time of forward + backward, of the
 * optimizer update with FlatAdam and with tf.train.adam), for both LeNets and for the coverage suite's text models
 * (Embedding → GRU / LSTM → Dense, on their own CSVs: datasets/coverage/).
 */
import type * as TF from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus as cpus_, tmpdir } from 'node:os';
import { join } from 'node:path';
import { PACKAGE_ROOT, tf } from '../backend/tf.js';
import { loadMnist10k } from '../data/mnist.js';
import { isCsvPath, loadDataset } from '../data/registry.js';
import { coverageCases, coveragePaths } from './coverage-suite.js';
import { architecture, buildModel } from '../models/families.js';
import { chainObstacle, compileChain } from '../models/compiled-chain.js';
import { FlatAdam } from '../models/flat-adam.js';
import { loadModel } from '../models/io.js';
import { fitDatasetToModel, lossOf, targetsOf, taskOf } from '../models/task.js';
import { train } from '../models/train.js';
import { PrunableModel } from '../pruning/prunable-model.js';
import { Rng } from '../util/random.js';

export const SPEED_SPARSITY = 0.8;

export interface SpeedRecord {
  model: string;
  mode: 'dense' | 'masked';
  /** Seconds per epoch, every timed epoch of every round. */
  tfjs: number[];
  /** The same epochs with tfjs's autodiff instead of the compiled gradient (models/compiled-chain.ts). */
  tape: number[];
  torch?: number[];
}

export interface StepProfile {
  model: string;
  /** Kernels dispatched by one masked training step with tfjs's autodiff (tf.profile). */
  kernels: number;
  /** The same with the compiled gradient (tf.profile's count plus the kernels it calls directly). */
  compiledKernels: number;
  /**
   * Milliseconds (median of 30): forward + backward (tf.variableGrads; the compiled gradient); FlatAdam's masked
   * update; the path it replaced (per-kernel gradient masks, tf.train.adam, a re-mask of every kernel).
   */
  gradsMs: number;
  compiledMs: number;
  flatAdamMs: number;
  tfAdamMs: number;
}

export interface SpeedResult {
  records: SpeedRecord[];
  profiles: StepProfile[];
  torch?: { version: string; threads: number };
  /** Why PyTorch was not measured. */
  torchMissing?: string;
  rounds: number;
  epochs: number;
  /** The CPU the run measured (model × logical cores): the ratio to PyTorch depends on it. Older records: absent. */
  machine?: string;
}

export const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** The PyTorch side is optional: python3 that imports torch. */
function torchVersion(): { version?: string; missing?: string } {
  const r = spawnSync('python3', ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (r.error) return { missing: 'python3 not found' };
  if (r.status !== 0) return { missing: 'python3 cannot import torch' };
  return { version: r.stdout.trim() };
}

/** Random masks at `sparsity` on every prunable kernel (seeded). */
function maskRandomly(pm: PrunableModel, sparsity: number): void {
  const rng = new Rng(1);
  pm.setMaskArrays(pm.layers.map((l) => Float32Array.from({ length: l.size }, () => (rng.next() < sparsity ? 0 : 1))));
}

async function profileStep(model: TF.LayersModel, pm: PrunableModel, x: TF.Tensor, labels: Int32Array): Promise<Omit<StepProfile, 'model'>> {
  const task = taskOf(model);
  const vars = model.trainableWeights.map((w) => w.read() as TF.Variable);
  const xb = tf.slice(x, 0, 128);
  const yb = targetsOf({ x: xb, labels: labels.subarray(0, 128) }, task);
  const flat = new FlatAdam(vars, 1e-3);
  const reference = tf.train.adam(1e-3);
  const maskOf = new Map(pm.layers.map((l, i) => [l.kernel.name, pm.mask(i)]));
  const mask = tf.tidy(() => flat.flatten(vars.map((v) => maskOf.get(v.name) ?? tf.onesLike(v))));
  flat.setMask(mask);
  const grads = () => tf.variableGrads(() => lossOf(model.apply(xb, { training: true }) as TF.Tensor, yb, task), vars).grads;
  const compiled = compileChain(model, task, vars);
  if (!compiled) throw new Error(`${model.name}: no compiled gradient (${chainObstacle(model) ?? 'unknown'})`);
  const timed = (f: () => void): number => {
    const ts: number[] = [];
    for (let i = 0; i < 33; i++) {
      const t0 = performance.now();
      tf.tidy(f);
      ts.push(performance.now() - t0);
    }
    return median(ts.slice(3));
  };
  try {
    // tf.profile hands back one object that its next call resets: read each count before the next profile.
    const kernels = (await tf.profile(() => { tf.tidy(() => { const g = grads(); flat.step(vars.map((v) => g[v.name])); }); })).kernels.length;
    const raw = compiled.rawKernels;
    const compiledKernels = (await tf.profile(() => { tf.tidy(() => { const g = compiled.valueAndGrads(xb, yb).grads; flat.step(vars.map((v) => g[v.name])); }); })).kernels.length +
      compiled.rawKernels - raw;
    const g = tf.tidy(() => { const gr = grads(); return vars.map((v) => tf.keep(gr[v.name])); });
    const result = {
      kernels,
      compiledKernels,
      gradsMs: timed(() => { grads(); }),
      compiledMs: timed(() => { compiled.valueAndGrads(xb, yb); }),
      flatAdamMs: timed(() => flat.step(g)),
      // The path FlatAdam replaced: per-kernel gradient masks, tf.train.adam, a re-mask of every kernel.
      tfAdamMs: timed(() => {
        reference.applyGradients(vars.map((v, i) => ({ name: v.name, tensor: maskOf.has(v.name) ? tf.mul(g[i], maskOf.get(v.name)!) : g[i] })));
        pm.applyMasks();
      }),
    };
    tf.dispose(g);
    return result;
  } finally {
    tf.dispose([xb, yb, mask]);
    flat.dispose();
    reference.dispose();
  }
}

/** Runs the speed suite; `log` gets one line per measurement. */
export async function runSpeedBench(opts: { models: string[]; rounds: number; epochs: number; log: (m: string) => void }): Promise<SpeedResult> {
  const data = loadMnist10k({ seed: 0 });
  const torch = torchVersion();
  const dir = mkdtempSync(join(tmpdir(), 'autoprune-speed-'));
  const records: SpeedRecord[] = [];
  const profiles: StepProfile[] = [];
  let torchInfo: SpeedResult['torch'];
  try {
    const rows = data.train.labels.length;
    writeFileSync(join(dir, 'x.f32'), new Uint8Array(data.train.x.dataSync().buffer.slice(0)));
    writeFileSync(join(dir, 'y.i32'), new Uint8Array(Int32Array.from(data.train.labels).buffer));
    for (const name of opts.models) {
      const model = buildModel({ ...architecture(name), seed: 0 } as Parameters<typeof buildModel>[0]);
      const fitted = fitDatasetToModel(data, model);
      const pm = new PrunableModel(model);
      try {
        for (const mode of ['dense', 'masked'] as const) {
          if (mode === 'masked') maskRandomly(pm, SPEED_SPARSITY);
          const rec: SpeedRecord = { model: name, mode, tfjs: [], tape: [], ...(torch.version ? { torch: [] } : {}) };
          for (let r = 0; r < opts.rounds; r++) {
            for (const gradient of ['auto', 'tape'] as const) {
              for (let e = 0; e <= opts.epochs; e++) {
                const t0 = performance.now();
                train(model, fitted.train, { epochs: 1, batchSize: 128, seed: r * 100 + e, prunable: mode === 'masked' ? pm : undefined, gradient });
                if (e > 0) (gradient === 'auto' ? rec.tfjs : rec.tape).push((performance.now() - t0) / 1000);
              }
            }
            if (torch.version) {
              const args = [join(PACKAGE_ROOT, 'scripts', 'speed-torch.py'), '--data', join(dir, 'x.f32'), '--labels', join(dir, 'y.i32'),
                '--rows', String(rows), '--model', name, '--epochs', String(opts.epochs + 1), ...(mode === 'masked' ? ['--sparsity', String(SPEED_SPARSITY)] : [])];
              const p = spawnSync('python3', args, { encoding: 'utf8' });
              if (p.status !== 0) throw new Error(`scripts/speed-torch.py failed: ${p.stderr.trim().split('\n').pop()}`);
              const out = JSON.parse(p.stdout.trim().split('\n').pop()!) as { torch: string; threads: number; epochSeconds: number[] };
              torchInfo = { version: out.torch, threads: out.threads };
              rec.torch!.push(...out.epochSeconds.slice(1));
            }
            opts.log(`${name} ${mode} round ${r + 1}: tfjs ${median(rec.tfjs).toFixed(3)} s/epoch (autodiff ${median(rec.tape).toFixed(3)})${rec.torch ? `, PyTorch ${median(rec.torch).toFixed(3)}` : ''}`);
          }
          records.push(rec);
        }
        profiles.push({ model: name, ...await profileStep(model, pm, fitted.train.x, fitted.train.labels) });
      } finally {
        pm.dispose();
        if (fitted !== data) fitted.dispose();
        model.dispose();
      }
    }
    for (const name of PROFILED_COVERAGE_MODELS) {
      profiles.push({ model: name, ...await profileCoverageModel(name) });
      opts.log(`${name}: one masked step profiled`);
    }
  } finally {
    data.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  const cpus = cpus_();
  return { records, profiles, torch: torchInfo, torchMissing: torch.missing, rounds: opts.rounds, epochs: opts.epochs, machine: `${cpus[0]?.model.trim() ?? 'unknown CPU'} × ${cpus.length}` };
}

/** The coverage suite's models whose training step the profile also shows: recurrent (compiled-rnn.ts) and depthwise-separable with batch norms. */
export const PROFILED_COVERAGE_MODELS = ['gru-text', 'lstm-text', 'mobilenet'] as const;

/** One masked step of a coverage model (datasets/coverage/NAME), on the first 128 rows of its own CSV. */
async function profileCoverageModel(name: string): Promise<Omit<StepProfile, 'model'>> {
  const c = coverageCases().find((k) => k.name === name);
  if (!c) throw new Error(`no coverage case '${name}'`);
  const paths = coveragePaths(c);
  const model = await loadModel(paths.model);
  // A CSV's values as they are (the models were trained on them); the built-in MNIST has its own fixed form.
  const data = loadDataset(paths.data, { seed: 0, ...(isCsvPath(paths.data) ? { standardize: false } : {}) });
  const fitted = fitDatasetToModel(data, model);
  const pm = new PrunableModel(model);
  try {
    maskRandomly(pm, SPEED_SPARSITY);
    return await profileStep(model, pm, fitted.train.x, fitted.train.labels);
  } finally {
    pm.dispose();
    if (fitted !== data) fitted.dispose();
    data.dispose();
    model.dispose();
  }
}

/** Bars of issue 17: masked fine-tuning epoch time over PyTorch's. */
export const SPEED_BARS: Readonly<Record<string, number>> = Object.freeze({ 'lenet-300-100': 2.0, 'lenet-5': 1.2 });

export function speedSection(result: SpeedResult, meta: { date: string; command: string; backend: string }): string {
  const torchCol = result.torch ? `PyTorch ${result.torch.version} CPU (${result.torch.threads} threads)` : 'PyTorch';
  const lines = [
    '## Training speed: the fine-tuning loop vs PyTorch on the same machine',
    '',
    `Generated ${meta.date} by \`${meta.command}\` (backend ${meta.backend}${result.machine ? `; ${result.machine}` : ''}); do not edit by hand. The 8,006 MNIST-10k training digits, batch 128, Adam 1e-3, one epoch; dense, and masked (${100 * SPEED_SPARSITY} % of every kernel pruned at random, gradients masked: what every fine-tuning epoch of a pruning run is). ${result.rounds} round${result.rounds === 1 ? '' : 's'} ${result.rounds === 1 ? 'alternates' : 'alternate'} tfjs and PyTorch (each a warm-up epoch and ${result.epochs} timed); median seconds per epoch over the ${result.rounds * result.epochs} timed epoch${result.rounds * result.epochs === 1 ? '' : 's'}. PyTorch: the same layers in \`nn.Sequential\`, \`CrossEntropyLoss\`, \`torch.optim.Adam\`, gradients masked by hooks (scripts/speed-torch.py).${result.torchMissing ? ` **PyTorch not measured: ${result.torchMissing}.**` : ''}`,
    '',
    '',
    'This virtual machine\'s speed drifts by up to 2× within minutes (the same PyTorch epoch measured 1.8 s and 4.0 s a minute apart), so the median is the figure and the fastest epoch (min) is shown beside it: noise only adds time, so the min ratio is the comparison least hurt by it.',
    '',
    `| model | epoch | tfjs-node s/epoch: median (min; epochs/s) | the same, tfjs autodiff: median (min) | ${torchCol} s/epoch: median (min) | ratio tfjs / PyTorch: median (min) | bar (median) |`,
    '|---|---|---:|---:|---:|---:|---|',
  ];
  for (const r of result.records) {
    const t = median(r.tfjs);
    const p = r.torch?.length ? median(r.torch) : undefined;
    const tMin = Math.min(...r.tfjs);
    const pMin = r.torch?.length ? Math.min(...r.torch) : undefined;
    const bar = SPEED_BARS[r.model];
    const ratio = p ? t / p : undefined;
    const tape = r.tape.length ? `${median(r.tape).toFixed(3)} (${Math.min(...r.tape).toFixed(3)})` : '—';
    lines.push(`| ${r.model} | ${r.mode} | ${t.toFixed(3)} (${tMin.toFixed(3)}; ${(1 / t).toFixed(2)}) | ${tape} | ${p ? `${p.toFixed(3)} (${pMin!.toFixed(3)})` : '—'} | ${ratio ? `${ratio.toFixed(2)}× (${(tMin / pMin!).toFixed(2)}×)` : '—'} | ${r.mode === 'masked' && bar ? `≤ ${bar.toFixed(1)}×: ${ratio ? (ratio <= bar ? '**met**' : '**NOT met**') : 'not measured'}` : ''} |`);
  }
  lines.push('', 'Issue 17 measured PyTorch at 0.115 s (LeNet-300-100) and 1.49 s (LeNet-5) per epoch on its machine. The bars are judged against PyTorch measured here, in the same run, as the issue\'s protocol asks. The ratio depends on the CPU, ' +
    'named above since 2026-12-05. What closed the gap on the project\'s Intel Xeon (2.30× and 1.25× before, on 2026-12-05: the git history of docs/benchmarks-speed.json; not figures of this run): the masked update runs over the kept weights alone (below) ' +
    'and a ReLU read only by a max pooling runs after the pooling (on a quarter of the elements; the same values and gradients, test/models/compiled-chain.test.ts). ' +
    'Tried and dropped: gathering each pass\'s rows once so that a batch is a slice (2–3 % faster epochs, but a copy of the training inputs during every fine-tune, at the memory peak of the scale section\'s runs).');
  lines.push('', '### One masked training step, profiled (batch 128)', '',
    `Kernels: native ops dispatched by one step (forward, backward, mask, optimizer), with tfjs's autodiff (\`tf.variableGrads\`: the tape) and with the compiled gradient autoprune trains with where the model is a chain of Dense / Conv / pooling / Flatten layers, or a graph whose branches meet in Add / Average / Multiply / Concatenate layers (ResNet-style), (src/models/compiled-chain.ts: the TensorFlow kernels a compiled graph runs — MatMul, Conv2D, BiasAdd, the activation and their gradient kernels — called directly; the same gradients to float rounding, test/models/compiled-chain.test.ts), or with DepthwiseConv2D and BatchNormalization (training mode as tfjs-layers runs it: batch statistics, the moving ones updated, the gradient through the batch's mean and variance), or of Embedding and recurrent layers (SimpleRNN, GRU, LSTM: src/models/compiled-rnn.ts, the input projection of every time step in one MatMul and backpropagation through time written out). gru-text and lstm-text: the coverage suite's text models (Embedding → 64-unit recurrent layer over 49 steps → Dense); mobilenet: its MobileNet-v1-style CNN (28×28 digits, three depthwise-separable blocks with batch norms and ReLU layers); each on 128 rows of its own data (datasets/coverage/; MNIST-10k for mobilenet). Medians of 30 repetitions. The update columns time the same masked Adam update two ways: autoprune's FlatAdam (one update over all variables laid end to end, no re-mask; where at most three quarters of the weights are kept — here a fifth — over the kept weights alone: the gradients gathered at the kept positions, the moments one entry per kept weight, the updated weights scattered back, 0 elsewhere; the same weights bit for bit, test/models/flat-adam.test.ts) and the path it replaced (each kernel's gradient masked, \`tf.train.adam\` with about a dozen ops per variable, every kernel re-masked). Each element-wise op streams its whole vector through memory, so the kept-weights update moves a fifth of the bytes; PyTorch's Adam fuses its ops (foreach kernels), which TensorFlow's eager ops cannot without resource variables.`, '',
    '| model | kernels per step: autodiff → compiled | forward + backward ms: autodiff → compiled | masked update ms: FlatAdam | masked update ms: tf.train.adam + masks |',
    '|---|---:|---:|---:|---:|',
    ...result.profiles.map((p) => `| ${p.model} | ${p.kernels} → ${p.compiledKernels} | ${p.gradsMs.toFixed(2)} → ${p.compiledMs.toFixed(2)} | ${p.flatAdamMs.toFixed(2)} | ${p.tfAdamMs.toFixed(2)} |`));
  return lines.join('\n');
}
