import type { FeatureSchema } from '../features/types.js';
import type { Scorer } from './types.js';

/**
 * The layers a learned policy has seen: per kind of kernel ('convolution' or 'other', as the `is_conv` feature tells
 * them apart), the range of one unit's fan-in and of the layer's units (fan-out) over its training rows. Recorded by
 * train-policy in the policy file's `provenance.domain`.
 *
 * A policy scores every connection of every layer, but what it learned about *allocation* — how much a layer can give
 * up next to the others — comes from the layer descriptors of the models it was trained on. On a layer unlike any of
 * them (the 11 inputs of a table's first layer, where the zoo's first layers read 784 pixels, many always 0) its
 * allocation is an extrapolation; docs/agent.md ("Outside the policy's domain") measures what that cost.
 */
export interface PolicyDomain {
  [kind: string]: { fanIn: [number, number]; fanOut: [number, number] };
}

/** The kind of a kernel in a domain. */
export function domainKind(conv: boolean): 'convolution' | 'other' {
  return conv ? 'convolution' : 'other';
}

/**
 * The domain of a policy's training rows, from their `log_fan_in`, `log_fan_out` and `is_conv` columns (undefined when
 * the schema lacks one of them). Fan-ins and fan-outs are whole numbers: exp of the logged values, rounded.
 */
export function domainOfRows(schema: FeatureSchema, columns: readonly Float32Array[]): PolicyDomain | undefined {
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
  return out;
}

/** A kernel as the domain sees it: its name, whether it is a convolution, one unit's fan-in and its units. */
export interface DomainLayer {
  name: string;
  conv: boolean;
  fanIn: number;
  fanOut: number;
}

/** Why each layer outside `domain` is outside (empty when all are inside). */
export function outsideDomain(domain: PolicyDomain, layers: readonly DomainLayer[]): { layer: string; why: string }[] {
  const out: { layer: string; why: string }[] = [];
  for (const l of layers) {
    const kind = domainKind(l.conv);
    const d = domain[kind];
    if (!d) {
      out.push({ layer: l.name, why: `a ${kind === 'convolution' ? 'convolution' : 'layer other than a convolution'}: it saw none` });
      continue;
    }
    const why: string[] = [];
    if (l.fanIn < d.fanIn[0] || l.fanIn > d.fanIn[1]) why.push(`fan-in ${l.fanIn}, outside ${d.fanIn[0]}–${d.fanIn[1]}`);
    if (l.fanOut < d.fanOut[0] || l.fanOut > d.fanOut[1]) why.push(`${l.fanOut} unit${l.fanOut === 1 ? '' : 's'}, outside ${d.fanOut[0]}–${d.fanOut[1]}`);
    if (why.length) out.push({ layer: l.name, why: why.join(', ') });
  }
  return out;
}

/** A scorer's recorded domain (`provenance.domain` of a learned policy), if it has a well-formed one. */
export function domainOf(scorer: Scorer): PolicyDomain | undefined {
  const d = (scorer as { provenance?: { domain?: unknown } }).provenance?.domain;
  if (typeof d !== 'object' || d === null || Array.isArray(d)) return undefined;
  const ok = (r: unknown) => Array.isArray(r) && r.length === 2 && r.every((v) => typeof v === 'number' && Number.isFinite(v));
  for (const v of Object.values(d)) {
    if (typeof v !== 'object' || v === null || !ok((v as { fanIn?: unknown }).fanIn) || !ok((v as { fanOut?: unknown }).fanOut)) return undefined;
  }
  return d as PolicyDomain;
}
