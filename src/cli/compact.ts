/** `autoprune compact`: compactPruned (src/compact-service.ts) with its result printed as tables. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { consoleTable } from './table.js';
import { compactPruned, COMPACT_TIME_BUDGET_MS, locate, type CompactOptions, type CompactResult } from '../compact-service.js';
import { ONE_CHANNEL_MIN_BATCH, describeRewrite } from '../pruning/rewrite.js';
import { latencyLine } from '../report/console.js';

function kb(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${(bytes / 1024 / 1024).toFixed(2)} MiB` : `${(bytes / 1024).toFixed(1)} KiB`;
}

/** '12.3 % removed', or '4.5 % more than dense' when a rewrite's MACs outweigh what was removed. */
function removed(macs: number, dense: number): string {
  const f = 1 - macs / Math.max(1, dense);
  return f >= 0 ? `${(100 * f).toFixed(1)} % removed` : `${(-100 * f).toFixed(1)} % more than dense`;
}

/** Why the compact model runs more MACs than the live weights: the rewrites' own MACs, then zeros inside kept units. */
function extraMacs(r: CompactResult): string {
  const extra = r.compute.compact - r.compute.live;
  if (extra <= 0) return '';
  const rewrites = r.rewrites.reduce((a, w) => a + w.macsAfter - w.macsBefore, 0);
  const zeros = extra - rewrites;
  const parts = [
    ...(rewrites > 0 ? [`${rewrites.toLocaleString('en')} are the phase convolutions' (the rewrites above)`] : []),
    ...(zeros > 0 ? [`${zeros.toLocaleString('en')} are zeros inside kept units, which still cost their MACs (tfjs has no sparse kernels)`] : []),
  ];
  return `: of the ${extra.toLocaleString('en')} more than the live weights, ${parts.join('; ')}`;
}

/**
 * A --targets run's folder: its lower targets' models are folders of their own, which this compaction left alone (a new
 * user expected them compacted, as a run's --compact does): said, with the command for each.
 */
function frontierNote(dir: string): string[] {
  const file = join(dir, 'frontier.json');
  if (!existsSync(file)) return [];
  let rows: { target?: number; path?: string }[] = [];
  try {
    rows = (JSON.parse(readFileSync(file, 'utf8')) as { rows?: typeof rows }).rows ?? [];
  } catch {
    return [];
  }
  const lower = rows.filter((x) => x.path && existsSync(join(dir, x.path, 'model')));
  if (lower.length === 0) return [];
  return [`this compacted the run's own model only: the frontier's lower targets (${lower.map((x) => x.path).join(', ')}) are models of their own: ${lower.map((x) => `autoprune compact ${join(dir, x.path!)}`).join('; ')} (a run's --compact compacts them all)`];
}

/** `autoprune compact <pruned-dir>`: prints sizes, units removed, skipped layers and output differences. */
export async function compactCommand(dir: string, cmd: CompactOptions & { json?: boolean } = {}): Promise<number> {
  const { json, ...opts } = cmd;
  // A prune run writing the folder (or the one written into) holds its lock: compacting it meanwhile would write files
  // that the run's final swap of the folder then removes (a new user's pipeline did; exit 0, files gone).
  const { checkCacheDir, lockOutDir } = await import('../output-dir.js');
  const { outDefault, modelFile } = locate(dir);
  // The locks live in the cache: never in the model's own folder (as a run refuses such a cache).
  checkCacheDir(dirname(modelFile));
  const folders = [...new Set([resolve(dir), resolve(opts.out ?? outDefault)])].filter((f) => existsSync(join(f, 'report.json')) || f === resolve(opts.out ?? outDefault));
  const releases: (() => void)[] = [];
  let r: CompactResult;
  try {
    for (const f of folders) releases.push(lockOutDir(f));
    r = await compactPruned(dir, { timeBudgetMs: COMPACT_TIME_BUDGET_MS, ...opts });
  } finally {
    for (const release of releases.reverse()) release();
  }
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  const s = r.sizes;
  const sizes = consoleTable(['stored as', 'bytes', 'size', 'vs dense']);
  const rows: [string, number | undefined][] = [
    ['dense float32', s.denseFloat32], ['masked raw', s.maskedRaw], ['masked gzip', s.maskedGzip],
    ['compact float32', s.compact], ['sparse', s.sparse], [[...r.files, ...(r.kept ?? [])].some((f) => f.endsWith('model.int8.sparse')) ? 'sparse + int8' : 'sparse + int8 (--int8 writes it)', s.sparseInt8],
  ];
  // A quantized input: its file's own size first, so that a float32 form larger than it reads as such.
  const stored = r.inputStored;
  if (stored) rows.unshift([`input file (${stored.dtypes.join(', ')})`, stored.weightBytes]);
  for (const [name, b] of rows) if (b != null) sizes.push([name, b, kb(b), `${(s.denseFloat32 / b).toFixed(1)}×`]);
  const units = consoleTable(['layer', 'kind', 'units', 'dead', 'unused', 'inputs', 'params']);
  for (const l of r.compact.layers) {
    units.push([l.name, l.kind, `${l.unitsBefore} → ${l.unitsAfter}`, l.removedDead, l.removedUnused,
      `${l.inputsBefore} → ${l.inputsAfter}`, `${l.paramsBefore} → ${l.paramsAfter}`]);
  }
  const lines = [
    `model ${r.input.model}${r.input.masks ? ` with ${r.input.masks}` : ' (masks from its zeros)'}: ${(100 * r.sparsity).toFixed(1)} % sparse`,
    sizes.toString(),
    'masked raw / gzip: the pruned model as tfjs saves it (its zeros stored), and gzipped; compact: the sliced model (compact/); sparse: only the live weights with their positions (model.sparse), + int8 with 8-bit values (docs/compaction.md). ' +
      'The dense, masked and compact rows count the weights alone (weights.bin; model.json adds its topology); the sparse rows the whole file, topology included',
    ...(stored ? [`the input stores its weights quantized (${stored.dtypes.join(', ')}: ${stored.weightBytes.toLocaleString('en')} bytes of weights); every other row is float32 as tfjs loads it${s.compact != null && s.compact > stored.weightBytes ? ` (the compact model's weights.bin is ${(s.compact / stored.weightBytes).toFixed(1)}× the input's)` : ''}: quantize compact/ again with tensorflowjs_converter (--quantize_uint8 / --quantize_float16), or use the sparse + int8 file (--int8)`] : []),
    units.toString(),
    'units: whole units (Dense columns, filters, recurrent units) before → after; dead: every incoming weight pruned, some outgoing kept (its constant output folded into the next layer); unused: every outgoing weight pruned, whatever its incoming (a unit removed whole counts here); inputs: the kernel\'s input rows or channels',
    ...r.compact.skipped.map((k) => `left intact: '${k.layer}': ${k.reason}`),
    ...r.rewrites.map(describeRewrite),
    ...(r.largeBatchRewrites ? [`served ${ONE_CHANNEL_MIN_BATCH} or more samples a call, \`--serving-batch 256\` also rewrites ${r.largeBatchRewrites} one-channel map${r.largeBatchRewrites > 1 ? 's' : ''} (a one-filter convolution and its 2×2 max pool as one strided convolution; 1.14–1.47× measured at batch 128–256, slower below: docs/compaction.md)`] : []),
    `compute (multiply-accumulates per sample of the kernels): dense ${r.compute.dense.toLocaleString('en')}, live weights of the pruned model ` +
      `${r.compute.live.toLocaleString('en')} (${removed(r.compute.live, r.compute.dense)}), the compact model runs ` +
      `${r.compute.compact.toLocaleString('en')} (${removed(r.compute.compact, r.compute.dense)})${extraMacs(r)}` +
      (r.compute.allKernels ? `; every kernel's, the frozen and excluded ones included: dense ${r.compute.allKernels.dense.toLocaleString('en')}, the compact model runs ` +
        `${r.compute.allKernels.compact.toLocaleString('en')} (${removed(r.compute.allKernels.compact, r.compute.allKernels.dense)})` : ''),
    ...(r.latency ? [latencyLine(r.latency, r.compact.paramsAfter < r.compact.paramsBefore)] : []),
    `max |output − masked output| on ${r.probeInputs.includes('rows') ? r.probeInputs : `32 random inputs (${r.probeInputs}: not your data; ${r.int8ClassChanges ? 'a classifier is often sure of one class on random inputs whatever its weights, so the int8 figures can be far below what int8 costs on real rows' : r.maxAbsDiff.sparseInt8 != null ? 'inputs of larger values make the int8 error larger' : 'inputs of larger values can give larger differences'}: --data <the run's CSV> compares on real rows, as a run's --compact does on its validation rows)`}: compact ${r.maxAbsDiff.compact.toExponential(2)}, ` +
      `sparse ${r.maxAbsDiff.sparse.toExponential(2)}` +
      (r.maxAbsDiff.sparseInt8 != null ? `, sparse + int8 ${r.maxAbsDiff.sparseInt8.toExponential(2)}` : '') +
      (r.int8ClassChanges ? ` (its highest output changed on ${r.int8ClassChanges.rows} of ${r.int8ClassChanges.of} inputs)` : ''),
    ...r.files.map((f) => `wrote ${f}`),
    ...(r.kept ?? []).map((f) => `kept ${f} (an earlier compaction's, the same bytes this one gives)`),
    ...(r.removed ?? []).map((f) => `removed ${f} (an earlier compaction's, whose bytes differ from this one's)`),
    ...frontierNote(dir),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  return 0;
}
