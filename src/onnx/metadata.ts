/**
 * metadata_props of an ONNX file without decoding the graph: a walk over the top-level fields of
 * ModelProto (field 14 holds StringStringEntryProto {1: key, 2: value}); weights are skipped by
 * length, so a 100 MB model costs no copies. Runs in the browser and in Node.
 */
function readVarint(b: Uint8Array, pos: { i: number }, source: string): number {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos.i >= b.length) throw new Error(`${source}: truncated protobuf varint at byte ${pos.i}`);
    const x = b[pos.i++];
    result += (x & 0x7f) * mul;
    if (x < 0x80) return result;
    mul *= 128;
  }
}

function fields(b: Uint8Array, source: string, each: (field: number, value: Uint8Array | number) => void): void {
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const key = readVarint(b, pos, source);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) each(field, readVarint(b, pos, source));
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else if (wire === 2) {
      const len = readVarint(b, pos, source);
      if (pos.i + len > b.length) throw new Error(`${source}: truncated protobuf field ${field}`);
      each(field, b.subarray(pos.i, pos.i + len));
      pos.i += len;
    } else throw new Error(`${source}: unsupported protobuf wire type ${wire} (not an ONNX file?)`);
  }
}

/** metadata_props as a plain object; `source` names the file in errors. */
export function onnxMetadata(model: Uint8Array, source = 'model.onnx'): Record<string, string> {
  const out: Record<string, string> = {};
  const dec = new TextDecoder();
  fields(model, source, (f, v) => {
    if (f !== 14 || typeof v === 'number') return;
    let key = '';
    let value = '';
    fields(v, source, (g, w) => {
      if (typeof w === 'number') return;
      if (g === 1) key = dec.decode(w);
      if (g === 2) value = dec.decode(w);
    });
    out[key] = value;
  });
  return out;
}
