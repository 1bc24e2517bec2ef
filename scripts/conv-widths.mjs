// Latency of the coverage suite's MobileNet- or ResNet-style model (datasets/coverage/) rebuilt at other conv
// widths (random weights; batch 256; median of 9 alternating predicts): does removing channels make it faster?
// docs/compaction.md, "Fewer MACs is not always less time on small CNNs".
//   npm run build && node scripts/conv-widths.mjs mobilenet      (or resnet)
import { fileURLToPath } from 'node:url';
const root = fileURLToPath(new URL('..', import.meta.url));
const { selectBackendAsync, tf } = await import('../dist/backend/tf.js');
await selectBackendAsync();
const { loadModel } = await import('../dist/models/io.js');
const name = process.argv[2] ?? 'mobilenet';
const m = await loadModel(`${root}datasets/coverage/${name}/model/model.json`);
// MobileNet: the four Conv2D widths in order. ResNet: [stem & res1_conv2 (summed), res1_conv1, res2_proj & res2_conv2 &
// res3_conv2 (summed), res2_conv1, res3_conv1].
const VARIANTS = {
  mobilenet: { dense: [32, 64, 128, 128], odd: [27, 57, 117, 89], x8: [24, 56, 112, 88], half: [16, 32, 64, 64], odd_half: [15, 31, 63, 65] },
  resnet: { dense: [16, 16, 32, 32, 32], odd: [11, 13, 23, 21, 19], x8: [8, 16, 24, 24, 16], half: [8, 8, 16, 16, 16], odd_half: [7, 9, 15, 17, 15] },
};
const widthsOf = {
  mobilenet: (w) => { let k = 0; return () => w[k++]; },
  resnet: ([a, r11, b, r21, r31]) => {
    const by = { stem_conv: a, res1_conv2: a, res1_conv1: r11, res2_proj: b, res2_conv2: b, res3_conv2: b, res2_conv1: r21, res3_conv1: r31 };
    return (layer) => by[layer];
  },
};
const build = (w) => {
  const cfg = m.getConfig();
  const next = widthsOf[name](w);
  for (const e of cfg.layers) if (e.class_name === 'Conv2D') e.config.filters = next(e.config.name);
  const cls = m.getClassName() === 'Sequential' ? tf.Sequential : tf.LayersModel;
  return cls.fromConfig(cls, cfg);
};
const models = Object.fromEntries(Object.entries(VARIANTS[name]).map(([k, w]) => [k, build(w)]));
const x = tf.randomUniform([256, ...m.inputs[0].shape.slice(1)]);
const once = (mm) => { const t0 = process.hrtime.bigint(); const y = mm.predict(x); y.dataSync(); y.dispose(); return Number(process.hrtime.bigint() - t0) / 1e6; };
const med = (v) => v.sort((p, q) => p - q)[v.length >> 1];
const names = Object.keys(models);
for (const n of names) { once(models[n]); once(models[n]); }
const t = Object.fromEntries(names.map((n) => [n, []]));
for (let i = 0; i < 9; i++) for (const n of names) t[n].push(once(models[n]));
console.log(`${name} (ms): ${names.map((n) => `${n} ${med(t[n]).toFixed(1)}`).join(' | ')}`);
