import type { Container } from 'inversify';
import { createContainer } from './container.js';
import type { AutopruneOptions, AutopruneResult, PruneService } from './prune-service.js';
import { resolveRunOptions } from './options.js';
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
  resolveRunOptions(options);
  return container.get<PruneService>(TOKENS.Pruner).run(options);
}
