/**
 * A small ONNX graph builder: nodes with generated output names, float32 / int64 initializers kept
 * as typed arrays until the file is written (src/export/onnx_file.ts), so fp16 storage and external
 * data are decided once, at the end, over every weight.
 */

export type AttrValue = number | number[] | string | { ints: number[] } | { float: number };

export interface GraphNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs: Record<string, AttrValue>;
  name: string;
}

export interface Initializer {
  name: string;
  dims: number[];
  data: Float32Array | BigInt64Array;
}

export interface ValueInfo {
  name: string;
  /** a number, or a symbolic dimension's name */
  dims: (number | string)[];
}

export class GraphBuilder {
  readonly nodes: GraphNode[] = [];
  readonly initializers: Initializer[] = [];
  readonly inputs: ValueInfo[] = [];
  readonly outputs: ValueInfo[] = [];
  #names = new Set<string>();
  #counter = 0;
  #int64Cache = new Map<string, string>();

  #fresh(base: string): string {
    let n = base;
    while (this.#names.has(n)) n = `${base}_${++this.#counter}`;
    this.#names.add(n);
    return n;
  }

  input(name: string, dims: (number | string)[]): string {
    this.inputs.push({ name: this.#fresh(name), dims });
    return name;
  }

  output(name: string, dims: (number | string)[]): void {
    this.outputs.push({ name, dims });
  }

  /** A float32 weight; `dims` must multiply to its length. */
  weight(name: string, data: Float32Array, dims: number[]): string {
    const n = dims.reduce((a, b) => a * b, 1);
    if (n !== data.length) throw new Error(`${name}: ${data.length} values for dims [${dims.join(', ')}]`);
    const unique = this.#fresh(name);
    this.initializers.push({ name: unique, dims, data });
    return unique;
  }

  /** An int64 constant (shapes, axes, indices), shared between nodes that use the same values. */
  ints(values: number[], scalar = false): string {
    const key = `${scalar ? 's' : 'v'}:${values.join(',')}`;
    const hit = this.#int64Cache.get(key);
    if (hit) return hit;
    const name = this.#fresh(`const_i64_${values.join('_').replace(/-/g, 'm') || 'empty'}`);
    this.initializers.push({ name, dims: scalar ? [] : [values.length], data: BigInt64Array.from(values.map((v) => BigInt(v))) });
    this.#int64Cache.set(key, name);
    return name;
  }

  /** A float32 scalar constant. */
  scalar(value: number, name = 'const_f32'): string {
    return this.weight(name, Float32Array.of(value), []);
  }

  /** Adds a node and returns its (first) output's name; `out` names it (made unique). */
  node(op: string, inputs: string[], attrs: Record<string, AttrValue> = {}, out?: string, nOutputs = 1): string {
    const base = out ?? op.toLowerCase();
    const outputs = Array.from({ length: nOutputs }, (_, i) => this.#fresh(nOutputs === 1 ? base : `${base}_${i}`));
    this.nodes.push({ op, inputs, outputs, attrs, name: this.#fresh(`node_${outputs[0]}`) });
    return outputs[0];
  }
}
