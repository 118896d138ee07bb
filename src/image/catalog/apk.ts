import type { Cataloger, FileAnalysis, FoundPackage } from './types.js';
import { LANGUAGE_MANIFEST, parseStanzas } from './stanzas.js';

/** apk: `lib/apk/db/installed` — stanzas of `X:value` lines (P name, V version, A arch, o origin, F/R files). */
export function parseApkInstalled(text: string, path: string): FileAnalysis {
  const packages: FoundPackage[] = [];
  const owned: string[] = [];
  const warnings: string[] = [];
  for (const stanza of parseStanzas(text)) {
    const name = stanza.get('P');
    const version = stanza.get('V');
    if (!name) continue;
    if (!version) {
      warnings.push(`apk: ${path}: package ${name} has no version; skipped`);
      continue;
    }
    const arch = stanza.get('A');
    const origin = stanza.get('o');
    packages.push({ name, version, ecosystem: 'apk', purl: '', sourceName: origin ?? name, sourceVersion: version, ...(arch ? { arch } : {}), path });
    // F: starts a directory, R: names a file inside the latest F:. The stanza map joined repeated keys,
    // so re-read the raw lines in order for ownership.
  }
  let dir = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('F:')) dir = line.slice(2).trim();
    else if (line.startsWith('R:')) {
      const file = `${dir ? `${dir}/` : ''}${line.slice(2).trim()}`;
      if (LANGUAGE_MANIFEST.test(`/${file}`)) owned.push(file);
    }
  }
  return { packages, owned, ...(warnings.length ? { warnings } : {}) };
}

export const apkCataloger: Cataloger = {
  name: 'apk',
  version: 1,
  maxBytes: 64 * 1024 * 1024,
  wants: (f) => f.path === 'lib/apk/db/installed' || f.path === 'usr/lib/apk/db/installed',
  analyze: (file) => parseApkInstalled(file.content.toString('utf8'), file.path),
};
