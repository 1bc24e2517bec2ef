import { writeFileAtomicSync } from '../util/atomic-write.js';
import { makeDirs } from '../util/make-dirs.js';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import { familyOracle } from './cli-build-meta.js';
import { evaluateOracle, oracleEvalTable, type OracleEvalRow } from './oracle-eval.js';
import { zoo } from './zoo.js';

export interface OracleEvalCliArgs {
  family: string;
  /** Zoo model ids to evaluate. Default: the family's first model. */
  models?: string[];
  /** Where the JSON rows go. */
  out?: string;
  targets?: number[];
  methods?: OracleEvalRow['method'][];
}

/**
 * Entry point of the oracle-vs-magnitude measurement behind docs/oracle.md. Uses the same oracle
 * settings as build-meta for the family, so a built meta-dataset's cached oracle results are reused.
 */
export async function main(args: OracleEvalCliArgs): Promise<string> {
  const all = zoo(args.family);
  const ids = args.models ?? [all[0].id];
  const models = ids.map((id) => {
    const m = all.find((z) => z.id === id);
    if (!m) throw new UsageError(`no zoo model '${id}' in family '${args.family}'; known: ${all.map((z) => z.id).join(', ')}`);
    return m;
  });
  const rows = await evaluateOracle(models, {
    oracle: familyOracle(args.family), targets: args.targets, methods: args.methods,
    onProgress: (l) => process.stderr.write(l + '\n'),
  });
  const table = oracleEvalTable(rows);
  if (args.out) {
    makeDirs(dirname(args.out));
    writeFileAtomicSync(args.out, JSON.stringify({ rows, table }, null, 2) + '\n');
  }
  process.stdout.write(table + '\n');
  return table;
}
