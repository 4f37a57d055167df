/**
 * Just enough Markdown for the docs tests: the links of a page (outside code) and the anchors its
 * headings get on GitHub, so a link's `#fragment` can be checked as well as its file.
 */

export interface Link {
  line: number;
  target: string;
}

/** The text with fenced code blocks blanked out, and inline code spans too unless `keepSpans` (line numbers kept). */
export function withoutCode(text: string, keepSpans = false): string {
  const out: string[] = [];
  let fence: string | null = null;
  for (const line of text.split('\n')) {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (fence !== null) {
      if (m && m[1]!.startsWith(fence)) fence = null;
      out.push('');
    } else if (m) {
      fence = m[1]!;
      out.push('');
    } else {
      out.push(keepSpans ? line : line.replace(/(`+)[\s\S]*?\1/g, ''));
    }
  }
  return out.join('\n');
}

/** Inline links and images `[text](target)`, `![alt](target "title")`, and autolinks `<scheme:...>`. */
export function links(text: string): Link[] {
  const found: Link[] = [];
  withoutCode(text)
    .split('\n')
    .forEach((line, i) => {
      for (const m of line.matchAll(/\]\(\s*<?([^)\s>]*)>?(?:\s+"[^"]*")?\s*\)/g)) found.push({ line: i + 1, target: m[1]! });
      for (const m of line.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]+)>/gi)) found.push({ line: i + 1, target: m[1]! });
    });
  return found;
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens. */
export function slug(heading: string): string {
  const text = heading
    .replace(/`/g, '')
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/\s/g, '-');
}

/** Every anchor the page's headings give (repeats get -1, -2, ... as on GitHub). */
export function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const line of withoutCode(text, true).split('\n')) {
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = slug(m[1]!);
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}
