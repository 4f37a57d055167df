/**
 * What a front-end row's milliseconds are made of, for docs/performance.md (run by hand):
 *
 *   node dist/src/bench/frontend_cost.js [--rounds N] [--reps N]
 *
 * The rows of `loaa bench --rows frontend` (src/bench/frontend_clips.ts), the same calls in the same
 * order and warm-up, each call timed three ways: wall clock, this process's CPU time (user + system:
 * what other jobs on a shared machine do not add to), and the minor page faults it took (fresh memory
 * touched; on a VM each costs microseconds). Medians per call, one JSON line per round.
 */
import { frontEndCases } from './frontend_clips.js';
import { median } from './timing.js';
import { parseFlags } from '../util/flags.js';

const FLAGS = {
  rounds: { type: 'int', min: 1, default: 3, help: 'rounds over the rows in one process' },
  reps: { type: 'int', min: 1, default: 20, help: 'timed calls per row (the 1-s row: 5x)' },
} as const;

function cost(call: () => unknown, reps: number, warm = 3): { wall_ms: number; cpu_ms: number; faults: number } {
  for (let i = 0; i < warm; i++) call();
  const wall: number[] = [];
  const cpu: number[] = [];
  const faults: number[] = [];
  for (let i = 0; i < reps; i++) {
    const f0 = process.resourceUsage().minorPageFault;
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    call();
    wall.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    faults.push(process.resourceUsage().minorPageFault - f0);
  }
  const r3 = (v: number): number => Math.round(v * 1000) / 1000;
  return { wall_ms: r3(median(wall)), cpu_ms: r3(median(cpu)), faults: median(faults) };
}

const { flags } = parseFlags(process.argv.slice(2), FLAGS, 'frontend_cost');
const cases = frontEndCases();
for (let r = 0; r < flags.rounds; r++) {
  const row = Object.fromEntries(
    Object.entries(cases).map(([key, c]) => [key.replace(/_ms$/, ''), cost(c.call, flags.reps * c.repsFactor)]),
  );
  process.stdout.write(`${JSON.stringify({ round: r + 1, ...row })}\n`);
}
