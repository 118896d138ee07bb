import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import {
  apkVersionSatisfies,
  compareApkVersions,
  compareDpkgVersions,
  compareRpmVersions,
  compareVersions,
  isValidApkVersion,
  isValidDpkgVersion,
  rpmvercmp,
  versionScheme,
} from './index.js';

function lines(file: string): string[] {
  return readFileSync(fixture('versions', file), 'utf8').split('\n');
}

function triples(file: string): Array<[string, string, number]> {
  return lines(file)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [a, b, r] = l.split(' ');
      return [a!, b!, Number(r)];
    });
}

describe.skipIf(!fixturesAvailable())('upstream version vectors', () => {
  it('dpkg.txt: every pair, both directions', () => {
    const cases = triples('dpkg.txt');
    expect(cases.length).toBeGreaterThanOrEqual(40);
    for (const [a, b, r] of cases) {
      expect(compareDpkgVersions(a, b), `${a} vs ${b}`).toBe(r);
      expect(compareDpkgVersions(b, a), `${b} vs ${a}`).toBe(r === 0 ? 0 : -r);
    }
  });

  it('Dpkg_Version.t: __DATA__ pairs, validity checks and the sort vector', () => {
    const text = readFileSync(fixture('versions', 'Dpkg_Version.t'), 'utf8');
    const data = text.slice(text.indexOf('__DATA__') + 9).split('\n').filter((l) => l.trim());
    expect(data.length).toBeGreaterThanOrEqual(40);
    for (const line of data) {
      const [a, b, r] = line.split(' ');
      expect(isValidDpkgVersion(a!), a).toBe(true);
      expect(isValidDpkgVersion(b!), b).toBe(true);
      expect(compareDpkgVersions(a!, b!), line).toBe(Number(r));
    }
    // `$x = Dpkg::Version->new('V'); ... ok(! $x->is_valid(), ...)` marks V invalid.
    const invalid = [...text.matchAll(/\$(\w+) = Dpkg::Version->new\('([^']*)'\);\n(?:.*\n){0,3}?ok\(! \$\1->is_valid\(\)/g)].map((m) => m[2]!);
    expect(invalid).toEqual(expect.arrayContaining(['', '-0', '0:-0', ':1.0', '1.0-', '10a:5.2', '5.2@3-2', 'foo5.2', '0:foo5.2']));
    for (const v of invalid) expect(isValidDpkgVersion(v), `'${v}' must be invalid`).toBe(false);
    for (const v of ['1.0', '1:1.0', '1:1.0:1.0', '1.0-1', '1.0-1.0-1']) expect(isValidDpkgVersion(v), v).toBe(true);
    // The first qw() pair is the version_compare sort.
    const blocks = [...text.matchAll(/@versions_(unsorted|expected) = qw\(([^)]*)\)/g)].map((m) => m[2]!.trim().split(/\s+/));
    const [unsorted, expected] = [blocks[0]!, blocks[1]!];
    expect([...unsorted].sort(compareDpkgVersions)).toEqual(expected);
  });

  it('apk.txt: every comparison and validity line of apk-tools', () => {
    let checked = 0;
    for (const raw of lines('apk.txt')) {
      const line = raw.replace(/#.*/, '').trim();
      if (!line) continue;
      const parts = line.split(/\s+/);
      if (parts.length === 1) {
        const v = parts[0]!;
        if (v.startsWith('!')) expect(isValidApkVersion(v.slice(1)), `${v} invalid`).toBe(false);
        else expect(isValidApkVersion(v), `${v} valid`).toBe(true);
      } else {
        const [a, op, b] = parts as [string, string, string];
        expect(apkVersionSatisfies(a, op, b), line).toBe(true);
        if (/^[<>=]$/.test(op)) {
          const r = compareApkVersions(a, b);
          expect(r, line).toBe(op === '<' ? -1 : op === '>' ? 1 : 0);
          expect(compareApkVersions(b, a), `${line} reversed`).toBe(r === 0 ? 0 : -r);
        }
      }
      checked++;
    }
    expect(checked).toBeGreaterThan(700);
  });

  it('rpm.txt and rpmvercmp.at: every active rpmvercmp case', () => {
    const cases = triples('rpm.txt');
    const at = lines('rpmvercmp.at')
      .map((l) => /^RPMVERCMP\((.*), (.*), (-?\d)\)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m): [string, string, number] => [m[1]!, m[2]!, Number(m[3])]);
    expect(at).toEqual(cases);
    expect(cases.length).toBe(91);
    for (const [a, b, r] of cases) {
      expect(rpmvercmp(a, b), `${a} vs ${b}`).toBe(r);
      expect(rpmvercmp(b, a), `${b} vs ${a}`).toBe(r === 0 ? 0 : -r);
    }
  });
});

describe('rpm EVR', () => {
  it('compares epoch, then version, then release (a missing release sorts first)', () => {
    expect(compareRpmVersions('1:1.0-1', '2.0-1')).toBe(1);
    expect(compareRpmVersions('0:1.0-1', '1.0-1')).toBe(0);
    expect(compareRpmVersions('1.0', '1.0-5')).toBe(-1);
    expect(compareRpmVersions('1.0', '1.0-')).toBe(-1);
    expect(compareRpmVersions('1.0-1.el8', '1.0-1.el8_8')).toBe(-1);
    expect(compareRpmVersions('3.0.7-27.el9', '3.0.7-24.el9')).toBe(1);
  });
});

describe('compareVersions dispatch', () => {
  const cases: Array<[string, string, string, number]> = [
    ['Debian:12', '3.0.11-1~deb12u2', '3.0.11-1', -1],
    ['Ubuntu:22.04:LTS', '1:2.0', '3.0', 1],
    ['Alpine:v3.19', '3.1.4-r5', '3.1.4-r10', -1],
    ['Wolfi', '1.2.3_rc1-r0', '1.2.3-r0', -1],
    ['Red Hat:enterprise_linux:9', '1:1.1.1k-7.el8_6', '1:1.1.1k-12.el8_9', -1],
    ['npm', '4.17.20', '4.17.21', -1],
    ['npm', '1.0.0-beta.2', '1.0.0-beta.11', -1],
    ['npm', '1.0.0+build.5', '1.0.0', 0],
    ['crates.io', '0.10.0', '0.9.9', 1],
    ['Go', 'v0.0.0-20210921155107-089bfa567519', 'v0.0.0-20211202192323-5770296d904e', -1],
    ['Go', 'v0.17.0', 'v0.0.0-20230321023759-10a507213a29', 1],
    ['Go', 'v2.3.0+incompatible', 'v2.3.0', 0],
    ['Go', 'go1.19.8', '1.19.9', -1],
    ['Go', 'go1.21rc2', '1.21.0', -1],
    ['PyPI', '1.0a1', '1.0', -1],
    ['PyPI', '1.0.post1', '1.0', 1],
    ['PyPI', '1.0', '1.0.0', 0],
    ['PyPI', '2.0.dev1', '2.0a1', -1],
    ['Maven', '1.0-alpha-1', '1.0', -1],
    ['Maven', '1.0-SNAPSHOT', '1.0', -1],
    ['Maven', '1.0-RC1', '1.0-SNAPSHOT', -1],
    ['Maven', '1.0.0', '1', 0],
    ['Maven', '1.0.Final', '1.0', 0],
    ['Maven', '1.0-sp1', '1.0', 1],
    ['Maven', '2.13.4.2', '2.13.4', 1],
    ['Maven', '1.0.1', '1.0-xyz', 1],
    ['RubyGems', '1.0.0.pre', '1.0.0', -1],
    ['RubyGems', '1.0', '1.0.0', 0],
    ['RubyGems', '1.0.0-rc1', '1.0.0', -1],
    ['RubyGems', '1.10', '1.9', 1],
    ['NuGet', '1.0.0-beta', '1.0.0', -1],
    ['NuGet', '1.0.0.0', '1.0', 0],
    ['NuGet', '1.0.0-Beta.2', '1.0.0-beta.10', -1],
    ['NuGet', '1.0.0-alpha', '1.0.0-alpha.1', -1],
    ['NuGet', '1.0.0+abc', '1.0.0', 0],
    ['Packagist', 'v1.2.3', '1.2.3', 0],
    ['Packagist', '1.0.0-RC1', '1.0.0', -1],
    ['Packagist', '1.0.0-beta2', '1.0.0-RC1', -1],
    ['Packagist', '1.0.0-dev', '1.0.0-alpha1', -1],
    ['Packagist', '1.0.0-p1', '1.0.0', 1],
    ['Packagist', '1.0', '1.0.0', 0],
    ['Packagist', '5.4.10', '5.4.9', 1],
  ];
  it.each(cases)('%s: %s vs %s', (eco, a, b, r) => {
    expect(compareVersions(eco, a, b)).toBe(r);
    expect(compareVersions(eco, b, a)).toBe(r === 0 ? 0 : -r);
  });

  it('names the scheme per ecosystem and rejects unknown ecosystems', () => {
    expect(versionScheme('Debian:11')).toBe('dpkg');
    expect(versionScheme('Amazon Linux:2023')).toBe('rpm');
    expect(versionScheme('Chainguard')).toBe('apk');
    expect(() => compareVersions('Nonsense', '1', '2')).toThrow(/no version ordering/);
  });
});
