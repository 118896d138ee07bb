/**
 * Line numbers for results, so SARIF consumers (code scanning) annotate the offending line.
 * Only `--format sarif` pays for this: the `yaml` package keeps source ranges, js-yaml does not.
 */
import type { Document } from 'yaml';
import { yamlLibrary } from '../core/index.js';

/** `spec.containers[0].securityContext.privileged`, `metadata.labels["a.b/c"]` → path segments. */
export function fieldPath(field: string): (string | number)[] {
  const out: (string | number)[] = [];
  const re = /([^.[\]]+)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(field))) {
    if (m[1] !== undefined) out.push(m[1]);
    else if (m[2] !== undefined) out.push(Number(m[2]));
    else if (m[3] !== undefined) out.push(JSON.parse(`"${m[3]}"`) as string);
  }
  return out;
}

export interface DocumentLines {
  /** Line of a field in the document at `index` (1-based), or of its nearest existing parent, or of the document. */
  line(index: number, field: string | undefined): number | undefined;
}

export function documentLines(text: string): DocumentLines {
  const { isNode, LineCounter, parseAllDocuments } = yamlLibrary();
  const counter = new LineCounter();
  let docs: Document[] = [];
  try {
    docs = parseAllDocuments(text, { lineCounter: counter }) as Document[];
  } catch {
    docs = [];
  }
  const lineAt = (offset: number): number => counter.linePos(offset).line;
  return {
    line(index, field) {
      const doc = docs[index - 1];
      if (!doc || !Array.isArray(docs)) return undefined;
      const path = field ? fieldPath(field) : [];
      for (let n = path.length; n > 0; n--) {
        const node = doc.getIn(path.slice(0, n), true);
        if (isNode(node) && node.range) return lineAt(node.range[0]);
      }
      const start = doc.contents && isNode(doc.contents) && doc.contents.range ? doc.contents.range[0] : (doc.range?.[0] ?? 0);
      return lineAt(start);
    },
  };
}
