import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture, fixturesAvailable } from '../../test/support/fixtures.js';
import { type Store } from '../store/index.js';
import { importOsv, openDataDirAdvisoryFile } from '../vulndb/index.js';
import { applyFilters, directoryLayerCache, readVex, scanImage, type ScanReport } from './index.js';
import { createTestStore, type TestStore } from '../../test/support/store.js';

const APP = `oci:${fixture('images/debian12')}:app`;

describe.skipIf(!fixturesAvailable())('scanImage: the app image against the fixture advisories', () => {
  let dir: string;
  let temp: TestStore;
  let store: Store;
  let report: ScanReport;

  beforeAll(async () => {
    temp = await createTestStore({ name: 'scan' });
    store = temp.store;
    dir = temp.dir;
    await importOsv(store, [fixture('osv/debian'), fixture('osv/npm')]);
    report = await scanImage(APP, { store });
  }, 180_000);

  afterAll(async () => {
    await temp?.close();
  });

  it('reports exactly EXPECTED-debian12-app.json for the Debian packages', async () => {
    const expected = JSON.parse(await readFile(fixture('osv/debian/EXPECTED-debian12-app.json'), 'utf8')) as Array<{ package: string; source: string; installed: string; fixed: string; id: string }>;
    const debian = report.vulnerabilities.filter((v) => v.package.ecosystem === 'Debian');
    const got = debian.map((v) => `${v.package.name} ${v.installedVersion} ${v.id} ${v.fixedVersion}`).sort();
    expect(got).toEqual(expected.map((e) => `${e.package} ${e.installed} ${e.id} ${e.fixed}`).sort());
    // Debian changelogs carry no severity: the scanner must say so rather than guess.
    expect(debian.every((v) => v.severity === 'unknown')).toBe(true);
  });

  it('reports the npm advisories that affect the installed versions, and none that do not', () => {
    const npm = report.vulnerabilities.filter((v) => v.package.ecosystem === 'npm');
    const ids = new Set(npm.map((v) => v.id));
    for (const id of ['GHSA-29mw-wpgm-hmr9', 'GHSA-35jh-r3h4-6jhm', 'GHSA-qw6h-vgh9-j6wx', 'GHSA-xvch-5gv4-984h', 'GHSA-pxg6-pf52-xh8x']) expect(ids.has(id), id).toBe(true);
    for (const id of ['GHSA-3fx5-fwvr-xrjg', 'GHSA-4xc9-xhrj-v574', 'GHSA-vh95-rmgr-6w4m', 'GHSA-wrvr-8mpx-r7pp']) expect(ids.has(id), id).toBe(false);
    const lodash = npm.find((v) => v.id === 'GHSA-35jh-r3h4-6jhm');
    expect(lodash).toMatchObject({ installedVersion: '4.17.20', package: { name: 'lodash', layer: report.image.layers[1]!.diffId } });
    expect(report.summary.total).toBe(report.vulnerabilities.length);
  });

  it('rescans from the layer cache in the store: no layer is read twice', async () => {
    const again = await scanImage(APP, { store });
    expect(again.image.layers.every((l) => l.cached)).toBe(true);
    expect(again.vulnerabilities).toEqual(report.vulnerabilities);
    expect(again.packages).toEqual(report.packages);
  });

  it('a one-shot scan against the file beside the embedded database matches the same, with the layer cache in a plain directory', async () => {
    const file = openDataDirAdvisoryFile((temp.location as { dataDir: string }).dataDir)!;
    try {
      const cache = directoryLayerCache(path.join(dir, 'cache'));
      const first = await scanImage(APP, { advisories: file, cache });
      expect(first.vulnerabilities).toEqual(report.vulnerabilities);
      expect(first.matched).toBe(true);
      expect(first.image.layers.some((l) => l.cached)).toBe(false);
      const second = await scanImage(APP, { advisories: file, cache });
      expect(second.image.layers.every((l) => l.cached)).toBe(true);
      expect(second.vulnerabilities).toEqual(report.vulnerabilities);
    } finally {
      file.close();
    }
  });

  it('filters by severity, unfixed and OpenVEX, and says what it suppressed', async () => {
    const lodashFinding = report.vulnerabilities.find((v) => v.package.name === 'lodash')!;
    const vexFile = path.join(dir, 'vex.json');
    await writeFile(
      vexFile,
      JSON.stringify({
        '@context': 'https://openvex.dev/ns/v0.2.0',
        statements: [
          { vulnerability: { name: lodashFinding.id }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'not_affected', justification: 'vulnerable_code_not_in_execute_path' },
          { vulnerability: { name: 'CVE-0000-0000' }, products: [], status: 'not_affected' },
          { vulnerability: { name: lodashFinding.id }, products: [], status: 'under_investigation' },
        ],
      }),
    );
    const vexed = applyFilters(report, { vex: await readVex(vexFile) });
    expect(vexed.vulnerabilities.some((v) => v.id === lodashFinding.id && v.package.name === 'lodash')).toBe(false);
    expect(vexed.suppressed).toContainEqual(expect.objectContaining({ id: lodashFinding.id, reason: 'vex:not_affected', justification: 'vulnerable_code_not_in_execute_path' }));
    expect(vexed.vulnerabilities.length).toBe(report.vulnerabilities.length - 1);

    const high = applyFilters(report, { severities: ['critical', 'high'] });
    expect(high.vulnerabilities.every((v) => v.severity === 'critical' || v.severity === 'high')).toBe(true);
    expect(high.vulnerabilities.length).toBeGreaterThan(0);
    expect(high.vulnerabilities.length + high.suppressed.length).toBe(report.vulnerabilities.length);
  });
});
