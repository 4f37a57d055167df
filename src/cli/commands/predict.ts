/** `loaa predict`: classify audio files (or ready fbank features) with a backbone + adapter checkpoint. */
import { UsageError, type Command } from '../command.js';
import { tokenizeFlags, type FlagTokens } from '../args.js';
import { readAdapterConfig, type AdapterConfigFile } from '../../peft/checkpoint.js';
import { featuresOfFile, frontendSpec, readFeaturesFile } from '../../infer/features.js';
import { Classifier, type Prediction } from '../../infer/classifier.js';

export type { Prediction } from '../../infer/classifier.js';

const help = `usage: loaa predict <audio...> --backbone <checkpoint> --adapter <adapter dir> [--top-k K] [--json]
       loaa predict --features <file.safetensors> [--features ...] --backbone <checkpoint> --adapter <adapter dir>

Classifies each input with the AST built from the backbone checkpoint (timm / DeiT safetensors or
.pth, Hugging Face ViT / DeiT / AST) and the adapter checkpoint (a directory with adapter_config.json
and adapter_model.safetensors), and prints the top-k labels with their probabilities (softmax).

Audio files (WAV, FLAC, Ogg/Vorbis, MP3) go through the AST front end the adapter was trained with
(its config's "frontend": sample_rate, num_mel_bins, target_length, mean, std). --features files are
the model input as they are (tensor "fbank", [frames, mel] or [batch, frames, mel], already padded and
normalised, as written by \`loaa features --target-length N --mean M --std S\`).

options:
  --backbone FILE     backbone checkpoint (file or Hugging Face model directory)
  --adapter DIR       adapter checkpoint directory
  --features FILE     a features file instead of audio (repeatable)
  --top-k K           labels per input (default 5, at most the class count)
  --json              print {"results": [{"input", "logits", "top": [{"label", "p"}]}]}
`;

const VALUE_FLAGS = new Set(['--backbone', '--adapter', '--features', '--top-k']);
const REPEATABLE = new Set(['--features']);
const BOOL_FLAGS = new Set(['--json', '--help', '-h']);

function parse(argv: string[]): FlagTokens {
  return tokenizeFlags(argv, { command: 'predict', value: VALUE_FLAGS, bool: BOOL_FLAGS, repeatable: REPEATABLE });
}

export const command: Command = {
  name: 'predict',
  summary: 'classify audio (or features) with a backbone and an adapter checkpoint',
  help,
  async run(argv: string[]): Promise<number> {
    const p = parse(argv);
    if (p.flags.has('--help') || p.flags.has('-h')) {
      process.stdout.write(help);
      return 0;
    }
    const one = (f: string): string | undefined => {
      const v = p.flags.get(f);
      return Array.isArray(v) ? v[0] : undefined;
    };
    const backbone = one('--backbone');
    const adapter = one('--adapter');
    if (!backbone) throw new UsageError('--backbone: missing (the image or AST checkpoint the adapter was trained on)');
    if (!adapter) throw new UsageError('--adapter: missing (an adapter checkpoint directory)');
    const features = (p.flags.get('--features') as string[] | undefined) ?? [];
    if (features.length === 0 && p.positional.length === 0) throw new UsageError('<audio>: no input (give audio files or --features FILE)');
    const kS = one('--top-k');
    let k = 5;
    if (kS !== undefined) {
      k = Number(kS);
      if (!/^\s*\d+\s*$/.test(kS) || !Number.isSafeInteger(k) || k < 1) throw new UsageError(`--top-k: expected a positive integer, got ${JSON.stringify(kS)}`);
    }
    let cfg: AdapterConfigFile;
    try {
      cfg = readAdapterConfig(adapter);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    k = Math.min(k, cfg.num_classes);
    // inputs first: a bad input file should not cost a backbone load
    const inputs: { name: string; fbank: Float32Array }[] = [];
    const usage = <T>(f: () => T): T => {
      try {
        return f();
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
    };
    for (const f of features) inputs.push(...usage(() => readFeaturesFile(f, [cfg.input.tdim, cfg.input.fdim])));
    if (p.positional.length && !cfg.frontend) throw new UsageError(`${adapter}/adapter_config.json: frontend: missing, so audio cannot be turned into features (pass --features)`);
    for (const f of p.positional) {
      const fe = frontendSpec(cfg.frontend!);
      const x = await featuresOfFile(f, fe).catch((e: Error) => {
        throw new UsageError(e.message);
      });
      inputs.push({ name: f, fbank: x.data });
    }
    const clf = usage(() => Classifier.load(adapter, backbone));
    try {
      const results: Prediction[] = inputs.map((x) => clf.classify(x.fbank, k, x.name));
      if (p.flags.has('--json')) {
        process.stdout.write(JSON.stringify({ results }) + '\n');
      } else {
        for (const r of results) {
          process.stdout.write(`${r.input}\n`);
          r.top.forEach((t, i) => process.stdout.write(`  ${String(i + 1).padStart(2)}. ${t.label}  ${t.p.toFixed(4)}\n`));
        }
      }
    } finally {
      clf.dispose();
    }
    return 0;
  },
};
