import { purl } from './purl.js';
import type { Cataloger, FileAnalysis } from './types.js';

/** npm: every `node_modules/NAME/package.json` (scoped and nested too) is one installed package. */
const MANIFEST = /(?:^|\/)node_modules\/(?:@[^/]+\/)?[^/@][^/]*\/package\.json$/;

export function parseNpmPackage(text: string, path: string): FileAnalysis {
  let doc: { name?: unknown; version?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch {
    return { warnings: [`npm: ${path} is not valid JSON`] };
  }
  if (typeof doc.name !== 'string' || typeof doc.version !== 'string' || !doc.name || !doc.version) return {};
  const name = doc.name;
  const [namespace, bare] = name.startsWith('@') && name.includes('/') ? [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)] : [undefined, name];
  return { packages: [{ name, version: doc.version, ecosystem: 'npm', purl: purl('npm', namespace, bare, doc.version), path }] };
}

export const npmCataloger: Cataloger = {
  name: 'npm',
  version: 1,
  maxBytes: 4 * 1024 * 1024,
  wants: (f) => MANIFEST.test(f.path),
  analyze: (file) => parseNpmPackage(file.content.toString('utf8'), file.path),
};
