/** `loaa predict`: classify audio files (or ready fbank features) with a backbone + adapter checkpoint. */
import { UsageError, type Command } from '../command.js';
import { defineCommand } from '../define.js';
import { readAdapterConfig, type AdapterConfigFile } from '../../peft/checkpoint.js';
import { featuresOfFile, frontendSpec, readFeaturesFile } from '../../infer/features.js';
import { Classifier, type Prediction } from '../../infer/classifier.js';
import { batchHelp, isBatchPredict, jsonResult, runPredictBatch } from './predict_batch.js';
import { adapterDirOf } from '../adapter_args.js';
import { isTimelinePredict, runPredictTimeline, timelineHelp } from './predict_timeline.js';
import { ENGINE_FLAG, engineUsage } from '../engine_flags.js';
import { ADAPTER_FLAG, BACKBONE_FLAG } from '../adapter_flags.js';
import { parseInferEngine } from '../../infer/engine_choice.js';

export type { Prediction } from '../../infer/classifier.js';

const DESCRIPTION = `Classifies each input with the AST built from the backbone checkpoint (--backbone, timm / DeiT
safetensors or .pth, Hugging Face ViT / DeiT / AST; default: the one the adapter records) and the adapter checkpoint (a directory with adapter_config.json
and adapter_model.safetensors), and prints the top-k labels with their probabilities (softmax).

Audio files (WAV, FLAC, Ogg/Vorbis, MP3) go through the front end the adapter was trained with
(its config's "frontend": type, sample_rate, num_mel_bins, target_length, mean, std). --features files
are the model input as they are (tensor "fbank", [frames, mel] or [batch, frames, mel], already padded
and normalised, as written by \`loaa features --target-length N --mean M --std S\`).`;

const FLAGS = {
  ...BACKBONE_FLAG,
  ...ADAPTER_FLAG,
  features: { type: 'list', value: 'FILE', help: 'a features file instead of audio' },
  'top-k': { type: 'int', positive: true, default: 5, value: 'K', help: 'labels per input (at most the class count)' },
  ...ENGINE_FLAG,
} as const;

const single = defineCommand({
  name: 'predict',
  usage: [
    '<audio...> --adapter <adapter or run dir> [--backbone <checkpoint>] [--top-k K] [--json]',
    '--features <file.safetensors> [--features ...] --adapter <adapter or run dir> [--backbone <checkpoint>]',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  examples: [
    'loaa predict clip.wav --adapter runs/esc50 --top-k 3',
    'loaa predict clip.wav --backbone deit.safetensors --adapter runs/esc50/best --top-k 3',
  ],
  async run({ flags, positionals, json }) {
    const { backbone, features } = flags;
    if (!flags.adapter) throw new UsageError('--adapter: missing (an adapter checkpoint directory, or a run directory)');
    const adapter = adapterDirOf(flags.adapter);
    // without --backbone the batch form runs (command.run below), on the recorded backbone
    if (!backbone) throw new UsageError('--backbone: missing (the image or AST checkpoint the adapter was trained on)');
    if (features.length === 0 && positionals.length === 0) throw new UsageError('<audio>: no input (give audio files or --features FILE)');
    let k = flags['top-k'];
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
    for (const f of features) inputs.push(...usage(() => readFeaturesFile(f, [cfg.input.frames, cfg.input.melBins])));
    if (positionals.length && !cfg.frontend)
      throw new UsageError(`${adapter}/adapter_config.json: frontend: missing, so audio cannot be turned into features (pass --features)`);
    for (const f of positionals) {
      const fe = frontendSpec(cfg.frontend!);
      const x = await featuresOfFile(f, fe).catch((e: Error) => {
        throw new UsageError(e.message);
      });
      inputs.push({ name: f, fbank: x.data });
    }
    const clf = usage(() => Classifier.load(adapter, backbone));
    try {
      await engineUsage(() => clf.useEngine(parseInferEngine(flags.engine)));
      const results: Prediction[] = [];
      for (const r of await clf.classifyManyAsync(
        inputs.map((x) => x.fbank),
        k,
        { names: inputs.map((x) => x.name), batchSize: 1 },
      )) {
        if (r instanceof Error) throw r;
        results.push(r);
      }
      if (json) {
        process.stdout.write(`${JSON.stringify({ results: results.map(jsonResult) })}\n`);
      } else {
        for (const r of results) {
          process.stdout.write(`${r.input}\n`);
          r.top.forEach((t, i) => {
            process.stdout.write(`  ${String(i + 1).padStart(2)}. ${t.label}  ${t.score.toFixed(4)}\n`);
          });
        }
      }
    } finally {
      clf.dispose();
    }
    return 0;
  },
});

// --timeline: segments over one long recording; many inputs, folders, globs, stdin,
// --jsonl/--csv, or no --backbone: the streaming form
const asked = (argv: string[]): boolean => !argv.includes('--help') && !argv.includes('-h');
export const command: Command = {
  ...single,
  help: single.help + batchHelp + timelineHelp,
  run: (argv) =>
    asked(argv) && isTimelinePredict(argv)
      ? runPredictTimeline(argv)
      : asked(argv) && isBatchPredict(argv)
        ? runPredictBatch(argv)
        : single.run(argv),
};
