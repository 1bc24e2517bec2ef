/**
 * One registry of per-layer-type handlers: which weights of a tfjs layer are prunable kernels, what a
 * kernel weight costs in multiply-accumulates, which activations describe a kernel's inputs and outputs
 * (for the activation features), and whether its output units can be removed whole. Adding a layer type
 * is one entry here. Layers inside nested models (a Sequential or functional model used as a layer) are
 * found at any depth by `discoverKernels`.
 */
import type * as TF from '@tensorflow/tfjs';
import { ModelError } from '../errors.js';

type Layer = TF.layers.Layer;

/** The layer family a prunable kernel belongs to (wrappers report the family of what they wrap). */
export type PrunableKind =
  | 'dense' | 'conv1d' | 'conv2d' | 'conv3d' | 'depthwise_conv2d' | 'separable_conv2d' | 'conv2d_transpose'
  | 'lstm' | 'gru' | 'simple_rnn' | 'embedding';

/** Which weight of the layer a kernel is. */
export type KernelRole = 'kernel' | 'recurrent_kernel' | 'depthwise_kernel' | 'pointwise_kernel' | 'embeddings';

/**
 * Which activation tensor gives per-row ('in', axis −2 of the kernel) or per-column ('out', axis −1)
 * statistics: the layer's input or output, viewed as [positions, channels]; 'none' when no tensor the
 * model exposes has one value per kernel row / column (a recurrent gate, an intermediate of a
 * separable conv, token ids): the activation features then take neutral values (see features/schema.ts).
 */
export type StatsSource = 'input' | 'output' | 'none';

export interface KernelSpec {
  role: KernelRole;
  in: StatsSource;
  out: StatsSource;
}

export interface LayerHandler {
  kind: PrunableKind;
  kernels: readonly KernelSpec[];
  /** Multiply-accumulates one kernel weight costs per input sample. */
  macsPerWeight(layer: Layer): number;
  /**
   * Whether the layer's units can be removed whole and compacted (Dense, Conv1D, Conv2D, SeparableConv2D, and LSTM / GRU /
   * SimpleRNN, whose unit is a column of each gate of its first kernel plus its recurrent row and columns).
   */
  structured: boolean;
  /** Which of `kernels` has the units as its last axis (default the first; SeparableConv2D: its pointwise kernel). */
  unitKernel?: number;
  /** Gates per unit (LSTM 4, GRU 3, else 1): the first kernel's columns are [gate 0 | gate 1 | …], each `units` wide. */
  gates?: number;
  /** Convolutions (the `is_conv` feature). */
  conv: boolean;
}

function firstShape(t: unknown): (number | null)[] | undefined {
  if (Array.isArray(t) && Array.isArray(t[0])) return t[0] as (number | null)[];
  if (Array.isArray(t)) return t as (number | null)[];
  return undefined;
}

/**
 * Product of the non-batch, non-channel dimensions of a shape (1 when unknown): the channels are the last axis,
 * or axis 1 for a layer with `dataFormat: 'channelsFirst'` ([batch, channels, h, w]).
 */
function positions(shape: (number | null)[] | undefined, channelsFirst = false): number {
  if (!shape) return 1;
  const n = (channelsFirst ? shape.slice(2) : shape.slice(1, -1)).reduce<number>((a, d) => a * (typeof d === 'number' && d > 0 ? d : 1), 1);
  return Number.isFinite(n) && n >= 1 ? n : 1;
}

function safe(f: () => unknown): (number | null)[] | undefined {
  try { return firstShape(f()); } catch { return undefined; }
}

function inputShapeOf(layer: Layer): unknown {
  const t = layer.input as TF.SymbolicTensor | TF.SymbolicTensor[];
  return Array.isArray(t) ? t.map((x) => x.shape) : t.shape;
}

const isChannelsFirst = (layer: Layer) => (layer.getConfig() as { dataFormat?: string }).dataFormat === 'channelsFirst';
/** Output positions per sample (Dense on a flat input: 1; Conv2D: outH·outW, either data format; Dense on a sequence: T). */
const outPositions = (layer: Layer) => positions(safe(() => layer.outputShape), isChannelsFirst(layer));
/** Input positions per sample (Conv2DTranspose: every input pixel is multiplied by the whole kernel). */
const inPositions = (layer: Layer) => positions(safe(() => inputShapeOf(layer)), isChannelsFirst(layer));
/** Time steps of a recurrent layer's input (every kernel and recurrent weight is used once per step). */
const timeSteps = (layer: Layer) => {
  const s = safe(() => inputShapeOf(layer));
  const t = s?.[1];
  return typeof t === 'number' && t > 0 ? t : 1;
};

const IO: KernelSpec = { role: 'kernel', in: 'input', out: 'output' };
const rnn = (kind: PrunableKind, gates: number): LayerHandler => ({
  kind,
  kernels: [{ role: 'kernel', in: 'input', out: 'none' }, { role: 'recurrent_kernel', in: 'output', out: 'none' }],
  macsPerWeight: timeSteps, structured: true, gates, conv: false,
});

/** Handlers by tfjs class name. */
export const LAYER_HANDLERS: Readonly<Record<string, LayerHandler>> = Object.freeze({
  Dense: { kind: 'dense', kernels: [IO], macsPerWeight: outPositions, structured: true, conv: false },
  Conv1D: { kind: 'conv1d', kernels: [IO], macsPerWeight: outPositions, structured: true, conv: true },
  Conv2D: { kind: 'conv2d', kernels: [IO], macsPerWeight: outPositions, structured: true, conv: true },
  Conv3D: { kind: 'conv3d', kernels: [IO], macsPerWeight: outPositions, structured: false, conv: true },
  DepthwiseConv2D: {
    kind: 'depthwise_conv2d', kernels: [{ role: 'depthwise_kernel', in: 'input', out: 'none' }],
    macsPerWeight: outPositions, structured: false, conv: true,
  },
  SeparableConv2D: {
    kind: 'separable_conv2d',
    kernels: [{ role: 'depthwise_kernel', in: 'input', out: 'none' }, { role: 'pointwise_kernel', in: 'none', out: 'output' }],
    // A unit is a filter: a column of the pointwise kernel (the depthwise kernel's channels are the layer's inputs).
    macsPerWeight: outPositions, structured: true, unitKernel: 1, conv: true,
  },
  // Kernel [kh, kw, filters, inChannels]: rows are output channels, columns input channels.
  Conv2DTranspose: {
    kind: 'conv2d_transpose', kernels: [{ role: 'kernel', in: 'output', out: 'input' }],
    macsPerWeight: inPositions, structured: false, conv: true,
  },
  LSTM: rnn('lstm', 4),
  GRU: rnn('gru', 3),
  SimpleRNN: rnn('simple_rnn', 1),
  Embedding: {
    // A lookup, not a product: pruning an embedding saves memory, not compute.
    kind: 'embedding', kernels: [{ role: 'embeddings', in: 'none', out: 'output' }],
    macsPerWeight: () => 0, structured: false, conv: false,
  },
});

/** Wrappers whose inner layers' kernels are pruned (activation statistics are not attributed through them). */
function wrapped(layer: Layer): Layer[] {
  const cls = layer.getClassName();
  const l = layer as unknown as { layer?: Layer; forwardLayer?: Layer; backwardLayer?: Layer };
  if (cls === 'TimeDistributed' && l.layer) return [l.layer];
  if (cls === 'Bidirectional' && l.forwardLayer && l.backwardLayer) return [l.forwardLayer, l.backwardLayer];
  return [];
}

/** Whether a layer is a model used as a layer. */
export function isContainer(layer: Layer): layer is Layer & TF.LayersModel {
  return Array.isArray((layer as unknown as { layers?: unknown }).layers) && !wrapped(layer).length;
}

/**
 * The calls of a layer in its graph: its inbound nodes, less a nested model's own construction node (a functional
 * model built from inputs has one reading nothing; a Sequential's first layer may take the outer input as its own,
 * with no call at all).
 */
export function callsOf(layer: Layer): Layer['inboundNodes'] {
  return isContainer(layer) ? layer.inboundNodes.filter((n) => n.inboundLayers.length > 0) : layer.inboundNodes;
}

/** How many times a nested model is called in its graph. */
export function outerCalls(container: Layer): number {
  return callsOf(container).length;
}

/** A prunable kernel found in a model. */
export interface FoundKernel {
  /** Unique name: the layer's name (its path through nested models) plus the weight's role unless it is the plain kernel. */
  name: string;
  layer: Layer;
  /** Nested models from the top-level model down to `layer` (empty at top level). */
  containers: Layer[];
  /** The layer whose weights these are when `layer` is a wrapper (TimeDistributed, Bidirectional); else `layer`. */
  owner: Layer;
  kind: PrunableKind;
  spec: KernelSpec;
  variable: TF.LayerVariable;
  macsPerWeight: number;
  structured: boolean;
  /** Gates per unit of a structured kernel (LayerHandler.gates), else 1. */
  gates: number;
  conv: boolean;
}

/** The weight of `owner` whose name ends in `/role` (or is `role`). */
function weightOf(owner: Layer, role: KernelRole): TF.LayerVariable | undefined {
  return owner.weights.find((w) => {
    const n = w.originalName ?? w.name;
    return n === role || n.endsWith(`/${role}`);
  });
}

/**
 * Every prunable kernel of a model, in layer order, descending into nested models and wrappers. Layers
 * reached twice (shared) are listed once. Top-level Dense / Conv2D kernels are named by their layer's name
 * (as masks.json and checkpoints have always named them).
 */
export function discoverKernels(model: TF.LayersModel): FoundKernel[] {
  const found: FoundKernel[] = [];
  const seen = new Set<Layer>();
  const visit = (layers: Layer[], containers: Layer[]) => {
    for (const layer of layers) {
      if (seen.has(layer)) continue;
      seen.add(layer);
      if (isContainer(layer)) {
        visit(layer.layers, [...containers, layer]);
        continue;
      }
      const path = [...containers.map((c) => c.name), layer.name].join('/');
      const inner = wrapped(layer);
      const owners = inner.length ? inner : [layer];
      for (const owner of owners) {
        const h = LAYER_HANDLERS[owner.getClassName()];
        if (!h) continue;
        for (const spec of h.kernels) {
          const variable = weightOf(owner, spec.role);
          if (!variable || variable.shape.length < 2) continue;
          const ownerPart = owner === layer ? '' : `/${owner.name}`;
          const rolePart = spec.role === 'kernel' ? '' : `/${spec.role}`;
          const wrapper = owner !== layer;
          found.push({
            name: `${path}${ownerPart}${rolePart}`,
            layer, containers, owner, kind: h.kind,
            // Statistics of a wrapper's input/output are not per step / per direction of what it wraps.
            spec: wrapper && layer.getClassName() === 'Bidirectional' ? { ...spec, in: 'none', out: 'none' } : spec,
            variable,
            // A wrapper's own shapes carry the time axis: TimeDistributed(Dense) costs T per weight, as a Bidirectional LSTM does.
            // A layer called several times in the graph (shared, e.g. tied towers) costs that many times per sample.
            // So does every layer of a nested model that is called several times (a backbone applied to two inputs).
            macsPerWeight: h.macsPerWeight(wrapper ? layer : owner) * Math.max(1, (wrapper ? layer : owner).inboundNodes.length) *
              containers.reduce((a, c) => a * Math.max(1, outerCalls(c)), 1),
            // Units go whole from a layer's unit kernel (a recurrent kernel's rows and columns go with them), also
            // inside nested models, unless one of them is shared (called more than once: its units are not one layer's).
            // (A functional model's own construction node reads nothing: only the nodes that call it count.)
            structured: h.structured && spec === h.kernels[h.unitKernel ?? 0] && !wrapper && containers.every((c) => outerCalls(c) <= 1),
            gates: h.structured && spec === h.kernels[h.unitKernel ?? 0] ? h.gates ?? 1 : 1,
            conv: h.conv,
          });
        }
      }
    }
  };
  visit(model.layers, []);
  // Kernels are named by their path (masks.json, --exclude, reports): two with one name could not be told apart.
  const names = new Set<string>();
  for (const k of found) {
    if (names.has(k.name)) {
      throw new ModelError(
        `model '${model.name}': two prunable kernels are both named '${k.name}' (a layer whose own name holds a '/' beside a nested model's layer, ` +
        'or two layers of one name): autoprune names kernels by their layer path, so rename one of the layers');
    }
    names.add(k.name);
  }
  return found;
}

/** Why a layer holding weights is left dense. */
export function untouchedReason(layer: Layer): string {
  const cls = layer.getClassName();
  if (/Normalization$/.test(cls)) return 'normalization weights are never pruned';
  if (LAYER_HANDLERS[cls]) return 'it holds no prunable kernel';
  // The generic recurrent wrapper (tf.layers.rnn with a cell, or stacked cells): its cells' kernels are not pruned, though
  // the same cell as its own layer is (a new user's GRU cell inside tf.layers.rnn read the README's "GRU" as covered).
  if (cls === 'RNN') return 'a generic RNN layer (tf.layers.rnn with a cell or stacked cells) is not pruned: build it from tf.layers.lstm / gru / simpleRNN layers (one per stacked cell), whose kernels are';
  return `${cls} layers have no pruning handler: only ${Object.keys(LAYER_HANDLERS).join(', ')} kernels (also inside TimeDistributed, Bidirectional and nested models) are pruned`;
}

/**
 * Why TensorFlow.js cannot fine-tune this model, naming the first layer at fault, or undefined: a Conv1D with causal
 * padding (Keras' WaveNet / TCN layers) does not even run in tfjs ("The support for CAUSAL padding mode in
 * conv1dWithBias is not implemented yet"); dilated convolutions (dilationRate > 1, as Keras models converted with
 * atrous convs have) have no gradient in tfjs ("dilation rates greater than 1 are not yet supported in gradients"),
 * and fine-tuning needs every layer's.
 */
export function notDifferentiable(model: TF.LayersModel): string | undefined {
  const cannotRun = notRunnable(model);
  if (cannotRun) return cannotRun;
  // A frozen dilated convolution before any trainable weight (a fixed front end) needs no gradient: nothing
  // upstream of it is trained (graph order is conservative: an earlier layer on another branch counts too).
  let trainableSoFar = false;
  for (const outer of leafLayers(model)) {
    for (const layer of [outer, ...wrapped(outer)]) {
      const rate = (layer.getConfig() as { dilationRate?: number | number[] }).dilationRate;
      const rates = rate == null ? [] : Array.isArray(rate) ? rate : [rate];
      const frozenFrontEnd = !trainableSoFar && layer.trainableWeights.length === 0;
      if (rates.some((r) => r > 1) && !frozenFrontEnd) {
        return `layer '${layer.name}' (${layer.getClassName()}, dilationRate ${JSON.stringify(rate)}) is a dilated convolution, and TensorFlow.js cannot compute its gradients, which fine-tuning needs` +
          ' (a frozen one is fine where no trainable layer comes before it)';
      }
    }
    if (outer.trainableWeights.length > 0) trainableSoFar = true;
  }
  return undefined;
}

/**
 * Why TensorFlow.js cannot even run this model's forward pass, naming the first layer at fault, or undefined: a Conv1D
 * with causal padding (Keras' WaveNet / TCN layers): "The support for CAUSAL padding mode in conv1dWithBias is not
 * implemented yet". `compact` checks this too (it runs the model to compare outputs).
 */
export function notRunnable(model: TF.LayersModel): string | undefined {
  for (const outer of leafLayers(model)) {
    for (const layer of [outer, ...wrapped(outer)]) {
      if ((layer.getConfig() as { padding?: string }).padding === 'causal') {
        return `layer '${layer.name}' (${layer.getClassName()}) has padding 'causal', which TensorFlow.js does not implement (the model cannot even ` +
          'predict in tfjs: "The support for CAUSAL padding mode in conv1dWithBias is not implemented yet")';
      }
    }
  }
  return undefined;
}

/**
 * Why a model's recurrent layers cannot be fine-tuned as autoprune does, if one keeps its state from one batch
 * to the next (`stateful: true`, nested and wrapped layers included): such a layer is built for one fixed batch
 * size and ordered batches, and autoprune trains and evaluates on shuffled batches of its own sizes.
 */
export function statefulLayer(model: TF.LayersModel): string | undefined {
  for (const outer of leafLayers(model)) {
    for (const layer of [outer, ...wrapped(outer)]) {
      if ((layer.getConfig() as { stateful?: boolean }).stateful === true) {
        const batch = (outer.batchInputShape ?? model.inputs[0]?.shape)?.[0];
        return `layer '${layer.name}' (${layer.getClassName()}) is stateful (it carries its state from one batch to the next${batch != null ? `, at a fixed batch of ${batch}` : ''}), ` +
          'and autoprune fine-tunes on shuffled batches of its own size: save the model with stateful: false (the weights are the same) and prune that';
      }
    }
  }
  return undefined;
}

/** Every leaf layer (not a nested model) with its path through nested models ('backbone/conv1'), in graph order. */
export function layerPaths(model: TF.LayersModel): Map<Layer, string> {
  const out = new Map<Layer, string>();
  const walk = (layers: Layer[], prefix: string) => {
    for (const l of layers) {
      if (isContainer(l)) walk(l.layers, `${prefix}${l.name}/`);
      else if (!out.has(l)) out.set(l, prefix + l.name);
    }
  };
  walk(model.layers, '');
  return out;
}

/** Every leaf layer of a model (descending into nested models), each once. */
export function leafLayers(model: TF.LayersModel): Layer[] {
  const out: Layer[] = [];
  const seen = new Set<Layer>();
  const visit = (layers: Layer[]) => {
    for (const l of layers) {
      if (seen.has(l)) continue;
      seen.add(l);
      if (isContainer(l)) visit(l.layers);
      else out.push(l);
    }
  };
  visit(model.layers);
  return out;
}
