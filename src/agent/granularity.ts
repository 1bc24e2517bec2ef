import type { ConnectionFeatures } from '../features/types.js';
import { disposeSnapshot, OBJECTIVES, PrunableModel, prunesCompute, type Objective } from '../pruning/prunable-model.js';
import { pruneByScores } from '../pruning/select.js';
import { pruneUnits, unitScoresFromConnectionScores } from '../pruning/units.js';
import { UsageError } from '../errors.js';
import { findUnitLinks } from '../pruning/unit-graph.js';
import { compactModel } from '../pruning/compact.js';
import { outerCalls } from '../pruning/layer-kinds.js';

/** What one pruning step removes: single connections, whole units/filters, or units first then connections. */
export type Granularity = 'connection' | 'unit' | 'hierarchical';
export const GRANULARITIES: readonly Granularity[] = Object.freeze(['connection', 'unit', 'hierarchical']);

export function checkGranularity(g: string): Granularity {
  if (!(GRANULARITIES as readonly string[]).includes(g)) {
    throw new UsageError(`--granularity must be one of ${GRANULARITIES.join(', ')}, got '${g}'`);
  }
  return g as Granularity;
}

/**
 * Checks an objective against a granularity. Compute ('flops') is only saved by removing whole
 * units/filters (tfjs has no sparse kernels), so it goes with unit granularity alone.
 */
export function checkObjective(objective: string, g: Granularity): Objective {
  if (!(OBJECTIVES as readonly string[]).includes(objective)) {
    throw new UsageError(`--objective must be one of ${OBJECTIVES.join(', ')}, got '${objective}'`);
  }
  if (objective !== 'params' && g !== 'unit') {
    throw new UsageError(`--objective ${objective} needs --granularity unit (only whole units/filters save ${objective === 'flops' ? 'compute' : 'time'}), got --granularity ${g}`);
  }
  return objective as Objective;
}

/**
 * Throws a UsageError when unit granularity cannot remove anything from the model: units of the last
 * prunable layer (the output) are never removed, so a model whose only top-level Dense/Conv/recurrent layer is the output
 * layer would run its whole budget without pruning a weight and then report that the guard stopped it.
 */
export function checkUnitsRemovable(g: Granularity, objective: Objective, pm: PrunableModel, target?: number, o: { frontier?: boolean } = {}): void {
  if (g !== 'unit') return;
  if (pm.layers.some((l) => l.structured && l.layer !== pm.layers[pm.layers.length - 1].layer)) {
    if (target != null) checkReachable(pm, target, objective, o.frontier ?? false);
    return;
  }
  // Layers the user left out can be why nothing is left (those whose units could go, not a wrapped GRU's): say so.
  const cut = pm.excluded.filter((k) => k.structured);
  const left = cut.length > 0 ? ` once --exclude leaves out ${cut.slice(0, 5).map((k) => `'${k.name}'`).join(', ')}${cut.length > 5 ? ', …' : ''}` : '';
  const [why, instead] = prunesCompute(objective)
    ? [`--objective ${objective} prunes whole units/filters only`, '--objective params (single connections)']
    : ['--granularity unit prunes whole units/filters only', '--granularity connection'];
  throw new UsageError(
    `${why}, and this model has none to remove${left}: units are removed whole only from Dense, Conv1D, Conv2D, SeparableConv2D and recurrent (LSTM, GRU, SimpleRNN) layers ` +
    '(not inside Bidirectional or TimeDistributed wrappers, nor in a nested model called more than once) other than ' +
    `the output layer '${pm.layers[pm.layers.length - 1].name}'; use ${instead}`);
}

/** Above this share of the prunable kernels' MACs on zeros the compact model still runs, a compute objective is refused. */
export const SCATTERED_ZEROS_MAX = 0.01;

/**
 * The share of the prunable kernels' multiply-accumulates that the compute measure counts as removed (zero weights)
 * but the compact model still runs: the measure's reduction less what compaction of the model as it is removes
 * (`compactModel`, built once and dropped; its kernels matched to these by name). Zeros that single-connection pruning
 * left inside live units, a gate column of a recurrent unit, an input row, a layer whose units compaction keeps: all of
 * them, as compaction decides. 0 where the model has no zero weight (nothing is built then).
 */
export function zerosCompactionKeeps(pm: PrunableModel): number {
  const c = pm.compute();
  if (!(c.reduction > SCATTERED_ZEROS_MAX / 10)) return 0;
  let built: { model: { dispose(): void } } | undefined;
  let cpm: PrunableModel | undefined;
  try {
    try {
      built = compactModel(pm.model, pm);
    } catch {
      return 0; // a model compaction cannot take: not measured here (compact and --compact say why), nothing refused for it
    }
    cpm = new PrunableModel(built.model as Parameters<typeof compactModel>[0]);
    const names = new Set(pm.layers.map((l) => l.name));
    const compactMacs = cpm.layers.filter((l) => names.has(l.name)).reduce((a, l) => a + l.size * l.macsPerWeight, 0);
    const removable = c.dense > 0 ? 1 - compactMacs / c.dense : 0;
    return Math.max(0, c.reduction - removable);
  } finally {
    cpm?.dispose();
    built?.model.dispose();
  }
}

/**
 * Refuses a compute objective (flops, latency) on a model whose zero weights the compact model would still run: they
 * would count as compute removed (a new user's pre-pruned LSTM reached --objective flops --target 0.69 with 67.8 % of its
 * MACs on such zeros, and its compact model ran 97.8 % of the dense MACs).
 */
export function checkZerosInsideUnits(pm: PrunableModel, objective: Objective): void {
  if (!prunesCompute(objective)) return;
  const share = zerosCompactionKeeps(pm);
  if (share <= SCATTERED_ZEROS_MAX) return;
  throw new UsageError(
    `--objective ${objective}: ${(100 * share).toFixed(1)} % of this model's prunable multiply-accumulates are on zero weights that its compact model would still run ` +
    '(connections pruned one by one before, inside units that stay), which the objective would count as removed (compaction takes out whole units only); ' +
    'give the model from before that pruning, or use --objective params (its zeros count as the sparsity they are)');
}

/**
 * The prunable layers (other than the output) whose units `--objective flops` cannot remove, and why: compaction
 * would keep their channels (no link to the next prunable layer, compact.ts), so pruneUnits never offers them.
 */
export function unitsKeptFor(pm: PrunableModel): { layer: string; reason: string }[] {
  const last = pm.layers[pm.layers.length - 1].layer;
  const found = findUnitLinks(pm.model);
  const skipped = new Map(found.skipped.map((k) => [k.layer, k.reason]));
  // A depthwise conv between two linked layers loses its channels with its producer's units: not "kept".
  const coupled = new Set(found.links.flatMap((k) => k.between));
  const linked = pm.layers.filter((l) => l.structured && l.layer !== last && skipped.has(l.name))
    .map((l) => ({ layer: l.name, reason: skipped.get(l.name)!.replace(/^units kept: /, '') }));
  const structured = new Set(pm.layers.filter((l) => l.structured).map((l) => l.layer));
  // Channels summed with a layer whose units never go whole (a Conv2DTranspose in a residual Add): kept with it.
  for (const g of found.groups) {
    const stuck = g.producers.find((p) => !structured.has(p));
    if (!stuck) continue;
    for (const p of g.producers) {
      const l = pm.layers.find((k) => k.layer === p && k.structured);
      if (l && l.layer !== last) linked.push({ layer: l.name, reason: `its channels are merged with those of '${stuck.name}' (${stuck.getClassName()}), whose units are not removed whole` });
    }
  }
  // Each layer that keeps its units for a reason of its own (a shared nested model, a wrapper), then the others.
  const own: { layer: string; reason: string }[] = [];
  const rest: string[] = [];
  for (const l of pm.layers) {
    if (l.layer === last || structured.has(l.layer) || coupled.has(l.layer) || own.some((o) => o.layer === l.layer.name) || rest.includes(l.layer.name)) continue;
    const shared = l.containers.find((c) => outerCalls(c) > 1);
    const cls = l.layer.getClassName();
    if (shared) own.push({ layer: l.layer.name, reason: `the nested model '${shared.name}' is called ${outerCalls(shared)} times, and its units serve every call` });
    else if (cls === 'Bidirectional' || cls === 'TimeDistributed') own.push({ layer: l.layer.name, reason: `units inside a ${cls} wrapper are not removed whole` });
    else rest.push(l.layer.name);
  }
  const shown = rest.slice(0, 5).join(', ') + (rest.length > 5 ? ` and ${rest.length - 5} more` : '');
  return [...linked, ...own, ...(rest.length ? [{ layer: shown, reason: 'units are removed whole only from Dense, Conv1D, Conv2D, SeparableConv2D and recurrent (LSTM, GRU, SimpleRNN) layers' }] : [])];
}

/**
 * The most whole units can remove from this model under an objective (the fraction of the prunable kernels'
 * weights, or of their compute): every unit `pruneUnits` may take (all but each layer's floor, where compaction can
 * take them out), by a dry run on a snapshot that is put back.
 */
function mostByWholeUnits(pm: PrunableModel, objective: Objective): number {
  const snap = pm.snapshot();
  try {
    return pruneUnits(pm, pm.layers.map((l) => new Float32Array(l.units).fill(1)), 0.999999, { objective }).progress;
  } finally {
    pm.restore(snap);
    disposeSnapshot(snap);
  }
}

/** The largest fraction of the prunable kernels' compute `--objective flops` can remove from this model. */
export function maxComputeRemovable(pm: PrunableModel): number {
  return mostByWholeUnits(pm, 'flops');
}

/**
 * Throws a UsageError when whole units cannot reach `target` even by removing every unit they may. Without it such
 * a run spends its budget on the few removable units (a model whose convolutions are channels-first, say) and stops
 * short far from the target.
 */
function checkReachable(pm: PrunableModel, target: number, objective: Objective, frontier: boolean): void {
  const most = mostByWholeUnits(pm, objective);
  if (most + 1e-9 >= target) return;
  const flops = prunesCompute(objective);
  // Rounded down, as the target it suggests and inspect's figure: a ceiling shown rounded up reads as reachable.
  const instead = flops ? '--objective params' : '--granularity hierarchical';
  const allKept = unitsKeptFor(pm);
  const kept = allKept.slice(0, 3).map((k) => `'${k.layer}': ${k.reason}`);
  if (allKept.length > 3) kept.push(`and ${allKept.length - 3} more (autoprune inspect lists them)`);
  const p = pm.latencyProfile;
  const latency = objective === 'latency' && p != null;
  const what = latency
    ? `the model's predicted time per call (${p.denseMs.toFixed(2)} ms a call of ${p.batch} sample${p.batch === 1 ? '' : 's'} as timed; the calls themselves and layers without units are a fixed part)`
    : `the prunable kernels' ${flops ? 'compute' : 'weights'}`;
  // A timed ceiling moves between runs (LeNet-5 at batch 256 on a 2-core machine: 60–77 %): the target suggested leaves room for that (a new user's rerun
  // refused the 0.535 the first run had suggested), and flops, not bounded by the calls' fixed time, is offered.
  const suggested = Math.floor(1000 * (latency ? most - 0.03 : most)) / 1000;
  const alternative = latency
    ? `--objective flops (the cost table is linear in each layer's MACs and conservative at the narrowest widths: a compact model often runs faster than it predicts)`
    : instead;
  throw new UsageError(
    `${flops ? `--objective ${objective}` : '--granularity unit'} can remove at most ${(Math.floor(1000 * most) / 10).toFixed(1)} % of ${what} ` +
    `in this model (whole units, down to each layer's floor, where compaction can take them out` +
    `${kept.length ? `; units kept: ${kept.join('; ')}` : ''}), so ${frontier ? `the largest of --targets, ${target},` : `--target ${target}`} cannot be reached: ` +
    (suggested >= 0.001 ? `use ${frontier ? 'targets of' : '--target'} ${suggested.toFixed(3)} or less${latency ? ' (3 points under the ceiling: timings move between runs, and the next run times it again)' : ''}, or ${alternative}`
      : flops ? `pruning for ${objective === 'flops' ? 'compute' : 'time'} cannot help this model; use --objective params` : 'use --granularity connection or hierarchical'));
}

/**
 * A unit is "useless" in hierarchical mode when the connection-level decision would already remove
 * at least this fraction of its live incoming connections: the step then removes the whole unit.
 */
export const USELESS_UNIT_FRACTION = 0.9;

/**
 * Applies one pruning step at the given granularity, driven by the same per-connection scores
 * (higher = prune first):
 * - connection: the highest-scoring live connections, globally;
 * - unit: whole units/filters ranked by the mean score of their live incoming connections (output
 *   units never), with their outgoing connections; `to` counts weights, or compute with 'flops';
 * - hierarchical: global → local. The connection-level selection decides how much each layer gives up
 *   and which units it would all but empty; those units go whole (incoming and outgoing), then single
 *   connections inside the surviving units make up the rest of the step.
 */
export function pruneStep(
  g: Granularity, pm: PrunableModel, feats: ConnectionFeatures, scores: Float32Array[], to: number, objective: Objective = 'params',
): void {
  checkObjective(objective, g);
  if (g === 'connection') {
    pruneByScores(pm, scores, feats, to);
    return;
  }
  if (g === 'unit') {
    pruneUnits(pm, unitScoresFromConnectionScores(feats, scores, pm, 'mean'), to, { objective });
    return;
  }
  // Hierarchical: a dry run of the connection-level step tells how each unit would fare.
  const before = pm.maskBytes();
  const snap = pm.snapshot();
  pruneByScores(pm, scores, feats, to);
  const after = pm.maskBytes();
  pm.restore(snap);
  disposeSnapshot(snap);
  const last = pm.layers.length - 1;
  const unitScores = pm.layers.map((l, i) => {
    const live = new Float64Array(l.units);
    const cut = new Float64Array(l.units);
    for (let j = 0; j < l.size; j++) {
      if (before[i][j] === 0) continue;
      const u = j % l.units;
      live[u]++;
      if (after[i][j] === 0) cut[u]++;
    }
    // +1 marks a useless unit, −1 keeps it; output units are never removed.
    return Float32Array.from(live, (n, u) => (l.layer !== pm.layers[last].layer && l.structured && n > 0 && cut[u] / n >= USELESS_UNIT_FRACTION ? 1 : -1));
  });
  const uselessWeights = pm.layers.reduce((acc, l, i) => {
    let n = 0;
    for (let j = 0; j < l.size; j++) if (before[i][j] !== 0 && unitScores[i][j % l.units] > 0) n++;
    return acc + n;
  }, 0);
  if (uselessWeights > 0) {
    // Remove exactly the useless units: a target just past the current sparsity plus their weights.
    const current = pm.sparsity();
    const unitTarget = Math.min(to, (current.pruned + uselessWeights) / current.total);
    pruneUnits(pm, unitScores.map((s) => Float32Array.from(s, (v) => (v > 0 ? 1 : -Infinity))), unitTarget);
  }
  // Remaining connections, globally, inside the surviving units (pruned ones keep their zeros).
  if (pm.sparsity().global < to) pruneByScores(pm, scores, feats, to);
}
