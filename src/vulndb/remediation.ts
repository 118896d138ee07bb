/**
 * What to run to get rid of a vulnerable package, per ecosystem: the package manager's own
 * "upgrade this one package" command with the fixed version where the tool takes one.
 */
import type { FindingStatus } from '../core/index.js';
import { baseEcosystem, normalizeGoVersion } from './versions/index.js';

export interface Remediation {
  text: string;
  command?: string;
}

function shellWord(word: string): string {
  return /^[A-Za-z0-9@%+=:,./_-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** The command that upgrades `name` to `fixed` (or later) in `ecosystem`, if there is one. */
export function upgradeCommand(ecosystem: string, name: string, fixed: string): string | undefined {
  const n = shellWord(name);
  switch (baseEcosystem(ecosystem)) {
    case 'Debian':
    case 'Ubuntu':
      return `apt-get install --only-upgrade ${n}`;
    case 'Alpine':
    case 'Wolfi':
    case 'Chainguard':
      return `apk upgrade ${n}`;
    case 'Red Hat':
    case 'AlmaLinux':
    case 'Rocky Linux':
    case 'openEuler':
      return `dnf update ${n}`;
    case 'Amazon Linux':
      return `yum update ${n}`;
    case 'Azure Linux':
    case 'Mariner':
    case 'Photon OS':
      return `tdnf update ${n}`;
    case 'SUSE':
    case 'openSUSE':
      return `zypper update ${n}`;
    case 'npm':
      return `npm install ${shellWord(`${name}@${fixed}`)}`;
    case 'PyPI':
      return `pip install ${shellWord(`${name}>=${fixed}`)}`;
    case 'Go':
      if (name === 'stdlib' || name === 'toolchain') return undefined;
      return `go get ${shellWord(`${name}@v${normalizeGoVersion(fixed)}`)}`;
    case 'crates.io':
      return `cargo update -p ${n} --precise ${shellWord(fixed)}`;
    case 'RubyGems':
      return `bundle update ${n}`;
    case 'NuGet':
      return `dotnet add package ${n} --version ${shellWord(fixed)}`;
    case 'Packagist':
      return `composer require ${shellWord(`${name}:^${fixed}`)}`;
    default:
      return undefined;
  }
}

export function remediationFor(ecosystem: string, name: string, status: FindingStatus, fixed?: string): Remediation {
  if (status === 'fixed' && fixed) {
    const command = upgradeCommand(ecosystem, name, fixed);
    const base = baseEcosystem(ecosystem);
    let text = `Upgrade ${name} to ${fixed} or later`;
    if (base === 'Go' && (name === 'stdlib' || name === 'toolchain')) text = `Rebuild with Go ${normalizeGoVersion(fixed)} or later`;
    if (base === 'Maven') text += ` (set the dependency version of ${name} to ${fixed} in pom.xml or build.gradle)`;
    return command ? { text: `${text}: ${command}`, command } : { text };
  }
  if (status === 'wont-fix') return { text: `The vendor will not fix ${name}; remove the package or accept the risk` };
  return { text: `No fixed version of ${name} is available yet` };
}
