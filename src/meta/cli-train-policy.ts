import type { PolicyKind } from '../policy/policy.js';
import { UsageError } from '../errors.js';
import { trainPolicy, type TrainPolicyEvent } from './train-policy.js';

export interface TrainPolicyCliArgs {
  meta: string[];
  kind?: string;
  out: string;
  name?: string;
  /** Skip leave-one-out validation (faster; the policy file then has only training metrics). */
  noValidate?: boolean;
  /** Equal total training weight per family. */
  balanceFamilies?: boolean;
  json?: boolean;
}

function line(e: TrainPolicyEvent): string {
  const p = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : 'n/a');
  switch (e.type) {
    case 'loaded': return `loaded ${e.rows} rows from ${e.models} model${e.models === 1 ? '' : 's'} (${e.families.join(', ')})`;
    case 'fold': return `held out ${e.split} ${e.heldOut}: AUC ${p(e.auc)} (magnitude ${p(e.magnitudeAuc)}), top-k precision ${p(e.precisionAtK)} (magnitude ${p(e.magnitudePrecisionAtK)}; k = the held-out rows the oracle labels prunable)`;
    case 'fitted': return `fitted the final policy in ${e.seconds.toFixed(1)} s` + (e.weights
      ? `; its largest weights (logit per standard deviation; + = prune first): ${e.weights.slice(0, 8).map((w) => `${w.feature} ${w.coef >= 0 ? '+' : ''}${w.coef.toFixed(2)}`).join(', ')}`
      : '');
    case 'written': return `wrote ${e.path}`;
    case 'note': return `note: ${e.message}`;
  }
}

/** Entry point for `autoprune train-policy` (the CLI wires flags to these args). Returns the policy path. */
export async function main(args: TrainPolicyCliArgs, argv: string[] = process.argv): Promise<string> {
  const kind = (args.kind ?? 'cart') as PolicyKind;
  if (kind !== 'cart' && kind !== 'net' && kind !== 'linear') throw new UsageError(`--kind must be cart, net or linear, got '${args.kind}'`);
  const command = process.env.AUTOPRUNE_COMMAND ?? argv.slice(1).join(' ');
  const r = trainPolicy({
    meta: args.meta, kind, out: args.out, name: args.name, command, validate: !args.noValidate, balanceFamilies: args.balanceFamilies,
    onProgress: (e) => process.stderr.write((args.json ? JSON.stringify(e) : line(e)) + '\n'),
  });
  return r.path;
}
