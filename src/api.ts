import type { Container } from 'inversify';
import { createContainer } from './container.js';
import type { AutopruneOptions, AutopruneResult, PruneService } from './prune-service.js';
import { UsageError } from './errors.js';
import { TOKENS } from './types.js';

export type { AutopruneOptions, AutopruneResult };

/**
 * Prunes a model to `target` sparsity with the learned policy, fine-tuning and an accuracy guard.
 * Returns the pruned model and the typed report; with `out`, also writes model/, masks.json,
 * report.json and report.html there (atomically). Events (`onEvent`) are the CLI's `--json` lines.
 *
 * @example
 * const { model, report } = await autoprune({ target: 0.9, maxDrop: 0.5 });
 */
export async function autoprune(options: AutopruneOptions, container: Container = createContainer()): Promise<AutopruneResult> {
  validateOptions(options);
  return container.get<PruneService>(TOKENS.Pruner).run(options);
}

function validateOptions(o: AutopruneOptions): void {
  if (typeof o?.target !== 'number' || !(o.target > 0 && o.target < 1)) {
    throw new UsageError(`target must be a number strictly between 0 and 1, got '${String(o?.target)}'`);
  }
  if (o.maxDrop != null && !(o.maxDrop >= 0 && o.maxDrop <= 100)) {
    throw new UsageError(`maxDrop must be in [0, 100] percentage points, got '${o.maxDrop}'`);
  }
  if (o.budgetEpochs != null && !(Number.isInteger(o.budgetEpochs) && o.budgetEpochs >= 1)) {
    throw new UsageError(`budgetEpochs must be a whole number ≥ 1, got '${o.budgetEpochs}'`);
  }
}
