import { purl } from './purl.js';
import type { Cataloger, FileAnalysis } from './types.js';

/** Python: installed distributions' core metadata (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO` or an `*.egg-info` file). */
const METADATA = /(?:\.dist-info\/METADATA|\.egg-info\/PKG-INFO|\.egg-info)$/;

/** PEP 503 normalised name, as PyPI and OSV use it. */
export function normalizePythonName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

export function parsePythonMetadata(text: string, path: string): FileAnalysis {
  let name: string | undefined;
  let version: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') break; // headers end at the first blank line; the body is the description
    const m = /^(Name|Version):\s*(.+?)\s*$/.exec(line);
    if (m?.[1] === 'Name') name ??= m[2];
    if (m?.[1] === 'Version') version ??= m[2];
  }
  if (!name || !version) return {};
  const normalized = normalizePythonName(name);
  return { packages: [{ name: normalized, version, ecosystem: 'PyPI', purl: purl('pypi', undefined, normalized, version), path }] };
}

export const pythonCataloger: Cataloger = {
  name: 'python',
  version: 1,
  maxBytes: 4 * 1024 * 1024,
  wants: (f) => METADATA.test(f.path),
  analyze: (file) => parsePythonMetadata(file.content.toString('utf8'), file.path),
};
