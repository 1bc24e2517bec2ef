// Writes .gpuprobe/x.f32.gz and y.i32 (the speed benchmark's 8,006 MNIST training digits) for scripts/gpu-probe.sh,
// which runs on a GPU machine that has no Node.js: `node scripts/gpu-probe-data.mjs` after `npm run build`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { loadMnist10k } from '../dist/data/mnist.js';

const data = loadMnist10k({ seed: 0 });
mkdirSync('.gpuprobe', { recursive: true });
writeFileSync('.gpuprobe/x.f32.gz', gzipSync(new Uint8Array(data.train.x.dataSync().buffer.slice(0)), { level: 9 }));
writeFileSync('.gpuprobe/y.i32', new Uint8Array(Int32Array.from(data.train.labels).buffer));
data.dispose();
console.log(`${data.train.labels.length} rows in .gpuprobe/`);
