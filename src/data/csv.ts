import { readRegularText } from '../util/fs.js';

export interface CsvTable {
  header: string[];
  /** Records keyed by header name. */
  rows: Record<string, string>[];
  /** 1-based line number in the file of each row (for messages). */
  lines: number[];
}

/** RFC 4180 fields: quotes, doubled quotes, commas and newlines inside quotes, CRLF, a UTF-8 BOM. */
export function parseCsv(text: string, where: string): { records: string[][]; lines: number[] } {
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const records: string[][] = [];
  const lines: number[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const startLine = line;
    const rec: string[] = [];
    for (;;) {
      let field = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new Error(`${where}:${startLine}: unterminated quoted field`);
          const ch = text[i]!;
          if (ch === '"') {
            if (text[i + 1] === '"') {
              field += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (ch === '\n') line++;
          field += ch;
          i++;
        }
        // text after the closing quote up to the delimiter is kept, as Python's csv does
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      } else {
        while (i < n && text[i] !== ',' && text[i] !== '\n' && text[i] !== '\r') field += text[i++];
      }
      rec.push(field);
      if (i < n && text[i] === ',') {
        i++;
        continue;
      }
      break;
    }
    if (text[i] === '\r') i++;
    if (text[i] === '\n') i++;
    line++;
    // blank lines carry no record
    if (!(rec.length === 1 && rec[0] === '')) {
      records.push(rec);
      lines.push(startLine);
    }
  }
  return { records, lines };
}

/** Reads a CSV with a header row; `required` columns must be present. */
export function readCsv(path: string, required: readonly string[] = []): CsvTable {
  const text = readRegularText(path, 'CSV file');
  const { records, lines } = parseCsv(text, path);
  if (records.length === 0) throw new Error(`${path}: empty CSV (no header)`);
  const header = records[0]!.map((h) => h.trim());
  const missing = required.filter((r) => !header.includes(r));
  if (missing.length > 0) {
    throw new Error(`${path}: missing column${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (header: ${header.join(',')})`);
  }
  const rows: Record<string, string>[] = [];
  const bad: string[] = [];
  for (let r = 1; r < records.length; r++) {
    const rec = records[r]!;
    if (rec.length !== header.length) {
      bad.push(`line ${lines[r]} has ${rec.length} fields`);
      continue;
    }
    const o: Record<string, string> = {};
    header.forEach((h, k) => {
      o[h] = rec[k]!;
    });
    rows.push(o);
  }
  if (bad.length > 0) {
    const shown = bad.slice(0, 5).join('; ');
    throw new Error(
      `${path}: ${bad.length} rows do not have the header's ${header.length} fields: ${shown}${bad.length > 5 ? '; ...' : ''}`,
    );
  }
  return { header, rows, lines: lines.slice(1) };
}

/** A non-negative integer cell, or undefined when it is not one. */
export function parseIndex(s: string | undefined): number | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
}
