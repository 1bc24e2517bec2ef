/**
 * End to end: report.html as a person sees it, in headless Chromium. Skipped where no Chromium is
 * installed at /usr/bin/chromium (CI installs Debian's chromium so that it runs there).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderReportHtml } from '../../src/report/html.js';
import type { RunReport } from '../../src/report/report.js';

const CHROMIUM = '/usr/bin/chromium';
const noChromium = !existsSync(CHROMIUM);
if (noChromium) console.warn(`browser.test.ts: skipped, no Chromium at ${CHROMIUM} (apt-get install chromium)`);

const fixture = (): RunReport => {
  const r = JSON.parse(readFileSync(new URL('../fixtures/report/sample-report.json', import.meta.url), 'utf8')) as RunReport;
  // The polish after the last accepted step lifted validation accuracy (97.1 → 97.5 %): the chart's last point
  // must show the polished figure the summary gives, not the last step's.
  r.final.valAccuracy = 0.975;
  return r;
};

describe.skipIf(noChromium)(`report.html in headless Chromium (needs ${CHROMIUM})`, () => {
  let dir: string;
  let browser: Browser;
  let page: Page;
  const requests: string[] = [];
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'autoprune-report-'));
    const file = path.join(dir, 'report.html');
    writeFileSync(file, await renderReportHtml(fixture()));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
    page = await browser.newPage({ viewport: { width: 1040, height: 900 } });
    page.on('request', (r) => requests.push(r.url()));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
  });

  afterAll(async () => {
    await browser?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('loads with no request beyond the file itself and no console error (CSP violations included)', () => {
    expect(requests.filter((u) => !u.startsWith('file://'))).toEqual([]);
    expect(consoleErrors).toEqual([]);
  });

  it('shows the accuracy chart with its data: line, 4 accepted points, 2 rolled-back crosses, guard and dense rules', async () => {
    const svg = page.locator('#chart-accuracy svg');
    await expect(svg.count()).resolves.toBe(1);
    const box = await svg.boundingBox();
    expect(box!.width).toBeGreaterThan(400);
    expect(box!.height).toBeGreaterThan(200);

    const count = (sel: string) => page.locator(`#chart-accuracy ${sel}`).count();
    expect(await count('g.accepted_points_marks > path')).toBe(4);
    expect(await count('g.rolled_back_points_marks > path')).toBe(2);
    expect(await count('g.accepted_line_marks > path')).toBe(1);
    expect(await count('g.guard_rule_marks > line')).toBe(1);
    expect(await count('g.dense_rule_marks > line')).toBe(1);

    // Marks are really drawn inside the chart, not collapsed at the origin.
    const points = await page.locator('#chart-accuracy g.accepted_points_marks > path').evaluateAll((els) =>
      els.map((el) => {
        const r = el.getBoundingClientRect();
        return { x: r.x, y: r.y, w: r.width, h: r.height };
      }),
    );
    for (const p of points) {
      expect(p.w).toBeGreaterThan(2);
      expect(p.x).toBeGreaterThanOrEqual(box!.x);
      expect(p.x + p.w).toBeLessThanOrEqual(box!.x + box!.width);
    }
    const xs = points.map((p) => p.x);
    expect(new Set(xs.map(Math.round)).size).toBe(4);
    expect([...xs].sort((a, b) => a - b)).toEqual(xs);

    const titles = await page.locator('#chart-accuracy g.role-axis-title text').allTextContents();
    expect(titles.sort()).toEqual(['Sparsity (% of the prunable kernel weights)', 'Validation accuracy (%)']);
    const crossColor = await page.locator('#chart-accuracy g.rolled_back_points_marks > path').first().getAttribute('stroke');
    expect(crossColor).toBe('#d62728');
  });

  it('shows one bar per layer, sized by sparsity, with layer names on the axis', async () => {
    const svg = page.locator('#chart-layers svg');
    const box = await svg.boundingBox();
    expect(box!.width).toBeGreaterThan(400);
    expect(box!.height).toBeGreaterThan(50);
    const bars = await page.locator('#chart-layers g.layer_bars_marks > path').evaluateAll((els) =>
      els.map((el) => el.getBoundingClientRect().width),
    );
    expect(bars).toHaveLength(3);
    // 92.2 %, 75 %, 30 % of one scale.
    expect(bars[1] / bars[0]).toBeCloseTo(75 / 92.17, 2);
    expect(bars[2] / bars[0]).toBeCloseTo(30 / 92.17, 2);
    const labels = await page.locator('#chart-layers g.role-axis-label text').allTextContents();
    expect(labels).toEqual(expect.arrayContaining(['dense_1', 'dense_2', 'dense_3']));
    const titles = await page.locator('#chart-layers g.role-axis-title text').allTextContents();
    // The layers name their bars; no axis title to land on long names.
    expect(titles).toEqual(['Sparsity (%)']);
  });

  it('shows the summary, layer and step tables', async () => {
    await expect(page.locator('h1').textContent()).resolves.toContain('lenet-300-100');
    expect(await page.locator('#summary tr').count()).toBeGreaterThan(8);
    expect(await page.locator('#layers tbody tr').count()).toBe(3);
    expect(await page.locator('#steps tbody tr').count()).toBe(6);
    expect(await page.locator('#steps .badge.bad').count()).toBe(2);
    await page.screenshot({ path: path.join(tmpdir(), 'report.png'), fullPage: true });
  });
  it('ends the chart at the polished final model, the figure the summary gives', async () => {
    const label = await page.locator('#chart-accuracy g.final_point_marks > path').getAttribute('aria-label');
    const charted = Number(/Validation accuracy \(%\): ([\d.]+)/.exec(label ?? '')?.[1]);
    const summaryRow = await page.locator('#summary tr', { hasText: 'Validation accuracy' }).textContent();
    const summarised = Number(/→\s*([\d.]+)\s*%/.exec(summaryRow ?? '')?.[1]);
    expect(summarised).toBeCloseTo(97.5, 2);
    expect(charted).toBeCloseTo(summarised, 1);
    // The final point sits at the final sparsity, right of no accepted point.
    const finalX = (await page.locator('#chart-accuracy g.final_point_marks > path').boundingBox())!.x;
    const lastX = Math.max(...(await page.locator('#chart-accuracy g.accepted_points_marks > path').evaluateAll((els) => els.map((el) => el.getBoundingClientRect().x))));
    expect(Math.abs(finalX - lastX)).toBeLessThan(8);
  });

  it('gives phase shares of the run\'s wall time that sum to 100 %', async () => {
    const shares = (await page.locator('#phases tbody tr td:last-child').allTextContents())
      .map((t) => /([\d.]+)\s*%/.exec(t)?.[1]).filter((v): v is string => v != null).map(Number);
    expect(shares.length).toBeGreaterThanOrEqual(6);
    expect(shares.reduce((a, b) => a + b, 0)).toBeCloseTo(100, 0);
  });
});
