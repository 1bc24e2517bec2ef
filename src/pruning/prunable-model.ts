import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { ModelError, UsageError } from '../errors.js';
import { discoverKernels, isContainer, LAYER_HANDLERS, leafLayers, untouchedReason, type KernelRole, type PrunableKind, type StatsSource } from './layer-kinds.js';

export type { PrunableKind, KernelRole, StatsSource } from './layer-kinds.js';

/** The prunable kernels as a share of the model's parameters, and the layers left dense. */
export interface Coverage {
  /** All parameters of the model (kernels, biases, normalisation, embeddings, recurrent weights, nested models). */
  params: number;
  /** Weights of the prunable kernels (what `sparsity` counts). */
  prunable: number;
  prunableFraction: number;
  /** Layers with weights that are not pruned at all (biases of pruned layers are not listed: they are never pruned). */
  untouched: { name: string; className: string; params: number; reason: string }[];
}

/**
 * What a target sparsity counts: 'params' — the fraction of prunable kernel weights removed (the
 * default); 'flops' — the fraction of their multiply-accumulates removed, i.e. compute, which is what
 * a compacted model saves (a Conv2D weight costs outH·outW MACs per sample, a Dense weight one);
 * 'latency' — the fraction of the model's serving time removed, as predicted by a cost table measured on this
 * machine (src/pruning/latency-profile.ts: each kernel's milliseconds per multiply-accumulate, the rest fixed).
 */
export type Objective = 'params' | 'flops' | 'latency';
export const OBJECTIVES: readonly Objective[] = Object.freeze(['params', 'flops', 'latency']);

/** Whether an objective removes compute, so whole units: 'flops' and 'latency'. */
export function prunesCompute(objective: Objective): boolean {
  return objective !== 'params';
}

/** What a target under an objective is a fraction of, for messages: 'sparsity', 'compute removed', 'predicted time removed'. */
export function progressName(objective: Objective): string {
  return objective === 'flops' ? 'compute removed' : objective === 'latency' ? 'predicted time removed' : 'sparsity';
}

/**
 * A cost table for objective 'latency' (measureLatencyProfile): the model's time per `predict` call of `batch`
 * samples, and per prunable kernel (PrunableModel.layers order) the milliseconds one multiply-accumulate per sample
 * costs there; what removing every unit would not remove (the calls themselves, layers without units) is fixed.
 */
export interface LatencyProfile {
  /** Samples per call the times are for (the serving batch). */
  batch: number;
  /** The model's measured time per call (median), as compacted and rewritten for serving before any unit removal. */
  denseMs: number;
  /** Kernel names, in PrunableModel.layers order: a profile is refused for another model. */
  kernels: string[];
  /** Per kernel, ms per call per MAC-per-sample of that kernel (≥ 0), from the probes by a ridge fit. */
  msPerMac: number[];
  /** The probes it was fitted from: one layer's units half, 7/8 or all but its floor removed, the time it saved (ms) and the MACs it freed per kernel. */
  probes: { layer: string; savedMs: number; macs: number[] }[];
}

/** Predicted serving time under a latency profile: dense, now, and the fraction removed (what objective 'latency' counts). */
export interface LatencyReport {
  batch: number;
  denseMs: number;
  predictedMs: number;
  reduction: number;
}

/**
 * A prunable kernel of a model (see layer-kinds.ts for the layer types; biases are never pruned). Every
 * kernel is read as [positions…, rows, units]: Dense [in, out], Conv2D [kh, kw, cin, cout], LSTM
 * [in, 4·units], Embedding [vocabulary, dim], DepthwiseConv2D [kh, kw, cin, multiplier].
 */
export interface PrunableLayer {
  /** Position among the prunable kernels (0 = closest to the input). */
  index: number;
  /** Layer name (its path through nested models), plus the weight's role unless it is the plain kernel ('lstm/recurrent_kernel'). */
  name: string;
  kind: PrunableKind;
  role: KernelRole;
  /** The layer itself (for activations / inputs); a wrapper (TimeDistributed, Bidirectional) rather than what it wraps. */
  layer: TF.layers.Layer;
  /** Nested models from the top-level model down to `layer` (empty at top level). */
  containers: TF.layers.Layer[];
  /** Which activations give the kernel's per-row ('in') and per-unit ('out') statistics. */
  stats: { in: StatsSource; out: StatsSource };
  /** The kernel variable. */
  kernel: TF.Variable;
  shape: number[];
  /** Number of kernel weights. */
  size: number;
  /** Fan-in of one output unit (size / units). */
  fanIn: number;
  /** Number of output units (the kernel's last axis: columns / filters / gate units). */
  units: number;
  /** Whether whole output units can be removed and compacted (Dense, Conv1D, Conv2D, SeparableConv2D's pointwise kernel, LSTM, GRU, SimpleRNN). */
  structured: boolean;
  /**
   * Gates per unit of a structured kernel (LSTM 4, GRU 3, else 1): its columns are [gate 0 | gate 1 | …], so a
   * removable unit j is the columns g · units/gates + j (and, for a recurrent layer, row j of its recurrent kernel).
   */
  gates: number;
  /** A convolution kernel (any kind). */
  conv: boolean;
  /**
   * Multiply-accumulates one kernel weight costs per input sample: 1 for a Dense layer on a flat input,
   * the number of output positions (outH·outW) for Conv2D, the time steps for a recurrent kernel, 0 for
   * an embedding (a lookup).
   */
  macsPerWeight: number;
}

/** Compute of the prunable layers, in multiply-accumulates per input sample. */
export interface ComputeReport {
  /** MACs of the dense (unpruned) prunable kernels. */
  dense: number;
  /** MACs of the live (unpruned) weights. */
  live: number;
  /** 1 − live/dense: the fraction of the prunable kernels' multiply-accumulates pruned — not what serving saves: scattered zeros still run in a dense kernel; what a compact model runs is measured by `autoprune compact` (report `compact.macs`). */
  reduction: number;
  /**
   * The same over every kernel autoprune knows, the frozen and excluded ones included (their MACs as they are: never
   * pruned). Present only where such kernels exist, so that the prunable kernels' figure is not read as the model's.
   */
  allKernels?: { dense: number; live: number; reduction: number };
}

export interface LayerSparsity {
  name: string;
  kind: PrunableKind;
  shape: number[];
  size: number;
  pruned: number;
  sparsity: number;
}

export interface SparsityReport {
  /** Pruned weights / prunable weights over all prunable kernels. */
  global: number;
  pruned: number;
  total: number;
  layers: LayerSparsity[];
}

/** A snapshot of all weights and masks, for checkpoint / rollback. Owns its tensors. */
export interface Snapshot {
  weights: TF.Tensor[];
  masks: TF.Tensor[];
}

/**
 * A view over a tfjs LayersModel that holds a 0/1 mask per prunable kernel (same shape as the kernel)
 * and keeps masked weights at exactly 0. It never changes the model's topology.
 */
export class PrunableModel {
  readonly layers: PrunableLayer[];
  private masks: TF.Tensor[];

  /** Kernels left out by `exclude` (names as in `layers`), with the layer that holds each. */
  readonly excluded: readonly { name: string; layer: TF.layers.Layer; structured: boolean }[];
  /** Kernels of frozen layers left dense (option `frozen: 'exclude'`). */
  readonly frozen: readonly { name: string; layer: TF.layers.Layer }[];
  /** The cost table of objective 'latency' (setLatencyProfile). */
  private profile?: LatencyProfile;
  /** Multiply-accumulates per sample of the frozen and excluded kernels (all, and of their nonzero weights: fixed, never pruned). */
  private readonly held: { dense: number; live: number; kernels: number };

  /**
   * @param options.exclude glob patterns (`*`, `?`) of kernels never to prune, matched against the kernel's
   *   name (the layer's name for a top-level kernel, else its path and role, e.g. `backbone/conv1`,
   *   `lstm/recurrent_kernel`) and against its layer's path; a pattern that matches nothing is a UsageError.
   */
  /**
   * `exclude`: glob patterns of kernels never to prune. `frozen`: what to do with the kernels of layers that are not
   * trainable (`trainable: false` on the layer or a model holding it): 'prune' them like the others (default: the
   * one-shot and callback paths, where the user decides what trains), or 'exclude' them (the agent, whose
   * fine-tuning trains only trainable weights: a pruned frozen layer could never recover).
   */
  constructor(readonly model: TF.LayersModel, options: { exclude?: readonly string[]; frozen?: 'prune' | 'exclude' } = {}) {
    const all = discoverKernels(model);
    const frozen = options.frozen === 'exclude' ? all.filter((k) => isFrozenKernel(k.layer, k.containers, k.variable)) : [];
    const kernels = all.filter((k) => !frozen.includes(k));
    if (kernels.length === 0 && frozen.length > 0) {
      throw new UsageError(`every prunable layer of model '${model.name}' is frozen (trainable: false: ${[...new Set(frozen.map((k) => k.layer.name))].join(', ')}): ` +
        'fine-tuning trains only trainable layers, so none could recover from pruning; set trainable to true on the layers to prune');
    }
    const { kept, excluded } = splitExcluded(kernels, options.exclude ?? []);
    this.frozen = frozen.map((k) => ({ name: k.name, layer: k.layer }));
    // MACs of the kernels left out (frozen, excluded), all and of their nonzero weights, for compute().allKernels.
    this.held = [...frozen, ...excluded].reduce((a, k) => {
      const w = k.variable.read();
      const live = tf.tidy(() => tf.sum(tf.notEqual(w, 0).toInt()).arraySync() as number);
      return { dense: a.dense + w.size * k.macsPerWeight, live: a.live + live * k.macsPerWeight, kernels: a.kernels + 1 };
    }, { dense: 0, live: 0, kernels: 0 });
    this.excluded = excluded.map((k) => ({ name: k.name, layer: k.layer, structured: k.structured }));
    const found: PrunableLayer[] = kept.map((k, index) => {
      const kernel = k.variable.read() as TF.Variable;
      const shape = kernel.shape.slice();
      const size = shape.reduce((a, b) => a * b, 1);
      const units = shape[shape.length - 1];
      return {
        index, name: k.name, kind: k.kind, role: k.spec.role, layer: k.layer, containers: k.containers,
        stats: { in: k.spec.in, out: k.spec.out }, kernel, shape, size, fanIn: size / units, units,
        structured: k.structured, gates: k.gates, conv: k.conv, macsPerWeight: k.macsPerWeight,
      };
    });
    if (found.length === 0 && excluded.length > 0) {
      throw new UsageError(`exclude leaves nothing to prune: it matches every prunable kernel (${excluded.map((k) => k.name).join(', ')})`);
    }
    if (found.length === 0) {
      throw new ModelError(`model '${model.name}' has no layer with a kernel to prune (pruned types: ${Object.keys(LAYER_HANDLERS).join(', ')})`);
    }
    this.layers = found;
    // Start from the model's own zeros: a model saved by autoprune reloads with its pruning intact.
    this.masks = tf.tidy(() => found.map((l) => tf.keep(tf.notEqual(l.kernel, 0).toFloat())));
  }

  /**
   * What the prunable kernels are a fraction of: all the model's parameters, and every layer holding weights
   * that autoprune leaves dense, with why. Numbers that say "80 %" must say of what.
   */
  coverage(): Coverage {
    const pruned = new Set(this.layers.map((l) => l.layer));
    const pathOf = new Map<TF.layers.Layer, string>();
    const walk = (layers: TF.layers.Layer[], prefix: string) => {
      for (const l of layers) {
        if (pathOf.has(l)) continue;
        pathOf.set(l, prefix + l.name);
        if (isContainer(l)) walk(l.layers, `${prefix}${l.name}/`);
      }
    };
    walk(this.model.layers, '');
    let params = 0;
    const untouched: Coverage['untouched'] = [];
    for (const layer of leafLayers(this.model)) {
      const n = layer.countParams();
      params += n;
      if (n === 0 || pruned.has(layer)) continue;
      const reason = this.excluded.some((k) => k.layer === layer) ? 'excluded: matches an exclude pattern'
        : this.frozen.some((k) => k.layer === layer) ? 'frozen (trainable: false): fine-tuning trains only trainable layers, so a pruned one could not recover; unfreeze it to prune it'
          : untouchedReason(layer);
      untouched.push({ name: pathOf.get(layer) ?? layer.name, className: layer.getClassName(), params: n, reason });
    }
    const prunable = this.totalPrunable;
    return { params, prunable, prunableFraction: params > 0 ? prunable / params : 0, untouched };
  }

  get totalPrunable(): number {
    return this.layers.reduce((a, l) => a + l.size, 0);
  }

  mask(i: number): TF.Tensor {
    return this.masks[i];
  }

  /** Replaces layer i's mask (takes ownership of `mask`) and zeros the pruned weights. */
  setMask(i: number, mask: TF.Tensor): void {
    const l = this.layers[i];
    if (mask.shape.join('x') !== l.shape.join('x')) {
      throw new ModelError(`mask for layer '${l.name}' has shape [${mask.shape}] but the kernel is [${l.shape}]`);
    }
    this.masks[i].dispose();
    this.masks[i] = mask;
    this.applyMasks();
  }

  /**
   * Sets layer i's mask from bytes (0 pruned, else live; as maskBytes gives them) and masks that layer's kernel.
   * Uploaded as bool and cast on the device: a host Uint8 → Float32 copy costs ~14 ns a weight (tfjs's
   * toTypedArray), a quarter of a selection's time at 19 M weights.
   */
  setMaskBytes(i: number, bytes: Uint8Array): void {
    const l = this.layers[i];
    if (bytes.length !== l.size) throw new ModelError(`mask for layer '${l.name}' has ${bytes.length} values, the kernel has ${l.size}`);
    const mask = tf.tidy(() => tf.cast(tf.tensor(bytes, l.shape, 'bool'), 'float32'));
    this.masks[i].dispose();
    this.masks[i] = mask;
    tf.tidy(() => l.kernel.assign(tf.mul(l.kernel, mask)));
  }

  /** Masks as flat Float32Arrays (0 pruned, 1 live). */
  maskArrays(): Float32Array[] {
    return this.masks.map((m) => m.dataSync() as Float32Array);
  }

  /**
   * Masks as fresh flat Uint8Arrays (0 pruned, 1 live) the caller may modify: a byte per weight, where a
   * writable float copy of maskArrays() costs eight at the selection's peak (docs/benchmarks.md, scale).
   */
  maskBytes(): Uint8Array[] {
    return this.masks.map((m) => {
      const b = tf.cast(m, 'bool');
      try {
        return b.dataSync() as Uint8Array;
      } finally {
        b.dispose();
      }
    });
  }

  setMaskArrays(arrays: ArrayLike<number>[]): void {
    if (arrays.length !== this.layers.length) {
      throw new ModelError(`expected ${this.layers.length} masks, got ${arrays.length}`);
    }
    arrays.forEach((a, i) => {
      const l = this.layers[i];
      if (a.length !== l.size) throw new ModelError(`mask for layer '${l.name}' has ${a.length} values, the kernel has ${l.size}`);
      this.setMask(i, tf.tensor(Float32Array.from(a), l.shape, 'float32'));
    });
  }

  /** Multiplies every kernel by its mask in place: pruned weights become exactly 0. */
  applyMasks(): void {
    // One layer per tidy: one layer's product alive at a time, not every layer's.
    this.layers.forEach((l, i) => tf.tidy(() => l.kernel.assign(tf.mul(l.kernel, this.masks[i]))));
  }

  sparsity(): SparsityReport {
    const live = tf.tidy(() => tf.stack(this.masks.map((m) => tf.sum(m))).dataSync());
    let pruned = 0;
    const layers = this.layers.map((l, i) => {
      const p = l.size - Math.round(live[i]);
      pruned += p;
      return { name: l.name, kind: l.kind, shape: l.shape, size: l.size, pruned: p, sparsity: p / l.size };
    });
    const total = this.totalPrunable;
    return { global: pruned / total, pruned, total, layers };
  }

  /** Multiply-accumulates per sample of the prunable kernels, dense and live. */
  compute(): ComputeReport {
    let dense = 0;
    let alive = 0;
    this.sparsity().layers.forEach((s, i) => {
      dense += s.size * this.layers[i].macsPerWeight;
      alive += (s.size - s.pruned) * this.layers[i].macsPerWeight;
    });
    const out: ComputeReport = { dense, live: alive, reduction: dense > 0 ? 1 - alive / dense : 0 };
    if (this.held.kernels > 0) {
      const all = dense + this.held.dense;
      const live = alive + this.held.live;
      out.allKernels = { dense: all, live, reduction: all > 0 ? 1 - live / all : 0 };
    }
    return out;
  }

  /** Progress towards a target under an objective: weight sparsity ('params'), compute removed ('flops') or predicted time removed ('latency'). */
  progress(objective: Objective): number {
    return objective === 'flops' ? this.compute().reduction : objective === 'latency' ? this.latency().reduction : this.sparsity().global;
  }

  /** The cost table objective 'latency' counts with (measureLatencyProfile), once set. */
  get latencyProfile(): LatencyProfile | undefined {
    return this.profile;
  }

  /** Sets the cost table of objective 'latency'; refused where it was measured on other kernels. */
  setLatencyProfile(p: LatencyProfile): void {
    const names = this.layers.map((l) => l.name);
    if (p.kernels.length !== names.length || p.kernels.some((k, i) => k !== names[i]) || p.msPerMac.length !== names.length) {
      throw new UsageError(`latency profile is for kernels ${p.kernels.join(', ')}, this model's are ${names.join(', ')}`);
    }
    this.profile = p;
  }

  /** Milliseconds per call each kernel's weight costs under the latency profile (its MACs × the kernel's ms per MAC). */
  latencyPerWeight(): number[] {
    const p = this.profile;
    if (!p) throw new UsageError("objective 'latency' needs a latency profile (measureLatencyProfile, setLatencyProfile)");
    return this.layers.map((l, i) => l.macsPerWeight * p.msPerMac[i]);
  }

  /** Predicted time per call now: the dense time less what the removed weights cost under the profile. */
  latency(): LatencyReport {
    const p = this.profile;
    const perWeight = this.latencyPerWeight();
    const saved = this.sparsity().layers.reduce((a, s, i) => a + s.pruned * perWeight[i], 0);
    const predictedMs = Math.max(0, p!.denseMs - saved);
    return { batch: p!.batch, denseMs: p!.denseMs, predictedMs, reduction: p!.denseMs > 0 ? 1 - predictedMs / p!.denseMs : 0 };
  }

  /** Copies all model weights and masks (masks as bool: 1 byte per weight instead of 4). */
  snapshot(): Snapshot {
    return tf.tidy(() => ({
      weights: this.model.weights.map((w) => tf.keep(w.read().clone())),
      masks: this.masks.map((m) => tf.keep(tf.cast(m, 'bool'))),
    }));
  }

  /** Restores a snapshot (which stays owned by the caller). */
  restore(s: Snapshot): void {
    tf.tidy(() => {
      this.model.weights.forEach((w, i) => (w.read() as TF.Variable).assign(s.weights[i]));
    });
    this.masks.forEach((m) => m.dispose());
    this.masks = s.masks.map((m) => tf.cast(m, 'float32'));
  }

  dispose(): void {
    this.masks.forEach((m) => m.dispose());
    this.masks = [];
  }
}

/** A copy of a snapshot (its own tensors, disposed with disposeSnapshot). */
export function cloneSnapshot(s: Snapshot): Snapshot {
  return { weights: s.weights.map((t) => t.clone()), masks: s.masks.map((t) => t.clone()) };
}

export function disposeSnapshot(s: Snapshot): void {
  s.weights.forEach((t) => t.dispose());
  s.masks.forEach((t) => t.dispose());
}

/** Whether `name` matches a glob with `*` (any run of characters, `/` included) and `?` (one character). */
export function globMatches(glob: string, name: string): boolean {
  const escape = (c: string) => c.replace(/[.+^$()|[\]{}\\]/g, '\\$&');
  const pattern = Array.from(glob, (c) => (c === '*' ? '.*' : c === '?' ? '.' : escape(c))).join('');
  return new RegExp(`^${pattern}$`).test(name);
}

/**
 * Whether a kernel is frozen: its layer's own flag, a holding model's, or the variable's (a Sequential's
 * `trainable = false` sets its weights'). The agent leaves such kernels dense (PrunableModel's `frozen`).
 */
export function isFrozenKernel(layer: TF.layers.Layer, containers: readonly TF.layers.Layer[], variable: unknown): boolean {
  return !layer.trainable || containers.some((c) => !c.trainable) || (variable as { trainable?: boolean }).trainable === false;
}

/** Splits discovered kernels into kept and excluded by glob; every glob must match at least one kernel. */
function splitExcluded<K extends { name: string; layer: TF.layers.Layer; containers: readonly TF.layers.Layer[] }>(kernels: K[], globs: readonly string[]): { kept: K[]; excluded: K[] } {
  if (globs.length === 0) return { kept: kernels, excluded: [] };
  const pathOf = (k: K) => [...k.containers.map((c) => c.name), k.layer.name].join('/');
  const hit = (g: string, k: K) => globMatches(g, k.name) || globMatches(g, pathOf(k)) || globMatches(g, k.layer.name);
  for (const g of globs) {
    if (!kernels.some((k) => hit(g, k))) {
      throw new UsageError(`exclude pattern '${g}' matches no prunable kernel; they are: ${kernels.map((k) => k.name).join(', ')}`);
    }
  }
  const excluded = kernels.filter((k) => globs.some((g) => hit(g, k)));
  return { kept: kernels.filter((k) => !excluded.includes(k)), excluded };
}
