import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { ImageInventory, InstalledPackage } from '../core/index.js';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { AdvisoryIndex, matchPackages } from './match.js';
import { validateOsvRecord, type OsvRecord } from './osv.js';
import { dpkgInventory, osvRecords, readImageFile } from './testing/fixtures.js';

function loadRecords(sub: string): OsvRecord[] {
  return osvRecords(sub).map(({ file, record }) => {
    const result = validateOsvRecord(record, file);
    expect(result.warnings).toEqual([]);
    return result.record!;
  });
}

function record(partial: Partial<Record<string, unknown>> & { id: string }): OsvRecord {
  const result = validateOsvRecord({ modified: '2026-01-01T00:00:00Z', ...partial }, 'inline.json');
  expect(result.warnings).toEqual([]);
  return result.record!;
}

function deb(name: string, version: string, source?: string, sourceVersion?: string): InstalledPackage {
  return { name, version, ecosystem: 'Debian', purl: `pkg:deb/debian/${name}@${version}`, ...(source ? { sourceName: source } : {}), ...(sourceVersion ? { sourceVersion } : {}) };
}

const debian12 = { id: 'debian', version: '12', ecosystem: 'Debian:12' };

describe.skipIf(!fixturesAvailable())('Debian 12 app image against Debian OSV records', () => {
  it('gives exactly EXPECTED-debian12-app.json', () => {
    const index = new AdvisoryIndex(loadRecords('debian'));
    const inventory = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'));
    expect(inventory.packages.length).toBeGreaterThan(88);
    const findings = matchPackages(inventory, index.lookup);
    const expected = JSON.parse(readFileSync(fixture('osv', 'debian', 'EXPECTED-debian12-app.json'), 'utf8')) as Array<{
      package: string; source: string; installed: string; fixed: string; id: string; cve: string;
    }>;
    const got = findings.map((f) => ({
      package: f.package.name,
      source: f.package.sourceName ?? f.package.name,
      installed: f.installedVersion,
      fixed: f.fixedVersion,
      id: f.id,
      cve: f.aliases.find((a) => a.startsWith('CVE-')),
    }));
    const key = (x: { package: string; id: string }): string => `${x.package} ${x.id}`;
    expect([...got].sort((a, b) => key(a).localeCompare(key(b)))).toEqual([...expected].sort((a, b) => key(a).localeCompare(key(b))));
    for (const f of findings) {
      expect(f.status).toBe('fixed');
      // Debian changelogs carry no rating: unknown, and said so.
      expect(f.severity).toBe('unknown');
      expect(f.severitySource).toBe('none');
      expect(f.command).toBe(`apt-get install --only-upgrade ${f.package.name}`);
    }
  });

  it('matches nothing for a Debian 11 image with the same packages', () => {
    const index = new AdvisoryIndex(loadRecords('debian'));
    const inventory = dpkgInventory(readImageFile('app', 'var/lib/dpkg/status'), { id: 'debian', version: '11', ecosystem: 'Debian:11' });
    expect(matchPackages(inventory, index.lookup)).toEqual([]);
  });

  it('npm packages of the app image against GitHub advisories', () => {
    const index = new AdvisoryIndex(loadRecords('npm'));
    const npm = (name: string, version: string): InstalledPackage => ({ name, version, ecosystem: 'npm', purl: `pkg:npm/${name}@${version}` });
    const inventory: ImageInventory = {
      os: debian12,
      packages: [npm('lodash', '4.17.20'), npm('minimist', '1.2.5'), npm('ms', '2.0.0'), npm('qs', '6.7.0'), npm('express', '4.17.1')],
    };
    const findings = matchPackages(inventory, index.lookup);
    const ids = (name: string): string[] => findings.filter((f) => f.package.name === name).map((f) => f.id).sort();
    expect(ids('lodash')).toEqual(['GHSA-29mw-wpgm-hmr9', 'GHSA-35jh-r3h4-6jhm', 'GHSA-xxjr-mmjv-4gpg']);
    expect(ids('minimist')).toEqual(['GHSA-xvch-5gv4-984h']);
    expect(ids('ms')).toEqual([]);
    expect(ids('qs')).toEqual(['GHSA-6rw7-vpxm-498p', 'GHSA-hrpp-h998-j3pp', 'GHSA-w7fw-mjwx-w883']);
    expect(ids('express')).toEqual(['GHSA-qw6h-vgh9-j6wx', 'GHSA-rv95-896h-c2vc']);
    const redos = findings.find((f) => f.id === 'GHSA-29mw-wpgm-hmr9')!;
    expect(redos).toMatchObject({
      aliases: ['CVE-2020-28500'],
      fixedVersion: '4.17.21',
      status: 'fixed',
      command: 'npm install lodash@4.17.21',
      severity: 'medium',
    });
    expect(['GHSA', 'CVSS_V3']).toContain(redos.severitySource);
  });

  it('Go stdlib and modules with SEMVER ranges', () => {
    const index = new AdvisoryIndex(loadRecords('go'));
    const go = (name: string, version: string): InstalledPackage => ({ name, version, ecosystem: 'Go', purl: `pkg:golang/${name}@${version}` });
    const findings = matchPackages({ packages: [go('stdlib', 'go1.19.8'), go('golang.org/x/text', 'v0.3.7')] }, index.lookup);
    const stdlib = findings.filter((f) => f.package.name === 'stdlib');
    // The fixture holds every record whose stdlib ranges include 1.19.8: 80 of them.
    expect(stdlib.length).toBe(80);
    expect(findings.some((f) => f.package.name === 'golang.org/x/text')).toBe(true);
    const none = matchPackages({ packages: [go('stdlib', 'go1.99.0')] }, index.lookup);
    expect(none).toEqual([]);
  });
});

describe('matching rules', () => {
  const openssl = record({
    id: 'DSA-5532-1',
    aliases: [],
    upstream: ['CVE-2023-5363', 'CVE-2023-5678'],
    summary: 'openssl security update',
    affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }], ecosystem_specific: { urgency: 'high' } }],
  });
  const cve = record({
    id: 'DEBIAN-CVE-2023-5363',
    aliases: ['DSA-5532-1'],
    upstream: ['CVE-2023-5363'],
    summary: 'CVE-2023-5363',
    affected: [{ package: { ecosystem: 'Debian:12', name: 'openssl' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.11-1~deb12u2' }] }] }],
    severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N' }],
  });
  const ghsa = record({
    id: 'GHSA-xxxx-yyyy-zzzz',
    aliases: ['CVE-2023-5363'],
    affected: [{ package: { ecosystem: 'npm', name: 'openssl' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }] }] }],
  });
  const index = new AdvisoryIndex([openssl, cve, ghsa]);

  it('merges aliases into one finding per package, matched by source package, distro rating preferred', () => {
    const findings = matchPackages({ os: debian12, packages: [deb('libssl3', '3.0.9-1', 'openssl'), deb('openssl', '3.0.9-1')] }, index.lookup);
    expect(findings.map((f) => [f.package.name, f.id])).toEqual([
      ['libssl3', 'DEBIAN-CVE-2023-5363'],
      ['openssl', 'DEBIAN-CVE-2023-5363'],
    ]);
    const f = findings[0]!;
    expect(f.aliases).toEqual(['CVE-2023-5363', 'CVE-2023-5678', 'DSA-5532-1']);
    expect(f.advisoryIds).toEqual(['DEBIAN-CVE-2023-5363', 'DSA-5532-1']);
    expect(f).toMatchObject({ severity: 'high', severitySource: 'Debian', fixedVersion: '3.0.11-1~deb12u2', status: 'fixed' });
    expect(f.remediation).toBe('Upgrade libssl3 to 3.0.11-1~deb12u2 or later: apt-get install --only-upgrade libssl3');
  });

  it('does not match the fixed version, other releases, or language advisories for OS packages', () => {
    expect(matchPackages({ os: debian12, packages: [deb('libssl3', '3.0.11-1~deb12u2', 'openssl')] }, index.lookup)).toEqual([]);
    expect(matchPackages({ os: { id: 'debian', version: '11' }, packages: [deb('libssl3', '3.0.9-1', 'openssl')] }, index.lookup)).toEqual([]);
    expect(matchPackages({ packages: [deb('libssl3', '3.0.9-1', 'openssl')] }, index.lookup)).toEqual([]);
    const npmOnly = matchPackages({ os: debian12, packages: [{ name: 'openssl', version: '1.0.0', ecosystem: 'npm', purl: 'pkg:npm/openssl@1.0.0' }] }, index.lookup);
    expect(npmOnly.map((f) => f.id)).toEqual(['GHSA-xxxx-yyyy-zzzz']);
    expect(npmOnly[0]).toMatchObject({ status: 'unfixed', severity: 'unknown', severitySource: 'none' });
  });

  it('derives the release ecosystem from os-release when the inventory does not name it', () => {
    const findings = matchPackages({ os: { id: 'debian', version: '12.4' }, packages: [deb('libssl3', '3.0.9-1', 'openssl')] }, index.lookup);
    expect(findings).toHaveLength(1);
  });

  it('evaluates last_affected, limit, versions lists and several ranges', () => {
    const r = record({
      id: 'PYSEC-1',
      affected: [
        { package: { ecosystem: 'PyPI', name: 'Django_Rest' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { last_affected: '1.4' }] }], versions: ['0.9'] },
        { package: { ecosystem: 'PyPI', name: 'other' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '2.0' }, { limit: '2.5' }] }] },
        { package: { ecosystem: 'PyPI', name: 'two' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0' }, { fixed: '1.2' }, { introduced: '2.0' }, { fixed: '2.3' }] }] },
      ],
    });
    const idx = new AdvisoryIndex([r]);
    const py = (name: string, version: string): InstalledPackage => ({ name, version, ecosystem: 'PyPI', purl: `pkg:pypi/${name}@${version}` });
    const hit = (name: string, version: string): string | undefined | null => {
      const f = matchPackages({ packages: [py(name, version)] }, idx.lookup);
      return f.length ? f[0]!.fixedVersion ?? null : undefined;
    };
    expect(hit('django-rest', '1.4')).toBeNull(); // last_affected is inclusive; PEP 503 names
    expect(hit('django-rest', '1.4.1')).toBeUndefined();
    expect(hit('django-rest', '0.9')).toBeNull(); // explicit versions list
    expect(hit('django-rest', '0.8')).toBeUndefined();
    expect(hit('other', '2.4')).toBeNull();
    expect(hit('other', '2.5')).toBeUndefined();
    expect(hit('two', '1.1')).toBe('1.2');
    expect(hit('two', '1.5')).toBeUndefined();
    expect(hit('two', '2.1')).toBe('2.3');
    expect(hit('two', '2.3')).toBeUndefined();
  });

  it('reports wont-fix where the source says so, and rates CVSS vectors when no vendor rating exists', () => {
    const r = record({
      id: 'ALSA-1',
      severity: [{ type: 'CVSS_V3', score: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H' }],
      affected: [{ package: { ecosystem: 'Alpine:v3.19', name: 'busybox' }, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }], database_specific: { status: 'will_not_fix' } }],
    });
    const f = matchPackages(
      { os: { id: 'alpine', version: '3.19.1' }, packages: [{ name: 'busybox-binsh', version: '1.36.1-r15', ecosystem: 'Alpine', sourceName: 'busybox', purl: 'pkg:apk/alpine/busybox-binsh' }] },
      new AdvisoryIndex([r]).lookup,
    );
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ status: 'wont-fix', severity: 'critical', severitySource: 'CVSS_V3', cvssScore: 9.8 });
    expect(f[0]!.fixedVersion).toBeUndefined();
  });
});
