/**
 * `loaa <command>`: commands are imported only when run, so `loaa --help` and the light commands
 * start without loading libtorch.
 */
import type { Command } from './command.js';
import { UsageError } from './command.js';
import { closest } from './suggest.js';

interface Entry { summary: string }

const COMMANDS: Record<string, Entry> = {
  demo: { summary: 'train LoAA, a parallel adapter and a linear probe on a small audio set and compare them' },
  train: { summary: 'fine-tune a backbone on a dataset from a recipe' },
  eval: { summary: 'evaluate a trained run on a split' },
  cv: { summary: 'k-fold cross-validation (ESC-50 style) with per-fold and mean results' },
  predict: { summary: 'classify audio files (or feature files) with a backbone and an adapter' },
  params: { summary: 'total / trainable / frozen parameter counts of a model configuration' },
  features: { summary: 'compute the AST filterbank of an audio file into a safetensors file' },
  stats: { summary: 'mean and std of a dataset\'s filterbanks, as AST normalises them' },
  attention: { summary: 'draw what the model attends to over a spectrogram (the paper\'s Figure 3), per model' },
  grid: { summary: 'run an experiment grid (methods x kernels x budgets x folds ...) as a resumable queue' },
  report: { summary: 'tables like the paper\'s and training curves from runs, as Markdown and HTML' },
  export: { summary: 'export an adapter with its backbone as an ONNX model (onnxruntime, browser)' },
  serve: { summary: 'serve adapters over HTTP: batched, bounded, with metrics' },
  pull: { summary: 'download an ImageNet ViT/DeiT checkpoint into the cache' },
  bench: { summary: 'measure engine, front end, inference and training speed (vs PyTorch when installed)' },
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'loaa: fine-tune image-pretrained Vision Transformers on audio with Look-Aside Adapters',
    '',
    'usage: loaa <command> [options]      (loaa <command> --help for its options)',
    '',
    'commands:',
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(width)}  ${v.summary}`),
    '',
    'Every command takes --help; most take --json (one JSON object on stdout, nothing else there).',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  let [name, ...rest] = argv;
  // `loaa help <command>` is `loaa <command> --help`
  if (name === 'help' && rest.length) [name, rest] = [rest[0], ['--help']];
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return name === undefined ? 2 : 0;
  }
  if (name === '--version') {
    const { createRequire } = await import('node:module');
    console.log(createRequire(import.meta.url)('../../../package.json').version);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    const near = closest(name, Object.keys(COMMANDS));
    console.error(`loaa: unknown command "${name}"${near ? ` (did you mean "${near}"?)` : ''}\n\n${usage()}`);
    return 2;
  }
  let command: Command;
  try {
    // one file per command: src/cli/commands/<name>.ts exporting `command`
    command = ((await import(`./commands/${name}.js`)) as { command: Command }).command;
  } catch (e) {
    console.error(`loaa ${name}: cannot load the command: ${(e as Error).message}`);
    return 1;
  }
  // before any parsing, so help works even next to a bad flag
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return 0;
  }
  try {
    return await command.run(rest);
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || err?.name === 'UsageError') {
      console.error(`loaa ${name}: ${err.message}`);
      return 2;
    }
    // a user-facing error from a reader or a check: one line, no stack unless asked for
    console.error(`loaa ${name}: ${err?.message ?? String(e)}`);
    if (process.env.LOAA_DEBUG) console.error(err?.stack);
    return 1;
  }
}
