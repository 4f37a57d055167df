/**
 * metadata_props of an ONNX file without decoding the graph: a walk over the top-level fields of
 * ModelProto (field 14 holds StringStringEntryProto {1: key, 2: value}); weights are skipped by
 * length, so a 100 MB model costs no copies. Runs in the browser and in Node.
 */
function readVarint(b: Uint8Array, pos: { i: number }): number {
  let result = 0;
  let mul = 1;
  for (;;) {
    if (pos.i >= b.length) throw new Error('model.onnx: truncated protobuf varint');
    const x = b[pos.i++];
    result += (x & 0x7f) * mul;
    if (x < 0x80) return result;
    mul *= 128;
  }
}

function fields(b: Uint8Array, each: (field: number, value: Uint8Array | number) => void): void {
  const pos = { i: 0 };
  while (pos.i < b.length) {
    const key = readVarint(b, pos);
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) each(field, readVarint(b, pos));
    else if (wire === 1) pos.i += 8;
    else if (wire === 5) pos.i += 4;
    else if (wire === 2) {
      const len = readVarint(b, pos);
      if (pos.i + len > b.length) throw new Error('model.onnx: truncated protobuf field');
      each(field, b.subarray(pos.i, pos.i + len));
      pos.i += len;
    } else throw new Error(`model.onnx: unsupported protobuf wire type ${wire}`);
  }
}

export function onnxMetadata(model: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const dec = new TextDecoder();
  fields(model, (f, v) => {
    if (f !== 14 || typeof v === 'number') return;
    let key = '';
    let value = '';
    fields(v, (g, w) => {
      if (typeof w === 'number') return;
      if (g === 1) key = dec.decode(w);
      if (g === 2) value = dec.decode(w);
    });
    out[key] = value;
  });
  return out;
}
