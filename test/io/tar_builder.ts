/** Tar headers for tests and fuzzing: ustar, any type flag, any declared size. */

/** One 512-byte ustar header with a valid checksum. */
export function tarHeader(name: string, size: number, flag = '0'): Buffer {
  const h = Buffer.alloc(512);
  h.write(name.slice(0, 100), 0, 'utf8');
  h.write('0000644\0', 100, 'ascii');
  h.write('0000000\0', 108, 'ascii');
  h.write('0000000\0', 116, 'ascii');
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  h.write('00000000000\0', 136, 'ascii');
  h.write(flag, 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

/** A whole archive of [name, data, flag] entries and the end marker. */
export function tarOf(entries: [string, Uint8Array, string?][]): Buffer {
  const parts: Buffer[] = [];
  for (const [name, data, flag] of entries) {
    parts.push(tarHeader(name, data.length, flag ?? '0'), Buffer.from(data), Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
