import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { autoprune, type AgentEvent } from '../src/index.js';
import { tf } from '../src/backend/tf.js';
import { loadModel } from '../src/models/io.js';
import { checkpointDirFor } from '../src/output-dir.js';
import { PrunableModel } from '../src/pruning/prunable-model.js';
import { numTensors, tempDir } from './helpers.js';
import { cli } from './cli/cli-helpers.js';

process.env.AUTOPRUNE_CACHE_DIR = tempDir('autoprune-frontier-cache-');

/** The lower targets' (0.5 and 0.7) model weights of two runs' output folders are byte for byte the same. */
function sameFrontierWeights(a: string, b: string): void {
  for (const t of [0.5, 0.7]) {
    expect(readFileSync(join(a, `frontier/${t}/model/weights.bin`)).equals(readFileSync(join(b, `frontier/${t}/model/weights.bin`)))).toBe(true);
  }
}

describe('the frontier in one run', () => {
  it('records every lower target on the way with its metrics, writes its model and masks, and ends where a single run ends', async () => {
    const out = join(tempDir(), 'out');
    const before = numTensors();
    const events: AgentEvent[] = [];
    const { model, report } = await autoprune({ target: 0.8, frontier: [0.7, 0.5], data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 8, out, onEvent: (e) => events.push(e) });
    const rows = report.frontier!;
    expect(rows.map((r) => r.target)).toEqual([0.5, 0.7, 0.8]);
    expect(report.config.frontier).toEqual([0.5, 0.7]);
    for (const r of rows) {
      expect(r.reached).toBe(true);
      expect(Math.abs(r.sparsity! - r.target)).toBeLessThanOrEqual(1 / report.dense.prunable + 1e-9);
      expect(r.testAccuracy).toBeGreaterThan(0);
    }
    // Each lower target was reached on a branch of the step that crossed it (or by a step that landed on it),
    // with no more fine-tuning than the final model; the branches are on top of the budget and in the totals.
    expect(rows[0].fineTuneSteps!).toBeLessThanOrEqual(rows[1].fineTuneSteps!);
    expect(rows[1].fineTuneSteps!).toBeLessThanOrEqual(rows[2].fineTuneSteps!);
    expect(report.totals.fineTuneSteps).toBeGreaterThan(Number(report.config.budgetSteps));
    // The final row counts the steps that made the final model: the run's, less its branches'.
    expect(rows[2].fineTuneSteps).toBe(report.totals.fineTuneSteps! - report.totals.frontierSteps!);
    // A branch's fine-tune rounds say which lower target they reach; the main path's say none.
    const branchRounds = events.filter((e) => e.type === 'epoch' && e.branch != null);
    expect(report.totals.frontierSteps).toBeGreaterThan(0);
    expect(branchRounds.length).toBeGreaterThan(0);
    expect(branchRounds.every((e) => e.type === 'epoch' && [0.5, 0.7].includes(e.branch!))).toBe(true);
    // Every fine-tune round is said once: (step, branch, round) names it, a branch's longer re-judged fine-tune included.
    const keys = events.flatMap((e) => (e.type === 'epoch' && e.phase === 'fine-tune' ? [`${e.step}|${e.branch ?? '-'}|${e.epoch}`] : []));
    expect(new Set(keys).size).toBe(keys.length);
    // Each lower target kept is said when it is reached, with the figures its row ends up with.
    const kept = events.filter((e) => e.type === 'frontier');
    expect(kept.map(({ type: _, ...row }) => row)).toEqual(rows.slice(0, 2).map((r) => ({ target: r.target, sparsity: r.sparsity, computeRemoved: r.compute?.reduction, valAccuracy: r.valAccuracy, testAccuracy: r.testAccuracy, fineTuneSteps: r.fineTuneSteps })));
    expect(events.indexOf(kept[1])).toBeLessThan(events.findIndex((e) => e.type === 'done'));
    expect(rows[2].testAccuracy).toBe(report.final.testAccuracy);
    // Each lower target's model is judged per class as the final one is (final.classes): its rows' recalls give its accuracy back.
    for (const r of rows.slice(0, 2)) {
      const cs = r.classes!;
      expect(cs.map((c) => c.name)).toEqual(report.final.classes!.map((c) => c.name));
      expect(cs.map((c) => c.denseRecall)).toEqual(report.final.classes!.map((c) => c.denseRecall));
      const testRows = cs.reduce((a, c) => a + c.testRows, 0);
      expect(cs.reduce((a, c) => a + c.recall! * c.testRows, 0) / testRows).toBeCloseTo(r.testAccuracy!, 9);
    }
    expect(rows[2].classes).toBeUndefined();
    // The lower targets never bend the main path: the final model is the single run's, bit for bit.
    const single = await autoprune({ target: 0.8, data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 8 });
    expect(single.report.final.testAccuracy).toBe(report.final.testAccuracy);
    // Without an output folder nothing is written, so no row points at files.
    const unwritten = await autoprune({ target: 0.8, frontier: [0.5], data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 2, force: true });
    expect(unwritten.report.frontier!.length).toBe(2);
    expect(unwritten.report.frontier!.every((r) => r.path === undefined)).toBe(true);
    unwritten.model.dispose();
    const path = (steps: typeof report.steps) => steps.map(({ seconds: _, ...rest }) => rest);
    expect(path(single.report.steps)).toEqual(path(report.steps));
    const same = tf.tidy(() => single.model.weights.every((w, i) => tf.equal(w.read(), model.weights[i].read()).all().dataSync()[0] === 1));
    expect(same).toBe(true);
    single.model.dispose();
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

  it('with --compact, compacts every target\'s folder: each row says what its compact model runs, and the event says so per target', async () => {
    const out = join(tempDir(), 'out');
    const events: AgentEvent[] = [];
    // The checkpoint stays while the folders are compacted (a kill there leaves a run --resume finishes), then goes.
    const checkpointWhileCompacting: boolean[] = [];
    const { model, report } = await autoprune({
      target: 0.8, frontier: [0.5], data: 'synthetic', granularity: 'unit', objective: 'flops', policy: 'global-magnitude', maxDrop: 50, budgetEpochs: 8, out, compact: true,
      onEvent: (e) => { events.push(e); if (e.type === 'compact') checkpointWhileCompacting.push(existsSync(checkpointDirFor(out))); },
    });
    expect(checkpointWhileCompacting).toEqual([true, true]);
    expect(existsSync(checkpointDirFor(out))).toBe(false);
    const rows = report.frontier!;
    const lower = rows.find((r) => r.target === 0.5)!;
    expect(lower.reached).toBe(true);
    // The lower target's compact model, counted from its own file: fewer MACs than dense, more than the final one's.
    const runs = (dir: string) => {
      const j = JSON.parse(readFileSync(join(dir, 'compact', 'model.json'), 'utf8')) as { weightsManifest: { weights: { name: string; shape: number[] }[] }[] };
      return j.weightsManifest.flatMap((g) => g.weights).filter((w) => w.name.endsWith('kernel')).reduce((a, w) => a + w.shape.reduce((x, y) => x * y, 1), 0);
    };
    expect(lower.compact!.path).toBe('frontier/0.5/compact/'); // relative to the run folder, as the row's own path
    expect(lower.compact!.macs.compact).toBe(runs(join(out, 'frontier', '0.5')));
    expect(report.compact!.macs.compact).toBe(runs(out));
    expect(lower.compact!.macs.compact).toBeGreaterThan(report.compact!.macs.compact);
    expect(lower.compact!.macs.reduction).toBeGreaterThanOrEqual(0.5 - 1e-3);
    expect(existsSync(join(out, 'frontier', '0.5', 'model.sparse'))).toBe(true);
    // The measured speed-up comes with its spread over the timing's turns (one machine's load moves it).
    const l = report.compact!.latency!;
    expect(l.speedUpRange!.turns).toBe(Math.ceil(l.runs / Math.min(10, l.runs)));
    expect(l.speedUpRange!.low).toBeLessThanOrEqual(l.speedUpRange!.high);
    expect(l.speedUpRange!.low).toBeGreaterThan(0);
    // The final row is the run folder's own model: report.compact, so that every row has the figures.
    expect(rows.at(-1)!.compact).toEqual(report.compact);
    // One compact event per folder, the lower target's naming it; report.json and frontier.json carry the figures.
    const compacts = events.filter((e) => e.type === 'compact');
    expect(compacts.map((e) => (e as { target?: number }).target)).toEqual([undefined, 0.5]);
    expect(JSON.parse(readFileSync(join(out, 'frontier.json'), 'utf8')).rows).toEqual(rows);
    expect(JSON.parse(readFileSync(join(out, 'report.json'), 'utf8')).frontier).toEqual(rows);
    // report.html is written again with the compaction: a table of both compact models, with their folders.
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<h2>Compact models</h2>');
    expect(html).toContain('<td>frontier/0.5/compact/</td>'); // relative: the folder is shipped, moved
    expect(html).toContain(`${report.compact!.macs.dense.toLocaleString('en')} → ${report.compact!.macs.compact.toLocaleString('en')}`);
    // `autoprune compact <out>` afterwards compacts the run's own model, and names the lower targets' commands.
    const again = await cli(['compact', out], { cwd: tempDir() });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`this compacted the run's own model only: the frontier's lower targets (frontier/0.5/) are models of their own: autoprune compact ${join(out, 'frontier', '0.5')}/`);
    model.dispose();
  });

  it('keeps the targets reached before an interruption: a resumed frontier run reports and writes what the uninterrupted one does', async () => {
    const opts = { target: 0.8, frontier: [0.7, 0.5], data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 8 } as const;
    const whole = await autoprune({ ...opts, out: join(tempDir(), 'whole') });
    const out = join(tempDir(), 'cut');
    const controller = new AbortController();
    // Stopped right after the first checkpoint that lies beyond the first lower target (in the same process,
    // holding the first run's model: tfjs names the reloaded weights apart, which must not matter).
    await expect(autoprune({
      ...opts, out, signal: controller.signal,
      onEvent: (e) => { if (e.type === 'checkpoint' && e.sparsity > 0.5) controller.abort(); },
    })).rejects.toThrow(/interrupted/i);
    const t0 = Date.now();
    const resumed = await autoprune({ ...opts, out, resume: true });
    // Its cost counts the interrupted session's work up to the checkpoint too, not only its own time.
    expect(resumed.report.phases.total).toBeGreaterThan((Date.now() - t0) / 1000);
    expect(resumed.report.frontier).toEqual(whole.report.frontier);
    expect(resumed.report.frontier!.every((r) => r.reached)).toBe(true);
    expect(resumed.report.totals.fineTuneSteps).toBe(whole.report.totals.fineTuneSteps);
    sameFrontierWeights(out, whole.outDir!);
    whole.model.dispose();
    resumed.model.dispose();
  });

  it('a stop asked for by the event handler of a step that crosses a lower target keeps the step, as without lower targets: the resume runs its branches first and ends as the uninterrupted run', async () => {
    const opts = { target: 0.8, frontier: [0.7, 0.5], data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 8 } as const;
    const events: AgentEvent[] = [];
    const whole = await autoprune({ ...opts, out: join(tempDir(), 'whole'), onEvent: (e) => events.push(e) });
    // The step whose branch comes first: the last step said before the first branch round.
    const firstBranch = events.findIndex((e) => e.type === 'epoch' && e.branch != null);
    const crossing = events.slice(0, firstBranch).filter((e) => e.type === 'step').at(-1)!;
    const k = crossing.step;
    const out = join(tempDir(), 'cut');
    const controller = new AbortController();
    const before = numTensors();
    const cut: AgentEvent[] = [];
    await expect(autoprune({ ...opts, out, signal: controller.signal, onEvent: (e) => { cut.push(e); if (e.type === 'step' && e.step === k) controller.abort(); } }))
      .rejects.toThrow(/^interrupted; the last accepted step is checkpointed in /);
    expect(numTensors()).toBe(before);
    // The step is checkpointed (and said to be) before its branches, none of which ran.
    expect(cut.filter((e) => e.type === 'checkpoint').at(-1)).toMatchObject({ step: k });
    expect(cut.some((e) => e.type === 'epoch' && e.branch != null)).toBe(false);
    const resumedEvents: AgentEvent[] = [];
    const resumed = await autoprune({ ...opts, out, resume: true, onEvent: (e) => resumedEvents.push(e) });
    // The resume starts after the step (not redone) with its branches.
    expect(resumedEvents.find((e) => e.type === 'start')).toMatchObject({ resumed: true, sparsity: crossing.toSparsity });
    expect(resumedEvents.filter((e) => e.type === 'step' && e.step <= k)).toEqual([]);
    expect(resumedEvents.some((e) => e.type === 'epoch' && e.branch != null && e.step === k)).toBe(true);
    expect(resumed.report.frontier).toEqual(whole.report.frontier);
    expect(resumed.report.totals.fineTuneSteps).toBe(whole.report.totals.fineTuneSteps);
    expect(resumed.report.totals.frontierSteps).toBe(whole.report.totals.frontierSteps);
    sameFrontierWeights(out, whole.outDir!);
    whole.model.dispose();
    resumed.model.dispose();
  });

  it('refuses lower targets that are not below the target', async () => {
    await expect(autoprune({ target: 0.5, frontier: [0.7], data: 'synthetic' })).rejects.toThrow(/frontier must be a list of targets strictly between 0 and target \(0.5\)/);
  });
});

describe('resume at unit granularity (distillation on)', () => {
  it('a run cut after its first checkpoint and resumed ends with the uninterrupted run\'s weights, bit for bit', async () => {
    const opts = { target: 0.6, granularity: 'unit', data: 'synthetic', policy: 'global-magnitude', maxDrop: 10, budgetEpochs: 6 } as const;
    const whole = await autoprune({ ...opts, out: join(tempDir(), 'whole') });
    expect(whole.report.config.distill).toEqual({ weight: 0.5, temperature: 4 });
    const out = join(tempDir(), 'cut');
    const controller = new AbortController();
    await expect(autoprune({ ...opts, out, signal: controller.signal, onEvent: (e) => { if (e.type === 'checkpoint') controller.abort(); } }))
      .rejects.toThrow(/interrupted/i);
    const controlRounds: number[] = [];
    const resumed = await autoprune({ ...opts, out, resume: true, onEvent: (e) => { if (e.type === 'epoch' && e.phase === 'control') controlRounds.push(e.epoch); } });
    expect(resumed.report.final.testAccuracy).toBe(whole.report.final.testAccuracy);
    // The guard's reference comes from the checkpoint: the control is not fine-tuned again, nor its time counted twice.
    expect(controlRounds).toEqual([]);
    expect(resumed.report.guard).toEqual(whole.report.guard);
    // Both figures: the reference's (the lower) and the fine-tuned control's own, which it is where it scored lower.
    const g = whole.report.guard!;
    expect(g.fineTunedControlValAccuracy).toEqual(expect.any(Number));
    expect(g.controlValAccuracy).toBe(g.reference === 'control' ? g.fineTunedControlValAccuracy : whole.report.dense.valAccuracy);
    expect(g.controlValAccuracy).toBeLessThanOrEqual(Math.min(g.fineTunedControlValAccuracy!, whole.report.dense.valAccuracy));
    const a = readFileSync(join(out, 'model/weights.bin'));
    const b = readFileSync(join(whole.outDir!, 'model/weights.bin'));
    expect(a.equals(b)).toBe(true);
    whole.model.dispose();
    resumed.model.dispose();
  });
});
