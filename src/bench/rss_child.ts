/**
 * Peak RSS of the LoAA training step in a process of its own (argv: batch steps [fp32|bf16]): builds the
 * model, runs the steps, prints {"peakRssMiB": ...}. Spawned by rows.ts; the PyTorch side is
 * tools/bench/rows_torch.py --rss, the same work.
 */
import { readFileSync } from 'node:fs';
import { AudioSpectrogramTransformer } from '../models/ast.js';
import { applyPeft } from '../peft/methods.js';
import { Adam } from '../optim/adam.js';
import type { GroupOptions, Optimizer } from '../optim/optimizer.js';
import { autocast } from '../tensor/autocast.js';
import { crossEntropy, manualSeed, randint, randn } from '../tensor/functional.js';
import { scope } from '../tensor/scope.js';
import { ADAPTERS } from './speed_rows.js';

const batch = Number(process.argv[2] ?? 8);
const steps = Number(process.argv[3] ?? 2);
const bf16 = process.argv[4] === 'bf16';
if (process.argv[4] !== undefined && !bf16 && process.argv[4] !== 'fp32')
  throw new Error(`rss_child: precision: expected fp32 or bf16, not ${process.argv[4]}`);
manualSeed(0);
const model = new AudioSpectrogramTransformer(
  { arch: 'deit_base_distilled_patch16_384', numClasses: 50, melBins: 128, frames: 512, fstride: 16, tstride: 16 },
  { seed: 0 },
);
applyPeft(model, { method: 'loaa', adapters: ADAPTERS }, { seed: 0 });
if (bf16) model.castFrozenWeights('bfloat16');
const opt = new Adam(
  model.trainableParameters().map(([, p]) => p),
  { lr: 1e-4 },
) as unknown as Optimizer<GroupOptions>;
const x = randn([batch, 512, 128], { seed: 3 }).keep();
const y = randint(0, 50, [batch], { seed: 4 }).keep();
for (let i = 0; i < steps; i++) {
  scope(() => {
    opt.zeroGrad();
    (bf16 ? autocast('cpu', 'bfloat16', () => crossEntropy(model.forward(x), y)) : crossEntropy(model.forward(x), y)).backward();
    opt.step();
  });
}
// VmHWM is this process's own peak: getrusage's maxRSS survives exec, so a child spawned by a
// large parent reports the parent's size (both sides of this row read 2,658 MiB that way).
const hwm = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({ peakRssMiB: Math.round((hwm ? Number(hwm[1]) : process.resourceUsage().maxRSS) / 1024) }));
