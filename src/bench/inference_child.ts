/** One inference configuration (argv: stride batch); prints one JSON row. Spawned by inference.ts. */
import { randn, noGrad, scope, manualSeed } from '../tensor/index.js';
import { AudioSpectrogramTransformer } from '../models/ast.js';
import { medianMs } from './timing.js';

const stride = Number(process.argv[2]);
const batch = Number(process.argv[3]);
manualSeed(0);
const model = new AudioSpectrogramTransformer(
  { arch: 'deit_base_distilled_patch16_384', numClasses: 50, melBins: 128, frames: 512, fstride: stride, tstride: stride },
  { seed: 0 },
).eval();
const x = randn([batch, 512, 128], { seed: 1 }).keep();
const once = (): void =>
  noGrad(() =>
    scope(() => {
      model.forward(x);
    }),
  );
const ms = medianMs(once, batch === 1 ? 6 : 3, 1);
console.log(
  JSON.stringify({
    stride,
    batch,
    clipsPerSec: +((batch * 1000) / ms).toFixed(2),
    msPerBatch: +ms.toFixed(1),
    peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
  }),
);
