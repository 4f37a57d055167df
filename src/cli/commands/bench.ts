/**
 * `loaa bench`: the project's speed numbers, each next to PyTorch doing the same work in the same
 * run when Debian's python3-torch is installed. Sections are independent modules in src/bench/ and
 * src/audio/bench.ts; `--only` picks some.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from '../command.js';
import { UsageError } from '../command.js';

/** Runs one of tools/bench/*.py with Debian's python3-torch; null when that is not installed. */
function runPython(script: string): Record<string, unknown> | null {
  const python = '/usr/bin/python3';
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  if (!existsSync(python) || spawnSync(python, ['-c', 'import torchaudio'], { stdio: 'ignore' }).status !== 0) return null;
  const r = spawnSync(python, [join(root, script)], { encoding: 'utf8', timeout: 300_000 });
  if (r.status !== 0) return { error: (r.stderr || '').trim().split('\n').pop() };
  return JSON.parse(r.stdout.trim().split('\n').pop() as string) as Record<string, unknown>;
}

const SECTIONS: Record<string, { what: string; run: () => Promise<Record<string, unknown>> }> = {
  engine: {
    what: 'matmul GFLOP/s and a ViT-B block forward+backward (batch 8, frozen weights)',
    run: async () => (await import('../../bench/engine.js')).benchEngine(),
  },
  frontend: {
    what: 'resampling + Kaldi fbank per clip (5 s at 44.1 kHz, 1 s at 16 kHz), one thread',
    run: async () => {
      const ours = await (await import('../../audio/bench.js')).benchFrontEnd();
      const torchaudio = runPython('tools/bench/frontend_torchaudio.py');
      if (!torchaudio) return ours;
      const ratio = Object.fromEntries(
        Object.keys(ours).filter((k) => typeof torchaudio[k] === 'number').map((k) => [k, +(Number(ours[k]) / Number(torchaudio[k])).toFixed(3)]),
      );
      return { loaa: ours, torchaudio, ratio_ms_loaa_over_torchaudio: ratio };
    },
  },
  inference: {
    what: 'AST deit_base_distilled_patch16_384 inference, 512 frames, stride 16 and 10, batch 1 and 8',
    run: async () => (await import('../../bench/inference.js')).benchInference(),
  },
  speed: { what: 'frozen-backbone levers (#12): token-layout LoAA step vs Conv2d, cached linear probe vs plain loop', run: async () => (await import('../../bench/speed_rows.js')).benchSpeed() },
  training: {
    what: 'end-to-end LoAA training throughput (ESC-50 geometry, batch 8, data loading included)',
    run: async () => (await import('../../bench/train.js')).benchTraining(),
  },
};

const help = `usage: loaa bench [--only engine,frontend,inference,training] [--json]

Measures on this machine and prints one JSON object (also with --json). Sections:
${Object.entries(SECTIONS).map(([k, v]) => `  ${k.padEnd(10)} ${v.what}`).join('\n')}

Each section also runs the same work through Python PyTorch (/usr/bin/python3 with Debian's
python3-torch) when that is installed, and reports the ratio. Timings are medians after warm-up.`;

export const command: Command = {
  name: 'bench',
  summary: 'measure engine, front end, inference and training speed',
  help,
  async run(argv) {
    let only = Object.keys(SECTIONS);
    for (let i = 0; i < argv.length; i++) {
      if (argv[i] === '--only') {
        const v = argv[++i];
        if (!v) throw new UsageError('--only needs a comma-separated list of sections');
        only = v.split(',');
        const bad = only.filter((s) => !(s in SECTIONS));
        if (bad.length) throw new UsageError(`--only: unknown section(s) ${bad.join(', ')} (known: ${Object.keys(SECTIONS).join(', ')})`);
      } else if (argv[i] !== '--json') {
        throw new UsageError(`unknown argument "${argv[i]}"`);
      }
    }
    const { engineInfo } = await import('../../tensor/functional.js');
    const os = await import('node:os');
    const info = engineInfo();
    const result: Record<string, unknown> = {
      machine: { cpu: os.cpus()[0]?.model, cores: os.availableParallelism(), memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
      engine: { torch: info.torchVersion, threads: info.threads, openblasCoretype: info.openblasCoretype, cuda: info.cuda },
    };
    for (const name of only) {
      process.stderr.write(`[bench] ${name}: ${SECTIONS[name].what}\n`);
      try {
        result[name] = await SECTIONS[name].run();
      } catch (e) {
        result[name] = { error: (e as Error).message };
      }
    }
    console.log(JSON.stringify(result, null, 2));
    return 0;
  },
};
