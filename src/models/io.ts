import type * as TF from '@tensorflow/tfjs';
import { makeDirs } from '../util/make-dirs.js';
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, extname, isAbsolute, join, resolve, sep } from 'node:path';
import { tf } from '../backend/tf.js';
import { rememberLoss, rememberTask, savedLoss, taskOf, toldTask, type TaskInfo } from './task.js';
import { ModelError, UsageError } from '../errors.js';
import { realPathOf } from '../util/real-path.js';
import { SPARSE_MAGIC } from '../pruning/sparse-format.js';
import { VERSION } from '../version.js';
import { usableMemory } from '../util/memory.js';
import { activationsOf } from './activation-batch.js';

/** Bytes per element of a weights-manifest dtype (after quantization, what the file holds). */
const DTYPE_BYTES: Record<string, number> = { float32: 4, int32: 4, bool: 1, uint8: 1, uint16: 2, float16: 2, int8: 1, int16: 2 };

/** Largest model.json read (a topology is kilobytes to a few megabytes). */
const MAX_MODEL_JSON_BYTES = 64 * 1024 * 1024;

interface ManifestSpec { name: string; shape: number[]; dtype: string; quantization?: { dtype?: string } }

/** True when `child` (a real path) is `dir` or inside it. */
function isInside(child: string, dir: string): boolean {
  return child === dir || child.startsWith(dir.endsWith(sep) ? dir : dir + sep);
}

/**
 * Reads a tfjs LayersModel's files through one guarded reader: model.json must be a regular file of sane
 * size; every weights path must be relative and resolve (symlinks followed) to a regular file inside the
 * model's own folder; the files' sizes must equal what the manifest's shapes and dtypes need, checked before
 * any weights are read or any layer is built; no layer may declare more units than the manifest holds
 * weights; float weights must be finite. Errors are ModelErrors naming the file and what is wrong.
 */
export function readModelArtifacts(path: string): { file: string; artifacts: TF.io.ModelArtifacts } {
  let file = resolve(path);
  if (existsSync(file) && statSync(file).isDirectory()) {
    if (basename(file) === 'model.json') throw new ModelError(`model file '${path}' is a folder, not a model.json; give the model.json a tfjs model.save() wrote, or the folder that holds it`);
    file = join(file, 'model.json');
    if (!existsSync(file)) {
      // An autoprune output folder (report.json beside model/): its pruned model is in model/ (inspect and compact take
      // the folder itself, which is why a new user gave it to --model).
      const inner = join(dirname(file), 'model', 'model.json');
      if (existsSync(inner) && jsonFormatOf(join(dirname(file), 'report.json')) === 'autoprune-report') {
        throw new ModelError(`model folder '${path}' is an autoprune output folder, not a model's: its pruned model is '${join(path, 'model')}' (give that to --model)`);
      }
      throw new ModelError(`model folder '${path}' holds no model.json; give the model.json a tfjs model.save() wrote, or its folder`);
    }
  }
  if (!existsSync(file)) {
    // A tfjs URL (what model.save() is given) names the file through a scheme autoprune does not read.
    const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(path);
    throw new ModelError(`model file '${path}' does not exist${scheme ? `: give a path, not a ${scheme[1]}:// URL${scheme[1].toLowerCase() === 'file' ? ` (${path.replace(/^file:\/\//i, '')})` : ''}` : ''}`);
  }
  // model.json itself is read from the model's folder as the weights files are: a link to a file elsewhere is not
  // followed (a link to /etc/passwd was read and quoted in the error; a new user's adversarial trial).
  if (!isInside(realpathSync(file), realpathSync(dirname(file)))) {
    throw new ModelError(`model file '${path}'${file !== resolve(path) ? ' (its model.json)' : ''} is a link to a file outside the model's folder ('${realpathSync(file)}'); give the model.json itself, or its folder`);
  }
  const st = statSync(file);
  if (!st.isFile()) throw new ModelError(`model file '${path}' is not a regular file`);
  if (st.size > MAX_MODEL_JSON_BYTES) throw new ModelError(`model file '${path}' is ${st.size} bytes; a tfjs model.json is at most ${MAX_MODEL_JSON_BYTES} bytes`);
  let json: unknown;
  const raw = readFileSync(file);
  // autoprune's own sparse file ('APSF…', written by `compact` and `--compact`): named, not shown as garbled JSON.
  if (raw.length >= SPARSE_MAGIC.length && SPARSE_MAGIC.every((b, i) => raw[i] === b)) {
    throw new ModelError(`model file '${path}' is an autoprune sparse export (.sparse), not a tfjs model.json: read it with decodeSparse (autoprune/sparse), or give the model.json it was exported from`);
  }
  // A weight file given for the model: said as such (its bytes are no JSON), naming the model.json beside it.
  if (/\.bin$/i.test(file) && raw.length > 0 && raw[0] !== 0x7b) {
    throw new ModelError(`model file '${path}' is a weight file (binary), not a model.json: give the model.json beside it, or its folder (${dirname(file)})`);
  }
  // A data table given for the model (a new user's CSV in build-meta's --models): said as such, not as broken JSON.
  if (/\.(csv|tsv)$/i.test(file) && raw.length > 0 && raw[0] !== 0x7b) {
    throw new ModelError(`model file '${path}' is a data table (.${extname(file).slice(1).toLowerCase()}), not a tfjs model.json: give the model's model.json (or its folder) there, and the table to --data`);
  }
  try {
    json = JSON.parse(raw.toString('utf8').replace(/^\uFEFF/, ''));
  } catch (err) {
    // The parser quotes the text it stopped at: non-printable bytes are shown as '?' (a binary file's would garble the line).
    throw new ModelError(`model file '${path}' is not valid JSON (${(err as Error).message.split('\n')[0].replace(/[^\x20-\x7e]/g, '?')})`);
  }
  const j = json as { format?: unknown; modelTopology?: unknown; weightsManifest?: unknown; trainingConfig?: unknown; userDefinedMetadata?: unknown };
  if (!j || typeof j !== 'object' || Array.isArray(j)) throw new ModelError(`model file '${path}' is not a tfjs model.json (not a JSON object)`);
  const depth = jsonDepth(j, MAX_JSON_DEPTH);
  if (depth > MAX_JSON_DEPTH) throw new ModelError(`model file '${path}' nests its JSON more than ${MAX_JSON_DEPTH} levels deep, far beyond any model's topology; it is not a model autoprune can read`);
  const topo = j.modelTopology as { node?: unknown; class_name?: unknown; model_config?: unknown; config?: unknown } | undefined;
  if (j.format === 'graph-model' || (topo && typeof topo === 'object' && Array.isArray(topo.node))) {
    throw new ModelError(`model file '${path}' is a tfjs graph model (a frozen graph without layers); autoprune needs a LayersModel: convert the Keras model with tensorflowjs_converter --input_format keras --output_format tfjs_layers_model`);
  }
  const ours = typeof j.format === 'string' ? OWN_FILES[j.format] : undefined;
  if (ours) throw new ModelError(`model file '${path}' is autoprune's ${ours[0]}, not a model: ${ours[1]}`);
  if (!topo || typeof topo !== 'object') {
    throw new ModelError(`model file '${path}' is not a tfjs LayersModel (no modelTopology); convert it with tensorflowjs_converter --output_format tfjs_layers_model`);
  }
  if (j.weightsManifest == null) {
    throw new ModelError(`model file '${path}' has no weightsManifest: its weights are not in the model (saved as a topology only?); save it with model.save('file://…') or convert it with its weights`);
  }
  const manifest = j.weightsManifest;
  if (!Array.isArray(manifest)) throw new ModelError(`model file '${path}': weightsManifest is not a list`);
  const dir = dirname(file);
  const realDir = realpathSync(dir);
  const files: string[] = [];
  const specs: ManifestSpec[] = [];
  let fileBytes = 0;
  let needBytes = 0;
  let elements = 0;
  for (const group of manifest as { paths?: unknown; weights?: unknown }[]) {
    if (!group || !Array.isArray(group.paths) || !Array.isArray(group.weights)) throw new ModelError(`model file '${path}': a weightsManifest entry has no paths/weights lists`);
    for (const p of group.paths) {
      if (typeof p !== 'string' || p === '') throw new ModelError(`model file '${path}': a weights path is not a file name`);
      if (isAbsolute(p)) throw new ModelError(`model file '${path}' refers to weights file '${p}' by an absolute path; weights files must be inside the model's folder`);
      const candidate = resolve(dir, p);
      if (!isInside(candidate, dir)) throw new ModelError(`model file '${path}' refers to weights file '${p}' outside the model's folder`);
      if (!existsSync(candidate)) throw new ModelError(`model '${path}' refers to weights file '${p}', which is missing`);
      const real = realpathSync(candidate);
      if (!isInside(real, realDir)) throw new ModelError(`model file '${path}' refers to weights file '${p}', a link to a file outside the model's folder`);
      const ws = statSync(real);
      if (!ws.isFile()) throw new ModelError(`model file '${path}' refers to weights file '${p}', which is not a regular file`);
      files.push(real);
      fileBytes += ws.size;
    }
    for (const w of group.weights as ManifestSpec[]) {
      const shape = w?.shape;
      if (!w || typeof w.name !== 'string' || !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
        throw new ModelError(`model file '${path}': weight '${String(w?.name)}' has no valid shape in the manifest`);
      }
      const dtype = w.quantization?.dtype ?? w.dtype;
      const bytes = DTYPE_BYTES[dtype];
      if (bytes == null) throw new ModelError(`model file '${path}': weight '${w.name}' has unsupported dtype '${String(dtype)}'`);
      const n = shape.reduce((a, b) => a * b, 1);
      elements += n;
      needBytes += n * bytes;
      specs.push(w);
    }
  }
  if (fileBytes !== needBytes) {
    throw new ModelError(`model '${path}': its weights files hold ${fileBytes} bytes but the manifest's weights need ${needBytes} (${fileBytes < needBytes ? 'truncated or mismatched weights' : `${fileBytes - needBytes} bytes more than the manifest describes: mismatched weights`})`);
  }
  checkDeclaredSizes(path, topo, elements);
  const weightData = new Uint8Array(needBytes);
  let off = 0;
  for (const f of files) {
    const b = readFileSync(f);
    weightData.set(b, off);
    off += b.length;
  }
  checkFinite(path, specs, weightData);
  // Keras' converter nests the training config in the topology (tfjs reads only a top-level one).
  const trainingConfig = j.trainingConfig ?? (topo as { training_config?: unknown }).training_config;
  const meta = j.userDefinedMetadata as { autoprune?: { loss?: unknown } } | undefined;
  const artifacts: TF.io.ModelArtifacts = {
    modelTopology: withSeparableMultipliers(kerasCompatible(topo), specs) as TF.io.ModelArtifacts['modelTopology'],
    weightSpecs: specs as unknown as TF.io.WeightsManifestEntry[],
    weightData: weightData.buffer,
    ...(trainingConfig && typeof trainingConfig === 'object' ? { trainingConfig: trainingConfig as TF.io.TrainingConfig } : {}),
    ...(meta && typeof meta === 'object' ? { userDefinedMetadata: meta as TF.io.ModelArtifacts['userDefinedMetadata'] } : {}),
  };
  return { file, artifacts };
}

/**
 * tfjs-layers saves a SeparableConv2D without its `depth_multiplier` (its getConfig leaves it out; backend/tf.ts puts it
 * back for what autoprune writes), so a model tfjs itself saved with a multiplier above 1 reloads as multiplier 1 and
 * fails ("Shape mismatch: [3,3,8,1] vs. [3,3,8,2]"). The multiplier is the depthwise kernel's last axis in the weights
 * manifest: a separable layer whose config lacks it gets it from there.
 */
export function withSeparableMultipliers(topology: unknown, specs: readonly { name: string; shape: number[] }[]): unknown {
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(visit); return; }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    const config = o.config as Record<string, unknown> | undefined;
    if (o.class_name === 'SeparableConv2D' && config && config.depth_multiplier == null && typeof config.name === 'string') {
      const own = specs.filter((w) => w.name === `${config.name as string}/depthwise_kernel` || w.name.endsWith(`/${config.name as string}/depthwise_kernel`));
      const m = own.length === 1 ? own[0].shape[3] : undefined;
      if (typeof m === 'number' && m > 1) config.depth_multiplier = m;
    }
    for (const v of Object.values(o)) visit(v);
  };
  visit(topology);
  return topology;
}

/** The Keras tensors a Keras 3 call's arguments name (nested lists of `__keras_tensor__` objects), in order. */
function kerasHistories(arg: unknown, into: unknown[][] = []): unknown[][] {
  if (Array.isArray(arg)) arg.forEach((a) => kerasHistories(a, into));
  else if (arg && typeof arg === 'object') {
    const h = (arg as { config?: { keras_history?: unknown } }).config?.keras_history;
    if (Array.isArray(h)) into.push([h[0], h[1] ?? 0, h[2] ?? 0, {}]);
  }
  return into;
}

/**
 * A Keras 3 topology in the Keras 2 form tfjs-layers reads (a copy; Keras 2 topologies come back unchanged):
 * InputLayer `batch_shape` as `batch_input_shape`; call nodes `{ args: [keras tensors], kwargs }` as
 * `[[layer, node, tensor, {}], …]`; a functional model's single `input_layers` / `output_layers` entry
 * `[name, 0, 0]` as a list of one; the L1 / L2 regularizer classes as tfjs' L1L2; activation 'silu' as 'swish'.
 */
export function kerasCompatible(topology: unknown): unknown {
  const visit = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(visit);
    if (!node || typeof node !== 'object') return node;
    const o: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) o[k] = visit(v);
    const config = o.config as Record<string, unknown> | undefined;
    if (o.class_name === 'InputLayer' && config && config.batch_shape != null && config.batch_input_shape == null) {
      const { batch_shape: shape, ...rest } = config;
      o.config = { ...rest, batch_input_shape: shape };
    }
    // Keras 3 names swish 'silu'.
    if (config && config.activation === 'silu') o.config = { ...(o.config as object), activation: 'swish' };
    if ((o.class_name === 'L1' || o.class_name === 'L2') && config) {
      o.class_name = 'L1L2';
      o.config = { l1: Number(config.l1 ?? 0), l2: Number(config.l2 ?? 0) };
    }
    if (Array.isArray(o.inbound_nodes) && o.inbound_nodes.some((n) => n && typeof n === 'object' && !Array.isArray(n) && 'args' in n)) {
      o.inbound_nodes = o.inbound_nodes.map((n) => kerasHistories((n as { args?: unknown }).args));
    }
    for (const key of ['input_layers', 'output_layers']) {
      const v = o[key];
      if (Array.isArray(v) && typeof v[0] === 'string') o[key] = [v];
    }
    return o;
  };
  return visit(topology);
}

/** Keras' loss aliases and class names that tfjs-layers does not know, as the names it does. */
const KERAS_LOSS_ALIASES: Record<string, string> = {
  mse: 'mean_squared_error', mae: 'mean_absolute_error', mape: 'mean_absolute_percentage_error', msle: 'mean_squared_logarithmic_error',
  kld: 'kullback_leibler_divergence', kl_divergence: 'kullback_leibler_divergence', cosine_similarity: 'cosine_proximity',
};

/** Losses tfjs-layers compiles by name (snake_case, as Keras and tfjs' own training configs write them). */
const TFJS_LOSSES = new Set([
  'mean_squared_error', 'mean_absolute_error', 'mean_absolute_percentage_error', 'mean_squared_logarithmic_error', 'squared_hinge', 'hinge',
  'categorical_hinge', 'logcosh', 'categorical_crossentropy', 'sparse_categorical_crossentropy', 'binary_crossentropy',
  'kullback_leibler_divergence', 'poisson', 'cosine_proximity',
]);

/** tfjs' own optimizer config for Adam: what a training config needs to load where the file's cannot be compiled. */
const TFJS_ADAM = { class_name: 'Adam', config: { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7 } };

/**
 * A loss as a training config names it: a string ('mse', 'mean_squared_error', 'meanSquaredError') or a Keras 3
 * object ({ class_name: 'MeanSquaredError', config: { name: 'mean_squared_error' } }), as snake_case with
 * Keras' aliases spelled out; for several outputs, the first's.
 */
export function lossNameOf(raw: unknown): string | undefined {
  if (Array.isArray(raw)) return lossNameOf(raw[0]);
  let name: string | undefined;
  if (typeof raw === 'string') name = raw;
  else if (raw && typeof raw === 'object') {
    const o = raw as { class_name?: unknown; config?: { name?: unknown } };
    if (typeof o.config?.name === 'string') name = o.config.name;
    else if (typeof o.class_name === 'string') name = o.class_name;
    else return lossNameOf(Object.values(raw)[0]); // { output_name: loss }
  }
  if (!name) return undefined;
  const snake = name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
  return KERAS_LOSS_ALIASES[snake] ?? snake;
}

/** The loss fine-tuning used for a task whose model file named none (lossOf's, models/task.ts). */
function fineTuneLoss(task: TaskInfo): string {
  if (task.kind === 'regression' || task.kind === 'autoencoder') return 'mean_squared_error';
  if (task.kind === 'multilabel' || task.units === 1) return 'binary_crossentropy';
  return 'categorical_crossentropy';
}

/**
 * Settings of a Keras loss object that autoprune's fine-tuning and the written model.json do not keep (Huber's delta
 * other than 1, from_logits, label smoothing), e.g. ['delta: 10'].
 */
export function droppedLossSettings(raw: unknown): string[] {
  if (Array.isArray(raw)) return droppedLossSettings(raw[0]);
  if (!raw || typeof raw !== 'object') return [];
  const o = raw as { class_name?: unknown; config?: Record<string, unknown> };
  if (typeof o.class_name !== 'string') return Object.keys(raw).length ? droppedLossSettings(Object.values(raw)[0]) : [];
  const c = o.config ?? {};
  return [
    ...(typeof c.delta === 'number' && c.delta !== 1 ? [`delta: ${c.delta}`] : []),
    ...(c.from_logits === true ? ['from_logits: true'] : []),
    ...(typeof c.label_smoothing === 'number' && c.label_smoothing > 0 ? [`label_smoothing: ${c.label_smoothing}`] : []),
  ];
}

const droppedSettings = new WeakMap<TF.LayersModel, string[]>();

/** What droppedLossSettings found in the loss of the file a model was loaded from. */
export function lossSettingsDropped(model: TF.LayersModel): string[] {
  return droppedSettings.get(model) ?? [];
}

/**
 * tfjs.loadLayersModel, compiled with the file's training config where tfjs can: as written, else with its loss
 * named as tfjs knows it and tfjs' Adam (Keras writes optimizer configs tfjs cannot read; autoprune never uses
 * the file's optimizer), else without one, the loss remembered for the task (rememberLoss). A loss autoprune
 * saved in userDefinedMetadata (one tfjs cannot compile) is remembered the same way.
 * Loss settings the written model.json will not keep are remembered too (lossSettingsDropped).
 */
async function loadArtifacts(artifacts: TF.io.ModelArtifacts): Promise<TF.LayersModel> {
  const model = await loadArtifactsOnly(artifacts);
  const dropped = droppedLossSettings((artifacts.trainingConfig as { loss?: unknown } | undefined)?.loss);
  if (dropped.length) droppedSettings.set(model, dropped);
  return model;
}

async function loadArtifactsOnly(artifacts: TF.io.ModelArtifacts): Promise<TF.LayersModel> {
  // A model compiled with a loss function of its own saves `loss: {}`: nothing to compile (tfjs would warn that the
  // output "is missing from loss dictionary"), so it loads as a model saved without a training config.
  const given = artifacts.trainingConfig as { loss?: unknown } | undefined;
  const emptyLoss = given?.loss != null && typeof given.loss === 'object' && !Array.isArray(given.loss) && Object.keys(given.loss).length === 0;
  const tc = emptyLoss ? undefined : given;
  const loss = lossNameOf(tc?.loss) ?? lossNameOf((artifacts.userDefinedMetadata as { autoprune?: { loss?: unknown } } | undefined)?.autoprune?.loss);
  const tries: (TF.io.TrainingConfig | undefined)[] = tc ? [artifacts.trainingConfig] : [];
  // Keras' form (snake_case optimizer settings, metrics nested per output) as tfjs reads it, then the loss alone with tfjs' Adam.
  const tfjsLoss = tc && loss && TFJS_LOSSES.has(loss) ? loss : undefined;
  const kept = tfjsLoss ? tfjsCompileSettings(tc as { optimizer_config?: unknown; metrics?: unknown }) : undefined;
  if (kept) tries.push({ loss: tfjsLoss, metrics: kept.metrics, optimizer_config: kept.optimizer } as unknown as TF.io.TrainingConfig);
  if (tfjsLoss) tries.push({ loss: tfjsLoss, metrics: [], optimizer_config: TFJS_ADAM } as unknown as TF.io.TrainingConfig);
  for (const [k, trainingConfig] of tries.entries()) {
    // A load that fails on the training config has built the model already: its variables (and a half-made
    // optimizer's) are registered and would outlive it, so they are freed here.
    const registered = () => tf.engine().state.registeredVariables as Record<string, TF.Variable>;
    const before = new Set(Object.keys(registered()));
    try {
      const model = ownOptimizer(await tf.loadLayersModel(tf.io.fromMemory({ ...artifacts, trainingConfig })));
      // Keras' own form can compile half-way: tfjs' SGD takes `learning_rate` as no rate at all, and metrics nested per
      // output compile but cannot be saved again. Such a compile is the next form's to make.
      if (k < tries.length - 1 && !compiledWhole(model)) {
        model.dispose();
        throw new Error('compiled half-way');
      }
      // Compiled with the loss alone: what the file's optimizer and metrics were, for the warning that the output names neither.
      const lost = !kept || k === 0 ? undefined : k === tries.length - 1 ? kept.described : kept.unknownOptimizer;
      if (lost) compileSettingsLost.set(model, { settings: lost });
      return model;
    } catch {
      for (const [name, v] of Object.entries(registered())) if (!before.has(name)) v.dispose();
    }
  }
  const { trainingConfig: _ignored, ...bare } = artifacts;
  const model = ownOptimizer(await tf.loadLayersModel(tf.io.fromMemory(bare)));
  rememberLoss(model, loss);
  // A loss tfjs cannot compile (Huber): the written model.json has no training config, so its optimizer and metrics go.
  const lost = tc && !tfjsLoss ? tfjsCompileSettings(tc as { optimizer_config?: unknown; metrics?: unknown })?.described : undefined;
  if (lost) compileSettingsLost.set(model, { settings: lost, loss: loss ?? 'its loss' });
  return model;
}

/** Whether a compiled model's training config can be saved again and its optimizer has a learning rate. */
function compiledWhole(model: TF.LayersModel): boolean {
  try {
    const tc = (model as unknown as { getTrainingConfig(): { optimizer_config?: { config?: Record<string, unknown> } } }).getTrainingConfig();
    return typeof tc.optimizer_config?.config?.learningRate === 'number';
  } catch {
    return false;
  }
}

const compileSettingsLost = new WeakMap<TF.LayersModel, { settings: string; loss?: string }>();

/**
 * The file's optimizer (and metrics), where tfjs could not compile the model with them: `settings`, e.g. "optimizer
 * Nadam (learning rate 0.003)". Without `loss`, it was compiled with its loss and tfjs' Adam at its defaults, which the
 * written model.json then names; with `loss` (one tfjs cannot compile, e.g. 'huber'), it was not compiled at all: the
 * written model.json keeps that loss in autoprune's metadata and has no training config.
 */
export function compileSettingsDropped(model: TF.LayersModel): { settings: string; loss?: string } | undefined {
  return compileSettingsLost.get(model);
}

/** Keras optimizers whose settings tfjs' optimizers of the same name take (snake_case → tfjs' names, with Keras' defaults). */
const KERAS_OPTIMIZERS: Record<string, Record<string, [tfjs: string, keras: number | boolean]>> = {
  Adam: { learning_rate: ['learningRate', 0.001], beta_1: ['beta1', 0.9], beta_2: ['beta2', 0.999], epsilon: ['epsilon', 1e-7] },
  SGD: { learning_rate: ['learningRate', 0.01] },
  // Keras' SGD with momentum is tfjs' Momentum optimizer (tfjs' SGD has none).
  Momentum: { learning_rate: ['learningRate', 0.01], momentum: ['momentum', 0], nesterov: ['useNesterov', false] },
  RMSProp: { learning_rate: ['learningRate', 0.001], rho: ['decay', 0.9], momentum: ['momentum', 0], epsilon: ['epsilon', 1e-7], centered: ['centered', false] },
  Adagrad: { learning_rate: ['learningRate', 0.001], initial_accumulator_value: ['initialAccumulatorValue', 0.1] },
  Adamax: { learning_rate: ['learningRate', 0.001], beta_1: ['beta1', 0.9], beta_2: ['beta2', 0.999], epsilon: ['epsilon', 1e-7], decay: ['decay', 0] },
};

/** tfjs' class name of a Keras optimizer config (Keras spells RMSprop, tfjs registers RMSProp; SGD with momentum is Momentum). */
function tfjsOptimizerClass(name: string, c: Record<string, unknown>): string {
  if (name === 'RMSprop') return 'RMSProp';
  if (name === 'SGD' && typeof c.momentum === 'number' && c.momentum > 0) return 'Momentum';
  return name;
}

/**
 * A training config's optimizer and metrics as tfjs compiles them (a Keras-converted model writes Adam's
 * `learning_rate`, tfjs reads `learningRate`; Keras nests metrics per output), and how they read, for a warning
 * where even these do not compile. Undefined where the config names neither.
 */
/** Metric names tfjs-layers compiles (its metrics.get), for the names of Keras' metric objects. */
const TFJS_METRICS = new Set(['accuracy', 'acc', 'binaryAccuracy', 'categoricalAccuracy', 'precision', 'recall', 'mse', 'MSE', 'mae', 'MAE', 'mape', 'MAPE', 'cosine']);

function tfjsCompileSettings(tc: { optimizer_config?: unknown; metrics?: unknown }): { optimizer: unknown; metrics: unknown[]; described: string; unknownOptimizer?: string } | undefined {
  const raw = tc.optimizer_config as { class_name?: unknown; config?: Record<string, unknown> } | undefined;
  // A metric as a name, or as Keras' converter writes it, an object ({class_name: 'MeanMetricWrapper', config: {name:
  // 'accuracy', fn: 'categorical_accuracy'}}): its name (it was dropped without a word).
  const metrics = (Array.isArray(tc.metrics) ? tc.metrics.flat(2) : tc.metrics && typeof tc.metrics === 'object' ? Object.values(tc.metrics).flat(2) : [])
    .map((m) => {
      if (!m || typeof m !== 'object') return m;
      // An object's name only where tfjs compiles it: another name would fail the compile, and the fallback forms lose
      // the file's optimizer settings with it (such a metric stays out, as it always did).
      const name = (m as { config?: { name?: unknown } }).config?.name;
      return typeof name === 'string' && TFJS_METRICS.has(name) ? name : undefined;
    })
    .filter((m): m is string => typeof m === 'string');
  if (!raw?.class_name && metrics.length === 0) return undefined;
  const name = typeof raw?.class_name === 'string' ? raw.class_name : undefined;
  const c = raw?.config ?? {};
  const className = name ? tfjsOptimizerClass(name, c) : undefined;
  const map = className ? KERAS_OPTIMIZERS[className] : undefined;
  let optimizer: unknown = TFJS_ADAM;
  if (map) {
    const config: Record<string, unknown> = {};
    for (const [keras, [tfjs, def]] of Object.entries(map)) {
      const v = c[keras] ?? c[tfjs];
      config[tfjs] = typeof v === typeof def ? v : def;
    }
    optimizer = { class_name: className, config };
  }
  const lr = typeof c.learning_rate === 'number' ? c.learning_rate : typeof c.learningRate === 'number' ? c.learningRate : undefined;
  const opt = name ? `optimizer ${name}${lr != null ? ` (learning rate ${lr})` : ''}` : undefined;
  const said = [...(opt ? [opt] : []), ...(metrics.length ? [`metrics ${metrics.join(', ')}`] : [])];
  return { optimizer, metrics, described: said.join(', '), ...(opt && !map ? { unknownOptimizer: opt } : {}) };
}

/** A layer declaring more units/filters/dims than the manifest holds weights would allocate them before any check. */
function checkDeclaredSizes(path: string, topo: unknown, elements: number): void {
  const limit = Math.max(elements, 1);
  const visit = (node: unknown, layer: string): void => {
    if (!node || typeof node !== 'object') return;
    if (Array.isArray(node)) { node.forEach((n) => visit(n, layer)); return; }
    const o = node as Record<string, unknown>;
    const name = typeof o.name === 'string' ? o.name : layer;
    for (const key of ['units', 'filters', 'output_dim', 'input_dim']) {
      const v = o[key];
      if (typeof v === 'number' && v > limit) {
        throw new ModelError(`model '${path}': layer '${name}' declares ${key} ${v}, more than the ${elements} weights its manifest holds`);
      }
    }
    for (const v of Object.values(o)) visit(v, name);
  };
  visit(topo, '?');
}

function checkFinite(path: string, specs: ManifestSpec[], data: Uint8Array): void {
  let off = 0;
  const bad = (s: ManifestSpec, v: number, i: number, stored?: string) => {
    throw new ModelError(`model '${path}': weight '${s.name}' holds a non-finite value (${v}${stored ? ` once dequantized from ${stored}` : ''}) at index ${i}`);
  };
  for (const s of specs) {
    const n = s.shape.reduce((a, b) => a * b, 1);
    const q = s.quantization as { dtype?: string; scale?: number; min?: number } | undefined;
    const dtype = q?.dtype ?? s.dtype;
    const bytes = DTYPE_BYTES[dtype]!;
    const view = new DataView(data.buffer, data.byteOffset + off, n * bytes);
    if (dtype === 'float32') {
      // A typed view where the offset allows (the usual all-float32 file: fast on tens of millions of weights); after a
      // float16 or uint8 entry the offset may not be a multiple of 4, read through the DataView then.
      const at = data.byteOffset + off;
      const f32 = at % 4 === 0 ? new Float32Array(data.buffer, at, n) : undefined;
      for (let i = 0; i < n; i++) {
        const v = f32 ? f32[i] : view.getFloat32(4 * i, true);
        if (!Number.isFinite(v)) bad(s, v, i);
      }
    } else if (q && dtype === 'float16') {
      // IEEE half: an exponent of all ones is ±Infinity (zero fraction) or NaN (what --quantize_float16 writes for |v| > 65504).
      for (let i = 0; i < n; i++) {
        const h = view.getUint16(2 * i, true);
        if ((h & 0x7c00) === 0x7c00) bad(s, (h & 0x3ff) !== 0 ? NaN : h & 0x8000 ? -Infinity : Infinity, i, 'float16');
      }
    } else if (q && (dtype === 'uint8' || dtype === 'uint16')) {
      // tfjs dequantizes to float32 as min + scale · q: a scale or min out of float32's range overflows.
      const scale = q.scale ?? 1;
      const min = q.min ?? 0;
      for (let i = 0; i < n; i++) {
        const v = Math.fround(min + scale * (dtype === 'uint8' ? view.getUint8(i) : view.getUint16(2 * i, true)));
        if (!Number.isFinite(v)) bad(s, v, i, dtype);
      }
    }
    off += n * bytes;
  }
}

/**
 * Loads a tfjs LayersModel from `model.json` (or a folder holding one) through readModelArtifacts (nothing
 * outside the model's folder is read). Errors name the file and what is wrong. The files are only read,
 * never written. Works on every backend (no file:// handler involved).
 */
/** autoprune's own JSON files, given where a model was expected: what each is, and where it goes instead. */
const OWN_FILES: Record<string, [what: string, instead: string]> = {
  'autoprune-policy': ['pruning policy', 'give it with --policy'],
  'autoprune-meta': ['meta-dataset (policy training rows)', 'give it to autoprune train-policy --meta'],
  'autoprune-report': ['run report', 'the pruned model is the model/ folder beside it'],
  'autoprune-masks': ['masks file', 'the pruned model is the model/ folder beside it'],
  'autoprune-frontier': ['frontier list', "each target's model is in frontier/<target>/model/ beside it"],
};

export async function loadModel(path: string): Promise<TF.LayersModel> {
  const { artifacts } = readModelArtifacts(path);
  let model: TF.LayersModel;
  try {
    model = await loadArtifacts(artifacts);
  } catch (err) {
    throw new ModelError(`cannot load model '${path}': ${loadErrorText(err, artifacts.modelTopology)}`);
  }
  const quantized = [...new Set((artifacts.weightSpecs ?? []).map((w) => w.quantization?.dtype).filter((d): d is NonNullable<typeof d> => d != null))];
  if (quantized.length > 0) storedQuantized.set(model, { dtypes: quantized, weightBytes: (artifacts.weightData as ArrayBuffer).byteLength });
  return model;
}

/**
 * A model to prune whose one sample's layer outputs could not be held in memory is refused before any work, naming its
 * largest layer: a layer without weights can declare any output size (RepeatVector n: 1e9, which no weight count
 * bounds), which ended in TensorFlow's own out-of-memory error after seconds of work. Fine-tuning holds about three
 * copies of them (forward, backward): refused where that is more than half of the memory this process may use
 * (usableMemory) for one sample. (inspect, which runs nothing, still shows such a model.)
 */
export function checkActivationSize(where: string, model: TF.LayersModel, use: { copies: number; what: string } = { copies: 3, what: 'to fine-tune on it' }): void {
  const { total, largest } = activationsOf(model);
  const bytes = use.copies * 4 * total;
  const memory = usableMemory();
  if (!(bytes > memory / 2) || !largest) return;
  const gb = (b: number) => `${(b / 2 ** 30).toFixed(b < 2 ** 33 ? 1 : 0)} GB`;
  throw new ModelError(`${where}: one sample's layer outputs are ${total.toExponential(2)} values (about ${gb(bytes)} ${use.what}), more than half of the ${gb(memory)} of memory here; the largest is layer '${largest.layer}' with ${largest.floats.toExponential(2)} values per sample`);
}

const storedQuantized = new WeakMap<TF.LayersModel, QuantizedStorage>();

/** How a loaded model's file stored its weights quantized: the dtypes, and the bytes its weights files held. */
export interface QuantizedStorage { dtypes: string[]; weightBytes: number }

/**
 * The quantized dtypes a loaded model's file stored its weights in (tensorflowjs_converter --quantize_uint8 /
 * _uint16 / _float16), if any, and its weights files' bytes: tfjs dequantizes them on load, and autoprune writes float32.
 */
export function quantizedStorage(model: TF.LayersModel): QuantizedStorage | undefined {
  return storedQuantized.get(model);
}

/**
 * tfjs' reason in one line: its first, without the list of possible causes it announces (an unknown class:
 * a Keras layer, activation, loss or regularizer tfjs-layers does not implement), never empty.
 */
function loadErrorText(err: unknown, topology?: unknown): string {
  const e = err as Error | undefined;
  let line = (e?.message ?? '').split('\n')[0].trim();
  // tfjs-layers cannot call a layer with an activity regularizer: the layers that have one are named, and what to do.
  if (/activity regularizer/i.test(line)) {
    const named = layersWith(topology, (config) => config.activity_regularizer != null || config.activityRegularizer != null);
    if (named.length) line = `${line.replace(/\.$/, '')} (tfjs-layers): layer${named.length > 1 ? 's' : ''} ${named.map((n) => `'${n}'`).join(', ')} ${named.length > 1 ? 'have' : 'has'} one; it only adds a training loss, so set activity_regularizer to null in model.json (or rebuild without it) to prune the model`;
  }
  const unknown = /^(Unknown [a-z]+: [^.]+)\. This may be due to one of the following reasons:?$/i.exec(line);
  // tfjs saves the activation 'gelu_new' under a name its own loader does not know (tfjs-layers 4.x): not a Keras class.
  if (unknown && /^Unknown activation: gelu_?new$/i.test(unknown[1])) {
    line = `${unknown[1]}: tfjs-layers saves its 'gelu_new' activation under a name it cannot load back (a tfjs bug; tf.loadLayersModel fails the same way); use 'gelu' (the exact GELU, which it reloads), or edit model.json's "gelu_new" to "gelu" and accept the small difference`;
  } else if (unknown) line = `${unknown[1]}: a Keras class tfjs-layers does not implement; remove it from the model before converting, or, through the library API, register a JavaScript implementation with autoprune's tf (tf.serialization.registerClass) before calling autoprune() (the CLI loads the classes tfjs-layers has)`;
  if (!line) line = `${e?.name ?? 'Error'} without a message (a topology tfjs-layers cannot read: is it a Keras 3 export of a model type tfjs does not support?)`;
  return line.slice(0, 400);
}

/** Names of the layers (at any depth of a Keras topology) whose config satisfies `test`. */
function layersWith(topology: unknown, test: (config: Record<string, unknown>) => boolean): string[] {
  const out: string[] = [];
  const visit = (node: unknown): void => {
    if (Array.isArray(node)) { node.forEach(visit); return; }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    const config = o.config as Record<string, unknown> | undefined;
    if (typeof o.class_name === 'string' && config && typeof config === 'object' && !Array.isArray(config) && test(config) && typeof config.name === 'string') out.push(config.name);
    for (const v of Object.values(o)) visit(v);
  };
  visit(topology);
  return [...new Set(out)];
}

/**
 * Saves a model in tfjs format (model.json + weights.bin) atomically: temp folder, then rename. The files are
 * written from the model's artifacts (modelFiles), not through tfjs' file:// handler, which only tfjs-node
 * registers: a run on the pure-JS 'cpu' or the 'wasm' backend caches its default model too.
 */
export async function saveModel(model: TF.LayersModel, dir: string): Promise<void> {
  const target = resolve(dir);
  const tmp = join(dirname(target), `.${basename(target)}.tmp-${process.pid}-${Date.now()}`);
  makeDirs(dirname(target));
  try {
    const files = await modelFiles(model);
    makeDirs(tmp);
    for (const f of files) writeFileSync(join(tmp, f.relPath), f.data);
    rmSync(target, { recursive: true, force: true });
    renameSync(tmp, target);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Number of parameters of a model (all weights). */
export function countParams(model: TF.LayersModel): number {
  return model.weights.reduce((a, w) => a + w.shape.reduce((x: number, y) => x * (y ?? 1), 1), 0);
}

/** A model's artifacts (topology + weights) in memory. */
export async function modelArtifacts(model: TF.LayersModel): Promise<TF.io.ModelArtifacts> {
  let artifacts: TF.io.ModelArtifacts | undefined;
  await model.save(tf.io.withSaveHandler(async (a) => {
    artifacts = a;
    return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
  }));
  // The loss a model was compiled with says its task (models/task.ts): copies and saved models keep it.
  const trained = model as unknown as { optimizer?: unknown; getTrainingConfig(): TF.io.TrainingConfig };
  if (trained.optimizer != null) {
    try {
      artifacts!.trainingConfig = trained.getTrainingConfig();
    } catch { /* a custom loss function has no name to save */ }
  }
  if (!artifacts!.trainingConfig) {
    // A loss tfjs could not compile (remembered at load), or the one fine-tuning used for a task the user named:
    // as a training config plain tfjs loads where it knows the loss, else in autoprune's metadata.
    const loss = savedLoss(model) ?? (toldTask(model) ? fineTuneLoss(taskOf(model)) : undefined);
    if (loss && TFJS_LOSSES.has(loss)) artifacts!.trainingConfig = { loss, metrics: [], optimizer_config: TFJS_ADAM } as unknown as TF.io.TrainingConfig;
    else if (loss) artifacts!.userDefinedMetadata = { ...(artifacts!.userDefinedMetadata ?? {}), autoprune: { loss } };
  }
  return artifacts!;
}

/** One file of a tfjs model folder, in memory. */
export interface ModelFile {
  relPath: string;
  data: string | Uint8Array;
}

/** The tfjs files of a model (`${prefix}model.json` + `${prefix}weights.bin`), in memory, for atomic writing. */
export async function modelFiles(model: TF.LayersModel, prefix = ''): Promise<ModelFile[]> {
  const a = await modelArtifacts(model);
  const wd = a.weightData as ArrayBuffer | ArrayBuffer[];
  const weights = Array.isArray(wd) ? tf.io.concatenateArrayBuffers(wd) : wd;
  const json = {
    modelTopology: a.modelTopology, format: 'layers-model', generatedBy: `autoprune ${VERSION}`, convertedBy: null,
    weightsManifest: [{ paths: ['weights.bin'], weights: a.weightSpecs }],
    ...(a.trainingConfig ? { trainingConfig: a.trainingConfig } : {}),
    ...(a.userDefinedMetadata ? { userDefinedMetadata: a.userDefinedMetadata } : {}),
  };
  return [
    { relPath: `${prefix}model.json`, data: JSON.stringify(json) },
    { relPath: `${prefix}weights.bin`, data: new Uint8Array(weights) },
  ];
}

/**
 * Compiles `to` with `from`'s training config (its loss, optimizer and settings, metrics) where `from` is compiled: a model
 * rebuilt from another (the compact one) is saved with the same training config. Nothing where tfjs cannot compile it.
 */
export function copyTrainingConfig(from: TF.LayersModel, to: TF.LayersModel): void {
  const m = from as unknown as { optimizer?: unknown; getTrainingConfig(): TF.io.TrainingConfig };
  if (m.optimizer == null) return;
  try {
    (to as unknown as { loadTrainingConfig(c: TF.io.TrainingConfig): void }).loadTrainingConfig(m.getTrainingConfig());
    ownOptimizer(to);
  } catch { /* a loss given as a function has no name: the loss is remembered apart (rememberLoss) */ }
}

/**
 * A model loaded with a training config is compiled with an optimizer tfjs does not count as the model's
 * own, so model.dispose() would leave its variables (Adam's β powers) behind. autoprune trains with its own
 * optimizer; the loaded one only says what the model was compiled with, and goes with the model.
 */
function ownOptimizer(model: TF.LayersModel): TF.LayersModel {
  const m = model as unknown as { optimizer?: unknown; isOptimizerOwned?: boolean };
  if (m.optimizer != null) m.isOptimizerOwned = true;
  return model;
}

/**
 * A deep copy of a model (topology and weights), so the caller's model is never modified. A loss given as a
 * function (which model.json cannot hold: it is saved as {}) is compiled into the copy again, with a fresh
 * optimizer of the original's kind and settings, so that the model autoprune returns can still be trained.
 */
export async function cloneModel(model: TF.LayersModel, o: { inputDims?: number[] } = {}): Promise<TF.LayersModel> {
  const artifacts = await modelArtifacts(model);
  if (o.inputDims) artifacts.modelTopology = withInputDims(artifacts.modelTopology as ModelTopologyJson, o.inputDims);
  const copy = await loadArtifacts(artifacts);
  const loss = (model as unknown as { loss?: unknown }).loss;
  const hasFunction = typeof loss === 'function' || (Array.isArray(loss) && loss.some((l) => typeof l === 'function')) ||
    (loss != null && typeof loss === 'object' && !Array.isArray(loss) && Object.values(loss).some((l) => typeof l === 'function'));
  const opt = (model as unknown as { optimizer?: TF.Optimizer }).optimizer;
  if (hasFunction && opt) {
    const cls = opt.constructor as unknown as { fromConfig(c: unknown, config: unknown): TF.Optimizer };
    (copy as unknown as { optimizer?: { dispose(): void } }).optimizer?.dispose();
    copy.compile({ loss: loss as TF.ModelCompileArgs['loss'], optimizer: cls.fromConfig(opt.constructor, opt.getConfig()) });
    ownOptimizer(copy);
  }
  rememberTask(copy, toldTask(model));
  return copy;
}

type LayerJson = { class_name: string; config: { name?: string; batch_input_shape?: (number | null)[]; layers?: LayerJson[] } };
type ModelTopologyJson = LayerJson & { config: { input_layers?: unknown[] } };

/**
 * The topology with the model's input shape (beside the batch) set to `dims`: the first layer's batch_input_shape of a
 * Sequential, the InputLayer's of a functional model (one input). A model saved with unknown lengths ([null] for an
 * Embedding without inputLength, [null, 14] for an RNN) has weights that do not depend on them.
 */
function withInputDims(topology: ModelTopologyJson, dims: number[]): ModelTopologyJson {
  const t = JSON.parse(JSON.stringify(topology)) as ModelTopologyJson;
  const layers = t.config.layers ?? [];
  const target = t.class_name === 'Sequential' ? layers[0] : layers.find((l) => l.class_name === 'InputLayer');
  if (!target) throw new ModelError('cannot fix the model\'s input shape: no input layer in its topology');
  target.config.batch_input_shape = [null, ...dims];
  return t;
}

/**
 * Throws a UsageError, before any work, when a file cannot be written at `path` (the `flag` that named it): a folder
 * there, a file where a folder of the path belongs, or a nearest existing folder that is not writable.
 */
export function checkOutFile(path: string, flag: string, inputs: readonly string[] = []): void {
  const abs = resolve(path);
  // Never an input of the same command (a model.json build-meta reads, a meta-dataset train-policy reads).
  const same = (a: string, b: string) => realPathOf(a) === realPathOf(b);
  const input = inputs.find((i) => same(abs, resolve(i)) || (existsSync(resolve(i)) && statSync(resolve(i)).isDirectory() && same(abs, join(resolve(i), 'model.json'))));
  if (input) throw new UsageError(`${flag} '${path}' is an input of this command ('${input}'), which is never written to; choose another ${flag}`);
  if (existsSync(abs) && statSync(abs).isDirectory()) throw new UsageError(`${flag} '${path}' is a folder: give the path of a file to write`);
  // A device or a FIFO there would be replaced by the file (a new user's train-policy --out /dev/null did, as root) or,
  // opened, block deaf to SIGTERM (build-meta --out onto a FIFO, after its whole oracle).
  if (existsSync(abs) && !statSync(abs).isFile()) throw new UsageError(`${flag} '${path}' is not a regular file (a device, pipe or socket): give the path of a file to write`);
  let dir = dirname(abs);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory()) throw new UsageError(`${flag} '${path}': '${dir}' is a file, not a folder`);
  probeWritable(dir, flag);
}

/**
 * The `format` of the JSON file at `path` (an autoprune file names its own: 'autoprune-policy', 'autoprune-meta'), or
 * undefined where it is not such a file (not JSON, not an object, too large to be one).
 */
export function jsonFormatOf(path: string): string | undefined {
  try {
    if (statSync(path).size > 64 * 1024 * 1024) return undefined;
    const j = JSON.parse(readFileSync(path, 'utf8')) as { format?: unknown };
    return typeof j?.format === 'string' ? j.format : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Throws a UsageError where writing a command's output file at `path` would replace a file autoprune did not write
 * (`ours` says whether the existing one is autoprune's) or write into an input model's folder (`models`: model folders
 * or model.json paths, as --models takes them). A new user's `train-policy --out m/model.json` replaced their model.
 */
export function checkOutReplaces(path: string, flag: string, ours: (path: string) => boolean, what: string, models: readonly string[] = []): void {
  const abs = resolve(path);
  const real = realPathOf(dirname(abs));
  for (const m of models) {
    const dir = resolve(m);
    // A model's folder: the folder given that holds a model.json, or the folder of a model file given (a path that is
    // neither is refused later, as the model it is not).
    const isDir = existsSync(dir) && statSync(dir).isDirectory();
    if (isDir ? !existsSync(join(dir, 'model.json')) : !existsSync(dir)) continue;
    const folder = isDir ? dir : dirname(dir);
    const realFolder = realPathOf(folder);
    // A model in the working folder or above it (a project's own model.json at its root): that folder holds the user's
    // outputs too, as autoprune's --out rule has it; only the model's file itself and its weights are never replaced.
    const cwd = realPathOf(process.cwd());
    if (cwd === realFolder || cwd.startsWith(realFolder + sep)) continue;
    if (real === realFolder || real.startsWith(realFolder + sep)) throw new UsageError(`${flag} '${path}' is in the input model's folder '${folder}', which is never written to; choose another ${flag}`);
  }
  if (existsSync(abs) && !ours(abs)) throw new UsageError(`${flag} '${path}' exists and is not ${what} autoprune wrote: it is never replaced; choose another ${flag} (or remove that file yourself)`);
}

/**
 * The nearest existing folder at or above `path`, where a folder at `path` would be made: throws a UsageError (`what:
 * '…' is not a folder`) where a file is in the way, and when nothing can be created there (probeWritable).
 */
export function writableFolderFor(path: string, what: string): string {
  let parent = resolve(path);
  while (!existsSync(parent)) parent = dirname(parent);
  if (!statSync(parent).isDirectory()) throw new UsageError(`${what}: '${parent}' is not a folder`);
  probeWritable(parent, what);
  return parent;
}

/** The target of a symbolic link at `path` that leads nowhere (its target does not exist); undefined otherwise. */
export function danglingLink(path: string): string | undefined {
  try {
    return lstatSync(path).isSymbolicLink() && !existsSync(path) ? readlinkSync(path) : undefined;
  } catch {
    return undefined;
  }
}

/** What the error codes of a failed write in an existing folder mean, in words (a bare ENOENT for /proc read as a missing file). */
const WRITE_FAILURES: Record<string, string> = {
  EACCES: 'no permission', EPERM: 'not permitted', EROFS: 'a read-only file system', ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded', ENOENT: 'nothing can be created there, a virtual file system such as /proc or /sys',
};

/** Throws a UsageError when no folder can be created in `dir` (read-only mount, no permission, /proc). */
export function probeWritable(dir: string, what: string): void {
  let probe: string | undefined;
  try {
    probe = mkdtempSync(join(dir, '.autoprune-probe-'));
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code ? WRITE_FAILURES[e.code] : undefined;
    throw new UsageError(`${what}: '${dir}' is not writable (${e.code ?? e.message.split('\n')[0]}${why ? `: ${why}` : ''})`);
  } finally {
    if (probe) rmSync(probe, { recursive: true, force: true });
  }
}

/** Deepest nesting a model.json may have: nested models of nested models stay far below it. */
const MAX_JSON_DEPTH = 1000;

/** Nesting depth of a parsed JSON value, counted without recursion, stopping once it exceeds `limit`. */
function jsonDepth(root: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[root, 1]];
  while (stack.length > 0) {
    const [node, d] = stack.pop()!;
    if (!node || typeof node !== 'object') continue;
    if (d > max) max = d;
    if (max > limit) return max;
    for (const v of Array.isArray(node) ? node : Object.values(node)) if (v && typeof v === 'object') stack.push([v, d + 1]);
  }
  return max;
}
