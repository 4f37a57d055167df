/** `loaa export`: an adapter with its backbone as an ONNX model (src/export), optionally checked and packed into a web page. */
import { resolve } from 'node:path';
import { UsageError, type Command } from '../command.js';
import { boolFlag, numberFlag, parseFlags, stringFlag } from '../args.js';

const help = `usage: loaa export <adapter dir> --backbone <checkpoint> --format onnx --out <model.onnx>
       [--frames N] [--batch dynamic|N] [--precision fp32|fp16] [--verify] [--web DIR] [--json]

Writes the AST with the adapter (any kernel, attn/ffn, parallel or sequential; LoRA merged; prompts;
the head) as one ONNX model (opset 17): input "fbank" [batch, frames, mel] float32, already
normalised as \`loaa predict --features\` takes it; output "logits" [batch, classes]. The labels and
the front-end settings go into the model's metadata_props ("labels", "frontend", JSON). Weights over
1.8 GB go to <out>.data beside the model (ONNX external data).

options:
  --backbone FILE     the backbone checkpoint the adapter was trained on
  --format onnx       the only format
  --out FILE          the model file to write
  --frames N          input frames (default: the adapter's target length)
  --batch B           "dynamic" (default) or a fixed batch size
  --precision P       fp32 (default) or fp16 (float16 weights, half the size, computed in float32)
  --verify            run the file in onnxruntime-node on random inputs and compare with loaa's logits
                      (within 1e-4 x (1 + max|logit|) for fp32, 1e-2 x (...) for fp16); exit 1 if not
  --web DIR           also write a static page (index.html, app.js, onnxruntime-web's wasm, model.onnx)
                      that classifies a chosen or dropped audio file in the browser; serve DIR with any
                      static server (e.g. python3 -m http.server -d DIR)
  --json              print one JSON object
`;

export const command: Command = {
  name: 'export',
  summary: 'export an adapter with its backbone as an ONNX model (onnxruntime, browser)',
  help,
  async run(argv: string[]): Promise<number> {
    const a = parseFlags(argv, {
      backbone: { type: 'string' }, format: { type: 'string' }, out: { type: 'string' }, frames: { type: 'string' },
      batch: { type: 'string' }, precision: { type: 'string' }, verify: { type: 'boolean' }, web: { type: 'string' },
    }, 'export');
    if (boolFlag(a, 'help')) {
      process.stdout.write(help);
      return 0;
    }
    if (a.positionals.length !== 1) throw new UsageError(`<adapter dir>: expected one adapter directory, got ${a.positionals.length}`);
    const adapter = a.positionals[0];
    const backbone = stringFlag(a, 'backbone');
    if (!backbone) throw new UsageError('--backbone: missing (the image or AST checkpoint the adapter was trained on)');
    const format = stringFlag(a, 'format') ?? 'onnx';
    if (format !== 'onnx') throw new UsageError(`--format: "${format}" is not supported (onnx)`);
    const out = stringFlag(a, 'out');
    if (!out) throw new UsageError('--out: missing (the .onnx file to write)');
    const frames = numberFlag(a, 'frames', { integer: true, min: 16 });
    const batchS = stringFlag(a, 'batch') ?? 'dynamic';
    let batch: number | 'dynamic' = 'dynamic';
    if (batchS !== 'dynamic') {
      batch = Number(batchS);
      if (!/^\d+$/.test(batchS) || batch < 1) throw new UsageError(`--batch: expected "dynamic" or a positive integer, got "${batchS}"`);
    }
    const precision = stringFlag(a, 'precision') ?? 'fp32';
    if (precision !== 'fp32' && precision !== 'fp16') throw new UsageError(`--precision: expected fp32 or fp16, got "${precision}"`);
    const web = stringFlag(a, 'web');
    const json = boolFlag(a, 'json');
    const { exportModel, loadForExport } = await import('../../export/export.js');
    let loaded;
    try {
      loaded = loadForExport(adapter, backbone, frames);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    const { model, config } = loaded;
    try {
      const t0 = performance.now();
      const r = exportModel(model, config, { out: resolve(out), batch, precision });
      const exportMs = performance.now() - t0;
      const report: Record<string, unknown> = {
        file: r.file, bytes: r.bytes, ...(r.dataFile ? { data_file: r.dataFile, data_bytes: r.dataBytes } : {}),
        input: { name: 'fbank', shape: r.inputShape }, output: { name: 'logits', shape: [r.inputShape[0], config.num_classes] },
        precision, nodes: r.nodes, export_ms: Math.round(exportMs),
      };
      let ok = true;
      if (boolFlag(a, 'verify')) {
        const { verifyOnnx } = await import('../../export/verify.js');
        const v = await verifyOnnx(r.file, model, { precision, batch: batch === 'dynamic' ? 2 : batch, inputs: 4 });
        report.verify = v;
        ok = v.ok;
      }
      if (web) {
        const { writeWebApp } = await import('../../export/web.js');
        report.web = await writeWebApp(resolve(web), r.file);
      }
      if (json) {
        process.stdout.write(JSON.stringify(report) + '\n');
      } else {
        const mb = (n: number) => `${(n / 1e6).toFixed(2)} MB`;
        process.stdout.write(`${r.file}: ${mb(r.bytes)}${r.dataFile ? ` + ${r.dataFile} ${mb(r.dataBytes)}` : ''}, ${precision}, input fbank [${r.inputShape.join(', ')}], logits [${r.inputShape[0]}, ${config.num_classes}]\n`);
        const v = report.verify as import('../../export/verify.js').VerifyResult | undefined;
        if (v) process.stdout.write(`verify: ${v.ok ? 'ok' : 'FAILED'}: max |onnxruntime - loaa| ${v.maxDiff.toExponential(2)} (bound ${v.bound.toExponential(2)}) on ${v.inputs} random inputs, top-1 ${v.top1Agrees ? 'agrees' : 'differs'}; time per input: onnxruntime-node ${v.ortMsPerInput.toFixed(1)} ms, loaa ${v.loaaMsPerInput.toFixed(1)} ms (${v.threads ?? "default"} thread${v.threads === 1 ? "" : "s"} each)\n`);
        if (web) process.stdout.write(`web page: ${resolve(web)}/index.html (serve the directory: python3 -m http.server -d ${web})\n`);
      }
      if (!ok) {
        process.stderr.write(`loaa export: ${r.file}: onnxruntime-node's logits differ from loaa's beyond the tolerance\n`);
        return 1;
      }
      return 0;
    } finally {
      model.dispose();
    }
  },
};
