/**
 * safetensors: an 8-byte little-endian header length, a JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}`, then the raw
 * little-endian tensor bytes. Every field of the header is checked against the file before a byte
 * of tensor data is touched, so a truncated or lying file is an Error naming the file and the key.
 */
import { readRegularFile, writeFileAtomic } from '../util/fs.js';
import { firstDuplicateKey } from './json_keys.js';

import type { DType, RawTensor } from '../tensor/dtype.js';
import { DTYPE_BYTES, numel } from '../tensor/dtype.js';

export { DTYPE_BYTES, numel, type DType, type RawTensor } from '../tensor/dtype.js';

const ST_TO_DTYPE: Record<string, DType> = {
  F32: 'float32',
  F64: 'float64',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U8: 'uint8',
  BOOL: 'bool',
};
const DTYPE_TO_ST: Record<DType, string> = Object.fromEntries(Object.entries(ST_TO_DTYPE).map(([k, v]) => [v, k])) as Record<DType, string>;

export interface SafetensorsFile {
  tensors: Map<string, RawTensor>;
  metadata: Record<string, string>;
}

/** Largest header the reference implementation accepts (100 MB): anything bigger is a lie. */
const MAX_HEADER = 100_000_000;

export function parseSafetensors(buf: Uint8Array, source: string): SafetensorsFile {
  function fail(msg: string): never {
    throw new Error(`${source}: not a valid safetensors file: ${msg}`);
  }
  if (buf.byteLength < 8) fail(`file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = dv.getBigUint64(0, true);
  if (hlen > BigInt(MAX_HEADER)) fail(`header length ${hlen} is larger than ${MAX_HEADER}`);
  const n = Number(hlen);
  if (8 + n > buf.byteLength) fail(`header length ${n} runs past the end of the file (${buf.byteLength} bytes)`);
  let header: unknown;
  let text = '';
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n));
    header = JSON.parse(text);
  } catch (e) {
    fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  // JSON.parse keeps the last of two entries for one name; the reference reader refuses the file
  const dup = firstDuplicateKey(text);
  if (dup !== null) fail(`header names ${JSON.stringify(dup)} twice`);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const tensors = new Map<string, RawTensor>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [key, value] of Object.entries(header as Record<string, unknown>)) {
    if (key === '__metadata__') {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('__metadata__ is not an object');
      for (const [mk, mv] of Object.entries(value as Record<string, unknown>)) {
        if (typeof mv !== 'string') fail(`__metadata__.${mk} is not a string`);
      }
      metadata = value as Record<string, string>;
      continue;
    }
    const info = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof info !== 'object' || info === null) fail(`entry "${key}" is not an object`);
    // own keys only: a dtype named "constructor" or "__proto__" must not reach Object.prototype
    const dtype = Object.hasOwn(ST_TO_DTYPE, String(info.dtype)) ? ST_TO_DTYPE[String(info.dtype)] : undefined;
    if (!dtype) fail(`tensor "${key}" has unsupported dtype ${JSON.stringify(info.dtype)}`);
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${key}" has an invalid shape ${JSON.stringify(shape)}`);
    }
    const off = info.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor "${key}" has invalid data_offsets ${JSON.stringify(off)}`);
    }
    const [b, e] = off as [number, number];
    if (b > e || e > dataLen) fail(`tensor "${key}" data_offsets [${b}, ${e}] lie outside the ${dataLen} data bytes`);
    const expected = numel(shape as number[]) * DTYPE_BYTES[dtype];
    if (e - b !== expected) {
      fail(`tensor "${key}" holds ${e - b} bytes but ${dtype} ${JSON.stringify(shape)} needs ${expected}`);
    }
    spans.push([b, e, key]);
    tensors.set(key, { dtype, shape: [...(shape as number[])], data: buf.subarray(dataStart + b, dataStart + e) });
  }
  spans.sort((x, y) => x[0] - y[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(`tensors "${spans[i - 1][2]}" and "${spans[i][2]}" overlap`);
  }
  return { tensors, metadata };
}

/** Regular files only (a device or FIFO is refused by name); tensors are views into one read of the file. */
export function readSafetensors(path: string): SafetensorsFile {
  return parseSafetensors(readRegularFile(path, 'safetensors file'), path);
}

/** Serialise tensors (sorted by name, 8-byte aligned data as the reference writer does). */
export function serializeSafetensors(
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): Uint8Array[] {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)).sort((a, b) =>
    a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0,
  );
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    const need = numel(t.shape) * DTYPE_BYTES[t.dtype];
    if (t.data.byteLength !== need) {
      throw new Error(`safetensors: tensor "${name}" has ${t.data.byteLength} bytes, ${t.dtype} ${JSON.stringify(t.shape)} needs ${need}`);
    }
    header[name] = { dtype: DTYPE_TO_ST[t.dtype], shape: t.shape, data_offsets: [offset, offset + need] };
    offset += need;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.byteLength % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.byteLength));
  return [len, json, ...entries.map(([, t]) => t.data)];
}

/** Atomic write: the target is replaced only once the whole file is on disk. */
export function writeSafetensors(
  path: string,
  tensors: Map<string, RawTensor> | Record<string, RawTensor>,
  metadata?: Record<string, string>,
): void {
  writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

/** float32 view helpers for code that works on plain arrays (front end, fixtures). */
export function rawFromFloat32(data: Float32Array, shape: number[]): RawTensor {
  return { dtype: 'float32', shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) };
}

export function rawToFloat32(t: RawTensor, name = 'tensor'): Float32Array {
  if (t.dtype !== 'float32') throw new Error(`${name}: expected float32, found ${t.dtype}`);
  // copy when unaligned: a Float32Array view needs a 4-byte aligned offset
  if (t.data.byteOffset % 4 === 0) return new Float32Array(t.data.buffer, t.data.byteOffset, t.data.byteLength / 4);
  return new Float32Array(t.data.slice().buffer);
}
