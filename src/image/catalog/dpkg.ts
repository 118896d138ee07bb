import type { Cataloger, CatalogFile, FileAnalysis, FoundPackage } from './types.js';
import { LANGUAGE_MANIFEST, parseStanzas } from './stanzas.js';

/**
 * dpkg: `var/lib/dpkg/status` (and distroless `status.d/*`, one stanza per file). Only packages in
 * state "install ok installed" count. `info/*.list` files tell which files dpkg installed.
 * Ecosystem and purl are finished once the OS is known (Debian or Ubuntu): see assemble.ts.
 */
/** Debian policy 5.6.12: [epoch:]upstream[-revision]; anything else is a damaged record. */
const DEBIAN_VERSION = /^(?:\d+:)?\d[A-Za-z0-9.+~:-]*$/;

export function isDebianVersion(version: string): boolean {
  if (!DEBIAN_VERSION.test(version)) return false;
  const dash = version.lastIndexOf('-');
  return dash < 0 || /^[A-Za-z0-9.+~]+$/.test(version.slice(dash + 1));
}

export function parseDpkgStatus(text: string, path: string, warnings: string[] = []): FoundPackage[] {
  const packages: FoundPackage[] = [];
  for (const stanza of parseStanzas(text)) {
    const name = stanza.get('Package');
    const version = stanza.get('Version');
    if (!name || !version) continue;
    if (!isDebianVersion(version)) {
      warnings.push(`dpkg: ${path}: package ${name} has an invalid version "${version}"; skipped`);
      continue;
    }
    const status = stanza.get('Status');
    // status.d entries (distroless) carry no Status: their presence means installed.
    if (status !== undefined && status.split(/\s+/)[2] !== 'installed') continue;
    let sourceName = name;
    let sourceVersion = version;
    const source = stanza.get('Source');
    if (source) {
      const m = /^(\S+)(?:\s+\((.+)\))?$/.exec(source.trim());
      if (m) {
        sourceName = m[1]!;
        if (m[2]) sourceVersion = m[2].trim();
      }
    }
    const arch = stanza.get('Architecture');
    packages.push({ name, version, ecosystem: 'dpkg', purl: '', sourceName, sourceVersion, ...(arch ? { arch } : {}), path });
  }
  return packages;
}

export function parseDpkgList(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim().replace(/^\/+/, ''))
    .filter((l) => l && LANGUAGE_MANIFEST.test(`/${l}`));
}

const STATUS_D = /^var\/lib\/dpkg\/status\.d\/[^/]+$/;
const LIST = /^var\/lib\/dpkg\/info\/[^/]+\.list$/;

export const dpkgCataloger: Cataloger = {
  name: 'dpkg',
  version: 1,
  maxBytes: 64 * 1024 * 1024,
  wants: (f) => f.path === 'var/lib/dpkg/status' || (STATUS_D.test(f.path) && !f.path.endsWith('.md5sums')) || LIST.test(f.path),
  analyze(file: CatalogFile): FileAnalysis {
    const text = file.content.toString('utf8');
    if (LIST.test(file.path)) return { owned: parseDpkgList(text) };
    const warnings: string[] = [];
    const packages = parseDpkgStatus(text, file.path, warnings);
    return { packages, ...(warnings.length ? { warnings } : {}) };
  },
};
