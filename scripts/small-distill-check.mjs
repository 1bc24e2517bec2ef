// Distillation at connection granularity on the small tables (docs/agent.md, "Small tables"): the CLI defaults through
// the API, once per case, target, distill setting and seed: default | off | weight:temperature.
//   npm run build && node scripts/small-distill-check.mjs gapminder-cluster,cars-origin 0.8,0.9 0,1,2 default,0.3:2
const { autoprune } = await import('../dist/index.js');
const { smallCasePaths } = await import('../dist/bench/small-suite.js');
const [cases = 'gapminder-cluster,cars-origin', targets = '0.8', seeds = '0,1,2', cfgs = 'default,0.5:4'] = process.argv.slice(2);
for (const c of cases.split(',')) for (const target of targets.split(',').map(Number)) for (const cfg of cfgs.split(',')) {
  const res = [];
  for (const seed of seeds.split(',').map(Number)) {
    const p = smallCasePaths(c);
    const distill = cfg === 'default' ? undefined : cfg === 'off' ? false : { weight: +cfg.split(':')[0], temperature: +cfg.split(':')[1] };
    const t0 = Date.now();
    const { model, report } = await autoprune({ model: p.model, data: p.data, target, seed, splitSeed: 0, distill });
    model.dispose();
    res.push(report);
    console.log(JSON.stringify({ c, target, cfg, seed, exit: report.final.exitCode, sparsity: +report.final.sparsity.toFixed(4), dense: report.dense.testAccuracy, test: report.final.testAccuracy, s: (Date.now() - t0) / 1000 }));
  }
  const m = (f) => (100 * res.reduce((a, r) => a + f(r), 0) / res.length).toFixed(2);
  console.log(`== ${c} @${target} ${cfg}: exits ${res.map((r) => r.final.exitCode).join(' ')}, mean test ${m((r) => r.final.testAccuracy)} (dense ${m((r) => r.dense.testAccuracy)})`);
}
