import { consoleTable } from './table.js';
import { loadModel } from '../models/io.js';
import { excludedIn, loadMasksFrom } from '../pruning/mask-io.js';
import { PrunableModel, type ComputeReport, type Coverage, type SparsityReport } from '../pruning/prunable-model.js';
import { asTyped, locate } from '../compact-service.js';
import { checkModelShape } from '../models/task.js';
import { checkUnitsRemovable, maxComputeRemovable, SCATTERED_ZEROS_MAX, unitsKeptFor, zerosCompactionKeeps } from '../agent/granularity.js';

/**
 * Prunable layers of a saved model, their sparsity (from masks.json beside it, else from its zeros) and
 * the multiply-accumulates per sample of the live weights.
 */
export async function inspectModel(path: string): Promise<SparsityReport & {
  masksFile: boolean; compute: ComputeReport; layerMacs: number[]; coverage: Coverage; refused?: string;
  /** Something a run does to the model first (an unknown input length fixed from the data's rows). */
  note?: string;
  /** `--objective flops` / `--granularity unit`: the layers whose units cannot go, and why (unitsKeptFor). */
  unitsKept: { layer: string; reason: string }[];
  /**
   * The largest fraction of the prunable kernels' MACs whole units can remove (all but each layer's floor), counting
   * what the model's zeros remove already; just that where no unit can go whole (`--objective flops` refuses it).
   */
  maxComputeRemovable: number;
  /** The share of those MACs on zero weights a compact model would still run (zerosCompactionKeeps): above 1 %, `--objective flops` refuses the model. */
  zerosCompactKeeps: number;
}> {
  // An output folder of `autoprune --out` (model/ + masks.json), a model folder or a model.json, as `compact` takes.
  const { modelFile, masksDirs } = locate(path);
  const model = await loadModel(asTyped(modelFile));
  // Frozen layers (trainable: false) as `autoprune` treats them, and the kernels the run's --exclude left out (masks.json
  // lists them): left dense, listed with why.
  let pm: PrunableModel;
  try {
    pm = new PrunableModel(model, { frozen: 'exclude', exclude: excludedIn(masksDirs) });
  } catch (err) {
    model.dispose();
    throw err;
  }
  try {
    const masksFile = masksDirs.some((d) => loadMasksFrom(pm, d));
    const sp = pm.sparsity();
    const layerMacs = sp.layers.map((l, i) => (l.size - l.pruned) * pm.layers[i].macsPerWeight);
    // What `autoprune --model` would refuse (several inputs or outputs, an output that is not [batch, units], a
    // layer without gradients), said here too: the kernels above are prunable, the model as a whole may not be.
    let refused: string | undefined;
    try { checkModelShape(model, `model '${modelFile}'`); } catch (err) { refused = (err as Error).message; }
    // An input of unknown size (a fully convolutional model, sequences of any length): refused when data is fitted to
    // it (models/task.ts), and its MACs per sample here count each unknown dimension as 1.
    const dims = (model.inputs[0]?.shape.slice(1) ?? []) as (number | null)[];
    let note: string | undefined;
    if (!refused && dims.filter((d) => d == null).length === 1) {
      note = `its input shape [${dims.map((d) => d ?? 'null').join(', ')}] has an unknown length: a run fixes it from the data's rows (and writes the pruned model with it); the MACs per sample above count it as 1`;
    } else if (!refused && dims.some((d) => d == null)) {
      refused = `its input shape [${dims.map((d) => d ?? 'null').join(', ')}] has unknown (null) dimensions beside the batch; it needs a fixed input shape ` +
        '(save the model with one; the weights do not change). The MACs per sample above count each unknown dimension as 1';
    }
    const compute = pm.compute();
    const unitsKept = unitsKeptFor(pm);
    // A model with no unit that can go whole (a wrapper's, the output's) is refused by --objective flops: it reaches no
    // more than its zeros already remove (which the dry run would otherwise count as removable).
    let removable = true;
    try { checkUnitsRemovable('unit', 'flops', pm); } catch { removable = false; }
    const most = removable ? maxComputeRemovable(pm) : compute.reduction;
    // Zeros a compact model would still run (connections pruned one by one): what --objective flops refuses.
    return {
      ...sp, masksFile, compute, layerMacs, coverage: pm.coverage(), unitsKept, maxComputeRemovable: most, zerosCompactKeeps: zerosCompactionKeeps(pm),
      ...(refused ? { refused } : {}), ...(note ? { note } : {}),
    };
  } finally {
    pm.dispose();
    model.dispose();
  }
}

export async function inspectCommand(path: string, opts: { json?: boolean }): Promise<number> {
  const r = await inspectModel(path);
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return 0;
  }
  // Counts with thousands separators (a 20 M-weight model's 19176000 read as 1.9 M).
  const n = (v: number) => v.toLocaleString('en');
  const t = consoleTable(['layer', 'kind', 'kernel', 'weights', 'pruned', 'sparsity', 'live MACs / sample']);
  r.layers.forEach((l, i) => t.push([l.name, l.kind, l.shape.join('×'), n(l.size), n(l.pruned), `${(100 * l.sparsity).toFixed(1)} %`, n(r.layerMacs[i])]));
  t.push(['prunable kernels', '', '', n(r.total), n(r.pruned), `${(100 * r.global).toFixed(1)} %`,
    `${n(r.compute.live)} of ${n(r.compute.dense)} (${(100 * r.compute.reduction).toFixed(1)} % removed)`]);
  const all = r.compute.allKernels;
  if (all) t.push(['every kernel (frozen, excluded too)', '', '', '', '', '', `${n(all.live)} of ${n(all.dense)} (${(100 * all.reduction).toFixed(1)} % removed)`]);
  for (const u of r.coverage.untouched) t.push([u.name, u.className, '', n(u.params), 0, 'left dense', '']);
  t.push(['all parameters', '', '', n(r.coverage.params), n(r.pruned), `${(100 * r.pruned / Math.max(1, r.coverage.params)).toFixed(1)} %`, '']);
  process.stdout.write(`${t.toString()}\n`);
  process.stdout.write(`prunable kernels are ${(100 * r.coverage.prunableFraction).toFixed(1)} % of the ${n(r.coverage.params)} parameters` +
    `${r.coverage.untouched.length ? `; left dense: ${r.coverage.untouched.map((u) => `'${u.name}' (${u.reason})`).join('; ')}` : ''}; biases are never pruned\n`);
  if (r.coverage.prunableFraction < 0.5) process.stdout.write('warning: less than half of the parameters are in layers autoprune prunes\n');
  // What pruning for speed can do with this model (compaction removes only whole units).
  const already = r.compute.reduction > 0.0005 ? ` (${(100 * r.compute.reduction).toFixed(1)} % are on its zero weights already; compaction takes out only those of whole units)` : '';
  const more = r.maxComputeRemovable > r.compute.reduction + 1e-9;
  // A model the run refuses has no capacity to speak of: the refusal is what to read (the figure read as if it could be pruned).
  if (!r.refused && r.zerosCompactKeeps > SCATTERED_ZEROS_MAX) {
    process.stdout.write(`--objective flops would be refused: ${(100 * r.zerosCompactKeeps).toFixed(1)} % of the prunable kernels' MACs are on zero weights its compact model would still run ` +
      `(connections pruned one by one, inside units that stay; ${(100 * (r.compute.reduction - r.zerosCompactKeeps)).toFixed(1)} % of them are whole units compaction takes out): give the model from before that pruning to prune for compute\n`);
  } else if (!r.refused) process.stdout.write((more ? `--objective flops (whole units) can remove up to ${(Math.floor(1000 * r.maxComputeRemovable) / 10).toFixed(1)} % of the prunable kernels' MACs${already}`
    : `--objective flops (whole units) can remove nothing more of the prunable kernels' MACs${already}`) +
    `${r.unitsKept.length ? `; units kept: ${r.unitsKept.map((k) => `'${k.layer}' (${k.reason})`).join('; ')}` : ''}\n`);
  if (r.refused) process.stdout.write(`warning: autoprune --model would refuse this model: ${r.refused}\n`);
  if (r.note) process.stdout.write(`note: ${r.note}\n`);
  return 0;
}
