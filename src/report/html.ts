/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no external request — a
 * Content-Security-Policy forbids any) that a person can open from disk or attach to a ticket.
 */
import { accuracyVsSparsityChart, layerSparsityChart } from './charts.js';
import { describeStop, guardAccuracy, type RunReport } from './report.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes a string for HTML text and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

const num = (n: number, digits = 0): string =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }) : String(n);
/** A fraction as a percentage: 0.978 → "97.80 %". */
const pct = (f: number, digits = 2): string => `${num(f * 100, digits)} %`;
/** A difference of fractions in accuracy points: −0.007 → "−0.70 pts". */
const pts = (d: number): string => {
  const v = d * 100;
  const sign = v > 0.0049 ? '+' : v < -0.0049 ? '−' : '±';
  return `${sign}${num(Math.abs(v), 2)} pts`;
};
const secs = (s: number): string => (s >= 100 ? `${num(s, 0)} s` : s >= 10 ? `${num(s, 1)} s` : `${num(s, 2)} s`);

/** A column alignment: 'l' text, 'r' numbers. */
type Align = 'l' | 'r';

function row(cells: string[], align: string, tag: 'td' | 'th' = 'td'): string {
  return `<tr>${cells.map((c, i) => `<${tag}${align[i] === 'r' ? ' class="r"' : ''}>${c}</${tag}>`).join('')}</tr>`;
}

/** A table with escaped `head` titles and `body` cells that are already HTML; `align` has one letter per column. */
function table(id: string, head: string[], body: string[][], align: `${Align}${string}`): string {
  return `<table id="${id}"><thead>${row(head.map(escapeHtml), align, 'th')}</thead><tbody>${body.map((r) => row(r, align)).join('')}</tbody></table>`;
}

/**
 * How a report's "accuracy" fields read: percentages and points for right/wrong metrics (accuracy, exact-match
 * accuracy), plain values and differences for R² (regression, autoencoders), which is no percentage.
 */
interface MetricFormat {
  name: string;
  /** A value of the metric (a fraction for accuracies). */
  value: (f: number) => string;
  /** A difference of two values (accuracies: in points). */
  diff: (d: number) => string;
  /** --max-drop (given in points; 0.01 of R² per point). */
  limit: (maxDropPoints: number) => string;
  /** A standard error of a difference, in the unit of `diff`. */
  se: (se: number) => string;
}

function metricOf(r: Pick<RunReport, 'task'>): MetricFormat {
  const name = r.task?.metric ?? 'accuracy';
  if (name !== 'R²') return { name, value: (f) => pct(f), diff: pts, limit: (p) => `${num(p, 2)} pts`, se: (se) => num(100 * se, 2) };
  const signed = (d: number) => `${d > 0.00049 ? '+' : d < -0.00049 ? '−' : '±'}${num(Math.abs(d), 3)}`;
  return { name, value: (f) => num(f, 3), diff: signed, limit: (p) => num(p / 100, 3), se: (se) => num(se, 3) };
}

/** "Validation accuracy", "Test R²": a label with the metric's name. */
const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

function summaryTable(r: RunReport): string {
  const e = escapeHtml;
  const m = metricOf(r);
  const remaining = r.dense.prunable - Math.round(r.final.sparsity * r.dense.prunable);
  const reached = r.final.targetReached
    ? `<span class="badge ok">yes</span>${r.final.stopReason === 'forced' ? ` — ${e(describeStop(r.final))}` : ''}`
    : `<span class="badge warn">no</span> — ${e(describeStop(r.final).replace(/^target NOT reached: /, ''))}`;
  const policy = `${e(r.policy.name)} <span class="muted">(${e(r.policy.kind)}${r.policy.file ? `, ${e(r.policy.file)}` : ''})</span>`;
  const backend = `${e(r.backend.name)} <span class="muted">(${r.backend.native ? 'native' : 'not native'}, ${e(r.backend.source)})</span>`;
  const rows: [string, string][] = [
    ['Model', `${e(r.config.model)} <span class="muted">on</span> ${e(r.config.data)}`],
    ['Target sparsity', pct(r.config.target, 1)],
    ['Target reached', reached],
    ['Sparsity reached', `${pct(r.final.sparsity, 2)} <span class="muted">of the prunable kernel weights${r.final.sparsityOfAllParams != null ? `; ${pct(r.final.sparsityOfAllParams, 2)} of all ${num(r.dense.params)} parameters` : ''}</span>`],
    ...((r.dense.untouched ?? []).length ? [[
      'Left dense', (r.dense.untouched ?? []).map((u) => `${e(u.name)} <span class="muted">(${e(u.className)}, ${num(u.params)} parameters: ${e(u.reason)})</span>`).join('<br>'),
    ] as [string, string]] : []),
    [
      `Validation ${e(m.name)}`,
      `${m.value(r.dense.valAccuracy)} → <strong>${m.value(r.final.valAccuracy)}</strong> <span class="muted">(${m.diff(r.final.valAccuracy - r.dense.valAccuracy)})</span>`,
    ],
    [
      `Test ${e(m.name)}`,
      `${m.value(r.dense.testAccuracy)} → <strong>${m.value(r.final.testAccuracy)}</strong> <span class="muted">(${m.diff(r.final.testAccuracy - r.dense.testAccuracy)})</span>`,
    ],
    [`${e(capitalised(m.name))} guard`, r.guard
      ? `drop ≤ ${e(m.limit(r.config.maxDrop))} + ${e(num(r.guard.z, 2))} s.e., paired on ${num(r.guard.valRows)} validation rows <span class="muted">(${r.guard.pointsPerRow != null ? `1 row = ${e(num(r.guard.pointsPerRow, 2))} pts; ` : ''}final drop ${m.diff(-r.guard.finalDrop)} ± ${e(m.se(r.guard.finalStandardError))})</span>`
      : `${m.value(guardAccuracy(r))} <span class="muted">(dense − ${e(m.limit(r.config.maxDrop))}, validation)</span>`],
    ['Prunable weights', `${num(r.dense.prunable)} → ${num(remaining)} remaining <span class="muted">of ${num(r.dense.params)} parameters</span>`],
    ['Steps', `${num(r.totals.accepted)} accepted, ${num(r.totals.rolledBack)} rolled back, ${r.totals.fineTuneSteps != null ? `${num(r.totals.fineTuneSteps)} fine-tuning steps, ` : ''}${num(r.totals.fineTuneEpochs)} epochs`],
    ['Policy', policy],
    ['Granularity', e(r.config.granularity)],
    ...(r.final.compute ? [[
      'Compute', `${num(r.final.compute.dense)} → ${num(r.final.compute.live)} multiply-accumulates per sample <span class="muted">(${pct(r.final.compute.reduction)} removed${r.config.objective === 'flops' ? ', the target’s measure' : ''})</span>`,
    ] as [string, string]] : []),
    ['Backend', backend],
    ['Seed', e(r.config.seed)],
  ];
  return `<table id="summary" class="kv"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
}

function phasesTable(r: RunReport): string {
  // `total` is the run's wall time, not a phase: shares are of it, and what no phase timed is "other".
  const entries = Object.entries(r.phases).filter(([name]) => name !== 'total');
  const timed = entries.reduce((a, [, s]) => a + s, 0);
  const total = Math.max(r.phases.total ?? 0, timed);
  if (total - timed > 0.005) entries.push(['other', total - timed]);
  const body = entries.map(([name, s]) => [
    escapeHtml(name),
    secs(s),
    `<span class="bar" style="width:${total > 0 ? ((s / total) * 100).toFixed(1) : 0}%"></span> ${total > 0 ? num((s / total) * 100, 1) : '0'} %`,
  ]);
  body.push(['<strong>total</strong>', `<strong>${secs(total)}</strong>`, '']);
  return table('phases', ['Phase', 'Wall time', 'Share'], body, 'lrl');
}

function layersTable(r: RunReport): string {
  const body = r.layers.map((l) => [
    escapeHtml(l.name),
    escapeHtml(l.kind),
    escapeHtml(`[${l.shape.join(' × ')}]`),
    num(l.size),
    num(l.pruned),
    num(l.size - l.pruned),
    pct(l.sparsity, 1),
  ]);
  return table('layers', ['Layer', 'Kind', 'Kernel shape', 'Weights', 'Pruned', 'Remaining', 'Sparsity'], body, 'lllrrrr');
}

function stepsTable(r: RunReport): string {
  if (r.steps.length === 0) return '<p id="steps" class="muted">No pruning steps were taken.</p>';
  const m = metricOf(r);
  const body = r.steps.map((s) => [
    num(s.step),
    `${pct(s.fromSparsity, 1)} → ${pct(s.toSparsity, 1)}`,
    m.value(s.valAccuracy),
    m.diff(s.valAccuracy - r.dense.valAccuracy),
    s.accepted ? '<span class="badge ok">accepted</span>' : '<span class="badge bad">rolled back</span>',
    num(s.fineTuneEpochs),
    secs(s.seconds),
    s.reason ? escapeHtml(s.reason) : '',
  ]);
  return table('steps', ['Step', 'Sparsity', `Val ${m.name}`, 'vs dense', 'Result', 'Fine-tune epochs', 'Time', 'Reason'], body, 'rrrrlrrl');
}

const CSS = `
:root { color-scheme: light; --fg:#1d2329; --muted:#66707a; --line:#e3e6ea; --ok:#1a7f37; --warn:#9a6700; --bad:#cf222e; --accent:#1f6fb4; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: var(--fg); background: #f6f7f9; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; background: #fff; min-height: 100vh; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 10px; padding-bottom: 4px; border-bottom: 1px solid var(--line); }
.sub, .muted { color: var(--muted); }
.sub { margin: 0 0 16px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
thead th { font-weight: 600; background: #f3f5f7; }
table.kv th { width: 190px; font-weight: 600; color: #39424b; }
th.r, td.r { text-align: right; white-space: nowrap; }
#phases { max-width: 620px; }
.badge { display: inline-block; white-space: nowrap; padding: 0 7px; border-radius: 10px; font-size: 12px; font-weight: 600; border: 1px solid; }
.badge.ok { color: var(--ok); border-color: #a6d8b4; background: #eefbf1; }
.badge.warn { color: var(--warn); border-color: #e6cf85; background: #fff8e1; }
.badge.bad { color: var(--bad); border-color: #f1aeb5; background: #fff0f1; }
.bar { display: inline-block; height: 9px; background: var(--accent); opacity: .7; border-radius: 2px; vertical-align: middle; max-width: 140px; }
#phases td:last-child { width: 220px; }
figure { margin: 8px 0 0; overflow-x: auto; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
details pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 12px; }
footer { margin-top: 32px; color: var(--muted); font-size: 12px; }
`;

/** Renders report.html for a run: summary with phase times, the two charts, per-layer and per-step tables. */
export async function renderReportHtml(report: RunReport): Promise<string> {
  const e = escapeHtml;
  const [accuracySvg, layersSvg] = await Promise.all([accuracyVsSparsityChart(report), layerSparsityChart(report)]);
  const title = `autoprune report — ${report.config.model}`;
  const status = report.final.targetReached
    ? `<span class="badge ok">target reached</span>`
    : `<span class="badge warn">target not reached</span>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="generator" content="autoprune ${e(report.autopruneVersion)}">
<title>${e(title)}</title>
<style>${CSS}</style>
</head>
<body>
<main>
<header>
<h1>${e(title)} ${status}</h1>
<p class="sub">${e(report.config.data)} · policy ${e(report.policy.name)} · ${pct(report.final.sparsity, 1)} sparse · ${e(report.createdAt)}</p>
</header>
<section>
<h2>Summary</h2>
${summaryTable(report)}
<h2>Wall time per phase</h2>
${phasesTable(report)}
</section>
<section>
<h2>${escapeHtml(capitalised(metricOf(report).name))} vs sparsity</h2>
<figure id="chart-accuracy">${accuracySvg}
<figcaption>Validation ${escapeHtml(metricOf(report).name)} after each attempt's fine-tuning. Blue: accepted steps (the line starts at the dense model); red ×: attempts rolled back because accuracy fell below the guard (dashed); dotted: target sparsity.</figcaption>
</figure>
</section>
<section>
<h2>Sparsity per layer</h2>
<figure id="chart-layers">${layersSvg}
<figcaption>Fraction of each layer's kernel weights pruned in the final model; dashed: global sparsity.</figcaption>
</figure>
${layersTable(report)}
</section>
<section>
<h2>Steps</h2>
${stepsTable(report)}
</section>
<section>
<h2>Configuration</h2>
<details><summary>Resolved settings</summary><pre id="config">${e(JSON.stringify(report.config, null, 2))}</pre></details>
</section>
<footer>Written by autoprune ${e(report.autopruneVersion)} · report schema ${e(report.schemaVersion)} · ${e(report.createdAt)}</footer>
</main>
</body>
</html>
`;
}
