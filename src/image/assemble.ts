import type { ImageInventory, InstalledPackage, OperatingSystem } from '../core/index.js';
import { chooseOs, osPackageEcosystem } from './catalog/os.js';
import { purl } from './catalog/purl.js';
import type { FoundPackage, OsCandidate } from './catalog/types.js';
import type { LayerAnalysis } from './layers.js';
import { mergeLayers } from './merge.js';

/**
 * Turns per-layer analyses into the image's inventory: merge the layers, pick the OS, finish OS
 * package ecosystems and purls (a dpkg package is Debian's or Ubuntu's depending on the OS), name the
 * layer that introduced each package, and drop language packages an OS package manager installed.
 */

const OS_TYPES = new Set(['dpkg', 'apk', 'rpm']);

export interface Assembled {
  inventory: ImageInventory;
  warnings: string[];
}

export function assembleInventory(layers: readonly LayerAnalysis[]): Assembled {
  const view = mergeLayers(layers);
  const warnings = layers.flatMap((l) => l.warnings);
  const candidates: OsCandidate[] = [];
  const owned = new Set<string>();
  const found: Array<{ pkg: FoundPackage; layerIndex: number; cataloger: string; recordPath: string; canonicalPath: string }> = [];
  for (const file of view.files) {
    const a = file.analysis;
    if (a.os) candidates.push(a.os);
    for (const o of a.owned ?? []) owned.add(view.resolve(o, false) ?? o);
    for (const pkg of a.packages ?? []) found.push({ pkg, layerIndex: file.layerIndex, cataloger: file.cataloger, recordPath: file.path, canonicalPath: file.canonicalPath });
    for (const w of a.warnings ?? []) warnings.push(w);
  }
  const paths = new Set(view.files.map((f) => f.canonicalPath));
  const hasStatus = paths.has('var/lib/dpkg/status');
  const hasStatusD = view.files.some((f) => f.cataloger === 'dpkg' && f.canonicalPath.startsWith('var/lib/dpkg/status.d/'));
  const hasRpmDb = view.files.some((f) => f.cataloger === 'rpm' && !f.canonicalPath.startsWith('var/lib/rpmmanifest/'));
  const hasRpmManifest = paths.has('var/lib/rpmmanifest/container-manifest-2');
  const distroless = (hasStatusD && !hasStatus) || (hasRpmManifest && !hasRpmDb);
  const os = chooseOs(candidates, distroless);

  // Which layer first held each package at the same path: that is the layer that introduced it.
  const firstSeen = new Map<string, number>();
  layers.forEach((layer, index) => {
    for (const file of layer.files) {
      for (const p of file.analysis.packages ?? []) {
        const key = `${file.cataloger}\0${file.path}\0${p.name}\0${p.version}\0${p.arch ?? ''}`;
        if (!firstSeen.has(key)) firstSeen.set(key, index);
      }
    }
  });

  const seen = new Set<string>();
  const packages: InstalledPackage[] = [];
  for (const { pkg, layerIndex, cataloger, recordPath, canonicalPath } of found) {
    const isOs = OS_TYPES.has(pkg.ecosystem);
    // Report the real location: a file written through a symlinked directory lives at its target.
    const raw = pkg.path ?? recordPath;
    const path = raw.startsWith(recordPath) ? canonicalPath + raw.slice(recordPath.length) : raw;
    if (!isOs && isOwned(path, owned)) continue;
    const introduced = firstSeen.get(`${cataloger}\0${recordPath}\0${pkg.name}\0${pkg.version}\0${pkg.arch ?? ''}`) ?? layerIndex;
    const finished = isOs ? finishOsPackage(pkg, os) : pkg;
    const key = `${finished.ecosystem}\0${finished.name}\0${finished.version}\0${finished.arch ?? ''}\0${path}`;
    if (seen.has(key)) continue;
    seen.add(key);
    packages.push({ ...finished, path, layer: layers[introduced]!.diffId });
  }
  packages.sort(comparePackages);
  return { inventory: { ...(os ? { os } : {}), packages }, warnings };
}

function isOwned(path: string, owned: Set<string>): boolean {
  if (owned.size === 0) return false;
  const archive = path.split('!')[0]!;
  if (owned.has(archive)) return true;
  // `foo.egg-info/PKG-INFO` is owned when dpkg lists the egg-info directory or file.
  const dir = archive.slice(0, archive.lastIndexOf('/'));
  return /\.(?:egg|dist)-info$/.test(dir) && owned.has(dir);
}

function comparePackages(a: InstalledPackage, b: InstalledPackage): number {
  const ka = `${a.ecosystem}\0${a.name}\0${a.version}\0${a.arch ?? ''}\0${a.path ?? ''}`;
  const kb = `${b.ecosystem}\0${b.name}\0${b.version}\0${b.arch ?? ''}\0${b.path ?? ''}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

const RPM_NAMESPACE: Record<string, string> = {
  rhel: 'redhat', centos: 'centos', almalinux: 'almalinux', rocky: 'rocky', fedora: 'fedora', ol: 'oracle', amzn: 'amazon',
  sles: 'suse', sles_sap: 'suse', 'opensuse-leap': 'opensuse', azurelinux: 'azurelinux', mariner: 'mariner',
};

/** OS packages get their ecosystem and purl from the OS: the same dpkg entry is Debian's or Ubuntu's. */
export function finishOsPackage(pkg: FoundPackage, os: OperatingSystem | undefined): FoundPackage {
  const distro = os ? `${os.id}-${os.version}` : undefined;
  const ecosystem = osPackageEcosystem(os?.id) ?? { dpkg: 'Debian', apk: 'Alpine', rpm: 'Red Hat' }[pkg.ecosystem] ?? pkg.ecosystem;
  const arch = pkg.arch;
  switch (pkg.ecosystem) {
    case 'dpkg':
      return { ...pkg, ecosystem, purl: purl('deb', os?.id ?? 'debian', pkg.name, pkg.version, { arch, distro, upstream: pkg.sourceName !== pkg.name ? pkg.sourceName : undefined }) };
    case 'apk':
      return { ...pkg, ecosystem, purl: purl('apk', os?.id ?? 'alpine', pkg.name, pkg.version, { arch, distro }) };
    default: {
      const colon = pkg.version.indexOf(':');
      const epoch = colon > 0 ? pkg.version.slice(0, colon) : undefined;
      const version = colon > 0 ? pkg.version.slice(colon + 1) : pkg.version;
      return { ...pkg, ecosystem, purl: purl('rpm', RPM_NAMESPACE[os?.id ?? ''] ?? os?.id ?? 'redhat', pkg.name, version, { arch, epoch, distro }) };
    }
  }
}
