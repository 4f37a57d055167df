/**
 * `loaa predict <file> --timeline`: "what sounds where" in one recording of any length, as
 * segments (docs/timeline.md). predict.ts hands over to it when --timeline is given. The flags are
 * checked against the adapter's front end before the backbone is loaded.
 */
import { UsageError } from '../command.js';
import { optionLines, parseCommandArgs } from '../define.js';
import { DEVICE_FLAGS, engineOptions, engineUsage } from '../engine_flags.js';
import { AudioClassifier } from '../../api/classifier.js';
import { readAdapterConfig } from '../../peft/checkpoint.js';
import { frontendSpec } from '../../infer/features.js';
import { windowAndHop } from '../../infer/file_timeline.js';
import type { Segment } from '../../infer/timeline.js';
import { adapterDirOf } from '../adapter_args.js';
import { ADAPTER_FLAG, BACKBONE_FLAG, FORCE_FLAG } from '../adapter_flags.js';

const FLAGS = {
  timeline: { type: 'boolean', help: 'segments over the whole recording (sliding windows; same labels merged)' },
  window: { type: 'number', value: 'S', help: "seconds per window (default: the model's clip length)" },
  hop: { type: 'number', value: 'S', help: 'seconds between window starts, at most the window (default: window / 2)' },
  ...ADAPTER_FLAG,
  ...BACKBONE_FLAG,
  ...FORCE_FLAG,
  'batch-size': { type: 'int', default: 8, min: 1, help: 'windows per forward pass' },
  ...DEVICE_FLAGS,
} as const;

const SHOWN = ['timeline', 'window', 'hop'] as const;

export const timelineHelp = `
timeline form: loaa predict <file> --timeline --adapter DIR [--window S] [--hop S] [--json]
  Slides windows over a recording of any length (WAV is streamed, never read whole) and prints one
  line per segment ("0.00-2.50 s  label  0.93": start-end, the windows' top label, its mean
  probability); --json prints {"file", "duration", "window", "hop", "segments": [{"start", "end",
  "label", "score"}], "windows"}. Also takes --backbone, --force, --batch-size, --device, --precision.
${optionLines(Object.fromEntries(SHOWN.map((n) => [n, FLAGS[n]]))).join('\n')}
`;

/** Whether this `loaa predict` call is the timeline form. */
export function isTimelinePredict(argv: string[]): boolean {
  return argv.includes('--timeline');
}

/** One line per segment: `0.00-2.50 s  label  0.93`. */
export function segmentLine(s: Segment): string {
  return `${s.start.toFixed(2)}-${s.end.toFixed(2)} s  ${s.label}  ${s.score.toFixed(2)}`;
}

export async function runPredictTimeline(argv: string[]): Promise<number> {
  const { flags: f, positionals } = parseCommandArgs(argv, FLAGS, 'predict');
  if (!f.adapter) throw new UsageError('--adapter: missing (an adapter checkpoint directory, or a run directory)');
  if (positionals.length !== 1) throw new UsageError(`<audio>: --timeline takes one file, got ${positionals.length}`);
  const file = positionals[0]!;
  const adapter = adapterDirOf(f.adapter);
  // the flags against the adapter's front end first: a bad --hop should not cost a backbone load
  let config: ReturnType<typeof readAdapterConfig>;
  try {
    config = readAdapterConfig(adapter);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (!config.frontend) throw new UsageError(`${adapter}/adapter_config.json: frontend: missing, so audio cannot be turned into features`);
  let window: number;
  let hop: number;
  try {
    ({ window, hop } = windowAndHop(frontendSpec(config.frontend), f.window, f.hop));
  } catch (e) {
    throw new UsageError(`--${(e as Error).message}`);
  }
  const clf = await engineUsage(() =>
    AudioClassifier.fromPretrained(adapter, { backbone: f.backbone, force: f.force, ...engineOptions(f) }),
  );
  const tty = Boolean(process.stderr.isTTY);
  try {
    const t = await clf.timeline(file, {
      window,
      hop,
      batchSize: f['batch-size'],
      onProgress: tty ? (done, total) => process.stderr.write(`\r${file}: ${done}${total ? ` / ${total}` : ''} windows`) : undefined,
    });
    if (tty) process.stderr.write('\n');
    if (f.json) {
      process.stdout.write(
        `${JSON.stringify({ file, duration: t.duration, window: t.window, hop: t.hop, windows: t.windows, segments: t.segments })}\n`,
      );
    } else {
      for (const s of t.segments) process.stdout.write(`${segmentLine(s)}\n`);
    }
  } finally {
    clf.dispose();
  }
  return 0;
}
