/**
 * JSON.parse keeps the last of duplicate keys without a word; in a file that says what a tensor or
 * an option is, two answers to one question is a forged or broken file. This scan runs over text
 * JSON.parse has already accepted, so it only tracks nesting and which strings are keys.
 */

/** The first key that appears twice in one object, as a dotted path ("" when none). */
export function firstDuplicateKey(text: string): string | null {
  interface Frame {
    obj: boolean;
    keys: Set<string>;
    expectKey: boolean;
    path: string;
    lastKey: string;
  }
  const stack: Frame[] = [];
  let i = 0;
  const n = text.length;
  const childPath = (f: Frame | undefined): string =>
    f ? (f.path ? `${f.path}.${f.obj ? f.lastKey : '[]'}` : f.obj ? f.lastKey : '[]') : '';
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // a string: find its end, honouring escapes
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) j += 2;
        else if (d === 0x22) break;
        else j++;
      }
      const top = stack[stack.length - 1];
      if (top?.obj && top.expectKey) {
        const key = JSON.parse(text.slice(i, j + 1)) as string;
        if (top.keys.has(key)) return top.path ? `${top.path}.${key}` : key;
        top.keys.add(key);
        top.lastKey = key;
        top.expectKey = false;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b || c === 0x5b) {
      const parent = stack[stack.length - 1];
      stack.push({ obj: c === 0x7b, keys: new Set(), expectKey: c === 0x7b, path: childPath(parent), lastKey: '' });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      const top = stack[stack.length - 1];
      if (top?.obj) top.expectKey = true;
    }
    i++;
  }
  return null;
}
