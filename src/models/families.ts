import type * as TF from '@tensorflow/tfjs';
import { tf } from '../backend/tf.js';
import { UsageError } from '../errors.js';

export type Activation = 'relu' | 'tanh' | 'sigmoid' | 'elu' | 'selu' | 'linear' | 'relu6';

export interface MlpArgs {
  family: 'mlp';
  /** Shape of one input sample; multi-dimensional inputs are flattened first. */
  inputShape: number[];
  /** Widths of the hidden Dense layers, e.g. [300, 100]. */
  hidden: number[];
  /** Hidden activation. Default 'relu'. */
  activation?: Activation;
  /** Output classes; 2 with `binaryOutput` gives one sigmoid unit. */
  numClasses: number;
  /** One sigmoid output unit instead of a softmax (binary tasks). Default false. */
  binaryOutput?: boolean;
  /** Weight-initialisation seed. */
  seed?: number;
}

export interface CnnArgs {
  family: 'cnn';
  /** [height, width, channels]. */
  inputShape: number[];
  /** One entry per conv block: filters and (square) kernel size; each block is Conv2D → max-pool 2. */
  convs: { filters: number; kernel: number }[];
  /** Widths of the Dense layers after flatten. */
  dense: number[];
  activation?: Activation;
  numClasses: number;
  binaryOutput?: boolean;
  seed?: number;
}

export type ModelArgs = MlpArgs | CnnArgs;

/** LeNet-300-100 exactly as in the benchmark protocol (266,200 prunable weights). */
export const LENET_300_100: Omit<MlpArgs, 'seed'> = Object.freeze({
  family: 'mlp', inputShape: [784], hidden: [300, 100], activation: 'relu', numClasses: 10,
}) as Omit<MlpArgs, 'seed'>;

/** LeNet-5, Caffe variant (430,500 prunable weights). */
export const LENET_5: Omit<CnnArgs, 'seed'> = Object.freeze({
  family: 'cnn', inputShape: [28, 28, 1], convs: [{ filters: 20, kernel: 5 }, { filters: 50, kernel: 5 }],
  dense: [500], activation: 'relu', numClasses: 10,
}) as Omit<CnnArgs, 'seed'>;

/** Named architectures the CLI and benchmarks refer to. */
export const ARCHITECTURES: Readonly<Record<string, Omit<ModelArgs, 'seed'>>> = Object.freeze({
  'lenet-300-100': LENET_300_100,
  'lenet-5': LENET_5,
});

export function architecture(name: string): Omit<ModelArgs, 'seed'> {
  const a = ARCHITECTURES[name];
  if (!a) throw new UsageError(`unknown architecture '${name}'; known: ${Object.keys(ARCHITECTURES).join(', ')}`);
  return a;
}

function kernelInit(seed: number | undefined, i: number) {
  return tf.initializers.glorotUniform({ seed: seed == null ? undefined : seed * 1000 + i });
}

function outputLayer(args: ModelArgs, seed: number | undefined, i: number): TF.layers.Layer {
  const binary = args.binaryOutput && args.numClasses === 2;
  return tf.layers.dense({
    units: binary ? 1 : args.numClasses,
    activation: binary ? 'sigmoid' : 'softmax',
    kernelInitializer: kernelInit(seed, i),
    name: 'output',
  });
}

/** Builds an untrained model of a family. Deterministic for a given seed. */
export function buildModel(args: ModelArgs): TF.Sequential {
  const act = args.activation ?? 'relu';
  const seed = args.seed;
  const model = tf.sequential({ name: args.family });
  if (args.family === 'mlp') {
    if (args.inputShape.length > 1) model.add(tf.layers.flatten({ inputShape: args.inputShape }));
    args.hidden.forEach((units, i) => {
      model.add(tf.layers.dense({
        units, activation: act, kernelInitializer: kernelInit(seed, i), name: `dense_${i + 1}`,
        ...(i === 0 && args.inputShape.length === 1 ? { inputShape: args.inputShape } : {}),
      }));
    });
    model.add(outputLayer(args, seed, args.hidden.length));
    return model;
  }
  if (args.inputShape.length !== 3) {
    throw new UsageError(`cnn input shape must be [height, width, channels], got [${args.inputShape}]`);
  }
  args.convs.forEach((c, i) => {
    model.add(tf.layers.conv2d({
      filters: c.filters, kernelSize: c.kernel, activation: act, kernelInitializer: kernelInit(seed, i),
      name: `conv_${i + 1}`, ...(i === 0 ? { inputShape: args.inputShape } : {}),
    }));
    model.add(tf.layers.maxPooling2d({ poolSize: 2, name: `pool_${i + 1}` }));
  });
  model.add(tf.layers.flatten({ name: 'flatten' }));
  args.dense.forEach((units, i) => {
    model.add(tf.layers.dense({ units, activation: act, kernelInitializer: kernelInit(seed, 100 + i), name: `dense_${i + 1}` }));
  });
  model.add(outputLayer(args, seed, 200));
  return model;
}
