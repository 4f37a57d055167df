/**
 * Every command's one line for `loaa --help`, written here only: `defineCommand` gives each command
 * its own, and main.ts lists them without importing the commands (predict, params and serve load
 * libtorch when imported; reading their summaries from them made `loaa --help` about 5x slower).
 * The order is the order of the overview.
 */
export const SUMMARIES = {
  demo: 'train LoAA, a parallel adapter and a linear probe on a small audio set and compare them',
  train: 'fine-tune a backbone on a dataset from a recipe',
  eval: 'evaluate a trained run on a split',
  cv: 'k-fold cross-validation (ESC-50 style) with per-fold and mean results',
  predict: 'classify audio (or features) with a backbone and an adapter checkpoint',
  params: 'count total / trainable / frozen parameters of an AST + fine-tuning method',
  features: 'compute the AST input fbank of an audio file and write it as safetensors',
  stats: 'AST normalisation mean / std of a set of audio files',
  attention: "draw what the model attends to over a spectrogram (the paper's Figure 3), per model",
  grid: 'run an experiment grid (methods x kernels x budgets x folds ...) as a resumable queue',
  report: "tables like the paper's and training curves from runs, as Markdown and HTML",
  export: 'export an adapter with its backbone as an ONNX model (onnxruntime, browser)',
  serve: 'serve adapters over HTTP (batched, bounded, with metrics)',
  pull: 'download a backbone checkpoint (timm weights from the Hugging Face hub) or a dataset (fsdd, esc50)',
  bench: 'measure training, inference, linear probe, front end and memory against PyTorch',
} as const;

export type CommandName = keyof typeof SUMMARIES;

export const COMMAND_NAMES = Object.keys(SUMMARIES) as CommandName[];

export const isCommandName = (name: string): name is CommandName => Object.hasOwn(SUMMARIES, name);
