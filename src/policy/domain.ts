import { z } from 'zod';
import type { FeatureSchema } from '../features/types.js';
import type { Scorer } from './types.js';

/**
 * The layers a learned policy has seen: the kinds of kernel its training models had ('dense', 'conv2d', …) and, for
 * convolutions and for other kernels (as the `is_conv` feature tells them apart), the range of one unit's fan-in and of
 * the layer's units (fan-out) over its training rows. Recorded by train-policy in the policy file's `provenance.domain`.
 *
 * A policy scores every connection of every layer, but what it learned about *allocation* — how much a layer can give
 * up next to the others — comes from the layer descriptors of the models it was trained on. On a layer unlike any of
 * them (the 11 inputs of a table's first layer, where the zoo's first layers read 784 pixels, many always 0) its
 * allocation is an extrapolation; docs/agent.md ("Outside the policy's domain") measures what that cost.
 */
export interface PolicyDomain {
  convolution?: DomainRange;
  other?: DomainRange;
  /**
   * The kinds of kernel of its training models (src/pruning/layer-kinds.ts PrunableKind: 'dense', 'conv2d', 'lstm', …),
   * from their meta headers; absent where a header did not list its layers. An LSTM kernel reads like a Dense one to
   * the fan-in and units columns, a depthwise kernel like a convolution: what the policy never saw is outside whatever
   * its shape.
   */
  kinds?: string[];
}

/** One kind's range of one unit's fan-in and of the layer's units (kernel columns). */
export interface DomainRange {
  fanIn: [number, number];
  fanOut: [number, number];
}

/** The kinds of kernel of a policy's training models, when every model says (undefined otherwise). */
export function kindsOfModels(models: readonly { kinds?: readonly string[] }[]): string[] | undefined {
  if (models.length === 0 || models.some((m) => !m.kinds)) return undefined;
  return [...new Set(models.flatMap((m) => m.kinds!))].sort();
}

/** The kind of a kernel in a domain. */
export function domainKind(conv: boolean): 'convolution' | 'other' {
  return conv ? 'convolution' : 'other';
}

/**
 * The domain of a policy's training rows, from their `log_fan_in`, `log_fan_out` and `is_conv` columns (undefined when
 * the schema lacks one of them). Fan-ins and fan-outs are whole numbers: exp of the logged values, rounded.
 */
export function domainOfRows(schema: FeatureSchema, columns: readonly Float32Array[], kinds?: readonly string[]): PolicyDomain | undefined {
  const [fi, fo, ci] = ['log_fan_in', 'log_fan_out', 'is_conv'].map((n) => schema.names.indexOf(n));
  if (fi < 0 || fo < 0 || ci < 0) return undefined;
  const out: PolicyDomain = {};
  const n = columns[fi].length;
  for (let r = 0; r < n; r++) {
    const kind = domainKind(columns[ci][r] > 0.5);
    const fanIn = Math.round(Math.exp(columns[fi][r]));
    const fanOut = Math.round(Math.exp(columns[fo][r]));
    const d = out[kind];
    if (!d) out[kind] = { fanIn: [fanIn, fanIn], fanOut: [fanOut, fanOut] };
    else {
      d.fanIn = [Math.min(d.fanIn[0], fanIn), Math.max(d.fanIn[1], fanIn)];
      d.fanOut = [Math.min(d.fanOut[0], fanOut), Math.max(d.fanOut[1], fanOut)];
    }
  }
  return kinds ? { ...out, kinds: [...kinds].sort() } : out;
}

/** A kernel as the domain sees it: its name, whether it is a convolution, one unit's fan-in and its units. */
export interface DomainLayer {
  name: string;
  /** Its PrunableKind ('dense', 'lstm', …); checked against the domain's kinds where it records them. */
  kind?: string;
  conv: boolean;
  fanIn: number;
  fanOut: number;
  /** Gates of a recurrent kernel (its columns are gates × units); 1 otherwise. */
  gates?: number;
}

const KIND_NAMES: Record<string, string> = {
  dense: 'Dense', conv1d: 'Conv1D', conv2d: 'Conv2D', conv3d: 'Conv3D', depthwise_conv2d: 'depthwise', separable_conv2d: 'separable',
  conv2d_transpose: 'Conv2DTranspose', lstm: 'LSTM', gru: 'GRU', simple_rnn: 'SimpleRNN', embedding: 'Embedding',
};

/** Why each layer outside `domain` is outside (empty when all are inside). */
export function outsideDomain(domain: PolicyDomain, layers: readonly DomainLayer[]): { layer: string; why: string }[] {
  const out: { layer: string; why: string }[] = [];
  for (const l of layers) {
    if (domain.kinds && l.kind && !domain.kinds.includes(l.kind)) {
      const name = KIND_NAMES[l.kind] ?? l.kind;
      out.push({ layer: l.name, why: `${/^(LSTM|Embedding)$/.test(name) ? 'an' : 'a'} ${name} kernel: it saw ${domain.kinds.map((k) => KIND_NAMES[k] ?? k).join(' and ')} kernels only` });
      continue;
    }
    const kind = domainKind(l.conv);
    const d = domain[kind];
    if (!d) {
      out.push({ layer: l.name, why: `a ${kind === 'convolution' ? 'convolution' : 'layer other than a convolution'}: it saw none` });
      continue;
    }
    const why: string[] = [];
    if (l.fanIn < d.fanIn[0] || l.fanIn > d.fanIn[1]) why.push(`fan-in ${l.fanIn}, outside ${d.fanIn[0]}–${d.fanIn[1]}`);
    const gates = l.gates ?? 1;
    const units = gates > 1 ? `${l.fanOut} columns (${gates} gates × ${l.fanOut / gates} units)` : `${l.fanOut} unit${l.fanOut === 1 ? '' : 's'}`;
    if (l.fanOut < d.fanOut[0] || l.fanOut > d.fanOut[1]) why.push(`${units}, outside ${d.fanOut[0]}–${d.fanOut[1]}`);
    if (why.length) out.push({ layer: l.name, why: why.join(', ') });
  }
  return out;
}

/** `[min, max]`, finite, min ≤ max. */
const PAIR = z.tuple([z.number().finite(), z.number().finite()]).refine(([a, b]) => a <= b, 'min above max');
const RANGE = z.object({ fanIn: PAIR, fanOut: PAIR }).strict();

/** A well-formed `provenance.domain`: what loading a policy file checks, and what domainOf accepts. */
export const DOMAIN_SCHEMA = z.object({ convolution: RANGE.optional(), other: RANGE.optional(), kinds: z.array(z.string().min(1)).optional() }).strict();

/** A scorer's recorded domain (`provenance.domain` of a learned policy), if it has a well-formed one. */
export function domainOf(scorer: Scorer): PolicyDomain | undefined {
  const d = (scorer as { provenance?: { domain?: unknown } }).provenance?.domain;
  return d != null && DOMAIN_SCHEMA.safeParse(d).success ? d as PolicyDomain : undefined;
}
