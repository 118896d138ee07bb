/**
 * Test-only readers for the shared fixtures: real version strings, and the dpkg status of the
 * debian12 images. Reading images is src/image's job; these tiny helpers only feed vulndb tests.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fixture } from '../../../test/support/fixtures.js';
import type { ImageInventory, InstalledPackage } from '../../core/index.js';
import { AdvisoryFile, AdvisoryFileBuilder, type AdvisoryFileStatus } from '../file.js';
import { packageKey } from '../match.js';
import { validateOsvRecord, type OsvRecord } from '../osv.js';
import { baseEcosystem } from '../versions/index.js';

export interface DpkgStanza {
  Package: string;
  Version: string;
  Status?: string;
  Source?: string;
  Architecture?: string;
  [field: string]: string | undefined;
}

export function parseStatusStanzas(text: string): DpkgStanza[] {
  const out: DpkgStanza[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields: Record<string, string> = {};
    let last = '';
    for (const line of block.split('\n')) {
      if (/^\s/.test(line) && last) continue;
      const m = /^([A-Za-z0-9-]+):\s*(.*)$/.exec(line);
      if (m) {
        last = m[1]!;
        fields[last] = m[2]!;
      }
    }
    if (fields.Package && fields.Version) out.push(fields as DpkgStanza);
  }
  return out;
}

/** The last layer holding `file` wins, as in the image's merged filesystem. */
export function readImageFile(tag: string, file: string): string {
  const layout = fixture('images', 'debian12');
  const index = JSON.parse(readFileSync(path.join(layout, 'index.json'), 'utf8')) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const entry = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!entry) throw new Error(`no tag ${tag} in ${layout}`);
  const blob = (digest: string): string => path.join(layout, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob(entry.digest), 'utf8')) as { layers: Array<{ digest: string }> };
  for (const layer of [...manifest.layers].reverse()) {
    try {
      return execFileSync('tar', ['-xzOf', blob(layer.digest), file], { maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'ignore'] }).toString('utf8');
    } catch {
      // not in this layer
    }
  }
  throw new Error(`${file} not found in ${tag}`);
}

/** Installed dpkg packages as an inventory (source name/version from `Source: name (version)`). */
export function dpkgInventory(statusText: string, os = { id: 'debian', version: '12', ecosystem: 'Debian:12' }): ImageInventory {
  const packages: InstalledPackage[] = [];
  for (const s of parseStatusStanzas(statusText)) {
    if (s.Status && !s.Status.endsWith(' installed')) continue;
    const src = s.Source ? /^(\S+)(?:\s+\((.+)\))?$/.exec(s.Source) : null;
    const pkg: InstalledPackage = {
      name: s.Package,
      version: s.Version,
      ecosystem: 'Debian',
      purl: `pkg:deb/debian/${s.Package}@${encodeURIComponent(s.Version)}?arch=${s.Architecture ?? 'all'}&distro=debian-${os.version}`,
      sourceName: src?.[1] ?? s.Package,
    };
    if (src?.[2]) pkg.sourceVersion = src[2];
    packages.push(pkg);
  }
  return { os, packages };
}

function walk(dir: string, match: (file: string) => boolean): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...walk(p, match));
    else if (match(p)) out.push(p);
  }
  return out;
}

/** Every dpkg status file under fixtures/pkgdb. */
export function pkgdbStatusFiles(): string[] {
  return walk(fixture('pkgdb'), (p) => p.endsWith(path.join('var', 'lib', 'dpkg', 'status')));
}

/** Every OSV record under fixtures/osv (parsed). */
export function osvRecords(sub = ''): Array<{ file: string; record: Record<string, unknown> }> {
  return walk(fixture('osv', sub), (p) => p.endsWith('.json') && !path.basename(p).startsWith('EXPECTED'))
    .map((file) => ({ file, record: JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> }));
}

/** All version strings named in OSV ranges and versions lists, grouped by package name. */
export function osvVersionsByPackage(sub = ''): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const { record } of osvRecords(sub)) {
    type RawAffected = { package?: { name?: string }; ranges?: Array<{ events?: Array<Record<string, unknown>> }>; versions?: unknown[] };
    for (const affected of (record.affected as RawAffected[] | undefined) ?? []) {
      const name = String(affected.package?.name ?? '');
      const set = out.get(name) ?? new Set<string>();
      for (const range of affected.ranges ?? []) {
        for (const event of range.events ?? []) for (const v of Object.values(event)) if (typeof v === 'string') set.add(v);
      }
      for (const v of affected.versions ?? []) if (typeof v === 'string') set.add(v);
      out.set(name, set);
    }
  }
  return out;
}

/** Deterministic pseudo-random numbers (mulberry32) so drawn pairs are the same every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function hasBinary(name: string): boolean {
  return (process.env.PATH ?? '').split(path.delimiter).some((dir) => dir !== '' && existsSync(path.join(dir, name)));
}

/** Writes an advisory database file of `records` (as publishing does from the store's tables) and opens it. */
export async function writeRecordsFile(file: string, records: readonly OsvRecord[], status: AdvisoryFileStatus = { advisories: records.length, ecosystems: [] }): Promise<AdvisoryFile> {
  const builder = new AdvisoryFileBuilder();
  for (const r of records) for (const a of r.affected) builder.addPosting(baseEcosystem(a.package.ecosystem), packageKey(a.package.ecosystem, a.package.name), r.id);
  const byId = new Map(records.map((r) => [r.id, r]));
  await builder.write(file, builder.recordOrder().map((id) => ({ id, json: JSON.stringify(byId.get(id)) })), { generation: 'fixture', builtAt: new Date(0), status });
  return AdvisoryFile.open(file);
}

/** The fixture records of `subs` (osv/debian, osv/npm, ...), validated as an import would. */
export function validRecords(...subs: string[]): OsvRecord[] {
  return subs.flatMap((sub) => osvRecords(sub)).map(({ file, record }) => validateOsvRecord(record, file).record).filter((r): r is OsvRecord => r !== undefined);
}
