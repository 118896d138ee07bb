import type { OperatingSystem } from '../../core/index.js';
import type { Cataloger, OsCandidate } from './types.js';

/**
 * OS identification from release files. os-release (both /etc and /usr/lib) wins; the older
 * distro-specific files are the fallback for images that predate it (CentOS 5, Debian 6, …).
 */

const FILES: Record<string, number> = {
  'etc/os-release': 0,
  'usr/lib/os-release': 1,
  'etc/alpine-release': 2,
  'etc/oracle-release': 3,
  'etc/enterprise-release': 4,
  'etc/centos-release': 5,
  'etc/redhat-release': 6,
  'etc/system-release': 7,
  'etc/lsb-release': 8,
  'etc/debian_version': 9,
};

export function parseKeyValues(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    let value = line.slice(eq + 1).trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) value = value.slice(1, -1);
    out[line.slice(0, eq).trim()] = value.replace(/\\(["'\\$`])/g, '$1');
  }
  return out;
}

const RELEASE_NAMES: Array<[RegExp, string]> = [
  [/^red hat enterprise linux/i, 'rhel'],
  [/^centos/i, 'centos'],
  [/^(oracle linux|enterprise linux)/i, 'ol'],
  [/^fedora/i, 'fedora'],
  [/^rocky/i, 'rocky'],
  [/^alma/i, 'almalinux'],
  [/^amazon linux/i, 'amzn'],
];

/** Parses one release file; undefined when the file does not say which OS it is. */
export function parseReleaseFile(path: string, text: string): OsCandidate | undefined {
  const priority = FILES[path] ?? 99;
  const first = text.split('\n')[0]?.trim() ?? '';
  switch (path) {
    case 'etc/os-release':
    case 'usr/lib/os-release': {
      const kv = parseKeyValues(text);
      const id = kv.ID?.toLowerCase();
      if (!id) return undefined;
      let version = kv.VERSION_ID ?? '';
      // Debian testing/unstable ship no VERSION_ID.
      if (!version && id === 'debian') version = 'unstable';
      return { id, version, ...(kv.PRETTY_NAME ? { prettyName: kv.PRETTY_NAME } : {}), priority };
    }
    case 'etc/alpine-release':
      return /^\d+\.\d+(\.\d+)?/.test(first) ? { id: 'alpine', version: first, priority } : undefined;
    case 'etc/debian_version':
      if (/^\d+(\.\d+)*$/.test(first)) return { id: 'debian', version: first, priority };
      if (/^[a-z]+\/sid$/.test(first)) return { id: 'debian', version: 'unstable', priority };
      return undefined;
    case 'etc/lsb-release': {
      const kv = parseKeyValues(text);
      if (!kv.DISTRIB_ID || !kv.DISTRIB_RELEASE) return undefined;
      return { id: kv.DISTRIB_ID.toLowerCase(), version: kv.DISTRIB_RELEASE, priority };
    }
    default: {
      const m = /^(.*?)\s+release\s+(\d+(?:\.\d+)*)/i.exec(first);
      if (!m) return undefined;
      const id = RELEASE_NAMES.find(([re]) => re.test(m[1]!))?.[1];
      return id ? { id, version: m[2]!, priority } : undefined;
    }
  }
}

export const osCataloger: Cataloger = {
  name: 'os',
  version: 1,
  maxBytes: 64 * 1024,
  wants: (f) => f.path in FILES,
  analyze(file) {
    const os = parseReleaseFile(file.path, file.content.toString('utf8'));
    return os ? { os } : { warnings: [`os: ${file.path} does not name an operating system`] };
  },
};

function major(version: string): string {
  return version.split('.')[0] ?? version;
}

/** The OSV ecosystem whose advisories apply to this OS's packages. */
export function osEcosystem(id: string, version: string): string | undefined {
  switch (id) {
    case 'debian':
      return version === 'unstable' ? undefined : `Debian:${major(version)}`;
    case 'ubuntu':
      return `Ubuntu:${version}`;
    case 'alpine': {
      const [a, b] = version.split('.');
      return b !== undefined ? `Alpine:v${a}.${b}` : undefined;
    }
    case 'rhel':
      return `Red Hat:${major(version)}`;
    case 'almalinux':
      return `AlmaLinux:${major(version)}`;
    case 'rocky':
      return `Rocky Linux:${major(version)}`;
    case 'azurelinux':
      return `Azure Linux:${major(version)}`;
    case 'mariner':
      return `Mariner:${major(version)}`;
    case 'amzn':
      return `Amazon Linux:${version}`;
    case 'sles':
    case 'sles_sap':
      return `SUSE:Linux Enterprise Server ${version}`;
    case 'opensuse-leap':
      return `openSUSE:Leap ${version}`;
    case 'wolfi':
      return 'Wolfi';
    case 'chainguard':
      return 'Chainguard';
    default:
      return undefined;
  }
}

/** The ecosystem name (without release) an OS's own packages are matched in. */
export function osPackageEcosystem(id: string | undefined): string | undefined {
  const map: Record<string, string> = {
    debian: 'Debian', ubuntu: 'Ubuntu', alpine: 'Alpine', wolfi: 'Wolfi', chainguard: 'Chainguard', rhel: 'Red Hat',
    almalinux: 'AlmaLinux', rocky: 'Rocky Linux', sles: 'SUSE', sles_sap: 'SUSE', 'opensuse-leap': 'openSUSE',
    azurelinux: 'Azure Linux', mariner: 'Mariner', amzn: 'Amazon Linux', centos: 'Red Hat', ol: 'Oracle Linux', fedora: 'Fedora',
  };
  return id ? map[id] : undefined;
}

export function chooseOs(candidates: OsCandidate[], distroless: boolean): OperatingSystem | undefined {
  const best = [...candidates].sort((a, b) => a.priority - b.priority)[0];
  if (!best) return undefined;
  const ecosystem = osEcosystem(best.id, best.version);
  return {
    id: best.id,
    version: best.version,
    ...(best.prettyName ? { prettyName: best.prettyName } : {}),
    ...(ecosystem ? { ecosystem } : {}),
    ...(distroless ? { distroless: true } : {}),
  };
}
