/**
 * report.html: one self-contained page (inline CSS and SVG, no script, no external request — a
 * Content-Security-Policy forbids any) that a person can open from disk or attach to a ticket.
 */
import { accuracyVsSparsityChart, layerSparsityChart } from './charts.js';
import { describeStop, guardAccuracy, guardHeld, relativeChange, speedUpText, type RunReport } from './report.js';

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes a string for HTML text and quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * Escaped prose whose command-line options (`--force`, `--budget-steps 1000`'s flag) never break across lines: a browser
 * breaks after a hyphen, and "--⏎force" in an advice line copies as a broken flag.
 */
export function escapeProse(value: unknown): string {
  return escapeHtml(value).replace(/(^|[\s(;:,])(--[a-z][a-z0-9-]*)/g, '$1<span class="nw">$2</span>');
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
  // R² differences in points (0.01 of R² each), as --max-drop and the console state them.
  return { name, value: (f) => num(f, 3), diff: pts, limit: (p) => `${num(p, 2)} pts (0.01 of R² each)`, se: (se) => num(100 * se, 2) };
}

/** "Validation accuracy", "Test R²": a label with the metric's name. */
const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** "0.80 pts below" / "0.80 pts above" (a drop d: positive = worse than the reference). */
function dropWords(d: number, m: MetricFormat): string {
  const text = m.diff(Math.abs(d)).replace(/^[+±]/, '');
  return Math.abs(d) < 0.0000495 ? `level with (${text})` : `${text} ${d > 0 ? 'below' : 'above'}`;
}

function summaryTable(r: RunReport): string {
  const e = escapeHtml;
  const m = metricOf(r);
  const remaining = r.dense.prunable - Math.round(r.final.sparsity * r.dense.prunable);
  const held = guardHeld(r);
  const reached = r.final.targetReached
    ? (r.final.stopReason === 'forced' ? `<span class="badge warn">yes, forced</span> — ${e(describeStop(r.final, held))}` : '<span class="badge ok">yes</span>')
    : `<span class="badge warn">no</span> — ${e(describeStop(r.final).replace(/^target NOT reached: /, ''))}`;
  const flops = r.config.objective === 'flops';
  const ref = r.guard?.reference === 'control'
    ? `the fine-tuned dense control (${m.value(r.guard.controlValAccuracy ?? NaN)}: the dense model fine-tuned like one step, unpruned)`
    : 'the dense model';
  const part = (p: { name: string; kind: string; file?: string }) => `${e(p.name)} <span class="muted">(${e(p.kind)}${p.file ? `, ${e(p.file)}` : ''})</span>`;
  const parts = r.policy.parts;
  const policy = parts
    ? `${e(r.policy.name)} <span class="muted">(combined)</span>: order inside each layer from ${part(parts[0])}${r.policy.weight !== undefined ? ` at weight ${e(r.policy.weight)}` : ''}, allocation across layers from ${part(parts[1])}`
    : part(r.policy);
  // Layers outside the policy's domain: the run scored with another policy, which the page says as report.json does.
  const od = r.policy.outsideDomain;
  const scored = od ? ` <span class="muted">— scored as ${e(od.scoredAs)}: the model has layers outside the policy's domain (${od.outside.slice(0, 4).map((o) => `${e(o.layer)}: ${e(o.why)}`).join('; ')}${od.outside.length > 4 ? '; …' : ''}; docs/agent.md)</span>` : '';
  const backend = `${e(r.backend.name)} <span class="muted">(${r.backend.native ? 'native' : 'not native'}, ${e(r.backend.source)})</span>`;
  const rows: [string, string][] = [
    ['Model', `${e(r.config.model)} <span class="muted">on</span> ${e(r.config.data)}`],
    [r.config.objective === 'params' || r.config.objective == null ? 'Target sparsity' : 'Target', flops ? `${pct(r.config.target, 1)} of the prunable kernels' multiply-accumulates removed`
      : r.final.latency ? `${pct(r.config.target, 1)} of the predicted time per predict call of ${r.final.latency.batch} removed (${r.final.latency.denseMs.toFixed(2)} ms timed at the start)` : `${pct(r.config.target, 1)} of the prunable kernel weights`],
    ['Target reached', reached],
    ...(r.final.advice ? [['To go further', escapeProse(r.final.advice)] as [string, string]] : []),
    ['Sparsity reached', `${pct(r.final.sparsity, 2)} <span class="muted">of the prunable kernel weights${r.final.sparsityOfAllParams != null ? `; ${pct(r.final.sparsityOfAllParams, 2)} of all ${num(r.dense.params)} parameters` : ''}</span>`],
    // A model pruned before: "dense" below is that model (its zeros stayed zero).
    ...(r.dense.sparsity ? [['Model as given', `already ${pct(r.dense.sparsity, 2)} sparse <span class="muted">(pruned before; its zeros stayed zero): every "dense" figure is this model's</span>`] as [string, string]] : []),
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
    ...(r.final.targets ? [[
      'Test R² per target', r.final.targets.map((t) => `${e(t.name)}: ${num(t.denseTestR2, 3)} → <strong>${num(t.testR2, 3)}</strong>`).join('<br>'),
    ] as [string, string]] : []),
    ...(r.final.testErrors ? [[
      r.final.testErrors.metric === 'rmse' ? 'Test RMSE (target units)' : 'Test MSE per output value',
      r.final.testErrors.values.map((v) => `${r.final.testErrors!.values.length > 1 ? `${e(v.name)}: ` : ''}${e(Number(v.dense.toPrecision(4)))} → <strong>${e(Number(v.pruned.toPrecision(4)))}</strong>${v.dense > 0 && Number.isFinite(v.pruned) ? ` <span class="muted">(${e(relativeChange(v.pruned / v.dense - 1))})</span>` : ''}`).join('<br>'),
    ] as [string, string]] : []),
    [`${e(capitalised(m.name))} guard`, r.guard
      ? `drop ≤ ${e(m.limit(r.config.maxDrop))} + ${e(num(r.guard.z, 2))} s.e. (capped), paired on ${num(r.guard.valRows)} validation rows against ${e(ref)}` +
        `${r.guard.pointsPerRow != null ? ` <span class="muted">(1 row = ${e(num(r.guard.pointsPerRow, 2))} pts)</span>` : ''}<br>` +
        `final model: ${e(dropWords(r.guard.finalDrop, m))} it ± ${e(m.se(r.guard.finalStandardError))} s.e.` +
        `${r.guard.finalAllowedDrop != null ? `, allowed ${e(dropWords(r.guard.finalAllowedDrop, m).replace(/ (below|above)$/, ''))} below` : ''}: ` +
        `${held ? '<span class="badge ok">held</span>' : '<span class="badge bad">not held</span>'}`
      : `${m.value(guardAccuracy(r))} <span class="muted">(dense − ${e(m.limit(r.config.maxDrop))}, validation)</span>`],
    ['Prunable weights', `${num(r.dense.prunable)} → ${num(remaining)} remaining <span class="muted">(the prunable kernel weights are ${num(r.dense.prunable)} of the model's ${num(r.dense.params)} parameters)</span>`],
    ['Steps', `${num(r.totals.accepted)} accepted, ${num(r.totals.rolledBack)} rolled back, ${r.totals.fineTuneSteps != null ? `${num(r.totals.fineTuneSteps)} fine-tuning optimizer steps, ` : ''}${num(r.totals.fineTuneEpochs, 2)} epochs` +
      `${r.config.budgetExtensions ? ` <span class="muted">(the default budget extended ${r.config.budgetExtensions === 1 ? 'once' : `${num(Number(r.config.budgetExtensions))} times`}, to ${num(Number(r.config.budgetSteps))} steps: docs/agent.md)</span>` : ''}`],
    ...(r.polish ? [['Polish', `${num(r.polish.steps)} optimizer steps at the final sparsity: ${r.polish.kept ? '<span class="badge ok">kept</span>' : '<span class="badge warn">undone</span>'} — ${e(r.polish.kept ? r.polish.message : r.polish.message.replace(/^undone: /, ''))}`] as [string, string]] : []),
    ['Policy', policy + scored],
    ['Granularity', e(r.config.granularity)],
    ...(r.final.compute ? [[
      'Compute', `${num(r.final.compute.dense)} → ${num(r.final.compute.live)} multiply-accumulates per sample of the prunable kernels' ${r.config.granularity === 'unit' ? 'live weights' : 'nonzero weights (not what the model runs: see below)'} <span class="muted">(${pct(r.final.compute.reduction)} fewer${flops ? ', the target’s measure' : ''}${r.final.compute.allKernels ? `; every kernel's, the frozen and excluded ones counted as they are: ${num(r.final.compute.allKernels.dense)} → ${num(r.final.compute.allKernels.live)}, ${pct(r.final.compute.allKernels.reduction)} fewer` : ''})</span>` +
        (r.config.granularity === 'unit' ? '' : '<br><span class="muted">Zeros inside kept units still cost their multiply-accumulates on dense kernels (TensorFlow.js has no sparse ones): this saving needs a sparse runtime. Only whole units removed (--granularity unit, then autoprune compact) make the model itself faster; compact reports what it removes.</span>'),
    ] as [string, string]] : []),
    ...(r.final.latency ? [[
      'Predicted time', `${r.final.latency.denseMs.toFixed(2)} → ${r.final.latency.predictedMs.toFixed(2)} ms per predict call of ${num(r.final.latency.batch)} sample${r.final.latency.batch === 1 ? '' : 's'} <span class="muted">(${pct(r.final.latency.reduction)} removed, the target’s measure: ` +
        `the dense time timed at the start, less what the removed units cost in the cost table fitted then (docs/compaction.md, “Pruning for time”); ${r.compact ? 'the compact model’s measured time is under “Compact models”' : '<code>autoprune compact --serving-batch ' + num(r.final.latency.batch) + '</code> times the compact model'})</span>`,
    ] as [string, string]] : []),
    ...((r.final.unitsKept ?? []).length ? [[
      'Units that cannot go', (r.final.unitsKept ?? []).map((u) => `${e(u.layer)} <span class="muted">(${e(u.reason)})</span>`).join('<br>'),
    ] as [string, string]] : []),
    ['Backend', backend],
    ['Seed', e(r.config.seed)],
  ];
  return `<table id="summary" class="kv"><tbody>${rows.map(([k, v]) => `<tr><th scope="row">${e(k)}</th><td>${v}</td></tr>`).join('')}</tbody></table>`;
}

/** Phase keys of report.json in words. */
const PHASE_NAMES: Record<string, string> = {
  load: 'loading model and data', denseTraining: 'training the built-in model (first use; cached after)', control: 'fine-tuned dense control', features: 'features', scoring: 'scoring', prune: 'selecting connections',
  fineTune: 'fine-tuning', evaluate: 'evaluating', checkpoint: 'checkpoints', write: 'writing files', compact: 'compact models (--compact)', other: 'other',
};

/** The run's warnings, as the console gave them. */
function warningsList(r: RunReport): string {
  if (!r.warnings?.length) return '';
  return `<h2>Warnings</h2><ul id="warnings">${r.warnings.map((w) => `<li>${escapeProse(w)}</li>`).join('')}</ul>`;
}

/** With --compact: what each compact model written runs — the run's own and, with --targets, each lower target's (report.json compact). */
function compactTable(r: RunReport): string {
  if (!r.compact) return '';
  const rows: [string, NonNullable<RunReport['compact']>][] = [
    ...(r.frontier ?? []).flatMap((f) => (f.compact && f.path ? [[`target ${pct(f.target, 1)} (${escapeHtml(f.path)})`, f.compact] as [string, NonNullable<RunReport['compact']>]] : [])),
    [`the final model (${pct(r.final.sparsity, 1)} sparse)`, r.compact],
  ];
  const body = rows.map(([what, c]) => {
    const all = c.macs.allKernels;
    return [
      what,
      `${num(c.paramsBefore)} → ${num(c.paramsAfter)}`,
      `${num(c.macs.dense)} → ${num(c.macs.compact)} <span class="muted">(${pct(c.macs.reduction, 1)} removed)</span>` +
        (all ? `<br><span class="muted">every kernel, the frozen and excluded ones included: ${num(all.dense)} → ${num(all.compact)} (${pct(all.reduction, 1)} removed)</span>` : ''),
      c.latency ? `${num(c.latency.denseMs, 2)} → ${num(c.latency.compactMs, 2)} ms <span class="muted">(${speedUpText(c.latency)}, ${c.latency.batch} samples a call, median of ${c.latency.runs}${c.latency.sameRewrites ? '; the pruned model with the compact one\'s serving rewrites' : ''})</span>` : '—',
      escapeHtml(c.path),
    ];
  });
  return `<section><h2>Compact models</h2>${table('compact', ['Model', 'Parameters', "Multiply-accumulates per sample of the prunable kernels, dense → compact", 'predict, pruned at full shape → compact (measured on the machine of the run)', 'Folder'], body, 'lrrrl')}</section>`;
}

/** A --targets run: one row per target, the lower ones reached on the way (report.json frontier). */
function frontierTable(r: RunReport): string {
  if (!r.frontier?.length) return '';
  const m = metricOf(r);
  // With objective 'flops' the targets count compute removed: that column too.
  const flops = r.config.objective === 'flops';
  const body = r.frontier.map((f) => [
    pct(f.target, 1),
    f.reached ? `<span class="badge ok">reached</span>${f.beyond ? ` <span class="muted">beyond the target (${escapeHtml(f.beyond)})</span>` : ''}` : '<span class="badge warn">not reached</span>',
    ...(flops ? [f.compute ? pct(f.compute.reduction, 2) : '—'] : []),
    f.sparsity != null ? `${pct(f.sparsity, 2)}${f.sparsityOfAllParams != null ? ` <span class="muted">(${pct(f.sparsityOfAllParams, 2)} of all)</span>` : ''}` : '—',
    f.valAccuracy != null ? m.value(f.valAccuracy) : '—',
    f.testAccuracy != null ? `${m.value(f.testAccuracy)} <span class="muted">(${m.diff(f.testAccuracy - r.dense.testAccuracy)})</span>` : '—',
    f.fineTuneSteps != null ? num(f.fineTuneSteps) : '—',
    f.path != null ? escapeHtml(f.path === '' ? '(this folder)' : f.path) : '—',
  ]);
  return `<section><h2>Frontier: every target of the run</h2>${table('frontier', ['Target', 'Reached', ...(flops ? ["Compute removed (of the prunable kernels' MACs)"] : []), 'Sparsity of the prunable kernel weights', `Val ${m.name}`, `Test ${m.name} (vs dense)`, 'Fine-tune steps', 'Files'], body, flops ? 'rlrrrrrl' : 'rlrrrrl')}</section>`;
}

/** Classification: each class's test recall, dense and pruned, and its precision where the report has it (report.json final.classes). */
function classesTable(r: RunReport): string {
  const cs = r.final.classes;
  if (!cs?.length) return '';
  const v = (x: number | null | undefined) => (x == null ? '—' : pct(x, 1));
  const change = (a: number | null | undefined, b: number | null | undefined) => (a != null && b != null ? pts(b - a) : '—');
  // (Reports written before 2026-12-08 have recall only.)
  const precision = cs.some((c) => c.precision !== undefined);
  const body = cs.map((c) => [escapeHtml(c.name), num(c.testRows), v(c.denseRecall), v(c.recall), change(c.denseRecall, c.recall),
    ...(precision ? [v(c.densePrecision), v(c.precision), change(c.densePrecision, c.precision)] : [])]);
  return precision
    ? `<h2>Test recall and precision per class</h2>${table('classes', ['Class', 'Test rows', 'Recall, dense', 'Recall, pruned', 'Change', 'Precision, dense', 'Precision, pruned', 'Change'], body, 'lrrrrrrr')}`
    : `<h2>Test recall per class</h2>${table('classes', ['Class', 'Test rows', 'Dense', 'Pruned', 'Change'], body, 'lrrrr')}`;
}

function phasesTable(r: RunReport): string {
  // `total` is the run's wall time, not a phase: shares are of it, and what no phase timed is "other".
  const entries = Object.entries(r.phases).filter(([name]) => name !== 'total');
  const timed = entries.reduce((a, [, s]) => a + s, 0);
  const total = Math.max(r.phases.total ?? 0, timed);
  if (total - timed > 0.005) entries.push(['other', total - timed]);
  const body = entries.map(([name, s]) => [
    escapeHtml(PHASE_NAMES[name] ?? name),
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
  // Reports that record each step's paired drop show it (what the guard judged); older ones the difference to dense.
  const paired = r.steps.some((s) => s.drop != null);
  const body = r.steps.map((s) => [
    num(s.step),
    `${pct(s.fromSparsity, 1)} → ${pct(s.toSparsity, 1)}`,
    m.value(s.valAccuracy),
    paired
      ? (s.drop != null ? `${escapeHtml(dropWords(s.drop, m))}${s.allowedDrop != null ? ` <span class="muted">(allowed ${escapeHtml(dropWords(s.allowedDrop, m).replace(/ (below|above)$/, ''))})</span>` : ''}` : '')
      : m.diff(s.valAccuracy - r.dense.valAccuracy),
    s.accepted ? '<span class="badge ok">accepted</span>' : '<span class="badge bad">rolled back</span>',
    s.fineTuneSteps != null ? num(s.fineTuneSteps) : num(s.fineTuneEpochs, 2),
    secs(s.seconds),
    s.reason ? escapeProse(s.reason) : '',
  ]);
  const ref = r.guard?.reference === 'control' ? 'the control' : 'dense';
  return table('steps', ['Step', r.config.objective === 'flops' ? 'Compute removed' : r.config.objective === 'latency' ? 'Predicted time removed' : 'Sparsity', `Val ${m.name}`, paired ? `Paired drop vs ${ref}` : 'vs dense', 'Result',
    r.steps.some((s) => s.fineTuneSteps != null) ? 'Fine-tune steps' : 'Fine-tune epochs', 'Time', 'Reason'], body, 'rrrllrrl');
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
th, td { padding: 5px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; overflow-wrap: break-word; }
th { overflow-wrap: normal; }
td:first-child { min-width: 4em; }
td:last-child { min-width: 8em; }
thead th { font-weight: 600; background: #f3f5f7; }
table.kv th { width: 190px; font-weight: 600; color: #39424b; }
th.r, td.r { text-align: right; }
td.r { white-space: nowrap; overflow-wrap: normal; }
td.r .muted { white-space: normal; }
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
#warnings li { color: var(--warn); }
.nw { white-space: nowrap; }
@media (max-width: 760px) {
  main { padding: 12px 10px 32px; }
  table { display: block; overflow-x: auto; }
  table.kv th { width: auto; }
  #steps td:last-child { min-width: 220px; }
}
@media print {
  body { background: #fff; }
  main { max-width: none; padding: 0; }
  table { font-size: 11px; }
  th, td { padding: 3px 6px; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
}
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
<p class="sub">${e(report.config.data)} · policy ${e(report.policy.name)} · ${pct(report.final.sparsity, 1)} of the prunable weights pruned${report.final.compute && report.config.granularity === 'unit' ? `, ${pct(report.final.compute.reduction, 1)} of their compute removed` : ''} · ${e(report.createdAt)}</p>
</header>
<section>
<h2>Summary</h2>
${summaryTable(report)}
${warningsList(report)}
${classesTable(report)}
<h2>Wall time per phase</h2>
${phasesTable(report)}
</section>
<section>
<h2>${escapeHtml(capitalised(metricOf(report).name))} vs sparsity</h2>
<figure id="chart-accuracy">${accuracySvg}
<figcaption>Validation ${escapeHtml(metricOf(report).name)} after each attempt's fine-tuning. Blue: accepted steps (the line starts at the dense model); red ×: attempts rolled back because their paired drop below the guard's reference${report.guard?.reference === 'control' ? ' (the fine-tuned dense control, grey dotted)' : ''} exceeded what it allows (each attempt's short dash is its own floor, the reference less its allowance — the allowance for the validation rows' noise differs from attempt to attempt, and the Steps table gives each; the dashed line is the final model's floor); black diamond: the final model, after the last fine-tune; dotted vertical: the target${report.frontier?.some((f) => f.reached && f.path) ? '; purple squares: the frontier\'s lower targets, each reached on a branch, or the nearest accepted model beyond it where its branch was rejected (the Frontier table)' : ''}.</figcaption>
</figure>
</section>
${frontierTable(report)}
${compactTable(report)}
<section>
<h2>Sparsity per layer</h2>
<figure id="chart-layers">${layersSvg}
<figcaption>Fraction of each layer's kernel weights pruned in the final model; dashed: global sparsity.${report.config.granularity === 'unit'
    ? ' Whole units: a layer loses the rows of the units removed before it and the columns of its own removed units; the output layer\'s units are the model\'s outputs and never go, so its kernel shrinks only with the layer before it.'
    : ''}</figcaption>
</figure>
${layersTable(report)}
</section>
<section>
<h2>Steps</h2>
${stepsTable(report)}
</section>
<section>
<h2>Configuration</h2>
<details open><summary>Resolved settings</summary><pre id="config">${e(JSON.stringify(report.config, null, 2))}</pre></details>
</section>
<footer>Written by autoprune ${e(report.autopruneVersion)} · report schema ${e(report.schemaVersion)} · ${e(report.createdAt)}</footer>
</main>
</body>
</html>
`;
}
