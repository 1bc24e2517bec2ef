import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autoprune } from '../src/index.js';
import { FRONTIER_POLISH } from '../src/agent/loop.js';
import { loadModel } from '../src/models/io.js';
import { PrunableModel } from '../src/pruning/prunable-model.js';
import { numTensors, tempDir } from './helpers.js';

process.env.AUTOPRUNE_CACHE_DIR = tempDir('autoprune-frontier-cache-');

describe('the frontier in one run', () => {
  it('lands on every lower target on the way, records each state with its metrics, and writes its model and masks', async () => {
    const out = join(tempDir(), 'out');
    const before = numTensors();
    const { model, report } = await autoprune({ target: 0.8, frontier: [0.7, 0.5], data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 8, out });
    const rows = report.frontier!;
    expect(rows.map((r) => r.target)).toEqual([0.5, 0.7, 0.8]);
    expect(report.config.frontier).toEqual([0.5, 0.7]);
    for (const r of rows) {
      expect(r.reached).toBe(true);
      expect(Math.abs(r.sparsity! - r.target)).toBeLessThanOrEqual(1 / report.dense.prunable + 1e-9);
      expect(r.testAccuracy).toBeGreaterThan(0);
    }
    // Steps are nested: each lower target was reached with fewer fine-tuning steps than the next, and each
    // lower target was polished on top of the budget (its steps and the run's totals count it).
    expect(rows[0].fineTuneSteps!).toBeLessThan(rows[1].fineTuneSteps!);
    expect(rows[1].fineTuneSteps!).toBeLessThanOrEqual(rows[2].fineTuneSteps!);
    const budget = Number(report.config.budgetSteps);
    const polish = Math.max(Number(report.config.roundSteps), Math.round(FRONTIER_POLISH * budget));
    expect(report.totals.fineTuneSteps).toBe(budget + 2 * polish);
    expect(rows[2].testAccuracy).toBe(report.final.testAccuracy);
    const fj = JSON.parse(readFileSync(join(out, 'frontier.json'), 'utf8'));
    expect(fj.format).toBe('autoprune-frontier');
    expect(fj.rows).toEqual(rows);
    for (const t of [0.5, 0.7]) {
      expect(existsSync(join(out, rows.find((r) => r.target === t)!.path!, 'masks.json'))).toBe(true);
      const m = await loadModel(join(out, `frontier/${t}/model/model.json`));
      const pm = new PrunableModel(m);
      expect(pm.sparsity().global).toBeCloseTo(t, 2);
      pm.dispose();
      m.dispose();
    }
    model.dispose();
    expect(numTensors()).toBe(before);
  });

  it('refuses lower targets that are not below the target', async () => {
    await expect(autoprune({ target: 0.5, frontier: [0.7], data: 'synthetic' })).rejects.toThrow(/frontier must be a list of targets strictly between 0 and target \(0.5\)/);
  });
});
