import type { Cataloger, CatalogFile, FileAnalysis, FoundPackage } from './types.js';
import { lazyModule } from '../../core/index.js';

/** Loaded when an image has an rpm database (most scanned here are Debian or Alpine). */
const rpmParser = lazyModule<typeof import('@snyk/rpm-parser')>('@snyk/rpm-parser');

/**
 * rpm databases in all three formats through @snyk/rpm-parser (a maintained reader of BerkeleyDB
 * `Packages`, NDB `Packages.db` and SQLite `rpmdb.sqlite`), plus the Azure Linux / Mariner distroless
 * `var/lib/rpmmanifest/container-manifest-2` text manifest.
 */

const DIRS = ['var/lib/rpm/', 'usr/lib/sysimage/rpm/'];
const FILES = ['Packages', 'Packages.db', 'rpmdb.sqlite'];
const MANIFEST = 'var/lib/rpmmanifest/container-manifest-2';

/** `name-version-release.src.rpm` → name and version-release (name may hold dashes). */
export function splitSourceRpm(sourceRpm: string): { name: string; version: string } | undefined {
  const m = /^(.+)-([^-]+)-([^-]+)\.(?:src|nosrc)\.rpm$/.exec(sourceRpm);
  return m ? { name: m[1]!, version: `${m[2]}-${m[3]}` } : undefined;
}

export function rpmVersion(epoch: number | undefined, version: string, release: string): string {
  return `${epoch ? `${epoch}:` : ''}${version}-${release}`;
}

function toPackage(p: { name: string; version: string; release: string; epoch?: number; arch?: string; sourceRPM?: string }, path: string): FoundPackage {
  const version = rpmVersion(p.epoch, p.version, p.release);
  const source = p.sourceRPM ? splitSourceRpm(p.sourceRPM) : undefined;
  return {
    name: p.name,
    version,
    ecosystem: 'rpm',
    purl: '',
    sourceName: source?.name ?? p.name,
    // Source rpms carry no epoch in their file name; the binary's epoch applies.
    sourceVersion: source ? `${p.epoch ? `${p.epoch}:` : ''}${source.version}` : version,
    ...(p.arch ? { arch: p.arch } : {}),
    path,
  };
}

export async function parseRpmDatabase(content: Buffer, path: string): Promise<FileAnalysis> {
  const file = path.slice(path.lastIndexOf('/') + 1);
  const { getPackages, getPackagesNdb, getPackagesSqlite } = rpmParser();
  const response = file === 'rpmdb.sqlite' ? await getPackagesSqlite(content) : file === 'Packages.db' ? await getPackagesNdb(content) : await getPackages(content);
  if (response.error) throw new Error(`not a readable rpm database: ${response.error.message}`);
  // gpg-pubkey entries are keys imported into the database, not installed software.
  const packages = response.response.filter((p) => p && p.name && p.version && p.name !== 'gpg-pubkey').map((p) => toPackage(p, path));
  return { packages };
}

/** Tab-separated lines: name, version-release, install time, build time, vendor, epoch, size, arch, signature, source rpm. */
export function parseRpmManifest(text: string, path: string): FileAnalysis {
  const packages: FoundPackage[] = [];
  const warnings: string[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const f = line.split('\t');
    if (f.length < 10) {
      warnings.push(`rpm: ${path}: unreadable line "${line.slice(0, 80)}"`);
      continue;
    }
    const dash = f[1]!.lastIndexOf('-');
    if (dash <= 0) continue;
    const epoch = /^\d+$/.test(f[5]!) ? Number(f[5]) : undefined;
    packages.push(toPackage({ name: f[0]!, version: f[1]!.slice(0, dash), release: f[1]!.slice(dash + 1), ...(epoch ? { epoch } : {}), arch: f[7]!, sourceRPM: f[9]! }, path));
  }
  return { packages, ...(warnings.length ? { warnings } : {}) };
}

export const rpmCataloger: Cataloger = {
  name: 'rpm',
  version: 1,
  maxBytes: 256 * 1024 * 1024,
  wants: (f) => f.path === MANIFEST || DIRS.some((d) => f.path.startsWith(d) && FILES.includes(f.path.slice(d.length))),
  analyze(file: CatalogFile) {
    if (file.path === MANIFEST) return parseRpmManifest(file.content.toString('utf8'), file.path);
    return parseRpmDatabase(file.content, file.path);
  },
};
