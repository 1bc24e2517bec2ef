import { z } from 'zod';
import { selectBackend } from '../backend/tf.js';
import { main } from '../meta/cli-train-policy.js';
import { checkOutFile } from '../models/io.js';
import { parseFlags } from './flags.js';

const Flags = z.object({
  meta: z.array(z.string().min(1)).min(1, 'needs at least one meta-dataset file'),
  kind: z.enum(['cart', 'net', 'linear'], { message: "must be 'cart', 'net' or 'linear'" }),
  out: z.string().min(1),
  name: z.string().min(1).optional(),
  validate: z.boolean().optional(),
  balanceFamilies: z.boolean().optional(),
  json: z.boolean().optional(),
});

/** `autoprune train-policy --meta ... --out policies/x.json`. */
export async function trainPolicyCommand(raw: Record<string, unknown>, argv: string[]): Promise<number> {
  const f = parseFlags(Flags, raw);
  checkOutFile(f.out, '--out', f.meta); // before the meta-datasets are read and the policy fitted
  selectBackend();
  await main({ meta: f.meta, kind: f.kind, out: f.out, name: f.name, noValidate: f.validate === false, balanceFamilies: f.balanceFamilies, json: f.json },
    ['autoprune', 'autoprune', ...argv]);
  // The 'written' event's line (or JSON object) names the file: no second "wrote" line.
  return 0;
}
