import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accuracyVsSparsityChart, layerSparsityChart, lineChartSvg } from '../../src/report/charts.js';
import type { RunReport } from '../../src/report/report.js';

const fixture = (): RunReport =>
  JSON.parse(readFileSync(new URL('../fixtures/report/sample-report.json', import.meta.url), 'utf8')) as RunReport;

/**
 * The items vega drew for the Vega-Lite layer `name`: its mark groups (one, or one per series for
 * lines) hold one <path>/<line>/<text> per item; an empty one is written self-closing.
 */
function items(svg: string, name: string): string[] {
  const groups = svg.matchAll(new RegExp(`<g class="mark-\\w+ role-mark ${name}_marks"[^>]*?(?:/>|>(.*?)</g>)`, 'gs'));
  return [...groups].flatMap((m) => (m[1] ?? '').match(/<(path|line|text)\b[^>]*>/g) ?? []);
}

const translate = (el: string): [number, number] => {
  const m = /transform="translate\(([-\d.]+),([-\d.]+)\)"/.exec(el);
  if (!m) throw new Error(`no translate in ${el}`);
  return [Number(m[1]), Number(m[2])];
};

describe('accuracyVsSparsityChart', () => {
  it('draws one point per accepted step, a cross per rollback, the line and both rules', async () => {
    const r = fixture();
    const svg = await accuracyVsSparsityChart(r);
    expect(svg.startsWith('<svg')).toBe(true);
    const accepted = r.steps.filter((s) => s.accepted).length;
    expect(accepted).toBe(4);
    expect(items(svg, 'accepted_points')).toHaveLength(accepted);
    expect(items(svg, 'rolled_back_points')).toHaveLength(2);
    // One path through dense + accepted points + the polished final model, which has its own mark.
    expect(items(svg, 'accepted_line')).toHaveLength(1);
    expect(items(svg, 'final_point')).toHaveLength(1);
    expect(items(svg, 'guard_rule')).toHaveLength(1);
    expect(items(svg, 'dense_rule')).toHaveLength(1);
    expect(items(svg, 'target_rule')).toHaveLength(1);
    expect(svg).toContain('Sparsity (% of the prunable kernel weights)');
    expect(svg).toContain('Validation accuracy (%)');
    expect(svg).toContain("guard, final model's floor 96.80 %");
    expect(svg).toContain('dense 97.80 %');
    expect(svg).toContain('rolled back');
    // A run without a rollback has no "rolled back" in its legend (it had, for a kind of point the chart did not hold).
    const clean = fixture();
    clean.steps = clean.steps.filter((st) => st.accepted);
    const cleanSvg = await accuracyVsSparsityChart(clean);
    expect(cleanSvg).toMatch(/role-legend-label[\s\S]*>accepted step<\/text>/);
    expect(cleanSvg).not.toContain('rolled back');
    // The final point says whether a polish was kept (its label said "polished" after an undone polish too).
    const kept = await accuracyVsSparsityChart({ ...fixture(), polish: { kept: true, steps: 10, valLossBefore: 0.1, bestValLoss: 0.09, bestRound: 1, message: '' } });
    expect(items(kept, 'final_point').join('')).toContain('final (polished)');
    const undone = await accuracyVsSparsityChart({ ...fixture(), polish: { kept: false, steps: 10, valLossBefore: 0.1, bestValLoss: null, bestRound: null, message: '' } });
    expect(items(undone, 'final_point').join('')).toContain('final (the last accepted step, no polish kept)');
  });

  it('places the guard below the dense rule and the rolled-back crosses below the guard', async () => {
    const svg = await accuracyVsSparsityChart(fixture());
    const y = (el: string) => translate(el)[1];
    const denseY = y(items(svg, 'dense_rule')[0]);
    const guardY = y(items(svg, 'guard_rule')[0]);
    expect(guardY).toBeGreaterThan(denseY); // SVG y grows downwards
    for (const cross of items(svg, 'rolled_back_points')) expect(y(cross)).toBeGreaterThan(guardY);
    // Accepted points move right with sparsity.
    const xs = items(svg, 'accepted_points').map((el) => translate(el)[0]);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);
  });

  it('under --objective flops places the final model at the compute removed, the x axis of every step, not at its weight sparsity', async () => {
    const r = fixture();
    const last = r.steps.filter((s) => s.accepted).at(-1)!;
    // Steps' toSparsity count compute under flops; the final model's weight sparsity is higher than its compute removed.
    r.config.objective = 'flops';
    r.final.compute = { dense: 1000, live: 1000 * (1 - last.toSparsity), reduction: last.toSparsity };
    r.final.sparsity = Math.min(0.99, last.toSparsity + 0.1);
    const svg = await accuracyVsSparsityChart(r);
    expect(svg).toContain("Multiply-accumulates removed (% of the prunable kernels')");
    const finalX = translate(items(svg, 'final_point')[0])[0];
    const lastX = Math.max(...items(svg, 'accepted_points').map((el) => translate(el)[0]));
    expect(finalX).toBeCloseTo(lastX, 1);
  });

  it('marks the frontier\'s reached lower targets (they were not on the chart), none where the run had no --targets', async () => {
    const r = fixture();
    expect(items(await accuracyVsSparsityChart(r), 'frontier_points')).toHaveLength(0);
    r.frontier = [
      { target: 0.5, reached: true, sparsity: 0.5, sparsityOfAllParams: 0.5, valAccuracy: 0.975, testAccuracy: 0.97, fineTuneSteps: 126, path: 'frontier/0.5/' },
      { target: 0.7, reached: false },
      { target: r.config.target, reached: true, sparsity: r.final.sparsity, sparsityOfAllParams: 0.9, valAccuracy: r.final.valAccuracy, testAccuracy: 0.96, fineTuneSteps: 945, path: '' },
    ];
    // One square: the lower target reached (the run's own row is the final diamond; an unreached one has no point).
    expect(items(await accuracyVsSparsityChart(r), 'frontier_points')).toHaveLength(1);
  });

  it("marks each attempt's own floor (the reference less its allowance): accepted points on or above theirs, crosses below", async () => {
    const r = fixture();
    // Allowances that differ by attempt (the noise allowance shrinks with the standard error), the final model's smallest.
    const ref = 0.97;
    r.guard = { ...r.guard!, controlValAccuracy: ref, finalAllowedDrop: 0.001 };
    r.steps = r.steps.map((s) => ({ ...s, allowedDrop: s.accepted ? ref - s.valAccuracy + 0.005 : Math.max(0.001, ref - s.valAccuracy - 0.005) }));
    const svg = await accuracyVsSparsityChart(r);
    const ticks = items(svg, 'step_floors');
    expect(ticks).toHaveLength(r.steps.length);
    const y = (el: string) => translate(el)[1];
    const points = [...items(svg, 'accepted_points'), ...items(svg, 'rolled_back_points')].map((el) => ({ x: translate(el)[0], y: y(el) }));
    const accepted = items(svg, 'accepted_points').map((el) => translate(el)[0]);
    for (const t of ticks) {
      // A horizontal tick is a rectangle path: its centre is where it was placed.
      const m = /d="M([-\d.]+),([-\d.]+)h([\d.]+)v([\d.]+)/.exec(t)!;
      const [tx, ty] = [Number(m[1]) + Number(m[3]) / 2, Number(m[2]) + Number(m[4]) / 2];
      const p = points.find((q) => Math.abs(q.x - tx) < 0.5)!;
      // SVG y grows downwards: on or above the floor is a smaller y.
      if (accepted.some((ax) => Math.abs(ax - tx) < 0.5)) expect(p.y).toBeLessThanOrEqual(ty); else expect(p.y).toBeGreaterThan(ty);
    }
    expect(svg).toContain("guard, final model's floor");
  });

  it('gives an R² axis the decimals its range needs (two-decimal ticks 0.005 apart repeated: 0.79, 0.79, 0.80, …)', async () => {
    // The fixture's accuracies (0.96–0.98) read as R²: a range of 2 points of R² × 100.
    const f = fixture();
    const svg = await accuracyVsSparsityChart({ ...f, task: { ...(f.task ?? {}), kind: 'regression', metric: 'R²' } } as RunReport);
    const ticks = [...svg.matchAll(/<text[^>]*>(0\.\d+)<\/text>/g)].map((m) => m[1]);
    expect(ticks.length).toBeGreaterThan(3);
    expect(ticks.every((t) => t.length === 5)).toBe(true); // 0.965: three decimals
    expect(new Set(ticks).size).toBe(ticks.length);
  });

  it('renders a run without steps', async () => {
    const svg = await accuracyVsSparsityChart({ ...fixture(), steps: [] });
    expect(items(svg, 'accepted_points')).toHaveLength(0);
    expect(items(svg, 'guard_rule')).toHaveLength(1);
  });
});

describe('layerSparsityChart', () => {
  it('draws one bar per layer, longest for the sparsest, in model order', async () => {
    const r = fixture();
    const svg = await layerSparsityChart(r);
    const bars = items(svg, 'layer_bars');
    expect(bars).toHaveLength(3);
    const widths = bars.map((b) => Number(/d="M[-\d.]+,[-\d.]+h([\d.]+)/.exec(b)?.[1]));
    expect(widths[0]).toBeGreaterThan(widths[1]);
    expect(widths[1]).toBeGreaterThan(widths[2]);
    const tops = bars.map((b) => Number(/d="M[-\d.]+,([-\d.]+)/.exec(b)?.[1]));
    expect(tops[0]).toBeLessThan(tops[2]); // dense_1 (input side) at the top
    for (const name of ['dense_1', 'dense_2', 'dense_3', '92.2 %', 'Sparsity (%)']) expect(svg).toContain(name);
  });

  it("labels each bar with one rounding (81.445 % is 81.4 %, as the table says) and keeps long wrapper names apart", async () => {
    const r = fixture();
    r.layers[0].sparsity = 834 / 1024;
    r.layers[0].name = 'bidirectional_Bidirectional1/forward_lstm_LSTM1/kernel';
    r.layers[1].name = 'bidirectional_Bidirectional1/backward_lstm_LSTM1/kernel';
    const svg = await layerSparsityChart(r);
    expect(svg).toContain('81.4 %');
    expect(svg).not.toContain('81.5 %');
    // The axis labels themselves (not only the bars' titles), whole: start and end of each name.
    expect(svg).toContain('>bidirec…/forward_lstm_LSTM1/kernel<');
    expect(svg).toContain('>bidirec…backward_lstm_LSTM1/kernel<');
  });

  it('escapes layer names', async () => {
    const r = fixture();
    r.layers[0].name = '<script>alert("x")</script>&';
    const svg = await layerSparsityChart(r);
    expect(svg).not.toContain('<script>');
    expect(svg).toContain('&lt;script&gt;');
  });
});

describe('lineChartSvg', () => {
  it('draws a line and points per series, with a legend', async () => {
    const svg = await lineChartSvg({
      title: 'Test accuracy vs sparsity',
      xTitle: 'Sparsity (%)',
      yTitle: 'Test accuracy (%)',
      series: [
        { name: 'magnitude', points: [{ x: 80, y: 97.1 }, { x: 90, y: 96.4 }, { x: 95, y: 94.8 }] },
        { name: 'cart-mlp', points: [{ x: 80, y: 97.3 }, { x: 90, y: 96.9 }, { x: 95, y: 95.6 }] },
      ],
    });
    expect(items(svg, 'series_lines')).toHaveLength(2);
    expect(items(svg, 'series_points')).toHaveLength(6);
    for (const t of ['Test accuracy vs sparsity', 'Sparsity (%)', 'Test accuracy (%)', 'magnitude', 'cart-mlp']) expect(svg).toContain(t);
    // A legend drawn, each series' name as its label (the names above also sit in the marks' descriptions; the page's
    // chart once had none, its shape legend switched off and the merged one with it).
    expect(svg).toContain('role-legend');
    for (const n of ['magnitude', 'cart-mlp']) expect(svg).toMatch(new RegExp(`role-legend-label[\\s\\S]*>${n}</text>`));
  });

  it('gives every chart its own element ids, so charts can share a page', async () => {
    const args = { title: 't', xTitle: 'x', yTitle: 'y', series: [{ name: 's', points: [{ x: 1, y: 1 }] }] };
    const ids = (svg: string) => [...svg.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    const a = ids(await lineChartSvg(args));
    const b = ids(await lineChartSvg(args));
    expect(a.filter((id) => b.includes(id))).toEqual([]);
  });
});
