// Latency of the coverage suite's MobileNet-style model (datasets/coverage/mobilenet) rebuilt at other conv widths
// (random weights; batch 256; median of 9 alternating predicts): does removing channels make it faster?
//   npm run build && node scripts/mobilenet-widths.mjs
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadModel } = await import('../dist/models/io.js');
const m = await loadModel(`${root}datasets/coverage/mobilenet/model/model.json`);
const cfgOf = (widths) => {
  const cfg = m.getConfig();
  let k = 0;
  for (const e of cfg.layers) if (e.class_name === 'Conv2D') e.config.filters = widths[k++];
  return tf.Sequential.fromConfig(tf.Sequential, cfg);
};
const variants = { dense: [32, 64, 128, 128], odd: [27, 57, 117, 89], x8: [24, 56, 112, 88], x16: [32, 48, 112, 96], half: [16, 32, 64, 64], odd_half: [15, 31, 63, 65] };
const models = Object.fromEntries(Object.entries(variants).map(([k, w]) => [k, cfgOf(w)]));
const shape = m.inputs[0].shape.slice(1);
const x = tf.randomUniform([256, ...shape]);
const once = (mm) => { const t0 = process.hrtime.bigint(); const y = mm.predict(x); y.dataSync(); y.dispose(); return Number(process.hrtime.bigint() - t0) / 1e6; };
const med = (v) => v.sort((p, q) => p - q)[v.length >> 1];
const names = Object.keys(models);
for (const n of names) { once(models[n]); once(models[n]); }
const t = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < 9; i++) for (const n of names) t[n].push(once(models[n]));
console.log(names.map((n) => `${n} ${med(t[n]).toFixed(1)}`).join(' | '));
