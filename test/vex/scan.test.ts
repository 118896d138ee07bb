import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyFilters, readVex, scanImage, type ScanReport } from '../../src/image/index.js';
import { importOsv } from '../../src/vulndb/index.js';
import { fixture, fixturesAvailable } from '../support/fixtures.js';
import { createTestStore, type TestStore } from '../support/store.js';

/**
 * `palisade scan --vex` reads documents with the center's parser and decides with the same
 * matching: the fixture app image scanned from its OCI layout, statements naming it by digest.
 */
describe.skipIf(!fixturesAvailable())('scan --vex with the shared OpenVEX parser and matching', () => {
  let temp: TestStore;
  let report: ScanReport;
  const appDigest = (JSON.parse(readFileSync(fixture('images', 'debian12', 'index.json'), 'utf8')) as { manifests: Array<{ digest: string; annotations: Record<string, string> }> })
    .manifests.find((m) => m.annotations['org.opencontainers.image.ref.name'] === 'app')!.digest;
  const vexFile = async (name: string, doc: unknown) => {
    const file = path.join(temp.dir, name);
    await writeFile(file, JSON.stringify(doc));
    return file;
  };
  const statement = (status: string, timestamp: string, product: unknown, extra: Record<string, unknown> = {}) => ({
    vulnerability: { name: 'GHSA-35jh-r3h4-6jhm' }, products: [product], status, timestamp, ...extra,
  });

  beforeAll(async () => {
    temp = await createTestStore({ name: 'vex-scan' });
    await importOsv(temp.store, [fixture('osv', 'npm')]);
    report = await scanImage(`oci:${fixture('images', 'debian12')}:app`, { store: temp.store });
  }, 300_000);
  afterAll(async () => temp?.close());

  it('suppresses a finding whose statement names the image by pkg:oci digest and the package as subcomponent; a later affected statement re-enables it', async () => {
    expect(report.image.digest).toBe(appDigest);
    const lodash = report.vulnerabilities.find((v) => v.id === 'GHSA-35jh-r3h4-6jhm' && v.package.name === 'lodash')!;
    expect(lodash).toBeDefined();
    const product = { '@id': `pkg:oci/app@${encodeURIComponent(appDigest)}`, subcomponents: [{ '@id': 'pkg:npm/lodash' }] };
    const notAffected = statement('not_affected', '2026-01-01T00:00:00Z', product, { justification: 'vulnerable_code_not_in_execute_path' });
    const suppressed = applyFilters(report, { vex: await readVex(await vexFile('one.json', { statements: [notAffected] })) });
    expect(suppressed.vulnerabilities).not.toContainEqual(lodash);
    expect(suppressed.suppressed).toContainEqual(expect.objectContaining({ id: lodash.id, reason: 'vex:not_affected', justification: 'vulnerable_code_not_in_execute_path' }));
    expect(suppressed.vulnerabilities.length).toBe(report.vulnerabilities.length - 1);

    // Later in time wins, whatever the order in the document.
    const affected = statement('affected', '2026-02-01T00:00:00Z', product, { action_statement: 'upgrade lodash' });
    const reopened = applyFilters(report, { vex: await readVex(await vexFile('two.json', { statements: [affected, notAffected] })) });
    expect(reopened.vulnerabilities).toContainEqual(lodash);
    expect(reopened.suppressed).toEqual([]);
  });

  it('does not apply a statement about another image digest, or one without a product', async () => {
    const other = `sha256:${'1'.repeat(64)}`;
    const doc = {
      statements: [
        statement('not_affected', '2026-01-01T00:00:00Z', { '@id': `pkg:oci/app@${encodeURIComponent(other)}` }, { justification: 'component_not_present' }),
        { vulnerability: { name: 'GHSA-35jh-r3h4-6jhm' }, status: 'not_affected', justification: 'component_not_present' },
      ],
    };
    const filtered = applyFilters(report, { vex: await readVex(await vexFile('other.json', doc)) });
    expect(filtered.vulnerabilities).toEqual(report.vulnerabilities);
    expect(filtered.suppressed).toEqual([]);
  });

  it('names the file and the problem when the document is not JSON', async () => {
    const file = path.join(temp.dir, 'broken.json');
    await writeFile(file, '{ "statements": [');
    await expect(readVex(file)).rejects.toThrow(/broken\.json is not JSON/);
  });
});
