/**
 * Reads Kubernetes manifests the way kubectl does: multi-document YAML (helm template and
 * kubectl kustomize output included), JSON, `*List` kinds flattened, directories walked.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { PalisadeError } from '../../core/index.js';
import type { KubeObject } from './types.js';

export interface SourcedObject {
  object: KubeObject;
  /** File (or `-`) and 1-based document index, for messages. */
  source: string;
}

function isObject(v: unknown): v is KubeObject {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** `List`, `PodList`, `DeploymentList`... carry their objects in `items`. */
function flatten(value: unknown, out: KubeObject[]): void {
  if (!isObject(value)) return;
  if (typeof value.kind === 'string' && value.kind.endsWith('List') && Array.isArray(value.items)) {
    for (const item of value.items) flatten(item, out);
    return;
  }
  if (typeof value.kind === 'string') out.push(value);
}

/** Every Kubernetes object in a YAML or JSON text (JSON is YAML). */
export function parseManifests(text: string, source = '-'): SourcedObject[] {
  const out: SourcedObject[] = [];
  const docs = parseAllDocuments(text, { prettyErrors: false });
  const list = Array.isArray(docs) ? docs : [docs];
  list.forEach((doc, i) => {
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      // Line from the error offset: cheaper than prettyErrors, which formats every error.
      const offset = e.pos[0];
      let line = 1;
      for (let k = 0; k < offset && k < text.length; k++) if (text.charCodeAt(k) === 10) line++;
      throw new PalisadeError('policy.manifest_invalid', `${source}${line ? `:${line}` : ''}: invalid YAML: ${e.message.split('\n')[0]}`, {
        field: source, hint: 'check the indentation and quoting at that line',
      });
    }
    const objects: KubeObject[] = [];
    flatten(doc.toJS({ maxAliasCount: 100 }), objects);
    for (const object of objects) out.push({ object, source: `${source}#${i + 1}` });
  });
  return out;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** A file or a directory tree of manifests, in a stable (sorted) order. */
export function readManifestPath(target: string): SourcedObject[] {
  let stat;
  try { stat = statSync(target); } catch {
    throw new PalisadeError('policy.path_not_found', `${target}: no such file or directory`, { kind: 'not-found', field: 'PATH', hint: 'pass a manifest file, a directory, or - for standard input' });
  }
  if (stat.isFile()) return parseManifests(readFileSync(target, 'utf8'), target);
  const out: SourcedObject[] = [];
  for (const entry of readdirSync(target, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const full = path.join(target, entry.name);
    if (entry.isDirectory()) out.push(...readManifestPath(full));
    else if (entry.isFile() && MANIFEST_EXTENSIONS.has(path.extname(entry.name))) out.push(...parseManifests(readFileSync(full, 'utf8'), full));
  }
  return out;
}
