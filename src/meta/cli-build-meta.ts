import { UsageError } from '../errors.js';
import { buildMeta, type BuildEvent } from './build.js';
import { FAMILIES } from './zoo.js';

export interface BuildMetaCliArgs {
  family: string;
  out?: string;
  workers?: number;
  /** Print one JSON object per event instead of progress lines. */
  json?: boolean;
  limitPerDigit?: number;
  maxRowsPerLayerPerStage?: number;
  /** Training samples per oracle candidate epoch (fractional epochs for costly families). */
  candidateSamples?: number;
  /** Recompute rows even when a zoo model's cache folder holds them for these settings. */
  fresh?: boolean;
}

/**
 * Per-family build settings behind the shipped datasets. Rows per layer keep each family's files
 * under ~15 MB. The cnn oracle judges its candidates on validation loss after a full epoch: judged
 * on accuracy after half an epoch, ties within one validation sample decided which layer took the
 * early cuts, and the nested masks carried that choice to every later target (docs/oracle.md). The
 * mlp data was built with the original accuracy judge and reproduces with it.
 */
export const FAMILY_BUILD_DEFAULTS: Readonly<Record<string, {
  maxRowsPerLayerPerStage: number;
  oracle?: { candidateSamples?: number; judge?: 'accuracy' | 'loss' };
}>> = Object.freeze({
  mlp: { maxRowsPerLayerPerStage: 1200 },
  cnn: { maxRowsPerLayerPerStage: 2000, oracle: { judge: 'loss' } },
});

/** The family's oracle settings, with an explicit candidateSamples taking precedence. */
export function familyOracle(family: string, candidateSamples?: number): { candidateSamples?: number; judge?: 'accuracy' | 'loss' } | undefined {
  const o = { ...(FAMILY_BUILD_DEFAULTS[family]?.oracle ?? {}), ...(candidateSamples != null ? { candidateSamples } : {}) };
  return Object.keys(o).length ? o : undefined;
}

function line(e: BuildEvent): string | undefined {
  switch (e.type) {
    case 'model-start': return `[worker ${e.worker}] ${e.model}: start`;
    case 'rows-cached': return `${e.model}: ${e.rows} rows from the cache (oracle not rerun; --fresh recomputes)`;
    case 'model-trained': return `${e.model}: dense model ${e.cached ? 'from cache' : `trained in ${e.seconds.toFixed(1)} s`}`;
    case 'oracle-stage': return `${e.model}: oracle @${e.target} → ${e.winner} (val ${(100 * e.valAccuracy).toFixed(1)} %, ${e.seconds.toFixed(0)} s)`;
    case 'model-done': return `${e.model}: ${e.rows} rows in ${e.seconds.toFixed(0)} s  [${e.done}/${e.total}]`;
    case 'written': return `wrote ${e.path} (${e.rows} rows, ${e.seconds.toFixed(0)} s)`;
    default: return undefined;
  }
}

/**
 * Entry point for `autoprune build-meta` (the CLI wires flags to these args). Returns the header
 * path. Progress goes to stderr (lines, or JSON with `json`).
 */
export async function main(args: BuildMetaCliArgs, argv: string[] = process.argv): Promise<string> {
  if (!FAMILIES.includes(args.family as never)) throw new UsageError(`--family must be one of ${FAMILIES.join(', ')}, got '${args.family}'`);
  const out = args.out ?? `datasets/meta-${args.family}.json`;
  const command = process.env.AUTOPRUNE_COMMAND ?? argv.slice(1).join(' ');
  const fam = FAMILY_BUILD_DEFAULTS[args.family];
  await buildMeta({
    family: args.family, out, workers: args.workers ?? 2, command,
    limitPerDigit: args.limitPerDigit, fresh: args.fresh, maxRowsPerLayerPerStage: args.maxRowsPerLayerPerStage ?? fam.maxRowsPerLayerPerStage,
    oracle: familyOracle(args.family, args.candidateSamples),
    onProgress: (e) => {
      if (args.json) process.stderr.write(JSON.stringify(e) + '\n');
      else { const l = line(e); if (l) process.stderr.write(l + '\n'); }
    },
  });
  return out;
}
