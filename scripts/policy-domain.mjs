// Writes `provenance.domain` (src/policy/domain.ts: the kinds of kernel, fan-ins and units of the layers a policy saw) into
// policy files trained before train-policy recorded it, from the rows of the models their provenance names.
//   npm run build && node scripts/policy-domain.mjs policies/default.json [more policy files]
import { loadMetaRows } from '../dist/meta/train-policy.js';
import { domainOfRows, kindsOfModels } from '../dist/policy/domain.js';
import { loadPolicy, savePolicy } from '../dist/policy/io.js';

for (const file of process.argv.slice(2)) {
  const policy = loadPolicy(file);
  const { families, models } = policy.provenance;
  const rows = loadMetaRows(families.map((f) => `datasets/meta-${f}.json`));
  const wanted = new Set(models);
  const known = rows.models.map((m) => m.key);
  const missing = models.filter((m) => !known.includes(m));
  if (missing.length) throw new Error(`${file}: the meta-datasets hold no rows of ${missing.join(', ')}`);
  const keep = [];
  for (let r = 0; r < rows.model.length; r++) if (wanted.has(known[rows.model[r]])) keep.push(r);
  const columns = rows.columns.map((c) => Float32Array.from(keep, (r) => c[r]));
  policy.provenance.domain = domainOfRows(rows.schema, columns, kindsOfModels(rows.models.filter((m) => wanted.has(m.key))));
  savePolicy(policy, file);
  console.log(file, JSON.stringify(policy.provenance.domain));
}
