/** One inference configuration (argv: stride batch); prints one JSON row. Spawned by inference.ts. */
import { randn, noGrad, scope, manualSeed } from '../tensor/index.js';
import { AudioSpectrogramTransformer } from '../models/ast.js';

const stride = Number(process.argv[2]);
const batch = Number(process.argv[3]);
manualSeed(0);
const model = new AudioSpectrogramTransformer(
  { arch: 'deit_base_distilled_patch16_384', numClasses: 50, fdim: 128, tdim: 512, fstride: stride, tstride: stride },
  { seed: 0 },
).eval();
const x = randn([batch, 512, 128], { seed: 1 }).keep();
const once = (): void => noGrad(() => scope(() => { model.forward(x); }));
once();
const reps = batch === 1 ? 6 : 3;
const times: number[] = [];
for (let i = 0; i < reps; i++) {
  const t0 = performance.now();
  once();
  times.push(performance.now() - t0);
}
times.sort((a, b) => a - b);
const ms = times[Math.floor(times.length / 2)];
console.log(JSON.stringify({ stride, batch, clipsPerSec: +((batch * 1000) / ms).toFixed(2), msPerBatch: +ms.toFixed(1), peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024) }));
