import { z } from 'zod';
import { selectBackend } from '../backend/tf.js';
import { main } from '../meta/cli-build-meta.js';
import { parseFlags } from './flags.js';

const Flags = z.object({
  family: z.string().min(1),
  out: z.string().min(1).optional(),
  workers: z.coerce.number().int('must be a whole number').min(1, 'must be at least 1').max(64),
  quick: z.boolean().optional(),
  json: z.boolean().optional(),
  fresh: z.boolean().optional(),
  models: z.array(z.string().min(1)).min(1).optional(),
  data: z.string().min(1).optional(),
  label: z.string().min(1).optional(),
});

/** `autoprune build-meta --family F`: meta-dataset of a model family (zoo → oracle → features + labels). */
export async function buildMetaCommand(raw: Record<string, unknown>, argv: string[]): Promise<number> {
  const f = parseFlags(Flags, raw);
  selectBackend();
  const out = await main({
    family: f.family, out: f.out, workers: f.workers, json: f.json, fresh: f.fresh,
    models: f.models, data: f.data, label: f.label,
    ...(f.quick ? { limitPerDigit: 60, maxRowsPerLayerPerStage: 300 } : {}),
  }, ['autoprune', 'autoprune', ...argv]);
  process.stderr.write(`build-meta: wrote ${out}\n`);
  return 0;
}
