/**
 * The paper's own numbers beside ours: a table's `paper` section (grid file, `report.tables[i].paper`)
 * adds, under each of our rows, a row of the paper's values for the same cells, and above them the
 * rows the paper quotes from other papers (`reported`, e.g. Table 2's MAE-AST and SSAST), and lines
 * printed with the table (`notes`, e.g. Table 1's "Audio Pretrained Model (SSAST): 53.75").
 *
 *   paper:
 *     source: "Table 1 of the paper"
 *     notes: ["Audio Pretrained Model (SSAST): 53.75"]
 *     values:                       # the axis values of the cell, and the value as the paper prints it
 *       - {position: attn, budget: 1.2%, kernel: 1x1, value: "53.38"}
 *       - {method: full, column: "EPIC-SOUNDS mAP", value: "0.222"}   # an extra column, by its label
 *     params: {linear: "0.04%"}     # the paper's "# Param" of a row (by the row's last axis value)
 *     reported:
 *       - {label: "SSAST [10] (reported by its paper)", params: "100%", values: [{dataset: epic_sounds, value: "53.75"}]}
 *
 * Values are text, shown as printed (53.38, 0.237): the paper's digits, not ours.
 */
import type { Cell, RowParams, Table } from './table.js';

export interface PaperValue {
  at: Record<string, string>;
  /** an extra column's label instead of the column axes */
  column?: string;
  text: string;
}

export interface PaperSpec {
  source: string;
  notes: string[];
  values: PaperValue[];
  params: Record<string, string>;
  reported: { label: string; params?: string; values: PaperValue[] }[];
}

export type RowKind = 'ours' | 'paper' | 'reported';

function isPlain(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function parseValue(v: unknown, where: string): PaperValue {
  if (!isPlain(v)) throw new Error(`${where}: expected {axis: value, ..., value: "53.38"}`);
  const { value, column, ...at } = v;
  if (typeof value !== 'string' && typeof value !== 'number') throw new Error(`${where}.value: expected the value as the paper prints it`);
  if (column !== undefined && typeof column !== 'string') throw new Error(`${where}.column: expected an extra column's label`);
  const out: PaperValue = { at: Object.fromEntries(Object.entries(at).map(([a, x]) => [a, String(x)])), text: String(value) };
  if (column !== undefined) out.column = column;
  return out;
}

/** Checks a table's `paper` section; `where` names it in errors. */
export function parsePaper(raw: unknown, where: string): PaperSpec {
  if (!isPlain(raw)) throw new Error(`${where}: expected {source, values, notes, params, reported}`);
  for (const k of Object.keys(raw))
    if (!['source', 'notes', 'values', 'params', 'reported'].includes(k))
      throw new Error(`${where}.${k}: unknown key (known: source, notes, values, params, reported)`);
  const list = (v: unknown, w: string): unknown[] => {
    if (v === undefined) return [];
    if (!Array.isArray(v)) throw new Error(`${w}: expected a list`);
    return v;
  };
  const params = raw.params ?? {};
  if (!isPlain(params)) throw new Error(`${where}.params: expected {row value: "0.04%"}`);
  return {
    source: typeof raw.source === 'string' ? raw.source : 'the paper',
    notes: list(raw.notes, `${where}.notes`).map(String),
    values: list(raw.values, `${where}.values`).map((v, i) => parseValue(v, `${where}.values.${i}`)),
    params: Object.fromEntries(Object.entries(params).map(([k, v]) => [k, String(v)])),
    reported: list(raw.reported, `${where}.reported`).map((r, i) => {
      const w = `${where}.reported.${i}`;
      if (!isPlain(r) || typeof r.label !== 'string') throw new Error(`${w}: expected {label, params, values}`);
      return {
        label: r.label,
        ...(r.params !== undefined ? { params: String(r.params) } : {}),
        values: list(r.values, `${w}.values`).map((v, j) => parseValue(v, `${w}.values.${j}`)),
      };
    }),
  };
}

function paperCell(text: string | undefined): Cell {
  const mean = text === undefined ? NaN : Number(text);
  return { values: [], mean, std: 0, missing: 0, mark: null, text: text ?? '' };
}

/** The paper's value of one cell: the entry whose axis values all match and whose column is this one. */
function lookup(values: PaperValue[], rowAxes: string[], rowKey: string[] | null, t: Table, j: number): string | undefined {
  const s = t.spec;
  const extra = j >= t.colKeys.length ? s.extra[j - t.colKeys.length]!.label : undefined;
  const hit = values.find((v) => {
    if (rowKey && !rowAxes.every((a, i) => v.at[a] === undefined || v.at[a] === rowKey[i])) return false;
    if (rowKey && !rowAxes.some((a) => v.at[a] !== undefined) && rowAxes.length) return false;
    if (extra !== undefined) return v.column === extra;
    if (v.column !== undefined) return false;
    return s.cols.every((a, i) => v.at[a] === t.colKeys[j]![i]);
  });
  return hit?.text;
}

/** The table with the paper's rows added (marks and best cells stay those of our rows). */
export function withPaperRows(t: Table, paper: PaperSpec): Table & { rowKinds: RowKind[]; notes: string[] } {
  const nCols = t.colKeys.length + t.spec.extra.length;
  const width = Math.max(1, t.spec.rows.length);
  const rowKeys: string[][] = [];
  const rowLabels: string[][] = [];
  const cells: Cell[][] = [];
  const params: (RowParams & { text?: string })[] = [];
  const kinds: RowKind[] = [];
  const labelRow = (label: string): string[] => [label, ...Array.from({ length: width - 1 }, () => '')];
  for (const r of paper.reported) {
    rowKeys.push([]);
    rowLabels.push(labelRow(r.label));
    cells.push(Array.from({ length: nCols }, (_, j) => paperCell(lookup(r.values, [], null, t, j) ?? '-')));
    params.push({ trainable: [], total: [], text: r.params ?? '' });
    kinds.push('reported');
  }
  t.rowKeys.forEach((rk, i) => {
    rowKeys.push(rk);
    rowLabels.push(t.rowLabels[i]!);
    cells.push(t.cells[i]!);
    params.push(t.params[i]!);
    kinds.push('ours');
    const row = Array.from({ length: nCols }, (_, j) => paperCell(lookup(paper.values, t.spec.rows, rk, t, j)));
    if (row.every((c) => c.text === '')) return;
    const labels = [...t.rowLabels[i]!];
    if (labels.length === 0) labels.push('all');
    labels[labels.length - 1] = `${labels[labels.length - 1]} (paper)`;
    rowKeys.push(rk);
    rowLabels.push(labels);
    cells.push(row);
    const p = rk.length ? paper.params[rk[rk.length - 1]!] : undefined;
    params.push({ trainable: [], total: [], text: p ?? '' });
    kinds.push('paper');
  });
  return { ...t, rowKeys, rowLabels, cells, params, rowKinds: kinds, notes: paper.notes.length ? paper.notes : [] };
}
