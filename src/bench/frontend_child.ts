/**
 * loaa's side of the front-end rows in a process of its own (argv: reps): prints benchFrontEnd's
 * JSON. torchaudio's side is a fresh Python process a round (tools/bench/frontend_torchaudio.py);
 * run inside the bench, loaa's side would time its arrays on a heap that the step and inference rows
 * left gigabytes deep, where fresh pages cost more (the 5-s row: 3.7 ms there, 2.8 ms on its own).
 */
import { benchFrontEnd } from './frontend_clips.js';

const reps = Number(process.argv[2] ?? 20);
if (!Number.isInteger(reps) || reps < 1) throw new Error(`frontend_child: reps: expected a positive integer, not ${process.argv[2]}`);
process.stdout.write(`${JSON.stringify(await benchFrontEnd(reps))}\n`);
