/**
 * YAML for recipes and grids, in time linear in the text. The `yaml` library checks key uniqueness
 * by comparing each new key with every earlier one of its mapping (80k keys: 52 s); here that check
 * is off and done after parsing with a Set, and mappings, sequences and the text itself are capped
 * far above any real recipe, so a hostile file is an Error naming it within a second.
 */
import { isScalar, parseDocument, visit, YAMLParseError } from 'yaml';

export const YAML_LIMITS = {
  /** a recipe or grid is a few kB: 512 kB is generous and parses in about a second at worst */
  bytes: 512 * 1024,
  /** lines, checked before parsing (the cheapest bound on keys in block style) */
  lines: 20_000,
  /** keys in one mapping / items in one sequence */
  items: 10_000,
  /** aliases expanded (the library's own billion-laughs guard) */
  aliases: 100,
} as const;

/** The plain value of a YAML text, or an Error starting with `file` (and the line where it can). */
export function parseYamlBounded(text: string, file: string): unknown {
  if (text.length > YAML_LIMITS.bytes)
    throw new Error(`${file}: ${text.length} characters, more than the ${YAML_LIMITS.bytes} a YAML recipe or grid may have`);
  let lines = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lines++;
  if (lines > YAML_LIMITS.lines)
    throw new Error(`${file}: ${lines} lines, more than the ${YAML_LIMITS.lines} a YAML recipe or grid may have (too many keys or items)`);
  const doc = parseDocument(text, { uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length) throw new Error(`${file}: not valid YAML: ${firstLine(doc.errors[0])}`);
  const lineOf = (offset: number | undefined): string => {
    if (offset === undefined) return '';
    let line = 1;
    for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
    return `line ${line}: `;
  };
  let fail: Error | null = null;
  visit(doc, {
    Map(_, node) {
      if (node.items.length > YAML_LIMITS.items) {
        fail = new Error(`${file}: ${lineOf(node.range?.[0])}a mapping with ${node.items.length} keys, more than ${YAML_LIMITS.items}`);
        return visit.BREAK;
      }
      const seen = new Set<string>();
      for (const pair of node.items) {
        const k = pair.key;
        const name = isScalar(k) ? String(k.value) : JSON.stringify(k);
        if (seen.has(name)) {
          fail = new Error(
            `${file}: ${lineOf(isScalar(k) ? k.range?.[0] : node.range?.[0])}${name}: duplicate key (each key once per mapping)`,
          );
          return visit.BREAK;
        }
        seen.add(name);
      }
      return undefined;
    },
    Seq(_, node) {
      if (node.items.length > YAML_LIMITS.items) {
        fail = new Error(`${file}: ${lineOf(node.range?.[0])}a list with ${node.items.length} items, more than ${YAML_LIMITS.items}`);
        return visit.BREAK;
      }
      return undefined;
    },
  });
  if (fail) throw fail;
  try {
    return doc.toJS({ maxAliasCount: YAML_LIMITS.aliases });
  } catch (e) {
    throw new Error(`${file}: not valid YAML: ${firstLine(e)}`);
  }
}

function firstLine(e: unknown): string {
  return (e instanceof YAMLParseError || e instanceof Error ? e.message : String(e)).split('\n')[0];
}
