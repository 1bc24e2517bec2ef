import { fitDatasetToModel } from '../models/task.js';
import { accuracy, train } from '../models/train.js';
import { disposeSnapshot, PrunableModel } from '../pruning/prunable-model.js';
import { globalAllocation, maskFromAllocation, ORACLE_DEFAULTS, oracleMask, runOracle, type OracleOptions } from './oracle.js';
import { loadOracleResult, saveOracleResult } from './oracle-cache.js';
import { loadOrTrainZooModel, zooData, type ZooModel } from './zoo.js';

export interface OracleEvalOptions {
  /** Oracle settings (must match the build's to reuse its cached result). Default ORACLE_DEFAULTS. */
  oracle?: Omit<OracleOptions, 'onEvent' | 'onStage'>;
  /** Targets compared (a subset of the oracle's). Default 0.8, 0.9, 0.95, 0.98. */
  targets?: number[];
  /** Fine-tuning epochs every mask gets from the dense weights (the benchmark's budget). Default 5. */
  fineTuneEpochs?: number;
  cacheDir?: string;
  /** Methods to measure. Default all of OracleEvalRow['method']. */
  methods?: OracleEvalRow['method'][];
  onProgress?: (line: string) => void;
}

/**
 * The control: the same nested schedule (targets, stageEpochs of fine-tuning per target) with global
 * magnitude as the only candidate — gradual magnitude pruning. If the oracle's masks only beat
 * one-shot magnitude because they were chosen on fine-tuned weights, this control matches them.
 */
export const GRADUAL_MAGNITUDE: Pick<OracleOptions, 'criteria' | 'factors'> = Object.freeze({ criteria: ['global-magnitude'], factors: [] });

export interface OracleEvalRow {
  model: string;
  target: number;
  /** Test / validation accuracy after pruning the DENSE model with each mask and fine-tuning it. */
  method: 'global-magnitude' | 'oracle-mask' | 'oracle-allocation+magnitude' | 'gradual-magnitude-mask';
  testAccuracy: number;
  valAccuracy: number;
  layerSparsity: number[];
}

/**
 * Measures the oracle's masks against global magnitude at equal sparsity and equal fine-tuning:
 * each mask is applied to the dense model and fine-tuned `fineTuneEpochs` (Adam 1e-3, same seed),
 * then scored on the TEST split (the oracle itself only ever saw validation). A third mask keeps the
 * oracle's per-layer counts but magnitude order inside each layer, separating allocation from
 * within-layer choice.
 */
export async function evaluateOracle(models: readonly ZooModel[], options: OracleEvalOptions = {}): Promise<OracleEvalRow[]> {
  const oracleOpts = { ...ORACLE_DEFAULTS, ...(options.oracle ?? {}) };
  const targets = options.targets ?? [0.8, 0.9, 0.95, 0.98];
  const epochs = options.fineTuneEpochs ?? 5;
  const rows: OracleEvalRow[] = [];
  for (const m of models) {
    const raw = zooData(m);
    const { model, dir } = await loadOrTrainZooModel(m, raw, { cacheDir: options.cacheDir });
    const data = fitDatasetToModel(raw, model);
    const pm = new PrunableModel(model);
    const dense = pm.snapshot();
    try {
      const methods = options.methods ?? ['global-magnitude', 'oracle-mask', 'oracle-allocation+magnitude', 'gradual-magnitude-mask'];
      const cachedOracle = async (opts: typeof oracleOpts, what: string) => {
        let r = loadOracleResult(dir, opts);
        if (!r) {
          options.onProgress?.(`${m.id}: running ${what}`);
          r = await runOracle(pm, data, opts);
          saveOracleResult(dir, opts, r);
          pm.restore(dense);
        }
        return r;
      };
      const result = await cachedOracle(oracleOpts, 'the oracle');
      const gradual = methods.includes('gradual-magnitude-mask')
        ? await cachedOracle({ ...oracleOpts, ...GRADUAL_MAGNITUDE }, 'gradual magnitude') : undefined;
      options.onProgress?.(`${m.id}: dense test ${(100 * accuracy(model, data.test)).toFixed(1)} %`);
      const magnitude = pm.layers.map((l) => Float32Array.from(l.kernel.dataSync() as Float32Array, Math.abs));
      const allLive = pm.layers.map((l) => new Float32Array(l.size).fill(1));
      for (const target of targets) {
        const j = result.targets.findIndex((t) => Math.abs(t - target) < 1e-9);
        if (j < 0) continue;
        const om = oracleMask(result, j);
        const kept = om.reduce((a, x) => a + x.reduce((s, v) => s + v, 0), 0);
        const oracleKeep = om.map((x) => x.reduce((s, v) => s + v, 0));
        const masks: [OracleEvalRow['method'], Float32Array[]][] = [
          ['global-magnitude', maskFromAllocation(magnitude, allLive, globalAllocation(magnitude, kept))],
          ['oracle-mask', om],
          ['oracle-allocation+magnitude', maskFromAllocation(magnitude, allLive, oracleKeep)],
        ];
        if (gradual) masks.push(['gradual-magnitude-mask', oracleMask(gradual, j)]);
        for (const [method, mask] of masks) {
          if (!methods.includes(method)) continue;
          pm.restore(dense);
          pm.setMaskArrays(mask);
          train(model, data.train, { epochs, seed: 7, prunable: pm });
          const row: OracleEvalRow = {
            model: m.id, target, method, testAccuracy: accuracy(model, data.test), valAccuracy: accuracy(model, data.val),
            layerSparsity: pm.sparsity().layers.map((l) => Number(l.sparsity.toFixed(4))),
          };
          rows.push(row);
          options.onProgress?.(`${m.id} @${target} ${method}: test ${(100 * row.testAccuracy).toFixed(1)} % (layers ${row.layerSparsity.map((s) => (100 * s).toFixed(1)).join('/')})`);
        }
      }
    } finally {
      disposeSnapshot(dense);
      pm.dispose();
      if (data !== raw) data.dispose();
      raw.dispose();
      model.dispose();
    }
  }
  return rows;
}

/** Markdown table: mean test accuracy per (target, method) over models, with per-model values. */
export function oracleEvalTable(rows: OracleEvalRow[]): string {
  const targets = [...new Set(rows.map((r) => r.target))];
  const methods = [...new Set(rows.map((r) => r.method))];
  const lines = [`| method | ${targets.map((t) => `${t}`).join(' | ')} |`, `|---|${targets.map(() => '---').join('|')}|`];
  for (const meth of methods) {
    const cells = targets.map((t) => {
      const xs = rows.filter((r) => r.method === meth && r.target === t).map((r) => 100 * r.testAccuracy);
      if (!xs.length) return '';
      const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
      return `${mean.toFixed(1)} (${xs.map((x) => x.toFixed(1)).join(' / ')})`;
    });
    lines.push(`| ${meth} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
