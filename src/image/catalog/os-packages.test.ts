import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../../test/support/fixtures.js';
import { parseApkInstalled } from './apk.js';
import { parseDpkgList, parseDpkgStatus } from './dpkg.js';
import { chooseOs, osCataloger } from './os.js';
import { parseRpmDatabase, parseRpmManifest, splitSourceRpm } from './rpm.js';
import type { OsCandidate } from './types.js';

const PKGDB = fixture('pkgdb');
const json = async <T>(file: string) => JSON.parse(await readFile(file, 'utf8')) as T;

async function filesUnder(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await filesUnder(root, p)));
    else out.push(p);
  }
  return out;
}

describe.skipIf(!fixturesAvailable())('OS detection on real release files (snyk-docker-plugin fixtures)', () => {
  it('identifies every distribution as Snyk expects, and nothing from corrupt files', async () => {
    const expected = await json<{ dirs: Record<string, { expected: { name: string; version: string; prettyName: string } }> }>(path.join(PKGDB, 'snyk-os/expected.json'));
    const dirs = (await readdir(path.join(PKGDB, 'snyk-os'), { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    let checked = 0;
    for (const dir of dirs) {
      const root = path.join(PKGDB, 'snyk-os', dir, 'fs');
      const candidates: OsCandidate[] = [];
      for (const file of await filesUnder(root)) {
        const facts = { path: file, size: 0, mode: 0o644 };
        if (!osCataloger.wants!(facts)) continue;
        const analysis = await osCataloger.analyze!({ ...facts, content: await readFile(path.join(root, file)) });
        if (analysis?.os) candidates.push(analysis.os);
      }
      const os = chooseOs(candidates, false);
      const want = expected.dirs[dir]?.expected;
      if (dir.endsWith('_corrupt')) {
        expect(os, dir).toBeUndefined();
        continue;
      }
      expect(want, dir).toBeDefined();
      // Snyk names Oracle Linux "oracle" and cuts some versions to the major; os-release says "ol" and keeps VERSION_ID.
      expect(os?.id === 'ol' ? 'oracle' : os?.id, dir).toBe(want!.name);
      const majorOnly = ['centos', 'debian', 'oracle', 'rhel'].includes(want!.name) && want!.version !== 'unstable';
      const version = majorOnly ? os!.version.split('.')[0] : os!.version;
      if (want!.name === 'sles') expect(Number(version), dir).toBe(Number(want!.version));
      else expect(version, dir).toBe(want!.version);
      if (want!.prettyName) expect(os?.prettyName, dir).toBe(want!.prettyName);
      checked++;
    }
    expect(checked).toBe(21);
  });

  it('maps OSes to the OSV ecosystem their advisories use', () => {
    expect(chooseOs([{ id: 'debian', version: '12', priority: 0 }], false)?.ecosystem).toBe('Debian:12');
    expect(chooseOs([{ id: 'alpine', version: '3.19.1', priority: 0 }], false)?.ecosystem).toBe('Alpine:v3.19');
    expect(chooseOs([{ id: 'ubuntu', version: '22.04', priority: 0 }], true)).toMatchObject({ ecosystem: 'Ubuntu:22.04', distroless: true });
    // os-release beats the older release files whatever the order they were read in.
    expect(chooseOs([{ id: 'debian', version: '12.4', priority: 9 }, { id: 'ubuntu', version: '22.04', priority: 0 }], false)?.id).toBe('ubuntu');
  });
});

type TrivyDpkg = { Name: string; Version: string; Release?: string; Epoch?: number | null; SrcName: string; SrcVersion: string; SrcRelease?: string; SrcEpoch?: number | null; Arch?: string };
const full = (epoch: number | null | undefined, version: string, release: string | undefined) => `${epoch ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}`;

describe.skipIf(!fixturesAvailable())('dpkg status files (Trivy fixtures)', () => {
  it('reads exactly the installed packages of every case, with source packages', async () => {
    const expected = await json<{ cases: Record<string, TrivyDpkg[]> }>(path.join(PKGDB, 'dpkg/expected.json'));
    for (const [name, packages] of Object.entries(expected.cases)) {
      const text = await readFile(path.join(PKGDB, 'dpkg', name, 'var/lib/dpkg/status'), 'utf8');
      const found = parseDpkgStatus(text, 'var/lib/dpkg/status');
      const got = found.map((p) => `${p.name}@${p.version} src=${p.sourceName}@${p.sourceVersion} ${p.arch}`).sort();
      const want = packages.map((p) => `${p.Name}@${full(p.Epoch, p.Version, p.Release)} src=${p.SrcName}@${full(p.SrcEpoch, p.SrcVersion, p.SrcRelease)} ${p.Arch}`).sort();
      expect(got, name).toEqual(want);
    }
    expect(expected.cases.valid).toHaveLength(90);
  });

  it('reads the 10.04 status file and skips packages not in state installed', async () => {
    const text = await readFile(path.join(PKGDB, 'snyk-os/ubuntu_10_04/fs/var/lib/dpkg/status'), 'utf8');
    const stanzas = text.split(/\n\n+/).filter((s) => /^Package:/m.test(s));
    const installed = stanzas.filter((s) => /^Status: \S+ \S+ installed$/m.test(s));
    const found = parseDpkgStatus(text, 'var/lib/dpkg/status');
    expect(found.length).toBe(installed.length);
    const removed = 'Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\nPackage: here\nStatus: install ok installed\nVersion: 2.0\n';
    expect(parseDpkgStatus(removed, 's').map((p) => p.name)).toEqual(['here']);
  });

  it('keeps only language-manifest paths from info/*.list ownership lists', () => {
    const owned = parseDpkgList('/.\n/usr\n/usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA\n/usr/share/doc/python3-six/copyright\n/usr/bin/node\n');
    expect(owned).toEqual(['usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA', 'usr/bin/node']);
  });
});

describe.skipIf(!fixturesAvailable())('apk installed databases', () => {
  it('reads Trivy\'s 15 packages and skips the stanza without a version', async () => {
    const expected = await json<{ packages: Array<{ Name: string; Version: string; SrcName: string; Arch: string; InstalledFiles?: string[] }> }>(path.join(PKGDB, 'apk/trivy/expected.json'));
    const result = parseApkInstalled(await readFile(path.join(PKGDB, 'apk/trivy/installed'), 'utf8'), 'lib/apk/db/installed');
    expect(result.packages!.map((p) => `${p.name}@${p.version} ${p.sourceName} ${p.arch}`).sort()).toEqual(expected.packages.map((p) => `${p.Name}@${p.Version} ${p.SrcName} ${p.Arch}`).sort());
    expect(result.warnings?.some((w) => w.includes('invalidPackageWithoutAVersion'))).toBe(true);
  });

  it('reads the Alpine 3.7 and 2.6 databases (Snyk fixtures)', async () => {
    const r37 = parseApkInstalled(await readFile(path.join(PKGDB, 'snyk-os/alpine_3_7_0/fs/lib/apk/db/installed'), 'utf8'), 'lib/apk/db/installed');
    expect(r37.packages).toHaveLength(11);
    const expect26 = await json<{ results: Array<{ Analysis: Array<{ Name: string; Version: string }> }> }>(path.join(PKGDB, 'snyk-os/alpine_2_6_6/analyzer-expect.json'));
    const r26 = parseApkInstalled(await readFile(path.join(PKGDB, 'snyk-os/alpine_2_6_6/fs/lib/apk/db/installed'), 'utf8'), 'lib/apk/db/installed');
    expect(r26.packages!.map((p) => `${p.name}@${p.version}`).sort()).toEqual(expect26.results[0]!.Analysis.map((p) => `${p.Name}@${p.Version}`).sort());
  });
});

describe.skipIf(!fixturesAvailable())('rpm databases in three formats (go-rpmdb fixtures)', () => {
  const cases: Array<[string, string]> = [
    ['cbl-mariner-2.0', 'var/lib/rpm/rpmdb.sqlite'],
    ['sle15-bci', 'usr/lib/sysimage/rpm/Packages.db'],
    ['libuuid', 'var/lib/rpm/Packages'],
  ];
  for (const [dir, imagePath] of cases) {
    it(`reads every package of ${dir} as rpm -qa does`, async () => {
      const expected = await json<{ database: string; packages: Array<{ name: string; epoch: number | null; version: string; release: string; arch: string; sourceRpm: string }> }>(path.join(PKGDB, 'rpm', dir, 'expected.json'));
      const content = await readFile(path.join(PKGDB, 'rpm', expected.database));
      const { packages } = await parseRpmDatabase(content, imagePath);
      const got = packages!.map((p) => `${p.name}@${p.version} ${p.arch} ${p.sourceName}@${p.sourceVersion}`).sort();
      const want = expected.packages
        .filter((p) => p.name !== 'gpg-pubkey')
        .map((p) => {
          const src = splitSourceRpm(p.sourceRpm);
          const epoch = p.epoch ? `${p.epoch}:` : '';
          return `${p.name}@${epoch}${p.version}-${p.release} ${p.arch} ${src?.name ?? p.name}@${src ? epoch + src.version : `${epoch}${p.version}-${p.release}`}`;
        })
        .sort();
      expect(got).toEqual(want);
    });
  }

  it('refuses a file that is not an rpm database', async () => {
    await expect(parseRpmDatabase(Buffer.from('not a database at all'), 'var/lib/rpm/rpmdb.sqlite')).rejects.toThrow(/rpm database/);
  });

  it('reads the Azure Linux distroless manifest', () => {
    const line = 'mariner-release\t2.0-12.cm2\t1653816591\t1653753130\tMicrosoft Corporation\t(none)\t580\tnoarch\t0\tmariner-release-2.0-12.cm2.src.rpm';
    const epoch = 'tzdata\t2022a-1.cm2\t1653816591\t1653753130\tMicrosoft Corporation\t3\t1000\tnoarch\t0\ttzdata-2022a-1.cm2.src.rpm';
    const { packages } = parseRpmManifest(`${line}\n${epoch}\nbroken line\n`, 'var/lib/rpmmanifest/container-manifest-2');
    expect(packages).toEqual([
      expect.objectContaining({ name: 'mariner-release', version: '2.0-12.cm2', arch: 'noarch', sourceName: 'mariner-release', sourceVersion: '2.0-12.cm2' }),
      expect.objectContaining({ name: 'tzdata', version: '3:2022a-1.cm2', sourceVersion: '3:2022a-1.cm2' }),
    ]);
  });
});
