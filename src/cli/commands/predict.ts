/** `loaa predict`: classify audio files (or ready fbank features) with a backbone + adapter checkpoint. */
import { UsageError, type Command } from '../command.js';
import { tokenizeFlags, type FlagTokens } from '../args.js';
import { readAudio } from '../../audio/decode.js';
import { astFeatures } from '../../audio/frontend.js';
import { readSafetensors, type RawTensor } from '../../io/safetensors.js';
import { fromRaw, noGrad } from '../../tensor/functional.js';
import { scope } from '../../tensor/scope.js';
import { tensor } from '../../tensor/functional.js';
import { loadAst, type AudioSpectrogramTransformer } from '../../models/ast.js';
import { astConfigFromAdapter, loadAdapter, readAdapterConfig, type AdapterConfigFile } from '../../peft/checkpoint.js';

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

export interface Prediction {
  input: string;
  logits: number[];
  top: { label: string; p: number }[];
}

interface Input {
  name: string;
  /** [T, F] float32 */
  fbank: Float32Array;
}

function featuresInputs(file: string, cfg: AdapterConfigFile): Input[] {
  let tensors: Map<string, RawTensor>;
  try {
    tensors = readSafetensors(file).tensors;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const t = tensors.get('fbank') ?? (tensors.size === 1 ? [...tensors.values()][0] : undefined);
  if (!t) throw new UsageError(`${file}: no tensor "fbank" (it has ${[...tensors.keys()].slice(0, 4).join(', ') || 'none'})`);
  const { tdim, fdim } = cfg.input;
  const s = t.shape;
  const ok = (s.length === 2 && s[0] === tdim && s[1] === fdim) || (s.length === 3 && s[1] === tdim && s[2] === fdim);
  if (!ok) {
    throw new UsageError(`${file}: fbank is [${s.join(', ')}], the adapter's model takes [${tdim}, ${fdim}] (frames x mel bins; write it with loaa features --target-length ${tdim})`);
  }
  let data: Float32Array;
  noGrad(() => {
    const x = fromRaw(t);
    data = x.toFloat32();
    x.dispose();
  });
  const per = tdim * fdim;
  if (s.length === 2) return [{ name: file, fbank: data! }];
  return Array.from({ length: s[0] }, (_, i) => ({ name: `${file}[${i}]`, fbank: data!.subarray(i * per, (i + 1) * per) }));
}

async function audioInput(file: string, cfg: AdapterConfigFile, adapterDir: string): Promise<Input> {
  const fe = cfg.frontend;
  if (!fe) throw new UsageError(`${adapterDir}/adapter_config.json: frontend: missing, so audio cannot be turned into features (pass --features)`);
  let spec;
  try {
    const audio = await readAudio(file);
    spec = astFeatures(audio, { sampleRate: fe.sample_rate, numMelBins: fe.num_mel_bins, targetLength: fe.target_length, mean: fe.mean, std: fe.std }, file);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return { name: file, fbank: spec.data };
}

/** Logits and top-k of one input. */
export function predictOne(model: AudioSpectrogramTransformer, input: Input, labels: string[], k: number): Prediction {
  const { tdim, fdim } = model.cfg;
  const logits = noGrad(() => scope(() => model.eval().forward(tensor(input.fbank, [1, tdim, fdim])).toArray()));
  const m = Math.max(...logits);
  const e = logits.map((v) => Math.exp(v - m));
  const z = e.reduce((a, b) => a + b, 0);
  const order = logits.map((_, i) => i).sort((a, b) => e[b] - e[a] || a - b);
  return { input: input.name, logits, top: order.slice(0, k).map((i) => ({ label: labels[i] ?? String(i), p: e[i] / z })) };
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
    const labels = cfg.labels ?? Array.from({ length: cfg.num_classes }, (_, i) => String(i));
    k = Math.min(k, cfg.num_classes);
    // inputs first: a bad input file should not cost a backbone load
    const inputs: Input[] = [];
    for (const f of features) inputs.push(...featuresInputs(f, cfg));
    for (const f of p.positional) inputs.push(await audioInput(f, cfg, adapter));
    let model: AudioSpectrogramTransformer;
    try {
      model = loadAst(backbone, astConfigFromAdapter(cfg)).model;
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    try {
      try {
        loadAdapter(adapter, model);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      model.eval();
      const results = inputs.map((x) => predictOne(model, x, labels, k));
      if (p.flags.has('--json')) {
        process.stdout.write(JSON.stringify({ results }) + '\n');
      } else {
        for (const r of results) {
          process.stdout.write(`${r.input}\n`);
          r.top.forEach((t, i) => process.stdout.write(`  ${String(i + 1).padStart(2)}. ${t.label}  ${t.p.toFixed(4)}\n`));
        }
      }
    } finally {
      model.dispose();
    }
    return 0;
  },
};
