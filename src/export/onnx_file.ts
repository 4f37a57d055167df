/**
 * Writes a GraphBuilder as an ONNX ModelProto (onnx-proto, protobufjs) with opset 17.
 * - fp16: float weights are stored as float16 and Cast to float32 at the start of the graph, so the
 *   file is half the size and every onnxruntime backend (CPU, wasm) runs it without fp16 kernels.
 * - external data: when the weights exceed `externalThreshold` bytes (protobuf's limit is 2 GB),
 *   every weight of 1 KiB or more goes into `<file>.data` beside the model, 64-byte aligned, as the
 *   ONNX external-data spec lays it out (location, offset, length).
 */
import { basename, dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { writeFileAtomic } from '../util/fs.js';
import type { AttrValue, GraphBuilder, ValueInfo } from './graph.js';

const { onnx } = onnxProto;

export const ONNX_OPSET = 17;
/** IR version 8 goes with opset 17 (onnx 1.12). */
export const ONNX_IR_VERSION = 8;
/** Below protobuf's 2 GiB hard limit with room for the graph itself. */
export const DEFAULT_EXTERNAL_THRESHOLD = 1.8 * 2 ** 30;
const EXTERNAL_MIN_BYTES = 1024;
const ALIGN = 64;

const FLOAT = 1;
const INT64 = 7;
const FLOAT16 = 10;

export interface WriteOnnxOptions {
  precision?: 'fp32' | 'fp16';
  metadata?: Record<string, string>;
  /** total weight bytes above which weights go to external data (default 1.8 GiB) */
  externalThreshold?: number;
  producerVersion?: string;
  docString?: string;
}

export interface WrittenOnnx {
  file: string;
  /** the external data file, when one was written */
  dataFile?: string;
  bytes: number;
  dataBytes: number;
  initializers: number;
  nodes: number;
}

/** IEEE float16 bits of a float32 (round to nearest even; overflow to infinity). */
export function toFloat16Bits(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < src.length; i++) {
    f[0] = src[i];
    const x = u[0];
    const sign = (x >>> 16) & 0x8000;
    const exp = (x >>> 23) & 0xff;
    let mant = x & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
    } else if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
    } else {
      let h = (e << 10) | (mant >>> 13);
      const rem = mant & 0x1fff;
      if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
      out[i] = sign | h;
    }
  }
  return out;
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  if (typeof v === 'number') return { name, type: onnx.AttributeProto.AttributeType.INT, i: v };
  if (typeof v === 'string') return { name, type: onnx.AttributeProto.AttributeType.STRING, s: Buffer.from(v, 'utf8') };
  if (Array.isArray(v)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v };
  if ('float' in v) return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: v.float };
  return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: v.ints };
}

function valueInfo(v: ValueInfo): onnxProto.onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: { elemType: FLOAT, shape: { dim: v.dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) } },
    },
  };
}

function bytesOf(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

/** A serialised model: the ModelProto bytes and, when the weights went external, the data file's parts. */
export interface EncodedOnnx {
  bytes: Uint8Array;
  /** whether the weights went to the external data file */
  external: boolean;
  /** the external data file's contents (empty when every weight is inline) */
  dataParts: Uint8Array[];
  dataBytes: number;
  initializers: number;
  nodes: number;
}

/**
 * Serialises the graph in memory; `dataName` is the external data file the model names when the
 * weights exceed the threshold (an in-memory caller passes `externalThreshold: Infinity`).
 */
export function encodeOnnx(g: GraphBuilder, dataName: string, opts: WriteOnnxOptions = {}): EncodedOnnx {
  const fp16 = opts.precision === 'fp16';
  const casts: onnxProto.onnx.INodeProto[] = [];
  const tensors: { name: string; dims: number[]; dataType: number; bytes: Uint8Array }[] = [];
  for (const init of g.initializers) {
    if (init.data instanceof BigInt64Array) {
      tensors.push({ name: init.name, dims: init.dims, dataType: INT64, bytes: bytesOf(init.data) });
    } else if (fp16 && init.data.length > 1) {
      const stored = `${init.name}.fp16`;
      tensors.push({ name: stored, dims: init.dims, dataType: FLOAT16, bytes: bytesOf(toFloat16Bits(init.data)) });
      casts.push({ opType: 'Cast', input: [stored], output: [init.name], name: `cast_${init.name}`, attribute: [attribute('to', FLOAT)] });
    } else {
      tensors.push({ name: init.name, dims: init.dims, dataType: FLOAT, bytes: bytesOf(init.data) });
    }
  }
  const total = tensors.reduce((s, t) => s + t.bytes.byteLength, 0);
  const threshold = opts.externalThreshold ?? DEFAULT_EXTERNAL_THRESHOLD;
  const external = total > threshold;
  const dataParts: Uint8Array[] = [];
  let offset = 0;
  const initializer: onnxProto.onnx.ITensorProto[] = tensors.map((t) => {
    const base = { name: t.name, dims: t.dims, dataType: t.dataType };
    if (!external || t.bytes.byteLength < EXTERNAL_MIN_BYTES) return { ...base, rawData: t.bytes };
    const pad = (ALIGN - (offset % ALIGN)) % ALIGN;
    if (pad) dataParts.push(new Uint8Array(pad));
    offset += pad;
    const entry = {
      ...base,
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
      externalData: [
        { key: 'location', value: dataName },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(t.bytes.byteLength) },
      ],
    };
    dataParts.push(t.bytes);
    offset += t.bytes.byteLength;
    return entry;
  });
  const model = onnx.ModelProto.create({
    irVersion: ONNX_IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'loaa',
    producerVersion: opts.producerVersion ?? '',
    docString: opts.docString ?? '',
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    graph: {
      name: 'loaa_ast',
      node: [
        ...casts,
        ...g.nodes.map((n) => ({
          opType: n.op,
          input: n.inputs,
          output: n.outputs,
          name: n.name,
          attribute: Object.entries(n.attrs).map(([k, v]) => attribute(k, v)),
        })),
      ],
      initializer,
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
    },
  });
  const bytes = onnx.ModelProto.encode(model).finish();
  return {
    bytes,
    external,
    dataParts: external ? dataParts : [],
    dataBytes: external ? offset : 0,
    initializers: initializer.length,
    nodes: casts.length + g.nodes.length,
  };
}

/** Serialises the graph to `file` (and `<file>.data` when the weights are large). */
export function writeOnnx(g: GraphBuilder, file: string, opts: WriteOnnxOptions = {}): WrittenOnnx {
  const dataName = `${basename(file)}.data`;
  const enc = encodeOnnx(g, dataName, opts);
  let dataFile: string | undefined;
  if (enc.external) {
    dataFile = join(dirname(file), dataName);
    writeFileAtomic(dataFile, enc.dataParts);
  }
  writeFileAtomic(file, enc.bytes);
  return { file, dataFile, bytes: enc.bytes.byteLength, dataBytes: enc.dataBytes, initializers: enc.initializers, nodes: enc.nodes };
}
