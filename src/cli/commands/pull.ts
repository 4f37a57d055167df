/** `loaa pull <arch>` / `loaa pull fsdd|esc50`: download a backbone's timm weights, or a dataset, into $LOAA_HOME. */
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { ARCHS, ARCH_NAMES } from '../../models/archs.js';
import { resolvePullId } from '../../models/hub.js';
import { DEFAULT_ENDPOINT, pullBackbone, type PullProgress } from '../../models/pull.js';
import { DATASETS, DATASET_NAMES, DATASETS_ENDPOINT_ENV, isDatasetName, pullDataset } from '../../models/datasets.js';

const DESCRIPTION = `(<arch> may also be timm's <arch>.<tag>, or hf-hub:<org>/<repo>[@revision])

Downloads timm's pretrained weights for <arch> to $LOAA_HOME/<arch>/model.safetensors
($LOAA_HOME defaults to ~/.cache/loaa), from
  <endpoint>/<repo>/resolve/main/model.safetensors
A present file is left alone (unless --force). An interrupted download is resumed by running the
command again; a file already in the Hugging Face cache ($HF_HUB_CACHE, $HF_HOME/hub,
~/.cache/huggingface/hub) is used as it is; $HF_TOKEN is sent to the hub (not to its CDN) for gated
repositories. The file is checked against the size and sha256 the hub announces and discarded
when it does not match. Offline? Download the file elsewhere and place it at the path above.

Datasets: \`loaa pull fsdd\` and \`loaa pull esc50\` download the dataset's archive (resumed when
interrupted), unpack it to $LOAA_HOME/datasets/<name> and check it; --endpoint (or
$${DATASETS_ENDPOINT_ENV}) names a mirror serving <endpoint>/<archive file>. \`loaa demo\` uses the pulled FSDD.
${DATASET_NAMES.map((n) => `  ${n.padEnd(34)} ${DATASETS[n].url}\n  ${''.padEnd(34)} ${DATASETS[n].title}, ${DATASETS[n].licence}`).join('\n')}

architectures:
${ARCH_NAMES.map((n) => `  ${n.padEnd(34)} ${ARCHS[n].hub.repo}`).join('\n')}`;

const FLAGS = {
  endpoint: {
    type: 'string',
    value: 'URL',
    help: `hub or mirror base URL (default $HF_ENDPOINT, then ${DEFAULT_ENDPOINT};\nfor datasets $${DATASETS_ENDPOINT_ENV}, then the upstream URL)`,
  },
  force: { type: 'boolean', help: 'download again even if the file is present' },
} as const;

function endpointArg(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (v === '') throw new UsageError('--endpoint: missing URL');
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new UsageError(`--endpoint: ${JSON.stringify(v)} is not a URL`);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UsageError(`--endpoint: ${v} is not an http(s) URL`);
  return v;
}

function archArg(positional: string[]): string {
  if (positional.length !== 1) {
    throw new UsageError(
      positional.length === 0
        ? '<arch>: missing architecture name (see loaa pull --help)'
        : `<arch>: expected one architecture, got ${positional.length}`,
    );
  }
  const arch = positional[0]!;
  if (isDatasetName(arch)) return arch;
  try {
    resolvePullId(arch);
  } catch {
    throw new UsageError(
      `${arch}: unknown architecture (known: ${ARCH_NAMES.join(', ')}; or <arch>.<tag>, or hf-hub:<org>/<repo>; datasets: ${DATASET_NAMES.join(', ')})`,
    );
  }
  return arch;
}

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

/** A bar redrawn in place on a terminal; a line per 10% elsewhere (logs stay readable). */
function progressPrinter(tty: boolean, plain: boolean): { update(p: PullProgress): void; done(): void } {
  const t0 = Date.now();
  let lastDraw = 0;
  let lastDecile = -1;
  let drawn = false;
  return {
    update(p) {
      const now = Date.now();
      if (tty) {
        if (now - lastDraw < 100 && p.received !== p.total) return;
        lastDraw = now;
        const rate = (p.received - p.resumedFrom) / Math.max(0.001, (now - t0) / 1000);
        let line: string;
        if (p.total) {
          const f = Math.min(1, p.received / p.total);
          const w = 30;
          const fill = Math.round(f * w);
          line = `[${'#'.repeat(fill)}${'.'.repeat(w - fill)}] ${(f * 100).toFixed(0).padStart(3)}% ${mb(p.received)}/${mb(p.total)} MB ${mb(rate)} MB/s`;
        } else {
          line = `${mb(p.received)} MB ${mb(rate)} MB/s`;
        }
        process.stderr.write(`\r${line}\x1b[K`);
        drawn = true;
      } else if (plain && p.total) {
        const decile = Math.floor((10 * p.received) / p.total);
        if (decile > lastDecile) {
          lastDecile = decile;
          process.stderr.write(`pull: ${decile * 10}% (${mb(p.received)} of ${mb(p.total)} MB)\n`);
        }
      }
    },
    done() {
      if (drawn) process.stderr.write('\n');
      drawn = false;
    },
  };
}

export const command = defineCommand({
  name: 'pull',
  usage: ['<arch> [--endpoint URL] [--force] [--json]', `${DATASET_NAMES.join('|')} [--endpoint URL] [--force] [--json]`],
  description: DESCRIPTION,
  flags: FLAGS,
  async run({ flags, positionals, json }) {
    const args = { arch: archArg(positionals), endpoint: endpointArg(flags.endpoint), force: flags.force, json };
    const progress = progressPrinter(Boolean(process.stderr.isTTY), !args.json);
    if (isDatasetName(args.arch)) return pullDatasetCommand(args.arch, args, progress);
    try {
      const r = await pullBackbone(args.arch, { endpoint: args.endpoint, force: args.force, onProgress: (p) => progress.update(p) });
      progress.done();
      if (args.json) {
        process.stdout.write(`${JSON.stringify(r)}\n`);
      } else if (r.skipped) {
        process.stdout.write(`${r.path} is already present (use --force to download again)\n`);
      } else {
        const check =
          r.verified === 'sha256'
            ? `sha256 ${r.sha256} verified`
            : r.verified === 'size'
              ? 'size verified (no sha256 announced)'
              : 'not verified (no size or sha256 announced)';
        process.stdout.write(`${r.path}: ${r.bytes} bytes, ${check}\n`);
      }
      return 0;
    } catch (e) {
      progress.done();
      process.stderr.write(`loaa pull: ${(e as Error).message}\n`);
      return 1;
    }
  },
});

async function pullDatasetCommand(
  name: Parameters<typeof pullDataset>[0] & string,
  args: { endpoint?: string; force: boolean; json: boolean },
  progress: ReturnType<typeof progressPrinter>,
): Promise<number> {
  try {
    const r = await pullDataset(name, {
      endpoint: args.endpoint,
      force: args.force,
      onProgress: (p) => progress.update(p),
      log: (line) => {
        progress.done();
        if (!args.json) process.stderr.write(`pull: ${line}\n`);
      },
    });
    progress.done();
    if (args.json) {
      process.stdout.write(`${JSON.stringify(r)}\n`);
    } else if (r.skipped) {
      process.stdout.write(`${r.path} is already present (${r.files} clips; use --force to download again)\n`);
    } else {
      const a = r.archive!;
      const check =
        a.verified === 'sha256'
          ? `archive sha256 ${a.sha256} verified`
          : a.verified === 'size'
            ? `archive size verified (sha256 ${a.sha256}, not pinned upstream)`
            : `archive sha256 ${a.sha256} (no size or hash to check against)`;
      process.stdout.write(
        `${r.path}: ${r.files} clips${r.manifest === 'verified' ? ', every recording matches the pinned release' : ''}; ${check}\n`,
      );
    }
    return 0;
  } catch (e) {
    progress.done();
    process.stderr.write(`loaa pull: ${(e as Error).message}\n`);
    return 1;
  }
}
