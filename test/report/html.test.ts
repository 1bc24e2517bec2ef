import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { escapeHtml, escapeProse, renderReportHtml } from '../../src/report/html.js';
import { REPORT_FORMAT, REPORT_SCHEMA_VERSION, guardAccuracy, type RunReport } from '../../src/report/report.js';

const fixture = (): RunReport =>
  JSON.parse(readFileSync(new URL('../fixtures/report/sample-report.json', import.meta.url), 'utf8')) as RunReport;

/** The inner HTML of the element with this id (first closing tag of the same name that follows). */
function element(html: string, tag: string, id: string): string {
  const m = new RegExp(`<${tag} id="${id}"[^>]*>(.*?)</${tag}>`, 's').exec(html);
  if (!m) throw new Error(`no <${tag} id="${id}">`);
  return m[1];
}

const rows = (tableHtml: string): string[] => tableHtml.split('<tbody>')[1].match(/<tr>.*?<\/tr>/gs) ?? [];

describe('report fixture', () => {
  it('is a well-formed v1 report', () => {
    const r = fixture();
    expect(r.format).toBe(REPORT_FORMAT);
    expect(r.schemaVersion).toBe(REPORT_SCHEMA_VERSION);
    expect(r.totals.accepted + r.totals.rolledBack).toBe(r.steps.length);
    expect(r.totals.fineTuneEpochs).toBe(r.steps.reduce((a, s) => a + s.fineTuneEpochs, 0));
    const pruned = r.layers.reduce((a, l) => a + l.pruned, 0);
    expect(pruned / r.dense.prunable).toBeCloseTo(r.final.sparsity, 6);
    expect(guardAccuracy(r)).toBeCloseTo(0.968, 10);
  });
});

describe('renderReportHtml', () => {
  it('writes a complete page with both charts, the summary and every table', async () => {
    const r = fixture();
    const html = await renderReportHtml(r);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).toContain('<title>autoprune report — lenet-300-100</title>');

    const acc = element(html, 'figure', 'chart-accuracy');
    expect(acc).toMatch(/^<svg /);
    expect(acc.match(/role-mark accepted_points_marks/g)).toHaveLength(1);
    // The final model's diamond drawn after (on top of) the accepted steps' points: the last one sits at its sparsity.
    expect(acc.indexOf('final_point_marks')).toBeGreaterThan(acc.indexOf('accepted_points_marks'));
    const layers = element(html, 'figure', 'chart-layers');
    expect(layers).toMatch(/^<svg /);
    expect(layers).toContain('layer_bars_marks');

    const summary = element(html, 'table', 'summary');
    for (const t of ['90.0 %', '97.80 % → <strong>97.10 %</strong>', '97.50 % → <strong>96.80 %</strong>', 'tensorflow', 'cart-mlp', '96.80 %'])
      expect(summary).toContain(t);
    expect(summary).toContain('<span class="badge ok">yes</span>');
    // A report without a polish record (older runs) has no Polish row; one with it says what the polish did.
    expect(summary).not.toContain('Polish');
    const undone = element(await renderReportHtml({ ...r, polish: { kept: false, steps: 300, valLossBefore: 0.1, bestValLoss: 0.12, bestRound: 2, message: 'undone: its best round\'s validation loss 0.1200 against 0.1000 before it is no lower; the model is as step 3 left it' } }), 'table', 'summary');
    expect(undone).toMatch(/Polish.*300 optimizer steps at the final sparsity: <span class="badge warn">undone<\/span> — its best round&#39;s validation loss 0.1200 against 0.1000 before it is no lower; the model is as step 3 left it/s);

    const phases = rows(element(html, 'table', 'phases'));
    expect(phases).toHaveLength(Object.keys(r.phases).length + 1); // + total
    expect(phases[3]).toContain('fine-tune');
    expect(phases[3]).toContain('58.1 s');
    expect(phases.at(-1)).toContain('64.8 s');

    const layerRows = rows(element(html, 'table', 'layers'));
    expect(layerRows).toHaveLength(3);
    expect(layerRows[0]).toContain('[784 × 300]');
    expect(layerRows[0]).toContain('216,780');
    expect(layerRows[0]).toContain('92.2 %');

    const stepRows = rows(element(html, 'table', 'steps'));
    expect(stepRows).toHaveLength(6);
    expect(stepRows.filter((s) => s.includes('rolled back'))).toHaveLength(2);
    expect(stepRows[3]).toContain('below the guard 96.80 %');
    expect(stepRows[3]).toContain('−1.60 pts');
  });

  it('gives each class\'s test recall and, where the report has it, its precision, dense and pruned', async () => {
    const r = fixture();
    r.final.classes = [{ name: 'none', testRows: 700, denseRecall: 0.9, recall: 0.99 }, { name: 'dam<aged', testRows: 100, denseRecall: 0.4, recall: 0.05 }];
    const old = element(await renderReportHtml(r), 'table', 'classes');
    expect(old).toMatch(/<th[^>]*>Dense<\/th>/);
    expect(old).not.toContain('Precision');
    r.final.classes = r.final.classes.map((c, i) => ({ ...c, densePrecision: i ? 0.3 : 0.92, precision: i ? 0.5 : null }));
    const html = await renderReportHtml(r);
    expect(html).toContain('<h2>Test recall and precision per class</h2>');
    const t = element(html, 'table', 'classes');
    expect(t).toContain('Precision, pruned');
    expect(rows(t)[1]).toContain('dam&lt;aged');
    expect(rows(t)[1]).toMatch(/40\.0 %.*5\.0 %.*30\.0 %.*50\.0 %/s);
    // No row predicted as the class: no precision to give.
    expect(rows(t)[0]).toMatch(/92\.0 %<\/td><td[^>]*>—/);
  });

  it('says when the run scored with another policy because the model has layers outside the policy\'s domain, as report.json does', async () => {
    const r = fixture();
    expect(await renderReportHtml(r)).not.toContain('scored as');
    r.policy.outsideDomain = { scoredAs: 'default@0.25+lamp', outside: [{ layer: 'dense_1', why: 'fan-in 5, outside 50–800' }] };
    expect(await renderReportHtml(r)).toContain("— scored as default@0.25+lamp: the model has layers outside the policy's domain (dense_1: fan-in 5, outside 50–800; docs/agent.md)");
  });

  it('gives phase shares of the run\'s wall time (the recorded total is not a phase), untimed time as "other", summing to 100 %', async () => {
    const r = fixture();
    r.phases.total = 70;
    const phases = rows(element(await renderReportHtml(r), 'table', 'phases'));
    expect(phases.some((p) => p.includes('other') && p.includes('5.23 s'))).toBe(true);
    expect(phases.at(-1)).toContain('70.0 s');
    const shares = phases.slice(0, -1).map((p) => Number(/([\d.]+) %/.exec(p.replace(/<[^>]+>/g, ' '))?.[1]));
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
  });

  it("shows a regression's per-target R² and RMSE (or an autoencoder's MSE) in the summary, named and escaped", async () => {
    const r = fixture();
    r.final.targets = [{ name: 'm<pg', denseTestR2: 0.9, testR2: 0.85 }, { name: 'hp', denseTestR2: 0.8, testR2: 0.82 }];
    r.final.testErrors = { metric: 'rmse', values: [{ name: 'm<pg', dense: 2.664115, pruned: 2.755597 }, { name: 'hp', dense: 10, pruned: 9.5 }] };
    const html = await renderReportHtml(r);
    expect(html).toContain('Test R² per target');
    expect(html).toContain('m&lt;pg: 0.900 → <strong>0.850</strong>');
    expect(html).toContain('Test RMSE (target units)');
    expect(html).toContain('m&lt;pg: 2.664 → <strong>2.756</strong> <span class="muted">(+3.4 %)</span><br>hp: 10 → <strong>9.5</strong> <span class="muted">(−5.0 %)</span>');
    r.final.testErrors = { metric: 'mse', values: [{ name: 'reconstruction', dense: 0.0052684, pruned: 0.0047441 }] };
    delete r.final.targets;
    const ae = await renderReportHtml(r);
    expect(ae).toContain('Test MSE per output value');
    expect(ae).toContain('0.005268 → <strong>0.004744</strong> <span class="muted">(−10.0 %)</span>');
  });

  it('makes no external requests: no scripts, links, remote URLs; a CSP forbids them', async () => {
    const html = await renderReportHtml(fixture());
    expect(html).toContain(`http-equiv="Content-Security-Policy" content="default-src 'none'`);
    expect(html).not.toMatch(/<script|<link|<img|<iframe|@import|url\(http/i);
    // The only absolute URLs are XML namespace names, which are never fetched.
    const urls = html.match(/https?:\/\/[^\s"')<]+/g) ?? [];
    expect(urls.every((u) => u.startsWith('http://www.w3.org/'))).toBe(true);
    // Several SVGs share the page: no element id may repeat.
    const ids = [...html.matchAll(/\sid="([^"]+)"/g)].map((m) => m[1]);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('escapes every user string', async () => {
    const r = fixture();
    const evil = `<img src=x onerror="alert('x')">&`;
    r.config.model = evil;
    r.config.data = evil;
    r.config.granularity = evil;
    r.policy.name = evil;
    r.policy.file = evil;
    r.backend.source = evil;
    r.layers[1].name = evil;
    r.steps[3].reason = evil;
    r.phases[evil] = 1;
    r.autopruneVersion = evil;
    r.createdAt = evil;
    const html = await renderReportHtml(r);
    expect(html).not.toContain('<img');
    // Outside the chart's text nodes (where a quote is plain text once < and > are escaped) no quote is left raw.
    expect(html.replace(/>[^<]*</g, '><')).not.toContain(`onerror="alert`);
    expect(html).toContain('&lt;img src=x onerror=&quot;alert(&#39;x&#39;)&quot;&gt;&amp;');
    // In the chart the name is escaped by vega's SVG writer.
    expect(element(html, 'figure', 'chart-layers')).toContain('&lt;img');
  });

  it('renders a run that stopped short of its target, without steps', async () => {
    const r = fixture();
    r.steps = [];
    r.final = { ...r.final, targetReached: false, exitCode: 3, sparsity: 0 };
    const html = await renderReportHtml(r);
    expect(html).toContain('target not reached');
    expect(html).toContain('exit 3');
    expect(html).toContain('No pruning steps were taken.');
    expect(element(html, 'figure', 'chart-accuracy')).toMatch(/^<svg /);
  });

  it('shows R² values as R² and their differences in points (0.01 of R² each, as --max-drop and the console), for regression and autoencoders', async () => {
    const r = fixture();
    r.task = { kind: 'regression', metric: 'R²', evidence: 'its output layer' };
    r.dense = { ...r.dense, valAccuracy: 0.9214, testAccuracy: 0.9305 };
    r.final = { ...r.final, valAccuracy: 0.9012, testAccuracy: 0.8724 };
    r.steps = r.steps.map((s) => ({ ...s, valAccuracy: 0.91 }));
    r.guard = {
      rule: 'paired', valRows: 80, maxDrop: 1, z: 1.64, noiseCap: 1, finerThanData: false,
      finalDrop: 0.0202, finalStandardError: 0.004, finalAllowedDrop: 0.0166,
    };
    const html = await renderReportHtml(r);
    const summary = element(html, 'table', 'summary');
    expect(summary).toContain('Validation R²');
    expect(summary).toContain('0.921 → <strong>0.901</strong>');
    expect(summary).toMatch(/Test R².*0\.931 → <strong>0\.872<\/strong> <span class="muted">\(−5\.81 pts\)/s);
    expect(summary).toContain('R² guard');
    expect(summary).toContain('drop ≤ 1.00 pts (0.01 of R² each)');
    expect(summary).not.toMatch(/1 row =|92\.14 %/);
    expect(rows(element(html, 'table', 'steps'))[0]).toContain('0.910');
    expect(element(html, 'figure', 'chart-accuracy')).toContain('Validation R²');
    // The same guard on an accuracy: points, each figure with its unit once; the final drop with its direction
    // (positive = below the reference) and whether it held.
    const acc = fixture();
    acc.guard = { ...r.guard, pointsPerRow: 1.25 };
    const accSummary = element(await renderReportHtml(acc), 'table', 'summary');
    expect(accSummary).toContain('drop ≤ 1.00 pts + 1.64 s.e. (capped), paired on 80 validation rows against the dense model');
    expect(accSummary).toContain('(1 row = 1.25 pts)');
    expect(accSummary).toContain('final model: 2.02 pts below it ± 0.40 s.e., allowed 1.66 pts below: <span class="badge bad">not held</span>');
    acc.guard = { ...acc.guard, finalDrop: -0.008, reference: 'control', controlValAccuracy: 0.95 };
    const better = element(await renderReportHtml(acc), 'table', 'summary');
    expect(better).toContain('against the fine-tuned dense control (95.00 %');
    expect(better).toContain('final model: 0.80 pts above it');
    expect(better).toContain('<span class="badge ok">held</span>');
  });

  it('a --targets run with objective flops shows each target\'s compute removed beside its weights\' sparsity', async () => {
    const r = fixture();
    r.frontier = [
      { target: 0.5, reached: true, sparsity: 0.5267, sparsityOfAllParams: 0.52, valAccuracy: 0.97, testAccuracy: 0.97, compute: { dense: 100, live: 32, reduction: 0.68 }, fineTuneSteps: 400, path: 'frontier/0.5/' },
    ];
    r.config.objective = 'flops';
    const flops = element(await renderReportHtml(r), 'table', 'frontier');
    expect(flops).toContain('Compute removed (of the prunable kernels&#39; MACs)');
    expect(rows(flops)[0]).toContain('68.00 %');
    r.config.objective = 'params';
    expect(element(await renderReportHtml(r), 'table', 'frontier')).not.toContain('Compute removed');
  });

  it('escapeHtml escapes the five HTML metacharacters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
    expect(escapeHtml(3)).toBe('3');
  });

  it('says where the model as given was pruned before (report.json dense.sparsity)', async () => {
    const r = JSON.parse(readFileSync(new URL('../fixtures/report/sample-report.json', import.meta.url), 'utf8')) as RunReport;
    expect(await renderReportHtml(r)).not.toContain('Model as given');
    expect(await renderReportHtml({ ...r, dense: { ...r.dense, sparsity: 0.5 } })).toContain('<th scope="row">Model as given</th><td>already 50.00 % sparse');
    // Prose keeps a command-line option on one line (a browser breaks after a hyphen: "--⏎force" copies broken).
    expect(escapeProse('or --force takes it; (--granularity unit) & <b>')).toBe('or <span class="nw">--force</span> takes it; (<span class="nw">--granularity</span> unit) &amp; &lt;b&gt;');
    expect(escapeProse('a-b --')).toBe('a-b --');
  });
});
