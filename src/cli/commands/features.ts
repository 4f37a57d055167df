/** `loaa features`: one audio file -> AST input fbank `[frames, mel]` as safetensors. */
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { readAudio } from '../../audio/decode.js';
import { astFeatures, SAMPLE_RATE } from '../../audio/frontend.js';
import { rawFromFloat32, writeSafetensors } from '../../io/safetensors.js';

const DESCRIPTION = `Computes the AST front end of one audio file (WAV, FLAC, Ogg/Vorbis or MP3) and writes tensor
"fbank" [frames, mel] float32:
  average the channels, resample to --sample-rate (torchaudio's default windowed sinc), subtract the
  waveform mean, Kaldi fbank (htk_compat, hanning window, 25 ms frames, 10 ms shift, no energy,
  no dither, --num-mel-bins bins); then, only with --target-length, pad with zero frames at the end
  or keep the first N frames; then, only with --mean and --std, normalise (x - M) / (2 S).`;

const FLAGS = {
  out: { type: 'string', value: 'FILE', help: 'output .safetensors file (required)' },
  'sample-rate': { type: 'int', value: 'HZ', min: 1, max: 384000, default: SAMPLE_RATE, help: 'resample to this rate first' },
  'num-mel-bins': { type: 'int', min: 4, max: 4096, default: 128, help: 'mel bins' },
  'target-length': { type: 'int', min: 1, max: 1 << 24, help: 'pad / crop to N frames (AST: 512 for ESC-50, 128 for Speech Commands)' },
  mean: { type: 'number', value: 'M', help: 'normalisation mean (ESC-50: -6.6268077), with --std' },
  std: { type: 'number', value: 'S', help: 'normalisation std (ESC-50: 5.358466), with --mean' },
} as const;

export const command = defineCommand({
  name: 'features',
  usage: [
    `<audio> --out <file.safetensors> [--sample-rate ${SAMPLE_RATE}] [--num-mel-bins 128]`,
    '         [--target-length N] [--mean M --std S] [--json]',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  examples: ['loaa features dog.wav --out dog.safetensors --target-length 512 --mean -6.6268077 --std 5.358466'],
  async run({ flags, positionals, json }) {
    if (positionals.length !== 1) {
      throw new UsageError(
        positionals.length === 0 ? '<audio>: missing input file' : `<audio>: expected one input file, got ${positionals.length}`,
      );
    }
    const input = positionals[0]!;
    const out = flags.out;
    if (!out) throw new UsageError('--out: missing output file');
    const sampleRate = flags['sample-rate'];
    const numMelBins = flags['num-mel-bins'];
    const targetLength = flags['target-length'];
    const { mean, std } = flags;
    if ((mean === undefined) !== (std === undefined))
      throw new UsageError(`${mean === undefined ? '--mean' : '--std'}: required with ${mean === undefined ? '--std' : '--mean'}`);
    if (std !== undefined && !(std > 0)) throw new UsageError(`--std: must be positive, got ${std}`);
    let spec: ReturnType<typeof astFeatures>;
    try {
      const audio = await readAudio(input);
      spec = astFeatures(audio, { sampleRate, numMelBins, targetLength, mean, std }, input);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    try {
      writeSafetensors(
        out,
        { fbank: rawFromFloat32(spec.data, [spec.frames, spec.bins]) },
        {
          frontend: 'ast-kaldi-fbank',
          sample_rate: String(sampleRate),
          num_mel_bins: String(numMelBins),
          ...(targetLength !== undefined ? { target_length: String(targetLength) } : {}),
          ...(mean !== undefined ? { mean: String(mean), std: String(std) } : {}),
        },
      );
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
    if (json) process.stdout.write(`${JSON.stringify(info)}\n`);
    else process.stdout.write(`${out}: fbank [${spec.frames}, ${spec.bins}] from ${input}\n`);
    return 0;
  },
});
