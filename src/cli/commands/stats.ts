/** `loaa stats`: AST normalisation statistics (mean, std) of a set of audio files. */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { UsageError, type Command } from '../command.js';
import { readAudio } from '../../audio/decode.js';
import { astFeatures, clipStats } from '../../audio/frontend.js';

const AUDIO_EXTENSIONS = new Set(['.wav', '.wave', '.flac', '.ogg', '.oga', '.mp3']);

const help = `usage: loaa stats <audio files or folders...> [--sample-rate 16000] [--num-mel-bins 128]
                  [--target-length N] [--json]

Prints the normalisation statistics of the AST front end over the given files (folders are searched
recursively for .wav .flac .ogg .oga .mp3), computed as AST's get_norm_stats does: the mean of the
per-clip fbank means and the mean of the per-clip standard deviations (unbiased), on unnormalised
fbanks (padded / cropped to --target-length first when given, as AST's dataloader does).
Use them as loaa features --mean M --std S.

options:
  --sample-rate HZ      resample to this rate first (default 16000)
  --num-mel-bins N      mel bins (default 128)
  --target-length N     pad / crop every clip to N frames before measuring
  --json                print {"mean", "std", "clips"} as one JSON object
`;

function listAudio(path: string, out: string[]): void {
  let st;
  try {
    st = statSync(path);
  } catch {
    throw new UsageError(`${path}: no such file or folder`);
  }
  if (!st.isDirectory()) {
    out.push(path);
    return;
  }
  for (const name of readdirSync(path).sort()) {
    const full = join(path, name);
    const s = statSync(full);
    if (s.isDirectory()) listAudio(full, out);
    else if (AUDIO_EXTENSIONS.has(extname(name).toLowerCase())) out.push(full);
  }
}

function intArg(name: string, v: string | undefined, min: number, max: number): number {
  const n = Number(v);
  if (v === undefined || !/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v ?? '')}`);
  }
  return n;
}

export const command: Command = {
  name: 'stats',
  summary: 'AST normalisation mean / std of a set of audio files',
  help,
  async run(argv: string[]): Promise<number> {
    const paths: string[] = [];
    let json = false;
    let sampleRate = 16000;
    let numMelBins = 128;
    let targetLength: number | undefined;
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i];
      const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
      const value = (): string | undefined => inline ?? argv[++i];
      if (flag === '--help' || flag === '-h') {
        process.stdout.write(help);
        return 0;
      } else if (flag === '--json') json = true;
      else if (flag === '--sample-rate') sampleRate = intArg(flag, value(), 1, 384000);
      else if (flag === '--num-mel-bins') numMelBins = intArg(flag, value(), 4, 4096);
      else if (flag === '--target-length') targetLength = intArg(flag, value(), 1, 1 << 24);
      else if (flag.startsWith('-') && flag !== '-') throw new UsageError(`${flag}: unknown option (see loaa stats --help)`);
      else paths.push(a);
    }
    if (paths.length === 0) throw new UsageError('<audio files or folders>: none given');
    const files: string[] = [];
    for (const p of paths) listAudio(p, files);
    if (files.length === 0) throw new UsageError(`${paths.join(', ')}: no audio files found`);
    let sumMean = 0;
    let sumStd = 0;
    for (const f of files) {
      let s;
      try {
        const spec = astFeatures(await readAudio(f), { sampleRate, numMelBins, targetLength }, f);
        s = clipStats(spec.data);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      sumMean += s.mean;
      sumStd += s.std;
    }
    const result = { mean: sumMean / files.length, std: sumStd / files.length, clips: files.length };
    if (json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(`mean ${result.mean.toPrecision(8)}  std ${result.std.toPrecision(8)}  (${result.clips} clips)\n`);
    return 0;
  },
};
