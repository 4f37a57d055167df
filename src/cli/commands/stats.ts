/** `loaa stats`: AST normalisation statistics (mean, std) of a set of audio files. */
import { readdirSync, statSync, type Stats } from 'node:fs';
import { extname, join } from 'node:path';
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { readAudio } from '../../audio/decode.js';
import { astFeatures, clipStats, SAMPLE_RATE } from '../../audio/frontend.js';

const AUDIO_EXTENSIONS = new Set(['.wav', '.wave', '.flac', '.ogg', '.oga', '.mp3']);

const DESCRIPTION = `Prints the normalisation statistics of the AST front end over the given files (folders are searched
recursively for .wav .flac .ogg .oga .mp3), computed as AST's get_norm_stats does: the mean of the
per-clip fbank means and the mean of the per-clip standard deviations (unbiased), on unnormalised
fbanks (padded / cropped to --target-length first when given, as AST's dataloader does).
Use them as loaa features --mean M --std S. --json prints {"mean", "std", "clips"}.`;

const FLAGS = {
  'sample-rate': { type: 'int', value: 'HZ', default: SAMPLE_RATE, min: 1, max: 384000, help: 'resample to this rate first' },
  'num-mel-bins': { type: 'int', default: 128, min: 4, max: 4096, help: 'mel bins' },
  'target-length': { type: 'int', min: 1, max: 1 << 24, help: 'pad / crop every clip to N frames before measuring' },
} as const;

function listAudio(path: string, out: string[]): void {
  let st: Stats;
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

export const command = defineCommand({
  name: 'stats',
  usage: `<audio files or folders...> [--sample-rate ${SAMPLE_RATE}] [--num-mel-bins 128] [--target-length N] [--json]`,
  description: DESCRIPTION,
  flags: FLAGS,
  examples: ['loaa stats ../shared/data/fsdd/recordings --target-length 100'],
  async run({ flags, positionals: paths, json }) {
    const opts = { sampleRate: flags['sample-rate'], numMelBins: flags['num-mel-bins'], targetLength: flags['target-length'] };
    if (paths.length === 0) throw new UsageError('<audio files or folders>: none given');
    const files: string[] = [];
    for (const p of paths) listAudio(p, files);
    if (files.length === 0) throw new UsageError(`${paths.join(', ')}: no audio files found`);
    let sumMean = 0;
    let sumStd = 0;
    for (const f of files) {
      let s: ReturnType<typeof clipStats>;
      try {
        const spec = astFeatures(await readAudio(f), opts, f);
        s = clipStats(spec.data);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      sumMean += s.mean;
      sumStd += s.std;
    }
    const result = { mean: sumMean / files.length, std: sumStd / files.length, clips: files.length };
    if (json) process.stdout.write(`${JSON.stringify(result)}\n`);
    else process.stdout.write(`mean ${result.mean.toPrecision(8)}  std ${result.std.toPrecision(8)}  (${result.clips} clips)\n`);
    return 0;
  },
});
