import { z } from 'zod';
import { selectBackend } from '../backend/tf.js';
import { main } from '../meta/cli-train-policy.js';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkOutFile, checkOutReplaces, jsonFormatOf } from '../models/io.js';
import { metaDataPath } from '../meta/format.js';
import { POLICY_FORMAT } from '../policy/policy.js';
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

/** The rows files a meta-dataset header may keep its rows in: the one it names, and the names build-meta gives. */
function metaRowsFiles(header: string): string[] {
  const named = (() => {
    try {
      const data = (JSON.parse(readFileSync(header, 'utf8')) as { data?: unknown }).data;
      return typeof data === 'string' ? [join(dirname(header), data)] : [];
    } catch {
      return []; // (unreadable: readMeta says what is wrong with it)
    }
  })();
  return [...named, metaDataPath(header, true), metaDataPath(header, false)].filter((p) => existsSync(p));
}

/** `autoprune train-policy --meta ... --out policies/x.json`. */
export async function trainPolicyCommand(raw: Record<string, unknown>, argv: string[]): Promise<number> {
  const f = parseFlags(Flags, raw);
  // Before the meta-datasets are read and the policy fitted: never an input (a header, or the rows file beside it: a new
  // user's --out meta.bin.gz replaced the rows it had just read), never a file autoprune did not write (their model.json).
  checkOutFile(f.out, '--out', [...f.meta, ...f.meta.flatMap(metaRowsFiles)]);
  checkOutReplaces(f.out, '--out', (p) => jsonFormatOf(p) === POLICY_FORMAT, 'a policy file');
  selectBackend();
  await main({ meta: f.meta, kind: f.kind, out: f.out, name: f.name, noValidate: f.validate === false, balanceFamilies: f.balanceFamilies, json: f.json },
    ['autoprune', 'autoprune', ...argv]);
  // The 'written' event's line (or JSON object) names the file: no second "wrote" line.
  return 0;
}
