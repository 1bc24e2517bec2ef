/**
 * Report charts: Vega-Lite specs rendered to standalone SVG strings on the server (no browser, no
 * script in the page). Every chart names its marks, so tests and readers can find them in the SVG:
 * vega writes a layer's name, suffixed `_marks`, into its group's class
 * (`<g class="mark-symbol role-mark accepted_points_marks">`).
 */
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { guardAccuracy, type RunReport } from './report.js';

/** One named line of a line chart. */
export interface LineSeries {
  /** Legend label. */
  name: string;
  /** Points in drawing order. */
  points: { x: number; y: number }[];
}

/** Settings of lineChartSvg. */
export interface LineChartArgs {
  /** Title above the plot. */
  title: string;
  /** The lines; each gets its own colour and a legend entry. */
  series: LineSeries[];
  /** X axis title. */
  xTitle: string;
  /** Y axis title. */
  yTitle: string;
  /** Plot width in pixels (default 560). */
  width?: number;
  /** Plot height in pixels (default 300). */
  height?: number;
  /** Start the y axis at zero (default false: fit the data, as accuracies crowd near the top). */
  yZero?: boolean;
}

const WIDTH = 560;
/** Plot width of the report's charts: fills the report page's 920 px column with the axes. */
const REPORT_WIDTH = 760;
const HEIGHT = 300;
const ACCEPTED_COLOR = '#1f6fb4';
const ROLLED_BACK_COLOR = '#d62728';
const GUARD_COLOR = '#d62728';
const DENSE_COLOR = '#6b6b6b';
/** An × as an SVG path in vega's unit symbol square, drawn with a stroke. */
const X_SHAPE = 'M-1,-1L1,1M-1,1L1,-1';
const STATUS = ['accepted step', 'rolled back'];

const CONFIG = {
  font: 'system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif',
  view: { stroke: '#ddd' },
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600 as const, gridColor: '#eee' },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 300 },
  title: { fontSize: 14, anchor: 'start' as const, offset: 12 },
};

let chartCounter = 0;

/**
 * Compiles a Vega-Lite spec and renders it headlessly to an SVG string.
 * Element ids vega writes (clip paths, gradients) are prefixed per chart, so several charts can share
 * one HTML page without one chart's `url(#clip1)` resolving to another's.
 */
export async function renderVegaLiteSvg(spec: TopLevelSpec): Promise<string> {
  const vgSpec = compile(spec).spec;
  const view = new View(parse(vgSpec), { renderer: 'none' });
  try {
    const svg = await view.toSVG();
    return prefixSvgIds(svg, `ap${++chartCounter}-`);
  } finally {
    view.finalize();
  }
}

function prefixSvgIds(svg: string, prefix: string): string {
  const ids = new Set<string>();
  for (const m of svg.matchAll(/\sid="([^"]+)"/g)) ids.add(m[1]);
  if (ids.size === 0) return svg;
  let out = svg;
  for (const id of ids) {
    const esc = id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    out = out
      .replace(new RegExp(`(\\sid=")${esc}"`, 'g'), `$1${prefix}${id}"`)
      .replace(new RegExp(`url\\(#${esc}\\)`, 'g'), `url(#${prefix}${id})`)
      .replace(new RegExp(`(href=")#${esc}"`, 'g'), `$1#${prefix}${id}"`);
  }
  return out;
}

const pct = (f: number): number => Math.round(f * 1e4) / 100;
/** Up to 2 decimals, no trailing zeros: 90 → '90', 91.25 → '91.25'. */
const num = (v: number): string => String(Math.round(v * 100) / 100);

/** A padded [min, max] domain around the values, clamped to [lo, hi]. */
function paddedDomain(values: number[], lo: number, hi: number, pad: number): [number, number] {
  const min = Math.min(...values);
  const max = Math.max(...values);
  const span = Math.max(max - min, pad);
  return [Math.max(lo, Math.floor((min - span * 0.15) * 2) / 2), Math.min(hi, Math.ceil((max + span * 0.15) * 2) / 2)];
}

/** A text label at the left end of a horizontal rule at accuracy `value` (%). */
function ruleLabel(name: string, value: number, text: string, dy: number, color: string, right = false) {
  return {
    name,
    data: { values: [{ accuracy: value, label: text }] },
    mark: { type: 'text' as const, align: right ? 'right' as const : 'left' as const, baseline: 'middle' as const, x: right ? { expr: 'width - 4' } : 4, dy, fontSize: 11, color },
    encoding: { y: { field: 'accuracy', type: 'quantitative' as const }, text: { field: 'label', type: 'nominal' as const } },
  };
}

/**
 * Validation accuracy (%) against global sparsity (%) over the run: accepted steps as a line with
 * points (starting from the dense model at 0 %), rolled-back attempts as red crosses, a dashed rule at
 * the guard (dense − maxDrop points), a grey rule at the dense accuracy and a dotted rule at the target.
 * The last point (a black diamond) is the final model after the polish, the figure the summary gives; the
 * dashed line only joins measured points; a short dash at each attempt is its own floor (the reference less its
 * allowance), the guard rule the final model's. Layer names: accepted_line, accepted_points, rolled_back_points,
 * final_point, guard_rule, step_floors, dense_rule, target_rule, dense_label, guard_label, target_label.
 */
export async function accuracyVsSparsityChart(report: RunReport, opts: { width?: number; height?: number } = {}): Promise<string> {
  const dense = pct(report.dense.valAccuracy);
  const guard = pct(guardAccuracy(report));
  const rows = report.steps.map((s) => ({
    step: s.step,
    sparsity: pct(s.toSparsity),
    accuracy: pct(s.valAccuracy),
    status: s.accepted ? STATUS[0] : STATUS[1],
  }));
  const accepted = rows.filter((r) => r.status === STATUS[0]);
  const rolledBack = rows.filter((r) => r.status === STATUS[1]);
  // Each attempt's own floor: the reference less that attempt's allowance (the noise allowance differs from attempt to
  // attempt: one line at the final model's floor had accepted steps below it, a new user read the guard as broken).
  const ref = report.guard?.controlValAccuracy;
  const floors = ref == null ? [] : report.steps.filter((s) => s.allowedDrop != null && s.collapsedTo == null)
    .map((s) => ({ sparsity: pct(s.toSparsity), accuracy: pct(ref - s.allowedDrop!), label: `step ${s.step}: floor ${pct(ref - s.allowedDrop!).toFixed(2)}` }));
  // The final model after the polish at the last accepted sparsity: the figure the summary gives. Under
  // --objective flops the x axis (and every step's toSparsity) is the compute removed, not the weights' sparsity.
  const flops = report.config.objective === 'flops';
  const latency = report.config.objective === 'latency' && report.final.latency != null;
  const finalX = flops && report.final.compute ? report.final.compute.reduction : latency ? report.final.latency!.reduction : report.final.sparsity;
  // Said as it is: polished only where a polish ran and was kept (an undone one leaves the last accepted step's model).
  const final = { step: rows.length + 1, sparsity: pct(finalX), accuracy: pct(report.final.valAccuracy), status: report.polish?.kept ? 'final (polished)' : 'final (the last accepted step, no polish kept)' };
  const path = [{ step: 0, sparsity: 0, accuracy: dense }, ...accepted, final];
  // The frontier's lower targets (--targets), each reached on a branch: where they sit on the same axes (they were not marked).
  const lower = (report.frontier ?? []).filter((f) => f.reached && f.path && f.sparsity != null && f.valAccuracy != null)
    .map((f) => ({ sparsity: pct(flops && f.compute ? f.compute.reduction : f.sparsity!), accuracy: pct(f.valAccuracy!), label: `frontier target ${num(pct(f.target))} % (${f.path})` }));
  // The metric: accuracy (%), exact-match accuracy (%), or R² — plotted × 100 on the same scale, labelled as R².
  const metric = report.task?.metric ?? 'accuracy';
  const r2 = metric === 'R²';
  const label = (what: string, v: number) => (r2 ? `${what} R² ${(v / 100).toFixed(3)}` : `${what} ${v.toFixed(2)} %`);
  const yDomain = paddedDomain([dense, guard, ...floors.map((f) => f.accuracy), ...(report.guard?.reference === 'control' && report.guard.controlValAccuracy != null ? [pct(report.guard.controlValAccuracy)] : []), final.accuracy, ...accepted.map((d) => d.accuracy), ...rolledBack.map((d) => d.accuracy)], r2 ? -Infinity : 0, 100, 1);
  const x = { field: 'sparsity', type: 'quantitative' as const, title: flops ? "Multiply-accumulates removed (% of the prunable kernels')" : latency ? 'Predicted time per call removed (% of the dense model\'s, timed at the start)' : 'Sparsity (% of the prunable kernel weights)', scale: { domain: [0, 100] }, axis: { tickCount: 10 } };
  // The guard's reference where it is the fine-tuned control (below the dense model): the line the drops are measured from.
  const control = report.guard?.reference === 'control' && report.guard.controlValAccuracy != null ? pct(report.guard.controlValAccuracy) : undefined;
  // Both point layers share these scales, so Vega-Lite merges them into one legend — of the kinds the run has (it showed
  // "rolled back" for a run without a rollback).
  const present = STATUS.filter((_, i) => (i === 0 ? accepted : rolledBack).length > 0);
  const shown = present.length ? present : STATUS;
  const statusColor = {
    field: 'status',
    type: 'nominal' as const,
    title: null,
    scale: { domain: shown, range: shown.map((st) => (st === STATUS[0] ? ACCEPTED_COLOR : ROLLED_BACK_COLOR)) },
    // Above the plot: inside it, the legend covered the rules' labels at the left.
    legend: { orient: 'top' as const, direction: 'horizontal' as const, symbolStrokeWidth: 2 },
  };
  const statusShape = { field: 'status', type: 'nominal' as const, scale: { domain: shown, range: shown.map((st) => (st === STATUS[0] ? 'circle' : X_SHAPE)) } };
  const y = {
    field: 'accuracy', type: 'quantitative' as const, title: r2 ? 'Validation R²' : `Validation ${metric} (%)`, scale: { domain: yDomain, zero: false },
    // R² is plotted × 100 (the scale of points); its ticks read as R², with the decimals a narrow range needs (ticks 0.005
    // apart printed with two decimals read 0.79, 0.79, 0.80, 0.80, … on a new user's regression).
    ...(r2 ? { axis: { labelExpr: `format(datum.value / 100, '.${yDomain[1] - yDomain[0] < 10 ? 3 : 2}f')` } } : {}),
  };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: `Validation ${metric} after each pruning step against global sparsity`,
    width: opts.width ?? REPORT_WIDTH,
    height: opts.height ?? HEIGHT,
    config: CONFIG,
    layer: [
      {
        name: 'dense_rule',
        data: { values: [{ accuracy: dense, label: label('dense', dense) }] },
        mark: { type: 'rule', color: DENSE_COLOR, strokeWidth: 1 },
        encoding: { y },
      },
      {
        name: 'guard_rule',
        data: { values: [{ accuracy: guard, label: label('guard', guard) }] },
        mark: { type: 'rule', color: GUARD_COLOR, strokeDash: [6, 4], strokeWidth: 1.5 },
        encoding: { y },
      },
      ...(control != null ? [{
        name: 'control_rule',
        data: { values: [{ accuracy: control }] },
        mark: { type: 'rule' as const, color: DENSE_COLOR, strokeDash: [1, 3], strokeWidth: 1 },
        encoding: { y },
      }, ruleLabel('control_label', control, label('fine-tuned dense control', control), 9, DENSE_COLOR, true)] : []),
      ruleLabel('dense_label', dense, label('dense', dense), -7, DENSE_COLOR),
      ruleLabel('guard_label', guard, label("guard, final model's floor", guard), 9, GUARD_COLOR),
      {
        name: 'step_floors',
        data: { values: floors },
        // A short dash at each attempt: the accuracy below which the guard refused it.
        mark: { type: 'tick' as const, orient: 'horizontal' as const, color: GUARD_COLOR, thickness: 2, size: 14, opacity: 0.9 },
        encoding: { x, y, tooltip: { field: 'label', type: 'nominal' as const } },
      },
      {
        name: 'target_rule',
        data: { values: [{ sparsity: pct(report.config.target) }] },
        mark: { type: 'rule', color: '#999', strokeDash: [2, 3], strokeWidth: 1 },
        encoding: { x },
      },
      {
        name: 'target_label',
        data: { values: [{ sparsity: pct(report.config.target), label: `target ${num(pct(report.config.target))} %` }] },
        // At the foot of the plot: at its top it ran into the reference's label where that sat at 100 % (a new user's
        // "fine-tuned densecontrol 95100.00 %"); the points of a run sit near the top, its lower part is empty.
        mark: { type: 'text', align: 'right', baseline: 'bottom', y: { expr: 'height - 4' }, dx: -4, fontSize: 11, color: '#777' },
        encoding: { x, text: { field: 'label', type: 'nominal' } },
      },
      {
        name: 'accepted_line',
        data: { values: path },
        // Dashed: only the points are measured; the sparsities between them were never tried.
        mark: { type: 'line', color: ACCEPTED_COLOR, strokeWidth: 1.5, strokeDash: [5, 4] },
        encoding: { x, y, order: { field: 'step', type: 'quantitative' } },
      },
      ...(lower.length ? [{
        name: 'frontier_points',
        data: { values: lower },
        mark: { type: 'point' as const, shape: 'square', filled: false, size: 90, strokeWidth: 2, color: '#6a3d9a', opacity: 1 },
        encoding: { x, y, tooltip: { field: 'label', type: 'nominal' as const } },
      }] : []),
      {
        name: 'accepted_points',
        data: { values: accepted },
        mark: { type: 'point', filled: true, size: 60, opacity: 1 },
        encoding: { x, y, color: statusColor, shape: statusShape },
      },
      {
        name: 'rolled_back_points',
        data: { values: rolledBack },
        mark: { type: 'point', filled: false, size: 70, strokeWidth: 2.5, opacity: 1 },
        encoding: { x, y, color: statusColor, shape: statusShape },
      },
      // Drawn last: on top of the last accepted step's point at the same sparsity (it hid the diamond where the polish moved little).
      {
        name: 'final_point',
        data: { values: [final] },
        mark: { type: 'point', filled: true, size: 110, shape: 'diamond', color: '#222', opacity: 1 },
        encoding: { x, y, tooltip: { field: 'status', type: 'nominal' } },
      },
    ],
  };
  return renderVegaLiteSvg(spec);
}

/**
 * Final sparsity (%) per prunable layer as horizontal bars, input side at the top, each labelled with
 * its percentage, and a dashed rule at the global sparsity. Layer names: layer_bars, layer_labels, global_rule.
 */
export async function layerSparsityChart(report: RunReport, opts: { width?: number } = {}): Promise<string> {
  // Keras keeps layer names unique within a model, so the name can be the band key. Long names (a wrapper's
  // 'bidirectional_Bidirectional1/forward_lstm_LSTM1/kernel') keep their start and their end, which tell them apart
  // (the axis would cut them all to the same first 30 characters; at most 34 characters, shown whole), unless two would then read the same.
  const short = (n: string) => (n.length > 34 ? `${n.slice(0, 7)}…${n.slice(-26)}` : n);
  const names = report.layers.map((l) => short(l.name));
  const distinct = new Set(names).size === names.length;
  const rows = report.layers.map((l, i) => ({
    layer: distinct ? names[i] : l.name,
    sparsity: pct(l.sparsity),
    // One rounding, as the table's: 834 / 1024 = 81.445 % is 81.4 % (pct first would give 81.45 → 81.5).
    label: `${(100 * l.sparsity).toFixed(1)} %`,
    size: l.size,
  }));
  const yEnc = {
    field: 'layer',
    type: 'nominal' as const,
    // No axis title: the bars are named by their layers, and a title placed by estimated label widths lands on long names
    // as the browser draws them (a new user's separable conv names).
    title: null,
    sort: rows.map((r) => r.layer),
    axis: { labelLimit: 0 },
  };
  const x = { field: 'sparsity', type: 'quantitative' as const, title: 'Sparsity (%)', scale: { domain: [0, 100] }, axis: { tickCount: 10 } };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    description: 'Fraction of pruned weights in each prunable layer',
    width: opts.width ?? REPORT_WIDTH,
    height: { step: 28 },
    config: CONFIG,
    layer: [
      {
        name: 'layer_bars',
        data: { values: rows },
        mark: { type: 'bar', color: ACCEPTED_COLOR },
        encoding: { y: yEnc, x },
      },
      {
        name: 'layer_labels',
        data: { values: rows },
        mark: { type: 'text', align: 'left', dx: 4, baseline: 'middle', fontSize: 11, color: '#333' },
        encoding: { y: yEnc, x, text: { field: 'label', type: 'nominal' } },
      },
      {
        name: 'global_rule',
        data: { values: [{ sparsity: pct(report.final.sparsity) }] },
        mark: { type: 'rule', color: '#555', strokeDash: [4, 3] },
        encoding: { x },
      },
    ],
  };
  return renderVegaLiteSvg(spec);
}

/**
 * A generic multi-series line chart with points (e.g. accuracy vs sparsity per pruning method).
 * Layer names: series_lines, series_points.
 */
export async function lineChartSvg(args: LineChartArgs): Promise<string> {
  const rows = args.series.flatMap((s) => s.points.map((p) => ({ series: s.name, x: p.x, y: p.y })));
  const names = args.series.map((s) => s.name);
  const x = { field: 'x', type: 'quantitative' as const, title: args.xTitle, scale: { zero: false } };
  const y = { field: 'y', type: 'quantitative' as const, title: args.yTitle, scale: { zero: args.yZero ?? false } };
  const color = { field: 'series', type: 'nominal' as const, title: null, scale: { domain: names, scheme: 'tableau10' } };
  const spec: TopLevelSpec = {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: args.title,
    width: args.width ?? WIDTH,
    height: args.height ?? HEIGHT,
    config: CONFIG,
    data: { values: rows },
    layer: [
      {
        name: 'series_lines',
        mark: { type: 'line', strokeWidth: 2 },
        encoding: { x, y, color, detail: { field: 'series', type: 'nominal' }, order: { field: 'x', type: 'quantitative' } },
      },
      {
        name: 'series_points',
        mark: { type: 'point', filled: true, size: 50, opacity: 1 },
        // (One legend for colour and shape: `legend: null` on the shape dropped the merged legend, and the page's chart had none.)
        encoding: { x, y, color, shape: { field: 'series', type: 'nominal', scale: { domain: names }, title: null } },
      },
    ],
  };
  return renderVegaLiteSvg(spec);
}
