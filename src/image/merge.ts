import type { AnalyzedFile, LayerAnalysis } from './layers.js';
import { basename, dirname } from './catalog/types.js';

/**
 * Applies layers in order, the way a container runtime's overlay would: whiteouts and opaque
 * directories hide lower layers (whole path components: `.wh.foo` hides `foo` and `foo/…`, never
 * `foobar`), a later file replaces an earlier one, and paths are resolved through the image's own
 * symlinks (absolute links resolve against the image root; nothing on the host is ever read).
 */

export interface MergedFile extends AnalyzedFile {
  /** Index of the layer this copy of the file came from. */
  layerIndex: number;
  /** The file's path after resolving parent-directory symlinks. */
  canonicalPath: string;
}

type Entry =
  | { kind: 'files'; layerIndex: number; records: AnalyzedFile[] }
  | { kind: 'symlink'; layerIndex: number; target: string }
  | { kind: 'hardlink'; layerIndex: number; target: string };

export interface MergedView {
  files: MergedFile[];
  /** Resolves a path through the merged image's symlinks (undefined on a loop). */
  resolve(path: string, followLast?: boolean): string | undefined;
}

const MAX_HOPS = 40;

export function resolvePath(path: string, symlinkTarget: (path: string) => string | undefined, followLast = true): string | undefined {
  let queue = path.split('/');
  let out: string[] = [];
  let hops = 0;
  while (queue.length) {
    const part = queue.shift()!;
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    const candidate = out.length ? `${out.join('/')}/${part}` : part;
    const target = queue.length > 0 || followLast ? symlinkTarget(candidate) : undefined;
    if (target !== undefined) {
      if (++hops > MAX_HOPS) return undefined;
      if (target.startsWith('/')) out = [];
      queue = [...target.split('/'), ...queue];
      continue;
    }
    out.push(part);
  }
  return out.join('/');
}

export function mergeLayers(layers: readonly LayerAnalysis[]): MergedView {
  const entries = new Map<string, Entry>();
  const symlinkTarget = (p: string) => {
    const e = entries.get(p);
    return e?.kind === 'symlink' ? e.target : undefined;
  };
  const canonical = (p: string) => {
    const dir = dirname(p);
    const resolved = dir ? resolvePath(dir, symlinkTarget) : '';
    if (resolved === undefined) return undefined;
    return resolved ? `${resolved}/${basename(p)}` : basename(p);
  };
  /**
   * Drops what this layer's whiteouts hide from the layers below: one pass over the entries, each
   * checked against its own ancestors (O(entries × depth), however many whiteouts the layer has).
   */
  const applyRemovals = (hidden: Set<string>, opaque: Set<string>) => {
    if (hidden.size === 0 && opaque.size === 0) return;
    if (opaque.has('')) {
      entries.clear();
      return;
    }
    for (const key of [...entries.keys()]) {
      if (hidden.has(key)) {
        entries.delete(key);
        continue;
      }
      for (let i = key.lastIndexOf('/'); i > 0; i = key.lastIndexOf('/', i - 1)) {
        const ancestor = key.slice(0, i);
        if (hidden.has(ancestor) || opaque.has(ancestor)) {
          entries.delete(key);
          break;
        }
      }
    }
  };

  layers.forEach((layer, layerIndex) => {
    const opaque = new Set<string>();
    for (const dir of layer.opaqueDirs) {
      const c = dir ? canonical(dir) : '';
      if (c !== undefined) opaque.add(c);
    }
    const hidden = new Set<string>();
    for (const path of layer.whiteouts) {
      const c = canonical(path);
      if (c !== undefined) hidden.add(c);
    }
    applyRemovals(hidden, opaque);
    for (const link of layer.links) {
      const c = canonical(link.path);
      if (c === undefined) continue;
      if (link.hard) entries.set(c, { kind: 'hardlink', layerIndex, target: link.target });
      else entries.set(c, { kind: 'symlink', layerIndex, target: link.target });
    }
    const byPath = new Map<string, AnalyzedFile[]>();
    for (const file of layer.files) {
      const c = canonical(file.path);
      if (c === undefined) continue;
      const list = byPath.get(c) ?? [];
      list.push(file);
      byPath.set(c, list);
    }
    for (const [c, records] of byPath) entries.set(c, { kind: 'files', layerIndex, records });
  });

  const files: MergedFile[] = [];
  for (const [canonicalPath, entry] of entries) {
    if (entry.kind === 'files') {
      for (const record of entry.records) files.push({ ...record, layerIndex: entry.layerIndex, canonicalPath });
    } else if (entry.kind === 'hardlink') {
      // A hardlink shares its target's content: reuse what was read at the target, under this path.
      const target = entries.get(canonical(entry.target) ?? entry.target);
      if (target?.kind === 'files') {
        for (const record of target.records) {
          files.push({ ...relocate(record, canonicalPath), layerIndex: entry.layerIndex, canonicalPath });
        }
      }
    }
  }
  files.sort((a, b) => (a.canonicalPath < b.canonicalPath ? -1 : a.canonicalPath > b.canonicalPath ? 1 : a.cataloger.localeCompare(b.cataloger)));
  return { files, resolve: (p, followLast = true) => resolvePath(p, symlinkTarget, followLast) };
}

function relocate(record: AnalyzedFile, path: string): AnalyzedFile {
  const packages = record.analysis.packages?.map((p) => ({ ...p, path }));
  return { ...record, path, analysis: { ...record.analysis, ...(packages ? { packages } : {}) } };
}
