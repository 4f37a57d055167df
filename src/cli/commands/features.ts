/** `loaa features`: one audio file -> AST input fbank `[frames, mel]` as safetensors. */
import { UsageError, type Command } from '../command.js';
import { tokenizeFlags } from '../args.js';
import { readAudio } from '../../audio/decode.js';
import { astFeatures } from '../../audio/frontend.js';
import { rawFromFloat32, writeSafetensors } from '../../io/safetensors.js';

const help = `usage: loaa features <audio> --out <file.safetensors> [--sample-rate 16000] [--num-mel-bins 128]
                     [--target-length N] [--mean M --std S] [--json]

Computes the AST front end of one audio file (WAV, FLAC, Ogg/Vorbis or MP3) and writes tensor
"fbank" [frames, mel] float32:
  average the channels, resample to --sample-rate (torchaudio's default windowed sinc), subtract the
  waveform mean, Kaldi fbank (htk_compat, hanning window, 25 ms frames, 10 ms shift, no energy,
  no dither, --num-mel-bins bins); then, only with --target-length, pad with zero frames at the end
  or keep the first N frames; then, only with --mean and --std, normalise (x - M) / (2 S).

options:
  --out FILE            output .safetensors file (required)
  --sample-rate HZ      resample to this rate first (default 16000)
  --num-mel-bins N      mel bins (default 128)
  --target-length N     pad / crop to N frames (AST: 512 for ESC-50, 128 for Speech Commands)
  --mean M --std S      normalisation statistics (ESC-50: -6.6268077 / 5.358466)
  --json                print {"input", "out", "shape", ...} as one JSON object
`;

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

const VALUE_FLAGS = new Set(['--out', '--sample-rate', '--num-mel-bins', '--target-length', '--mean', '--std']);
const BOOL_FLAGS = new Set(['--json', '--help', '-h']);

function parse(argv: string[]): Parsed {
  // no repeatable flags here: each value flag holds at most one value
  const { positional, flags } = tokenizeFlags(argv, { command: 'features', value: VALUE_FLAGS, bool: BOOL_FLAGS });
  return { positional, flags: new Map([...flags].map(([k, v]) => [k, v === true ? true : v[0]])) };
}

function intFlag(p: Parsed, name: string, min: number, max: number): number | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== 'string' || !/^\s*\d+\s*$/.test(v) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${name}: expected an integer in [${min}, ${max}], got ${JSON.stringify(v)}`);
  }
  return n;
}

function numFlag(p: Parsed, name: string): number | undefined {
  const v = p.flags.get(name);
  if (v === undefined) return undefined;
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(`${name}: expected a number, got ${JSON.stringify(v)}`);
  return n;
}

export const command: Command = {
  name: 'features',
  summary: 'compute the AST input fbank of an audio file and write it as safetensors',
  help,
  async run(argv: string[]): Promise<number> {
    const p = parse(argv);
    if (p.flags.has('--help') || p.flags.has('-h')) {
      process.stdout.write(help);
      return 0;
    }
    if (p.positional.length !== 1) {
      throw new UsageError(p.positional.length === 0 ? '<audio>: missing input file' : `<audio>: expected one input file, got ${p.positional.length}`);
    }
    const input = p.positional[0];
    const out = p.flags.get('--out');
    if (typeof out !== 'string' || out === '') throw new UsageError('--out: missing output file');
    const sampleRate = intFlag(p, '--sample-rate', 1, 384000) ?? 16000;
    const numMelBins = intFlag(p, '--num-mel-bins', 4, 4096) ?? 128;
    const targetLength = intFlag(p, '--target-length', 1, 1 << 24);
    const mean = numFlag(p, '--mean');
    const std = numFlag(p, '--std');
    if ((mean === undefined) !== (std === undefined)) throw new UsageError(`${mean === undefined ? '--mean' : '--std'}: required with ${mean === undefined ? '--std' : '--mean'}`);
    if (std !== undefined && !(std > 0)) throw new UsageError(`--std: must be positive, got ${std}`);
    let spec;
    try {
      const audio = await readAudio(input);
      spec = astFeatures(audio, { sampleRate, numMelBins, targetLength, mean, std }, input);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    try {
      writeSafetensors(out, { fbank: rawFromFloat32(spec.data, [spec.frames, spec.bins]) }, {
        frontend: 'ast-kaldi-fbank',
        sample_rate: String(sampleRate),
        num_mel_bins: String(numMelBins),
        ...(targetLength !== undefined ? { target_length: String(targetLength) } : {}),
        ...(mean !== undefined ? { mean: String(mean), std: String(std) } : {}),
      });
    } catch (e) {
      throw new UsageError(`${out}: cannot write: ${(e as Error).message}`);
    }
    const info = {
      input,
      out,
      shape: [spec.frames, spec.bins],
      sample_rate: sampleRate,
      num_mel_bins: numMelBins,
      target_length: targetLength ?? null,
      normalized: mean !== undefined,
    };
    if (p.flags.has('--json')) process.stdout.write(JSON.stringify(info) + '\n');
    else process.stdout.write(`${out}: fbank [${spec.frames}, ${spec.bins}] from ${input}\n`);
    return 0;
  },
};
