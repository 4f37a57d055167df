/** `loaa export`: an adapter with its backbone as an ONNX model (src/export), optionally checked and packed into a web page. */
import { existsSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { UsageError } from '../command.js';
import { defineCommand } from '../define.js';
import { FORCE_FLAG } from '../adapter_flags.js';

const DESCRIPTION = `Writes the AST with the adapter (any kernel, attn/ffn, parallel or sequential; LoRA merged; prompts;
the head) as one ONNX model (opset 17): input "fbank" [batch, frames, mel] float32, already
normalised as \`loaa predict --features\` takes it; output "logits" [batch, classes]. The labels and
the front-end settings go into the model's metadata_props ("labels", "frontend", JSON). Weights over
1.8 GB go to <out>.data beside the model (ONNX external data). See docs/deploy.md.`;

const FLAGS = {
  backbone: {
    type: 'string',
    value: 'FILE',
    help: 'the backbone checkpoint the adapter was trained on (default: the one its\nadapter_config.json records, checked by sha256; a random one is rebuilt from its seed)',
  },
  ...FORCE_FLAG,
  format: { type: 'string', value: 'FORMAT', default: 'onnx', choices: ['onnx'], help: 'the model format' },
  out: { type: 'string', value: 'FILE', help: 'the .onnx file to write' },
  frames: { type: 'int', min: 16, max: 1_000_000, help: "input frames (default: the adapter's target length)" },
  batch: { type: 'string', value: 'B', default: 'dynamic', help: '"dynamic" or a fixed batch size' },
  precision: {
    type: 'string',
    value: 'P',
    default: 'fp32',
    choices: ['fp32', 'fp16'],
    help: 'fp16: float16 weights, half the size, computed in float32',
  },
  verify: {
    type: 'boolean',
    help: "run the file in onnxruntime-node on random inputs and compare with loaa's logits\n(within 1e-4 x (1 + max|logit|) for fp32, 1e-2 x (...) for fp16); exit 1 if not",
  },
  web: {
    type: 'string',
    value: 'DIR',
    help: "also write a static page (index.html, app.js, onnxruntime-web's wasm, model.onnx)\nthat classifies a chosen or dropped audio file; serve DIR with any static server",
  },
} as const;

export const command = defineCommand({
  name: 'export',
  usage: [
    '<adapter dir> [--backbone <checkpoint> [--force]] --format onnx --out <model.onnx>',
    '[--frames N] [--batch dynamic|N] [--precision fp32|fp16] [--verify] [--web DIR] [--json]',
  ],
  description: DESCRIPTION,
  flags: FLAGS,
  examples: [
    'loaa export runs/fsdd_loaa/best --out fsdd.onnx --verify',
    'loaa export runs/esc50_f1/best --backbone model.safetensors --out esc50.onnx --verify',
    'loaa export runs/esc50_f1/best --backbone model.safetensors --out esc50.onnx --precision fp16 --web site/ && python3 -m http.server -d site',
  ],
  async run({ flags, positionals, json }) {
    if (positionals.length !== 1) throw new UsageError(`<adapter dir>: expected one adapter directory, got ${positionals.length}`);
    const adapter = positionals[0]!;
    if (!flags.out) throw new UsageError('--out: missing (the .onnx file to write)');
    let batch: number | 'dynamic' = 'dynamic';
    if (flags.batch !== 'dynamic') {
      batch = Number(flags.batch);
      if (!/^\d+$/.test(flags.batch) || batch < 1)
        throw new UsageError(`--batch: expected "dynamic" or a positive integer, got "${flags.batch}"`);
    }
    const precision = flags.precision as 'fp32' | 'fp16';
    const { exportModel, loadForExport } = await import('../../export/export.js');
    const { readBackbone, resolveBackbone } = await import('../../infer/provenance.js');
    let loaded: ReturnType<typeof loadForExport>;
    try {
      const { readAdapterConfig } = await import('../../peft/checkpoint.js');
      const original = readAdapterConfig(adapter);
      const recorded = readBackbone(adapter);
      if (!flags.backbone && !recorded) {
        throw new Error(
          `--backbone: missing: ${adapter}/adapter_config.json records no backbone (an adapter saved before provenance); pass the checkpoint it was trained on`,
        );
      }
      if (!flags.backbone && recorded?.source === 'random' && flags.frames !== undefined && flags.frames !== original.input.frames) {
        throw new Error(
          `--frames: the adapter's random backbone (seed ${recorded.seed}) is rebuilt for its ${original.input.frames} frames only`,
        );
      }
      // the recorded backbone (or --backbone, checked against the record), built for the export's frames
      loaded = loadForExport(
        adapter,
        (cfg) => resolveBackbone(adapter, cfg, { backbone: flags.backbone, force: flags.force }).model,
        flags.frames,
      );
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { model, config } = loaded;
    const web = flags.web ? await import('../../export/web.js') : undefined;
    const webDir = flags.web ? resolve(flags.web) : undefined;
    const webDirExisted = webDir !== undefined && existsSync(webDir);
    let written: string[] = [];
    try {
      // everything --web needs is checked before the model is written
      web?.pageSource();
      const t0 = performance.now();
      const r = exportModel(model, config, { out: resolve(flags.out), batch, precision });
      written = [r.file, ...(r.dataFile ? [r.dataFile] : [])];
      const report: Record<string, unknown> = {
        file: r.file,
        bytes: r.bytes,
        ...(r.dataFile ? { data_file: r.dataFile, data_bytes: r.dataBytes } : {}),
        input: { name: 'fbank', shape: r.inputShape },
        output: { name: 'logits', shape: [r.inputShape[0], config.num_classes] },
        precision,
        nodes: r.nodes,
        export_ms: Math.round(performance.now() - t0),
      };
      const { verifyOnnx } = flags.verify ? await import('../../export/verify.js') : { verifyOnnx: undefined };
      const v = verifyOnnx ? await verifyOnnx(r.file, model, { precision, batch: batch === 'dynamic' ? 2 : batch, inputs: 4 }) : undefined;
      if (v) report.verify = v;
      if (web && webDir) report.web = await web.writeWebApp(webDir, r.file);
      if (json) {
        process.stdout.write(`${JSON.stringify(report)}\n`);
      } else {
        const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
        process.stdout.write(
          `${r.file}: ${mb(r.bytes)}${r.dataFile ? ` + ${r.dataFile} ${mb(r.dataBytes)}` : ''}, ${precision}, input fbank [${r.inputShape.join(', ')}], logits [${r.inputShape[0]}, ${config.num_classes}]\n`,
        );
        if (v) {
          process.stdout.write(
            `verify: ${v.ok ? 'ok' : 'FAILED'}: max |onnxruntime - loaa| ${v.maxDiff.toExponential(2)} (bound ${v.bound.toExponential(2)}) on ${v.inputs} random inputs, top-1 ${v.top1Agrees ? 'agrees' : 'differs'}; ` +
              `time per input: onnxruntime-node ${v.ortMsPerInput.toFixed(1)} ms, loaa ${v.loaaMsPerInput.toFixed(1)} ms (${v.threads ?? 'default'} thread${v.threads === 1 ? '' : 's'} each)\n`,
          );
        }
        if (flags.web)
          process.stdout.write(
            `web page: ${resolve(flags.web)}/index.html (serve the directory: python3 -m http.server -d ${flags.web})\n`,
          );
      }
      if (v && !v.ok) {
        process.stderr.write(
          `loaa export: ${r.file}: onnxruntime-node's logits differ from loaa's beyond the tolerance; the file is kept for inspection\n`,
        );
        return 1;
      }
      written = [];
      return 0;
    } catch (e) {
      // a failed export leaves nothing behind: no model a later step could mistake for a good one
      for (const f of written) rmSync(f, { force: true });
      if (webDir && !webDirExisted) rmSync(webDir, { recursive: true, force: true });
      throw e;
    } finally {
      model.dispose();
    }
  },
});
